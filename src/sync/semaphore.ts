// Semaphore and BoundedSemaphore: asyncio's counters, FIFO and without barging.
//
// #value counts free units. release() with waiters hands the unit to the oldest waiter
// (the value does not change); an abandoned grant is released again (waiters.ts).

import type { Future } from '../tasks/future.js';
import { doneFuture, doneTrue, enqueue, grantFirst, held, type Held, WaiterQueue } from './waiters.js';

/** asyncio: `Semaphore`. */
export class Semaphore {
  protected _value: number;
  readonly #waiters = new WaiterQueue<any>(this);
  readonly #wantsHeld = new WeakSet<Future<unknown>>();

  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`Semaphore initial value must be an integer >= 0, got ${value}`);
    this._value = value;
  }

  /** asyncio: `Semaphore.locked`. True if acquire() would wait. */
  locked(): boolean {
    return this._value === 0 || this.#waiters.length > 0;
  }

  /** asyncio: `Semaphore.acquire`. */
  acquire(): Future<true> {
    if (this._value > 0 && this.#waiters.length === 0) {
      this._value--;
      return doneTrue();
    }
    return enqueue<true>(this.#waiters);
  }

  /** asyncio: `Semaphore.release`. */
  release(): void {
    const next = this.#waiters.peek();
    if (next === undefined) {
      this._value++;
      return;
    }
    grantFirst(this.#waiters, this.#wantsHeld.has(next) ? held(this.#release) : true, this.#release);
  }

  readonly #release = (): void => this.release();

  /** Project only (asyncio: `async with sem`). `using _held = yield* sem.hold()`. */
  hold(): Future<Held> {
    if (this._value > 0 && this.#waiters.length === 0) {
      this._value--;
      return doneFuture(held(this.#release));
    }
    const w = enqueue<Held>(this.#waiters);
    this.#wantsHeld.add(w);
    return w;
  }

  /** Free units (asyncio's `_value`). */
  get value(): number {
    return this._value;
  }

  toString(): string {
    return `<${this.constructor.name} [${this.locked() ? 'locked' : `unlocked, value:${this._value}`}] waiters=${this.#waiters.length}>`;
  }
}

/** asyncio: `BoundedSemaphore`. release() past the initial value throws. */
export class BoundedSemaphore extends Semaphore {
  readonly #bound: number;

  constructor(value = 1) {
    super(value);
    this.#bound = value;
  }

  override release(): void {
    if (this._value >= this.#bound) throw new RangeError(`BoundedSemaphore released too many times (bound ${this.#bound})`);
    super.release();
  }
}
