// EventLoop: asyncio's scheduler on top of Node's event loop.
//
// Ready callbacks run in batches: a batch is what was ready when it started; anything
// scheduled while it runs waits for the next batch (asyncio's _run_once). Due timers join the
// ready queue at the start of each batch. Batches run back to back inside one Node turn
// (#drive) while work is ready, so generator tasks pay nothing to Node per step; every
// BUDGET_MS the drive yields to Node's I/O with setImmediate, so a task looping on `yield;`
// cannot starve sockets or timers.
//
// Where a drive starts: a wake from a socket event (data, EOF, drain, close, an accepted or
// completed connection: `current.io` is set around those callbacks) drives at Node's check
// phase, once after all the events of that poll phase, as asyncio runs its ready queue after
// select(); any other wake (a promise job, a Node timer, code outside the loop) drives in a
// microtask at once. Under load a Node turn brings the events of several connections: a
// microtask drive per event cost the WARP proxy 7 drives a request; one per turn serves 1.13x
// the requests a second (side by side at 1k/50, 1.07-1.17 a round; bench/RESULTS.md).
//
// Async-function tasks resume in promise jobs, which run only after the current JavaScript
// stack unwinds. To keep the scheduling order a contract (API.md §2), whenever a ready
// callback wakes such a task (a Future settles a promise, or a task starts its function) the
// drive stops at that slot and resumes from queueMicrotask -> process.nextTick, which Node runs
// only after the whole microtask queue is empty: the continuation has reached its next wait
// before the next callback runs. Generator-only programs never take that path.
//
// One Node timer is armed, for the earliest deadline, and only when the loop goes idle; a
// virtual clock never arms one (see clock.ts). While run*/runForever is active a ref'd
// keep-alive interval holds the process open; it goes when the run ends, so a finished program
// exits by itself. Rejected: one setTimeout per callLater (Node's timer lists are fast, but a
// cancelled asyncio-style timeout per request would churn them, and ordering across loops and
// the virtual clock would be lost).
//
// Open transports, servers, datagram endpoints and subprocesses are linked through their own
// fields (OpenIo): close() ends what is still open, so nothing of a closed loop keeps the
// process alive. The same idle point that detects a deadlock answers gevent's hub.join()
// (the greenlet bridge's wait() without objects): nothing ready, no timer, no open I/O.

// Imported at load, though loop.events is made on first read: loading eventemitter3 (a CommonJS
// package, so Node's CJS loader comes with it) made a protocol echo server 25-40% faster at
// 10 KiB in interleaved A/Bs (5 of 5 rounds, twice), for a reason not found; RSS +1.8 MiB.
import { EventEmitter } from 'eventemitter3';
import { performance } from 'node:perf_hooks';
import { constants as osConstants } from 'node:os';
import { Handle, TimerHandle, type Runnable } from './handle.js';
import { TimerHeap } from './timer-heap.js';
import { realClock, type Clock, type Interleaver } from './clock.js';
import { asyncEverUsed, current, outsideTask } from './running.js';
import { Future, registerReport } from '../tasks/future.js';
import { Task, type TaskBody } from '../tasks/task.js';
import { RuntimeError } from '../tasks/errors.js';
import { checkSeconds } from '../tasks/options.js';
import { isGenerator, isThenable, type Awaitable } from '../tasks/coroutine.js';
import { createConnection, createServer, type ConnectOptions, type ServeOptions, type Server } from './server.js';
import type { Protocol, Transport } from './transport.js';
import { startTls, type StartTlsOptions } from './start-tls.js';
import { firstFrame } from '../tasks/creation-site.js';
import { createDatagramEndpoint, type DatagramOptions, type DatagramProtocol, type DatagramTransport } from './datagram.js';
import { DeadlockError, dumpTasks, findCycle, formatTasks, nodeIsIdle, type TaskInfo } from './diagnostics.js';

/** Return to Node's I/O at least this often while callbacks keep coming. */
const BUDGET_MS = 4;
/** Node fires delays above 2**31-1 ms after 1 ms (TIMEOUT_MAX): arm far deadlines in slices. */
const MAX_ARM_MS = 24 * 3600 * 1000;

const IDLE = 0, SCHEDULED = 1, RUNNING = 2, DRAINING = 3;
type DriveState = typeof IDLE | typeof SCHEDULED | typeof RUNNING | typeof DRAINING;

/** asyncio: the `context` dict passed to exception handlers. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  future?: Future<unknown>;
  task?: Task<unknown>;
  handle?: Handle;
  [key: string]: unknown;
}

export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/** Events for tooling (eventemitter3). Payloads are built only when someone listens. */
export interface LoopEvents {
  slowCallback: (report: { name: string; duration: number }) => void;
  taskCreated: (task: Task<unknown>) => void;
  taskDone: (task: Task<unknown>) => void;
}

export interface EventLoopOptions {
  clock?: Clock;
  debug?: boolean;
  /** Where tasks (and futures) were created, for the task tree and leak reports (project only):
   *  'all' captures a stack per task and per future (for hunting a future whose exception
   *  nobody retrieved; future-heavy code runs tens of times slower), 'each' per task (~3 µs;
   *  the default in debug mode), 'first' once per coroutine function (cheap enough for
   *  production), 'off' (the default otherwise). */
  creationSites?: CreationSites;
}

