// Queue, PriorityQueue, LifoQueue: asyncio's queues, FIFO for waiters and without barging.
//
// Storage is three hooks (#init/_put/_get/_size as asyncio's _init/_put/_get), so the
// variants differ only there. A get() on an empty queue parks a getter; putNowait() hands the
// item straight to the oldest getter. A put() on a full queue parks a putter carrying its item;
// getNowait() moves the oldest putter's item into the queue as it frees a slot. Cancellation:
// a pending putter or getter just leaves its list, so a cancelled put never inserts its item.
// A grant whose task is cancelled before it resumes is given back: a getter's item returns to
// the front of the queue (or to the next getter), a putter's item is taken back out if nobody
// has taken it yet. shutdown(immediate) follows Python 3.13.

import type { Future } from '../tasks/future.js';
import { QueueEmpty, QueueFull, QueueShutDown } from './errors.js';
import { doneFuture, doneTrue, enqueue, failedFuture, grantFirst, WaiterQueue, type WaiterFuture } from './waiters.js';
import { Event } from './event.js';

/** asyncio: `Queue`. `maxsize <= 0` means unbounded. */
export class Queue<T> {
  readonly maxsize: number;
  readonly #getters = new WaiterQueue<T>(this);
  readonly #putters = new WaiterQueue<true>(this);
  /** Futures completed when an item next lands in storage (gevent's peek() waits on these). */
  readonly #peekers = new WaiterQueue<true>(this);
  #unfinished = 0;
  readonly #finished = new Event();
  #shutdown = false;

  constructor(maxsize = 0) {
    if (typeof maxsize !== 'number' || Number.isNaN(maxsize)) throw new TypeError(`maxsize must be a number, got ${String(maxsize)}`);
    this.maxsize = maxsize;
    this.#finished.set();
  }

