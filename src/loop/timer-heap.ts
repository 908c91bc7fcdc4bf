// Timer heap.
//
// Every TimerHandle sits in one binary min-heap ordered by (when, seq). `seq` is a per-loop
// counter, so equal deadlines fire in the order they were scheduled. The keys live beside the
// handles in two Float64Arrays, so a sift compares numbers read from contiguous memory instead
// of loading each handle it passes: a server with thousands of sleeping connections keeps
// thousands of timers, and there the comparisons, each loading two handles' scattered fields,
// were the loop's hottest line (WARP with its pauses on, 2000 connections: 1.7% of the busy CPU
// samples); 100 000 pending timers now fire 1.4x as fast (bench/loop.ts, `timers`).
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

export class TimerHeap {
  #items: TimerHandle[] = [];
  /** #items[i]'s deadline and sequence number. */
  #when = new Float64Array(64);
  #seq = new Float64Array(64);
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
    if (i === this.#when.length) this.#grow();
    const when = this.#when, seq = this.#seq;
    const w = h._when, s = h._seq;
    items.push(h);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pw = when[parent]!;
      if (w > pw || (w === pw && s > seq[parent]!)) break;
      items[i] = items[parent]!;
      when[i] = pw;
      seq[i] = seq[parent]!;
      i = parent;
    }
    items[i] = h;
    when[i] = w;
    seq[i] = s;
    h._inHeap = true;
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
    for (const h of this.#items) h._inHeap = false;
    this.#items = [];
    this.#dead = 0;
  }

  #grow(): void {
    const when = new Float64Array(this.#when.length * 2);
    const seq = new Float64Array(when.length);
    when.set(this.#when);
    seq.set(this.#seq);
    this.#when = when;
    this.#seq = seq;
  }

  #popTop(): void {
    const items = this.#items;
    items[0]!._inHeap = false;
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) this.#siftDown(0, last, this.#when[n]!, this.#seq[n]!);
  }

  /** Places `h` (deadline w, sequence s) at hole `i` or below it. */
  #siftDown(i: number, h: TimerHandle, w: number, s: number): void {
    const items = this.#items, when = this.#when, seq = this.#seq;
    const n = items.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let cw = when[child]!;
      const right = child + 1;
      if (right < n) {
        const rw = when[right]!;
        if (rw < cw || (rw === cw && seq[right]! < seq[child]!)) {
          child = right;
          cw = rw;
        }
      }
      if (w < cw || (w === cw && s < seq[child]!)) break;
      items[i] = items[child]!;
      when[i] = cw;
      seq[i] = seq[child]!;
      i = child;
    }
    items[i] = h;
    when[i] = w;
    seq[i] = s;
  }

  #compact(): void {
    const kept: TimerHandle[] = [];
    for (const h of this.#items) {
      if (h._cancelled) h._inHeap = false;
      else kept.push(h);
    }
    this.#items = kept;
    this.#dead = 0;
    const when = this.#when, seq = this.#seq;
    for (let i = 0; i < kept.length; i++) {
      when[i] = kept[i]!._when;
      seq[i] = kept[i]!._seq;
    }
    for (let i = (kept.length >> 1) - 1; i >= 0; i--) this.#siftDown(i, kept[i]!, when[i]!, seq[i]!);
  }
}
