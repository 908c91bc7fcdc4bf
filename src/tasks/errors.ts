// Errors shared by every layer.
//
// Each class is one failure a caller can act on; its data lives in fields and its message
// states what happened with the numbers. Every class sets `name` on its prototype so stack
// traces and `String(error)` read like asyncio's. `CancelledError` carries an optional
// `reason` so a later diagnostics layer can say *why* a task was cancelled; the message given
// to `cancel(msg)` is the error's message, as in asyncio.

/** @internal On the prototype of errors that are control flow, not failures (CancelledError,
 *  the greenlet bridge's GreenletExit): a Future failed with one is never reported as
 *  unretrieved. Registering each for that report cost a WeakRef and a FinalizationRegistry
 *  entry per killed greenlet. */
export const kControlFlow: unique symbol = Symbol('tulip.controlFlow');

/** asyncio: `CancelledError`. The operation was cancelled; never swallow it in a catch-all.
 *  Made without a stack trace: it is raised at a wait far from where it was made, so the trace
 *  says little, and capturing one cost 3% of a proxied request. */
export class CancelledError extends Error {
  /** Why the cancel happened, when the canceller said so (see `isCancellation`). */
  reason: CancelReason | undefined;
  constructor(message?: string, reason?: CancelReason) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ?? '');
    Error.stackTraceLimit = limit;
    this.reason = reason;
  }
}
CancelledError.prototype.name = 'CancelledError';
(CancelledError.prototype as unknown as Record<symbol, boolean>)[kControlFlow] = true;

/** Why a task was cancelled. Project only: asyncio has only a message. */
export type CancelReason =
  | { kind: 'timeout'; deadline: number }
  | { kind: 'sibling-failed'; error: unknown }
  | { kind: 'parent-cancelled' }
  | { kind: 'shutdown'; signal?: string }
  | { kind: 'user'; message?: string };

/** asyncio: `InvalidStateError`. A Future was asked for something its state does not allow. */
export class InvalidStateError extends Error {}
InvalidStateError.prototype.name = 'InvalidStateError';

/** asyncio: `TimeoutError`. A deadline passed before the operation finished. */
export class TimeoutError extends Error {}
TimeoutError.prototype.name = 'TimeoutError';

/** Python: `RuntimeError`. The loop or an object was used in a state where that is a bug
 *  (a closed loop, a loop that is already running, a finished TaskGroup). */
export class RuntimeError extends Error {}
RuntimeError.prototype.name = 'RuntimeError';

/** Python: `KeyboardInterrupt`. `run()` rejects with it after Ctrl-C cancelled main. */
export class KeyboardInterrupt extends Error {
  constructor(readonly signal: string = 'SIGINT') {
    super(`interrupted by ${signal}`);
  }
}
KeyboardInterrupt.prototype.name = 'KeyboardInterrupt';

/** True for a `CancelledError`, whatever realm it came from. Project only. */
export function isCancellation(error: unknown): error is CancelledError {
  return error instanceof CancelledError;
}
