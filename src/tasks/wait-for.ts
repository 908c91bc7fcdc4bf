// waitFor: asyncio's `wait_for`: the result of `aw`, or TimeoutError after `timeout` seconds,
// in which case `aw` is cancelled and waited for first (Python 3.12 semantics: a result that
// arrives while the cancel is being delivered wins).

import type { TimerHandle } from '../loop/handle.js';
import type { EventLoop } from '../loop/event-loop.js';
import { getEventLoop } from '../loop/running.js';
import { Future, type Waiter } from './future.js';
import { ensureFuture } from './create-task.js';
import { copyOutcome, giveBackGrant } from './chain.js';
import { checkSeconds } from './options.js';
import type { Awaitable } from './coroutine.js';
import { TimeoutError, type CancelReason } from './errors.js';

/** The outer future. It waits on the inner one as a Waiter (as a task does) and its timer calls a
 *  module-level function, so a waitFor allocates this future and a TimerHandle, no closures:
 *  the proxy makes three per request. */
class WaitForFuture<T> extends Future<T> implements Waiter {
  // Assigned in the constructor, not by field initializers (see Future).
  /** @internal */ declare readonly _inner: Future<T>;
  /** @internal */ declare readonly _timeout: number;
  /** @internal */ declare _cancelRequested: boolean;
  /** @internal */ declare _timedOut: boolean;
  /** @internal */ declare _timer: TimerHandle | null;

  constructor(loop: EventLoop, inner: Future<T>, timeout: number) {
    super(loop);
    (this as { _inner: Future<T> })._inner = inner;
    (this as { _timeout: number })._timeout = timeout;
    this._cancelRequested = false;
    this._timedOut = false;
    this._timer = null;
  }

  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done()) return super.cancel(msg, reason);
    this._cancelRequested = true;
    if (!this._inner.cancel(msg, reason ?? { kind: 'parent-cancelled' })) return super.cancel(msg, reason);
    return true;
  }

  /** @internal The inner future is done (called in its callbacks' slot). */
  _wake(): void {
    const inner = this._inner;
    this._timer?.cancel();
    this._timer = null;
    if (!this.done() && inner.cancelled() && this._timedOut && !this._cancelRequested) {
      this._fail(new TimeoutError(`timed out after ${this._timeout} s`, { cause: inner._cancelledError() }));
    } else if (this.cancelled()) {
      // Cancelled as the inner result arrived: a grant it carries (bytes read, a connection
      // made) has nobody to go to, so it goes back.
      giveBackGrant(inner);
      copyOutcome(inner, this);
    } else {
      copyOutcome(inner, this);
      // The same grant goes back if the task waiting here is cancelled before it resumes.
      if (inner._onAbandon !== null && !inner.cancelled() && this._onAbandon === null) this._onAbandon = abandonInner;
    }
  }

  /** @internal The inner future is done and this was its only waiter. Settled at once, not in
   *  a ready-queue slot of its own: nothing but bookkeeping runs here (the waiting task is
   *  queued by this future's completion). A slot of its own cost every waitFor one more turn
   *  than a direct wait, a turn asyncio's wait_for (an in-task timeout since 3.12) does not take. */
  _wakeSoon(): void {
    this._wake();
  }
}
(WaitForFuture.prototype as { _unwinds: boolean })._unwinds = true; // cancel() cancels what it waits on, which unwinds first

function abandonInner(outer: Future<unknown>): void {
  giveBackGrant((outer as WaitForFuture<unknown>)._inner);
}

function expire(outer: WaitForFuture<unknown>): void {
  outer._timer = null;
  outer._timedOut = true;
  outer._inner.cancel(undefined, { kind: 'timeout', deadline: outer.getLoop().time() });
}

/** asyncio: `wait_for`. `timeout` in seconds; null waits forever. */
export function waitFor<T>(aw: Awaitable<T>, timeout: number | null): Future<T> {
  const loop = getEventLoop();
  const inner = ensureFuture(aw, loop);
  if (timeout === null || timeout === undefined) return inner;
  checkSeconds('timeout', timeout, true);
  const outer = new WaitForFuture<T>(loop, inner, timeout);
  if (inner.done()) {
    copyOutcome(inner, outer);
    return outer;
  }
  inner._addWaiter(outer);
  if (timeout <= 0) expire(outer as WaitForFuture<unknown>);
  else outer._timer = loop.callLater(timeout, expire, outer);
  return outer;
}
