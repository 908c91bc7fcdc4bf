// Barrier: asyncio's Barrier (3.11). `parties` tasks meet; each gets its arrival index.
//
// States as asyncio names them: filling -> draining -> filling ... | resetting | broken. The
// last arrival releases the others at once (their futures complete), so "draining" lasts no
// time here and the next cycle can start right away. A waiter cancelled while filling leaves
// (the count goes down). reset() breaks the current waiters with BrokenBarrierError and empties
// the barrier; abort() breaks it until reset().

import type { Future } from '../tasks/future.js';
import { BrokenBarrierError } from './errors.js';
import { doneFuture, enqueue, failedFuture, type WaiterFuture } from './waiters.js';

type BarrierState = 'filling' | 'broken';

/** asyncio: `Barrier`. */
export class Barrier {
  readonly #parties: number;
  #state: BarrierState = 'filling';
  #waiters: WaiterFuture<number>[] = [];

  constructor(parties: number) {
    if (!Number.isInteger(parties) || parties < 1) throw new RangeError(`parties must be an integer >= 1, got ${parties}`);
    this.#parties = parties;
  }

  /** asyncio: `Barrier.wait`. A Future of this arrival's index (0 .. parties-1). */
  wait(): Future<number> {
    if (this.#state === 'broken') return failedFuture(new BrokenBarrierError());
    const index = this.#waiters.length;
    if (index + 1 === this.#parties) {
      const waiters = this.#waiters;
      this.#waiters = [];
      waiters.forEach((w, i) => {
        w._list = null;
        w._finish(i);
      });
      return doneFuture(index);
    }
    return enqueue<number>(this.#waiters);
  }

  /** asyncio: `Barrier.reset`. Waiters get BrokenBarrierError; the barrier is empty again. */
  reset(): Future<void> {
    this.#breakWaiters();
    this.#state = 'filling';
    return doneFuture(undefined);
  }

  /** asyncio: `Barrier.abort`. Breaks the barrier until reset(). */
  abort(): Future<void> {
    this.#breakWaiters();
    this.#state = 'broken';
    return doneFuture(undefined);
  }

  #breakWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w._list = null;
      w._fail(new BrokenBarrierError());
    }
  }

  /** asyncio: `Barrier.parties`. */
  get parties(): number {
    return this.#parties;
  }

  /** asyncio: `Barrier.n_waiting`. */
  get nWaiting(): number {
    return this.#waiters.length;
  }

  /** asyncio: `Barrier.broken`. */
  get broken(): boolean {
    return this.#state === 'broken';
  }

  toString(): string {
    return `<Barrier [${this.#state}] waiters=${this.#waiters.length}/${this.#parties}>`;
  }
}
