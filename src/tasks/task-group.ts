// TaskGroup: structured concurrency, asyncio 3.11's TaskGroup as a function of a body.
//
// `taskGroup(body)` runs `body(tg)` as a task; `tg.createTask()` adds children. The returned
// Future completes when the body and every child are done. The first child (or body) failure
// aborts the group: every other child and the body are cancelled (reason `sibling-failed`),
// and the group raises an AggregateError (Python's ExceptionGroup) of all failures, children's
// first, the body's last, as asyncio orders them. Cancelling the group's Future cancels the
// body and the children (reason `parent-cancelled`) and ends in CancelledError unless a child
// failed. States: created -> entered -> exiting -> exited.
//
// Two-phase shutdown (project only): `tg.cancel({ grace })` stops the group taking new tasks,
// lets the body and children finish for `grace` seconds, then cancels what is left with
// reason `{ kind: 'shutdown' }`; the group then ends in that CancelledError (unless a child
// failed). A group cancelled from outside never reports the body's result as if it had run out.
//
// Differs from asyncio: the body is its own task, so a child failure cancels the body task
// instead of the caller's, and no uncancel() bookkeeping is needed.

import type { EventLoop } from '../loop/event-loop.js';
import { getEventLoop } from '../loop/running.js';
import { Roster } from '../loop/roster.js';
import { Future } from './future.js';
import type { Task, TaskBody } from './task.js';
import { isGeneratorFunction, type Coroutine } from './coroutine.js';
import { CancelledError, RuntimeError, type CancelReason } from './errors.js';

type GroupState = 'created' | 'entered' | 'exiting' | 'exited';

/** asyncio: `TaskGroup`. Made by `taskGroup(body)`. */
export class TaskGroup {
  #loop: EventLoop;
  #state: GroupState = 'created';
  /** Children in slots (each task keeps its slot in _tGroupSlot), not a Set: a long-lived group
   *  whose children come and go would keep finished ones alive through young-generation GCs
   *  (see src/loop/roster.ts). */
  readonly #children = new Roster<Task<unknown>>();
  #errors: unknown[] = [];
  #aborting = false;
  #body: Task<unknown> | null = null;
  #bodyError: unknown = undefined;
  /** Set when the group was cancelled from outside (directly or after a shutdown's grace). */
  #cancelledBy: CancelledError | null = null;
  #draining = false;
  #outer: GroupFuture<unknown>;

  /** @internal */
  constructor(loop: EventLoop, outer: GroupFuture<unknown>) {
    this.#loop = loop;
    this.#outer = outer;
  }

