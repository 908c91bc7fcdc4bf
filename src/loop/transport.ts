// Protocol and Transport: asyncio's low-level callback API. Transport is the base of the two
// stream transports: SocketTransport (socket-transport.ts) over a node:net or node:tls socket,
// a pipe or a child's stdio, and TcpTransport (tcp-transport.ts) over the TCP handle itself,
// which plain TCP connections use where Node exposes it.
//
// Protocol callbacks run with this loop as the running loop. dataReceived is called straight
// from the read (no callSoon per chunk: that would cost a Handle per read and add a batch of
// latency); connectionMade and connectionLost go through callSoon, as asyncio orders them.
// Connections are half-open capable: on EOF the protocol's eofReceived() decides (a truthy
// return keeps the write side open; otherwise the transport closes).
//
// Flow control both ways. Writing: the transport watches its write buffer against asyncio's
// high/low water marks (64 KiB / 16 KiB) and calls pauseWriting()/resumeWriting(). Reading:
// pauseReading() really stops reading (the kernel's window then pushes back on the peer).
//
// Write coalescing in read bursts. libuv reads a socket 64 KiB at a time and, after a full
// read, reads again at once: more data is coming in this same event-loop turn. From a full read
// until Node's check phase (one setImmediate, queued after the loop's drive, which runs there
// too: see event-loop.ts), writes are held (corked), and the check phase flushes them all, so a
// 100 KiB message relayed or echoed leaves in one writev instead of a write per read (uvloop
// holds every write until its check handle; doing that for small messages too cost a
// setImmediate per turn and was slower at 10 KiB). Otherwise a write goes out at once.

import type { EventLoop, OpenIo } from './event-loop.js';
import type { Server } from './server.js';
import { current } from './running.js';
import { RuntimeError } from '../tasks/errors.js';
import { checkSeconds } from '../tasks/options.js';

const DEFAULT_HIGH = 64 * 1024;
/** @internal The size of a full read (libuv's suggested buffer in Node). */
export const READ_SIZE = 64 * 1024;

/** asyncio: `Protocol`. Subclass and override the callbacks you need. */
export class Protocol {
  connectionMade(_transport: Transport): void {}
  dataReceived(_data: Buffer): void {}
  /** Return true to keep the write side open after the peer's EOF. */
  eofReceived(): boolean | void {}
  connectionLost(_error: Error | null): void {}
  pauseWriting(): void {}
  resumeWriting(): void {}
}

/** @internal Runs `fn` with `loop` as the running loop (callbacks from Node's own events). */
export function inLoop<A>(loop: EventLoop, fn: (a: A) => void, a: A): void {
  const prev = current.loop;
  current.loop = loop;
  try {
    fn(a);
  } catch (error) {
    loop.callExceptionHandler({ message: 'Exception in protocol callback', exception: error });
  } finally {
    current.loop = prev;
  }
}

/** @internal Calls a protocol factory with `loop` as the running loop, as asyncio calls it from
 *  inside the loop (a factory may make Futures or read getRunningLoop()). Its error is thrown. */
export function makeProtocol<P>(loop: EventLoop, factory: () => P): P {
  const prev = current.loop;
  current.loop = loop;
  try {
    return factory();
  } finally {
    current.loop = prev;
  }
}

/** @internal asyncio's ssl_shutdown_timeout, checked where it is passed: seconds > 0. */
export function checkShutdownTimeout(seconds: unknown): number {
  checkSeconds('sslShutdownTimeout', seconds);
  if (!((seconds as number) > 0)) throw new RangeError(`sslShutdownTimeout must be > 0 seconds, got ${seconds}`);
  return seconds as number;
}

function madeOf(t: Transport): void { t._made(); }
function loseOf(t: Transport): void { t._lose(); }
function resumeOf(p: Protocol): void { p.resumeWriting(); }

/** @internal True from a full read until the check phase: writes are held (see above). */
export const burst = { on: false };
let flushQueue: Transport[] = [];
let flushSpare: Transport[] = [];

function endBurst(): void {
  burst.on = false;
  const queue = flushQueue;
  flushQueue = flushSpare;
  flushSpare = queue;
  for (let i = 0; i < queue.length; i++) queue[i]!._flush();
  queue.length = 0;
}

/** asyncio: `Transport` for a stream connection. Made by createConnection/createServer (and
 *  subprocess pipes); the subclasses say how bytes move. */
