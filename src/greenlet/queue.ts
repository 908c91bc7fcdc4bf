// gevent's queues on Tulip's: Queue, JoinableQueue, Channel, with block/timeout and Empty/Full.
//
// Queue and JoinableQueue wrap src/sync's Queue (so FIFO hand-off and cancellation safety are
// the same): `block: false` maps QueueEmpty/QueueFull to Empty/Full, and a timeout that passes
// cancels the pending get/put (the item is not taken or inserted) and raises Empty/Full.
// maxsize null/undefined or 0 means unbounded, as in gevent 1.0+. Channel is the rendezvous
// queue: put() waits until a getter takes the item.

import type { Future } from '../tasks/future.js';
import type { TimerHandle } from '../loop/handle.js';
import { Queue as SyncQueue } from '../sync/queue.js';
import { QueueEmpty, QueueFull, QueueShutDown } from '../sync/errors.js';
import { copyOutcome } from '../tasks/chain.js';
import { BridgeFuture, Empty, Full, MirrorFuture, blockOptions, giveBackInner, hubLoop, type BlockOptions } from './hub.js';
import { waitReady } from './greenlet.js';


/** Mirrors `inner` into a bridge future, mapping a timeout to `onTimeout()`. */
function bounded<T>(inner: Future<T>, timeout: number | null, onTimeout: () => unknown): BridgeFuture<T> {
  const loop = inner.getLoop();
  const out = new MirrorFuture<T>(inner); // a put in the same turn as a kill cannot reach it
  if (inner.done()) {
    // Nothing had to wait (an item was there, or room): done now, as gevent's get() returns at
    // once without a switch, so the caller goes on before anyone it woke.
    copyOutcome(inner, out);
    if (inner._onAbandon !== null) out._onAbandon = giveBackInner; // a grant: as below
    return out;
  }
  let timer: TimerHandle | null = null;
  inner.addDoneCallback(() => {
    timer?.cancel();
    if (out.done()) { // timed out or cancelled, and granted anyway: give it back
      giveBackInner(out);
      if (!inner.cancelled()) inner.exception(); // retrieved: nobody else will look
      return;
    }
    copyOutcome(inner, out);
    if (inner._onAbandon !== null && !out.cancelled()) out._onAbandon = giveBackInner; // set on a grant only
  });
  if (timeout !== null && !inner.done()) {
    timer = loop.callLater(timeout, () => {
      if (inner.cancel()) out._fail(onTimeout());
    });
  }
  return out;
}

/** After `timeout` seconds (none if null), takes `entry` out of `list` and fails `out` with
 *  `error()`, unless the other side took it first. */
function expireWaiter<E>(list: E[], entry: E, out: Future<unknown>, timeout: number | null, error: () => unknown): void {
  if (timeout === null) return;
  const timer = out.getLoop().callLater(timeout, () => {
    const i = list.indexOf(entry);
    if (i >= 0) { list.splice(i, 1); out._fail(error()); }
  });
  out.addDoneCallback(() => timer.cancel());
}

/** gevent: `gevent.queue.Queue(maxsize=None)`. */
export class Queue<T = unknown> {
  protected readonly _q: SyncQueue<T>;

  constructor(maxsize?: number | null) {
    this._q = new SyncQueue<T>(maxsize ?? 0);
  }

  get maxsize(): number | null {
    return this._q.maxsize > 0 ? this._q.maxsize : null;
  }

  qsize(): number { return this._q.qsize(); }
  empty(): boolean { return this._q.empty(); }
  full(): boolean { return this._q.full(); }

  /** gevent: `Queue.put(item, block=True, timeout=None)`; raises Full. */
  put(item: T, options: BlockOptions = {}): Future<void> {
    const { block, timeout } = blockOptions('put', options);
    if (!block) {
      const out = new BridgeFuture<void>(hubLoop());
      try { this.putNowait(item); out._finish(undefined); } catch (e) { out._fail(e); }
      return out;
    }
    return bounded(this._q.put(item), timeout, () => new Full()) as unknown as Future<void>;
  }

  /** gevent: `Queue.put_nowait`; raises Full. */
  putNowait(item: T): void {
    try {
      this._q.putNowait(item);
    } catch (e) {
      throw e instanceof QueueFull ? new Full() : e;
    }
  }

  /** gevent: `Queue.get(block=True, timeout=None)`; raises Empty. */
  get(options: BlockOptions = {}): Future<T> {
    const { block, timeout } = blockOptions('get', options);
    if (!block) {
      const out = new BridgeFuture<T>(hubLoop());
      try { out._finish(this.getNowait()); } catch (e) { out._fail(e); }
      return out;
    }
    return bounded(this._q.get(), timeout, () => new Empty());
  }

  /** gevent: `Queue.get_nowait`; raises Empty. */
  getNowait(): T {
    try {
      return this._q.getNowait();
    } catch (e) {
      throw e instanceof QueueEmpty ? new Empty() : e;
    }
  }

