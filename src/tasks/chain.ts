// Helpers shared by the utilities that mirror one future into another.

import type { Future } from './future.js';

/** Copies the outcome of `src` (done) into `dst` unless `dst` is already done. */
export function copyOutcome<T>(src: Future<T>, dst: Future<T>): void {
  if (dst.done()) {
    if (!src.cancelled()) src.exception(); // retrieved: nobody else will look
    return;
  }
  if (src.cancelled()) {
    dst._finishCancelled(src._cancelledError());
    return;
  }
  const error = src.exception();
  if (error !== null) dst._fail(error);
  else dst._finish(src.result());
}

/** Gives back what `inner` was granted (an item, bytes read, a lock unit, a connection) through
 *  its `_onAbandon`, once: for a future mirroring `inner` whose waiting task was cancelled before
 *  it resumed, or that was cancelled itself while the grant arrived. */
export function giveBackGrant(inner: Future<unknown>): void {
  const abandon = inner._onAbandon;
  if (abandon === null || inner.cancelled()) return;
  inner._onAbandon = null;
  abandon(inner);
}
