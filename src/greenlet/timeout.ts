// Timeout: gevent's Timeout, raised inside the greenlet (or task) that started it.
//
// start() captures the current task and arms one loop timer; when it fires, the task is
// interrupted (Task#_interrupt) at whatever wait it is blocked on with the Timeout itself, or
// with the exception given to the constructor. `exception === false` makes it silent: run()
// and withTimeout() then end quietly (gevent's `with Timeout(1, False)`). run(fn) is gevent's
// `with` block: a generator body is delegated to with `yield*` (it runs in the caller's task,
// so the caller's own waits are what gets interrupted); an async body is awaited. Where no task
// is there to interrupt (the top level of a module), and always for withTimeout(), the body runs
// as a task of its own under the timeout (_runAsTask).

import type { TimerHandle } from '../loop/handle.js';
import type { Task } from '../tasks/task.js';
import type { Future } from '../tasks/future.js';
import { currentTask } from '../tasks/create-task.js';
import { RuntimeError } from '../tasks/errors.js';
import { copyOutcome } from '../tasks/chain.js';
import { checkSeconds } from '../tasks/options.js';
import { isGenerator, isGeneratorFunction, type Coroutine } from '../tasks/coroutine.js';
import { BridgeFuture, hubLoop } from './hub.js';
import { _setTimeoutFactory } from './greenlet.js';

function fire(t: Timeout): void {
  t._fire();
}

/** gevent: `gevent.Timeout(seconds=None, exception=None)`. */
export class Timeout extends Error {
  readonly seconds: number | null;
  readonly #exception: unknown;
  #timer: TimerHandle | null = null;
  #target: Task<unknown> | null = null;

  constructor(seconds: number | null = null, exception?: unknown) {
    if (seconds !== null) checkSeconds('Timeout seconds', seconds, true);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // raised at the wait it interrupts, not where it was made
    super(); // the message is a getter (below): most timeouts are cancelled, never shown
    Error.stackTraceLimit = limit;
    this.seconds = seconds;
    this.#exception = exception;
  }

  /** "N seconds", as gevent's str(Timeout) says. */
  override get message(): string {
    const s = this.seconds;
    return s === null ? 'timeout' : `${s} second${s === 1 ? '' : 's'}`;
  }

  /** True when constructed with `exception === false`: expiry ends run()/withTimeout quietly. */
  get silent(): boolean {
    return this.#exception === false;
  }

  /** gevent: `Timeout.pending`. Armed and not yet fired or cancelled. */
  get pending(): boolean {
    return this.#timer !== null;
  }

  /** gevent: `Timeout.start()`. Arms the timer for the current greenlet or task. */
  start(): this {
    if (this.#timer !== null) return this;
    const task = currentTask();
    if (task === null) throw new RuntimeError('Timeout.start() needs a running greenlet or task; at the top level of a module, use `await timeout.run(async () => …)` or withTimeout()');
    task._interruptible = true;
    this.#target = task;
    if (this.seconds !== null) this.#timer = hubLoop().callLater(this.seconds, fire, this);
    return this;
  }

  /** @internal the timer fired (a module function calls it: no closure per Timeout) */
  _fire(): void {
    this.#timer = null;
    const ex = this.#exception;
    const error = ex === undefined || ex === null || ex === false ? this : typeof ex === 'function' ? new (ex as new () => unknown)() : ex;
    this.#target?._interrupt(error);
  }

  /** gevent: `Timeout.cancel()` (also `close()`). */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  /** gevent: `with Timeout(...)`. `yield* t.run(function* () { … })` or `await t.run(async () => …)`.
   *  Resolves to the body's result, or undefined when a silent timeout expired. */
  run<T>(body: () => Coroutine<T>): Coroutine<T | undefined>;
  run<T>(body: () => PromiseLike<T>): Promise<T | undefined>;
  run<T>(body: () => Coroutine<T> | PromiseLike<T>): Coroutine<T | undefined> | Promise<T | undefined> {
    // At the top level of a module (gevent's main greenlet) there is no task to interrupt: the
    // body runs as one, and the caller awaits a Future of its outcome.
    if (currentTask() === null) return this._runAsTask(body, null) as unknown as Promise<T | undefined>;
    if (isGeneratorFunction(body)) return this.#runGen(body as () => Coroutine<T>);
    // An arrow or method that returns a generator (`() => work(x)`) is a generator body too:
    // only calling it tells. Calling it now runs nothing of a generator, and an async body
    // only up to its first await, in this same turn, before any time can pass.
    const made = body();
    if (isGenerator(made)) return this.#runGen(() => made as Coroutine<T>);
    return this.#runAsync(() => made as PromiseLike<T>);
  }

  *#runGen<T>(body: () => Coroutine<T>): Coroutine<T | undefined> {
    this.start();
    try {
      return yield* body();
    } catch (error) {
      if (error === this && this.silent) return undefined;
      throw error;
    } finally {
      this.cancel();
    }
  }