export abstract class Transport {
  /** @internal */ protected readonly _loop: EventLoop;
  /** @internal */ protected _protocol: Protocol;
  /** @internal close() or abort() was called, or the connection is gone. */
  protected _closing = false;
  /** @internal The connection is gone (connectionLost is scheduled). */
  protected _lost = false;
  /** @internal Reading is wanted (pauseReading() clears it). */
  protected _reading = true;
  /** @internal */ protected _writePaused = false;
  /** @internal */ protected _high = DEFAULT_HIGH;
  /** @internal */ protected _low = DEFAULT_HIGH / 4;
  /** @internal What the connection was lost with (connectionLost's argument). */
  protected _err: Error | null = null;
  /** Counted in loop._ioClosing (close or abort was asked, the connection is not gone yet). */
  #countedClosing = false;
  /** @internal Writes are held by a read burst, until its end. */
  protected _corked = false;
  /** @internal writeEof() was called: the write side is shut. */
  protected _eof = false;
  /** @internal Links in the loop's list of open I/O. */
  _ioPrev: OpenIo | null = null;
  /** @internal */
  _ioNext: OpenIo | null = null;
  /** @internal TLS only: seconds close() waits for the flush and close_notify before it aborts
   *  (asyncio's ssl_shutdown_timeout, 30 s), so a peer that stops reading cannot hold it open. */
  _tlsShutdownTimeout = 30;
  /** @internal The server that accepted this connection (it tracks it until it is lost). */
  _server: Server | null = null;
  /** @internal This transport's slot in its server's roster. */
  _serverSlot = -1;

  /** @internal */
  constructor(loop: EventLoop, protocol: Protocol) {
    this._loop = loop;
    this._protocol = protocol;
  }

  /** @internal The subclass is set up: an open resource of the loop (a closed loop abandons it
   *  at once); `made: false` skips connectionMade (a transport that replaces another). */
  protected _open(made: boolean): void {
    this._loop._ioAdd(this);
    if (made && !this._loop.isClosed()) this._loop.callSoon(madeOf, this);
  }

  /** @internal */
  _made(): void {
    if (this._lost) return;
    this._protocol.connectionMade(this);
  }

  /** @internal Bytes read: to the protocol. */
  _data(data: Buffer): void {
    const startsBurst = data.length === READ_SIZE && !burst.on;
    if (startsBurst) burst.on = true;
    const prev = current.loop;
    current.loop = this._loop;
    try {
      this._protocol.dataReceived(data);
    } catch (error) {
      this._loop.callExceptionHandler({ message: 'Fatal error: protocol.dataReceived() call failed.', exception: error });
      this.abort();
    } finally {
      current.loop = prev;
    }
    // Queued after dataReceived, so a drive it scheduled at the check phase runs first, its
    // writes held.
    if (startsBurst) setImmediate(endBurst);
  }

  /** @internal The peer's EOF: the protocol decides whether the write side stays open. */
  _end(): void {
    let keepOpen: boolean | void = false;
    const prev = current.loop;
    current.loop = this._loop;
    try {
      keepOpen = this._protocol.eofReceived();
    } catch (error) {
      this._loop.callExceptionHandler({ message: 'Fatal error: protocol.eofReceived() call failed.', exception: error });
    } finally {
      current.loop = prev;
    }
    if (!keepOpen) this.close();
  }

  /** @internal The first error the connection met; connectionLost reports it. */
  _error(error: Error): void {
    this._err ??= error;
  }

  /** @internal The connection is gone: untracked, and connectionLost scheduled. */
  _close(): void {
    if (this._lost) return;
    this._gone();
    this._handOver();
    this._server?._lost(this);
    if (this._loop.isClosed()) return;
    this._loop.callSoon(loseOf, this);
  }

  /** @internal Called as the connection is gone (a TLS close cancels its timer). */
  protected _gone(): void {}