export type CreationSites = 'off' | 'first' | 'each' | 'all';
/** Queues `fn` as a microtask. Node's queueMicrotask() makes an AsyncResource and a bound
 *  function per call (about 1 KB with its async-hooks bookkeeping, measured per proxied request);
 *  a reaction on a settled promise is the same microtask for a fraction of that. An exception
 *  thrown by `fn` still ends the process, as an unhandled rejection. */
const SETTLED = Promise.resolve();
function microtask(fn: () => void): void {
  void SETTLED.then(fn);
}

const SITE_MODES: Record<CreationSites, 0 | 1 | 2 | 3> = { off: 0, first: 1, each: 2, all: 3 };

function isDone(f: Future<unknown>): boolean {
  return f.done();
}

function quietTimedOut(f: Future<boolean>): void {
  if (!f.done()) f._finish(false);
}

/** @internal A transport, server, datagram endpoint or subprocess: counted in its loop's open
 *  I/O and linked in its list from when it opens until it is gone. */
export interface OpenIo {
  _ioPrev: OpenIo | null;
  _ioNext: OpenIo | null;
  /** The loop closed with this still open: end it (an abort, a kill) without calling into the loop. */
  _abandon(): void;
}

/** asyncio: `AbstractEventLoop`. One scheduler; several may exist. */
export class EventLoop {
  #events: EventEmitter<LoopEvents> | null = null;

  /** Observable events for tooling: `slowCallback`, `taskCreated`, `taskDone` (an eventemitter3
   *  EventEmitter, made on first access: until someone listens, no task pays a lookup). */
  get events(): EventEmitter<LoopEvents> {
    return (this.#events ??= new EventEmitter<LoopEvents>());
  }
  /** asyncio: `slow_callback_duration`, in seconds. */
  slowCallbackDuration = 0.1;
  /** @internal set when a ready callback woke an async-function task (see the top comment). */
  _asyncWoken = false;
  /** @internal the runnable that set _asyncWoken wants to run again at the same slot. */
  _resumeSlot = false;
  /** @internal creation-site capture: 0 off, 1 first per function, 2 each task, 3 and each future. */
  _sites: 0 | 1 | 2 | 3 = 0;
  #sitesChosen: 0 | 1 | 2 | 3 = 0;
  /** @internal a done Future of `true`, shared by the fast paths of acquire() and friends. */
  _doneTrue: Future<true> | null = null;
  /** @internal Tulip transports, servers and subprocesses open (they can wake the loop). */
  _ioOpen = 0;
  /** The same, linked through their own fields (no Set of churning members): close() ends those
   *  still open, which would otherwise hold the process open with nobody to serve them. */
  #ioHead: OpenIo | null = null;
  /** @internal Of those, transports already closing (not leaks: they are on their way out). */
  _ioClosing = 0;
  /** @internal Futures that failed and whose exception nobody retrieved yet (weakly held: an
   *  unreachable one is reported when collected, see future.ts). */
  readonly _unretrieved = new Set<WeakRef<Future<unknown>>>();
  /** Failed futures whose never-retrieved entry waits for the loop to go idle or yield (see
   *  future.ts); the array is reused, its slots cleared when flushed. */
  readonly #deferredReports: Future<unknown>[] = [];
  /** @internal Servers accepting connections (run()'s graceful shutdown closes them). */
  readonly _servers = new Set<Server>();

  readonly #clock: Clock;
  readonly #interleave: Interleaver | null;
  /** The ready queue: a ring buffer (power-of-two capacity) read at #head, written at #tail.
   *  Indices only grow; a slot is cleared when read, so nothing run stays referenced. An array
   *  swapped and truncated per batch cost more than the callbacks in one-task batches. */
  #ring: Array<Runnable | undefined> = new Array(1024).fill(undefined);
  #mask = 1023;
  #head = 0;
  #tail = 0;
  /** End (exclusive) of the batch being run, kept across a microtask drain; -1 between batches. */
  #batchEnd = -1;
  readonly #timers = new TimerHeap();
  #timerSeq = 0;
  #state: DriveState = IDLE;
  #running = false;
  #stopping = false;
  /** stop() came before this run started: the run does one batch, then stops (asyncio). */
  #stopFirst = false;
  #closed = false;
  #debug = false;
  #nodeTimer: NodeJS.Timeout | null = null;
  #nodeTimerWhen = -1;
  #keepAlive: NodeJS.Timeout | null = null;
  #jumpPending: NodeJS.Immediate | null = null;
  #stopResolve: (() => void) | null = null;
  #exceptionHandler: ExceptionHandler | null = null;
  /** Every live task, oldest first, held strongly (asyncio keeps weak references; strong ones
   *  let a task nobody holds run to completion, and let diagnostics list them): an intrusive
   *  list through Task._tPrev/_tNext. A Set cost a hash insert and delete per task (11% of
   *  spawning a greenlet); linking costs two stores. */
  #taskHead: Task<unknown> | null = null;
  #taskTail: Task<unknown> | null = null;
  readonly #signalListeners = new Map<string, () => void>();
  #detachClock: (() => void) | null = null;
  /** The future runUntilComplete waits for (deadlock detection applies while it is pending). */
  #main: Future<unknown> | null = null;
  /** @internal Set once runForever/runUntilComplete was called by the program (not by the
   *  greenlet bridge's top-level pump): from then on the program drives this loop, and an
   *  `await` on a bridge future never starts it behind the program's back. */
  _userDriven = false;
  #deadlock: DeadlockError | null = null;
  #deadlockCheck: NodeJS.Immediate | null = null;
  /** _whenQuiet()'s futures (gevent's hub.join), null when there are none. */
  #quiet: Future<boolean>[] | null = null;
  #quietCheck: NodeJS.Immediate | null = null;
  /** Node still had something of its own (a closing handle, a foreign timer): look again later. */
  #quietRetry: NodeJS.Timeout | null = null;
  #quietDelay = 1;
  /** Timers armed by the quiet waits themselves (their timeouts): they do not count as work. */
  #quietTimers = 0;

  constructor(options: EventLoopOptions = {}) {
    const clock = options.clock ?? realClock;
    if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
      throw new TypeError(`clock must be a Clock (realClock, a VirtualClock, or an object with now() in seconds), got ${String(clock)}`);
    }
    this.#clock = clock;
    this.#interleave = this.#clock._interleave ?? null;
    if (options.creationSites !== undefined) this.setCreationSites(options.creationSites);
    if (options.debug) this.setDebug(true);
    if (this.#clock._attach) this.#detachClock = this.#clock._attach(() => this.#wakeUp());
  }

  /** asyncio: `loop.time`. Seconds on the loop's clock. */
  time(): number {
    return this.#clock.now();
  }

  /** The clock this loop reads. Project only. */
  get clock(): Clock {
    return this.#clock;
  }

  // --- scheduling ------------------------------------------------------------------------

  /** asyncio: `loop.call_soon`. Runs `cb(...args)` in the next batch, FIFO. */
  callSoon<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): Handle {
    this._checkOpen();
    if (typeof cb !== 'function') throw notCallable('callSoon', cb);
    const h = new Handle(cb as (...a: any[]) => unknown, args, this);
    this._pushReady(h);
    return h;
  }

