// asCompleted: results in the order the awaitables finish.
//
// As in Python 3.13: plain iteration yields one Future per input, the k-th resolving with the
// outcome of the k-th input to finish (`for (const f of asCompleted(fs)) { yield* f; }`), and
// `for await` yields the original futures as they finish. With a timeout, every slot not yet
// filled when it passes raises TimeoutError, and the inputs keep running.

import type { TimerHandle } from '../loop/handle.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import { ensureFuture } from './create-task.js';
import type { Awaitable } from './coroutine.js';
import { TimeoutError } from './errors.js';
import { copyOutcome } from './chain.js';
import { optionsOf } from './options.js';

/** asyncio: `as_completed`. */
export function asCompleted<T>(aws: Iterable<Awaitable<T>>, options: { timeout?: number | null } = {}): AsCompleted<T> {
  return new AsCompleted(aws, optionsOf('asCompleted', options, '{ timeout }').timeout ?? null);
}

export class AsCompleted<T> implements Iterable<Future<T>>, AsyncIterable<Future<T>> {
  #finished: Future<T>[] = [];
  #waiters: Future<{ fut: Future<T> }>[] = [];
  #total: number;
  #handedOut = 0;
  #timedOut = false;
  #timer: TimerHandle | null = null;

  /** @internal */
  constructor(aws: Iterable<Awaitable<T>>, timeout: number | null) {
    const loop = getEventLoop();
    const todo = new Set<Future<T>>();
    for (const aw of aws) todo.add(ensureFuture(aw, loop));
    this.#total = todo.size;
    const onDone = (f: Future<T>): void => {
      todo.delete(f);
      const w = this.#waiters.shift();
      if (w !== undefined) w._finish({ fut: f });
      else this.#finished.push(f);
      if (todo.size === 0) this.#timer?.cancel();
    };
    for (const f of todo) f.addDoneCallback(onDone);
    if (timeout !== null && todo.size > 0) {
      this.#timer = loop.callLater(timeout, () => {
        this.#timedOut = true;
        for (const f of todo) f.removeDoneCallback(onDone);
        for (const w of this.#waiters.splice(0)) w._fail(new TimeoutError(`asCompleted timed out after ${timeout} s`));
      });
    }
  }

  /** The next input to finish, boxed (a Future inside a promise would be unwrapped). */
  #nextDone(): Future<{ fut: Future<T> }> {
    const loop = getEventLoop();
    const slot = new Future<{ fut: Future<T> }>(loop);
    const f = this.#finished.shift();
    if (f !== undefined) slot._resolveOnRun({ fut: f });
    else if (this.#timedOut) slot._fail(new TimeoutError('asCompleted timed out'));
    else this.#waiters.push(slot);
    return slot;
  }

  *[Symbol.iterator](): Iterator<Future<T>> {
    while (this.#handedOut < this.#total) {
      this.#handedOut++;
      const slot = this.#nextDone();
      const out = new Future<T>(slot._loop);
      slot.addDoneCallback(() => {
        if (slot.cancelled()) out.cancel();
        else if (slot.exception() !== null) out._fail(slot.exception());
        else copyOutcome(slot.result().fut, out);
      });
      yield out;
    }
  }

  // Not an async generator: it would await the yielded Future and hand out its result.
  [Symbol.asyncIterator](): AsyncIterator<Future<T>> {
    return {
      next: async (): Promise<IteratorResult<Future<T>>> => {
        if (this.#handedOut >= this.#total) return { value: undefined, done: true };
        this.#handedOut++;
        return { value: (await this.#nextDone()).fut, done: false };
      },
    };
  }
}
