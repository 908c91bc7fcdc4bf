// The running-loop slot, and the only values the tasks layer may import from src/loop.
//
// `current.loop` is the loop whose callbacks are on the stack right now, and `current.task`
// the generator task whose step is running; both are set for the duration of a synchronous
// run and reset after it, so several loops can take turns on one Node thread (ava runs the
// tests of a file concurrently). Async-function tasks cannot use a slot, because their code
// resumes in promise jobs after the step returned: they are found through `asyncTaskContext`
// (an AsyncLocalStorage), which Node only starts paying for once the first such task exists.
//
// `defaultLoop` is filled in by policy.ts, so that `new Future()` outside a loop can find the
// default loop without tasks/ importing event-loop.ts (an ESM cycle).

import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventLoop } from './event-loop.js';
import type { Task } from '../tasks/task.js';
import { RuntimeError } from '../tasks/errors.js';

export const current: { loop: EventLoop | null; task: Task<unknown> | null; io: boolean } = { loop: null, task: null, io: false };

/** Runs `fn(a, b)` as a socket event (data, EOF, drain, close, an accepted or completed
 *  connection): a loop it wakes drives at Node's check phase, once for the whole poll phase
 *  (event-loop.ts). */
export function asSocketEvent<A, B>(fn: (a: A, b: B) => void, a: A, b: B): void {
  const prev = current.io;
  current.io = true;
  try {
    fn(a, b);
  } finally {
    current.io = prev;
  }
}

/** Store of the async-function task whose promise chain is running. */
export const asyncTaskContext = new AsyncLocalStorage<Task<unknown>>();

/** Runs `fn(a)` outside any async task's store, so what it schedules (a microtask, a Node timer)
 *  does not inherit the caller's task. Not AsyncLocalStorage.exit(): that disables the storage
 *  and, as it is the only one, Node's promise hooks with it, then enables them again, two global
 *  hook updates per call (a fifth of an async-function pingpong under --cpu-prof); run(undefined)
 *  sets one property on the current resource. */
export function outsideTask<A, R>(fn: (a: A) => R, a: A): R {
  return (asyncTaskContext as AsyncLocalStorage<Task<unknown> | undefined>).run(undefined, fn, a);
}

/** Flipped by the first async-function task, so the loop schedules its drives outside any
 *  task's context from then on (a drive must not inherit an async task's store). */
export const asyncEverUsed = { value: false };

/** Set by policy.ts: returns the default loop, creating it on first use. */
export const hooks: { defaultLoop: (() => EventLoop) | null } = { defaultLoop: null };

/** The task whose code is running (a generator step, or an async task's continuation), or null. */
export function runningTaskOrNull(): Task<unknown> | null {
  return current.task ?? asyncTaskContext.getStore() ?? null;
}

/** The loop running the current callback, task step or async-task continuation, or null. */
export function runningLoopOrNull(): EventLoop | null {
  if (current.loop !== null) return current.loop;
  const task = asyncTaskContext.getStore();
  return task === undefined ? null : task.getLoop();
}

/** asyncio: `get_running_loop`. Throws RuntimeError outside a running loop. */
export function getRunningLoop(): EventLoop {
  const loop = runningLoopOrNull();
  if (loop === null) throw new RuntimeError('no running event loop');
  return loop;
}

/** asyncio: `get_event_loop`. The running loop, else the default loop. */
export function getEventLoop(): EventLoop {
  const loop = runningLoopOrNull();
  if (loop !== null) return loop;
  if (hooks.defaultLoop === null) throw new RuntimeError('no event loop: import tulip from its package root');
  return hooks.defaultLoop();
}
