// Task: runs a coroutine (a generator) or an async function as a Future.
//
// While a task is not done, exactly one holds:
//   WAITING    #waitingOn is a pending Future that holds this task as a waiter; no step queued.
//   SCHEDULED  exactly one step of this task is in the loop's ready queue.
//   RUNNING    #step is on the stack; currentTask() === this.
// cancel() while WAITING cancels #waitingOn, so CancelledError is raised at that `yield*`;
// while SCHEDULED or RUNNING it sets #mustCancel, which the next step throws in (asyncio's
// tasks.py, `__step` and `cancel`). A task is its own ready-queue entry: `_run` is a step
// while the task is pending, and (inherited from Future) runs done callbacks once it is done.
// A generator step is one `next()`/`throw()` call and no allocation.
//
// An async-function task starts its function inside `asyncTaskContext.run(task, fn)`, so every
// `then()` on a Tulip future made by that function's code knows its task: that is where
// cancel() reaches it (#waitingOn is the future it awaits) and how currentTask() works after
// an `await`. Only these tasks pay for AsyncLocalStorage. A task made from a promise that was
// already running cannot be tracked (its code did not run in the task's context), so cancel()
// cancels such a task at once and drops the promise's outcome (documented in docs/tasks.md).

import type { EventLoop } from '../loop/event-loop.js';
import { fileURLToPath } from 'node:url';
import { asyncEverUsed, asyncTaskContext, current } from '../loop/running.js';
import { Future, type Waiter } from './future.js';
import { CancelledError, RuntimeError, type CancelReason } from './errors.js';
import { isGenerator, isGeneratorFunction, isThenable, type Coroutine, type Yieldable } from './coroutine.js';

const GENERATOR = 0, ASYNC_FN = 1, PROMISE = 2, PLAIN_FN = 3;
type Kind = typeof GENERATOR | typeof ASYNC_FN | typeof PROMISE | typeof PLAIN_FN;

let taskCounter = 0;


/** What createTask accepts. */
export type TaskBody<T> = Coroutine<T> | PromiseLike<T> | (() => Coroutine<T> | PromiseLike<T> | T);

/** asyncio: `Task`. Made by `createTask`; do not construct directly. */
export class Task<T> extends Future<T> implements Waiter {
  #kind: Kind;
  #coro: Coroutine<T> | null = null;
  #start: (() => unknown) | null = null;
  #waitingOn: Future<unknown> | null = null;
  #mustCancel = false;
  #cancelMessage: string | undefined = undefined;
  #cancelReason: CancelReason | undefined = undefined;
  #numCancelsRequested = 0;
  /** An error to throw into the coroutine at its next step (a bad yield, an interrupt). */
  #throwNext: unknown = undefined;
  /** Async-function tasks that can be interrupted (greenlets): rejects the current await. */
  #interruptAwait: ((error: unknown) => void) | null = null;
  #started = false;
  /** @internal set by the greenlet bridge: this task's awaits can be interrupted. */
  _interruptible = false;
  /** @internal called on each cancel() request (AbortSignal interop); made on demand. */
  _onCancel: Array<(reason: CancelReason) => void> | null = null;
  /** @internal the greenlet this task runs, if any (tasks layer only stores it). */
  _greenlet: object | null = null;
  /** The name, made from #id on first use (most tasks are never asked). */
  #name: string | null;
  readonly #id: number;
  /** @internal the task that created this one, for the task tree. */ readonly _parent: Task<unknown> | null;
  /** @internal where it was created (debug mode only). */ readonly _createdAt: string | undefined;

