// gevent's locks: Semaphore, BoundedSemaphore, Lock, RLock, with acquire(blocking, timeout).
//
// Semaphore wraps src/sync's Semaphore (FIFO hand-off, cancellation-safe), so a Tulip task and
// a greenlet contend fairly for the same unit. acquire() resolves to true, or false when
// `blocking` is false or the timeout passes (the pending acquire is then withdrawn, so no unit
// is lost). RLock counts re-entries by its owner: the current greenlet, or the current task
// outside greenlets.

import type { Future } from '../tasks/future.js';
import { currentTask } from '../tasks/create-task.js';
import { RuntimeError } from '../tasks/errors.js';
import { checkSeconds } from '../tasks/options.js';
import { Semaphore as SyncSemaphore, BoundedSemaphore as SyncBoundedSemaphore } from '../sync/semaphore.js';
import { BridgeFuture, MirrorFuture, getcurrent, hubLoop } from './hub.js';

/** gevent: `gevent.lock.Semaphore(value=1)`. */

type AcquireArg = boolean | { blocking?: boolean; timeout?: number | null };

/** acquire()'s arguments, positional or as gevent's keywords in an object. */
function acquireArgs(blocking: AcquireArg, timeout: number | null | { timeout?: number | null }): [boolean, number | null] {
  if (typeof blocking === 'object' && blocking !== null) return [blocking.blocking ?? true, checked(blocking.timeout ?? null)];
  if (typeof blocking !== 'boolean') throw new TypeError(`acquire() takes blocking as a boolean, or { blocking, timeout }; got ${String(blocking)}`);
  if (typeof timeout === 'object' && timeout !== null) return [blocking, checked(timeout.timeout ?? null)];
  return [blocking, checked(timeout)];
}

function checked(timeout: number | null): number | null {
  if (timeout !== null) checkSeconds('timeout', timeout, true);
  return timeout;
}
export class Semaphore {
  protected readonly _sem: SyncSemaphore;

  constructor(value = 1, inner?: SyncSemaphore) {
    this._sem = inner ?? new SyncSemaphore(value);
  }

  /** Free units (gevent's `counter`). */
  get counter(): number {
    return this._sem.value;
  }

  /** gevent: `Semaphore.locked()`. */
  locked(): boolean {
    return this._sem.locked();
  }

  /** gevent: `Semaphore.acquire(blocking=True, timeout=None)` → true, or false if not acquired.
   *  Also `acquire({ blocking, timeout })` and `acquire(true, { timeout })`: gevent programs pass
   *  the timeout as a keyword, and a bare object would otherwise mean "block without limit". */
  acquire(blocking: AcquireArg = true, timeout: number | null | { timeout?: number | null } = null): Future<boolean> {
    [blocking, timeout] = acquireArgs(blocking, timeout);
    const loop = hubLoop();
    const out = new BridgeFuture<boolean>(loop);
    if (!blocking) {
      const ok = !this._sem.locked();
      if (ok) this._sem.acquire();
      out._finish(ok);
      return out;
    }
    const inner = this._sem.acquire();
    if (inner.done()) { out._finish(true); return out; }
    out._what = inner;
    const timer = timeout === null ? null : loop.callLater(timeout, () => { if (inner.cancel()) out._finish(false); });
    inner.addDoneCallback(() => {
      timer?.cancel();
      if (out.done()) { if (!inner.cancelled()) this.release(); return; } // cancelled caller: give the unit back
      if (inner.cancelled()) return;
      out._onAbandon = this.#giveBack; // granted, but the waiting task was cancelled first
      out._finish(true);
    });
    out.addDoneCallback(() => { if (out.cancelled()) inner.cancel(); });
    return out;
  }

  /** gevent: `Semaphore.release()`. */
  release(): void {
    this._sem.release();
  }

  readonly #giveBack = (): void => this.release();

  /** gevent: `Semaphore.wait(timeout=None)`: waits until a unit is free, without taking it. */
  wait(timeout: number | null = null): Future<number> {
    const out = new BridgeFuture<number>(hubLoop());
    this.acquire(true, timeout).addDoneCallback((f) => {
      if (f.result()) this.release();
      out._finish(this.counter);
    });
    return out;
  }
}

/** gevent: `gevent.lock.BoundedSemaphore`: release() past the initial value raises. */
export class BoundedSemaphore extends Semaphore {
  constructor(value = 1) {
    super(value, new SyncBoundedSemaphore(value)); // the bound check lives in src/sync
  }
}

/** gevent: `gevent.lock.Lock` (a Semaphore(1) whose release of an unlocked lock raises). */
export class Lock extends Semaphore {
  constructor() {
    super(1);
  }
  override release(): void {
    if (!this.locked()) throw new RuntimeError('release unlocked lock');
    super.release();
  }
}

/** gevent: `gevent.lock.RLock`: re-entrant for its owner. */
export class RLock {
  readonly #lock = new Lock();
  #owner: object | null = null;
  #count = 0;

  #me(): object {
    return getcurrent() ?? currentTask() ?? RLock;
  }

  acquire(blocking: AcquireArg = true, timeout: number | null | { timeout?: number | null } = null): Future<boolean> {
    [blocking, timeout] = acquireArgs(blocking, timeout);
    const me = this.#me();
    if (this.#owner === me) {
      this.#count++;
      const out = new BridgeFuture<boolean>(hubLoop());
      out._finish(true);
      return out;
    }
    const inner = this.#lock.acquire(blocking, timeout);
    const out = new MirrorFuture<boolean>(inner); // a kill cancels the wait at once
    inner.addDoneCallback(() => {
      if (inner.cancelled()) return; // out was cancelled
      const ok = inner.result();
      if (out.done()) { // the acquirer was killed meanwhile: the lock is nobody's
        if (ok) this.#lock.release();
        return;
      }
      if (ok) {
        this.#owner = me;
        this.#count = 1;
        out._onAbandon = this.#giveBack; // granted, but killed before it resumed
      }
      out._finish(ok);
    });
    return out;
  }

  readonly #giveBack = (): void => {
    this.#owner = null;
    this.#count = 0;
    this.#lock.release();
  };

  release(): void {
    if (this.#owner !== this.#me()) throw new RuntimeError('cannot release un-acquired lock');
    if (--this.#count === 0) {
      this.#owner = null;
      this.#lock.release();
    }
  }

  locked(): boolean {
    return this.#lock.locked();
  }
}
