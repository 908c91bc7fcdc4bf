// run and the event-loop policy: which loop `getEventLoop()` returns outside a running loop.
//
// `run(main)` is asyncio.run: a new loop runs main to completion, the tasks left are cancelled
// and awaited, and the loop is closed. While it runs it is also the default loop, so code that
// calls getEventLoop() (the greenlet bridge at top level) finds it; the previous default comes
// back afterwards. Ctrl-C: the first SIGINT cancels main (its `finally` blocks run) and run
// rejects with KeyboardInterrupt; a second SIGINT exits the process at once with status 130.
// Differs from asyncio.Runner, which installs its handler only over Python's default one: here
// run owns SIGINT while it runs (loaders such as tsx add listeners of their own).

import { EventLoop } from './event-loop.js';
import type { Clock } from './clock.js';
import { hooks } from './running.js';
import { CancelledError, KeyboardInterrupt } from '../tasks/errors.js';
import type { Awaitable, Coroutine } from '../tasks/coroutine.js';
import type { TaskBody } from '../tasks/task.js';

export { getRunningLoop, getEventLoop } from './running.js';

let defaultLoop: EventLoop | null = null;
hooks.defaultLoop = () => {
  if (defaultLoop === null || defaultLoop.isClosed()) defaultLoop = new EventLoop();
  return defaultLoop;
};

/** asyncio: `set_event_loop`. The loop getEventLoop() returns outside a running loop. */
export function setEventLoop(loop: EventLoop | null): void {
  defaultLoop = loop;
}

/** asyncio: `new_event_loop`. */
export function newEventLoop(options: { clock?: Clock; debug?: boolean } = {}): EventLoop {
  return new EventLoop(options);
}

export interface RunOptions {
  debug?: boolean;
  clock?: Clock;
  /** Project only: print the task tree (loop.formatTasks()) to stderr on this signal. */
  dumpOnSignal?: NodeJS.Signals;
}

/** asyncio: `run`. Runs `main` (a coroutine, a promise, or a function returning either) on a new
 *  loop, cancels what is left, closes the loop; resolves to main's result. */
export async function run<T>(main: Awaitable<T> | (() => Coroutine<T> | PromiseLike<T> | T), options: RunOptions = {}): Promise<T> {
  const loop = new EventLoop({ clock: options.clock, debug: options.debug });
  const previous = defaultLoop;
  defaultLoop = loop;
  const task = loop.createTask<T>(main as TaskBody<T>, { name: 'main' });
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    if (!loop.isClosed()) loop.callSoon(() => task.cancel('KeyboardInterrupt', { kind: 'shutdown', signal: 'SIGINT' }));
  };
  process.on('SIGINT', onSigint);
  const dump = (): void => { process.stderr.write(`${loop.formatTasks()}\n`); };
  if (options.dumpOnSignal !== undefined) process.on(options.dumpOnSignal, dump);
  try {
    return await loop.runUntilComplete(task);
  } catch (error) {
    if (interrupted && error instanceof CancelledError) throw new KeyboardInterrupt('SIGINT');
    throw error;
  } finally {
    try {
      await cancelAll(loop);
    } finally {
      process.off('SIGINT', onSigint);
      if (options.dumpOnSignal !== undefined) process.off(options.dumpOnSignal, dump);
      loop.close();
      if (defaultLoop === loop) defaultLoop = previous;
    }
  }
}

async function cancelAll(loop: EventLoop): Promise<void> {
  const left = [...loop.allTasks()];
  if (left.length === 0) return;
  for (const t of left) t.cancel(undefined, { kind: 'shutdown' });
  const all = loop.createFuture<void>();
  let pending = left.length;
  for (const t of left) {
    t.addDoneCallback(() => {
      if (--pending === 0) all.setResult();
    });
  }
  await loop.runUntilComplete(all);
  for (const t of left) {
    if (t.cancelled()) continue;
    const error = t.exception();
    if (error !== null) loop.callExceptionHandler({ message: 'unhandled exception during run() shutdown', exception: error, task: t });
  }
}

