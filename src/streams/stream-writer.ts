// StreamWriter: asyncio's writer over a Transport.
//
// write() never waits; drain() is the backpressure point: a done Future while the transport's
// buffer is under its high-water mark, else a Future that completes on resumeWriting (or fails
// with the connection's error). After the connection is lost, drain() raises that error (or
// ConnectionResetError-like `Error('Connection lost')` when the peer closed cleanly).

import type { Transport } from '../loop/transport.js';
import type { StartTlsOptions } from '../loop/start-tls.js';
import { Future } from '../tasks/future.js';
import type { StreamReader } from './stream-reader.js';
import type { StreamReaderProtocol } from './stream-protocol.js';

/** asyncio: `StreamWriter`. */
export class StreamWriter {
  #transport: Transport;
  readonly #protocol: StreamReaderProtocol;
  readonly #reader: StreamReader | null;
  readonly #ready: Future<void>;

  /** @internal */
  constructor(transport: Transport, protocol: StreamReaderProtocol, reader: StreamReader | null) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = reader;
    this.#ready = new Future<void>(protocol._loop);
    this.#ready._finish(undefined);
  }

  /** asyncio: `StreamWriter.transport` (a new one after startTls). */
  get transport(): Transport {
    return this.#transport;
  }

  /** asyncio: `StreamWriter.start_tls` (3.11). Upgrades the connection to TLS in place: the same
   *  reader and writer then carry encrypted bytes. A server's connection upgrades as the server
   *  side (pass key and cert); a client's as the client (pass ca, serverHostname...). Buffered
   *  writes are flushed first (drain), as asyncio does. */
  startTls(options: StartTlsOptions = {}): Future<void> {
    const loop = this.#protocol._loop;
    const out = new Future<void>(loop);
    const upgrade = (): void => {
      const f = loop.startTls(this.#transport, this.#protocol, { serverSide: this.#protocol._serverSide, ...options });
      f.addDoneCallback(() => {
        if (f.cancelled() || out.done()) return;
        const error = f.exception();
        if (error !== null) return out._fail(error);
        this.#transport = f.result();
        this.#protocol._replaceTransport(this.#transport);
        out._finish(undefined);
      });
      out.addDoneCallback(() => { if (out.cancelled()) f.cancel(); });
    };
    const drained = this.drain();
    if (drained.done() && drained.exception() === null) upgrade();
    else drained.addDoneCallback(() => {
      if (out.done()) return;
      const error = drained.exception();
      if (error !== null) out._fail(error);
      else upgrade();
    });
    return out;
  }

  /** asyncio: `StreamWriter.write`. */
  write(data: Uint8Array | string): void {
    this.transport.write(data);
  }

  /** asyncio: `StreamWriter.writelines`. */
  writeLines(list: Iterable<Uint8Array | string>): void {
    this.transport.writeLines(list);
  }

  /** asyncio: `StreamWriter.write_eof`. */
  writeEof(): void {
    this.transport.writeEof();
  }

  /** asyncio: `StreamWriter.can_write_eof`. */
  canWriteEof(): boolean {
    return this.transport.canWriteEof();
  }

  /** asyncio: `StreamWriter.drain`. Waits while the write buffer is over its high-water mark. */
  drain(): Future<void> {
    const lostError = this.#protocol._lostError() ?? this.transport._writeFailed();
    if (lostError !== null) {
      const f = new Future<void>(this.#protocol._loop);
      f._fail(lostError);
      return f;
    }
    if (!this.#protocol._writePaused()) return this.#ready;
    return this.#protocol._drainWaiter();
  }

  /** asyncio: `StreamWriter.close`. */
  close(): void {
    this.transport.close();
  }

  /** asyncio: `StreamWriter.is_closing`. */
  isClosing(): boolean {
    return this.transport.isClosing();
  }

  /** asyncio: `StreamWriter.wait_closed`. Resolves once the connection is lost; raises the
   *  error it was lost with (a reset, a broken pipe), as asyncio does. */
  waitClosed(): Future<void> {
    return this.#protocol._closedFuture();
  }

  /** asyncio: `StreamWriter.get_extra_info`: peername, sockname, socket, peercert. */
  getExtraInfo(name: string, fallback: unknown = undefined): unknown {
    return this.transport.getExtraInfo(name, fallback);
  }

  /** The reader of the same connection, if any. Project only. */
  get reader(): StreamReader | null {
    return this.#reader;
  }

  toString(): string {
    return `<StreamWriter ${this.transport}>`;
  }
}