  // storage hooks (asyncio's _put/_get/qsize)
  protected _put(item: T): void { this.#items.push(item); }
  protected _get(): T { return this.#items.shift() as T; }
  protected _unget(item: T): void { this.#items.unshift(item); }
  protected _remove(item: T): boolean {
    const i = this.#items.lastIndexOf(item);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }
  protected _size(): number { return this.#items.length; }
  #items: T[] = [];

  /** asyncio: `Queue.qsize`. */
  qsize(): number {
    return this._size();
  }

  /** @internal Items put and not yet taskDone() (asyncio's `_unfinished_tasks`). */
  _unfinishedTasks(): number {
    return this.#unfinished;
  }

  /** asyncio: `Queue.empty`. */
  empty(): boolean {
    return this._size() === 0;
  }

  /** asyncio: `Queue.full`. */
  full(): boolean {
    return this.maxsize > 0 && this._size() >= this.maxsize;
  }

  /** asyncio: `Queue.put_nowait`. Throws QueueFull, or QueueShutDown after shutdown(). */
  putNowait(item: T): void {
    if (this.#shutdown) throw new QueueShutDown();
    if (this.#getters.length > 0) {
      this.#taskAdded();
      grantFirst(this.#getters, item, this.#giveBackGrant);
      return;
    }
    if (this.full()) throw new QueueFull();
    this._put(item);
    this.#taskAdded();
    this.#stored();
  }

  /** asyncio: `Queue.put`. Waits while the queue is full. */
  put(item: T): Future<true> {
    if (this.#shutdown) return failedFuture(new QueueShutDown());
    if (this.#putters.length === 0 && !this.full()) {
      this.putNowait(item);
      return doneTrue();
    }
    const w = enqueue<true>(this.#putters);
    w._carry = item;
    return w;
  }

  /** asyncio: `Queue.get_nowait`. Throws QueueEmpty, or QueueShutDown once shut down and empty. */
  getNowait(): T {
    if (this._size() === 0) throw this.#shutdown ? new QueueShutDown() : new QueueEmpty();
    const item = this._get();
    this.#admitPutter();
    return item;
  }

  /** asyncio: `Queue.get`. Waits while the queue is empty. */
  get(): Future<T> {
    if (this._size() > 0) return doneFuture(this.getNowait());
    if (this.#shutdown) return failedFuture(new QueueShutDown());
    return enqueue<T>(this.#getters);
  }

  /** asyncio: `Queue.task_done`. Throws if called more times than items were put. */
  taskDone(): void {
    if (this.#unfinished <= 0) throw new RangeError('taskDone() called too many times');
    this.#unfinished--;
    if (this.#unfinished === 0) this.#finished.set();
  }

  /** asyncio: `Queue.join`. Waits until every item put has had its taskDone(). */
  join(): Future<true> {
    return this.#finished.wait();
  }

  /** asyncio: `Queue.shutdown` (3.13). Puts fail from now on; waiting putters and getters get
   *  QueueShutDown. With `immediate`, queued items are dropped (and counted done) too. */
  shutdown(immediate = false): void {
    this.#shutdown = true;
    if (immediate) {
      while (this._size() > 0) {
        this._get();
        if (this.#unfinished > 0) this.#unfinished--;
      }
      if (this.#unfinished === 0) this.#finished.set();
    }
    for (const list of [this.#getters, this.#putters] as WaiterQueue<unknown>[]) {
      for (const w of list.drain()) {
        w._list = null;
        w._fail(new QueueShutDown());
      }
    }
  }

  /** @internal A Future completed the next time an item lands in storage (done at once if one
   *  is there). Items handed straight to a waiting getter never land, as in gevent. */
  _nonEmpty(): Future<true> {
    return this._size() > 0 ? doneTrue() : enqueue<true>(this.#peekers);
  }

  #stored(): void {
    if (this.#peekers.length === 0) return;
    for (const w of this.#peekers.drain()) {
      w._list = null;
      w._finish(true);
    }
  }

  #taskAdded(): void {
    this.#unfinished++;
    this.#finished.clear();
  }

  /** A slot freed: the oldest putter's item goes in. */
  #admitPutter(): void {
    const putter = this.#putters.peek();
    if (putter === undefined || this.full()) return;
    this._put(putter._carry as T);
    this.#taskAdded();
    this.#stored();
    grantFirst(this.#putters, true, this.#takeBackGrant);
  }

  // One hook per queue, not a closure per grant: the item is the getter's result / the putter's _carry.
  readonly #giveBackGrant = (fut: Future<any>): void => this.#giveBack(fut.result() as T);
  readonly #takeBackGrant = (fut: Future<any>): void => this.#takeBack((fut as WaiterFuture<true>)._carry as T);

  /** A getter was granted `item` but cancelled before it resumed. */
  #giveBack(item: T): void {
    this.#unfinished--; // putNowait will count it again
    if (this.#getters.length > 0) {
      this.#taskAdded();
      grantFirst(this.#getters, item, this.#giveBackGrant);
    } else {
      this._unget(item);
      this.#taskAdded();
      this.#stored();
    }
  }

  /** A putter was admitted but cancelled before it resumed: its put did not happen. */
  #takeBack(item: T): void {
    if (this._remove(item)) {
      this.#unfinished--;
      if (this.#unfinished === 0) this.#finished.set();
      this.#admitPutter();
    }
  }

  toString(): string {
    return `<${this.constructor.name} maxsize=${this.maxsize} qsize=${this._size()} getters=${this.#getters.length} putters=${this.#putters.length}${this.#shutdown ? ' shutdown' : ''}>`;
  }
}

/** Orders like Python's tuples: numbers and strings by value, arrays element by element. */
export function defaultCompare(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = defaultCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  return (a as any) < (b as any) ? -1 : (a as any) > (b as any) ? 1 : 0;
}

/** asyncio: `PriorityQueue`. Smallest first (`compare`, default: tuple-like order). */
export class PriorityQueue<T> extends Queue<T> {
  #heap: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  constructor(maxsize = 0, compare: (a: T, b: T) => number = defaultCompare) {
    super(maxsize);
    this.#compare = compare;
  }

  protected override _put(item: T): void {
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#compare(h[i]!, h[p]!) >= 0) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  protected override _get(): T {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#compare(h[l]!, h[m]!) < 0) m = l;
        if (r < h.length && this.#compare(h[r]!, h[m]!) < 0) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  protected override _unget(item: T): void { this._put(item); }
  protected override _remove(item: T): boolean {
    const i = this.#heap.lastIndexOf(item);
    if (i < 0) return false;
    const rest = this.#heap.filter((_, j) => j !== i);
    this.#heap = [];
    for (const x of rest) this._put(x);
    return true;
  }
  protected override _size(): number { return this.#heap.length; }
}

/** asyncio: `LifoQueue`. Last in, first out. */
export class LifoQueue<T> extends Queue<T> {
  #stack: T[] = [];
  protected override _put(item: T): void { this.#stack.push(item); }
  protected override _get(): T { return this.#stack.pop() as T; }
  protected override _unget(item: T): void { this.#stack.push(item); }
  protected override _remove(item: T): boolean {
    const i = this.#stack.lastIndexOf(item);
    if (i < 0) return false;
    this.#stack.splice(i, 1);
    return true;
  }
  protected override _size(): number { return this.#stack.length; }
}
