// Errors of the streams layer (asyncio's names and fields).

/** asyncio: `IncompleteReadError`. EOF came before `expected` bytes were read. */
export class IncompleteReadError extends Error {
  constructor(readonly partial: Buffer, readonly expected: number | null) {
    super(`${partial.length} bytes read on a total of ${expected ?? 'undefined'} expected bytes`);
  }
}
IncompleteReadError.prototype.name = 'IncompleteReadError';

/** asyncio: `LimitOverrunError`. A separator was not found within the reader's limit;
 *  `consumed` bytes are left in the buffer. */
export class LimitOverrunError extends Error {
  constructor(message: string, readonly consumed: number) {
    super(message);
  }
}
LimitOverrunError.prototype.name = 'LimitOverrunError';