  /** @internal */
  constructor(body: TaskBody<T>, loop: EventLoop, name?: string, plain = false, siteKey?: object) {
    super(loop);
    if (isGenerator(body)) {
      this.#kind = GENERATOR;
      this.#coro = body as Coroutine<T>;
    } else if (isThenable(body)) {
      this.#kind = PROMISE;
      this.#start = () => body;
    } else if (typeof body === 'function') {
      if (isGeneratorFunction(body)) {
        this.#kind = GENERATOR;
        this.#coro = (body as () => Coroutine<T>)();
      } else if (plain) {
        // Known synchronous (the greenlet bridge's plain bodies): no AsyncLocalStorage needed.
        this.#kind = PLAIN_FN;
        this.#start = body;
      } else {
        // An async function, or a plain one that may return a promise (`() => worker(i)`):
        // run it inside the task's AsyncLocalStorage context so its awaits stay tracked.
        this.#kind = ASYNC_FN;
        this.#start = body;
        asyncEverUsed.value = true;
      }
    } else {
      throw new TypeError(`a coroutine, promise or function was expected, got ${String(body)}`);
    }
    this.#id = ++taskCounter;
    this.#name = name ?? null;
    this._parent = current.task ?? asyncTaskContext.getStore() ?? null;
    this._createdAt = loop._sites === 0 ? undefined : loop._sites === 2 ? creationSite() : firstSite(siteKey ?? siteKeyOf(body));
    loop._registerTask(this);
    loop._pushReady(this);
  }

