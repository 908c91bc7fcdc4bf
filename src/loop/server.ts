// Server, createServer and createConnection: listening and connecting sockets for the loop.
//
// TCP_NODELAY is on by default, as asyncio does since 3.6 (latency over small writes).
// Server follows asyncio 3.12+: close() stops listening and leaves connections open;
// waitClosed() resolves when the server is closed *and* its connections are gone;
// closeClients()/abortClients() end them. serveForever() is a Future that stays pending until
// the server closes; cancelling it closes the server. Errors from Node (ECONNREFUSED,
// EADDRINUSE...) are passed as they are, so `error.code` stays reachable. Node binds and
// listens in one step, so a server made with startServing: false is listening already (its
// address known, a bind error raised at creation, as asyncio's); the connections it accepts
// wait, unread by any protocol, until startServing(), and close() drops them (asyncio, bound but
// not listening yet, refuses them). Plain TCP, accepted or connected to an IP address, runs on
// Node's TCP handle (TcpTransport, see takeAccepts and connectHandle); the rest on net.Socket.

import fs from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import { tlsModule } from './lazy.js';
import type { EventLoop, OpenIo } from './event-loop.js';
import { checkShutdownTimeout, makeProtocol, type Protocol, type Transport } from './transport.js';
import { SocketTransport } from './socket-transport.js';
import { TcpTransport } from './tcp-transport.js';
import { isTcpHandle, tcpBinding, uvError, type ConnectReq, type TcpHandle } from './tcp-handle.js';
import { Roster } from './roster.js';
import { asSocketEvent } from './running.js';
import { Future } from '../tasks/future.js';
import type { CancelReason } from '../tasks/errors.js';

export interface ConnectOptions {
  /** TLS: true for defaults, or node:tls connect options (a secure context, ca, ...). */
  ssl?: boolean | tls.ConnectionOptions;
  /** TLS: seconds close() may take to flush and send close_notify before it aborts (30). */
  sslShutdownTimeout?: number;
  serverHostname?: string;
  noDelay?: boolean;
  localAddr?: [host: string, port: number];
}

export interface ServeOptions {
  /** TLS: node:tls server options (key, cert, ...). */
  ssl?: tls.TlsOptions;
  /** TLS: seconds close() may take to flush and send close_notify before it aborts (30). */
  sslShutdownTimeout?: number;
  backlog?: number;
  reuseAddress?: boolean;
  startServing?: boolean;
  noDelay?: boolean;
}

/** asyncio: `Server`. */
export class Server {
  readonly #loop: EventLoop;
  readonly #net: net.Server;
  /** Listening (counted in the loop's open I/O) and not closed. */
  #open = false;
  #serving = false;
  #closed = false;
  /** Connections accepted before startServing() (startServing: false), handed over then. */
  #held: Incoming[] = [];
  readonly #dispatch: (conn: Incoming) => void;
  /** Open connections (a Roster, not a Set: see roster.ts). */
  readonly #transports = new Roster<Transport>();
  #closedWaiters: Future<void>[] = [];
  #forever: Future<void> | null = null;
  /** @internal Links in the loop's list of open I/O. */
  _ioPrev: OpenIo | null = null;
  /** @internal */
  _ioNext: OpenIo | null = null;

  /** @internal */
  constructor(loop: EventLoop, netServer: net.Server, dispatch: (conn: Incoming) => void) {
    this.#loop = loop;
    this.#net = netServer;
    this.#dispatch = dispatch;
  }

  /** @internal A connection was accepted: served now, or held until startServing(). */
  _accept(conn: Incoming): void {
    if (this.#serving) {
      this.#dispatch(conn);
      return;
    }
    if (this.#closed) {
      discard(conn);
      return;
    }
    // A peer that resets while held must not crash the process (a handle is not read: no error).
    if (conn instanceof net.Socket) conn.on('error', ignoreHeldError);
    this.#held.push(conn);
  }

  /** @internal accept(2) failed (out of descriptors, say): reported; the server goes on. */
  _acceptFailed(error: Error): void {
    this.#loop.callExceptionHandler({ message: 'accept() failed', exception: error, server: this });
  }

  /** @internal */
  _attach(t: Transport): void {
    t._server = this;
    t._serverSlot = this.#transports.add(t);
  }

