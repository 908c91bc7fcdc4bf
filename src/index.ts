// The public surface of 'tulip': named re-exports, grouped by folder. No `export *`: a new
// public name is a visible diff line (test/exports.test.ts pins the list).

// loop
export { EventLoop, LeakError } from './loop/event-loop.js';
export type { ExceptionContext, ExceptionHandler, LoopEvents, EventLoopOptions, CreationSites } from './loop/event-loop.js';
export { Handle, TimerHandle } from './loop/handle.js';
export { VirtualClock, realClock } from './loop/clock.js';
export type { Clock } from './loop/clock.js';
export { run, getRunningLoop, getEventLoop, setEventLoop, newEventLoop } from './loop/policy.js';
export type { RunOptions } from './loop/policy.js';
export { DeadlockError, formatTasks } from './loop/diagnostics.js';
export type { TaskInfo } from './loop/diagnostics.js';
export { startWatchdog, Watchdog } from './loop/watchdog.js';
export type { StallReport, WatchdogOptions } from './loop/watchdog.js';

// tasks
export type { Coroutine, Yieldable, Awaitable, CoroutineFunction } from './tasks/coroutine.js';
export { Future, isFuture } from './tasks/future.js';
export { Task } from './tasks/task.js';
export type { TaskBody } from './tasks/task.js';
export { createTask, currentTask, allTasks, ensureFuture, fromPromise } from './tasks/create-task.js';
export {
  CancelledError, InvalidStateError, TimeoutError, RuntimeError, KeyboardInterrupt, isCancellation,
} from './tasks/errors.js';
export type { CancelReason } from './tasks/errors.js';
export { sleep } from './tasks/sleep.js';
export { wait, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED } from './tasks/wait.js';
export type { ReturnWhen } from './tasks/wait.js';
export { waitFor } from './tasks/wait-for.js';
export { timeout, timeoutAt, TimeoutScope } from './tasks/timeout.js';
export { gather } from './tasks/gather.js';
export type { GatherOptions } from './tasks/gather.js';
export { shield } from './tasks/shield.js';
export { asCompleted, AsCompleted } from './tasks/as-completed.js';
export { taskGroup, TaskGroup } from './tasks/task-group.js';
export { toThread } from './tasks/to-thread.js';
export { signalFor, cancelOn } from './tasks/abort.js';

// sync
export { Lock } from './sync/lock.js';
export { Event } from './sync/event.js';
export { Condition } from './sync/condition.js';
export { Semaphore, BoundedSemaphore } from './sync/semaphore.js';
export { Barrier } from './sync/barrier.js';
export { Queue, PriorityQueue, LifoQueue } from './sync/queue.js';
export { QueueEmpty, QueueFull, QueueShutDown, BrokenBarrierError } from './sync/errors.js';
export type { Held } from './sync/waiters.js';

// transports and streams
export { Protocol, Transport } from './loop/transport.js';
export { Server } from './loop/server.js';
export { DatagramProtocol, DatagramTransport } from './loop/datagram.js';
export type { DatagramOptions } from './loop/datagram.js';
export type { ConnectOptions, ServeOptions } from './loop/server.js';
export type { StartTlsOptions } from './loop/start-tls.js';
export { StreamReader } from './streams/stream-reader.js';
export { StreamWriter } from './streams/stream-writer.js';
export { openConnection, openUnixConnection, startServer, startUnixServer } from './streams/open-connection.js';
export type { OpenOptions, StartOptions } from './streams/open-connection.js';
export { IncompleteReadError, LimitOverrunError } from './streams/errors.js';
export { createSubprocessExec, createSubprocessShell, Process, PIPE, DEVNULL, STDOUT } from './streams/subprocess.js';
export type { SubprocessOptions } from './streams/subprocess.js';
export { watchPath, PathWatcher } from './streams/watch-path.js';
export type { WatchEvent } from './streams/watch-path.js';
