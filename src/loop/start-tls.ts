// startTls: upgrade an open connection to TLS in place (asyncio's loop.start_tls, used for
// STARTTLS in SMTP, IMAP, PostgreSQL and friends).
//
// The plain transport hands its socket over (its listeners go, it ends without connectionLost)
// and node:tls wraps the same socket: `tls.connect({ socket })` on the client side, a
// `TLSSocket` with `isServer` on the server side. Once the handshake completes, a new Transport
// over the TLS socket serves the same protocol, without a second connectionMade, and the
// Future resolves to it. A failed handshake (a bad certificate, a peer that speaks plain text,
// the optional timeout) fails the Future, destroys the socket and calls the protocol's
// connectionLost(error): the connection is unusable after a half-done handshake, as in asyncio. Bytes the peer sent before the upgrade must have
// been read already; the caller agrees the switch point with the peer, as every STARTTLS
// protocol does.

import type tls from 'node:tls';
import { tlsModule } from './lazy.js';
import type { EventLoop } from './event-loop.js';
import { checkShutdownTimeout, type Protocol, type Transport } from './transport.js';
import { SocketTransport } from './socket-transport.js';
import { Future } from '../tasks/future.js';
import { RuntimeError, TimeoutError } from '../tasks/errors.js';

/** node:tls options for either side, plus asyncio's start_tls arguments. */
export type StartTlsOptions = Omit<tls.ConnectionOptions, 'pskCallback'> & Omit<tls.TlsOptions, 'pskCallback'> & {
  /** asyncio: `server_side`. Default false. */
  serverSide?: boolean;
  /** asyncio: `server_hostname` (SNI and the name the certificate must match). */
  serverHostname?: string;
  /** asyncio: `ssl_handshake_timeout`, seconds (default 60). */
  handshakeTimeout?: number;
  /** asyncio: `ssl_shutdown_timeout`: seconds close() may take to flush and send close_notify
   *  before it aborts the connection (default 30). */
  sslShutdownTimeout?: number;
};

/** asyncio: `loop.start_tls`. A Future of the new transport. */
export function startTls(loop: EventLoop, transport: Transport, protocol: Protocol, options: StartTlsOptions = {}): Future<Transport> {
  loop._checkOpen();
  const out = new Future<Transport>(loop);
  if (transport._unusable) {
    out._fail(new RuntimeError(`cannot start TLS on a closing transport ${transport}`));
    return out;
  }
  const { serverSide = false, serverHostname, handshakeTimeout = 60, sslShutdownTimeout = 30, ...tlsOptions } = options;
  checkShutdownTimeout(sslShutdownTimeout);
  const server = transport._server;
  const socket = transport._detach();
  let secure: tls.TLSSocket;
  if (serverSide) {
    secure = new (tlsModule().TLSSocket)(socket, {
      ...tlsOptions,
      isServer: true,
      secureContext: tlsOptions.secureContext ?? tlsModule().createSecureContext(tlsOptions),
    } as tls.TLSSocketOptions);
  } else {
    secure = tlsModule().connect({ ...tlsOptions, socket, servername: serverHostname ?? tlsOptions.servername } as tls.ConnectionOptions);
  }
  const timer = loop.callLater(handshakeTimeout, () => fail(new TimeoutError(`TLS handshake did not finish in ${handshakeTimeout} s`)));
  let failed = false;
  const fail = (error: Error): void => {
    if (failed) return;
    failed = true;
    timer.cancel();
    secure.off('secure', onSecure);
    secure.off('secureConnect', onSecure);
    secure.destroy();
    // The connection is gone: whoever tracks the old transport, and the protocol, hear of it.
    server?._lost(transport);
    if (!loop.isClosed()) loop.callSoon(() => protocol.connectionLost(error));
    if (!out.done()) out._fail(error);
  };
  const onError = (error: Error): void => fail(error);
  const onClose = (): void => fail(Object.assign(new Error('the peer closed the connection during the TLS handshake'), { code: 'ECONNRESET' }));
  const onSecure = (): void => {
    timer.cancel();
    secure.off('error', onError);
    secure.off('close', onClose);
    if (out.done()) { // cancelled, and its done callback (which calls fail) has not run yet
      secure.destroy();
      return;
    }
    const next = new SocketTransport(loop, secure, protocol, false);
    next._tlsShutdownTimeout = sslShutdownTimeout;
    server?._replace(transport, next);
    out._finish(next);
  };
  // `on`, not `once`: a failing handshake can emit more than one error (an alert, then a reset),
  // and an 'error' with no listener would throw; after a failure they all land in fail(), a no-op.
  secure.on('error', onError);
  secure.once('close', onClose);
  secure.once(serverSide ? 'secure' : 'secureConnect', onSecure);
  out.addDoneCallback(() => { if (out.cancelled()) fail(new Error('startTls cancelled')); });
  return out;
}
