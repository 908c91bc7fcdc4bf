// TcpTransport: the Transport over Node's TCP handle itself (tcp-handle.ts), below net.Socket.
//
// Reads arrive in the handle's onread as (buffer, byte count) and go straight to the protocol.
// A write goes to the handle at once (writeBuffer: libuv tries the send(2) in that call); one
// that could not finish is held by libuv, counted in the handle's writeQueueSize (the write
// buffer of the flow control), and its completion resumes the protocol at the low mark. During a
// read burst writes are held here and leave in one writev at its end (transport.ts). writeEof()
// is a shutdown(2), which libuv queues behind the pending writes; close() is that shutdown and
// then close(2), or close(2) alone once the peer's EOF came and nothing is pending, as
// SocketTransport and asyncio do. After the peer's EOF and our own the connection closes by
// itself (net.Socket's autoDestroy). Every callback from the handle finds its transport through
// the handle, so a connection makes no closures.

import net from 'node:net';
import type { EventLoop } from './event-loop.js';
import { asSocketEvent } from './running.js';
import { Transport, type Protocol } from './transport.js';
import { UV_EOF, tcpBinding, uvError, type ShutdownReq, type TcpBinding, type TcpHandle, type WriteReq } from './tcp-handle.js';

const kOwner = Symbol('tulip.tcpTransport');
type Owned = TcpHandle & { [kOwner]?: TcpTransport | null };
type Address = { address: string; family: string; port: number };

let B: TcpBinding;

function onRead(this: Owned, buffer: ArrayBuffer | undefined): void {
  const state = B.state;
  const n = state[B.kReadBytesOrError]!;
  const t = this[kOwner];
  if (t == null) return;
  if (n > 0) asSocketEvent(deliver, t, Buffer.from(buffer!, state[B.kArrayBufferOffset], n));
  else if (n < 0) asSocketEvent(readEnded, t, n);
}
function deliver(t: TcpTransport, data: Buffer): void { t._data(data); }
function readEnded(t: TcpTransport, n: number): void { t._readEnded(n); }
function afterWrite(this: WriteReq, status: number): void {
  asSocketEvent(writeDone, this.owner as TcpTransport, status);
}
function writeDone(t: TcpTransport, status: number): void { t._writeDone(status); }
function afterShutdown(this: ShutdownReq, status: number): void {
  asSocketEvent(shutDone, this.owner as TcpTransport, status);
}
function shutDone(t: TcpTransport, _status: number): void { t._shutDone(); }
function onHandleClosed(this: Owned): void {
  const t = this[kOwner];
  this[kOwner] = null;
  if (t != null) asSocketEvent(handleClosed, t, null);
}
function handleClosed(t: TcpTransport): void { t._close(); }

function addressOf(h: TcpHandle, which: 'getpeername' | 'getsockname'): Address | null {
  const out: Record<string, unknown> = {};
  return h[which](out) === 0 && typeof out.address === 'string' ? out as Address : null;
}

/** What getExtraInfo('socket') gives for a TcpTransport: the connection's addresses and
 *  options, no I/O (as asyncio's TransportSocket). */
