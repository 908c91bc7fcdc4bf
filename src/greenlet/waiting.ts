// Waiting on several things at once, gevent's way: joinall, killall, wait, iwait, sleep, idle.
//
// Everything here accepts greenlets and anything Future-like from the bridge (Event,
// AsyncResult) or from Tulip (Future, Task), and returns a Future (a BridgeFuture, so it also
// works at the top level of a module). iwait() is an async iterator whose next() is also
// `yield*`-able from a generator.

import type { TimerHandle } from '../loop/handle.js';
import type { EventLoop } from '../loop/event-loop.js';
import { Future } from '../tasks/future.js';
import { sleepFutureOf, sleepOn } from '../tasks/sleep.js';
import type { Coroutine } from '../tasks/coroutine.js';
import { BridgeFuture, GreenletExit, bridged, hubLoop, mirrored } from './hub.js';
import { Greenlet } from './greenlet.js';
import { Event, AsyncResult } from './event.js';
import { checkSeconds, optionsOf } from '../tasks/options.js';

/** Anything the bridge can wait on. */
export type Waitable = Greenlet<any> | Future<any> | Event | AsyncResult<any>;

/** The Future that completes when `obj` is ready. */
export function readyFuture(obj: Waitable): Future<unknown> {
  if (obj instanceof Greenlet) return obj._future;
  if (obj instanceof AsyncResult) return obj._future;
  if (obj instanceof Event) {
    const f = new Future<unknown>(hubLoop());
    obj.wait().addDoneCallback(() => f._finish(true));
    return f;
  }
  if (obj instanceof Future) return obj;
  throw new TypeError(`cannot wait on ${String(obj)}`);
}

/** gevent: `gevent.wait(objects, timeout=None, count=None)`: the objects that became ready.
 *  Without objects (`wait()`, `wait(null, { timeout })`), gevent's `hub.join()`: true once the
 *  loop has nothing left that could run — no greenlet or task that can still be woken, no timer,
 *  no open socket, server or subprocess — or false when `timeout` passes first. */
export function wait(objects?: null, options?: { timeout?: number | null }): BridgeFuture<boolean>;
export function wait<T extends Waitable>(objects: Iterable<T>, options?: { timeout?: number | null; count?: number | null }): BridgeFuture<T[]>;
export function wait<T extends Waitable>(objects?: Iterable<T> | null, options: { timeout?: number | null; count?: number | null } = {}): BridgeFuture<T[]> | BridgeFuture<boolean> {
  options = optionsOf('wait', options, '{ timeout, count }');
  if (objects == null) return waitQuiet(options.timeout ?? null);
  const objs = [...objects];
  const loop = hubLoop();
  const out = new BridgeFuture<T[]>(loop);
  const count = Math.min(options.count ?? objs.length, objs.length);
  const done: T[] = [];
  let timer: TimerHandle | null = null;
  // What is still watched when the wait ends early (timeout or count): unhooked at the end, so
  // waiting on a long-lived greenlet again and again with a timeout leaves nothing behind.
  const greenlets: Greenlet<any>[] = [];
  const futures: Array<[Future<unknown>, () => void]> = [];
  const finish = (): void => {
    timer?.cancel();
    if (out.done()) return;
    out._finish(done.slice());
    if (done.length === objs.length) return;
    for (const g of greenlets) if (!g.dead) g._unwhenDead(onReady as (g: Greenlet<any>) => void);
    for (const [f, cb] of futures) if (!f.done()) f.removeDoneCallback(cb);
  };
  if (count === 0) { finish(); return out; }
  const onReady = (obj: T): void => {
    if (out.done()) return;
    done.push(obj);
    if (done.length >= count) finish();
  };
  for (const obj of objs) {
    // Greenlets are watched through a death hook: no Future per greenlet.
    if (obj instanceof Greenlet) {
      greenlets.push(obj);
      obj._whenDead(onReady as (g: Greenlet<any>) => void);
      continue;
    }
    const f = readyFuture(obj);
    if (f.done()) { onReady(obj); continue; }
    const cb = (): void => onReady(obj);
    futures.push([f, cb]);
    f.addDoneCallback(cb);
  }
  if (!out.done() && options.timeout != null) timer = loop.callLater(options.timeout, finish);
  return out;
}

const QUIET = { toString: (): string => 'wait(): the loop to run out of work (gevent\'s hub.join)' };

