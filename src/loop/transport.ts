// Protocol and Transport: asyncio's low-level callback API over node:net (and node:tls, whose
// sockets are net.Sockets).
//
// Protocol callbacks run with this loop as the running loop. dataReceived is called straight
// from the socket's 'data' event (no callSoon per chunk: that would cost a Handle per read and
// add a batch of latency); connectionMade and connectionLost go through callSoon, as asyncio
// orders them. Sockets are half-open capable: on EOF the protocol's eofReceived() decides (a
// truthy return keeps the write side open; otherwise the transport closes).
//
// Flow control both ways. Writing: Node never refuses a write, so the transport watches
// socket.writableLength against asyncio's high/low water marks (64 KiB / 16 KiB) and calls
// pauseWriting()/resumeWriting(). Reading: pauseReading() really stops reading (socket.pause()
// stops libuv reads, and the kernel's window then pushes back on the peer).

import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { EventLoop, OpenIo } from './event-loop.js';
import type { Server } from './server.js';
import type { TimerHandle } from './handle.js';
import { asSocketEvent, current } from './running.js';
import { RuntimeError, TimeoutError } from '../tasks/errors.js';
import { checkSeconds } from '../tasks/options.js';

const DEFAULT_HIGH = 64 * 1024;

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

const kTransport = Symbol('tulip.transport');
type Owned = net.Socket & { [kTransport]?: Transport | null };

// Socket events reach the transport as socket events (asSocketEvent, running.ts); 'error' only
// records the error, which 'close' then reports.
function socketListener<A>(handle: (t: Transport, arg: A) => void): (this: Owned, arg: A) => void {
  return function (this: Owned, arg: A): void {
    const t = this[kTransport];
    if (t != null) asSocketEvent(handle, t, arg);
  };
}
const onData = socketListener((t, data: Buffer) => t._data(data));
const onEnd = socketListener((t) => t._end());
const onClose = socketListener((t) => t._close());
const onDrain = socketListener((t) => t._drain());
function onError(this: Owned, error: Error): void { this[kTransport]?._error(error); }
function madeOf(t: Transport): void { t._made(); }
function loseOf(t: Transport): void { t._lose(); }
function resumeOf(p: Protocol): void { p.resumeWriting(); }
function shutdownTimedOut(t: Transport): void { t._shutdownTimedOut(); }

/** @internal asyncio's ssl_shutdown_timeout, checked where it is passed: seconds > 0. */
export function checkShutdownTimeout(seconds: unknown): number {
  checkSeconds('sslShutdownTimeout', seconds);
  if (!((seconds as number) > 0)) throw new RangeError(`sslShutdownTimeout must be > 0 seconds, got ${seconds}`);
  return seconds as number;
}

function destroyOnFinish(this: net.Socket): void {
  this.destroy();
}

// Write coalescing in read bursts. libuv reads a socket 64 KiB at a time and, after a full
// read, reads again at once: more data is coming in this same event-loop turn. From a full read
// until Node's check phase (one setImmediate, queued after the loop's drive, which runs there
// too: see event-loop.ts), writes cork their socket, and the check phase uncorks them all, so a
// 100 KiB message relayed or echoed leaves in one writev instead of a write per read (uvloop
// holds every write until its check handle; doing that for small messages too cost a
// setImmediate per turn and was slower at 10 KiB). Otherwise a write goes to the socket at once.
const READ_SIZE = 64 * 1024;
let burst = false;
let flushQueue: Transport[] = [];
let flushSpare: Transport[] = [];

function endBurst(): void {
  burst = false;
  const queue = flushQueue;
  flushQueue = flushSpare;
  flushSpare = queue;
  for (let i = 0; i < queue.length; i++) queue[i]!._flush();
  queue.length = 0;
}