  /** gevent: `Queue.peek(block=True, timeout=None)`: the next item without removing it; waits
   *  for one to land in the queue (an item handed straight to a waiting getter never does). */
  peek(options: BlockOptions = {}): Future<T> {
    const { block, timeout } = blockOptions('peek', options);
    const loop = hubLoop();
    const out = new BridgeFuture<T>(loop);
    if (!this.empty() || !block) {
      try { out._finish(this.#peekNow()); } catch (e) { out._fail(e); }
      return out;
    }
    const deadline = timeout === null ? null : loop.time() + timeout;
    const waitOnce = (): void => {
      const left = deadline === null ? null : Math.max(0, deadline - loop.time());
      const landed = bounded(this._q._nonEmpty(), left, () => new Empty());
      landed.addDoneCallback(() => {
        if (out.done()) return;
        if (landed.exception() !== null) out._fail(landed.exception());
        else if (!this.empty()) out._finish(this.#peekNow());
        else waitOnce(); // a getter took it first: wait for the next one
      });
      out.addDoneCallback(() => { if (out.cancelled()) landed.cancel(); });
    };
    waitOnce();
    return out;
  }

  #peekNow(): T {
    const item = this.getNowait();
    (this._q as unknown as { _unget(x: T): void })._unget(item);
    return item;
  }

  /** Python 3.13's `Queue.shutdown(immediate=False)` (gevent 22 has none): put() raises
   *  QueueShutDown from now on, get() once the queue is empty (at once with `immediate`, which
   *  drops what is queued), and waiting putters and getters are woken with it. */
  shutdown(immediate = false): void {
    this._q.shutdown(immediate);
  }

  /** Asynchronous iteration over the items as they come, until the queue is shut down and
   *  drained (gevent iterates until a StopIteration item, which JavaScript has no name for). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this._q.get();
      } catch (error) {
        if (error instanceof QueueShutDown) return;
        throw error;
      }
      yield item;
    }
  }
}

/** gevent: `gevent.queue.JoinableQueue`. */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** gevent: `JoinableQueue.unfinished_tasks`: items put and not yet taskDone(). */
  get unfinishedTasks(): number {
    return this._q._unfinishedTasks();
  }

  /** gevent: `JoinableQueue.task_done()`. */
  taskDone(): void {
    this._q.taskDone();
  }

  /** gevent: `JoinableQueue.join(timeout=None)`: true once every item was taskDone(). */
  join(timeout?: number | null): Future<boolean> {
    return waitReady(this._q.join(), timeout ?? null);
  }
}

/** gevent: `gevent.queue.Channel`: put() waits until a getter takes the item. */
export class Channel<T = unknown> {
  #getters: BridgeFuture<T>[] = [];
  #putters: Array<{ item: T; fut: BridgeFuture<void> }> = [];

  qsize(): number { return 0; }
  /** Getters waiting. */
  get getters(): number { return this.#getters.length; }

  put(item: T, options: BlockOptions = {}): Future<void> {
    const { block, timeout } = blockOptions('put', options);
    const out = new BridgeFuture<void>(hubLoop());
    const getter = this.#nextGetter();
    if (getter !== undefined) {
      // A rendezvous, as gevent's: the putter resumes after the getter has run with the item.
      this.#handTo(getter, item);
      getter.addDoneCallback(() => { if (!out.done()) out._finish(undefined); });
      return out;
    }
    if (!block) { out._fail(new Full()); return out; }
    const entry = { item, fut: out };
    this.#putters.push(entry);
    expireWaiter(this.#putters, entry, out, timeout, () => new Full());
    return out;
  }

  get(options: BlockOptions = {}): Future<T> {
    const { block, timeout } = blockOptions('get', options);
    const out = new BridgeFuture<T>(hubLoop());
    const putter = this.#nextPutter();
    if (putter !== undefined) {
      putter.fut._finish(undefined);
      out._finish(putter.item);
      return out;
    }
    if (!block) { out._fail(new Empty()); return out; }
    this.#getters.push(out);
    expireWaiter(this.#getters, out, out, timeout, () => new Empty());
    return out;
  }

  /** gevent: `Channel.put_nowait(item)`: hands the item to a waiting getter, else raises Full. */
  putNowait(item: T): void {
    const getter = this.#nextGetter();
    if (getter === undefined) throw new Full();
    this.#handTo(getter, item);
  }

  /** Gives `item` to a waiting getter. gevent switches to the getter at once; here it resumes
   *  in a later step, and if it is killed before then the item goes to the next getter, or
   *  waits at the front for one (the put that made it has returned: gevent's had too). */
  #handTo(getter: BridgeFuture<T>, item: T): void {
    getter._onAbandon = this.#giveBack;
    getter._finish(item);
  }

  // One hook per channel, not a closure per hand-off: the item is the getter's result.
  readonly #giveBack = (getter: Future<any>): void => {
    const item = getter.result() as T;
    const next = this.#nextGetter();
    if (next !== undefined) this.#handTo(next, item);
    else this.#putters.unshift({ item, fut: new BridgeFuture<void>(hubLoop()) });
  };

  /** gevent: `Channel.get_nowait()`: takes a waiting putter's item, else raises Empty. */
  getNowait(): T {
    const putter = this.#nextPutter();
    if (putter === undefined) throw new Empty();
    putter.fut._finish(undefined);
    return putter.item;
  }

  #nextGetter(): BridgeFuture<T> | undefined {
    let getter = this.#getters.shift();
    while (getter !== undefined && getter.done()) getter = this.#getters.shift(); // killed while waiting
    return getter;
  }

  #nextPutter(): { item: T; fut: BridgeFuture<void> } | undefined {
    let putter = this.#putters.shift();
    while (putter !== undefined && putter.fut.done()) putter = this.#putters.shift(); // killed: not delivered
    return putter;
  }
}
