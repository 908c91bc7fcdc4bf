// Future: asyncio's one-shot result holder, usable from `yield*` and from `await`.
//
// State is one-way: PENDING -> FINISHED | CANCELLED (small ints keep the field monomorphic).
// Done callbacks never run inline: completing a future puts the future itself in its loop's
// ready queue (no Handle, no closure), and the loop calls its _run in that batch slot, so
// callbacks run in the order futures completed, exactly where asyncio's call_soon would run
// them. A Task waiting on the future is one of those callbacks (an object with `_wake`), so
// waking a task allocates nothing.
//
// The Future is its own iterator: `next()` yields the future while it is pending and returns
// its result (or throws) once it is done, so `yield* fut` costs no generator object. `then()`
// makes a Promise on first use only; its settling is queued as a done callback in the order it
// was added, and tells the loop to let promise jobs finish before the next ready callback
// (API.md §2, "Scheduling order"). An async-function task that calls `then()` is recorded as
// waiting on this future, which is how `cancel()` reaches it (see Task#_awaiting).
//
// An exception nobody retrieved is reported through the loop's exception handler when the
// future is garbage-collected (a FinalizationRegistry entry made only on failure). The entry is
// made when the loop next goes idle or yields to Node, not at the failure: by then almost every
// failure has been retrieved by the task that waited for it, and registering and unregistering
// each one cost a proxy answering 502s half its young-generation GC time (the registry's cells,
// promoted, kept later failures alive: 2.6 KB promoted per request with the entry at once,
// 1.2 KB without it).

import type { EventLoop } from '../loop/event-loop.js';
import type { Task } from './task.js';
import type { Yieldable } from './coroutine.js';
import { asyncTaskContext, getEventLoop } from '../loop/running.js';
import { CancelledError, InvalidStateError, kControlFlow, type CancelReason } from './errors.js';
import { creationSite, firstFrame } from './creation-site.js';

const PENDING = 0, FINISHED = 1, CANCELLED = 2;
type State = typeof PENDING | typeof FINISHED | typeof CANCELLED;
const STATE_NAMES = ['PENDING', 'FINISHED', 'CANCELLED'] as const;

type DoneCallback<T> = (fut: Future<T>) => unknown;
/** @internal A task parked on a future: woken in the callback's slot. */
export interface Waiter {
  _wake(fut: Future<unknown>): void;
  /** The future completed with this as its only waiter: a generator task takes the future's
   *  ready-queue slot itself; a waitFor settles at once (its own waiter is then queued). */
  _wakeSoon(fut: Future<unknown>): void;
}

interface Unretrieved { loop: EventLoop; error: unknown; what: string; origin: string; ref: WeakRef<Future<unknown>> }
const YIELD_RESULT: IteratorYieldResult<Yieldable> = { value: undefined, done: false };
const RETURN_RESULT: IteratorReturnResult<unknown> = { value: undefined, done: true };

/** On a failed future's _reportable until its loop registers it (see the top comment). */
const DEFERRED = Symbol('tulip.reportDeferred');

const unretrieved = new FinalizationRegistry<Unretrieved>((held) => {
  held.loop._unretrieved.delete(held.ref);
  // The future is gone by now: `origin` names it (asyncio passes the object as `future`).
  held.loop.callExceptionHandler({ message: `${held.what} exception was never retrieved`, exception: held.error, origin: held.origin });
});