/** asyncio: `Transport` for a stream socket. Made by createConnection/createServer. */
export class Transport {
  readonly #loop: EventLoop;
  readonly #socket: net.Socket;
  #protocol: Protocol;
  #closing = false;
  #lost = false;
  #reading = true;
  #writePaused = false;
  #high = DEFAULT_HIGH;
  #low = DEFAULT_HIGH / 4;
  #error: Error | null = null;
  /** The 'drain' listener is added the first time writing pauses. */
  #drainHooked = false;
  /** Counted in loop._ioClosing (close or abort was asked, the socket is not gone yet). */
  #countedClosing = false;
  /** Corked by a write during a read burst, until endBurst. */
  #corked = false;
  /** writeEof() was called: the write side is shut. */
  #eof = false;
  /** @internal Links in the loop's list of open I/O. */
  _ioPrev: OpenIo | null = null;
  /** @internal */
  _ioNext: OpenIo | null = null;
  /** @internal TLS only: seconds close() waits for the flush and close_notify before it aborts
   *  (asyncio's ssl_shutdown_timeout, 30 s), so a peer that stops reading cannot hold it open. */
  _tlsShutdownTimeout = 30;
  /** The armed ssl_shutdown_timeout of a TLS close(), until the socket is gone. */
  #shutdownTimer: TimerHandle | null = null;
  /** @internal The server that accepted this connection (it tracks it until it is lost). */
  _server: Server | null = null;
  /** @internal This transport's slot in its server's roster. */
  _serverSlot = -1;

  /** @internal `made: false` skips connectionMade (a transport that replaces another). */
  constructor(loop: EventLoop, socket: net.Socket, protocol: Protocol, made = true) {
    this.#loop = loop;
    this.#socket = socket;
    this.#protocol = protocol;
    // Module-level listeners find the transport through the socket: no closures per connection.
    (socket as Owned)[kTransport] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    loop._ioAdd(this);
    if (made && !loop.isClosed()) loop.callSoon(madeOf, this);
  }

