// Plain TCP on Node's TCP handle (TcpTransport), and the net.Socket path it falls back to.
import test from 'ava';
import net from 'node:net';
import {
  Protocol, getRunningLoop, openConnection, startServer,
  type Coroutine, type Future, type StreamWriter, type Transport,
} from '../../src/index.js';
import { runReal } from '../helpers/run-virtual.js';
import { runModule } from '../helpers/child.js';

function* settle(f: Future<unknown>): Coroutine<unknown> {
  try {
    return yield* f;
  } catch (error) {
    return error;
  }
}

interface SocketView {
  destroyed: boolean;
  remoteAddress?: string; remotePort?: number; remoteFamily?: string;
  localAddress?: string; localPort?: number; localFamily?: string;
  setNoDelay(on?: boolean): unknown;
  setKeepAlive(on?: boolean, delay?: number): unknown;
}

test('plain TCP runs on the TCP handle: getExtraInfo(\'socket\') is a view of addresses and options, destroyed once closed', async (t) => {
  const got = await runReal(t, function* (): Coroutine<unknown[]> {
    const server = yield* startServer(function* (r, w): Coroutine<void> {
      w.write(yield* r.readExactly(4));
      w.writeEof();
      t.is((yield* r.read()).length, 0);
      w.close();
    }, '127.0.0.1', 0);
    const port = server.sockets[0]!.port;
    const [r, w] = yield* openConnection('127.0.0.1', port);
    const s = w.getExtraInfo('socket') as SocketView;
    t.false(s instanceof net.Socket, 'no net.Socket on this path');
    t.is(s.setNoDelay(false), s);
    t.is(s.setKeepAlive(true, 1000), s);
    const view = [s.remoteAddress, s.remotePort, s.remoteFamily, s.localAddress, s.localFamily, typeof s.localPort, s.destroyed];
    t.deepEqual(w.getExtraInfo('peername'), { address: '127.0.0.1', family: 'IPv4', port });
    t.is(w.getExtraInfo('peercert', 'none'), 'none');
    w.write('ping');
    const echoed = (yield* r.read(100)).toString();
    t.is((yield* r.read()).length, 0, 'the server half-closed');
    w.close();
    yield* w.waitClosed();
    t.true(s.destroyed);
    t.is(s.setNoDelay(true), s, 'options on a closed connection are a no-op');
    t.is(s.remotePort, port, 'addresses read before the close stay known');
    server.close();
    yield* server.waitClosed();
    return [echoed, ...view];
  });
  t.deepEqual(got, ['ping', '127.0.0.1', got[2], 'IPv4', '127.0.0.1', 'IPv4', 'number', false]);
});

test('IPv6 literals connect on the handle too', async (t) => {
  const ok = await new Promise<boolean>((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false)).listen(0, '::1', () => probe.close(() => resolve(true)));
  });
  if (!ok) return t.pass('no IPv6 loopback here');
  const got = await runReal(t, function* (): Coroutine<unknown> {
    const server = yield* startServer(function* (r, w): Coroutine<void> {
      w.write((yield* r.readLine()).toString().toUpperCase());
      w.close();
    }, '::1', 0);
    const [r, w] = yield* openConnection('::1', server.sockets[0]!.port);
    w.write('six\n');
    const line = (yield* r.readLine()).toString();
    const family = (w.getExtraInfo('peername') as { family: string }).family;
    w.close();
    server.close();
    yield* server.waitClosed();
    return [line, family];
  });
  t.deepEqual(got, ['SIX\n', 'IPv6']);
});

