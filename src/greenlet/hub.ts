// The hub: what every part of the greenlet bridge shares.
//
// gevent runs greenlets on a hub; here the hub is the Tulip loop itself, so greenlets, tasks,
// locks and queues share one scheduler. A module may call the bridge at top level, outside any
// running loop (gevent scripts do): bridge Futures then run the default loop while they are
// awaited (BridgeFuture.then), and stop it once they are done; the next top-level await
// starts it again, as gevent's hub runs while the main greenlet blocks.
//
// Also here: gevent's errors (GreenletExit, Timeout's base, Empty, Full) and getcurrent().

import type { EventLoop } from '../loop/event-loop.js';
import '../loop/policy.js'; // registers the default loop, for 'tulip/greenlet' imported alone
import { getEventLoop } from '../loop/running.js';
import { Future } from '../tasks/future.js';
import { kControlFlow, type CancelReason } from '../tasks/errors.js';
import { copyOutcome, giveBackGrant } from '../tasks/chain.js';
import { currentTask } from '../tasks/create-task.js';
import type { Greenlet } from './greenlet.js';
import { optionsOf } from '../tasks/options.js';

/** gevent's `block=True, timeout=None` keywords, as the bridge takes them. */
export interface BlockOptions { block?: boolean; timeout?: number | null }

/** `options` checked (an object, see tasks/options.ts) and defaulted: block, no timeout. */
export function blockOptions(fn: string, options: BlockOptions | undefined): { block: boolean; timeout: number | null } {
  const { block = true, timeout = null } = optionsOf(fn, options, '{ block, timeout }');
  return { block, timeout };
}

/** gevent: `GreenletExit`. Raised inside a greenlet by `kill()`; a greenlet that ends with it
 *  counts as successful, with the GreenletExit as its value. */
export class GreenletExit extends Error {
  constructor(message = 'GreenletExit') {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // control flow, raised at the greenlet's wait: no trace needed
    super(message);
    Error.stackTraceLimit = limit;
  }
}
GreenletExit.prototype.name = 'GreenletExit';
(GreenletExit.prototype as unknown as Record<symbol, boolean>)[kControlFlow] = true; // never an unretrieved failure

/** gevent: `queue.Empty`. */
export class Empty extends Error {
  constructor(message = 'queue is empty') { super(message); }
}
Empty.prototype.name = 'Empty';

/** gevent: `queue.Full`. */
export class Full extends Error {
  constructor(message = 'queue is full') { super(message); }
}
Full.prototype.name = 'Full';

/** A Future that runs its loop while awaited from outside it (top-level `await`). */
export class BridgeFuture<T> extends Future<T> {
  /** @internal what a greenlet parked here waits for, for the task tree: a Future (described
   *  in turn) or an object with a toString. */
  declare _what: unknown;

  constructor(loop?: EventLoop) {
    super(loop); // assigned here, not by a field initializer (see Future)
    this._what = null;
  }

  /** @internal A bridge future is what a greenlet waits on, and an interrupt (kill, Timeout)
   *  cancels it; the outcome its source delivers later has nobody to go to, and is dropped
   *  instead of raising InvalidStateError in that source's callback. Sources that hand over a
   *  grant (a lock unit, a queue item, a connection) check for the cancel and give it back. */
  override _finish(value: T): void {
    if (this.cancelled()) return;
    super._finish(value);
  }

  /** @internal See _finish. */
  override _fail(error: unknown): void {
    if (this.cancelled()) return;
    super._fail(error);
  }

  override _describeWait(): string {
    const w = this._what;
    if (w === null) return super._describeWait();
    return w instanceof Future ? w._describeWait() : String(w);
  }

  override then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    driveWhileAwaited(this);
    return super.then(onFulfilled, onRejected);
  }
}

/** @internal A bridge future over an inner one that holds a grant (a queue item, a lock unit, a
 *  connection): cancelling it (kill, Timeout) cancels the inner wait at once, so nothing is
 *  granted in the same turn to a greenlet that is gone. Its source calls giveBackInner when the
 *  grant lands on a cancelled mirror, and sets it as the mirror's _onAbandon when the greenlet
 *  may be interrupted before it resumes. */
export class MirrorFuture<T, I = T> extends BridgeFuture<T> {
  declare readonly _inner: Future<I>;

  constructor(inner: Future<I>) {
    super(inner.getLoop());
    (this as { _inner: Future<I> })._inner = inner;
    this._what = inner;
  }

  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (!super.cancel(msg, reason)) return false;
    this._inner.cancel();
    return true;
  }
}

/** The inner future's grant goes back through it (see Future._onAbandon). */
export function giveBackInner(outer: Future<unknown>): void {
  giveBackGrant((outer as MirrorFuture<unknown, unknown>)._inner);
}

/** A greenlet's result: other greenlets and tasks join it, so an interrupt never cancels it. */
export class SharedBridgeFuture<T> extends BridgeFuture<T> {}
(SharedBridgeFuture.prototype as { _shared: boolean })._shared = true;

interface Pump { awaited: Set<Future<unknown>>; driving: boolean }
const pumps = new WeakMap<EventLoop, Pump>();

/** Runs the loop of `fut` while any bridge future awaited from outside is pending. A loop the
 *  program runs itself is left alone. The loop is restarted if a future is awaited just as it
 *  stops (a top-level `await` that resumes during the loop's last batch). */
export function driveWhileAwaited(fut: Future<unknown>): void {
  const loop = fut.getLoop();
  if (fut.done() || loop.isClosed() || loop._userDriven) return; // the program runs this loop
  let pump = pumps.get(loop);
  if (pump === undefined) pumps.set(loop, (pump = { awaited: new Set(), driving: false }));
  if (loop.isRunning() && !pump.driving) return; // someone else runs it
  const p = pump;
  if (!p.awaited.has(fut)) {
    p.awaited.add(fut);
    fut.addDoneCallback(() => {
      p.awaited.delete(fut);
      if (p.awaited.size === 0 && p.driving) loop.stop();
    });
  }
  start(loop, p);
}

function start(loop: EventLoop, p: Pump): void {
  if (p.driving || loop.isRunning() || loop.isClosed()) return;
  p.driving = true;
  loop._runForever().then(() => {
    p.driving = false;
    if (p.awaited.size > 0) start(loop, p);
  }, () => { p.driving = false; });
}

export function hubLoop(): EventLoop {
  return getEventLoop();
}

/** `f` as a waiting bridge call returns it: inside a greenlet or task, `f` itself (the loop
 *  runs); at the top level of a module, a mirror that runs the default loop while it is awaited,
 *  as every bridge future does (an awaited plain Future would wait for a loop nobody runs). */
export function bridged<T>(f: Future<T>): Future<T> {
  return f.done() || currentTask() !== null ? f : mirrored(f);
}

/** A bridge future with `f`'s outcome; cancelling it (a kill) cancels `f`. */
export function mirrored<T>(f: Future<T>): MirrorFuture<T> {
  const out = new MirrorFuture<T>(f);
  f.addDoneCallback(() => {
    copyOutcome(f, out);
    if (out.cancelled()) giveBackGrant(f); // cancelled meanwhile: a grant (bytes read) goes back
  });
  return out;
}

/** gevent: `getcurrent()`. The running greenlet, or null outside one (the main greenlet in
 *  gevent; here the code outside any greenlet, including plain Tulip tasks). */
export function getcurrent(): Greenlet<unknown> | null {
  const task = currentTask();
  return task === null ? null : ((task._greenlet as Greenlet<unknown> | null) ?? null);
}