  /** asyncio: `loop.call_later`. Runs `cb(...args)` after `delay` seconds. */
  callLater<A extends unknown[]>(delay: number, cb: (...args: A) => unknown, ...args: A): TimerHandle {
    checkSeconds('delay', delay);
    return this.callAt(this.#clock.now() + delay, cb, ...args);
  }

  /** asyncio: `loop.call_at`. Runs `cb(...args)` when `time()` reaches `when`. */
  callAt<A extends unknown[]>(when: number, cb: (...args: A) => unknown, ...args: A): TimerHandle {
    this._checkOpen();
    checkSeconds('when', when);
    if (typeof cb !== 'function') throw notCallable('callAt/callLater', cb);
    const h = new TimerHandle(when, this.#timerSeq++, cb as (...a: any[]) => unknown, args, this);
    this.#timers.push(h);
    if (this.#state === IDLE) this.#wakeUp(); // re-arm for a possibly earlier deadline
    return h;
  }

  /** @internal hot path: a Future, Task or Handle to run in the next batch. */
  _pushReady(r: Runnable): void {
    if (this.#tail - this.#head > this.#mask) this.#grow();
    this.#ring[this.#tail & this.#mask] = r;
    this.#tail++;
    if (this.#state === IDLE) this.#wakeUp();
  }

  #grow(): void {
    const old = this.#ring, oldMask = this.#mask;
    const size = old.length * 2;
    const ring: Array<Runnable | undefined> = new Array(size).fill(undefined);
    for (let i = this.#head; i < this.#tail; i++) ring[i & (size - 1)] = old[i & oldMask];
    this.#ring = ring;
    this.#mask = size - 1;
  }

  /** @internal */
  _timerCancelled(): void {
    this.#timers.markDead();
  }

  /** Live timers in the heap. Project only (tests count them to prove nothing leaked). */
  scheduledTimers(): number {
    return this.#timers.live;
  }

  /** asyncio: `loop.create_future`. */
  createFuture<T>(): Future<T> {
    return new Future<T>(this);
  }

  /** asyncio: `loop.create_task`. Accepts a coroutine, a promise, or a function returning either. */
  createTask<T>(body: TaskBody<T>, options: { name?: string; /** @internal */ _plain?: boolean; /** @internal */ _siteKey?: object } = {}): Task<T> {
    this._checkOpen();
    return new Task<T>(body, this, options.name, options._plain, options._siteKey);
  }

  /** @internal */
  _registerTask(task: Task<unknown>): void {
    const tail = this.#taskTail;
    task._tPrev = tail;
    if (tail === null) this.#taskHead = task;
    else tail._tNext = task;
    this.#taskTail = task;
    const events = this.#events;
    if (events !== null && events.listenerCount('taskCreated') > 0) events.emit('taskCreated', task);
  }

  /** @internal */
  _unregisterTask(task: Task<unknown>): void {
    const prev = task._tPrev, next = task._tNext;
    if (prev === null && this.#taskHead !== task) return; // not linked (already unregistered)
    if (prev === null) this.#taskHead = next;
    else prev._tNext = next;
    if (next === null) this.#taskTail = prev;
    else next._tPrev = prev;
    task._tPrev = task._tNext = null;
    const events = this.#events;
    if (events !== null && events.listenerCount('taskDone') > 0) events.emit('taskDone', task);
  }

  /** asyncio: `all_tasks(loop)`. Tasks not yet done. */
  allTasks(): Set<Task<unknown>> {
    const all = new Set<Task<unknown>>();
    for (let t = this.#taskHead; t !== null; t = t._tNext) all.add(t);
    return all;
  }

  // --- running ---------------------------------------------------------------------------

  /** asyncio: `loop.is_running`. */
  isRunning(): boolean {
    return this.#running;
  }

  /** asyncio: `loop.is_closed`. */
  isClosed(): boolean {
    return this.#closed;
  }

  /** @internal `io` opened: counted and linked. */
  _ioAdd(io: OpenIo): void {
    this._ioOpen++;
    const head = this.#ioHead;
    io._ioPrev = null;
    io._ioNext = head;
    if (head !== null) head._ioPrev = io;
    this.#ioHead = io;
    if (this.#closed) io._abandon(); // opened as the loop closed (a connect, a bind, a spawn that completed late)
  }

  /** @internal `io` is gone. */
  _ioRemove(io: OpenIo): void {
    this._ioOpen--;
    const prev = io._ioPrev, next = io._ioNext;
    if (prev !== null) prev._ioNext = next;
    else if (this.#ioHead === io) this.#ioHead = next;
    if (next !== null) next._ioPrev = prev;
    io._ioPrev = io._ioNext = null;
    if (this.#quiet !== null) this.#wakeUp(); // the last one gone may make the loop quiet
  }

  /** @internal Throws asyncio's RuntimeError on a closed loop: nothing may open a socket, a
   *  server or a process for a loop that will never run its callbacks (they would hold the
   *  process open with nobody to close them). */
  _checkOpen(): void {
    if (this.#closed) throw new RuntimeError('Event loop is closed');
  }

  /** asyncio: `loop.run_forever`. Resolves after `stop()`. */
  runForever(): Promise<void> {
    this._userDriven = true;
    return this._runForever();
  }

  /** @internal runForever without claiming the loop for the program (the bridge's pump). */
  _runForever(): Promise<void> {
    if (this.#closed) return Promise.reject(new RuntimeError('Event loop is closed'));
    if (this.#running) return Promise.reject(new RuntimeError('This event loop is already running'));
    this.#running = true;
    this.#stopFirst = this.#stopping;
    this.#stopping = false;
    this.#keepAlive = setInterval(noop, 1 << 30);
    return new Promise<void>((resolve) => {
      this.#stopResolve = resolve;
      if (this.#state === IDLE) this.#wakeUp();
    });
  }

  /** asyncio: `loop.run_until_complete`. Runs the loop until `x` is done; its result. */
  async runUntilComplete<T>(x: Awaitable<T> | (() => Awaitable<T>)): Promise<T> {
    this._checkOpen();
    const fut = ensureFutureOn(x, this);
    const stop = (): void => this.stop();
    fut.addDoneCallback(stop);
    this.#main = fut as Future<unknown>;
    try {
      await this.runForever();
    } finally {
      fut.removeDoneCallback(stop);
      this.#main = null;
    }
    const deadlock = this.#deadlock;
    this.#deadlock = null;
    if (deadlock !== null && !fut.done()) throw deadlock;
    if (!fut.done()) throw new RuntimeError('Event loop stopped before Future completed.');
    return fut.result();
  }

  /** asyncio: `loop.stop`. The current batch finishes, then run* returns. */
  stop(): void {
    this.#stopping = true;
    if (this.#running && this.#state === IDLE) this.#wakeUp();
  }

  /** asyncio: `loop.close`. Drops pending callbacks and timers; the loop cannot run again.
   *  Transports and servers still open are aborted and subprocesses killed (as asyncio does
   *  when it collects them); one already closing finishes its flush.
   *  Anything left behind — pending tasks, armed timers, open transports/servers/subprocesses —
   *  is reported: with `strict`, as a LeakError thrown after closing; otherwise as one report
   *  to the exception handler (project only; asyncio says nothing). */
  close(options: { strict?: boolean } = {}): void {
    if (this.#running) throw new RuntimeError('Cannot close a running event loop');
    if (this.#closed) return;
    const leaks = this._leaks();
    for (const ref of [...this._unretrieved]) ref.deref()?._markRetrieved();
    this.#closed = true;
    this.#ring = [undefined];
    this.#mask = 0;
    this.#head = this.#tail = 0;
    this.#batchEnd = -1;
    this.#timers.clear();
    this.#disarmNodeTimer();
    for (const sig of [...this.#signalListeners.keys()]) this.removeSignalHandler(sig);
    this.#detachClock?.();
    this.#detachClock = null;
    // What is still open can never be served now: end it, or a listening server or a socket
    // keeps the process alive after run() returns (asyncio's objects end when collected).
    const abandoned: OpenIo[] = [];
    for (let io = this.#ioHead; io !== null; io = io._ioNext) abandoned.push(io);
    for (const io of abandoned) {
      try { io._abandon(); } catch { /* it is being dropped: nothing to tell anyone */ }
    }
    if (leaks.length === 0) return;
    const error = new LeakError(leaks);
    if (options.strict) throw error;
    this.callExceptionHandler({ message: error.message, exception: error });
  }

  /** @internal `f` failed: register it for the report at the next idle point (at once when the
   *  loop is not running). */
  _deferReport(f: Future<unknown>): void {
    if (!this.#running) registerReport(f);
    else this.#deferredReports.push(f);
  }

  #flushReports(): void {
    const list = this.#deferredReports;
    if (list.length === 0) return;
    for (let i = 0; i < list.length; i++) registerReport(list[i]!);
    list.length = 0;
  }

  /** @internal What close({ strict }) reports, one line each. */
  _leaks(): string[] {
    this.#flushReports();
    const leaks: string[] = [];
    for (let t = this.#taskHead; t !== null; t = t._tNext) {
      const w = t._waitingOn;
      leaks.push(`task ${t.getName()} still pending${w === null ? '' : `, waiting on ${w._describeWait()}`}${createdSuffix(t)}`);
    }
    const timers = this.#timers.live;
    if (timers > 0) leaks.push(`${timers} timer${timers === 1 ? '' : 's'} still armed`);
    const open = this._ioOpen - this._ioClosing;
    if (open > 0) leaks.push(`${open} transport${open === 1 ? '' : 's'}, server${open === 1 ? '' : 's'} or subprocess${open === 1 ? '' : 'es'} still open`);
    for (const ref of this._unretrieved) {
      const f = ref.deref();
      if (f === undefined) continue;
      const error = f._peekState().error;
      leaks.push(`${f._kind()} ${f instanceof Task ? f.getName() + ' ' : ''}failed and nobody retrieved its exception: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}${createdSuffix(f)}`);
    }
    return leaks;
  }

  // --- the drive -------------------------------------------------------------------------

  #wakeUp(): void {
    if (!this.#running || this.#state !== IDLE) return;
    this.#state = SCHEDULED;
    // Woken by a socket event: drive once at Node's check phase, after every event of this poll
    // phase, as asyncio runs its ready queue after select(); otherwise in a microtask, at once.
    const schedule: (fn: () => void) => unknown = current.io ? setImmediate : microtask;
    if (asyncUsed()) outsideTask(schedule, this.#drive);
    else schedule(this.#drive);
  }

  readonly #drive = (): void => {
    if (!this.#running) {
      this.#state = IDLE;
      return;
    }
    this.#state = RUNNING;
    const prevLoop = current.loop;
    current.loop = this;
    try {
      this.#runBatches();
    } finally {
      current.loop = prevLoop;
    }
  };

  #runBatches(): void {
    const start = performance.now();
    let batches = 0;
    for (;;) {
      let end = this.#batchEnd;
      if (end < 0) {
        if (this.#stopping) return this.#finishRun();
        if (this.#timers.size > 0) this.#collectDueTimers();
        end = this.#tail;
        if (this.#stopFirst) {
          this.#stopFirst = false;
          this.#stopping = true; // asyncio: stop() before run_forever() still runs one iteration
        }
        if (end === this.#head) return this.#stopping ? this.#finishRun() : this.#idle();
        this.#batchEnd = end;
        if (this.#interleave !== null) this.#interleaveBatch(end);
      }
      const n = end - this.#head;
      if (this.#debug) {
        this.#runDebug(end);
      } else {
        while (this.#head < end) {
          const i = this.#head & this.#mask;
          const r = this.#ring[i]!;
          this.#ring[i] = undefined;
          this.#head++;
          try {
            r._run();
          } catch (error) {
            this.#callbackFailed(error, r);
          }
          if (this._asyncWoken) {
            if (this._resumeSlot) this.#rewind(r); // run the same runnable again after the drain
            break;
          }
        }
      }
      if (this.#head < end) return this.#drainThenContinue();
      this.#batchEnd = -1;
      if (this._asyncWoken) return this.#drainThenContinue();
      if (((++batches & 15) === 0 || n > 256) && performance.now() - start > BUDGET_MS) {
        this.#flushReports();
        this.#state = SCHEDULED;
        setImmediate(this.#drive);
        return;
      }
    }
  }

  #runDebug(end: number): void {
    while (this.#head < end) {
      const i = this.#head & this.#mask;
      const r = this.#ring[i]!;
      this.#ring[i] = undefined;
      this.#head++;
      const t0 = performance.now();
      try {
        r._run();
      } catch (error) {
        this.#callbackFailed(error, r);
      }
      const duration = (performance.now() - t0) / 1000;
      if (duration >= this.slowCallbackDuration) this.#reportSlow(describeRunnable(r), duration);
      if (this._asyncWoken) {
        if (this._resumeSlot) this.#rewind(r);
        break;
      }
    }
  }

  /** Seeded or recording clock: reorder this batch's task steps, then note what will run. */
  #interleaveBatch(end: number): void {
    const il = this.#interleave!;
    const batch: Array<Runnable | undefined> = [];
    for (let i = this.#head; i < end; i++) batch.push(this.#ring[i & this.#mask]);
    if (il.seeded) {
      il.permute(batch, batch.length, isTask);
      for (let i = this.#head, k = 0; i < end; i++, k++) this.#ring[i & this.#mask] = batch[k];
    }
    if (il.recording) for (const r of batch) il.record(r instanceof Task ? r.getName() : describeRunnable(r!));
  }

  /** Puts `r` back at the head of the ready queue (its slot resumes after a microtask drain). */
  #rewind(r: Runnable): void {
    this._resumeSlot = false;
    this.#head--;
    this.#ring[this.#head & this.#mask] = r;
  }

  #reportSlow(name: string, duration: number): void {
    const events = this.#events;
    if (events !== null && events.listenerCount('slowCallback') > 0) events.emit('slowCallback', { name, duration });
    else process.emitWarning(`Executing ${name} took ${duration.toFixed(3)} seconds`, 'SlowCallbackWarning');
  }

  #drainThenContinue(): void {
    this._asyncWoken = false;
    this.#state = DRAINING;
    // The microtask queues a tick; Node runs ticks only once the microtask queue is empty.
    if (asyncUsed()) outsideTask(microtask, this.#tickDrive);
    else microtask(this.#tickDrive);
  }

  readonly #tickDrive = (): void => {
    process.nextTick(this.#drive);
  };

  #collectDueTimers(): void {
    const timers = this.#timers;
    if (timers.size === 0) return;
    const now = this.#clock.now();
    for (;;) {
      const h = timers.peek();
      if (h === undefined || h._when > now) break;
      timers.pop();
      this._pushReady(h);
    }
  }

  #idle(): void {
    this.#state = IDLE;
    this.#flushReports();
    if (this.#quiet !== null && this.#quiet.every(isDone)) this.#quiet = null; // all cancelled
    if (this.#quiet !== null && this.#quietCheck === null && this.#isQuiet()) {
      this.#quietDelay = 1; // the loop did work: Node's handles may go soon again
      this.#quietCheck = setImmediate(this.#checkQuiet); // after pending I/O callbacks and promise jobs
    }
    const next = this.#timers.peek();
    if (next === undefined) {
      this.#disarmNodeTimer();
      if (this.#main !== null && this.#deadlockCheck === null && this._ioOpen === 0 && this.#signalListeners.size === 0) {
        // Let pending I/O callbacks and promise jobs run first; then see whether anything can wake us.
        this.#deadlockCheck = setImmediate(this.#checkDeadlock);
      }
      return;
    }
    const clock = this.#clock;
    if (!clock.virtual) {
      this.#armNodeTimer(next._when);
    } else if (clock.autoJump && this.#jumpPending === null) {
      // Let pending I/O callbacks and promise jobs run first: only then is the loop truly idle.
      this.#jumpPending = setImmediate(this.#autoJump);
    }
  }

  /** @internal gevent's `hub.join()`: a Future that resolves once nothing is left that could run
   *  a callback here — no ready callback, no timer but the quiet waits' own, no open transport,
   *  server or subprocess, no signal handler, nothing else of Node's pending. Tasks still pending
   *  then wait on something that can never happen (gevent's loop exits with them blocked too).
   *  True then; false once `timeout` seconds pass first. Cancelling it drops the wait. */
  _whenQuiet(timeout: number | null): Future<boolean> {
    const f = new Future<boolean>(this);
    (this.#quiet ??= []).push(f);
    if (timeout !== null) {
      const timer = this.callLater(timeout, quietTimedOut, f);
      this.#quietTimers++;
      f.addDoneCallback(() => {
        timer.cancel();
        this.#quietTimers--;
      });
    }
    if (this.#running && this.#state === IDLE) this.#wakeUp(); // the idle check runs again
    return f;
  }

  #isQuiet(): boolean {
    return this._ioOpen === 0 && this.#signalListeners.size === 0 && this.#timers.live === this.#quietTimers;
  }

  readonly #checkQuiet = (fromRetry = false): void => {
    this.#quietCheck = null;
    const list = this.#quiet;
    if (list === null || !this.#running || this.#state !== IDLE || this.#tail !== this.#head) return;
    // The loop's own pending checks (an auto-jump, a deadlock check) are not Node being busy.
    const own = (this.#jumpPending !== null ? 1 : 0) + (this.#deadlockCheck !== null ? 1 : 0);
    if (!this.#isQuiet()) return; // the loop has work: its next idle point looks again
    // So are its own Node timers: the one armed for a quiet wait's timeout, and the retry's
    // (listed while it runs).
    const ownTimers = (this.#nodeTimer !== null ? 1 : 0) + (fromRetry ? 1 : 0);
    if (!nodeIsIdle(own, ownTimers)) {
      // Nothing of the loop's wakes it when Node's own handles go (a server's socket closing
      // after close(), a foreign timer): look again, backing off to once a second.
      if (this.#quietRetry === null) {
        this.#quietRetry = setTimeout(this.#retryQuiet, this.#quietDelay);
        this.#quietDelay = Math.min(this.#quietDelay * 2, 1000);
      }
      return;
    }
    this.#quietDelay = 1;
    this.#quiet = null;
    for (const f of list) if (!f.done()) f._finish(true);
  };

  readonly #retryQuiet = (): void => {
    this.#quietRetry = null;
    if (this.#quietCheck === null) this.#checkQuiet(true);
  };

  readonly #checkDeadlock = (): void => {
    this.#deadlockCheck = null;
    const main = this.#main;
    if (main === null || main.done() || !this.#running || this.#state !== IDLE) return;
    if (this.#quiet !== null) return; // a quiet wait resolves first, and wakes what waits on it
    if (this.#tail !== this.#head || this.#timers.peek() !== undefined) return;
    if (this._ioOpen > 0 || this.#signalListeners.size > 0 || !nodeIsIdle()) return;
    this.#deadlock = new DeadlockError(dumpTasks(this), findCycle(this));
    this.stop();
  };

  /** Project only. Every live task (and greenlet) as a tree by creator, with what it waits on. */
  dumpTasks(): TaskInfo[] {
    return dumpTasks(this);
  }

  /** Project only. dumpTasks() as text. */
  formatTasks(): string {
    return formatTasks(dumpTasks(this));
  }

  readonly #autoJump = (): void => {
    this.#jumpPending = null;
    if (!this.#running || this.#state !== IDLE) return;
    const next = this.#timers.peek();
    if (next === undefined) return;
    if (this.#tail === this.#head) this.#clock._jumpTo!(next._when);
    this.#state = SCHEDULED;
    this.#drive();
  };

  #armNodeTimer(when: number): void {
    // An armed timer that fires no later than `when` stays: when it fires early (its timer was
    // cancelled: a waitFor that finished in time) the loop finds nothing due and arms for the
    // real next deadline. Re-arming whenever the earliest deadline moved later cost a Node
    // clearTimeout + setTimeout per proxied request, whose timeouts are nearly all cancelled.
    if (this.#nodeTimer !== null && this.#nodeTimerWhen <= when) return;
    this.#disarmNodeTimer();
    const ms = Math.min(MAX_ARM_MS, Math.max(0, Math.ceil((when - this.#clock.now()) * 1000)));
    this.#nodeTimerWhen = when;
    this.#nodeTimer = asyncUsed()
      ? outsideTask((m: number) => setTimeout(this.#onNodeTimer, m), ms)
      : setTimeout(this.#onNodeTimer, ms);
  }

  #disarmNodeTimer(): void {
    if (this.#nodeTimer !== null) {
      clearTimeout(this.#nodeTimer);
      this.#nodeTimer = null;
      this.#nodeTimerWhen = -1;
    }
  }

  readonly #onNodeTimer = (): void => {
    this.#nodeTimer = null;
    this.#nodeTimerWhen = -1;
    if (this.#running && this.#state === IDLE) {
      this.#state = SCHEDULED;
      this.#drive();
    }
  };

  #finishRun(): void {
    this.#flushReports();
    this.#running = false;
    this.#stopping = false;
    this.#state = IDLE;
    this.#disarmNodeTimer();
    if (this.#jumpPending !== null) clearImmediate(this.#jumpPending);
    this.#jumpPending = null;
    if (this.#deadlockCheck !== null) clearImmediate(this.#deadlockCheck);
    this.#deadlockCheck = null;
    if (this.#quietCheck !== null) clearImmediate(this.#quietCheck);
    this.#quietCheck = null;
    if (this.#quietRetry !== null) clearTimeout(this.#quietRetry);
    this.#quietRetry = null;
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    const resolve = this.#stopResolve;
    this.#stopResolve = null;
    resolve?.();
  }

  #callbackFailed(error: unknown, r: Runnable): void {
    this.callExceptionHandler({
      message: `Exception in callback ${describeRunnable(r)}`,
      exception: error,
      ...(r instanceof Handle ? { handle: r } : {}),
    });
  }

  // --- errors, debug, signals ------------------------------------------------------------

  /** asyncio: `loop.set_exception_handler`. */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== 'function') throw new TypeError(`handler must be a function or null, got ${String(handler)}`);
    this.#exceptionHandler = handler;
  }

  /** asyncio: `loop.get_exception_handler`. */
  getExceptionHandler(): ExceptionHandler | null {
    return this.#exceptionHandler;
  }

  /** asyncio: `loop.default_exception_handler`. Prints the context to stderr. */
  defaultExceptionHandler(context: ExceptionContext): void {
    const lines = [context.message || 'Unhandled exception in event loop'];
    for (const [key, value] of Object.entries(context)) {
      if (key === 'message' || key === 'exception') continue;
      lines.push(`${key}: ${String(value)}`);
    }
    const e = context.exception;
    if (e !== undefined) lines.push(e instanceof Error ? (e.stack ?? String(e)) : String(e));
    process.stderr.write(lines.join('\n') + '\n');
  }

  /** asyncio: `loop.call_exception_handler`. */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this.#exceptionHandler;
    if (handler === null) {
      this.defaultExceptionHandler(context);
      return;
    }
    try {
      handler(this, context);
    } catch (error) {
      this.defaultExceptionHandler({ message: 'Unhandled error in exception handler', exception: error, context: context.message });
    }
  }

  /** asyncio: `loop.set_debug`. Reports callbacks and task steps slower than slowCallbackDuration. */
  setDebug(on: boolean): void {
    this.#debug = Boolean(on);
    this.#updateSites();
  }

  /** Project only: how tasks created from now on record where they were created. */
  setCreationSites(mode: CreationSites): void {
    const m = SITE_MODES[mode];
    if (m === undefined) throw new TypeError(`creationSites must be 'off', 'first', 'each' or 'all', got ${String(mode)}`);
    this.#sitesChosen = m;
    this.#updateSites();
  }

  /** Debug mode records at least one site per task; 'all' stays 'all'. */
  #updateSites(): void {
    this._sites = this.#debug ? (Math.max(2, this.#sitesChosen) as 2 | 3) : this.#sitesChosen;
  }

  /** asyncio: `loop.get_debug`. */
  getDebug(): boolean {
    return this.#debug;
  }

  /** asyncio: `loop.add_signal_handler`. `cb(...args)` runs as a loop callback on each delivery. */
  addSignalHandler<A extends unknown[]>(sig: NodeJS.Signals, cb: (...args: A) => unknown, ...args: A): void {
    this._checkOpen();
    if (typeof cb !== 'function') throw new TypeError(`signal handler must be a function, got ${String(cb)}`);
    // asyncio: ValueError for a name that is no signal, RuntimeError for one that cannot be
    // caught. Node would take the first as an ordinary event name that never fires.
    if (typeof sig !== 'string' || !Object.hasOwn(osConstants.signals, sig)) throw new RangeError(`not a signal: ${String(sig)}`);
    if (sig === 'SIGKILL' || sig === 'SIGSTOP') throw new RuntimeError(`${sig} cannot be caught`);
    this.removeSignalHandler(sig);
    const listener = (): void => {
      if (!this.#closed) this.callSoon(cb, ...args);
    };
    process.on(sig, listener);
    this.#signalListeners.set(sig, listener);
  }

  /** asyncio: `loop.remove_signal_handler`. True if a handler was removed. */
  removeSignalHandler(sig: NodeJS.Signals | string): boolean {
    const listener = this.#signalListeners.get(sig);
    if (listener === undefined) return false;
    process.off(sig as NodeJS.Signals, listener);
    this.#signalListeners.delete(sig);
    return true;
  }

  // --- transports (asyncio's low-level API; see transport.ts and server.ts) ----------------

  /** asyncio: `loop.create_server`. A Future of the listening Server. */
  createServer(protocolFactory: () => Protocol, host: string | null, port: number, options?: ServeOptions): Future<Server> {
    return createServer(this, protocolFactory, { host, port }, options);
  }

  /** asyncio: `loop.create_unix_server`. */
  createUnixServer(protocolFactory: () => Protocol, path: string, options?: ServeOptions): Future<Server> {
    return createServer(this, protocolFactory, { path }, options);
  }

  /** asyncio: `loop.create_connection`. A Future of [transport, protocol]. */
  createConnection<P extends Protocol>(protocolFactory: () => P, host: string, port: number, options?: ConnectOptions): Future<[Transport, P]> {
    return createConnection(this, protocolFactory, { host, port }, options);
  }

  /** asyncio: `loop.create_datagram_endpoint`. A Future of [transport, protocol]. */
  createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: () => P, options?: DatagramOptions): Future<[DatagramTransport, P]> {
    return createDatagramEndpoint(this, protocolFactory, options);
  }

  /** asyncio: `loop.create_unix_connection`. */
  createUnixConnection<P extends Protocol>(protocolFactory: () => P, path: string, options?: ConnectOptions): Future<[Transport, P]> {
    return createConnection(this, protocolFactory, { path }, options);
  }

  /** asyncio: `loop.start_tls`. Upgrades `transport` to TLS; a Future of the new transport. */
  startTls(transport: Transport, protocol: Protocol, options?: StartTlsOptions): Future<Transport> {
    return startTls(this, transport, protocol, options);
  }

  /** @internal for diagnostics and tests */
  _readyCount(): number {
    return this.#tail - this.#head;
  }

  toString(): string {
    return `<EventLoop running=${this.#running} closed=${this.#closed} debug=${this.#debug}>`;
  }
}

function noop(): void {}

/** asyncio's check: a callback that is not callable fails where it is scheduled, not later in
 *  the loop with nobody to tell. */
function notCallable(method: string, cb: unknown): TypeError {
  return new TypeError(`a function was expected by ${method}(), got ${typeof cb === 'string' ? JSON.stringify(cb) : String(cb)}`);
}

/** Project only. What loop.close({ strict: true }) found left behind, one line each in `leaks`. */
export class LeakError extends Error {
  constructor(readonly leaks: string[]) {
    super(`the loop was closed with ${leaks.length} thing${leaks.length === 1 ? '' : 's'} left behind:\n  ${leaks.join('\n  ')}`);
  }
}
LeakError.prototype.name = 'LeakError';

/** `, created at …` for a leak line, when the task or future recorded its site. */
function createdSuffix(f: Future<unknown>): string {
  return f._createdAt ? `, created ${firstFrame(f._createdAt)}` : '';
}

function isTask(x: unknown): boolean {
  return x instanceof Task;
}

function asyncUsed(): boolean {
  return asyncEverUsed.value;
}

function describeRunnable(r: Runnable): string {
  if (r instanceof Task) return `step of ${r}`;
  if (r instanceof Future) return `done callbacks of ${r}`;
  return String(r);
}

/** @internal ensureFuture with an explicit loop (asyncio's `ensure_future(x, loop=)`). */
export function ensureFutureOn<T>(x: Awaitable<T> | (() => Awaitable<T>), loop: EventLoop): Future<T> {
  if (x instanceof Future) {
    if (x._loop !== loop) throw new RuntimeError('The future belongs to a different loop than the one specified');
    return x;
  }
  if (isGenerator(x) || isThenable(x) || typeof x === 'function') return loop.createTask(x as TaskBody<T>);
  throw new TypeError(`a Future, coroutine, promise or function is required, got ${String(x)}`);
}