export class TcpSocketInfo {
  readonly #t: TcpTransport;
  /** @internal */
  constructor(t: TcpTransport) {
    this.#t = t;
  }
  /** The connection is closed (or closing, past its last byte). */
  get destroyed(): boolean { return this.#t._destroyed(); }
  get remoteAddress(): string | undefined { return (this.#t.getExtraInfo('peername') as Address | undefined)?.address; }
  get remotePort(): number | undefined { return (this.#t.getExtraInfo('peername') as Address | undefined)?.port; }
  get remoteFamily(): string | undefined { return (this.#t.getExtraInfo('peername') as Address | undefined)?.family; }
  get localAddress(): string | undefined { return (this.#t.getExtraInfo('sockname') as Address | undefined)?.address; }
  get localPort(): number | undefined { return (this.#t.getExtraInfo('sockname') as Address | undefined)?.port; }
  get localFamily(): string | undefined { return (this.#t.getExtraInfo('sockname') as Address | undefined)?.family; }
  /** TCP_NODELAY (on by default, as asyncio). A no-op once closed, as net.Socket's. */
  setNoDelay(on = true): this {
    if (!this.#t._destroyed()) this.#t._handle().setNoDelay(on);
    return this;
  }
  /** SO_KEEPALIVE, with the idle time before the first probe in milliseconds (net.Socket's unit). */
  setKeepAlive(on = false, initialDelay = 0): this {
    if (!this.#t._destroyed()) this.#t._handle().setKeepAlive(on, Math.floor(initialDelay / 1000));
    return this;
  }
}

/** The Transport over a TCP handle (plain TCP where Node exposes the handle). */
export class TcpTransport extends Transport {
  readonly #h: Owned;
  /** Writes held during a read burst, and their bytes. */
  #held: (Uint8Array | string)[] | null = null;
  #heldBytes = 0;
  /** Writes libuv has not finished. */
  #pending = 0;
  /** shutdown(2): 0 not asked, 1 asked, 2 done. */
  #shut = 0;
  #closeWhenShut = false;
  #peerEof = false;
  #destroyed = false;
  #peer: Address | null = null;
  #sock: Address | null = null;
  #info: TcpSocketInfo | null = null;
  /** The socket startTls took the handle over in (abort() still ends the connection). */
  #detached: net.Socket | null = null;

  /** @internal `made: false` skips connectionMade. */
  constructor(loop: EventLoop, handle: TcpHandle, protocol: Protocol, made = true) {
    super(loop, protocol);
    B ??= tcpBinding()!;
    const h = this.#h = handle as Owned;
    h[kOwner] = this;
    h.onread = onRead;
    h.readStart();
    this._open(made);
  }

  /** @internal */
  _handle(): TcpHandle {
    return this.#h;
  }

  /** @internal */
  _destroyed(): boolean {
    return this.#destroyed;
  }

  /** @internal A read ended: the peer's EOF, or an error (a reset). */
  _readEnded(n: number): void {
    if (n !== UV_EOF) {
      this._error(uvError(n, 'read'));
      this._destroy();
      return;
    }
    this.#peerEof = true;
    this.#h.readStop();
    this._end();
    this.#closeIfDone();
  }

  /** @internal */
  _writeDone(status: number): void {
    this.#pending--;
    if (this.#destroyed || this._lost) return;
    if (status < 0) {
      this._error(uvError(status, 'write'));
      this._destroy();
      return;
    }
    if (this._writePaused) this._drain();
  }

  /** @internal */
  _shutDone(): void {
    this.#shut = 2;
    if (this.#destroyed || this._lost) return;
    if (this.#closeWhenShut) this._destroy();
    else this.#closeIfDone();
  }

  /** Both sides sent their EOF and nothing is pending: the connection is over. */
  #closeIfDone(): void {
    if (this.#shut === 2 && this.#peerEof && this.#pending === 0 && !this.#destroyed) this.abort(); // nothing left to drop
  }

  /** @internal */
  _detach(): net.Socket {
    this._flush(); // what was written before the upgrade leaves before the handshake
    const h = this.#h;
    h.readStop();
    h[kOwner] = null; // its onread is net.Socket's from here (it must stay a function)
    this._handOver();
    return (this.#detached = new net.Socket({ handle: h, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts));
  }

  /** @internal */
  _writeFailed(): Error | null {
    if (this._closing || this._lost || !this.#destroyed) return null;
    return this._err ?? Object.assign(new Error('Connection lost'), { code: 'ECONNRESET' });
  }

  /** @internal */
  get _unusable(): boolean {
    return this._closing || this._lost || this.#destroyed;
  }

  protected _cork(): void {}

  protected _send(data: Uint8Array | string): void {
    if (this._corked) {
      (this.#held ??= []).push(data);
      this.#heldBytes += data.length;
      return;
    }
    this.#write(data);
  }

  #write(data: Uint8Array | string): void {
    if (this.#destroyed) return;
    const req = new B.WriteWrap();
    req.oncomplete = afterWrite;
    req.owner = this;
    const err = typeof data === 'string' ? this.#h.writeUtf8String(req, data) : this.#h.writeBuffer(req, data);
    this.#dispatched(req, err, data);
  }

  #dispatched(req: WriteReq, err: number, data: unknown): void {
    if (err !== 0) {
      this._error(uvError(err, 'write'));
      this._destroy();
      return;
    }
    if (B.state[B.kLastWriteWasAsync] !== 0) {
      req.buffer = data;
      this.#pending++;
    }
  }

  /** @internal */
  _flush(): void {
    if (!this._corked) return;
    this._corked = false;
    const held = this.#held;
    this.#held = null;
    this.#heldBytes = 0;
    if (held === null || this.#destroyed) return;
    if (held.length === 1) {
      this.#write(held[0]!);
      return;
    }
    const chunks = held.map((d) => typeof d === 'string' ? Buffer.from(d) : d) as Uint8Array[];
    const req = new B.WriteWrap();
    req.oncomplete = afterWrite;
    req.owner = this;
    this.#dispatched(req, this.#h.writev(req, chunks, true), chunks);
  }

  protected _shutdown(): void {
    if (this.#shut !== 0 || this.#destroyed) return;
    this.#shut = 1;
    const req = new B.ShutdownWrap();
    req.oncomplete = afterShutdown;
    req.owner = this;
    const err = this.#h.shutdown(req);
    if (err !== 0) {
      this.#shut = 2;
      this._error(uvError(err, 'shutdown'));
      this._destroy();
    }
  }

  protected _closeAfterFlush(): void {
    if (this.#destroyed) return;
    this.#h.readStop(); // asyncio stops reading at close()
    if (this.#shut === 2 || (this.#shut === 0 && this.#peerEof && this.#pending === 0)) this._destroy();
    else {
      this.#closeWhenShut = true;
      this._shutdown();
    }
  }

  protected _destroy(): void {
    if (this.#detached !== null) { // handed over: the socket's owner hears of it
      this.#detached.destroy();
      return;
    }
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#held = null;
    this.#heldBytes = 0;
    this.#h.readStop();
    this.#h.close(onHandleClosed);
  }

  protected _readStop(): void {
    if (!this.#destroyed) this.#h.readStop();
  }

  protected _readStart(): void {
    if (!this.#destroyed && !this.#peerEof) this.#h.readStart();
  }

  /** asyncio: `Transport.get_write_buffer_size`. Bytes libuv has not sent yet, and those held. */
  getWriteBufferSize(): number {
    // writeQueueSize is a call into the handle; with no write pending in libuv it is 0, and that
    // is every write() on the hot path that went out at once.
    if (this.#destroyed) return 0;
    return this.#pending === 0 ? this.#heldBytes : this.#h.writeQueueSize + this.#heldBytes;
  }

  /** asyncio: `Transport.get_extra_info`: peername, sockname, socket (a TcpSocketInfo). */
  getExtraInfo(name: string, fallback: unknown = undefined): unknown {
    switch (name) {
      case 'peername': return (this.#peer ??= this.#destroyed ? null : addressOf(this.#h, 'getpeername')) ?? fallback;
      case 'sockname': return (this.#sock ??= this.#destroyed ? null : addressOf(this.#h, 'getsockname')) ?? fallback;
      case 'socket': return (this.#info ??= new TcpSocketInfo(this));
      default: return fallback;
    }
  }
}
