// Task: runs a coroutine (a generator) or an async function as a Future.
//
// While a task is not done, exactly one holds:
//   WAITING    _tWaitingOn is a pending Future that holds this task as a waiter; no step queued.
//   SCHEDULED  exactly one step of this task is in the loop's ready queue.
//   RUNNING    #step is on the stack; currentTask() === this.
// cancel() while WAITING cancels _tWaitingOn, so CancelledError is raised at that `yield*`;
// while SCHEDULED or RUNNING it sets _tMustCancel, which the next step throws in (asyncio's
// tasks.py, `__step` and `cancel`). A task is its own ready-queue entry: `_run` is a step
// while the task is pending, and (inherited from Future) runs done callbacks once it is done.
// A generator step is one `next()`/`throw()` call and no allocation.
//
// An async-function task starts its function inside `asyncTaskContext.run(task, fn)`, so every
// `then()` on a Tulip future made by that function's code knows its task: that is where
// cancel() reaches it (_tWaitingOn is the future it awaits) and how currentTask() works after
// an `await`. Only these tasks pay for AsyncLocalStorage. A task made from a promise that was
// already running cannot be tracked (its code did not run in the task's context), so cancel()
// cancels such a task at once and drops the promise's outcome (documented in docs/tasks.md).

import type { EventLoop } from '../loop/event-loop.js';
import { asyncEverUsed, asyncTaskContext, current, runningTaskOrNull } from '../loop/running.js';
import { Future, type Waiter } from './future.js';
import { CancelledError, RuntimeError, type CancelReason } from './errors.js';
import { giveBackGrant } from './chain.js';
import { isGenerator, isGeneratorFunction, isThenable, type Coroutine, type Yieldable } from './coroutine.js';
import { creationSite, firstSite, siteKeyOf } from './creation-site.js';

const GENERATOR = 0, ASYNC_FN = 1, PROMISE = 2, PLAIN_FN = 3;
type Kind = typeof GENERATOR | typeof ASYNC_FN | typeof PROMISE | typeof PLAIN_FN;

let taskCounter = 0;


/** What createTask accepts. */
export type TaskBody<T> = Coroutine<T> | PromiseLike<T> | (() => Coroutine<T> | PromiseLike<T> | T);

/** The body of a task made from a Future. */
function* awaitFuture<T>(f: Future<T>): Coroutine<T> {
  return yield* f;
}

/** asyncio: `Task`. Made by `createTask`; do not construct directly. */
export class Task<T> extends Future<T> implements Waiter {
  // Fields are assigned in the constructor, not by class-field initializers (see Future).
  /** @internal */ declare _tKind: Kind;
  /** @internal */ declare _tCoro: Coroutine<T> | null;
  /** @internal */ declare _tStart: (() => unknown) | null;
  /** @internal */ declare _tWaitingOn: Future<unknown> | null;
  /** @internal */ declare _tMustCancel: boolean;
  /** @internal */ declare _tCancelMsg: string | undefined;
  /** @internal */ declare _tCancelReason: CancelReason | undefined;
  /** @internal */ declare _tCancels: number;
  /** @internal an error to throw into the coroutine at its next step (a bad yield, an interrupt) */
  declare _tThrowNext: unknown;
  /** @internal async-function tasks that can be interrupted (greenlets): rejects the current await */
  declare _tInterruptAwait: ((error: unknown) => void) | null;
  /** @internal */ declare _tStarted: boolean;
  /** @internal A cancel that arrives before the first step is delivered at the body's first wait
   *  instead of before its first line: for the library's helper tasks whose body must run to
   *  keep an invariant (Condition.wait reacquires its lock in a finally). User tasks keep
   *  asyncio's rule: cancelled before they start, they never run. */
  declare _startFirst: boolean;
  /** @internal the future it waits on completed and queued this task (see _wakeSoon). A flag,
   *  not the future: storing a young future into an old task costs a write barrier per wake. */
  declare _tWaking: boolean;
  /** @internal set by the greenlet bridge: this task's awaits can be interrupted. */
  declare _interruptible: boolean;
  /** @internal called on each cancel() request (AbortSignal interop); made on demand. */
  declare _onCancel: Array<(reason: CancelReason) => void> | null;
  /** @internal the greenlet this task runs, if any: told the moment the task is done, so the
   *  greenlet dies in the same step (no done callback, no extra ready-queue hop). */
  declare _greenlet: { _taskDone(task: Task<any>): void } | null;
  /** @internal the name, made from the id on first use (most tasks are never asked) */
  declare _tName: string | null;
  /** @internal */ declare readonly _tId: number;
  /** @internal the loop's list of live tasks runs through these (see EventLoop#_registerTask) */
  declare _tPrev: Task<unknown> | null;
  /** @internal */ declare _tNext: Task<unknown> | null;
  /** @internal its slot among its TaskGroup's children, -1 outside one (see task-group.ts) */
  declare _tGroupSlot: number;
  /** @internal the task that created this one, for the task tree. */ declare readonly _parent: Task<unknown> | null;

