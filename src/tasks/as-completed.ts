// asCompleted: results in the order the awaitables finish.
//
// As in Python 3.13: plain iteration yields one Future per input (`for (const f of
// asCompleted(fs)) { yield* f; }`), and `for await` yields the original futures as they
// finish. Each yielded Future takes the next outcome when something first waits on it (a task's
// `yield*`, an `await`, a done callback, gather()), not when it is handed out, as asyncio's
// `_wait_for_one()` coroutines take the next from its queue when awaited: futures awaited out
// of order still see completion order, one never awaited takes nothing, and one whose waiter
// is cancelled before its outcome came leaves the outcome to the next. A waiter cancelled after
// its outcome came but before it resumed gives the outcome back (as a lock's grant is given
// back). With a timeout, every wait not yet served when it passes raises TimeoutError, later
// ones get what finished before it and then TimeoutError; the inputs keep running.

import type { EventLoop } from '../loop/event-loop.js';
import type { TimerHandle } from '../loop/handle.js';
import { getEventLoop } from '../loop/running.js';
import { Future, type Waiter } from './future.js';
import { ensureFuture } from './create-task.js';
import type { Awaitable } from './coroutine.js';
import { TimeoutError, type CancelReason } from './errors.js';
import { copyOutcome } from './chain.js';
import { optionsOf } from './options.js';

/** asyncio: `as_completed`. */
export function asCompleted<T>(aws: Iterable<Awaitable<T>>, options: { timeout?: number | null } = {}): AsCompleted<T> {
  return new AsCompleted(aws, optionsOf('asCompleted', options, '{ timeout }').timeout ?? null);
}

/** One handed-out Future: claims the next outcome when first waited on. `_boxed` slots (the
 *  async iterator's) finish with `{ fut }`, the finished input itself, others with its outcome. */
class Slot<T> extends Future<T> {
  // Assigned in the constructor, not by field initializers (see Future).
  /** @internal */ declare readonly _owner: AsCompleted<any>;
  /** @internal */ declare readonly _boxed: boolean;
  /** @internal */ declare _claimed: boolean;
  /** @internal the input whose outcome this slot took */ declare _input: Future<any> | null;

  constructor(loop: EventLoop, owner: AsCompleted<any>, boxed: boolean) {
    super(loop);
    (this as { _owner: AsCompleted<any> })._owner = owner;
    (this as { _boxed: boolean })._boxed = boxed;
    this._claimed = false;
    this._input = null;
  }

  override _addWaiter(waiter: Waiter): void {
    this._owner._claim(this);
    super._addWaiter(waiter);
  }

  override addDoneCallback(cb: (fut: Future<T>) => void): void {
    this._owner._claim(this);
    super.addDoneCallback(cb);
  }

  override then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this._owner._claim(this);
    return super.then(onFulfilled, onRejected);
  }

  override _promise(): Promise<T> {
    this._owner._claim(this);
    return super._promise();
  }

  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (!super.cancel(msg, reason)) return false;
    this._owner._drop(this);
    return true;
  }
}

export class AsCompleted<T> implements Iterable<Future<T>>, AsyncIterable<Future<T>> {
  readonly #loop: EventLoop;
  /** Inputs that finished and that no slot has taken yet, in completion order. */
  #finished: Future<T>[] = [];
  /** Claimed slots waiting for an input to finish, in claim order. */
  #waiters: Slot<any>[] = [];
  #total: number;
  #handedOut = 0;
  #timedOut = false;
  #timer: TimerHandle | null = null;
  #message = '';

  /** @internal */
  constructor(aws: Iterable<Awaitable<T>>, timeout: number | null) {
    const loop = (this.#loop = getEventLoop());
    const todo = new Set<Future<T>>();
    for (const aw of aws) todo.add(ensureFuture(aw, loop));
    this.#total = todo.size;
    const onDone = (f: Future<T>): void => {
      todo.delete(f);
      this.#offer(f, false);
      if (todo.size === 0) this.#timer?.cancel();
    };
    for (const f of todo) f.addDoneCallback(onDone);
    if (timeout !== null && todo.size > 0) {
      this.#message = `asCompleted timed out after ${timeout} s`;
      this.#timer = loop.callLater(timeout, () => {
        this.#timedOut = true;
        for (const f of todo) f.removeDoneCallback(onDone);
        for (const w of this.#waiters.splice(0)) w._fail(new TimeoutError(this.#message));
      });
    }
  }

  /** A finished input goes to the oldest waiting slot, else joins the finished (at the front
   *  when a slot gave it back). */
  #offer(f: Future<T>, givenBack: boolean): void {
    const w = this.#waiters.shift();
    if (w !== undefined) deliver(w, f);
    else if (givenBack) this.#finished.unshift(f);
    else this.#finished.push(f);
  }

  /** @internal Something waits on `slot`: the first time, it takes the next finished input, or
   *  waits for one. An outcome already there is delivered one loop turn later, never inside the
   *  caller that is registering its wait. */
  _claim(slot: Slot<any>): void {
    if (slot._claimed) return;
    slot._claimed = true;
    if (slot.done()) return;
    const f = this.#finished.shift();
    if (f !== undefined) this.#loop.callSoon(deliverLater, this, slot, f);
    else if (this.#timedOut) this.#loop.callSoon(failLater, slot, this.#message);
    else this.#waiters.push(slot);
  }

  /** @internal A slot was cancelled: it no longer waits. */
  _drop(slot: Slot<any>): void {
    const i = this.#waiters.indexOf(slot);
    if (i >= 0) this.#waiters.splice(i, 1);
  }

  /** @internal A slot's outcome was not taken (cancelled before delivery or before its task resumed). */
  _giveBack(f: Future<T>): void {
    this.#offer(f, true);
  }

  *[Symbol.iterator](): Iterator<Future<T>> {
    while (this.#handedOut < this.#total) {
      this.#handedOut++;
      yield new Slot<T>(this.#loop, this, false);
    }
  }

  // Not an async generator: it would await the yielded Future and hand out its result.
  [Symbol.asyncIterator](): AsyncIterator<Future<T>> {
    return {
      next: async (): Promise<IteratorResult<Future<T>>> => {
        if (this.#handedOut >= this.#total) return { value: undefined, done: true };
        this.#handedOut++;
        // Boxed: a Future inside a promise would be unwrapped.
        return { value: (await new Slot<{ fut: Future<T> }>(this.#loop, this, true)).fut, done: false };
      },
    };
  }
}

function deliver(slot: Slot<any>, f: Future<any>): void {
  slot._input = f;
  slot._onAbandon = abandon;
  if (slot._boxed) slot._finish({ fut: f });
  else copyOutcome(f, slot);
}

function deliverLater(owner: AsCompleted<any>, slot: Slot<any>, f: Future<any>): void {
  if (slot.done()) owner._giveBack(f); // cancelled in the meantime
  else deliver(slot, f);
}

function failLater(slot: Slot<any>, message: string): void {
  if (!slot.done()) slot._fail(new TimeoutError(message));
}

/** The task waiting on `slot` was cancelled before it resumed: the outcome goes to the next. */
function abandon(slot: Future<any>): void {
  const s = slot as Slot<any>;
  if (!s._boxed && !s.cancelled()) s.exception(); // retrieved: the input itself carries it on
  s._owner._giveBack(s._input!);
}
