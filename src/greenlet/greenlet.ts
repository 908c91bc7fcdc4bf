// Greenlet: gevent's unit of work, on a Tulip Task.
//
// A greenlet body is a plain function — a generator function (waits with `yield*`) or an async
// function (waits with `await`) — run as a Task marked interruptible, so kill() and Timeout
// raise inside it at whatever Tulip wait it is blocked on, however deep the call chain
// (Task#_interrupt). Waits on foreign promises cannot be interrupted until they settle: that is
// gevent's "C extension" caveat, and the reason to wrap them in fromPromise().
//
// Greenlets start in spawn order, one at a time (their first steps are ready callbacks, FIFO),
// so programs print the same lines on every run. State follows gevent: started, ready(),
// successful(), value, exception (a property, as in gevent), dead. An exception stays inside
// the greenlet: it is reported through the loop's exception handler with the greenlet's name and
// never raised in the spawner; get(), `yield*` and `await` re-raise it. A greenlet ended by
// GreenletExit is successful and its value is the GreenletExit. One whose task is cancelled
// (run()'s shutdown, a task that cancels it) ends with the CancelledError as its exception,
// unreported, as a cancelled task is. Links run as loop callbacks.
//
// A Greenlet is Future-like, not a Future (gevent's `exception` property would clash with
// Future.exception()): it is `yield*`-able and awaitable through an inner Future, which
// greenletToFuture() hands out for Tulip's wait/gather.

import type { EventLoop } from '../loop/event-loop.js';
import type { TimerHandle } from '../loop/handle.js';
import type { Future } from '../tasks/future.js';
import type { Task, TaskBody } from '../tasks/task.js';
import type { Group, Pool } from './group.js';
import { isAsyncFunction, isGeneratorFunction, type Coroutine, type Yieldable } from '../tasks/coroutine.js';
import { CancelledError } from '../tasks/errors.js';
import { BridgeFuture, GreenletExit, SharedBridgeFuture, blockOptions, getcurrent, hubLoop, type BlockOptions } from './hub.js';

/** What a greenlet runs: a generator function, an async function, or a plain function. */
export type GreenletBody<T, A extends unknown[]> = (...args: A) => Coroutine<T> | PromiseLike<T> | T;

type Link<T> = (g: Greenlet<T>) => void;
type State = 'new' | 'scheduled' | 'running' | 'dead';
let counter = 0;

/** gevent: `Greenlet`. Give a body to the constructor, or subclass and override run(). */
export class Greenlet<T = unknown> implements PromiseLike<T> {
  readonly #loop: EventLoop;
  /** The result Future, made on first use (join, get, yield*, await): most greenlets in a
   *  Pool or a joinall are only watched through _whenDead, which needs no Future. */
  #done: BridgeFuture<T> | null = null;
  /** Synchronous death hooks (wait(), Group): one function, or several. */
  #onDeath: ((g: Greenlet<T>) => void) | Array<(g: Greenlet<T>) => void> | null = null;
  readonly #body: GreenletBody<T, any[]> | null;
  readonly #args: unknown[];
  #state: State = 'new';
  #task: Task<T> | null = null;
  #later: TimerHandle | null = null;
  /** Made on the first link (most greenlets are only joined). */
  #links: Array<{ cb: Link<T>; when: 'any' | 'value' | 'exception' }> | null = null;
  #value: T | undefined = undefined;
  #exception: unknown = null;
  #name: string | null = null;
  readonly #id: number;
  /** @internal a Pool's slot: the greenlet starts when this future is done. */
  _gate: Future<unknown> | null = null;
  /** @internal The groups it is in, as (group, slot in the group's roster) pairs; made on the
   *  first add (Group keeps no Set of its greenlets: see src/loop/roster.ts). */
  _groups: Array<Group | number> | null = null;
  /** @internal The Pool whose slot it holds while it runs. */
  _heldBy: Pool | null = null;

  constructor(body?: GreenletBody<T, any[]>, ...args: unknown[]) {
    // gevent: "The run argument or self._run must be callable", at construction, not at start
    if (body != null && typeof body !== 'function') throw new TypeError(`a greenlet's body must be a function, got ${typeof body} ${String(body)}`);
    this.#loop = hubLoop();
    this.#body = body ?? null;
    this.#args = args;
    this.#id = ++counter;
  }