  /** @internal */
  constructor(body: TaskBody<T>, loop: EventLoop, name?: string, plain = false, siteKey?: object) {
    super(loop);
    this._tCoro = null;
    this._tStart = null;
    this._tWaitingOn = null;
    this._tMustCancel = false;
    this._tCancelMsg = undefined;
    this._tCancelReason = undefined;
    this._tCancels = 0;
    this._tThrowNext = undefined;
    this._tInterruptAwait = null;
    this._tStarted = false;
    this._tWaking = false;
    this._startFirst = false;
    this._tPrev = null;
    this._tNext = null;
    this._tGroupSlot = -1;
    this._interruptible = false;
    this._onCancel = null;
    this._greenlet = null;
    if (isGenerator(body)) {
      this._tKind = GENERATOR;
      this._tCoro = body as Coroutine<T>;
    } else if (body instanceof Future) {
      // A Tulip Future is awaited, not adopted as a promise: cancelling the task cancels the
      // future too (a lock's acquire() must not stay queued for a task that is gone).
      this._tKind = GENERATOR;
      this._tCoro = awaitFuture(body as Future<T>);
    } else if (isThenable(body)) {
      this._tKind = PROMISE;
      this._tStart = () => body;
    } else if (typeof body === 'function') {
      if (isGeneratorFunction(body)) {
        this._tKind = GENERATOR;
        this._tCoro = (body as () => Coroutine<T>)();
      } else if (plain) {
        // Known synchronous (the greenlet bridge's plain bodies): no AsyncLocalStorage needed.
        this._tKind = PLAIN_FN;
        this._tStart = body;
      } else {
        // An async function, or a plain one that may return a promise (`() => worker(i)`):
        // run it inside the task's AsyncLocalStorage context so its awaits stay tracked.
        this._tKind = ASYNC_FN;
        this._tStart = body;
        asyncEverUsed.value = true;
      }
    } else {
      throw new TypeError(`a coroutine, promise or function was expected, got ${String(body)}`);
    }
    (this as { _tId: number })._tId = ++taskCounter;
    this._tName = name ?? null;
    (this as { _parent: Task<unknown> | null })._parent = runningTaskOrNull();
    const sites = loop._sites;
    if (sites !== 3) { // 'all': the Future constructor has captured it already
      (this as { _createdAt: string | undefined })._createdAt = sites === 0 ? undefined : sites === 2 ? creationSite() : firstSite(siteKey ?? siteKeyOf(body));
    }
    loop._registerTask(this);
    loop._pushReady(this);
  }

  /** asyncio: `Task.get_name`. */
  getName(): string {
    return (this._tName ??= `Task-${this._tId}`);
  }

  /** asyncio: `Task.set_name`. */
  setName(name: string): void {
    this._tName = String(name);
  }

  /** asyncio: `Task.get_coro`. The generator, or null for an async-function task. */
  getCoro(): Coroutine<T> | null {
    return this._tCoro;
  }

  /** asyncio: `Task.get_stack`, as data: the chain of futures this task waits on, outermost
   *  first (a task it waits on contributes its own chain). */
  getStack(): Future<unknown>[] {
    const chain: Future<unknown>[] = [];
    let w = this._tWaitingOn;
    while (w !== null && !w.done() && chain.length < 64) {
      chain.push(w);
      w = w instanceof Task ? w._tWaitingOn : null;
    }
    return chain;
  }

  /** asyncio: `Task.cancelling`. Pending cancel requests. */
  cancelling(): number {
    return this._tCancels;
  }

