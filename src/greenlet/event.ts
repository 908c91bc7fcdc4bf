// Event and AsyncResult: gevent's one-shot signals, as Futures underneath.
//
// wait(timeout) resolves to whether the event is set (gevent returns the flag, never raises);
// AsyncResult.get() raises the stored exception, or Timeout when nothing arrives in time.
// Both are built on Tulip Futures, so a Tulip task can `yield*` or `await` them as well.

import type { Future } from '../tasks/future.js';
import { BridgeFuture, blockOptions, hubLoop, type BlockOptions } from './hub.js';
import { waitReady } from './greenlet.js';
import { Timeout } from './timeout.js';

/** gevent: `gevent.event.Event`. */
export class Event {
  #flag = false;
  #waiters: BridgeFuture<void> = new BridgeFuture<void>(hubLoop());

  /** gevent: `Event.set()`: wakes every waiter. */
  set(): void {
    if (this.#flag) return;
    this.#flag = true;
    this.#waiters._finish(undefined);
  }

  /** gevent: `Event.clear()`. */
  clear(): void {
    if (!this.#flag) return;
    this.#flag = false;
    this.#waiters = new BridgeFuture<void>(hubLoop());
  }

  /** gevent: `Event.is_set()`. */
  isSet(): boolean {
    return this.#flag;
  }

  /** gevent: `Event.ready()`. */
  ready(): boolean {
    return this.#flag;
  }

  toString(): string {
    return `<gevent Event ${this.#flag ? 'set' : 'unset'}>`;
  }

  /** gevent: `Event.wait(timeout=None)`: true once the event was set while waiting (or before),
   *  even if it was cleared again before the waiter ran; false on timeout. */
  wait(timeout?: number | null): Future<boolean> {
    const waiting = this.#waiters;
    const out = new BridgeFuture<boolean>(waiting.getLoop());
    out._what = this;
    waitReady(waiting, timeout ?? null).addDoneCallback(() => { if (!out.done()) out._finish(waiting.done()); });
    return out;
  }
}

/** gevent: `gevent.event.AsyncResult`: a value or an exception, awaited by many. As in gevent,
 *  a later set() replaces what is stored (later get()s see it); a setException() once a value is
 *  stored changes nothing. */
export class AsyncResult<T = unknown> {
  readonly #fut: BridgeFuture<T> = new BridgeFuture<T>(hubLoop());
  #value: T | undefined = undefined;
  #exception: unknown = null;

  /** gevent: `AsyncResult.set(value)`. */
  set(value?: T): void {
    this.#value = value;
    this.#exception = null;
    if (!this.#fut.done()) this.#fut._finish(value as T);
  }

  /** gevent: `AsyncResult.set_exception(exception)`. */
  setException(error: unknown): void {
    if (this.#fut.done()) return; // a stored outcome stays (gevent's get() keeps returning it)
    this.#exception = error;
    this.#fut._fail(error);
    this.#fut.exception(); // retrieved: get() re-raises it on demand
  }

  ready(): boolean {
    return this.#fut.done();
  }

  successful(): boolean {
    return this.#fut.done() && this.#exception === null;
  }

  get value(): T | undefined {
    return this.#value;
  }

  get exception(): unknown {
    return this.#exception;
  }

  /** gevent: `AsyncResult.get(block=True, timeout=None)`. */
  get(options: BlockOptions = {}): Future<T> {
    const { block, timeout } = blockOptions('get', options);
    const out = new BridgeFuture<T>(this.#fut.getLoop());
    const settle = (): void => {
      if (out.done()) return;
      if (!this.#fut.done()) out._fail(new Timeout(timeout ?? 0));
      else if (this.#exception !== null) out._fail(this.#exception);
      else out._finish(this.#value as T);
    };
    if (this.#fut.done() || !block) settle();
    else waitReady(this.#fut, timeout).addDoneCallback(settle);
    return out;
  }

  toString(): string {
    return `<AsyncResult ${this.#fut.done() ? 'ready' : 'pending'}>`;
  }

  /** gevent: `AsyncResult.wait(timeout=None)`: the value once ready (undefined on timeout or
   *  when an exception was set); never raises. */
  wait(timeout?: number | null): Future<T | undefined> {
    const out = new BridgeFuture<T | undefined>(this.#fut.getLoop());
    out._what = this;
    waitReady(this.#fut, timeout ?? null).addDoneCallback(() => { if (!out.done()) out._finish(this.#value); });
    return out;
  }

  /** @internal */
  get _future(): Future<T> {
    return this.#fut;
  }

  // Future-like: waits as get() does, so it sees what is stored now.
  [Symbol.iterator](): Iterator<any, T, unknown> {
    return this.get()[Symbol.iterator]();
  }

  then<R1 = T, R2 = never>(onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    return this.get().then(onFulfilled, onRejected);
  }
}
