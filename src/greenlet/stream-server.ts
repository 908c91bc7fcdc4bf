// StreamServer and GreenSocket: gevent's server and socket, on Tulip's streams.
//
// Each accepted connection runs `handle(socket, address)` in its own greenlet (in a Pool when
// one is given), with a GreenSocket over the connection's StreamReader/StreamWriter: recv()
// reads at most n bytes (an empty Buffer at EOF), send()/sendall() write and wait on drain(),
// so the stream layer's limits and backpressure hold here too; settimeout() bounds each of
// them with waitFor, and a socket used after its close() raises EBADF at the call, as gevent's
// does. When the handler's greenlet dies the socket is closed. createConnection() is gevent's
// socket.create_connection. The handler's `address` is read on first use (PeerAddress).

import type { AddressInfo } from 'node:net';
import type { Future } from '../tasks/future.js';
import type { Server } from '../loop/server.js';
import { waitFor } from '../tasks/wait-for.js';
import { checkSeconds } from '../tasks/options.js';
import { startServer, openConnection } from '../streams/open-connection.js';
import type { StreamReader } from '../streams/stream-reader.js';
import type { StreamWriter } from '../streams/stream-writer.js';
import { BridgeFuture, GreenletExit, MirrorFuture, bridged, giveBackInner, hubLoop } from './hub.js';
import { Greenlet, type GreenletBody } from './greenlet.js';
import type { Pool } from './group.js';

/** The peer's address handed to a StreamServer handler (gevent's `address`), read from the
 *  connection the first time a field is used: gevent has it from accept(), Node asks the kernel
 *  only on request, and that request leaves a property on Node's socket that makes Node's own
 *  code on every accepted socket slower: the greenlet WARP proxy, which never looks, served 5-6%
 *  fewer requests when each connection read it (side-by-side rounds: 10 of 10 and 12 of 12). Read it
 *  while the connection is open: after it closes, Node no longer knows the peer (fields are
 *  undefined). JSON.stringify and console.log show the three fields. */
class PeerAddress implements AddressInfo {
  readonly #writer: StreamWriter;
  #info: AddressInfo | undefined | null = null;

  constructor(writer: StreamWriter) {
    this.#writer = writer;
  }

  #read(): AddressInfo | undefined {
    if (this.#info === null) this.#info = this.#writer.getExtraInfo('peername') as AddressInfo | undefined;
    return this.#info;
  }

  get address(): string {
    return this.#read()?.address as string;
  }

  get family(): string {
    return this.#read()?.family as string;
  }

  get port(): number {
    return this.#read()?.port as number;
  }

  toJSON(): AddressInfo {
    return { address: this.address, family: this.family, port: this.port };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): AddressInfo {
    return this.toJSON();
  }
}

/** gevent: a cooperative socket (what StreamServer hands to its handler). */
export class GreenSocket {
  readonly reader: StreamReader;
  readonly writer: StreamWriter;
  /** close() was called: using the socket now is gevent's EBADF, not an EOF or a reset. */
  #closed = false;
  /** settimeout(): seconds a recv/send/sendall may wait, or null. */
  #timeout: number | null = null;

  constructor(reader: StreamReader, writer: StreamWriter) {
    this.reader = reader;
    this.writer = writer;
  }

  /** gevent: `socket.recv(n)`: up to n bytes; an empty Buffer at EOF. */
  recv(n = 65536): Future<Buffer> {
    this.#checkOpen('recv');
    return this.#timed(this.reader.read(n));
  }

  /** gevent: `socket.settimeout(seconds)`: recv/send/sendall that wait longer raise TimeoutError
   *  (gevent's socket.timeout, a TimeoutError); null waits without limit. 0 times out at once
   *  when nothing is ready (gevent's non-blocking mode raises BlockingIOError instead). */
  settimeout(seconds: number | null): void {
    if (seconds !== null) {
      checkSeconds('timeout', seconds, true);
      if (seconds < 0) throw new RangeError(`timeout must be null or seconds >= 0, got ${seconds}`); // gevent: ValueError
    }
    this.#timeout = seconds;
  }

  /** gevent: `socket.gettimeout()`. */
  gettimeout(): number | null {
    return this.#timeout;
  }

  /** gevent: `socket.send(data)`: writes all of it (after backpressure); resolves to its length. */
  send(data: Uint8Array | string): Future<number> {
    this.#checkOpen('send');
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.writer.write(data);
    const out = new BridgeFuture<number>(hubLoop());
    const drained = this.#timed(this.writer.drain());
    drained.addDoneCallback(() => {
      if (drained.cancelled()) out.cancel();
      else if (drained.exception() !== null) out._fail(drained.exception());
      else out._finish(length);
    });
    return out;
  }

  /** gevent: `socket.sendall(data)`. */
  sendall(data: Uint8Array | string): Future<void> {
    this.#checkOpen('sendall');
    this.writer.write(data);
    return this.#timed(this.writer.drain());
  }

  #timed<T>(f: Future<T>): Future<T> {
    return bridged(this.#timeout === null || f.done() ? f : waitFor(f, this.#timeout));
  }

  /** gevent: `socket.shutdown()`: half-closes the write side (SHUT_WR). */
  shutdown(): void {
    this.#checkOpen('shutdown');
    if (this.writer.canWriteEof()) this.writer.writeEof();
  }

