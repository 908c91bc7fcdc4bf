// Timer heap.
//
// Every TimerHandle sits in one binary min-heap ordered by (when, seq). `seq` is a per-loop
// counter, so equal deadlines fire in the order they were scheduled.
//
// cancel() only marks a handle, because removing from the middle of a heap needs its index
// kept current on every swap, and most timers (timeouts that did not fire) are cancelled. Marked
// handles are dropped when they reach the top, and the heap is rebuilt when it holds over 100
// entries and more than half are dead; so a server that arms and cancels a timeout per request
// keeps at most about twice its live timers (CPython's base_events.py prunes the same way).
//
// Only the earliest deadline is mirrored into a Node timer: see EventLoop#armNodeTimer.

import type { TimerHandle } from './handle.js';

const COMPACT_MIN = 100;

function less(a: TimerHandle, b: TimerHandle): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}

export class TimerHeap {
  #items: TimerHandle[] = [];
  /** Cancelled handles still in #items. */
  #dead = 0;

  get size(): number {
    return this.#items.length;
  }

  /** Live timers (not cancelled). */
  get live(): number {
    return this.#items.length - this.#dead;
  }

  push(h: TimerHandle): void {
    const items = this.#items;
    let i = items.length;
    items.push(h);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!less(h, p)) break;
      items[i] = p;
      p._index = i;
      i = parent;
    }
    items[i] = h;
    h._index = i;
  }

  /** The earliest live timer, after dropping dead ones from the top. */
  peek(): TimerHandle | undefined {
    const items = this.#items;
    while (items.length > 0 && items[0]!._cancelled) {
      this.#popTop();
      this.#dead--;
    }
    return items[0];
  }

  /** Removes and returns the earliest live timer. */
  pop(): TimerHandle | undefined {
    const top = this.peek();
    if (top !== undefined) this.#popTop();
    return top;
  }

  /** A handle in the heap was cancelled. */
  markDead(): void {
    this.#dead++;
    if (this.#items.length > COMPACT_MIN && this.#dead * 2 > this.#items.length) this.#compact();
  }

  clear(): void {
    for (const h of this.#items) h._index = -1;
    this.#items = [];
    this.#dead = 0;
  }

  #popTop(): void {
    const items = this.#items;
    const top = items[0]!;
    top._index = -1;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.#siftDown(0);
    }
  }

  #siftDown(i: number): void {
    const items = this.#items;
    const n = items.length;
    const h = items[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && less(items[child + 1]!, items[child]!)) child++;
      const c = items[child]!;
      if (!less(c, h)) break;
      items[i] = c;
      c._index = i;
      i = child;
    }
    items[i] = h;
    h._index = i;
  }

  #compact(): void {
    const kept: TimerHandle[] = [];
    for (const h of this.#items) {
      if (h._cancelled) h._index = -1;
      else kept.push(h);
    }
    this.#items = kept;
    this.#dead = 0;
    for (let i = kept.length >> 1; i >= 0; i--) if (i < kept.length) this.#siftDown(i);
  }
}
