// Condition: asyncio's condition variable over a Lock.
//
// wait() releases the lock at once (its synchronous part) and returns a Future that completes
// once the caller was notified *and* holds the lock again. The rest runs as a small task, so
// the lock is reacquired even when the wait is cancelled, and only then is CancelledError
// raised (asyncio's locks.py does the same in a `finally`). A waiter that was notified but
// cancelled before wait() returned (before it resumed, or while it reacquired the lock) passes
// its notification on to the next waiter, as Python 3.13 does; unlike 3.13, a waiter cancelled
// before any notify wakes nobody (3.13 wakes one spuriously, which the contract allows).

import type { Future } from '../tasks/future.js';
import { getEventLoop } from '../loop/running.js';
import { CancelledError, RuntimeError } from '../tasks/errors.js';
import type { Coroutine } from '../tasks/coroutine.js';
import { ownedTask } from '../tasks/task.js';
import { Lock } from './lock.js';
import { enqueue, WaiterQueue, type Held, type WaiterFuture } from './waiters.js';

/** asyncio: `Condition`. */
export class Condition {
  readonly #lock: Lock;
  readonly #waiters = new WaiterQueue<true>(this);

  constructor(lock?: Lock) {
    if (lock !== undefined && !(lock instanceof Lock)) throw new TypeError(`Condition needs a Lock (or none), got ${String(lock)}`);
    this.#lock = lock ?? new Lock();
  }

  /** asyncio: `Condition.acquire`. */
  acquire(): Future<true> {
    return this.#lock.acquire();
  }

  /** asyncio: `Condition.release`. */
  release(): void {
    this.#lock.release();
  }

  /** asyncio: `Condition.locked`. */
  locked(): boolean {
    return this.#lock.locked();
  }

  /** `using _held = yield* cond.hold()`. */
  hold(): Future<Held> {
    return this.#lock.hold();
  }

  /** asyncio: `Condition.wait`. Releases the lock, waits for a notify, reacquires; true. */
  wait(): Future<true> {
    if (!this.#lock.locked()) throw new RuntimeError('cannot wait on un-acquired lock');
    const w = enqueue<true>(this.#waiters);
    this.#lock.release();
    const task = ownedTask(getEventLoop().createTask(this.#waitThenReacquire(w), { name: 'Condition.wait' }));
    task._startFirst = true; // cancelled before its first step, it must still reacquire the lock
    return task;
  }

  *#waitThenReacquire(w: WaiterFuture<true>): Coroutine<true> {
    let cancelled: CancelledError | null = null;
    try {
      if (w.done() && !w.cancelled()) {
        // Notified before this task's first step, which was queued when wait() was called,
        // ahead of the wake-ups notify() queued for the waiters notified before it: let them
        // reacquire first, in notify order, as asyncio's waiters (one task each) do.
        yield;
      } else {
        yield* w;
      }
    } catch (error) {
      if (!(error instanceof CancelledError)) throw error;
      cancelled = error;
    }
    for (;;) {
      try {
        yield* this.#lock.acquire();
        break;
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
        cancelled = error; // keep reacquiring: wait() always returns holding the lock
      }
    }
    if (cancelled !== null) {
      // Notified, then cancelled before wait() returned (before it resumed, or while it
      // reacquired the lock): the caller never sees the notification, so it goes to the next
      // waiter (Python 3.13; 3.11 loses it). A waiter cancelled while parked had `w` cancelled.
      if (w.done() && !w.cancelled()) this.#notify(1);
      throw cancelled;
    }
    return true;
  }

  /** asyncio: `Condition.wait_for`. Waits until `predicate()` is true; returns its value. */
  waitFor<T>(predicate: () => T): Future<T> {
    return ownedTask(getEventLoop().createTask(this.#waitFor(predicate), { name: 'Condition.waitFor' }));
  }

  *#waitFor<T>(predicate: () => T): Coroutine<T> {
    let result = predicate();
    while (!result) {
      yield* this.wait();
      result = predicate();
    }
    return result;
  }

  /** asyncio: `Condition.notify`. Wakes up to `n` waiters; the lock must be held. */
  notify(n = 1): void {
    if (!this.#lock.locked()) throw new RuntimeError('cannot notify on un-acquired lock');
    this.#notify(n);
  }

  #notify(n: number): void {
    for (let i = 0; i < n; i++) {
      const w = this.#waiters.shift();
      if (w === undefined) return;
      w._list = null;
      w._finish(true);
    }
  }

  /** asyncio: `Condition.notify_all`. */
  notifyAll(): void {
    this.notify(this.#waiters.length);
  }

  toString(): string {
    return `<Condition [${this.locked() ? 'locked' : 'unlocked'}] waiters=${this.#waiters.length}>`;
  }
}