  /** gevent: `socket.close()`. */
  close(): void {
    this.#closed = true;
    this.writer.close();
  }

  #checkOpen(call: string): void {
    if (this.#closed) throw closedSocketError(call);
  }

  /** gevent: `socket.getpeername()`. */
  getpeername(): AddressInfo | undefined {
    this.#checkOpen('getpeername');
    return this.writer.getExtraInfo('peername') as AddressInfo | undefined;
  }
}

/** The error gevent's socket raises when used after close(): OSError(EBADF), here a Node-style
 *  error with `code` 'EBADF'. */
function closedSocketError(call: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${call}() on a closed socket: EBADF (bad file descriptor)`);
  error.code = 'EBADF';
  error.syscall = call;
  return error;
}

export type Handler = GreenletBody<unknown, [GreenSocket, AddressInfo]>;

/** gevent: `gevent.server.StreamServer((host, port), handle, spawn=pool)`. */
export class StreamServer {
  readonly #listener: [string, number];
  readonly #handle: Handler;
  readonly #pool: Pool | null;
  readonly #backlog: number;
  #server: Server | null = null;
  #starting: Future<void> | null = null;

  constructor(listener: [host: string, port: number], handle: Handler, options: { spawn?: Pool; backlog?: number } = {}) {
    this.#listener = listener;
    this.#handle = handle;
    this.#pool = options.spawn ?? null;
    this.#backlog = options.backlog ?? 511; // a short accept queue drops SYNs: 1 s retransmits under load
  }

  /** gevent: `server.address`: the bound address once started. */
  get address(): AddressInfo | null {
    return this.#server?.sockets[0] ?? null;
  }

  /** gevent: `server.start()`: binds and starts accepting. */
  start(): Future<void> {
    if (this.#starting !== null) return this.#starting;
    const out = new BridgeFuture<void>(hubLoop());
    this.#starting = out;
    const started = startServer((reader, writer) => this.#accept(reader, writer), this.#listener[0], this.#listener[1], { backlog: this.#backlog });
    started.addDoneCallback(() => {
      if (started.exception() !== null) { out._fail(started.exception()); return; }
      this.#server = started.result();
      out._finish(undefined);
    });
    return out;
  }

  #accept(reader: StreamReader, writer: StreamWriter): void {
    const socket = new GreenSocket(reader, writer);
    const g = new Greenlet(this.#handle as GreenletBody<unknown, any[]>, socket, new PeerAddress(writer));
    g.link(() => socket.close());
    if (this.#pool !== null) this.#pool.start(g);
    else g.start();
  }

  /** gevent: `server.serve_forever()`: starts if needed, resolves once stopped. */
  serveForever(): Future<void> {
    const out = new BridgeFuture<void>(hubLoop());
    this.start().addDoneCallback((f) => {
      if (f.exception() !== null) { out._fail(f.exception()); return; }
      this.#server!.serveForever().addDoneCallback(() => { if (!out.done()) out._finish(undefined); });
    });
    return out;
  }

  /** gevent: `server.close()`: stops accepting; connections in flight go on. */
  close(): void {
    this.#server?.close();
  }

  /** gevent: `server.stop_timeout`: seconds stop() lets a pool's handlers finish (default 1). */
  stopTimeout = 1;

  /** gevent: `server.stop(timeout=None)`: stops accepting. With a pool (`spawn`), waits up to
   *  `timeout` (default `stopTimeout`) for its handlers, then kills those left (waiting up to
   *  1 s for them to die); without one, handlers in flight go on, as in gevent. */
  stop(timeout: number | null = null): Future<void> {
    const out = new BridgeFuture<void>(hubLoop());
    this.#server?.close();
    const pool = this.#pool;
    if (this.#server === null || pool === null) { out._finish(undefined); return out; }
    pool.join(timeout ?? this.stopTimeout).addDoneCallback(() => {
      pool.kill(GreenletExit, { block: true, timeout: 1 }).addDoneCallback(() => out._finish(undefined));
    });
    return out;
  }

  /** gevent: `server.started`. */
  get started(): boolean {
    return this.#server?.isServing() ?? false;
  }
}

/** gevent: `socket.create_connection((host, port), timeout=None)`. A connect slower than
 *  `timeout` raises TimeoutError (gevent's socket.timeout), and the socket keeps `timeout` for
 *  its recv/send/sendall (`settimeout(null)` lifts it), as gevent's does. */
export function createConnection(address: [host: string, port: number], timeout: number | null = null): Future<GreenSocket> {
  const inner = waitFor(openConnection(address[0], address[1]), timeout);
  // Cancelling it (a kill, a Timeout) stops the connection attempt and its timer at once.
  const out = new MirrorFuture<GreenSocket, [StreamReader, StreamWriter]>(inner);
  inner.addDoneCallback(() => {
    if (out.done()) { // cancelled meanwhile: a connection made anyway is nobody's
      giveBackInner(out);
      if (!inner.cancelled()) inner.exception(); // retrieved: nobody else will look
      return;
    }
    if (inner.cancelled()) { out.cancel(); return; }
    const e = inner.exception();
    if (e !== null) out._fail(e);
    else {
      const [r, w] = inner.result();
      const socket = new GreenSocket(r, w);
      socket.settimeout(timeout);
      out._onAbandon = giveBackInner; // interrupted before it resumed: the connection is closed
      out._finish(socket);
    }
  });
  return out;
}
