// wait: asyncio's `wait` over a set of awaitables, returning [done, pending] sets.
//
// It never cancels what it waits on (on timeout the pending ones keep running); cancelling the
// returned Future removes its callbacks from the awaitables and nothing else.

import type { TimerHandle } from '../loop/handle.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import { ensureFuture } from './create-task.js';
import type { Awaitable } from './coroutine.js';
import { optionsOf } from './options.js';

/** asyncio: `FIRST_COMPLETED`. */
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
/** asyncio: `FIRST_EXCEPTION`. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
/** asyncio: `ALL_COMPLETED`. */
export const ALL_COMPLETED = 'ALL_COMPLETED';
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** asyncio: `wait`. Resolves to `[done, pending]` when `returnWhen` is met or `timeout` passes. */
export function wait<T>(
  aws: Iterable<Awaitable<T>>,
  options: { timeout?: number | null; returnWhen?: ReturnWhen } = {},
): Future<[Set<Future<T>>, Set<Future<T>>]> {
  const { timeout = null, returnWhen = ALL_COMPLETED } = optionsOf('wait', options, '{ timeout, returnWhen }');
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new RangeError(`invalid returnWhen: ${String(returnWhen)}`);
  }
  const loop = getEventLoop();
  const fs = new Set<Future<T>>();
  for (const aw of aws) fs.add(ensureFuture(aw, loop));
  if (fs.size === 0) throw new RangeError('wait() needs at least one awaitable, got an empty set');
  const outer = new Future<[Set<Future<T>>, Set<Future<T>>]>(loop);
  const split = (): [Set<Future<T>>, Set<Future<T>>] => {
    const done = new Set<Future<T>>(), pending = new Set<Future<T>>();
    for (const f of fs) (f.done() ? done : pending).add(f);
    return [done, pending];
  };
  const failed = (f: Future<T>): boolean => !f.cancelled() && f.exception() !== null;
  let left = 0;
  for (const f of fs) if (!f.done()) left++;
  const already = [...fs].filter((f) => f.done());
  if (left === 0 || (returnWhen === FIRST_COMPLETED && already.length > 0) ||
      (returnWhen === FIRST_EXCEPTION && already.some(failed))) {
    outer._resolveOnRun(split());
    return outer;
  }
  let timer: TimerHandle | null = null;
  const finish = (): void => {
    timer?.cancel();
    for (const f of fs) f.removeDoneCallback(onDone);
    if (!outer.done()) outer._finish(split());
  };
  const onDone = (f: Future<T>): void => {
    left--;
    if (left <= 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failed(f))) finish();
  };
  for (const f of fs) if (!f.done()) f.addDoneCallback(onDone);
  if (timeout !== null) timer = loop.callLater(timeout, finish);
  outer.addDoneCallback(() => {
    if (outer.cancelled()) {
      timer?.cancel();
      for (const f of fs) f.removeDoneCallback(onDone);
    }
  });
  return outer;
}