/** asyncio: `Future`. A result that will exist later; `yield*`-able and awaitable. */
export class Future<T> implements PromiseLike<T> {
  /** @internal On the prototype: true for futures other code also waits on (a Task, a
   *  greenlet's result), which an interrupt must leave alone rather than cancel. */
  declare readonly _shared: boolean;
  /** @internal Settles some time after cancel() (a task's coroutine, or a timeout's or task
   *  group's body, unwinds first): a greenlet interrupted while it waits on one is resumed when
   *  it has settled, not at once. */
  declare readonly _unwinds: boolean;
  // Fields are assigned in the constructor, never as class-field initializers: V8 runs an
  // initializer per subclass shape through a megamorphic define, and with a dozen Future kinds
  // (Task, waiters, sleeps, bridge futures) that was 12% of spawning a greenlet. `declare`
  // keeps TypeScript from emitting initializers.
  /** @internal */ declare readonly _loop: EventLoop;
  /** @internal */ declare _state: State;
  /** @internal the result; also, while pending, the value _resolveOnRun will finish with */
  declare _value: T | undefined;
  /** @internal the exception, or the CancelledError to raise once cancelled (made lazily) */
  declare _error: unknown;
  /** @internal */ declare _cancelMsg: string | undefined;
  /** @internal why it was cancelled (diagnostics). */ declare _cancelReason: CancelReason | undefined;
  /** @internal Set by sync primitives on a granted waiter: gives the grant back (releases the
   *  lock, returns the item) when the generator task it woke is cancelled before it resumes,
   *  so the grant is never lost. Called by Task#_wake. */
  declare _onAbandon: ((fut: Future<any>) => void) | null;
  /** @internal the first done callback or waiting task: most futures have exactly one, a task */
  declare _cb0: DoneCallback<any> | Waiter | null;
  /** @internal done callbacks and waiting tasks after the first, in order; made on demand */
  declare _cbs: Array<DoneCallback<any> | Waiter> | null;
  /** @internal true while this future sits in the ready queue to run its callbacks */
  declare _queued: boolean;
  /** @internal a settled promise for then() after completion (made once) */
  declare _prom: Promise<T> | null;
  /** @internal where _run resumes after a microtask drain */
  declare _cbIndex: number;
  /** @internal where it was created, in 'all' mode (tasks: see Task; EventLoop's creationSites) */
  declare readonly _createdAt: string | undefined;
  /** @internal set while an exception nobody retrieved is pending report: the entry in the
   *  loop's `_unretrieved` set (close({ strict }) lists them) and in the FinalizationRegistry */
  declare _reportable: WeakRef<Future<unknown>> | typeof DEFERRED | null;

  constructor(loop?: EventLoop) {
    const l = (this as { _loop: EventLoop })._loop = loop ?? getEventLoop();
    if (l._sites === 3) (this as { _createdAt: string | undefined })._createdAt = creationSite();
    this._state = PENDING;
    this._value = undefined;
    this._error = undefined;
    this._onAbandon = null;
    this._cb0 = null;
    this._cbs = null;
    this._queued = false;
    // _cancelMsg, _cancelReason, _prom, _cbIndex and _reportable start on the prototype (below):
    // most futures never set them, and every store here is paid by every future.
  }

  /** asyncio: `Future.get_loop`. */
  getLoop(): EventLoop {
    return this._loop;
  }

  /** asyncio: `Future.done`. */
  done(): boolean {
    return this._state !== PENDING;
  }

  /** asyncio: `Future.cancelled`. */
  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /** asyncio: `Future.result`. The value; throws the exception, CancelledError, or
   *  InvalidStateError while pending. */
  result(): T {
    const state = this._state;
    if (state === FINISHED) {
      if (this._error === undefined) return this._value as T;
      retrieved(this);
      throw this._error;
    }
    if (state === CANCELLED) throw this._cancelledError();
    throw new InvalidStateError(`Result is not ready: ${this}`);
  }

  /** asyncio: `Future.exception`. The exception or null; throws CancelledError if cancelled. */
  exception(): unknown {
    const state = this._state;
    if (state === FINISHED) {
      retrieved(this);
      return this._error === undefined ? null : this._error;
    }
    if (state === CANCELLED) throw this._cancelledError();
    throw new InvalidStateError(`Exception is not set: ${this}`);
  }

  /** asyncio: `Future.set_result`. */
  setResult(value: T): void {
    this._finish(value);
  }

