// run and the event-loop policy: which loop `getEventLoop()` returns outside a running loop.
//
// `run(main)` is asyncio.run: a new loop runs main to completion, the tasks left are cancelled
// and awaited, and the loop is closed. While it runs it is also the default loop, so code that
// calls getEventLoop() (the greenlet bridge at top level) finds it; the previous default comes
// back afterwards. Ctrl-C: the first SIGINT cancels main (its `finally` blocks run) and run
// rejects with KeyboardInterrupt; a second SIGINT exits the process at once with status 130.
// With `grace` (project only), the first signal is two-phase: every server on the loop stops
// accepting, main gets `grace` seconds to finish by itself (run then resolves to its result),
// and only then is it cancelled with reason `{ kind: 'shutdown', signal }`; a second signal
// cancels at once, a third exits. `signals` picks the signals (default SIGINT only).
// Differs from asyncio.Runner, which installs its handler only over Python's default one: here
// run owns SIGINT while it runs (loaders such as tsx add listeners of their own).

import { constants } from 'node:os';
import { EventLoop, LeakError } from './event-loop.js';
import type { TimerHandle } from './handle.js';
import type { Clock } from './clock.js';
import { hooks, runningLoopOrNull } from './running.js';
import { CancelledError, KeyboardInterrupt, RuntimeError } from '../tasks/errors.js';
import type { Awaitable, Coroutine } from '../tasks/coroutine.js';
import type { TaskBody } from '../tasks/task.js';

export { getRunningLoop, getEventLoop } from './running.js';

let defaultLoop: EventLoop | null = null;
hooks.defaultLoop = () => {
  if (defaultLoop === null || defaultLoop.isClosed()) defaultLoop = new EventLoop();
  return defaultLoop;
};

/** asyncio: `set_event_loop`. The loop getEventLoop() returns outside a running loop. */
export function setEventLoop(loop: EventLoop | null): void {
  defaultLoop = loop;
}

/** asyncio: `new_event_loop`. */
export function newEventLoop(options: { clock?: Clock; debug?: boolean } = {}): EventLoop {
  return new EventLoop(options);
}

export interface RunOptions {
  debug?: boolean;
  clock?: Clock;
  /** Project only: print the task tree (loop.formatTasks()) to stderr on this signal. */
  dumpOnSignal?: NodeJS.Signals;
  /** Project only: seconds main may take to finish after the first signal (default 0). */
  grace?: number;
  /** Project only: the signals that shut main down (default `['SIGINT']`). */
  signals?: NodeJS.Signals[];
  /** Project only, for tests: once main is done, anything left behind — tasks still pending,
   *  timers armed, transports, servers or subprocesses open, failed futures whose exception
   *  nobody retrieved — makes run reject with a LeakError listing it (after cleaning it up). */
  strict?: boolean;
}

/** asyncio: `run`. Runs `main` (a coroutine, a promise, or a function returning either) on a new
 *  loop, cancels what is left, closes the loop; resolves to main's result. */
export async function run<T>(main: Awaitable<T> | (() => Coroutine<T> | PromiseLike<T> | T), options: RunOptions = {}): Promise<T> {
  // As asyncio: a second loop run from inside a task would interleave with the first one and
  // take over the default loop meanwhile; await main directly instead.
  if (runningLoopOrNull() !== null) throw new RuntimeError('run() cannot be called from a running event loop');
  const loop = new EventLoop({ clock: options.clock, debug: options.debug });
  const previous = defaultLoop;
  defaultLoop = loop;
  const task = loop.createTask<T>(main as TaskBody<T>, { name: 'main' });
  const grace = options.grace ?? 0;
  if (!(grace >= 0)) throw new RangeError(`grace must be seconds >= 0, got ${grace}`);
  const signals = options.signals ?? ['SIGINT'];
  let interrupted: NodeJS.Signals | null = null;
  let signalled = 0;
  let graceTimer: TimerHandle | null = null;
  const cancelMain = (sig: NodeJS.Signals): void => {
    if (!loop.isClosed()) loop.callSoon(() => task.cancel(sig === 'SIGINT' ? 'KeyboardInterrupt' : sig, { kind: 'shutdown', signal: sig }));
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled++;
    if (signalled === 1) interrupted = sig;
    if (signalled > (grace > 0 ? 2 : 1)) process.exit(sig === 'SIGINT' ? 130 : 128 + (constants.signals[sig] ?? 0));
    if (signalled > 1 || grace === 0) return cancelMain(sig);
    if (loop.isClosed()) return;
    for (const server of [...loop._servers]) server.close();
    graceTimer = loop.callLater(grace, cancelMain, sig);
    task.addDoneCallback(() => graceTimer?.cancel());
  };
  const listeners = signals.map((sig) => [sig, () => onSignal(sig)] as const);
  for (const [sig, listener] of listeners) process.on(sig, listener);
  const dump = (): void => { process.stderr.write(`${loop.formatTasks()}\n`); };
  if (options.dumpOnSignal !== undefined) process.on(options.dumpOnSignal, dump);
  let leaks: string[] = [];
  try {
    const result = await loop.runUntilComplete(task);
    if (options.strict) leaks = loop._leaks();
    return result;
  } catch (error) {
    if (interrupted !== null && error instanceof CancelledError) throw new KeyboardInterrupt(interrupted);
    throw error;
  } finally {
    try {
      await cancelAll(loop);
    } finally {
      for (const [sig, listener] of listeners) process.off(sig, listener);
      if (options.dumpOnSignal !== undefined) process.off(options.dumpOnSignal, dump);
      if (options.strict) {
        try { loop.close({ strict: true }); } catch (e) { if (!(e instanceof LeakError)) throw e; } // listed below
      } else {
        loop.close();
      }
      if (defaultLoop === loop) defaultLoop = previous;
    }
    if (leaks.length > 0) throw new LeakError(leaks); // a finally that throws replaces main's result
  }
}

async function cancelAll(loop: EventLoop): Promise<void> {
  const left = [...loop.allTasks()];
  if (left.length === 0) return;
  for (const t of left) t.cancel(undefined, { kind: 'shutdown' });
  const all = loop.createFuture<void>();
  let pending = left.length;
  for (const t of left) {
    t.addDoneCallback(() => {
      if (--pending === 0) all.setResult();
    });
  }
  await loop.runUntilComplete(all);
  for (const t of left) {
    if (t.cancelled()) continue;
    const error = t.exception();
    if (error !== null) loop.callExceptionHandler({ message: 'unhandled exception during run() shutdown', exception: error, task: t });
  }
}

