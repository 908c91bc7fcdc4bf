// Module-level task functions: createTask, currentTask, allTasks, ensureFuture, fromPromise.
//
// They find their loop with getEventLoop(): the running loop inside a callback, a task step or
// an async-function task, else the default loop. Differs from asyncio: `create_task` outside a
// running loop raises there; here it schedules the task on the default loop, which is what the
// greenlet bridge and top-level scripts need (documented in docs/tasks.md).

import type { EventLoop } from '../loop/event-loop.js';
import { getEventLoop, runningTaskOrNull } from '../loop/running.js';
import { Future } from './future.js';
import type { Task, TaskBody } from './task.js';
import { isGenerator, isThenable, type Awaitable } from './coroutine.js';
import { RuntimeError } from './errors.js';

/** asyncio: `create_task`. Runs `body` (a coroutine, a promise, or a function returning either)
 *  as a Task on the current loop. */
export function createTask<T>(body: TaskBody<T>, options: { name?: string } = {}): Task<T> {
  return getEventLoop().createTask(body, options);
}

/** asyncio: `current_task`. The task running now (generator or async-function), or null. */
export function currentTask(): Task<unknown> | null {
  return runningTaskOrNull();
}

/** asyncio: `all_tasks`. Tasks of the loop (default: current) that are not done. */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  return (loop ?? getEventLoop()).allTasks();
}

/** asyncio: `ensure_future`. A Future as is; a coroutine, promise or function as a Task. */
export function ensureFuture<T>(x: Awaitable<T> | (() => Awaitable<T>), loop?: EventLoop): Future<T> {
  if (x instanceof Future) {
    if (loop !== undefined && x._loop !== loop) throw new RuntimeError('The future belongs to a different loop than the one specified');
    return x;
  }
  if (isGenerator(x) || isThenable(x) || typeof x === 'function') return (loop ?? getEventLoop()).createTask(x as TaskBody<T>);
  throw new TypeError(`a Future, coroutine, promise or function is required, got ${String(x)}`);
}

/** asyncio: `wrap_future` for promises. A Future that settles with `p`. Cancelling the
 *  Future does not stop whatever produces `p` (a promise cannot be cancelled). */
export function fromPromise<T>(p: PromiseLike<T>, loop?: EventLoop): Future<T> {
  const fut = new Future<T>(loop ?? getEventLoop());
  p.then(
    (value) => { if (!fut.done()) fut._finish(value); },
    (error) => { if (!fut.done()) fut._fail(error); },
  );
  return fut;
}