  /** asyncio: `Future.set_exception`. */
  setException(error: unknown): void {
    this._fail(error);
  }

  /** asyncio: `Future.cancel`. Returns false if already done. `reason` says why (project only). */
  cancel(msg?: string, reason?: CancelReason): boolean {
    if (this._state !== PENDING) return false;
    if (reason !== undefined) this._cancelReason = reason;
    this._state = CANCELLED;
    this._cancelMsg = msg;
    schedule(this);
    return true;
  }

  /** asyncio: `Future.add_done_callback`. `cb(fut)` runs via the loop, never inline. */
  addDoneCallback(cb: DoneCallback<T>): void {
    if (this._state !== PENDING && !this._queued) {
      this._loop.callSoon(cb, this);
      return;
    }
    addCallback(this, cb);
  }


  /** asyncio: `Future.remove_done_callback`. Returns how many were removed. */
  removeDoneCallback(cb: DoneCallback<T>): number {
    let removed = 0;
    if (this._cb0 === cb) {
      this._cb0 = null;
      removed++;
    }
    const cbs = this._cbs;
    if (cbs !== null) {
      const kept = cbs.filter((c) => c !== cb);
      removed += cbs.length - kept.length;
      if (kept.length !== cbs.length) this._cbs = kept;
    }
    return removed;
  }

  // --- iteration: `yield* fut` -------------------------------------------------------------

  [Symbol.iterator](): Iterator<Yieldable, T, unknown> {
    return this;
  }

  /** @internal Iterator protocol for `yield*`; not for direct use. */
  next(): IteratorResult<Yieldable, T> {
    // One shared result object each way: `yield*` hands the inner result straight to the
    // Task's `coro.next()`, which reads it at once, so nothing ever holds one.
    if (this._state === PENDING) {
      YIELD_RESULT.value = this as Future<unknown>;
      return YIELD_RESULT;
    }
    RETURN_RESULT.value = this.result();
    return RETURN_RESULT as IteratorReturnResult<T>;
  }

  /** @internal Iterator protocol: an error thrown into `yield*` surfaces at that yield*. */
  throw(error?: unknown): IteratorResult<Yieldable, T> {
    throw error;
  }

  /** @internal Iterator protocol: closing the coroutine closes the wait. */
  return(value?: any): IteratorResult<Yieldable, T> {
    return { value, done: true };
  }

