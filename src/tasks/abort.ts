// AbortSignal interop, both ways, without listener leaks.
//
// signalFor(task) is an AbortSignal that aborts (with the CancelledError, reason included) as
// soon as cancel() is requested for the task, or when the task ends cancelled; pass it to fetch()
// and other Node APIs so a cancel reaches them. cancelOn(signal) cancels a task when the signal
// aborts; its listener is removed when the task finishes, so a long-lived signal (a server's
// shutdown signal) does not collect one listener per request.

import type { Task } from './task.js';
import { currentTask } from './create-task.js';
import { CancelledError, RuntimeError } from './errors.js';

/** Project only. An AbortSignal that aborts when `task` (default: the current one) is cancelled. */
export function signalFor(task: Task<unknown> | null = currentTask()): AbortSignal {
  if (task === null) throw new RuntimeError('signalFor() needs a task');
  const controller = new AbortController();
  if (task.cancelled()) controller.abort(task._cancelledError());
  else if (!task.done()) {
    const hook = (reason: CancelledError['reason']): void => {
      if (!controller.signal.aborted) controller.abort(new CancelledError(reason?.kind === 'user' ? reason.message : undefined, reason));
    };
    (task._onCancel ??= []).push(hook);
    task.addDoneCallback(() => {
      const hooks = task._onCancel;
      if (hooks !== null) hooks.splice(hooks.indexOf(hook), 1);
      if (task.cancelled() && !controller.signal.aborted) controller.abort(task._cancelledError());
    });
  }
  return controller.signal;
}

/** Project only. Cancels `task` (default: the current one) when `signal` aborts, with reason
 *  `{ kind: 'user', message }`; the listener goes when the task finishes. Returns a function
 *  that detaches it earlier. */
export function cancelOn(signal: AbortSignal, task: Task<unknown> | null = currentTask()): () => void {
  if (task === null) throw new RuntimeError('cancelOn() needs a task');
  const message = (): string => { const r: unknown = signal.reason; return r instanceof Error ? r.message : String(r); };
  if (signal.aborted) {
    task.cancel(message(), { kind: 'user', message: message() });
    return () => {};
  }
  const onAbort = (): void => { task.cancel(message(), { kind: 'user', message: message() }); };
  signal.addEventListener('abort', onAbort, { once: true });
  const detach = (): void => signal.removeEventListener('abort', onAbort);
  task.addDoneCallback(detach);
  return detach;
}