  /** asyncio: `Task.get_name`. */
  getName(): string {
    return (this.#name ??= `Task-${this.#id}`);
  }

  /** asyncio: `Task.set_name`. */
  setName(name: string): void {
    this.#name = String(name);
  }

  /** asyncio: `Task.get_coro`. The generator, or null for an async-function task. */
  getCoro(): Coroutine<T> | null {
    return this.#coro;
  }

  /** asyncio: `Task.get_stack`, as data: the chain of futures this task waits on, outermost
   *  first (a task it waits on contributes its own chain). */
  getStack(): Future<unknown>[] {
    const chain: Future<unknown>[] = [];
    let w = this.#waitingOn;
    while (w !== null && !w.done() && chain.length < 64) {
      chain.push(w);
      w = w instanceof Task ? w.#waitingOn : null;
    }
    return chain;
  }

  /** asyncio: `Task.cancelling`. Pending cancel requests. */
  cancelling(): number {
    return this.#numCancelsRequested;
  }

  /** asyncio: `Task.uncancel`. Takes back one cancel request; returns how many remain. */
  uncancel(): number {
    if (this.#numCancelsRequested > 0) this.#numCancelsRequested--;
    if (this.#numCancelsRequested === 0) this.#mustCancel = false;
    return this.#numCancelsRequested;
  }

  /** asyncio: `Task.cancel`. Raises CancelledError inside the coroutine at its current wait. */
  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done()) return false;
    this.#numCancelsRequested++;
    reason ??= { kind: 'user', message: msg };
    if (this._onCancel !== null) for (const hook of this._onCancel) hook(reason);
    if (this.#kind === PROMISE && this.#start === null) {
      // Untracked promise: nothing can be delivered to it; the task ends cancelled now.
      this._cancelReason = reason;
      const r = super.cancel(msg);
      this._loop._unregisterTask(this as Task<unknown>);
      return r;
    }
    const w = this.#waitingOn;
    if (w !== null) {
      if (w._shared && !(w instanceof Task) && !w.done()) {
        // A greenlet's result: others join it too, so stop waiting instead of cancelling it.
        this._interrupt(new CancelledError(msg, reason));
        return true;
      }
      if (reason !== undefined && !w.done()) w._cancelReason = reason;
      if (w.cancel(msg)) return true;
    }
    this.#mustCancel = true;
    this.#cancelMessage = msg;
    this.#cancelReason = reason;
    return true;
  }

  /** Tasks complete only through their coroutine (asyncio raises RuntimeError too). */
  override setResult(_value: T): never {
    throw new RuntimeError('Task does not support setResult()');
  }

  override setException(_error: unknown): never {
    throw new RuntimeError('Task does not support setException()');
  }

  /** @internal ready-queue entry: a step while pending, done callbacks once done. */
  override _run(): void {
    if (this.done()) super._run();
    else this.#step(undefined, false);
  }

  /** @internal the future this task waited on completed. */
  _wake(fut: Future<unknown>): void {
    this.#waitingOn = null;
    const abandon = fut._onAbandon;
    if (abandon !== null && (this.#mustCancel || this.#throwNext !== undefined) && !fut.cancelled()) {
      // Granted (a lock, an item) but cancelled before resuming: CancelledError will be raised
      // at the yield*, so the coroutine never sees the grant; hand it back first.
      fut._onAbandon = null;
      abandon(fut);
    }
    this.#step(undefined, false);
  }

  /** @internal An async-function task's code called then() on `fut`. Returns a rejected
   *  promise when a cancel is pending (delivered at this await), else null. */
  _awaiting(fut: Future<unknown>): Promise<never> | null {
    if (this.done()) return null;
    if (this.#mustCancel) {
      this.#mustCancel = false;
      if (!fut._shared) fut.cancel(); // it was made for this await (a sleep, a waiter): release it
      const error = this.#makeCancelledError();
      return Promise.reject(error);
    }
    this.#waitingOn = fut;
    if (!this._interruptible && !(fut._shared && !(fut instanceof Task))) return null;
    // A greenlet's await must be interruptible even when it waits on another task, which an
    // interrupt must not cancel: race the future against the interrupt (one promise per await,
    // paid by interruptible async tasks only).
    return new Promise<never>((resolve, reject) => {
      this.#interruptAwait = reject;
      fut._promise().then(resolve as (v: unknown) => void, reject);
    });
  }

  /** @internal gevent's implicit interruption: raise `error` inside the coroutine at its current
   *  wait (or its next step). A future the task owns (a sleep, a lock or queue waiter) is
   *  cancelled so its timer or slot is released; a Task it waits on is left running (killing a
   *  greenlet that joins another does not kill that one). Returns false if already done. */
  _interrupt(error: unknown): boolean {
    if (this.done()) return false;
    const w = this.#waitingOn;
    if (this.#kind !== GENERATOR) {
      if (this.#start !== null) { // not started: it never runs
        this.#start = null;
        this.#kind = GENERATOR;
        this.#coro = (function* (): Coroutine<T> { throw error; })();
        return true;
      }
      const reject = this.#interruptAwait;
      this.#interruptAwait = null;
      if (w !== null && !w.done() && !w._shared) w.cancel();
      if (reject !== null) reject(error);
      return true;
    }
    this.#throwNext = error;
    if (w !== null && !w.done()) {
      w._removeWaiter(this);
      this.#waitingOn = null;
      if (!w._shared) w.cancel();
      this._loop._pushReady(this);
    }
    return true;
  }

  /** @internal */
  override _kind(): string {
    return 'Task';
  }

  #makeCancelledError(): CancelledError {
    const error = new CancelledError(this.#cancelMessage, this.#cancelReason);
    this.#cancelMessage = undefined;
    return error;
  }

  #step(error: unknown, hasError: boolean): void {
    if (!this.#started) this.#started = true;
    if (this.#kind !== GENERATOR) {
      this.#startAsync();
      return;
    }
    if (this.#throwNext !== undefined) {
      error = this.#throwNext;
      this.#throwNext = undefined;
      hasError = true;
    } else if (this.#mustCancel) {
      this.#mustCancel = false;
      error = this.#makeCancelledError();
      hasError = true;
    }
    const coro = this.#coro!;
    const prev = current.task;
    current.task = this as Task<unknown>;
    let r: IteratorResult<Yieldable, T>;
    try {
      r = hasError ? coro.throw(error) : coro.next();
    } catch (e) {
      current.task = prev;
      this.#finishWithError(e);
      return;
    }
    current.task = prev;
    if (r.done === true) {
      this.#finishWithValue(r.value);
      return;
    }
    const y = r.value;
    if (y === undefined) {
      this._loop._pushReady(this); // bare yield: one loop turn
    } else if (y instanceof Future) {
      this.#park(y);
    } else {
      this.#throwNext = new RuntimeError(`Task got bad yield: ${String(y)} (use yield* on a Future or coroutine)`);
      this._loop._pushReady(this);
    }
  }

  #park(fut: Future<unknown>): void {
    if (fut._loop !== this._loop) {
      this.#throwNext = new RuntimeError(`Task ${this.getName()} got Future attached to a different loop`);
      this._loop._pushReady(this);
      return;
    }
    if (fut === (this as Future<unknown>)) {
      this.#throwNext = new RuntimeError(`Task cannot await on itself: ${this}`);
      this._loop._pushReady(this);
      return;
    }
    if (fut.done()) {
      this._loop._pushReady(this);
      return;
    }
    fut._addWaiter(this);
    this.#waitingOn = fut;
    if (this.#mustCancel) {
      if (this.#cancelReason !== undefined) fut._cancelReason = this.#cancelReason;
      if (fut.cancel(this.#cancelMessage)) this.#mustCancel = false;
    }
  }

  #finishWithValue(value: T): void {
    if (this.#mustCancel) {
      // cancel() arrived after the coroutine's last wait: asyncio still ends the task cancelled.
      this.#mustCancel = false;
      this._finishCancelled(this.#makeCancelledError());
    } else {
      this._finish(value);
    }
    this._loop._unregisterTask(this as Task<unknown>);
  }

  #finishWithError(error: unknown): void {
    if (error instanceof CancelledError) this._finishCancelled(error);
    else this._fail(error);
    this._loop._unregisterTask(this as Task<unknown>);
  }

  #startAsync(): void {
    const start = this.#start!;
    this.#start = null;
    if (this.#mustCancel) {
      // Cancelled before its first step: the function never runs (asyncio throws into the
      // coroutine before its first line, with the same effect).
      this.#mustCancel = false;
      this.#finishWithError(this.#makeCancelledError());
      return;
    }
    let p: unknown;
    const prev = current.task;
    current.task = this as Task<unknown>;
    try {
      p = this.#kind === ASYNC_FN ? asyncTaskContext.run(this as Task<unknown>, start) : start();
    } catch (e) {
      current.task = prev;
      this.#finishWithError(e);
      return;
    }
    current.task = prev;
    if (isGenerator(p)) {
      // A plain function that returned a generator: drive it as a coroutine.
      this.#kind = GENERATOR;
      this.#coro = p as Coroutine<T>;
      this.#step(undefined, false);
      return;
    }
    if (this.#kind === PLAIN_FN) this.#kind = PROMISE;
    if (!isThenable(p)) {
      this.#finishWithValue(p as T);
      return;
    }
    this._loop._asyncWoken = true; // its synchronous part may have queued promise jobs
    (p as PromiseLike<T>).then(
      (value) => { if (!this.done()) this.#finishWithValue(value); },
      (error) => {
        if (!this.done()) this.#finishWithError(error);
        else if (!(error instanceof CancelledError)) {
          this._loop.callExceptionHandler({ message: `cancelled ${this} failed afterwards`, exception: error, task: this });
        }
      },
    );
  }

  /** @internal The future this task is parked on (diagnostics). */
  get _waitingOn(): Future<unknown> | null {
    const w = this.#waitingOn;
    return w !== null && !w.done() ? w : null;
  }

  /** @internal */
  override _describeWait(): string {
    return `task ${this.getName()}`;
  }

  /** @internal True once the task has taken its first step. */
  get _started(): boolean {
    return this.#started;
  }

  override toString(): string {
    return `<${this._describe()} name=${this.getName()}>`;
  }
}
(Task.prototype as { _shared: boolean })._shared = true;

/** Tulip's own source folder (src/ under tsx, dist/src/ when built): its frames are skipped. */
const LIBRARY_DIR = fileURLToPath(new URL('..', import.meta.url));

/** The first frames of the stack outside Tulip and Node's internals: where user code created the
 *  task (debug mode only; a stack capture costs microseconds). */
function creationSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack;
  Error.stackTraceLimit = limit;
  if (stack === undefined) return undefined;
  const frames = stack.split('\n').slice(1).map((l) => l.trim())
    .filter((l) => !l.includes(LIBRARY_DIR) && !l.includes('(node:') && !l.startsWith('at node:'));
  return frames.length === 0 ? undefined : frames.slice(0, 4).join('\n');
}

const firstSites = new WeakMap<object, string | undefined>();

/** 'first' mode: what identifies "the same coroutine function": a generator object's prototype
 *  is its function's `prototype`, shared by every call; a function is itself. */
function siteKeyOf(body: unknown): object | null {
  if (isGenerator(body)) return Object.getPrototypeOf(body) as object;
  return typeof body === 'function' ? body : null;
}

/** The creation site of the first task made from `key`, captured once. */
function firstSite(key: object | null): string | undefined {
  if (key === null) return creationSite();
  let site = firstSites.get(key);
  if (site === undefined && !firstSites.has(key)) firstSites.set(key, (site = creationSite()));
  return site;
}