  /** @internal startTls: hands the socket over; this transport ends without connectionLost. */
  _detach(): net.Socket {
    this._flush(); // what was written before the upgrade leaves before the handshake
    const socket = this.#socket;
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', onClose);
    if (this.#drainHooked) socket.off('drain', onDrain);
    (socket as Owned)[kTransport] = null;
    if (!this.#lost) {
      this.#lost = true;
      this.#closing = true;
      this.#loop._ioRemove(this);
      if (this.#countedClosing) this.#loop._ioClosing--;
    }
    return socket;
  }

  /** @internal A write failed and Node destroyed the socket in that call (a reset peer, a
   *  child that exited: Node drops EPIPE on a child's stdin without an 'error'), before its
   *  'close' reached the protocol: the error drain() raises now, as asyncio's does; else null. */
  _writeFailed(): Error | null {
    const socket = this.#socket;
    if (this.#closing || this.#lost || !socket.destroyed) return null;
    return socket.errored ?? Object.assign(new Error('Connection lost'), { code: 'ECONNRESET' });
  }

  /** @internal The loop closed with this open: aborted (one closing finishes its flush). */
  _abandon(): void {
    if (!this.#closing) this.#socket.destroy();
  }

  /** @internal the socket is gone or going (startTls refuses such a transport). */
  get _unusable(): boolean {
    return this.#closing || this.#lost || this.#socket.destroyed;
  }

  /** @internal */
  _made(): void {
    if (this.#lost) return;
    this.#protocol.connectionMade(this);
  }

  /** @internal */
  _data(data: Buffer): void {
    const startsBurst = data.length === READ_SIZE && !burst;
    if (startsBurst) burst = true;
    const prev = current.loop;
    current.loop = this.#loop;
    try {
      this.#protocol.dataReceived(data);
    } catch (error) {
      this.#loop.callExceptionHandler({ message: 'Fatal error: protocol.dataReceived() call failed.', exception: error });
      this.abort();
    } finally {
      current.loop = prev;
    }
    // Queued after dataReceived, so a drive it scheduled at the check phase runs first, its
    // writes corked.
    if (startsBurst) setImmediate(endBurst);
  }

  /** @internal */
  _end(): void {
    let keepOpen: boolean | void = false;
    const prev = current.loop;
    current.loop = this.#loop;
    try {
      keepOpen = this.#protocol.eofReceived();
    } catch (error) {
      this.#loop.callExceptionHandler({ message: 'Fatal error: protocol.eofReceived() call failed.', exception: error });
    } finally {
      current.loop = prev;
    }
    if (!keepOpen) this.close();
  }

  /** @internal */
  _error(error: Error): void {
    this.#error ??= error;
  }

  /** @internal */
  _close(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#closing = true;
    this.#shutdownTimer?.cancel();
    this.#shutdownTimer = null;
    this.#loop._ioRemove(this);
    if (this.#countedClosing) this.#loop._ioClosing--;
    this._server?._lost(this);
    if (this.#loop.isClosed()) return;
    this.#loop.callSoon(loseOf, this);
  }

  /** @internal */
  _lose(): void {
    this.#protocol.connectionLost(this.#error);
  }

  /** @internal */
  _drain(): void {
    if (this.#writePaused && this.#socket.writableLength <= this.#low) {
      this.#writePaused = false;
      inLoop(this.#loop, resumeOf, this.#protocol);
    }
  }

  /** asyncio: `Transport.write`. Buffers without limit; pauseWriting() tells the protocol to stop. */
  write(data: Uint8Array | string): void {
    if (this.#eof) throw new RuntimeError('cannot write() after writeEof()'); // as asyncio; the connection stays
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError(`data must be a Uint8Array or a string, got ${data === null ? 'null' : typeof data}`);
    if (this.#closing || this.#lost) return; // asyncio logs "socket.send() raised exception" and drops
    if (data.length === 0) return;
    const socket = this.#socket;
    if (burst && !this.#corked) {
      this.#corked = true;
      socket.cork();
      flushQueue.push(this);
    }
    socket.write(data);
    if (this.#corked && socket.writableLength > this.#high) this._flush(); // over the mark: send now
    if (!this.#writePaused && socket.writableLength > this.#high) {
      this.#writePaused = true;
      if (!this.#drainHooked) {
        this.#drainHooked = true;
        this.#socket.on('drain', onDrain);
      }
      try {
        this.#protocol.pauseWriting();
      } catch (error) { // asyncio's rule: reported, and the write that crossed the mark stands
        this.#loop.callExceptionHandler({ message: 'protocol.pause_writing() failed', exception: error });
      }
    }
  }

  /** @internal Sends what writes during a read burst left corked. */
  _flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  }

  /** asyncio: `Transport.writelines`. One writev where Node can. */
  writeLines(list: Iterable<Uint8Array | string>): void {
    const socket = this.#socket;
    socket.cork();
    try {
      for (const data of list) this.write(data);
    } finally {
      socket.uncork();
    }
  }

  /** asyncio: `Transport.write_eof`. Half-closes after the buffered data. A TLS transport
   *  cannot (canWriteEof() is false): a RuntimeError, as asyncio's NotImplementedError. */
  writeEof(): void {
    if (!this.canWriteEof()) throw new RuntimeError('a TLS transport cannot half-close: writeEof() is not supported (canWriteEof() is false); close() instead');
    if (this.#closing || this.#eof) return;
    this.#eof = true;
    this._flush();
    this.#socket.end();
  }

  /** asyncio: `Transport.can_write_eof`. */
  canWriteEof(): boolean {
    return !('encrypted' in this.#socket) || (this.#socket as TLSSocket).encrypted !== true;
  }

  /** asyncio: `Transport.close`. Flushes buffered data, then closes; connectionLost(null) follows. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#markClosing();
    this._flush();
    const socket = this.#socket;
    // Node's destroySoon(), without the bound once() wrapper it makes per socket. When the peer
    // has sent its EOF and nothing waits to be written, close at once as asyncio does (no
    // shutdown(): the kernel sends what it holds, then FIN; nothing unread can provoke a RST).
    // TLS goes the long way so its close_notify is written.
    if (socket.writableFinished || (socket.readableEnded && socket.writableLength === 0 && !('encrypted' in socket))) socket.destroy();
    else {
      if (socket.writable) socket.end();
      socket.on('finish', destroyOnFinish);
      if ('encrypted' in socket) this.#shutdownTimer = this.#loop.callLater(this._tlsShutdownTimeout, shutdownTimedOut, this);
    }
    if (socket.readableEnded === false) socket.resume(); // read to EOF so 'close' comes
  }

  /** @internal A TLS close() did not finish within _tlsShutdownTimeout: aborted, and the loss is
   *  told (connectionLost, and so waitClosed(), get a TimeoutError, as asyncio's). */
  _shutdownTimedOut(): void {
    this.#shutdownTimer = null;
    this.#error ??= new TimeoutError(`TLS close did not finish in ${this._tlsShutdownTimeout} s (the peer stopped reading); the connection was aborted`);
    this.abort();
  }

  /** asyncio: `Transport.abort`. Closes at once, dropping buffered data. */
  abort(): void {
    this.#closing = true;
    this.#markClosing();
    this.#socket.destroy();
  }

  #markClosing(): void {
    if (this.#countedClosing || this.#lost) return;
    this.#countedClosing = true;
    this.#loop._ioClosing++;
  }

  /** asyncio: `Transport.is_closing`. */
  isClosing(): boolean {
    return this.#closing;
  }

  /** asyncio: `Transport.pause_reading`. Stops reading from the socket. */
  pauseReading(): void {
    if (!this.#reading || this.#closing) return;
    this.#reading = false;
    this.#socket.pause();
  }

  /** asyncio: `Transport.resume_reading`. */
  resumeReading(): void {
    if (this.#reading || this.#closing) return;
    this.#reading = true;
    this.#socket.resume();
  }

  /** asyncio: `Transport.is_reading`. */
  isReading(): boolean {
    return this.#reading && !this.#closing;
  }

  /** asyncio: `Transport.get_write_buffer_size`. Bytes queued in Node's socket. */
  getWriteBufferSize(): number {
    return this.#socket.writableLength;
  }

  /** asyncio: `Transport.get_write_buffer_limits`. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  /** asyncio: `Transport.set_write_buffer_limits`. Bytes. */
  setWriteBufferLimits(high?: number, low?: number): void {
    const h = high ?? (low !== undefined ? 4 * low : DEFAULT_HIGH);
    const l = low ?? Math.floor(h / 4);
    if (!(h >= l && l >= 0)) throw new RangeError(`high (${h}) must be >= low (${l}) must be >= 0`);
    this.#high = h;
    this.#low = l;
  }

  /** asyncio: `Transport.get_extra_info`: peername, sockname, socket, peercert, cipher. */
  getExtraInfo(name: string, fallback: unknown = undefined): unknown {
    const s = this.#socket;
    switch (name) {
      case 'peername': return s.remoteAddress === undefined ? fallback : { address: s.remoteAddress, family: s.remoteFamily, port: s.remotePort };
      case 'sockname': return s.localAddress === undefined ? fallback : { address: s.localAddress, family: s.localFamily, port: s.localPort };
      case 'socket': return s;
      case 'peercert': return 'getPeerCertificate' in s ? (s as TLSSocket).getPeerCertificate() : fallback;
      case 'cipher': return 'getCipher' in s ? (s as TLSSocket).getCipher() : fallback;
      default: return fallback;
    }
  }

  /** asyncio: `Transport.get_protocol`. */
  getProtocol(): Protocol {
    return this.#protocol;
  }

  /** asyncio: `Transport.set_protocol`. */
  setProtocol(protocol: Protocol): void {
    this.#protocol = protocol;
  }

  toString(): string {
    return `<Transport ${this.#lost ? 'closed' : this.#closing ? 'closing' : 'open'}>`;
  }
}
