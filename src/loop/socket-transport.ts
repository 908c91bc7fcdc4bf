// SocketTransport: the Transport over a node:net socket (TCP the slow way, Unix sockets), a
// node:tls socket, or a child process's stdio pipe.
//
// Node never refuses a write, so the write buffer is the socket's writableLength; reading is
// paused with socket.pause(), which stops libuv's reads. Socket events reach the transport
// through module-level listeners that find it on the socket (no closures per connection), as
// socket events (asSocketEvent, running.ts); 'error' only records the error, which 'close'
// then reports.

import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { EventLoop } from './event-loop.js';
import type { TimerHandle } from './handle.js';
import { asSocketEvent } from './running.js';
import { Transport, type Protocol } from './transport.js';
import { TimeoutError } from '../tasks/errors.js';

const kTransport = Symbol('tulip.transport');
type Owned = net.Socket & { [kTransport]?: SocketTransport | null };

function socketListener<A>(handle: (t: SocketTransport, arg: A) => void): (this: Owned, arg: A) => void {
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
function shutdownTimedOut(t: SocketTransport): void { t._shutdownTimedOut(); }

function destroyOnFinish(this: net.Socket): void {
  this.destroy();
}

/** The Transport over a node:net or node:tls socket (or a pipe with the socket interface). */
export class SocketTransport extends Transport {
  readonly #socket: net.Socket;
  /** The 'drain' listener is added the first time writing pauses. */
  #drainHooked = false;
  /** The armed ssl_shutdown_timeout of a TLS close(), until the socket is gone. */
  #shutdownTimer: TimerHandle | null = null;

  /** @internal `made: false` skips connectionMade (a transport that replaces another). */
  constructor(loop: EventLoop, socket: net.Socket, protocol: Protocol, made = true) {
    super(loop, protocol);
    this.#socket = socket;
    (socket as Owned)[kTransport] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    this._open(made);
  }

  /** @internal */
  _detach(): net.Socket {
    this._flush(); // what was written before the upgrade leaves before the handshake
    const socket = this.#socket;
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', onClose);
    if (this.#drainHooked) socket.off('drain', onDrain);
    (socket as Owned)[kTransport] = null;
    this._handOver();
    return socket;
  }

  /** @internal A write failed and Node destroyed the socket in that call (a reset peer, a
   *  child that exited: Node drops EPIPE on a child's stdin without an 'error'), before its
   *  'close' reached the protocol. */
  _writeFailed(): Error | null {
    const socket = this.#socket;
    if (this._closing || this._lost || !socket.destroyed) return null;
    return socket.errored ?? Object.assign(new Error('Connection lost'), { code: 'ECONNRESET' });
  }

  /** @internal */
  get _unusable(): boolean {
    return this._closing || this._lost || this.#socket.destroyed;
  }

  protected override _gone(): void {
    this.#shutdownTimer?.cancel();
    this.#shutdownTimer = null;
  }

  protected override _watchDrain(): void {
    if (this.#drainHooked) return;
    this.#drainHooked = true;
    this.#socket.on('drain', onDrain);
  }

  protected _cork(): void {
    this.#socket.cork();
  }

  protected _send(data: Uint8Array | string): void {
    this.#socket.write(data);
  }

  /** @internal */
  _flush(): void {
    if (!this._corked) return;
    this._corked = false;
    this.#socket.uncork();
  }

  protected _shutdown(): void {
    this.#socket.end();
  }

  override canWriteEof(): boolean {
    return !('encrypted' in this.#socket) || (this.#socket as TLSSocket).encrypted !== true;
  }

  protected _closeAfterFlush(): void {
    const socket = this.#socket;
    // Node's destroySoon(), without the bound once() wrapper it makes per socket. When the peer
    // has sent its EOF and nothing waits to be written, close at once as asyncio does (no
    // shutdown(): the kernel sends what it holds, then FIN; nothing unread can provoke a RST).
    // TLS goes the long way so its close_notify is written.
    if (socket.writableFinished || (socket.readableEnded && socket.writableLength === 0 && !('encrypted' in socket))) socket.destroy();
    else {
      if (socket.writable) socket.end();
      socket.on('finish', destroyOnFinish);
      if ('encrypted' in socket) this.#shutdownTimer = this._loop.callLater(this._tlsShutdownTimeout, shutdownTimedOut, this);
    }
    if (socket.readableEnded === false) socket.resume(); // read to EOF so 'close' comes
  }

  /** @internal A TLS close() did not finish within _tlsShutdownTimeout: aborted, and the loss is
   *  told (connectionLost, and so waitClosed(), get a TimeoutError, as asyncio's). */
  _shutdownTimedOut(): void {
    this.#shutdownTimer = null;
    this._err ??= new TimeoutError(`TLS close did not finish in ${this._tlsShutdownTimeout} s (the peer stopped reading); the connection was aborted`);
    this.abort();
  }

  protected _destroy(): void {
    this.#socket.destroy();
  }

  protected _readStop(): void {
    this.#socket.pause();
  }

  protected _readStart(): void {
    this.#socket.resume();
  }

  /** asyncio: `Transport.get_write_buffer_size`. Bytes queued in Node's socket. */
  getWriteBufferSize(): number {
    return this.#socket.writableLength;
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
}