  async #runAsync<T>(body: () => PromiseLike<T>): Promise<T | undefined> {
    this.start();
    try {
      return await body();
    } catch (error) {
      if (error === this && this.silent) return undefined;
      throw error;
    } finally {
      this.cancel();
    }
  }

  /** @internal Runs `body` as a task of its own (in `greenlet`, for getcurrent()) under this
   *  timeout: the top-level run(), and withTimeout(). */
  _runAsTask<T>(body: () => Coroutine<T> | PromiseLike<T>, greenlet: unknown): BridgeFuture<T | undefined> {
    const loop = hubLoop();
    const out = new BridgeFuture<T | undefined>(loop);
    const task = loop.createTask<T>(body);
    task._interruptible = true;
    task._greenlet = greenlet as Task<unknown>['_greenlet'];
    this.#target = task;
    if (this.seconds !== null) this.#timer = loop.callLater(this.seconds, fire, this);
    task.addDoneCallback(() => {
      this.cancel();
      if (this.silent && !task.cancelled() && task.exception() === this) out._finish(undefined);
      else copyOutcome(task, out);
    });
    return out;
  }

  /** gevent: `Timeout.start_new(seconds, exception)`. */
  static startNew(seconds: number | null, exception?: unknown): Timeout {
    return new Timeout(seconds, exception).start();
  }

  override toString(): string {
    return `<Timeout at ${this.seconds ?? 'never'} s${this.pending ? ' pending' : ''}${this.silent ? ' silent' : ''}>`;
  }
}
Timeout.prototype.name = 'Timeout';

_setTimeoutFactory((seconds) => new Timeout(seconds));

/** gevent: `gevent.with_timeout(seconds, function, *args, timeout_value=...)`. Runs `fn(...args)`
 *  in a task of its own under the timeout; on expiry resolves to `timeoutValue` if one was given
 *  (as the last argument: `{ timeoutValue }`), else raises Timeout. */
export function withTimeout<T, A extends unknown[]>(seconds: number, fn: (...args: A) => Coroutine<T> | PromiseLike<T>, ...args: A): BridgeFuture<T> {
  const last = args[args.length - 1] as { timeoutValue?: unknown } | undefined;
  const hasValue = typeof last === 'object' && last !== null && 'timeoutValue' in last && Object.keys(last).length === 1;
  const callArgs = (hasValue ? args.slice(0, -1) : args) as A;
  const timeout = new Timeout(seconds);
  const inner = timeout._runAsTask<T>(() => fn(...callArgs), currentTask()?._greenlet ?? null);
  if (!hasValue) return inner as BridgeFuture<T>;
  const out = new BridgeFuture<T>(inner.getLoop());
  inner.addDoneCallback(() => {
    if (!inner.cancelled() && inner.exception() === timeout) out._finish(last!.timeoutValue as T);
    else copyOutcome(inner as Future<T>, out);
  });
  return out;
}
