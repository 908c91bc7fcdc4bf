// Echo servers on Tulip for ../shared/bench/echo-bench.sh.
//   --streams  startServer: StreamReader.read(64 KiB) -> StreamWriter.write + drain()
//   --proto    loop.createServer with a Protocol that writes back in dataReceived and
//              pauses reading while the transport's write buffer is over its high-water mark
// Usage: node dist/bench/echo-server.js --streams|--proto [--host H] [--port P]
import { parseArgs } from 'node:util';
import { EventLoop, Protocol, startServer, type Coroutine, type StreamReader, type StreamWriter, type Transport } from '../src/index.js';

const { values } = parseArgs({ options: {
  host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '25000' },
  streams: { type: 'boolean' }, proto: { type: 'boolean' },
} });

function* echo(reader: StreamReader, writer: StreamWriter): Coroutine<void> {
  try {
    for (;;) {
      const data = yield* reader.read(65536);
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain();
    }
  } catch {
    // the client reset: nothing to answer
  } finally {
    writer.close();
  }
}

class EchoProtocol extends Protocol {
  #transport: Transport | null = null;
  override connectionMade(t: Transport): void { this.#transport = t; }
  override dataReceived(data: Buffer): void { this.#transport!.write(data); }
  override pauseWriting(): void { this.#transport!.pauseReading(); }
  override resumeWriting(): void { this.#transport!.resumeReading(); }
}

const loop = new EventLoop();
loop.setExceptionHandler(() => {});
await loop.runUntilComplete(function* (): Coroutine<void> {
  const port = Number(values.port);
  const server = values.proto
    ? yield* loop.createServer(() => new EchoProtocol(), values.host!, port, { backlog: 1024 })
    : yield* startServer(echo, values.host!, port, { backlog: 1024 });
  console.log(`listening ${values.host}:${port} (${values.proto ? 'protocol' : 'streams'})`);
  yield* server.serveForever();
}());