function waitQuiet(timeout: number | null): BridgeFuture<boolean> {
  if (timeout !== null) checkSeconds('timeout', timeout);
  const out = mirrored(hubLoop()._whenQuiet(timeout)); // a kill drops the wait and its timer
  out._what = QUIET; // the task tree names it
  return out;
}

/** gevent: `gevent.joinall(greenlets, timeout=None, raise_error=False, count=None)`: the
 *  greenlets that finished. With raiseError, the first exception is raised. */
export function joinall<T>(greenlets: Iterable<Greenlet<T>>, options: { timeout?: number | null; raiseError?: boolean; count?: number | null } = {}): BridgeFuture<Greenlet<T>[]> {
  options = optionsOf('joinall', options, '{ timeout, raiseError, count }');
  const gs = [...greenlets];
  if (!options.raiseError) return wait(gs, options);
  const loop = hubLoop();
  const out = new BridgeFuture<Greenlet<T>[]>(loop);
  const inner = wait(gs, options);
  const failFast = (g: Greenlet<T>): void => {
    if (!out.done()) out._fail(g.exception);
  };
  for (const g of gs) g.linkException(failFast);
  inner.addDoneCallback(() => {
    for (const g of gs) g.unlink(failFast);
    if (out.done()) return;
    const failed = inner.result().find((g) => !g.successful());
    if (failed !== undefined) out._fail(failed.exception);
    else out._finish(inner.result());
  });
  return out;
}

/** gevent: `gevent.killall(greenlets, exception=GreenletExit, block=True, timeout=None)`. */
export function killall(greenlets: Iterable<Greenlet<any>>, options: { exception?: unknown; block?: boolean; timeout?: number | null } = {}): BridgeFuture<void> {
  options = optionsOf('killall', options, '{ exception, block, timeout }');
  const gs = [...greenlets];
  for (const g of gs) g.kill(options.exception ?? GreenletExit, { block: false });
  const out = new BridgeFuture<void>(hubLoop());
  if (options.block === false) { out._finish(undefined); return out; }
  wait(gs, { timeout: options.timeout ?? null }).addDoneCallback(() => out._finish(undefined));
  return out;
}

/** gevent: `gevent.sleep(seconds=0)`. Zero gives the other greenlets one turn. */
export function sleep(seconds = 0): Future<void> {
  return sleepOn(BridgeSleepFuture, seconds);
}

const BridgeSleepFuture = sleepFutureOf(BridgeFuture);

/** gevent: `gevent.idle()`: resolves once nothing else is ready to run. */
export function idle(): Future<void> {
  const loop = hubLoop();
  return bridged(loop.createTask(untilIdle(loop)));
}

function* untilIdle(loop: EventLoop): Coroutine<void> {
  do yield; while (loop._readyCount() > 0);
}

/** An async iterator whose next() is also `yield*`-able (a Future of the step; `for await`
 *  awaits whatever next() returns, and a Future is awaitable). */
export interface FutureIterator<T> {
  next(): Future<IteratorResult<T>>;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

/** gevent: `gevent.iwait(objects, timeout=None)`: yields the objects as they become ready. */
export function iwait<T extends Waitable>(objects: Iterable<T>, options: { timeout?: number | null } = {}): FutureIterator<T> {
  options = optionsOf('iwait', options, '{ timeout }');
  const objs = [...objects];
  const loop = hubLoop();
  const ready: T[] = [];
  const waiting: BridgeFuture<IteratorResult<T>>[] = [];
  let left = objs.length;
  let timedOut = false;
  const push = (obj: T): void => {
    left--;
    const w = waiting.shift();
    if (w !== undefined) w._finish({ value: obj, done: false });
    else ready.push(obj);
  };
  objs.forEach((obj) => {
    const f = readyFuture(obj);
    if (f.done()) push(obj);
    else f.addDoneCallback(() => { if (!timedOut) push(obj); });
  });
  if (options.timeout != null && left > 0) {
    loop.callLater(options.timeout, () => {
      timedOut = true;
      for (const w of waiting.splice(0)) w._finish({ value: undefined, done: true });
    });
  }
  const it: FutureIterator<T> = {
    next(): Future<IteratorResult<T>> {
      const out = new BridgeFuture<IteratorResult<T>>(loop);
      const obj = ready.shift();
      if (obj !== undefined) out._finish({ value: obj, done: false });
      else if (left === 0 || timedOut) out._finish({ value: undefined, done: true });
      else waiting.push(out);
      return out;
    },
    [Symbol.asyncIterator]: () => it as unknown as AsyncIterator<T>,
  };
  return it;
}