  // --- promise: `await fut` ----------------------------------------------------------------

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const task = asyncTaskContext.getStore();
    if (task !== undefined) {
      const refused = task._awaiting(this);
      if (refused !== null) return refused.then(onFulfilled, onRejected);
      return getPromise(this, task).then(onFulfilled, onRejected);
    }
    return getPromise(this).then(onFulfilled, onRejected);
  }

  /** @internal The settle promise without the async-task bookkeeping of then(). */
  _promise(): Promise<T> {
    return getPromise(this);
  }

  // --- internals shared with Task and the loop --------------------------------------------

  /** @internal */
  _finish(value: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._value = value;
    this._state = FINISHED;
    schedule(this);
  }

  /** @internal */
  _fail(error: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    if (error === undefined) throw new TypeError('setException() needs an exception, got undefined');
    this._error = error;
    this._state = FINISHED;
    if (!(typeof error === 'object' && error !== null && kControlFlow in error)) { // a CancelledError is, too
      // V8 keeps the receivers of captured stack frames (this task among them) until `stack` is
      // formatted; the registry holds the error, so format it now or the future is never freed.
      if (error instanceof Error) void error.stack;
      this._reportable = DEFERRED;
      this._loop._deferReport(this);
    }
    schedule(this);
  }

  /** @internal Cancelled state carrying a given CancelledError (a task whose coroutine raised it). */
  _finishCancelled(error: CancelledError): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._error = error;
    this._cancelMsg = error.message;
    this._state = CANCELLED;
    schedule(this);
  }

  /** @internal The CancelledError to raise for a cancelled future. */
  _cancelledError(): CancelledError {
    if (this._error instanceof CancelledError) return this._error;
    const error = new CancelledError(this._cancelMsg, this._cancelReason);
    this._error = error;
    return error;
  }

  /** @internal Finish with `value` when the loop reaches this slot: one batch from now. Used by
   *  sleep(0), so a zero sleep costs one queue slot, as asyncio's bare yield does. */
  _resolveOnRun(value: T): void {
    this._value = value;
    this._queued = true;
    this._loop._pushReady(this);
  }

  /** @internal Park a task on this future. */
  _addWaiter(waiter: Waiter): void {
    addCallback(this, waiter);
  }

  /** @internal Unpark a task (it was interrupted and waits no more). */
  _removeWaiter(waiter: Waiter): void {
    if (this._cb0 === waiter) {
      this._cb0 = null;
      return;
    }
    const cbs = this._cbs;
    if (cbs === null) return;
    const i = cbs.indexOf(waiter);
    if (i >= 0) cbs.splice(i, 1);
  }

  /** @internal Ready-queue entry point: run the done callbacks (Task overrides for its step).
   *  After a callback that woke an async task, the rest wait for the loop's microtask drain:
   *  the loop calls _run again at the same slot (`_resumeSlot`). */
  _run(): void {
    if (this._state === PENDING) this._state = FINISHED; // _resolveOnRun stored the value
    const loop = this._loop;
    const first = this._cb0;
    if (first !== null) {
      this._cb0 = null;
      invoke(this, first);
      if (loop._asyncWoken && this._cbs !== null) {
        loop._resumeSlot = true; // the rest after the microtask drain
        return;
      }
    }
    const cbs = this._cbs;
    if (cbs === null) {
      this._queued = false;
      return;
    }
    for (let i = this._cbIndex; i < cbs.length; i++) {
      invoke(this, cbs[i]!);
      if (loop._asyncWoken && i + 1 < cbs.length) {
        this._cbIndex = i + 1;
        loop._resumeSlot = true;
        return;
      }
    }
    this._cbs = null;
    if (this._cbIndex !== 0) this._cbIndex = 0;
    this._queued = false;
    if (this._cb0 !== null) this._run(); // added by a callback while we ran (rare)
  }


  /** @internal the loop's leak report has listed it: no second report at GC */
  _markRetrieved(): void {
    retrieved(this);
  }

  /** @internal for "Task exception was never retrieved" */
  _kind(): string {
    return 'Future';
  }

  /** @internal Names this future in the never-retrieved report (the future is gone by then). */
  _origin(): string {
    return 'a Future';
  }

  /** @internal What a task parked here waits for, for the task tree (subclasses say more). */
  _describeWait(): string {
    return this.toString();
  }

  /** @internal for diagnostics: what it holds, without marking it retrieved. */
  _peekState(): { state: string; value: unknown; error: unknown } {
    return { state: STATE_NAMES[this._state], value: this._value, error: this._error };
  }

  toString(): string {
    return `<${this._describe()}>`;
  }

  /** @internal */
  _describe(): string {
    const kind = this.constructor.name;
    switch (this._state) {
      case PENDING: return `${kind} pending`;
      case CANCELLED: return `${kind} cancelled`;
      default:
        return this._error === undefined
          ? `${kind} finished result=${short(this._value)}`
          : `${kind} finished exception=${short(this._error)}`;
    }
  }
}

// Future's internals are module functions, not #private methods: a class with private methods
// brands every instance, and V8 then cannot inline its constructor into a subclass's super()
// call, which made constructing any Future (a waiter, a sleep, a Task) go through the generic
// construct stub (twice the time, measured in a micro-benchmark).
function addCallback(f: Future<any>, cb: DoneCallback<any> | Waiter): void {
  if (f._cb0 === null && f._cbs === null) f._cb0 = cb;
  else (f._cbs ??= []).push(cb);
}

