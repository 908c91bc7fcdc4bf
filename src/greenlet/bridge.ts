// Interop between the two models, and gevent's signal_handler.
//
// A Greenlet is already Future-like (yield*-able, awaitable); greenletToFuture() returns the
// Future that completes with it, for Tulip's gather/wait/waitFor. futureToGreenlet() wraps a
// Future (or Task, or promise) in a greenlet that waits for it. Cancelling a task that waits
// on a greenlet cancels the task's wait only; the greenlet keeps running unless killed.

import type { Future } from '../tasks/future.js';
import { fromPromise } from '../tasks/create-task.js';
import { isThenable, type Coroutine } from '../tasks/coroutine.js';
import { hubLoop } from './hub.js';
import { spawn, type Greenlet, type GreenletBody } from './greenlet.js';

/** Project only: the Future of a greenlet's outcome (for gather, wait, waitFor, shield...). */
export function greenletToFuture<T>(g: Greenlet<T>): Future<T> {
  return g._future;
}

/** Project only: a greenlet that waits for `f` and ends with its outcome. */
export function futureToGreenlet<T>(f: Future<T> | PromiseLike<T>): Greenlet<T> {
  const fut = isThenable(f) && !('getLoop' in f) ? fromPromise(f as PromiseLike<T>, hubLoop()) : (f as Future<T>);
  return spawn(outcomeOf<T>, fut);
}

/** Module level: a generator function made per call costs a new hidden class per call. */
function* outcomeOf<T>(fut: Future<T>): Coroutine<T> {
  return yield* fut;
}

/** gevent: `gevent.signal_handler(signalnum, handler, *args)`: each delivery spawns
 *  `handler(...args)` in a new greenlet. Returns a handle with cancel(). */
export function signalHandler<A extends unknown[]>(sig: NodeJS.Signals, handler: GreenletBody<unknown, A>, ...args: A): { cancel(): void } {
  const loop = hubLoop();
  const listener = (): void => {
    if (!loop.isClosed()) loop.callSoon(() => { spawn(handler, ...args); });
  };
  process.on(sig, listener);
  return { cancel: () => { process.off(sig, listener); } };
}

