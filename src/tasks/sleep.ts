// sleep: a Future finished by one timer; cancelling it cancels the timer.
//
// A zero (or negative) delay costs one ready-queue slot and no timer, like asyncio's bare
// `yield` in `sleep(0)`: the caller resumes in the next batch, after everything already ready.

import type { TimerHandle } from '../loop/handle.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import type { CancelReason } from './errors.js';
import { checkSeconds } from './options.js';

type FutureClass = new (...args: any[]) => Future<any>;
interface Sleeping { _timer: TimerHandle | null }

/** @internal A sleep's Future on top of `Base` (the greenlet bridge sleeps on its own kind of
 *  Future, so a greenlet's sleep(0) costs one Future and one queue slot too). */
export function sleepFutureOf<B extends FutureClass>(Base: B): B {
  const SleepFuture = class extends Base implements Sleeping {
    // No constructor of its own (a mixin's would have to spread its arguments): `_timer` starts
    // as null on the prototype and is set only by sleeps that arm a timer.
    /** @internal */ declare _timer: TimerHandle | null;

    override _describeWait(): string {
      return this._timer === null ? 'sleep(0)' : `sleep until t=${this._timer.when().toFixed(3)}`;
    }

    override cancel(msg?: string, reason?: CancelReason): boolean {
      if (!super.cancel(msg, reason)) return false;
      this._timer?.cancel();
      this._timer = null;
      return true;
    }
  };
  (SleepFuture.prototype as Sleeping)._timer = null;
  return SleepFuture;
}

const SleepFuture = sleepFutureOf(Future);

function wake<T>(fut: Future<T> & Sleeping, result: T): void {
  fut._timer = null;
  if (!fut.done()) fut._finish(result);
}

/** @internal sleep() on a Future made by `Kind` (from sleepFutureOf). */
export function sleepOn<T>(Kind: FutureClass, delay: number, result?: T): Future<T> {
  checkSeconds('delay', delay);
  const loop = getEventLoop();
  const fut = new Kind(loop) as Future<T> & Sleeping;
  if (delay <= 0) fut._resolveOnRun(result as T);
  else fut._timer = loop.callLater(delay, wake, fut, result as T);
  return fut;
}

/** asyncio: `sleep`. A Future that resolves to `result` after `delay` seconds. */
export function sleep<T = void>(delay: number, result?: T): Future<T> {
  return sleepOn(SleepFuture, delay, result);
}
