// gather: asyncio's `gather`: the results of several awaitables, in their order.
//
// Without returnExceptions the first failure (or cancellation) of a child becomes the outer
// Future's at once and the other children keep running. Cancelling the outer Future cancels
// every child; it then ends with CancelledError once all children are done (asyncio's
// _GatheringFuture). A trailing plain object (not a Future, generator or thenable) is the options.

import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import { ensureFuture } from './create-task.js';
import { isGenerator, isThenable, type Awaitable } from './coroutine.js';
import { CancelledError, type CancelReason } from './errors.js';

class GatheringFuture<T> extends Future<T> {
  /** @internal */ _children: Future<unknown>[] = [];
  /** @internal */ _cancelRequested = false;
  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done()) return false;
    let any = false;
    for (const child of this._children) if (child.cancel(msg, reason ?? { kind: 'parent-cancelled' })) any = true;
    if (any) this._cancelRequested = true;
    return any;
  }
}
(GatheringFuture.prototype as { _unwinds: boolean })._unwinds = true; // cancel() cancels what it waits on, which unwinds first

export interface GatherOptions { returnExceptions?: boolean }

type Results<A extends readonly unknown[]> = { -readonly [K in keyof A]: A[K] extends Awaitable<infer R> ? R : unknown };

/** asyncio: `gather`. `gather(a, b, c)` or `gather(a, b, { returnExceptions: true })`. */
export function gather<A extends readonly Awaitable<unknown>[]>(...aws: A): Future<Results<A>>;
export function gather<A extends readonly Awaitable<unknown>[]>(...args: [...A, GatherOptions]): Future<Results<A>>;
export function gather(...args: unknown[]): Future<unknown[]> {
  let options: GatherOptions = {};
  const last = args[args.length - 1];
  if (args.length > 0 && typeof last === 'object' && last !== null && !(last instanceof Future) && !isGenerator(last) && !isThenable(last)) {
    options = last as GatherOptions;
    args = args.slice(0, -1);
  }
  const returnExceptions = options.returnExceptions === true;
  const loop = getEventLoop();
  const outer = new GatheringFuture<unknown[]>(loop);
  if (args.length === 0) {
    outer._resolveOnRun([]);
    return outer;
  }
  // Futures pass through; the same coroutine or promise given twice becomes one task (asyncio's
  // arg_to_fut). The map is made only when a non-Future argument appears.
  let seen: Map<unknown, Future<unknown>> | null = null;
  const children = args.map((aw) => {
    if (aw instanceof Future) return aw as Future<unknown>;
    seen ??= new Map();
    let f = seen.get(aw);
    if (f === undefined) {
      f = ensureFuture(aw as Awaitable<unknown>, loop);
      seen.set(aw, f);
    }
    return f;
  });
  outer._children = children;
  const distinct = new Set(children);
  const unique = distinct.size;
  let finished = 0;
  const onChildDone = (fut: Future<unknown>): void => {
    finished++;
    if (outer.done()) {
      if (!fut.cancelled()) fut.exception(); // retrieved: the outer already reported
      return;
    }
    if (!returnExceptions) {
      if (fut.cancelled()) {
        outer._fail(fut._cancelledError());
        return;
      }
      const error = fut.exception();
      if (error !== null) {
        outer._fail(error);
        return;
      }
    }
    if (finished === unique) {
      if (outer._cancelRequested) {
        outer._finishCancelled(new CancelledError());
        return;
      }
      outer._finish(children.map((f) => {
        if (f.cancelled()) return f._cancelledError();
        const error = f.exception();
        return error !== null ? error : f.result();
      }));
    }
  };
  for (const f of distinct) f.addDoneCallback(onChildDone);
  return outer;
}