  /** @internal `t`'s connection is gone. */
  _lost(t: Transport): void {
    if (this.#transports.remove(t._serverSlot, t)) this.#maybeWake();
    t._server = null;
  }

  /** @internal startTls replaced `old` by `next`. */
  _replace(old: Transport, next: Transport): void {
    this.#transports.remove(old._serverSlot, old);
    old._server = null;
    this._attach(next);
  }

  /** @internal The listening socket is bound: an open resource of the loop from now on. */
  _markOpen(): void {
    if (this.#open || this.#closed) return;
    this.#open = true;
    this.#loop._ioAdd(this);
    this.#loop._servers.add(this);
  }

  /** @internal Connections are served from now on, those held first, in accept order. */
  _markServing(): void {
    if (this.#serving || this.#closed) return;
    this.#serving = true;
    const held = this.#held;
    this.#held = [];
    for (const conn of held) {
      if (conn instanceof net.Socket) {
        conn.off('error', ignoreHeldError);
        if (conn.destroyed) continue; // reset while it waited: nothing to serve
      }
      this.#dispatch(conn);
    }
  }

  /** asyncio: `Server.sockets`, as Node AddressInfo objects. */
  get sockets(): net.AddressInfo[] {
    const a = this.#net.address();
    return a === null || typeof a === 'string' ? [] : [a];
  }

  /** The bound address (a path for Unix servers). Project only. */
  address(): net.AddressInfo | string | null {
    return this.#net.address();
  }

  /** asyncio: `Server.is_serving`. */
  isServing(): boolean {
    return this.#serving && !this.#closed;
  }

  /** asyncio: `Server.start_serving`. The socket is listening already (Node binds and listens
   *  in one step): connections accepted since are served now, then every new one. */
  startServing(): Future<void> {
    this._markServing();
    const fut = new Future<void>(this.#loop);
    fut._finish(undefined);
    return fut;
  }

  /** asyncio: `Server.serve_forever`. Pending until the server closes; cancelling it closes the server. */
  serveForever(): Future<void> {
    if (this.#forever !== null) return this.#forever;
    const server = this;
    class Forever extends Future<void> {
      override cancel(msg?: string, reason?: CancelReason): boolean {
        const r = super.cancel(msg, reason);
        if (r) server.close();
        return r;
      }
    }
    const fut = new Forever(this.#loop);
    this.#forever = fut;
    if (!this.#serving) this.startServing();
    if (this.#closed) fut._finish(undefined);
    return fut;
  }

  /** asyncio: `Server.close`. Stops listening; open connections stay until they end. */
  close(): void {
    if (this.#closed) return;
    if (this.#open) this.#loop._ioRemove(this);
    this.#loop._servers.delete(this);
    this.#closed = true;
    this.#open = false;
    this.#serving = false;
    for (const conn of this.#held.splice(0)) discard(conn); // never served
    this.#net.close(() => this.#maybeWake());
    if (this.#forever !== null && !this.#forever.done()) this.#forever._finish(undefined);
  }

  /** @internal The loop closed with this open: closed (its connections are aborted as theirs). */
  _abandon(): void {
    this.close();
  }

  /** Project only: graceful two-phase shutdown. Stops accepting, lets connections finish for
   *  `grace` seconds, then aborts the rest; resolves once all are gone. */
  stop(options: { grace?: number } = {}): Future<void> {
    const grace = options.grace ?? 0;
    this.close();
    const done = this.waitClosed();
    if (this.#transports.size > 0) {
      const timer = this.#loop.callLater(grace, () => this.abortClients());
      done.addDoneCallback(() => timer.cancel());
    }
    return done;
  }

  /** asyncio: `Server.close_clients` (3.13). */
  closeClients(): void {
    for (const t of this.#transports.toArray()) t.close();
  }

  /** asyncio: `Server.abort_clients` (3.13). */
  abortClients(): void {
    for (const t of this.#transports.toArray()) t.abort();
  }

  /** asyncio: `Server.wait_closed`. Resolves once closed and every connection is gone. */
  waitClosed(): Future<void> {
    const fut = new Future<void>(this.#loop);
    this.#closedWaiters.push(fut);
    this.#maybeWake();
    return fut;
  }

  /** Open connections. Project only (tests count them). */
  get connectionCount(): number {
    return this.#transports.size;
  }

  #maybeWake(): void {
    if (!this.#closed || this.#net.listening || this.#transports.size > 0) return;
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const w of waiters) if (!w.done()) w._finish(undefined);
  }

  toString(): string {
    return `<Server ${this.#closed ? 'closed' : this.#serving ? 'serving' : 'idle'} connections=${this.#transports.size}${this.#held.length > 0 ? ` held=${this.#held.length}` : ''}>`;
  }
}

/** asyncio: `loop.create_server` for TCP (host, port) or a Unix path. */
export function createServer(
  loop: EventLoop,
  protocolFactory: () => Protocol,
  where: { host?: string | null; port?: number; path?: string },
  options: ServeOptions = {},
): Future<Server> {
  loop._checkOpen();
  const fut = new Future<Server>(loop);
  const noDelay = options.noDelay ?? where.path === undefined;
  const shutdownTimeout = sslShutdownTimeout(options);
  let server: Server;
  const serve = (conn: Incoming): void => {
    let protocol: Protocol;
    try {
      protocol = makeProtocol(loop, protocolFactory);
    } catch (error) { // asyncio reports this in debug mode only; a silent drop hides a bug
      loop.callExceptionHandler({ message: 'Error on transport creation for incoming connection', exception: error });
      discard(conn);
      return;
    }
    const transport = conn instanceof net.Socket ? new SocketTransport(loop, conn, protocol) : new TcpTransport(loop, conn, protocol);
    if (shutdownTimeout !== undefined) transport._tlsShutdownTimeout = shutdownTimeout;
    server._attach(transport);
  };
  const onSocket = (socket: net.Socket): void => asSocketEvent(accept, server, socket);
  const netServer = options.ssl
    ? tlsModule().createServer({ ...options.ssl, allowHalfOpen: true, noDelay } as tls.TlsOptions, onSocket)
    : net.createServer({ allowHalfOpen: true, noDelay }, onSocket); // the server sets TCP_NODELAY at accept
  server = new Server(loop, netServer, serve);
  const onError = (error: Error): void => {
    if (!fut.done()) fut._fail(error);
  };
  netServer.once('error', onError);
  netServer.once('listening', () => {
    netServer.off('error', onError);
    if (fut.done()) { // cancelled while binding: nobody will hold this server
      server.close();
      return;
    }
    if (!options.ssl && where.path === undefined) takeAccepts(netServer, server, noDelay);
    server._markOpen();
    if (options.startServing !== false) server._markServing();
    fut._finish(server);
    fut._onAbandon = closeAbandonedServer; // a task cancelled before it resumes with it
  });
  if (where.path !== undefined) {
    removeStaleSocket(where.path);
    netServer.listen({ path: where.path, backlog: options.backlog ?? 100 });
  } else netServer.listen({ host: where.host ?? undefined, port: where.port ?? 0, backlog: options.backlog ?? 100, exclusive: true });
  return fut;
}

function ignoreHeldError(): void {}

/** An accepted connection: a net.Socket, or the TCP handle itself (see takeAccepts). */
type Incoming = net.Socket | TcpHandle;

function discard(conn: Incoming): void {
  if (conn instanceof net.Socket) conn.destroy();
  else conn.close();
}

const kServer = Symbol('tulip.server');
type Listening = TcpHandle & { [kServer]?: { server: Server; noDelay: boolean } };

/** A plain TCP server takes its accepted connections as handles (TcpTransport) where Node's
 *  TCP handle is usable (tcp-handle.ts): the listening handle's onconnection, which net.Server
 *  set to make a net.Socket, is replaced before the first connection can come (the 'listening'
 *  event runs before the next poll). net.Server keeps the rest: binding, address(), close(). */
function takeAccepts(netServer: net.Server, server: Server, noDelay: boolean): void {
  const h = (netServer as unknown as { _handle?: unknown })._handle;
  if (!isTcpHandle(h) || typeof h.onconnection !== 'function') return; // a cluster worker's, say
  (h as Listening)[kServer] = { server, noDelay };
  h.onconnection = onTcpConnection;
}

function onTcpConnection(this: Listening, status: number, client: TcpHandle | undefined): void {
  const { server, noDelay } = this[kServer]!;
  if (status !== 0 || client === undefined) {
    server._acceptFailed(uvError(status, 'accept'));
    return;
  }
  if (noDelay) client.setNoDelay(true);
  asSocketEvent(accept, server, client);
}

/** asyncio's ssl_shutdown_timeout, checked where it is passed (undefined: the transport's 30 s). */
function sslShutdownTimeout(options: { ssl?: unknown; sslShutdownTimeout?: number }): number | undefined {
  const t = options.sslShutdownTimeout;
  if (t === undefined) return undefined;
  if (!options.ssl) throw new TypeError('sslShutdownTimeout is only meaningful with ssl (asyncio raises ValueError)');
  return checkShutdownTimeout(t);
}

/** asyncio's create_unix_server: a socket file left at the path (a server that died without
 *  closing) is removed before binding; any other file there stays and the bind fails. */
function removeStaleSocket(path: string): void {
  if (path.startsWith('\0')) return; // Linux abstract namespace: no file
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function accept(server: Server, conn: Incoming): void {
  server._accept(conn);
}

function closeAbandonedServer(f: Future<unknown>): void {
  (f.result() as Server).close();
}

/** @internal A connection being made: the Future of its result, holding what the socket's
 *  listeners need (module-level functions, found through the socket), so connecting makes no
 *  closures. Cancelling it destroys the socket. `made` turns the transport and protocol into
 *  the result (openConnection makes its reader and writer there). */
export class Connecting<P extends Protocol, R> extends Future<R> {
  /** @internal the socket being connected, or (plain TCP, see connectHandle) the handle */
  declare readonly _socket: net.Socket | null;
  /** @internal */ declare readonly _handle: TcpHandle | null;
  /** @internal */ declare readonly _factory: () => P;
  /** @internal */ declare readonly _made: (transport: Transport, protocol: P) => R;
  /** @internal */ declare readonly _setNoDelay: boolean;
  /** @internal TLS: the transport's ssl_shutdown_timeout, when one was given */
  declare _shutdownTimeout: number | undefined;
  /** @internal the connection, once made (closed if the waiting task is cancelled first) */
  declare _transport: Transport | null;
  /** @internal While connecting, an open resource of the loop (OpenIo): close() aborts it. */
  declare _ioPrev: OpenIo | null;
  /** @internal */ declare _ioNext: OpenIo | null;
  /** @internal */ declare _ioLinked: boolean;

  // Fields assigned here, not by initializers: see Future.
  constructor(loop: EventLoop, socket: net.Socket | null, handle: TcpHandle | null, factory: () => P, made: (transport: Transport, protocol: P) => R, setNoDelay: boolean) {
    super(loop);
    this._socket = socket;
    this._handle = handle;
    this._factory = factory;
    this._made = made;
    this._setNoDelay = setNoDelay;
    this._transport = null;
    this._shutdownTimeout = undefined;
    this._ioPrev = this._ioNext = null;
    this._ioLinked = true;
    loop._ioAdd(this);
  }

  override cancel(msg?: string, reason?: CancelReason): boolean {
    if (!super.cancel(msg, reason)) return false;
    this._connectEnded();
    this.#drop();
    return true;
  }

  #drop(): void {
    if (this._socket !== null) this._socket.destroy();
    else this._handle!.close();
  }

  /** @internal The connect succeeded, failed or was given up: no longer the loop's to end. */
  _connectEnded(): void {
    if (!this._ioLinked) return;
    this._ioLinked = false;
    this._loop._ioRemove(this);
  }

  /** @internal The loop closed while connecting: the attempt is aborted. */
  _abandon(): void {
    this.#drop();
  }

  /** @internal Connected: the protocol is made, then the transport over the socket or handle,
   *  and the result. A failing factory fails the connect (create_connection raises it). */
  _connected(): void {
    const loop = this.getLoop();
    let protocol: P;
    try {
      protocol = makeProtocol(loop, this._factory);
    } catch (error) {
      this._fail(error);
      this.#drop();
      return;
    }
    const transport = this._transport = this._socket !== null
      ? new SocketTransport(loop, this._socket, protocol)
      : new TcpTransport(loop, this._handle!, protocol);
    if (this._shutdownTimeout !== undefined) transport._tlsShutdownTimeout = this._shutdownTimeout;
    this._onAbandon = closeAbandoned;
    this._finish(this._made(transport, protocol));
  }
}

const kConnecting = Symbol('tulip.connecting');
type Pending = net.Socket & { [kConnecting]?: Connecting<Protocol, unknown> };

function onConnectError(this: Pending, error: Error): void {
  const c = this[kConnecting];
  if (c === undefined) return;
  this[kConnecting] = undefined;
  c._connectEnded();
  this.removeListener('connect', onConnected);
  this.removeListener('secureConnect', onConnected);
  if (!c.done()) c._fail(error);
  this.destroy();
}

function onConnected(this: Pending): void {
  asSocketEvent(connected, this, null);
}

function connected(socket: Pending): void {
  const c = socket[kConnecting];
  if (c === undefined) return;
  socket[kConnecting] = undefined;
  c._connectEnded();
  socket.removeListener('error', onConnectError);
  if (c.done()) { // cancelled while connecting (cancel() destroyed it already)
    socket.destroy();
    return;
  }
  if (c._setNoDelay) socket.setNoDelay(true); // net.connect takes noDelay, tls.connect ignores it
  c._connected();
}

/** Plain TCP to an IP address, on the TCP handle itself (TcpTransport; see tcp-handle.ts): no
 *  net.Socket is made. A host name goes through net.connect, for its lookup and its happy eyeballs. */
function connectHandle<P extends Protocol, R>(
  loop: EventLoop, factory: () => P, made: (transport: Transport, protocol: P) => R,
  host: string, port: number, family: number, noDelay: boolean,
): Future<R> {
  const b = tcpBinding()!;
  const h = new b.TCP(b.SOCKET);
  const c = new Connecting<P, R>(loop, null, h, factory, made, noDelay);
  const req = new b.TCPConnectWrap();
  req.oncomplete = afterHandleConnect;
  req.address = host;
  req.port = port;
  req.owner = c;
  const err = family === 6 ? h.connect6(req, host, port) : h.connect(req, host, port);
  if (err !== 0) {
    c._connectEnded();
    h.close();
    c._fail(uvError(err, 'connect', host, port));
  }
  return c;
}

function afterHandleConnect(this: ConnectReq, status: number): void {
  asSocketEvent(handleConnected, this, status);
}

function handleConnected(req: ConnectReq, status: number): void {
  const c = req.owner as Connecting<Protocol, unknown>;
  c._connectEnded();
  if (c.done()) return; // cancelled while connecting (cancel() closed the handle)
  const h = c._handle!;
  if (status !== 0) {
    h.close();
    c._fail(uvError(status, 'connect', req.address, req.port));
    return;
  }
  if (c._setNoDelay) h.setNoDelay(true);
  c._connected();
}

/** The task waiting for the connection was cancelled before it resumed: nobody else will close it. */
function closeAbandoned(c: Future<unknown>): void {
  (c as Connecting<Protocol, unknown>)._transport?.close();
}

const pair = <P extends Protocol>(transport: Transport, protocol: P): [Transport, P] => [transport, protocol];

/** asyncio: `loop.create_connection` for TCP (host, port) or a Unix path. */
export function createConnection<P extends Protocol>(
  loop: EventLoop,
  protocolFactory: () => P,
  where: { host?: string; port?: number; path?: string },
  options?: ConnectOptions,
): Future<[Transport, P]>;
/** @internal With `made` building the result from the transport and protocol. */
export function createConnection<P extends Protocol, R>(
  loop: EventLoop,
  protocolFactory: () => P,
  where: { host?: string; port?: number; path?: string },
  options: ConnectOptions,
  made: (transport: Transport, protocol: P) => R,
): Future<R>;
export function createConnection<P extends Protocol, R>(
  loop: EventLoop,
  protocolFactory: () => P,
  where: { host?: string; port?: number; path?: string },
  options: ConnectOptions = {},
  made: (transport: Transport, protocol: P) => R = pair as unknown as (transport: Transport, protocol: P) => R,
): Future<R> {
  loop._checkOpen();
  const shutdownTimeout = sslShutdownTimeout(options);
  let socket: net.Socket;
  if (options.ssl) {
    const base = typeof options.ssl === 'object' ? options.ssl : {};
    socket = tlsModule().connect({
      ...base,
      host: where.host, port: where.port, path: where.path,
      servername: options.serverHostname ?? base.servername ?? (where.host && !net.isIP(where.host) ? where.host : undefined),
      allowHalfOpen: true,
    } as tls.ConnectionOptions);
  } else if (where.path !== undefined) {
    socket = net.connect({ path: where.path, allowHalfOpen: true });
  } else {
    const family = net.isIP(where.host ?? '');
    const port = where.port;
    if (family !== 0 && options.localAddr === undefined && Number.isInteger(port) && port! > 0 && port! < 65536 && tcpBinding() !== null) {
      return connectHandle(loop, protocolFactory, made, where.host!, port!, family, options.noDelay ?? true);
    }
    socket = net.connect({
      host: where.host, port: where.port!, allowHalfOpen: true, noDelay: options.noDelay ?? true,
      localAddress: options.localAddr?.[0], localPort: options.localAddr?.[1],
    });
  }
  const setNoDelay = !!options.ssl && (options.noDelay ?? where.path === undefined);
  const fut = new Connecting<P, R>(loop, socket, null, protocolFactory, made, setNoDelay);
  fut._shutdownTimeout = shutdownTimeout;
  (socket as Pending)[kConnecting] = fut as unknown as Connecting<Protocol, unknown>;
  socket.on('error', onConnectError);
  socket.on(options.ssl ? 'secureConnect' : 'connect', onConnected);
  return fut;
}