  /** asyncio: `Task.uncancel`. Takes back one cancel request; returns how many remain. */
  uncancel(): number {
    if (this._tCancels > 0) this._tCancels--;
    if (this._tCancels === 0) this._tMustCancel = false;
    return this._tCancels;
  }

  /** asyncio: `Task.cancel`. Raises CancelledError inside the coroutine at its current wait. */
  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done()) return false;
    this._tCancels++;
    reason ??= { kind: 'user', message: msg };
    if (this._onCancel !== null) for (const hook of this._onCancel) hook(reason);
    if (this._tKind === PROMISE && this._tStart === null) {
      // Untracked promise: nothing can be delivered to it; the task ends cancelled now.
      this._cancelReason = reason;
      const r = super.cancel(msg);
      this.#ended();
      return r;
    }
    const w = this._tWaitingOn;
    if (w !== null) {
      if (w._shared && !(w instanceof Task) && !w.done()) {
        // A greenlet's result: others join it too, so stop waiting instead of cancelling it.
        this._interrupt(new CancelledError(msg, reason));
        return true;
      }
      if (reason !== undefined && !w.done()) w._cancelReason = reason;
      if (w.cancel(msg)) return true;
    }
    this._tMustCancel = true;
    this._tCancelMsg = msg;
    this._tCancelReason = reason;
    return true;
  }

  /** Tasks complete only through their coroutine (asyncio raises RuntimeError too). */
  override setResult(_value: T): never {
    throw new RuntimeError('Task does not support setResult()');
  }

  override setException(_error: unknown): never {
    throw new RuntimeError('Task does not support setException()');
  }

  /** @internal ready-queue entry: a wake-up (see _wakeSoon), a step while pending, done
   *  callbacks once done. */
  override _run(): void {
    if (this._tWaking) {
      this._tWaking = false;
      // Stale when an interrupt stopped the wait meanwhile (it queued a step of its own).
      const waking = this._tWaitingOn;
      if (waking !== null && waking.done()) this._wake(waking);
      return;
    }
    if (this.done()) super._run();
    else this.#step(undefined, false);
  }

  /** @internal the future this task alone waits on is done: queue the wake-up. */
  _wakeSoon(_fut: Future<unknown>): void {
    this._tWaking = true;
    this._loop._pushReady(this);
  }

  /** @internal the future this task waited on completed. */
  _wake(fut: Future<unknown>): void {
    this._tWaitingOn = null;
    this.#endWait(fut);
    this.#step(undefined, false);
  }

  /** @internal The future an async-function task awaits settled: a cancel that came after it
   *  completed is returned, to be raised at this await (as #step raises it for a generator
   *  task); undefined when there is none. */
  _lateCancel(fut: Future<unknown>): CancelledError | undefined {
    if (this.done()) return undefined;
    this.#endWait(fut);
    if (!this._tMustCancel) return undefined;
    this._tMustCancel = false;
    return this.#makeCancelledError();
  }

  /** The wait on `fut` is over, for a generator or an async-function task alike. A cancel()
   *  after the one that cancelled this wait is dropped: the wait's own CancelledError is
   *  delivered, so the first request's message wins (asyncio's __step keeps a CancelledError).
   *  A grant `fut` carried (a lock, an item) goes back when a cancel or an interrupt is raised
   *  in its place, since the coroutine never sees it. */
  #endWait(fut: Future<unknown>): void {
    if (this._tMustCancel && fut.cancelled()) {
      this._tMustCancel = false;
      this._tCancelMsg = undefined;
    }
    if (this._tMustCancel || this._tThrowNext !== undefined) giveBackGrant(fut);
  }

  /** @internal An async-function task's code called then() on `fut`. Returns a rejected
   *  promise when a cancel is pending (delivered at this await), else null. */
  _awaiting(fut: Future<unknown>): Promise<never> | null {
    if (this.done()) return null;
    if (this._tMustCancel) {
      this._tMustCancel = false;
      if (!fut._shared) fut.cancel(); // it was made for this await (a sleep, a waiter): release it
      const error = this.#makeCancelledError();
      return Promise.reject(error);
    }
    if (this._tThrowNext !== undefined) { // an interrupt that came while it ran (a self-kill)
      const error = this._tThrowNext;
      this._tThrowNext = undefined;
      if (!fut._shared) fut.cancel();
      return Promise.reject(error);
    }
    this._tWaitingOn = fut;
    if (!this._interruptible && !(fut._shared && !(fut instanceof Task))) return null;
    // A greenlet's await must be interruptible even when it waits on another task, which an
    // interrupt must not cancel: race the future against the interrupt (one promise per await,
    // paid by interruptible async tasks only).
    return new Promise<never>((resolve, reject) => {
      this._tInterruptAwait = reject;
      fut._promise().then((v) => this.#settleRace(resolve, reject, v, false, fut), (e) => this.#settleRace(resolve, reject, e, true, fut));
    });
  }

  /** An interrupt that waited for its wait to settle (an owned task, a timeout's body) replaces that wait's outcome. */
  #settleRace(resolve: (v: never) => void, reject: (e: unknown) => void, outcome: unknown, failed: boolean, fut: Future<unknown>): void {
    if (this._tInterruptAwait === reject) this._tInterruptAwait = null; // settled: _interrupt no longer races it
    const interrupt = this._tThrowNext;
    if (interrupt !== undefined) {
      this._tThrowNext = undefined;
      reject(interrupt);
      return;
    }
    const late = this._lateCancel(fut); // a cancel() that came after `fut` completed, as getPromise does
    if (late !== undefined) reject(late);
    else if (failed) reject(outcome);
    else resolve(outcome as never);
  }

  /** @internal gevent's implicit interruption: raise `error` inside the coroutine at its current
   *  wait (or its next step). A future the task owns (a sleep, a lock or queue waiter) is
   *  cancelled so its timer or slot is released; a Task it waits on is left running (killing a
   *  greenlet that joins another does not kill that one). Returns false if already done. */
  _interrupt(error: unknown): boolean {
    if (this.done()) return false;
    const w = this._tWaitingOn;
    if (this._tKind !== GENERATOR) {
      if (this._tStart !== null) { // not started: it never runs
        this._tStart = null;
        this._tKind = GENERATOR;
        this._tCoro = (function* (): Coroutine<T> { throw error; })();
        return true;
      }
      const reject = this._tInterruptAwait;
      this._tInterruptAwait = null;
      const later = w !== null && !w.done() && releaseWait(w);
      // Granted (a lock, an item) but its await has not settled: the grant goes back, as a
      // generator task's does in _wake, and the interrupt is raised in its place.
      if (reject !== null && !later && w !== null && w.done()) giveBackGrant(w);
      if (reject !== null && !later) reject(error);
      // Running now (it interrupts itself): raised at its next await. Waiting on something that
      // unwinds after its cancel: raised when that settles (see _awaiting's race).
      else this._tThrowNext = error;
      return true;
    }
    this._tThrowNext = error;
    if (w !== null && !w.done()) {
      w._removeWaiter(this);
      if (releaseWait(w)) {
        w._addWaiter(this);
        return true; // its completion wakes this task, and #step raises `error`
      }
      this._tWaitingOn = null;
      this._loop._pushReady(this);
    }
    return true;
  }

  /** @internal */
  override _kind(): string {
    return 'Task';
  }

  /** @internal */
  override _origin(): string {
    return `task ${this.getName()}`;
  }

  #makeCancelledError(): CancelledError {
    const error = new CancelledError(this._tCancelMsg, this._tCancelReason);
    this._tCancelMsg = undefined;
    return error;
  }

  #step(error: unknown, hasError: boolean): void {
    const first = !this._tStarted;
    if (first) this._tStarted = true;
    if (this._tKind !== GENERATOR) {
      this.#startAsync();
      return;
    }
    if (this._tThrowNext !== undefined) {
      error = this._tThrowNext;
      this._tThrowNext = undefined;
      hasError = true;
    } else if (this._tMustCancel && !(first && this._startFirst)) { // else #park delivers it
      this._tMustCancel = false;
      error = this.#makeCancelledError();
      hasError = true;
    }
    const coro = this._tCoro!;
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
      this._tThrowNext = new RuntimeError(`Task got bad yield: ${String(y)} (use yield* on a Future or coroutine)`);
      this._loop._pushReady(this);
    }
  }

  #park(fut: Future<unknown>): void {
    if (fut._loop !== this._loop) {
      this._tThrowNext = new RuntimeError(`Task ${this.getName()} got Future attached to a different loop`);
      this._loop._pushReady(this);
      return;
    }
    if (fut === (this as Future<unknown>)) {
      this._tThrowNext = new RuntimeError(`Task cannot await on itself: ${this}`);
      this._loop._pushReady(this);
      return;
    }
    if (fut.done()) {
      this._loop._pushReady(this);
      return;
    }
    if (this._tThrowNext !== undefined && !releaseWait(fut)) {
      // Interrupted while it ran (a greenlet that kills itself without blocking): the error is
      // raised at this wait, as gevent raises it at the next switch (after an owned task's cleanup).
      this._loop._pushReady(this);
      return;
    }
    fut._addWaiter(this);
    this._tWaitingOn = fut;
    if (this._tMustCancel) {
      if (this._tCancelReason !== undefined) fut._cancelReason = this._tCancelReason;
      if (fut.cancel(this._tCancelMsg)) this._tMustCancel = false;
    }
  }

  #finishWithValue(value: T): void {
    if (this._tMustCancel) {
      // cancel() arrived after the coroutine's last wait: asyncio still ends the task cancelled.
      this._tMustCancel = false;
      this._finishCancelled(this.#makeCancelledError());
    } else {
      this._finish(value);
    }
    this.#ended();
  }

  /** The task is done: the loop stops tracking it, and its greenlet (if any) dies now. */
  #ended(): void {
    this._loop._unregisterTask(this as Task<unknown>);
    this._greenlet?._taskDone(this);
  }

  #finishWithError(error: unknown): void {
    if (error instanceof CancelledError) this._finishCancelled(error);
    else this._fail(error);
    this.#ended();
  }

  #startAsync(): void {
    const start = this._tStart!;
    this._tStart = null;
    if (this._tMustCancel) {
      // Cancelled before its first step: the function never runs (asyncio throws into the
      // coroutine before its first line, with the same effect).
      this._tMustCancel = false;
      this.#finishWithError(this.#makeCancelledError());
      return;
    }
    let p: unknown;
    const prev = current.task;
    current.task = this as Task<unknown>;
    try {
      p = this._tKind === ASYNC_FN ? asyncTaskContext.run(this as Task<unknown>, start) : start();
    } catch (e) {
      current.task = prev;
      this.#finishWithError(e);
      return;
    }
    current.task = prev;
    if (isGenerator(p)) {
      // A plain function that returned a generator: drive it as a coroutine.
      this._tKind = GENERATOR;
      this._tCoro = p as Coroutine<T>;
      this.#step(undefined, false);
      return;
    }
    if (p instanceof Future) {
      // A function that returned a Tulip Future (`() => lock.acquire()`, gevent's
      // `with_timeout(s, sleep, 1)`): await it as createTask(future) does, so a cancel or an
      // interrupt reaches it instead of leaving it pending under a task that is gone.
      this._tKind = GENERATOR;
      this._tCoro = awaitFuture(p as Future<T>);
      this.#step(undefined, false);
      return;
    }
    if (this._tKind === PLAIN_FN) this._tKind = PROMISE;
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
    const w = this._tWaitingOn;
    return w !== null && !w.done() ? w : null;
  }

  /** @internal */
  override _describeWait(): string {
    return `task ${this.getName()}`;
  }

  /** @internal True once the task has taken its first step. */
  get _started(): boolean {
    return this._tStarted;
  }

  override toString(): string {
    return `<${this._describe()} name=${this.getName()}>`;
  }
}
(Task.prototype as { _shared: boolean })._shared = true;

/** @internal Marks a task that an API call made for one wait of its caller (Condition.wait,
 *  Process.communicate): an interrupt of the caller (a greenlet's kill or Timeout) cancels it,
 *  as it cancels a sleep or a lock waiter, and, as for any wait that unwinds after its cancel
 *  (timeout(), taskGroup()), is raised once it has settled (a Condition has its lock again).
 *  Other tasks a greenlet waits on are left running. */
export function ownedTask<T>(task: Task<T>): Task<T> {
  (task as { _shared: boolean })._shared = false;
  return task;
}
(Task.prototype as { _unwinds: boolean })._unwinds = true;

/** An interrupt reaches the pending wait `w`: a wait that is not shared is cancelled. True when it
 *  settles later (a Condition reacquiring its lock, a timeout's body unwinding), so the interrupt
 *  is raised once it has settled; false when it can be raised now. */
function releaseWait(w: Future<unknown>): boolean {
  if (w._shared) return false;
  w.cancel();
  return w._unwinds && !w.done();
}