  /** gevent: `Greenlet.run`. Override in a subclass (a generator method or an async one). */
  run(...args: unknown[]): Coroutine<T> | PromiseLike<T> | T {
    if (this.#body === null) throw new TypeError(`${this.name} has no body: pass one to the constructor or override run()`);
    return this.#body(...args);
  }

  /** gevent: `Greenlet.name` (made on first use). */
  get name(): string {
    return (this.#name ??= `Greenlet-${this.#id}`);
  }

  set name(value: string) {
    this.#name = String(value);
  }

  /** gevent: `Greenlet.started`. Scheduled or running, not yet dead. */
  get started(): boolean {
    return this.#state === 'scheduled' || this.#state === 'running';
  }

  /** gevent: `Greenlet.dead`. */
  get dead(): boolean {
    return this.#state === 'dead';
  }

  /** gevent: `Greenlet.ready()`. */
  ready(): boolean {
    return this.#state === 'dead';
  }

  /** gevent: `Greenlet.successful()`. Dead without an exception (GreenletExit counts as success). */
  successful(): boolean {
    return this.#state === 'dead' && this.#exception === null;
  }

  /** gevent: `Greenlet.value`. The result once successful, else undefined. */
  get value(): T | undefined {
    return this.#value;
  }

  /** gevent: `Greenlet.exception`. What it died of, else null. */
  get exception(): unknown {
    return this.#exception;
  }

  /** gevent: `Greenlet.start()`. Schedules it: FIFO with every other ready callback. */
  start(): this {
    if (this.#state !== 'new') return this;
    this.#state = 'scheduled';
    const gate = this._gate;
    if (gate === null || gate.done()) this.#launch();
    else gate.addDoneCallback(() => { if (this.#state === 'scheduled') this.#launch(); });
    return this;
  }

  /** gevent: `Greenlet.start_later(seconds)`. */
  startLater(seconds: number): this {
    if (this.#state !== 'new') return this;
    this.#state = 'scheduled';
    this.#later = this.#loop.callLater(seconds, () => {
      this.#later = null;
      if (this.#state === 'scheduled') this.#launch();
    });
    return this;
  }

  #launch(): void {
    this.#state = 'running';
    const loop = this.#loop;
    const target = this.run === Greenlet.prototype.run ? this.#body : this.run;
    const plain = target !== null && !isGeneratorFunction(target) && !isAsyncFunction(target);
    const task = loop.createTask<T>(this.#taskBody(target), { name: this.#name ?? undefined, _plain: plain, _siteKey: target ?? undefined });
    task._interruptible = true;
    task._greenlet = this;
    this.#task = task;
  }

  #taskBody(target: ((...a: any[]) => unknown) | null): TaskBody<T> {
    const args = this.#args;
    const fn: (...a: unknown[]) => unknown = target === this.#body && target !== null ? target : this.run.bind(this);
    if (target !== null && isGeneratorFunction(target)) return fn(...args) as Coroutine<T>;
    return (): T => fn(...args) as T; // a plain body's task skips AsyncLocalStorage (see #launch)
  }

  /** @internal Called by the task the moment it is done (a Timeout's inner task shares the
   *  greenlet, so only our own task counts). */
  _taskDone(task: Task<T>): void {
    if (task !== this.#task) return;
    if (task.cancelled()) this.#die(undefined, task._cancelledError());
    else {
      const error = task.exception();
      if (error === null) this.#die(task.result(), null);
      else this.#die(undefined, error);
    }
  }

  /** Ends the greenlet with `value` or `error` (GreenletExit is a value). */
  #die(value: T | undefined, error: unknown): void {
    if (this.#state === 'dead') return;
    this.#state = 'dead';
    if (error instanceof GreenletExit) {
      value = error as T;
      error = null;
    }
    if (error === null) {
      this.#value = value;
    } else {
      this.#exception = error;
      // Cancelled from the asyncio side (run()'s shutdown, a task that cancels it) is an end, as
      // a kill is, not a failure to report; a silent Timeout neither.
      const silent = error instanceof CancelledError || (error as { silent?: boolean } | null)?.silent === true;
      if (!silent) this.#loop.callExceptionHandler({ message: `${this.name} failed with ${(error as Error)?.name ?? String(error)}`, exception: error, greenlet: this });
    }
    if (this.#done !== null) this.#settle(this.#done);
    const hooks = this.#onDeath;
    this.#onDeath = null;
    if (hooks !== null) {
      if (typeof hooks === 'function') this.#runHook(hooks);
      else for (const h of hooks) this.#runHook(h);
    }
    const links = this.#links;
    this.#links = null;
    // One loop callback runs them all, in the order linked (gevent's _notify_links).
    if (links !== null && links.length > 0) this.#loop.callSoon(notifyLinks, this.#loop, this, links);
  }

  #settle(done: BridgeFuture<T>): void {
    if (this.#exception === null) {
      done._finish(this.#value as T);
    } else {
      done._fail(this.#exception);
      done.exception(); // reported through the exception handler already, not again at GC
    }
  }

  #runHook(hook: (g: Greenlet<T>) => void): void {
    try {
      hook(this);
    } catch (error) {
      this.#loop.callExceptionHandler({ message: `Exception in a death hook of ${this}`, exception: error });
    }
  }

  /** @internal Calls `hook(this)` the moment it dies, synchronously (at once if dead). For the
   *  bridge's own bookkeeping: user code links, which runs as a loop callback. */
  _whenDead(hook: (g: Greenlet<T>) => void): void {
    if (this.#state === 'dead') return hook(this);
    const h = this.#onDeath;
    if (h === null) this.#onDeath = hook;
    else if (typeof h === 'function') this.#onDeath = [h, hook];
    else h.push(hook);
  }

  /** @internal Forgets a hook given to _whenDead (a wait that timed out). */
  _unwhenDead(hook: (g: Greenlet<T>) => void): void {
    const h = this.#onDeath;
    if (h === hook) this.#onDeath = null;
    else if (Array.isArray(h)) {
      const i = h.indexOf(hook);
      if (i >= 0) h.splice(i, 1);
    }
  }

  /** @internal for tests: death hooks still attached. */
  get _hookCount(): number {
    const h = this.#onDeath;
    return h === null ? 0 : typeof h === 'function' ? 1 : h.length;
  }

  /** gevent: `Greenlet.join(timeout)`. Resolves to true once dead, false if the timeout passed
   *  first; never raises the greenlet's exception. */
  join(timeout?: number | null): Future<boolean> {
    return waitReady(this._future, timeout ?? null);
  }

  /** gevent: `Greenlet.get(block, timeout)`. The value, or raises the exception; raises Timeout
   *  if it is not dead in time (at once with `block: false`). */
  get(options: BlockOptions = {}): Future<T> {
    const { block, timeout } = blockOptions('get', options);
    const loop = this.#loop;
    const out = new BridgeFuture<T>(loop);
    const settle = (): void => {
      if (out.done()) return;
      if (this.#state !== 'dead') out._fail(makeTimeout(timeout ?? 0));
      else if (this.#exception !== null) out._fail(this.#exception);
      else out._finish(this.#value as T);
    };
    if (this.#state === 'dead' || !block) settle();
    else waitReady(this._future, timeout).addDoneCallback(settle);
    return out;
  }

  /** gevent: `Greenlet.kill(exception=GreenletExit, block=True, timeout=None)`. Raises
   *  `exception` inside the greenlet at its current wait; a greenlet not started yet never runs.
   *  With `block` the Future resolves (to true) once it is dead. */
  kill(exception: unknown = GreenletExit, options: BlockOptions = {}): Future<boolean> {
    const { block, timeout } = blockOptions('kill', options);
    const error = typeof exception === 'function' ? new (exception as new () => unknown)() : exception;
    if (this.#state === 'new' || this.#state === 'scheduled') {
      this.#later?.cancel();
      this.#later = null;
      this.#die(undefined, error);
    } else if (this.#state === 'running') {
      const task = this.#task!;
      if (block && getcurrent() === (this as Greenlet<unknown>)) {
        // A greenlet killing itself and waiting for it: gevent raises the exception right there.
        const f = new BridgeFuture<boolean>(this.#loop);
        f._fail(error);
        return f;
      }
      task._interrupt(error);
      if (!task._started) this.#die(undefined, error); // never ran a line: dead at once, as in gevent
    }
    if (!block) {
      const f = new BridgeFuture<boolean>(this.#loop);
      f._finish(this.#state === 'dead');
      return f;
    }
    return waitReady(this._future, timeout);
  }

  /** gevent: `Greenlet.link(callback)`: `cb(greenlet)` once it is dead. */
  link(cb: Link<T>): void {
    this.#addLink(cb, 'any');
  }

  /** gevent: `Greenlet.link_value`: only if it ended successfully. */
  linkValue(cb: Link<T>): void {
    this.#addLink(cb, 'value');
  }

  /** gevent: `Greenlet.link_exception`: only if it died of an exception. */
  linkException(cb: Link<T>): void {
    this.#addLink(cb, 'exception');
  }

  /** gevent: `Greenlet.unlink`. */
  unlink(cb: Link<T>): void {
    const links = this.#links;
    if (links === null) return;
    for (let i = links.length - 1; i >= 0; i--) if (links[i]!.cb === cb) links.splice(i, 1);
  }

  #addLink(cb: Link<T>, when: 'any' | 'value' | 'exception'): void {
    if (this.#state !== 'dead') {
      (this.#links ??= []).push({ cb, when });
      return;
    }
    const ok = this.#exception === null;
    if (when === 'any' || (when === 'value') === ok) this.#loop.callSoon(cb, this);
  }

  // Future-like: `yield* g` and `await g` wait for the result (and re-raise the exception).
  [Symbol.iterator](): Iterator<Yieldable, T, unknown> {
    return this._future[Symbol.iterator]();
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._future.then(onFulfilled, onRejected);
  }

  /** @internal the Future that completes with the greenlet (greenletToFuture). */
  get _future(): BridgeFuture<T> {
    let done = this.#done;
    if (done === null) {
      done = this.#done = new SharedBridgeFuture<T>(this.#loop);
      done._what = this;
      if (this.#state === 'dead') this.#settle(done);
    }
    return done;
  }

  toString(): string {
    const state = this.#state === 'dead' ? (this.successful() ? 'dead, successful' : 'dead, failed') : this.#state;
    return `<Greenlet "${this.name}" [${state}]>`;
  }

  /** gevent: `Greenlet.spawn` (classmethod). */
  static spawn<T, A extends unknown[]>(fn: GreenletBody<T, A>, ...args: A): Greenlet<T> {
    return new Greenlet<T>(fn as GreenletBody<T, any[]>, ...args).start();
  }
}

/** Runs a dead greenlet's links; one that throws is reported and the rest still run. */
function notifyLinks<T>(loop: EventLoop, g: Greenlet<T>, links: Array<{ cb: Link<T>; when: 'any' | 'value' | 'exception' }>): void {
  const ok = g.successful();
  for (const { cb, when } of links) {
    if (when !== 'any' && (when === 'value') !== ok) continue;
    try {
      cb(g);
    } catch (error) {
      loop.callExceptionHandler({ message: `Exception in a link of ${g}`, exception: error });
    }
  }
}

/** Set by timeout.ts (it imports this file): builds gevent's Timeout for get(). */
let makeTimeout: (seconds: number) => unknown = (seconds) => new Error(`timed out after ${seconds} s`);
/** @internal */
export function _setTimeoutFactory(f: (seconds: number) => unknown): void {
  makeTimeout = f;
}

/** A Future of true once `fut` is done, false if `timeout` seconds pass first. */
export function waitReady(fut: Future<unknown>, timeout: number | null): BridgeFuture<boolean> {
  const loop = fut.getLoop();
  const out = new BridgeFuture<boolean>(loop);
  out._what = fut;
  if (fut.done()) {
    out._finish(true);
    return out;
  }
  let timer: TimerHandle | null = null;
  const onDone = (): void => {
    timer?.cancel();
    if (!out.done()) out._finish(true);
  };
  fut.addDoneCallback(onDone);
  if (timeout !== null) {
    timer = loop.callLater(timeout, () => {
      fut.removeDoneCallback(onDone);
      if (!out.done()) out._finish(false);
    });
  }
  out.addDoneCallback(() => {
    if (!out.cancelled()) return;
    timer?.cancel();
    fut.removeDoneCallback(onDone);
  });
  return out;
}

/** gevent: `gevent.spawn(fn, *args)`. */
export function spawn<T, A extends unknown[]>(fn: GreenletBody<T, A>, ...args: A): Greenlet<T> {
  return Greenlet.spawn(fn, ...args);
}

/** gevent: `gevent.spawn_later(seconds, fn, *args)`. */
export function spawnLater<T, A extends unknown[]>(seconds: number, fn: GreenletBody<T, A>, ...args: A): Greenlet<T> {
  return new Greenlet<T>(fn as GreenletBody<T, any[]>, ...args).startLater(seconds);
}
