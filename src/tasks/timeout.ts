// timeout / timeoutAt: asyncio's `timeout()` context manager as a function of a body.
//
// The body runs as its own task under a deadline. At the deadline the body is cancelled at its
// wait (reason `{ kind: 'timeout', deadline }`); once it has unwound, the returned Future raises
// TimeoutError (its `cause` is the CancelledError). A cancel from outside stays a
// CancelledError, even if the deadline also passed (asyncio 3.11+ does the same by counting
// `cancelling()`). States, as timeouts.py names them: created -> active -> expiring ->
// expired | exited.
//
// Differs from asyncio: the body is a separate task (a callback cannot be entered as a
// block in the caller's task), so currentTask() inside it is the body's task.

import type { EventLoop } from '../loop/event-loop.js';
import type { TimerHandle } from '../loop/handle.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import type { Task } from './task.js';
import { isGeneratorFunction, type Coroutine } from './coroutine.js';
import { copyOutcome } from './chain.js';
import { InvalidStateError, TimeoutError, type CancelReason } from './errors.js';

type ScopeState = 'created' | 'active' | 'expiring' | 'expired' | 'exited';

/** asyncio: `Timeout` (the object `async with timeout()` yields). */
export class TimeoutScope {
  #loop: EventLoop;
  #when: number | null;
  #state: ScopeState = 'created';
  #timer: TimerHandle | null = null;
  /** @internal */ _task: Task<unknown> | null = null;

  /** @internal */
  constructor(loop: EventLoop, when: number | null) {
    this.#loop = loop;
    this.#when = when;
  }

  /** asyncio: `Timeout.when`. The deadline in loop seconds, or null. */
  when(): number | null {
    return this.#when;
  }

  /** asyncio: `Timeout.reschedule`. Moves the deadline (null: none). */
  reschedule(when: number | null): void {
    if (this.#state !== 'active' && this.#state !== 'created') {
      throw new InvalidStateError(`cannot reschedule a timeout that is ${this.#state}`);
    }
    this.#when = when;
    this.#timer?.cancel();
    this.#timer = null;
    if (when === null || this.#state === 'created') return;
    if (when <= this.#loop.time()) this.#timer = this.#loop.callAt(this.#loop.time(), this.#expire);
    else this.#timer = this.#loop.callAt(when, this.#expire);
  }

  /** asyncio: `Timeout.expired`. True once the deadline has cancelled the body. */
  expired(): boolean {
    return this.#state === 'expiring' || this.#state === 'expired';
  }

  /** @internal */
  _enter(task: Task<unknown>): void {
    this._task = task;
    this.#state = 'active';
    this.reschedule(this.#when);
  }

  /** @internal The body finished; returns true if it was the deadline that ended it. */
  _exit(): boolean {
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#state === 'expiring') {
      this.#state = 'expired';
      return true;
    }
    this.#state = 'exited';
    return false;
  }

  readonly #expire = (): void => {
    this.#timer = null;
    // A body that finished before its deadline (its done callbacks not yet run) did not expire.
    if (this.#state !== 'active' || this._task?.done() === true) return;
    this.#state = 'expiring';
    this._task?.cancel(undefined, { kind: 'timeout', deadline: this.#when ?? this.#loop.time() });
  };

  toString(): string {
    return `<Timeout [${this.#state}]${this.#when === null ? '' : ` when=${this.#when}`}>`;
  }
}

/** The Future of a timed body: cancelling it cancels the body. */
class TimeoutFuture<T> extends Future<T> {
  /** @internal */ _body: Task<T> | null = null;
  /** @internal */ _cancelRequested = false;
  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done() || this._body === null) return super.cancel(msg, reason);
    this._cancelRequested = true;
    return this._body.cancel(msg, reason ?? { kind: 'parent-cancelled' });
  }
}
(TimeoutFuture.prototype as { _unwinds: boolean })._unwinds = true; // cancel() cancels the body, which unwinds first

type Body<T> = (scope: TimeoutScope) => Coroutine<T> | PromiseLike<T>;

/** asyncio: `timeout(delay)`. Runs `body(scope)` with a deadline `delay` seconds away (null: none). */
export function timeout<T>(delay: number | null, body: Body<T>): Future<T> {
  const loop = getEventLoop();
  return timeoutAt(delay === null ? null : loop.time() + delay, body);
}

/** asyncio: `timeout_at(when)`. Runs `body(scope)` with a deadline at loop time `when`. */
export function timeoutAt<T>(when: number | null, body: Body<T>): Future<T> {
  const loop = getEventLoop();
  const scope = new TimeoutScope(loop, when);
  const outer = new TimeoutFuture<T>(loop);
  const task = loop.createTask<T>(isGeneratorFunction(body) ? (body(scope) as Coroutine<T>) : () => body(scope));
  outer._body = task;
  scope._enter(task as Task<unknown>);
  task.addDoneCallback(() => {
    const expired = scope._exit();
    if (!outer.done() && task.cancelled() && expired && !outer._cancelRequested) {
      outer._fail(new TimeoutError(`timed out at ${scope.when()}`, { cause: task._cancelledError() }));
    } else copyOutcome(task, outer);
  });
  return outer;
}
