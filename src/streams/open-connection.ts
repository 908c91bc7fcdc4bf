// openConnection / openUnixConnection and startServer / startUnixServer: asyncio's stream
// entry points, built on the loop's createConnection/createServer with a StreamReaderProtocol.

import { getEventLoop } from '../loop/running.js';
import { createConnection, type ConnectOptions, type ServeOptions, type Server } from '../loop/server.js';
import type { Transport } from '../loop/transport.js';
import type { Future } from '../tasks/future.js';
import { StreamReader } from './stream-reader.js';
import type { StreamWriter } from './stream-writer.js';
import { StreamReaderProtocol, type ClientConnected } from './stream-protocol.js';

export interface OpenOptions extends ConnectOptions { limit?: number }
export interface StartOptions extends ServeOptions { limit?: number }

/** The connection's result: connectionMade would run via callSoon, so the writer is built now
 *  and the caller has it at once. A module-level function: connecting makes no closure. */
function streams(transport: Transport, protocol: StreamReaderProtocol): [StreamReader, StreamWriter] {
  if (protocol.writer === null) protocol.connectionMade(transport);
  return [protocol.reader, protocol.writer!];
}

function connect(where: { host?: string; port?: number; path?: string }, options: OpenOptions): Future<[StreamReader, StreamWriter]> {
  const loop = getEventLoop();
  const limit = options.limit;
  return createConnection(loop, () => new StreamReaderProtocol(loop, new StreamReader(limit)), where, options, streams);
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