/** The promise then() settles. For an async-function task's `await` (`task`), a cancel that
 *  reaches the task after `f` completed but before it resumed is raised at this await, as a
 *  generator task's is, and a grant `f` carried (a lock, a queue item) is handed back. */
function getPromise<T>(f: Future<T>, task: Task<unknown> | null = null): Promise<T> {
  retrieved(f);
  if (f._state === PENDING || f._queued) {
    // One settle slot per then(): each awaiting async task is woken in its own turn, in the
    // order it started waiting, like a task waiter (see _run).
    return new Promise<T>((resolve, reject) => {
      addCallback(f, (f: Future<T>) => {
        f._loop._asyncWoken = true; // let the continuation finish before the next callback
        const late = task?._lateCancel(f);
        if (late !== undefined) return reject(late);
        if (f._state === FINISHED && f._error === undefined) return resolve(f._value as T);
        retrieved(f); // handed to the promise: its rejection is the report if nobody handles it
        reject(f._state === CANCELLED ? f._cancelledError() : f._error);
      });
    });
  }
  if (f._prom !== null) return f._prom;
  if (f._state === FINISHED && f._error === undefined) f._prom = Promise.resolve(f._value as T);
  else f._prom = Promise.reject(f._state === CANCELLED ? f._cancelledError() : f._error);
  return f._prom;
}

function invoke(f: Future<any>, cb: DoneCallback<any> | Waiter): void {
  try {
    if (typeof cb === 'function') cb(f);
    else cb._wake(f as Future<unknown>);
  } catch (error) {
    f._loop.callExceptionHandler({ message: `Exception in callback of ${f}`, exception: error, future: f });
  }
}

function schedule(f: Future<any>): void {
  if (f._queued) return;
  if (f._cbs === null) {
    const first = f._cb0;
    if (first === null) return;
    if (typeof first !== 'function') {
      // The only thing waiting is a Waiter (a generator task, a waitFor): it is woken without
      // the future's own hop through _run (a task queues itself in the future's place).
      f._cb0 = null;
      first._wakeSoon(f);
      return;
    }
  }
  f._queued = true;
  f._loop._pushReady(f);
}

function retrieved(f: Future<any>): void {
  const ref = f._reportable;
  if (ref !== null) {
    f._reportable = null;
    if (ref === DEFERRED) return; // never registered
    f._loop._unretrieved.delete(ref);
    unretrieved.unregister(f);
  }
}

/** @internal Registers `f` for the never-retrieved report, unless it was retrieved meanwhile
 *  (the loop calls this for the failures it deferred, see the top comment). */
export function registerReport(f: Future<any>): void {
  if (f._reportable !== DEFERRED) return;
  const ref = new WeakRef<Future<unknown>>(f);
  f._reportable = ref;
  f._loop._unretrieved.add(ref);
  const origin = f._origin() + (f._createdAt ? `, created ${firstFrame(f._createdAt)}` : '');
  unretrieved.register(f, { loop: f._loop, error: f._error, what: f._kind(), origin, ref }, f);
}

function short(x: unknown): string {
  let s: string;
  try { s = x instanceof Error ? `${x.name}: ${x.message}` : typeof x === 'string' ? JSON.stringify(x) : String(x); }
  catch { s = Object.prototype.toString.call(x); }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

(Future.prototype as { _shared: boolean })._shared = false;
(Future.prototype as { _unwinds: boolean })._unwinds = false;
Object.assign(Future.prototype, { _cancelMsg: undefined, _cancelReason: undefined, _prom: null, _cbIndex: 0, _reportable: null, _createdAt: undefined });

/** Type guard usable across the layers. */
export function isFuture(x: unknown): x is Future<unknown> {
  return x instanceof Future;
}

export type { Task };
