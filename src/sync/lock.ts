// Lock: asyncio's mutex, FIFO and without barging.
//
// Invariant: #locked is true while someone holds the lock *or* it has been handed to a waiter
// whose task has not resumed yet; #waiters holds only pending futures. release() with waiters
// hands the lock over (it stays locked); if the woken task is cancelled before it resumes, the
// grant's abandon hook releases again, to the next waiter (see waiters.ts).

import type { Future } from '../tasks/future.js';
import { RuntimeError } from '../tasks/errors.js';
import type { Task } from '../tasks/task.js';
import { currentTask } from '../tasks/create-task.js';
import { doneFuture, doneTrue, enqueue, grantFirst, held, type Held, WaiterQueue } from './waiters.js';

/** asyncio: `Lock`. */
export class Lock {
  #locked = false;
  readonly #waiters = new WaiterQueue<any>(this);
  /** @internal the task holding it, when known (diagnostics: wait-for cycles). */
  _holder: Task<unknown> | null = null;
  /** Per-waiter value: true for acquire(), a Held for hold(). */
  readonly #wantsHeld = new WeakSet<Future<unknown>>();

  /** asyncio: `Lock.acquire`. A Future of true once the lock is this caller's. */
  acquire(): Future<true> {
    if (!this.#locked) {
      this.#locked = true;
      this._holder = currentTask();
      return doneTrue();
    }
    const w = enqueue<true>(this.#waiters);
    w._carry = currentTask();
    return w;
  }

  /** asyncio: `Lock.release`. Throws RuntimeError if the lock is not held. */
  release(): void {
    if (!this.#locked) throw new RuntimeError('Lock is not acquired');
    const next = this.#waiters.peek();
    if (next === undefined) {
      this.#locked = false;
      this._holder = null;
      return;
    }
    this._holder = next._carry as Task<unknown> | null;
    grantFirst(this.#waiters, this.#wantsHeld.has(next) ? held(this.#release) : true, this.#release);
  }

  readonly #release = (): void => this.release();

  /** asyncio: `Lock.locked`. */
  locked(): boolean {
    return this.#locked;
  }

  /** Project only (asyncio: `async with lock`). A Future of a disposable that releases:
   *  `using _held = yield* lock.hold()`. */
  hold(): Future<Held> {
    if (!this.#locked) {
      this.#locked = true;
      this._holder = currentTask();
      return doneFuture(held(this.#release));
    }
    const w = enqueue<Held>(this.#waiters);
    w._carry = currentTask();
    this.#wantsHeld.add(w);
    return w;
  }

  /** @internal diagnostics */
  _waiting(): number {
    return this.#waiters.length;
  }

  toString(): string {
    const by = this._holder === null ? '' : ` by ${this._holder.getName()}`;
    return `<Lock [${this.#locked ? `locked${by}` : 'unlocked'}] waiters=${this.#waiters.length}>`;
  }
}
