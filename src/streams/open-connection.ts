// openConnection / openUnixConnection and startServer / startUnixServer: asyncio's stream
// entry points, built on the loop's createConnection/createServer with a StreamReaderProtocol.

import { getEventLoop } from '../loop/running.js';
import type { ConnectOptions, ServeOptions, Server } from '../loop/server.js';
import { Future } from '../tasks/future.js';
import { StreamReader } from './stream-reader.js';
import type { StreamWriter } from './stream-writer.js';
import { StreamReaderProtocol, type ClientConnected } from './stream-protocol.js';

export interface OpenOptions extends ConnectOptions { limit?: number }
export interface StartOptions extends ServeOptions { limit?: number }

function connect(where: { host?: string; port?: number; path?: string }, options: OpenOptions): Future<[StreamReader, StreamWriter]> {
  const loop = getEventLoop();
  const reader = new StreamReader(options.limit);
  const inner = where.path !== undefined
    ? loop.createUnixConnection(() => new StreamReaderProtocol(loop, reader), where.path, options)
    : loop.createConnection(() => new StreamReaderProtocol(loop, reader), where.host!, where.port!, options);
  const out = new Future<[StreamReader, StreamWriter]>(loop);
  inner.addDoneCallback(() => {
    if (out.done()) {
      // Cancelled in the turn the connection completed: nobody will ever close it otherwise.
      if (!inner.cancelled() && inner.exception() === null) inner.result()[0].close();
      return;
    }
    if (inner.cancelled()) { out.cancel(); return; }
    const error = inner.exception();
    if (error !== null) { out._fail(error); return; }
    const [transport, protocol] = inner.result();
    // connectionMade runs via callSoon: build the writer now so the caller has it at once.
    if (protocol.writer === null) protocol.connectionMade(transport);
    out._finish([reader, protocol.writer!]);
  });
  out.addDoneCallback(() => { if (out.cancelled()) inner.cancel(); });
  return out;
}

/** asyncio: `open_connection`. A Future of [reader, writer]. */
export function openConnection(host: string, port: number, options: OpenOptions = {}): Future<[StreamReader, StreamWriter]> {
  return connect({ host, port }, options);
}

/** asyncio: `open_unix_connection`. */
export function openUnixConnection(path: string, options: OpenOptions = {}): Future<[StreamReader, StreamWriter]> {
  return connect({ path }, options);
}

/** asyncio: `start_server`. `clientConnected(reader, writer)` may return a coroutine or a
 *  promise; it then runs as a Task. A Future of the listening Server. */
export function startServer(clientConnected: ClientConnected, host: string | null, port: number, options: StartOptions = {}): Future<Server> {
  const loop = getEventLoop();
  return loop.createServer(() => new StreamReaderProtocol(loop, new StreamReader(options.limit), clientConnected), host, port, options);
}

/** asyncio: `start_unix_server`. */
export function startUnixServer(clientConnected: ClientConnected, path: string, options: StartOptions = {}): Future<Server> {
  const loop = getEventLoop();
  return loop.createUnixServer(() => new StreamReaderProtocol(loop, new StreamReader(options.limit), clientConnected), path, options);
}
