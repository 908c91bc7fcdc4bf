// Datagram endpoints: asyncio's create_datagram_endpoint over node:dgram.
//
// DatagramProtocol gets datagramReceived(data, addr) and errorReceived(error); the transport's
// sendto(data, addr) sends one datagram (to the connected remote when addr is omitted); a send
// that fails (a datagram too large, an ICMP error pending) reaches errorReceived, as asyncio's. Like
// TCP transports, callbacks run with this loop as the running loop, connectionMade and
// connectionLost go through callSoon, and an open endpoint counts as I/O that can wake the loop.

import type dgram from 'node:dgram';
import { dgramModule } from './lazy.js';
import type { AddressInfo } from 'node:net';
import type { EventLoop, OpenIo } from './event-loop.js';
import { Future } from '../tasks/future.js';
import { inLoop, makeProtocol } from './transport.js';

/** asyncio: `DatagramProtocol`. Subclass and override what you need. */
export class DatagramProtocol {
  connectionMade(_transport: DatagramTransport): void {}
  datagramReceived(_data: Buffer, _addr: AddressInfo): void {}
  errorReceived(_error: Error): void {}
  connectionLost(_error: Error | null): void {}
}

/** asyncio: `DatagramTransport`. */
export class DatagramTransport {
  readonly #loop: EventLoop;
  readonly #socket: dgram.Socket;
  readonly #protocol: DatagramProtocol;
  readonly #remote: [string, number] | null;
  /** send()'s callback: Node reports a failed send (EMSGSIZE...) only there, not as 'error'. */
  readonly #sent: (error: Error | null) => void;
  #closing = false;
  /** @internal Links in the loop's list of open I/O. */
  _ioPrev: OpenIo | null = null;
  /** @internal */
  _ioNext: OpenIo | null = null;

  /** @internal */
  constructor(loop: EventLoop, socket: dgram.Socket, protocol: DatagramProtocol, remote: [string, number] | null) {
    this.#loop = loop;
    this.#socket = socket;
    this.#protocol = protocol;
    this.#remote = remote;
    loop._ioAdd(this);
    socket.on('message', (data, rinfo) => inLoop(loop, () => protocol.datagramReceived(data, rinfo), undefined));
    const received = (error: Error): void => protocol.errorReceived(error);
    socket.on('error', (error) => inLoop(loop, received, error));
    this.#sent = (error) => {
      if (error) inLoop(loop, received, error);
    };
    socket.on('close', () => {
      loop._ioRemove(this);
      if (this.#closing) loop._ioClosing--;
      if (!loop.isClosed()) loop.callSoon(() => protocol.connectionLost(null));
    });
    if (!loop.isClosed()) loop.callSoon(() => protocol.connectionMade(this));
  }

  /** asyncio: `DatagramTransport.sendto(data, addr=None)`. On a connected endpoint `addr` must
   *  be omitted or be the remote address (asyncio raises ValueError; Node would send to the
   *  remote whatever `addr` said). */
  sendto(data: Uint8Array | string, addr?: [host: string, port: number]): void {
    if (this.#closing) return;
    const remote = this.#remote;
    if (remote !== null) {
      if (addr !== undefined && (addr[0] !== remote[0] || addr[1] !== remote[1])) {
        throw new TypeError(`invalid address ${addr[0]}:${addr[1]}: a connected endpoint sends only to ${remote[0]}:${remote[1]} (omit the address)`);
      }
      this.#socket.send(data, this.#sent);
      return;
    }
    if (addr === undefined) throw new TypeError('sendto() needs an address on an unconnected endpoint');
    this.#socket.send(data, addr[1], addr[0], this.#sent);
  }

  /** asyncio: `BaseTransport.close`. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#loop._ioClosing++; // on its way out: not a leak if the loop closes first
    this.#socket.close();
  }

  /** @internal The loop closed with this open: closed. */
  _abandon(): void {
    this.close();
  }

  /** asyncio: `DatagramTransport.abort`. */
  abort(): void {
    this.close();
  }

  isClosing(): boolean {
    return this.#closing;
  }

  /** `sockname`, `peername` (connected endpoints), `socket`. */
  getExtraInfo(name: string, fallback: unknown = undefined): unknown {
    try {
      if (name === 'sockname') return this.#socket.address();
      if (name === 'peername') return this.#remote === null ? fallback : this.#socket.remoteAddress();
      if (name === 'socket') return this.#socket;
    } catch {
      return fallback;
    }
    return fallback;
  }

  getProtocol(): DatagramProtocol {
    return this.#protocol;
  }

  toString(): string {
    return `<DatagramTransport ${this.#closing ? 'closing' : 'open'} on ${this.#loop}>`;
  }
}

export interface DatagramOptions {
  localAddr?: [host: string, port: number];
  remoteAddr?: [host: string, port: number];
  /** 'udp4' (default) or 'udp6'. */
  family?: 'udp4' | 'udp6';
  reuseAddress?: boolean;
}

/** asyncio: `loop.create_datagram_endpoint`. A Future of [transport, protocol]. */
export function createDatagramEndpoint<P extends DatagramProtocol>(loop: EventLoop, protocolFactory: () => P, options: DatagramOptions = {}): Future<[DatagramTransport, P]> {
  loop._checkOpen();
  const fut = new Future<[DatagramTransport, P]>(loop);
  const family = options.family ?? (options.localAddr?.[0]?.includes(':') || options.remoteAddr?.[0]?.includes(':') ? 'udp6' : 'udp4');
  const socket = dgramModule().createSocket({ type: family, reuseAddr: options.reuseAddress ?? false });
  const fail = (error: Error): void => {
    if (!fut.done()) fut._fail(error);
    socket.close();
  };
  socket.once('error', fail);
  const ready = (): void => {
    socket.off('error', fail);
    if (fut.done()) { // cancelled while binding or connecting: nobody will take the socket
      socket.close();
      return;
    }
    let protocol: P;
    try {
      protocol = makeProtocol(loop, protocolFactory);
    } catch (error) {
      return fail(error as Error);
    }
    fut._finish([new DatagramTransport(loop, socket, protocol, options.remoteAddr ?? null), protocol]);
    fut._onAbandon = closeAbandoned; // a task cancelled before it resumes with it: close it
  };
  const connect = (): void => {
    if (options.remoteAddr === undefined) return ready();
    socket.connect(options.remoteAddr[1], options.remoteAddr[0], ready);
  };
  if (options.localAddr !== undefined) socket.bind(options.localAddr[1], options.localAddr[0], connect);
  else if (options.remoteAddr !== undefined) connect();
  else socket.bind(0, connect);
  return fut;
}

function closeAbandoned(f: Future<unknown>): void {
  (f.result() as [DatagramTransport, DatagramProtocol])[0].close();
}
