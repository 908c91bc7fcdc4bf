// shield: protects an awaitable from cancellation of whoever waits on it.
//
// Cancelling the returned Future does not cancel the inner one, which keeps running (the loop
// holds tasks strongly, so a shielded task cannot be collected mid-flight).

import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import { ensureFuture } from './create-task.js';
import type { Awaitable } from './coroutine.js';
import { copyOutcome } from './chain.js';

/** asyncio: `shield`. */
export function shield<T>(aw: Awaitable<T>): Future<T> {
  const loop = getEventLoop();
  const inner = ensureFuture(aw, loop);
  if (inner.done()) return inner;
  const outer = new Future<T>(loop);
  inner.addDoneCallback(() => copyOutcome(inner, outer));
  return outer;
}