  /** @internal Untracks the transport: its connection is gone, or another transport takes it
   *  over (startTls). */
  protected _handOver(): void {
    if (this._lost) return;
    this._lost = true;
    this._closing = true;
    this._loop._ioRemove(this);
    if (this.#countedClosing) this._loop._ioClosing--;
  }

  /** @internal */
  _lose(): void {
    this._protocol.connectionLost(this._err);
  }

  /** @internal Some of the write buffer left: resumeWriting() once it is at the low mark. */
  _drain(): void {
    if (this._writePaused && this.getWriteBufferSize() <= this._low) {
      this._writePaused = false;
      inLoop(this._loop, resumeOf, this._protocol);
    }
  }

  /** asyncio: `Transport.write`. Buffers without limit; pauseWriting() tells the protocol to stop. */
  write(data: Uint8Array | string): void {
    if (this._eof) throw new RuntimeError('cannot write() after writeEof()'); // as asyncio; the connection stays
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError(`data must be a Uint8Array or a string, got ${data === null ? 'null' : typeof data}`);
    if (this._closing || this._lost) return; // asyncio logs "socket.send() raised exception" and drops
    if (data.length === 0) return;
    if (burst.on && !this._corked) {
      this._corked = true;
      this._cork();
      flushQueue.push(this);
    }
    this._send(data);
    if (this._corked && this.getWriteBufferSize() > this._high) this._flush(); // over the mark: send now
    if (!this._writePaused && this.getWriteBufferSize() > this._high) {
      this._writePaused = true;
      this._watchDrain();
      try {
        this._protocol.pauseWriting();
      } catch (error) { // asyncio's rule: reported, and the write that crossed the mark stands
        this._loop.callExceptionHandler({ message: 'protocol.pause_writing() failed', exception: error });
      }
    }
  }

  /** @internal Starts holding writes (a read burst). */
  protected abstract _cork(): void;
  /** @internal Writes (or holds, while corked) one non-empty chunk. */
  protected abstract _send(data: Uint8Array | string): void;
  /** @internal Writing paused: watch for the buffer to drain. */
  protected _watchDrain(): void {}
  /** @internal Sends what writes during a read burst held. */
  abstract _flush(): void;

  /** asyncio: `Transport.writelines`. One writev where it can. */
  writeLines(list: Iterable<Uint8Array | string>): void {
    const held = this._corked;
    if (!held && !this._closing) {
      this._corked = true;
      this._cork();
    }
    try {
      for (const data of list) this.write(data);
    } finally {
      if (!held) this._flush();
    }
  }

  /** asyncio: `Transport.write_eof`. Half-closes after the buffered data. A TLS transport
   *  cannot (canWriteEof() is false): a RuntimeError, as asyncio's NotImplementedError. */
  writeEof(): void {
    if (!this.canWriteEof()) throw new RuntimeError('a TLS transport cannot half-close: writeEof() is not supported (canWriteEof() is false); close() instead');
    if (this._closing || this._eof) return;
    this._eof = true;
    this._flush();
    this._shutdown();
  }

  /** @internal Sends EOF after the buffered data. */
  protected abstract _shutdown(): void;

  /** asyncio: `Transport.can_write_eof`. */
  canWriteEof(): boolean {
    return true;
  }

  /** asyncio: `Transport.close`. Flushes buffered data, then closes; connectionLost(null) follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._markClosing();
    this._flush();
    this._closeAfterFlush();
  }

  /** @internal close() once the buffer is flushed (asyncio closes without shutdown() when the
   *  peer's EOF came and nothing is buffered: nothing unread can provoke a RST). */
  protected abstract _closeAfterFlush(): void;

  /** asyncio: `Transport.abort`. Closes at once, dropping buffered data. */
  abort(): void {
    this._closing = true;
    this._markClosing();
    this._destroy();
  }

  /** @internal Closes the connection now. */
  protected abstract _destroy(): void;

  /** @internal */
  protected _markClosing(): void {
    if (this.#countedClosing || this._lost) return;
    this.#countedClosing = true;
    this._loop._ioClosing++;
  }

  /** @internal The loop closed with this open: aborted (one closing finishes its flush). */
  _abandon(): void {
    if (!this._closing) this._destroy();
  }

  /** @internal A write failed and the connection was destroyed in that call, before its loss
   *  reached the protocol: the error drain() raises now, as asyncio's does; else null. */
  abstract _writeFailed(): Error | null;

  /** @internal The connection is gone or going (startTls refuses such a transport). */
  abstract get _unusable(): boolean;

  /** @internal startTls: hands the connection over as a socket; this transport ends without
   *  connectionLost. */
  abstract _detach(): import('node:net').Socket;

  /** asyncio: `Transport.is_closing`. */
  isClosing(): boolean {
    return this._closing;
  }

  /** asyncio: `Transport.pause_reading`. Stops reading from the connection. */
  pauseReading(): void {
    if (!this._reading || this._closing) return;
    this._reading = false;
    this._readStop();
  }

  /** asyncio: `Transport.resume_reading`. */
  resumeReading(): void {
    if (this._reading || this._closing) return;
    this._reading = true;
    this._readStart();
  }

  /** @internal */ protected abstract _readStop(): void;
  /** @internal */ protected abstract _readStart(): void;

  /** asyncio: `Transport.is_reading`. */
  isReading(): boolean {
    return this._reading && !this._closing;
  }

  /** asyncio: `Transport.get_write_buffer_size`. Bytes written and not yet sent. */
  abstract getWriteBufferSize(): number;

  /** asyncio: `Transport.get_write_buffer_limits`. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this._low, this._high];
  }

  /** asyncio: `Transport.set_write_buffer_limits`. Bytes. */
  setWriteBufferLimits(high?: number, low?: number): void {
    const h = high ?? (low !== undefined ? 4 * low : DEFAULT_HIGH);
    const l = low ?? Math.floor(h / 4);
    if (!(h >= l && l >= 0)) throw new RangeError(`high (${h}) must be >= low (${l}) must be >= 0`);
    this._high = h;
    this._low = l;
  }

  /** asyncio: `Transport.get_extra_info`: peername, sockname, socket, peercert, cipher. */
  abstract getExtraInfo(name: string, fallback?: unknown): unknown;

  /** asyncio: `Transport.get_protocol`. */
  getProtocol(): Protocol {
    return this._protocol;
  }

  /** asyncio: `Transport.set_protocol`. */
  setProtocol(protocol: Protocol): void {
    this._protocol = protocol;
  }

  toString(): string {
    return `<Transport ${this._lost ? 'closed' : this._closing ? 'closing' : 'open'}>`;
  }
}
