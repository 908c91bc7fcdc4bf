// Node's TCP handle (its tcp_wrap and stream_wrap bindings), for TcpTransport and the servers
// and connections that make it.
//
// A net.Socket is a Duplex stream over this handle; making one, and moving bytes through its
// stream machinery, is most of what Node spends on a short connection (WARP's proxy built on the
// handle served 1.3-2x the requests of the same proxy on net.Socket, one core, the same run). The
// handle is reached through process.binding(), which Node 20 keeps for these modules without a
// warning (DEP0111 is documentation-only). It is not a public API, so it is used only when it
// has the shape this file expects, never under --pending-deprecation (where it would warn), and
// not with TULIP_NET=socket in the environment: then every connection is a net.Socket.

import util from 'node:util';

/** The handle's methods this project calls (Node's TCPWrap, a StreamBase). */
export interface TcpHandle {
  /** Must be a function (Node aborts on anything else). */
  onread: (this: TcpHandle, buffer: ArrayBuffer | undefined) => void;
  onconnection?: (this: TcpHandle, status: number, client: TcpHandle | undefined) => void;
  readonly writeQueueSize: number;
  readonly fd: number;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: Uint8Array[], allBuffers: true): number;
  writeUtf8String(req: WriteReq, data: string): number;
  shutdown(req: ShutdownReq): number;
  close(callback?: (this: TcpHandle) => void): void;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  getpeername(out: Record<string, unknown>): number;
  getsockname(out: Record<string, unknown>): number;
}

export interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  /** What the write sends, kept alive until it completes (libuv holds a pointer to it). */
  buffer: unknown;
  owner: unknown;
}
export interface ShutdownReq {
  oncomplete: (this: ShutdownReq, status: number) => void;
  owner: unknown;
}
export interface ConnectReq {
  oncomplete: (this: ConnectReq, status: number) => void;
  address: string;
  port: number;
  owner: unknown;
}

export interface TcpBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  SOCKET: number;
  /** Int32Array the handle reports each read's and write's outcome in. */
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/** libuv's UV_EOF. */
export const UV_EOF = -4095;

let binding: TcpBinding | null | undefined;

function pendingDeprecation(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1';
}

/** Node's TCP handle binding, or null where it is missing, not as expected, or not wanted. */
export function tcpBinding(): TcpBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  if (process.env.TULIP_NET === 'socket' || pendingDeprecation()) return null;
  const get = (process as unknown as { binding?: (name: string) => Record<string, any> }).binding;
  if (typeof get !== 'function') return null;
  try {
    const tcp = get.call(process, 'tcp_wrap');
    const stream = get.call(process, 'stream_wrap');
    const proto = tcp.TCP?.prototype;
    const methods = ['readStart', 'readStop', 'writeBuffer', 'writev', 'writeUtf8String', 'shutdown', 'close', 'connect', 'connect6', 'setNoDelay', 'getpeername', 'getsockname'];
    if (typeof tcp.TCP !== 'function' || typeof tcp.TCPConnectWrap !== 'function' || typeof tcp.constants?.SOCKET !== 'number'
      || typeof stream.WriteWrap !== 'function' || typeof stream.ShutdownWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array)
      || !methods.every((m) => typeof proto[m] === 'function')) return null;
    binding = {
      TCP: tcp.TCP, TCPConnectWrap: tcp.TCPConnectWrap, SOCKET: tcp.constants.SOCKET,
      WriteWrap: stream.WriteWrap, ShutdownWrap: stream.ShutdownWrap, state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError, kArrayBufferOffset: stream.kArrayBufferOffset, kLastWriteWasAsync: stream.kLastWriteWasAsync,
    };
  } catch {
    binding = null;
  }
  return binding;
}

/** True for a handle of the TCP kind (a server's own listening handle, say). */
export function isTcpHandle(h: unknown): h is TcpHandle {
  const b = tcpBinding();
  return b !== null && h instanceof b.TCP;
}

/** A libuv error as Node reports it: "read ECONNRESET", with errno, code and syscall. */
export function uvError(status: number, syscall: string, address?: string, port?: number): NodeJS.ErrnoException {
  let code: string;
  try {
    code = util.getSystemErrorName(status);
  } catch {
    code = `Unknown system error ${status}`;
  }
  const where = address === undefined ? '' : port === undefined ? ` ${address}` : ` ${address}:${port}`;
  const error: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(`${syscall} ${code}${where}`);
  error.errno = status;
  error.code = code;
  error.syscall = syscall;
  if (address !== undefined) error.address = address;
  if (port !== undefined) error.port = port;
  return error;
}
