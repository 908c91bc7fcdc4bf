// Waiter queues shared by every primitive.
//
// A waiter is a Future in a FIFO list. Cancelling a waiting (pending) future removes it from
// its list at once, so no dead waiter, timer or closure is left behind. Primitives *hand off*:
// release()/put() grant the resource to the oldest waiter directly (its future completes with
// it) instead of freeing it for whoever asks first, so a task that calls acquire() right after
// a release() cannot jump the queue (asyncio reaches the same rule by checking for waiters in
// acquire()). A granted waiter carries `_onAbandon`, which gives the grant back when the task
// it woke is cancelled before it resumes (Task#_wake), so a grant is never lost.
//
// Also here: Symbol.dispose for `using` on runtimes that lack it, and the Held disposable.

import type { EventLoop } from '../loop/event-loop.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from '../tasks/future.js';
import type { Task } from '../tasks/task.js';
import type { CancelReason } from '../tasks/errors.js';

// Node 20 before 20.4 has no Symbol.dispose; TypeScript's `using` helper looks it up at run time.
(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('Symbol.dispose');

/** FIFO of pending waiters: a ring buffer (a plain array's shift() is O(n), and a pool with
 *  20,000 queued spawns made that quadratic; resetting an array when it empties allocated once
 *  per grant). A cancelled waiter is dropped lazily (shift and peek skip it), and the ring is
 *  rebuilt once dead entries outnumber live ones, so cancelled waiters are not retained. */
export class WaiterQueue<T = unknown> {
  /** What waiters wait on, for the task tree. */
  readonly owner: object | null;
  constructor(owner: object | null = null) {
    this.owner = owner;
  }

  #ring: Array<WaiterFuture<T> | undefined> = new Array(4).fill(undefined);
  #mask = 3;
  #head = 0;
  #tail = 0;
  #live = 0;

  /** Pending waiters. */
  get length(): number {
    return this.#live;
  }

  push(w: WaiterFuture<T>): void {
    if (this.#tail - this.#head > this.#mask) this.#rebuild(false);
    this.#ring[this.#tail & this.#mask] = w;
    this.#tail++;
    this.#live++;
  }

  /** The oldest pending waiter, left in place. */
  peek(): WaiterFuture<T> | undefined {
    while (this.#head < this.#tail) {
      const w = this.#ring[this.#head & this.#mask];
      if (w !== undefined && !w.done()) return w;
      this.#ring[this.#head & this.#mask] = undefined;
      this.#head++;
    }
    return undefined;
  }

  /** Removes and returns the oldest pending waiter. */
  shift(): WaiterFuture<T> | undefined {
    const w = this.peek();
    if (w === undefined) return undefined;
    this.#ring[this.#head & this.#mask] = undefined;
    this.#head++;
    this.#live--;
    return w;
  }

  /** A waiter in the queue was cancelled. */
  remove(_w: WaiterFuture<T>): void {
    this.#live--;
    const dead = this.#tail - this.#head - this.#live;
    if (dead > 64 && dead > this.#live) this.#rebuild(true);
  }

  /** Removes and returns every pending waiter. */
  drain(): WaiterFuture<T>[] {
    const live: WaiterFuture<T>[] = [];
    for (let w = this.shift(); w !== undefined; w = this.shift()) live.push(w);
    return live;
  }

  /** Copies the live waiters into a ring of the right size (growing when full). */
  #rebuild(dropDead: boolean): void {
    const kept: WaiterFuture<T>[] = [];
    for (let i = this.#head; i < this.#tail; i++) {
      const w = this.#ring[i & this.#mask];
      if (w !== undefined && (!dropDead || !w.done())) kept.push(w);
    }
    let size = 4;
    while (size < kept.length * 2) size *= 2;
    this.#ring = new Array(size).fill(undefined);
    this.#mask = size - 1;
    for (let i = 0; i < kept.length; i++) this.#ring[i] = kept[i];
    this.#head = 0;
    this.#tail = kept.length;
  }
}

/** A plain waiter array may name its owner for diagnostics (Event's does). */
type WaiterList = WaiterQueue<any> | (WaiterFuture<any>[] & { owner?: object });

export class WaiterFuture<T> extends Future<T> {
  /** @internal the list this waiter sits in while pending */ declare _list: WaiterList | null;
  /** @internal what the waiter carries: a putter's item (Queue), the task that asked (Lock:
   *  its next holder, for diagnostics). One field for both keeps every waiter small. */
  declare _carry: unknown;

  constructor(loop?: EventLoop) {
    super(loop); // assigned here, not by field initializers (see Future)
    this._list = null;
    this._carry = undefined;
  }

  override _describeWait(): string {
    const list = this._list;
    const owner = list === null ? null : list.owner ?? null;
    return owner === null ? 'a waiter list' : String(owner);
  }

  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (!super.cancel(msg, reason)) return false;
    const list = this._list;
    if (list !== null) {
      this._list = null;
      if (list instanceof WaiterQueue) list.remove(this);
      else {
        const i = list.indexOf(this);
        if (i >= 0) list.splice(i, 1);
      }
    }
    return true;
  }
}

/** A new waiter at the end of `list`. */
export function enqueue<T>(list: WaiterList, loop: EventLoop = getEventLoop()): WaiterFuture<T> {
  const w = new WaiterFuture<T>(loop);
  w._list = list;
  list.push(w);
  return w;
}

/** Completes the oldest waiter with `value`; `abandon(waiter)` runs if its task is cancelled
 *  before it resumes. Returns false when nobody waits. */
export function grantFirst<T>(list: WaiterQueue<T>, value: T, abandon: ((fut: Future<any>) => void) | null): boolean {
  const w = list.shift();
  if (w === undefined) return false;
  w._list = null;
  w._onAbandon = abandon;
  w._finish(value);
  return true;
}

/** The loop's shared done Future of `true` (a done Future never changes, so one serves all). */
export function doneTrue(): Future<true> {
  const loop = getEventLoop();
  let f = loop._doneTrue;
  if (f === null) {
    f = new Future<true>(loop);
    f._finish(true);
    loop._doneTrue = f;
  }
  return f;
}

/** A done future (the synchronous fast path of a waiting method). */
export function doneFuture<T>(value: T): Future<T> {
  const f = new Future<T>(getEventLoop());
  f._finish(value);
  return f;
}

/** A failed future. */
export function failedFuture<T>(error: unknown): Future<T> {
  const f = new Future<T>(getEventLoop());
  f._fail(error);
  return f;
}

/** What `hold()` resolves to: `using _ = yield* lock.hold()` releases at the end of the block. */
export interface Held extends Disposable {
  release(): void;
}

export function held(release: () => void): Held {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    release();
  };
  return { release: once, [Symbol.dispose]: once };
}
