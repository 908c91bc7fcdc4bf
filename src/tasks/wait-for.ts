// waitFor: asyncio's `wait_for`: the result of `aw`, or TimeoutError after `timeout` seconds,
// in which case `aw` is cancelled and waited for first (Python 3.12 semantics: a result that
// arrives while the cancel is being delivered wins).

import type { TimerHandle } from '../loop/handle.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import { ensureFuture } from './create-task.js';
import { copyOutcome } from './chain.js';
import type { Awaitable } from './coroutine.js';
import { TimeoutError, type CancelReason } from './errors.js';

class WaitForFuture<T> extends Future<T> {
  /** @internal */ _inner: Future<T> | null = null;
  /** @internal */ _cancelRequested = false;
  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done() || this._inner === null) return super.cancel(msg, reason);
    this._cancelRequested = true;
    if (!this._inner.cancel(msg, reason ?? { kind: 'parent-cancelled' })) return super.cancel(msg, reason);
    return true;
  }
}

/** asyncio: `wait_for`. `timeout` in seconds; null waits forever. */
export function waitFor<T>(aw: Awaitable<T>, timeout: number | null): Future<T> {
  const loop = getEventLoop();
  const inner = ensureFuture(aw, loop);
  if (timeout === null || timeout === undefined) return inner;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw new TypeError(`timeout must be seconds or null, got ${String(timeout)}`);
  const outer = new WaitForFuture<T>(loop);
  outer._inner = inner;
  let timedOut = false;
  let timer: TimerHandle | null = null;
  const expire = (): void => {
    timer = null;
    timedOut = true;
    inner.cancel(undefined, { kind: 'timeout', deadline: loop.time() });
  };
  inner.addDoneCallback(() => {
    timer?.cancel();
    if (!outer.done() && inner.cancelled() && timedOut && !outer._cancelRequested) {
      outer._fail(new TimeoutError(`timed out after ${timeout} s`, { cause: inner._cancelledError() }));
    } else copyOutcome(inner, outer);
  });
  if (inner.done()) return outer;
  if (timeout <= 0) expire();
  else timer = loop.callLater(timeout, expire);
  return outer;
}