  /** asyncio: `TaskGroup.create_task`. */
  createTask<T>(body: TaskBody<T>, options: { name?: string } = {}): Task<T> {
    if (this.#state === 'created') throw new RuntimeError(`TaskGroup ${this} has not been entered`);
    if (this.#state === 'exited') throw new RuntimeError(`TaskGroup ${this} is finished`);
    if (this.#aborting || this.#draining) throw new RuntimeError(`TaskGroup ${this} is shutting down`);
    const task = this.#loop.createTask(body, options);
    task._tGroupSlot = this.#children.add(task as Task<unknown>);
    task.addDoneCallback(this.#onChildDone);
    return task;
  }

  /** @internal */
  _start<T>(body: (tg: TaskGroup) => Coroutine<T> | PromiseLike<T>): void {
    this.#state = 'entered';
    const task = this.#loop.createTask<T>(isGeneratorFunction(body) ? (body(this) as Coroutine<T>) : () => body(this));
    this.#body = task as Task<unknown>;
    task.addDoneCallback(() => {
      if (this.#state === 'entered') this.#state = 'exiting';
      if (!task.cancelled()) {
        const error = task.exception();
        if (error !== null) {
          this.#bodyError = error;
          this.#abort({ kind: 'sibling-failed', error });
        }
      }
      this.#maybeFinish();
    });
  }

  /** @internal cancel from outside */
  _cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.#state === 'exited') return false;
    const why = reason ?? { kind: 'parent-cancelled' };
    this.#cancelledBy ??= new CancelledError(msg, why);
    // asyncio's order: the cancel reaches the body (the task inside `async with`) first, and
    // its __aexit__ then cancels the children; a child's failure cancels children first.
    const body = this.#body;
    if (body !== null && !body.done()) body.cancel(msg, why);
    this.#abort(why, msg, false);
    return true;
  }

  /** Project only: two-phase shutdown. Refuses new tasks at once, lets the body and children
   *  finish for `grace` seconds (default 0), then cancels the rest with reason
   *  `{ kind: 'shutdown' }`. Returns the group's Future, which ends when every task is done. */
  cancel(options: { grace?: number; message?: string } = {}): Future<unknown> {
    const grace = options.grace ?? 0;
    if (!(grace >= 0)) throw new RangeError(`grace must be seconds >= 0, got ${grace}`);
    if (this.#state === 'exited' || this.#draining) return this.#outer;
    this.#draining = true;
    const reason: CancelReason = { kind: 'shutdown' };
    if (grace === 0) {
      this._cancel(options.message, reason);
    } else {
      const timer = this.#loop.callLater(grace, () => this._cancel(options.message, reason));
      this.#outer.addDoneCallback(() => timer.cancel());
    }
    return this.#outer;
  }

  readonly #onChildDone = (task: Future<unknown>): void => {
    this.#children.remove((task as Task<unknown>)._tGroupSlot, task as Task<unknown>);
    if (!task.cancelled()) {
      const error = task.exception();
      if (error !== null) {
        this.#errors.push(error);
        if (!this.#aborting) this.#abort({ kind: 'sibling-failed', error });
      }
    }
    this.#maybeFinish();
  };

  #abort(reason: CancelReason, msg?: string, cancelBody = true): void {
    this.#aborting = true;
    for (const child of this.#children.toArray()) child.cancel(msg, reason);
    const body = this.#body;
    if (cancelBody && body !== null && !body.done()) body.cancel(msg, reason);
  }

  #maybeFinish(): void {
    const body = this.#body;
    if (body === null || !body.done() || this.#children.size > 0 || this.#state === 'exited') return;
    this.#state = 'exited';
    const outer = this.#outer;
    if (outer.done()) return;
    const errors = this.#bodyError === undefined ? this.#errors : [...this.#errors, this.#bodyError];
    if (errors.length > 0) outer._fail(new AggregateError(errors, `unhandled errors in a TaskGroup (${errors.length} sub-exception${errors.length === 1 ? '' : 's'})`));
    else if (this.#cancelledBy !== null) outer._finishCancelled(this.#cancelledBy);
    else if (body.cancelled()) outer._finishCancelled(body._cancelledError());
    else outer._finish(body.result());
  }

  toString(): string {
    return `<TaskGroup [${this.#state}] tasks=${this.#children.size}${this.#aborting ? ' aborting' : this.#draining ? ' draining' : ''}>`;
  }
}

class GroupFuture<T> extends Future<T> {
  /** @internal */ _group: TaskGroup | null = null;
  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (this.done()) return false;
    if (this._group === null) return super.cancel(msg, reason);
    return this._group._cancel(msg, reason);
  }
}
(GroupFuture.prototype as { _unwinds: boolean })._unwinds = true; // cancel() cancels the body, which unwinds first

/** asyncio: `async with TaskGroup() as tg:` — runs `body(tg)`; resolves to its result once every
 *  child is done, or raises an AggregateError of the failures. */
export function taskGroup<T>(body: (tg: TaskGroup) => Coroutine<T> | PromiseLike<T>): Future<T> {
  const loop = getEventLoop();
  const outer = new GroupFuture<T>(loop);
  const tg = new TaskGroup(loop, outer as GroupFuture<unknown>);
  outer._group = tg;
  tg._start(body);
  return outer;
}

