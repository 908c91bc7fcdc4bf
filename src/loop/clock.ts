// Clocks: where the loop reads the time.
//
// The real clock is `performance.now()` in seconds (monotonic, sub-millisecond). The
// VirtualClock is a number that only moves when told: `advance(s)` moves it and wakes every
// loop using it, so timers that became due run at once; with `autoJump` a loop that has
// nothing ready jumps the clock straight to its next timer (after letting pending I/O and
// promise jobs run), so a one-hour sleep completes instantly and in a deterministic order.
// The idea is trio's MockClock(autojump_threshold=0) and asyncio's TestLoop.
//
// A loop on a virtual clock never arms a Node timer: time cannot pass by itself.

import { performance } from 'node:perf_hooks';

/** What the loop needs from a clock. */
export interface Clock {
  /** Seconds, monotonic. */
  now(): number;
  /** True for clocks that only move when told (no Node timer is armed). */
  readonly virtual: boolean;
  /** @internal */ readonly autoJump?: boolean;
  /** @internal */ _attach?(wake: () => void): () => void;
  /** @internal */ _jumpTo?(when: number): void;
}

/** The process's monotonic clock, in seconds. */
export const realClock: Clock = {
  now: () => performance.now() / 1000,
  virtual: false,
};

/** Project only (asyncio's test suites have TestLoop, trio has MockClock). A clock that
 *  moves only when advanced, or, with `autoJump`, to the next timer whenever the loop idles. */
export class VirtualClock implements Clock {
  readonly virtual = true;
  readonly autoJump: boolean;
  #now: number;
  #wakers = new Set<() => void>();

  constructor(options: { autoJump?: boolean; start?: number } = {}) {
    this.autoJump = options.autoJump ?? false;
    this.#now = options.start ?? 0;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `seconds` and lets every loop on this clock run what became due. */
  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`advance() needs seconds >= 0, got ${seconds}`);
    this.#now += seconds;
    for (const wake of this.#wakers) wake();
  }

  /** @internal */
  _attach(wake: () => void): () => void {
    this.#wakers.add(wake);
    return () => this.#wakers.delete(wake);
  }

  /** @internal Used by a loop in autoJump mode. */
  _jumpTo(when: number): void {
    if (when > this.#now) this.#now = when;
  }
}