test('a write pending when the peer resets fails: drain() and waitClosed() raise its error, with a code', async (t) => {
  // The writer does not read (pauseReading), so the reset reaches it through the pending write.
  await runReal(t, function* (): Coroutine<void> {
    const accepted = getRunningLoop().createFuture<StreamWriter>();
    const server = yield* startServer((_r, w) => { accepted.setResult(w); }, '127.0.0.1', 0);
    const [, w] = yield* openConnection('127.0.0.1', server.sockets[0]!.port);
    w.transport.pauseReading();
    w.write(Buffer.alloc(32 * 1024 * 1024));
    const d = w.drain();
    const peer = yield* accepted;
    t.false(d.done());
    peer.transport.abort(); // close(2) with unread data: a RST
    const e = (yield* settle(d)) as NodeJS.ErrnoException;
    t.true(e instanceof Error);
    t.regex(e.code ?? '', /^(EPIPE|ECONNRESET)$/);
    t.regex(e.message, /^write (EPIPE|ECONNRESET)$/);
    const closed = (yield* settle(w.waitClosed())) as NodeJS.ErrnoException;
    t.is(closed, e, 'waitClosed raises the same error (asyncio)');
    t.is(w.transport.getWriteBufferSize(), 0);
    t.is((yield* settle(w.drain())), e, 'drain raises it from then on');
    server.close();
    yield* server.waitClosed();
  });
});

test('a protocol\'s transport: writes after writeEof are refused; both EOFs end the connection by themselves', async (t) => {
  const events = await runReal(t, function* (): Coroutine<string[]> {
    const events: string[] = [];
    const lost = getRunningLoop().createFuture<void>();
    class Keep extends Protocol {
      transport: Transport | null = null;
      override connectionMade(tr: Transport): void { this.transport = tr; tr.writeLines(['a', 'b']); tr.writeEof(); }
      override dataReceived(d: Buffer): void { events.push(`data ${d}`); }
      override eofReceived(): boolean { events.push('eof'); return true; } // keep the write side (already shut)
      override connectionLost(e: Error | null): void { events.push(`lost ${e}`); lost.setResult(undefined); }
    }
    const server = yield* startServer(function* (r, w): Coroutine<void> {
      const got = yield* r.read();
      t.is((yield* r.read()).length, 0);
      w.write(got.toString().toUpperCase());
      w.close();
    }, '127.0.0.1', 0);
    const [tr] = yield* getRunningLoop().createConnection(() => new Keep(), '127.0.0.1', server.sockets[0]!.port);
    t.throws(() => tr.write('x'), { message: /after writeEof/ });
    yield* lost;
    t.true(tr.isClosing());
    server.close();
    yield* server.waitClosed();
    return events;
  });
  t.deepEqual(events, ['data AB', 'eof', 'lost null']);
});

/** An echo round trip in a child process with `env`: the line echoed, and whether the
 *  connection's getExtraInfo('socket') is a net.Socket. */
async function childRoundTrip(env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string; err: string }> {
  const code = `
    import net from 'node:net';
    import { run, startServer, openConnection } from './src/index.ts';
    console.log(await run(function* () {
      const server = yield* startServer(function* (r, w) { w.write(yield* r.readLine()); w.close(); }, '127.0.0.1', 0);
      const [r, w] = yield* openConnection('127.0.0.1', server.sockets[0].port);
      w.write('echo\\n');
      const line = (yield* r.readLine()).toString().trim();
      const isSocket = w.getExtraInfo('socket') instanceof net.Socket;
      w.close();
      server.close();
      yield* server.waitClosed();
      return line + ' ' + isSocket;
    }));`;
  return runModule(code, { ...process.env, ...env });
}

test('under --pending-deprecation plain TCP stays on net.Socket, and nothing warns (child process)', async (t) => {
  // process.binding() warns there (DEP0111), so Tulip does not touch it.
  const { status, out, err } = await childRoundTrip({ NODE_PENDING_DEPRECATION: '1' });
  t.is(status, 0, err);
  t.is(out.trim(), 'echo true');
  t.notRegex(err, /DEP0111|process\.binding/);
});

test('TULIP_NET=socket: plain TCP on net.Socket instead (child process)', async (t) => {
  const { status, out, err } = await childRoundTrip({ TULIP_NET: 'socket' });
  t.is(status, 0, err);
  t.is(out.trim(), 'echo true');
});
