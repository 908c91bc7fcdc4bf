// Relay: copy a StreamReader into a StreamWriter with backpressure and half-close.
//
// Reads up to 64 KiB at a time, writes, and waits on drain() so a fast sender and a slow
// receiver hold at most the stream limits in memory (the original buffered everything). At
// EOF the write side is half-closed (writeEof) so the peer sees the end too (WARP.md §8.8).

import type { Coroutine, StreamReader, StreamWriter } from 'tulip';

export const CHUNK = 64 * 1024;

/** Copies until EOF; returns the number of bytes relayed. */
export function* pipe(from: StreamReader, to: StreamWriter): Coroutine<number> {
  let total = 0;
  for (;;) {
    const chunk = yield* from.read(CHUNK);
    if (chunk.length === 0) {
      if (!to.isClosing() && to.canWriteEof()) to.writeEof();
      return total;
    }
    total += chunk.length;
    to.write(chunk);
    yield* to.drain();
  }
}
