// Handles: what callSoon, callLater and callAt return.
//
// The ready queue holds `Runnable`s: a Handle, a Future whose done callbacks are due, or a
// Task whose next step is due. Futures and Tasks put themselves in the queue, so completing a
// future or waking a task allocates nothing; only user callbacks get a Handle.
//
// A cancelled Handle stays where it is and is skipped when reached (asyncio does the same);
// a cancelled TimerHandle also tells its loop, which counts dead heap entries so that it can
// compact the heap (see timer-heap.ts).

import type { EventLoop } from './event-loop.js';

/** @internal Anything the loop can run from its ready queue. */
export interface Runnable {
  _run(): void;
}

/** asyncio: `Handle`. A callback scheduled by `callSoon`. */
export class Handle implements Runnable {
  // Assigned in the constructor, not by class-field initializers (see Future): two shapes.
  /** @internal */ declare _callback: ((...args: any[]) => unknown) | null;
  /** @internal */ declare _args: unknown[];
  /** @internal */ declare _cancelled: boolean;
  /** @internal */ declare readonly _loop: EventLoop;

  /** @internal */
  constructor(callback: (...args: any[]) => unknown, args: unknown[], loop: EventLoop) {
    this._callback = callback;
    this._args = args;
    this._cancelled = false;
    (this as { _loop: EventLoop })._loop = loop;
  }

  /** asyncio: `Handle.cancel`. The callback will not run; does nothing if it already ran. */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    this._callback = null; // drop the closure and its captures at once
    this._args = EMPTY;
  }

  /** asyncio: `Handle.cancelled`. */
  cancelled(): boolean {
    return this._cancelled;
  }

  /** @internal */
  _run(): void {
    const cb = this._callback;
    if (cb === null) return;
    const args = this._args;
    switch (args.length) {
      case 0: cb(); break;
      case 1: cb(args[0]); break;
      case 2: cb(args[0], args[1]); break;
      default: cb(...args);
    }
  }

  /** The callback's name, for debug reports. */
  toString(): string {
    const cb = this._callback;
    return `<${this.constructor.name} ${cb === null ? 'cancelled' : cb.name || 'anonymous'}>`;
  }
}

const EMPTY: unknown[] = [];

/** asyncio: `TimerHandle`. A callback scheduled for a deadline on the loop's clock. */
export class TimerHandle extends Handle {
  /** @internal deadline in loop seconds */ declare readonly _when: number;
  /** @internal tie-breaker: scheduling order */ declare readonly _seq: number;
  /** @internal in its loop's timer heap (cancel() tells the loop, which counts dead entries) */ declare _inHeap: boolean;

  /** @internal */
  constructor(when: number, seq: number, callback: (...args: any[]) => unknown, args: unknown[], loop: EventLoop) {
    super(callback, args, loop);
    (this as { _when: number })._when = when;
    (this as { _seq: number })._seq = seq;
    this._inHeap = false;
  }

  /** asyncio: `TimerHandle.when`. The deadline, in loop seconds. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    super.cancel();
    if (this._inHeap) this._loop._timerCancelled();
  }
}
