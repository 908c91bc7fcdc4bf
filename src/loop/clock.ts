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
//
// Deterministic replay (project only): with a `seed`, every loop on the clock permutes the task
// steps that are ready in the same batch — ties, which asyncio runs in FIFO order but which a
// real program's timing could order either way — with a small seeded PRNG (xorshift32). Plain
// callbacks and done-callbacks keep their FIFO order, so callSoon's guarantee still holds. The
// same seed gives the same interleaving, so a race found by trying seeds is replayed by that
// seed in a test. With `record`, `trace` lists what ran, in order (task names; callbacks as
// `<Handle name>`), to compare two runs or print the interleaving that failed.

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
  /** @internal set on seeded or recording virtual clocks */ readonly _interleave?: Interleaver | null;
}

/** @internal What a seeded or recording clock does to each batch. */
export interface Interleaver {
  /** Shuffles the task steps among `items[0..n)`, in place; other entries keep their places. */
  permute(items: unknown[], n: number, isTask: (x: unknown) => boolean): void;
  record(name: string): void;
  readonly recording: boolean;
  readonly seeded: boolean;
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
  /** The seed that orders ties, or null for asyncio's FIFO. */
  readonly seed: number | null;
  /** What ran, in order, when made with `record: true` (else empty). */
  readonly trace: string[] = [];
  /** @internal */ readonly _interleave: Interleaver | null;
  #now: number;
  #wakers = new Set<() => void>();
  #rng: number;

  constructor(options: { autoJump?: boolean; start?: number; seed?: number; record?: boolean } = {}) {
    this.autoJump = options.autoJump ?? false;
    this.#now = options.start ?? 0;
    const seed = options.seed;
    if (seed !== undefined && !Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${String(seed)}`);
    this.seed = seed ?? null;
    // xorshift32 must not start at 0; mix the seed so that nearby seeds diverge at once.
    this.#rng = (Math.imul((seed ?? 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0) || 1;
    const trace = this.trace;
    const recording = options.record ?? false;
    this._interleave = seed === undefined && !recording ? null : {
      seeded: seed !== undefined,
      recording,
      permute: (items, n, isTask) => this.#permute(items, n, isTask),
      record: (name) => { trace.push(name); },
    };
  }

  #next(): number {
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rng = x >>> 0;
    return this.#rng;
  }

  #permute(items: unknown[], n: number, isTask: (x: unknown) => boolean): void {
    const at: number[] = [];
    for (let i = 0; i < n; i++) if (isTask(items[i])) at.push(i);
    for (let k = at.length - 1; k > 0; k--) {
      const j = this.#next() % (k + 1);
      const a = at[k]!, b = at[j]!;
      const tmp = items[a];
      items[a] = items[b];
      items[b] = tmp;
    }
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
