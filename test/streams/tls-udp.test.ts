import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import {
  EventLoop, VirtualClock, startServer, openConnection, waitFor, DatagramProtocol, RuntimeError, type DatagramTransport, type Coroutine,
} from '../../src/index.js';

function selfSigned(): { key: string; cert: string } | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tulip-tls-'));
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return { key: fs.readFileSync(`${dir}/k.pem`, 'utf8'), cert: fs.readFileSync(`${dir}/c.pem`, 'utf8') };
}

test('startTls: STARTTLS upgrades a plain connection in place on both sides; a bad certificate fails the upgrade', async (t) => {
  const pair = selfSigned();
  if (pair === null) return t.fail('openssl is needed to generate the test certificate');
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, c) => { reports.push(`${c.message}: ${(c.exception as NodeJS.ErrnoException).code}`); });
  const got = await loop.runUntilComplete(function* (): Coroutine<unknown[]> {
    return yield* waitFor(function* (): Coroutine<unknown[]> {
      const serverSaw: string[] = [];
      const server = yield* startServer(function* (r, w): Coroutine<void> {
        serverSaw.push((yield* r.readLine()).toString().trim());
        w.write('GO\n');
        yield* w.startTls({ key: pair.key, cert: pair.cert });
        serverSaw.push(`tls ${(w.getExtraInfo('cipher') as { version: string }).version}`);
        const line = (yield* r.readLine()).toString();
        w.write(line.toUpperCase());
        yield* w.drain();
        w.close();
      }, '127.0.0.1', 0);
      const port = server.sockets[0]!.port;
      const [r, w] = yield* openConnection('127.0.0.1', port);
      const plainTransport = w.transport;
      t.is(w.getExtraInfo('peercert', 'none'), 'none');
      w.write('STARTTLS\n');
      const go = (yield* r.readLine()).toString();
      yield* w.startTls({ ca: pair.cert, serverHostname: 'localhost' });
      t.not(w.transport, plainTransport);
      t.true(plainTransport.isClosing(), 'the plain transport handed its socket over');
      const cn = (w.getExtraInfo('peercert') as { subject: { CN: string } }).subject.CN;
      w.write('hello over tls\n');
      const answer = (yield* r.readLine()).toString();
      t.is(server.connectionCount, 1, 'the server tracks the upgraded connection');
      const atEnd = (yield* r.read()).length;
      w.close();
      yield* w.waitClosed();

      // A client that does not trust the certificate: the upgrade fails, the connection is gone.
      const [r2, w2] = yield* openConnection('127.0.0.1', port);
      w2.write('STARTTLS\n');
      yield* r2.readLine();
      const refused = yield* (function* () {
        try { yield* w2.startTls({ serverHostname: 'localhost' }); return 'upgraded'; }
        catch (e) { return (e as NodeJS.ErrnoException).code ?? String(e); }
      })();
      server.close();
      server.abortClients();
      yield* server.waitClosed();
      return [go, cn, answer, atEnd, serverSaw, refused];
    }(), 20);
  }());
  loop.close();
  t.deepEqual(got, ['GO\n', 'localhost', 'HELLO OVER TLS\n', 0, ['STARTTLS', 'tls TLSv1.3', 'STARTTLS'], 'DEPTH_ZERO_SELF_SIGNED_CERT']);
  t.is(reports.length, 1, 'the server side of the failed upgrade is reported once');
  t.regex(reports[0]!, /^Unhandled exception in client_connected_cb: (ECONNRESET|ERR_SSL_\w+)$/);
});

test('startTls: a peer that never answers the handshake fails it with TimeoutError (virtual clock); a closing transport is refused', async (t) => {
  const loop = new EventLoop({ clock: new VirtualClock({ autoJump: true }) });
  const got = await loop.runUntilComplete(function* (): Coroutine<unknown[]> {
    const server = yield* startServer(function* (r): Coroutine<void> { yield* r.read(); }, '127.0.0.1', 0);
    const [, w] = yield* openConnection('127.0.0.1', server.sockets[0]!.port);
    const t0 = loop.time();
    const e = yield* (function* () {
      try { yield* w.startTls({ serverHostname: 'localhost', handshakeTimeout: 5 }); return null; } catch (err) { return err as Error; }
    })();
    const waited = loop.time() - t0;
    const [, w2] = yield* openConnection('127.0.0.1', server.sockets[0]!.port);
    w2.close();
    const e2 = yield* (function* () {
      try { yield* loop.startTls(w2.transport, w2.transport.getProtocol()); return null; } catch (err) { return err as Error; }
    })();
    server.close();
    server.abortClients();
    yield* server.waitClosed();
    return [e?.name, waited, e2?.name];
  }());
  loop.close();
  t.deepEqual(got, ['TimeoutError', 5, 'RuntimeError']);
});

test('TLS: startServer and openConnection with ssl options, a certificate the test generates', async (t) => {
  const pair = selfSigned();
  if (pair === null) return t.fail('openssl is needed to generate the test certificate');
  const loop = new EventLoop();
  const got = await loop.runUntilComplete(function* (): Coroutine<string[]> {
    return yield* waitFor(function* (): Coroutine<string[]> {
      const server = yield* startServer(function* (r, w): Coroutine<void> {
        const line = yield* r.readLine();
        w.write(`secure ${line}`);
        yield* w.drain();
        w.close();
      }, '127.0.0.1', 0, { ssl: { key: pair.key, cert: pair.cert } });
      const [r, w] = yield* openConnection('127.0.0.1', server.sockets[0]!.port, { ssl: { ca: pair.cert }, serverHostname: 'localhost' });
      const cn = (w.getExtraInfo('peercert') as { subject: { CN: string } }).subject.CN;
      t.false(w.canWriteEof(), 'TLS transports cannot half-close (asyncio says the same)');
      const noHalfClose = t.throws(() => w.writeEof(), { instanceOf: RuntimeError });
      t.regex(noHalfClose!.message, /cannot half-close/);
      w.write('hello\n');
      const answer = (yield* r.read()).toString();
      w.close();
      const refused = yield* (function* () {
        try { yield* openConnection('127.0.0.1', server.sockets[0]!.port, { ssl: true, serverHostname: 'localhost' }); return 'connected'; }
        catch (e) { return (e as NodeJS.ErrnoException).code ?? String(e); }
      })();
      server.close();
      server.abortClients();
      yield* server.waitClosed();
      return [cn, answer, refused];
    }(), 20);
  }());
  loop.close();
  t.deepEqual(got, ['localhost', 'secure hello\n', 'DEPTH_ZERO_SELF_SIGNED_CERT']);
});

test('TLS close() bounded by sslShutdownTimeout (asyncio\'s ssl_shutdown_timeout): a peer that stops reading cannot hold the connection; waitClosed() says so', async (t) => {
  const pair = selfSigned();
  if (pair === null) return t.fail('openssl is needed to generate the test certificate');
  const loop = new EventLoop();
  const got = await loop.runUntilComplete(function* (): Coroutine<unknown[]> {
    return yield* waitFor(function* (): Coroutine<unknown[]> {
      const outcome = loop.createFuture<string>();
      const server = yield* startServer(function* (_r, w): Coroutine<void> {
        w.write(Buffer.alloc(48 << 20)); // more than both socket buffers can grow to (tcp_rmem max 32 MiB here): the client stops reading
        w.close();
        try { yield* w.waitClosed(); outcome.setResult('closed'); } catch (e) { outcome.setResult(`${(e as Error).name}: ${(e as Error).message}`); }
      }, '127.0.0.1', 0, { ssl: { key: pair.key, cert: pair.cert }, sslShutdownTimeout: 0.2 });
      const [, w] = yield* openConnection('127.0.0.1', server.sockets[0]!.port, { ssl: { ca: pair.cert }, serverHostname: 'localhost' });
      w.transport.pauseReading();
      const said = yield* outcome;
      const left = server.connectionCount;
      w.transport.abort();
      try { yield* w.waitClosed(); } catch { /* aborted */ }
      server.close();
      yield* server.waitClosed();
      const refused = [
        () => startServer(function* () {}, '127.0.0.1', 0, { sslShutdownTimeout: 1 }),
        () => openConnection('127.0.0.1', 9, { ssl: true, sslShutdownTimeout: 0 }),
        () => openConnection('127.0.0.1', 9, { ssl: true, sslShutdownTimeout: 'soon' as never }),
      ].map((call) => { try { call(); return 'accepted'; } catch (e) { return (e as Error).name; } });
      return [said, left, refused];
    }(), 20);
  }());
  loop.close();
  t.regex(got[0] as string, /^TimeoutError: TLS close did not finish in 0\.2 s/);
  t.is(got[1], 0);
  t.deepEqual(got[2], ['TypeError', 'RangeError', 'TypeError']);
});

test('UDP: two datagram endpoints exchange datagrams; errors (a failed send too) and closing reach the protocol', async (t) => {
  const loop = new EventLoop();
  const log: string[] = [];
  class Echo extends DatagramProtocol {
    transport: DatagramTransport | null = null;
    override connectionMade(tr: DatagramTransport) { this.transport = tr; }
    override datagramReceived(data: Buffer, addr: AddressInfo) { this.transport!.sendto(Buffer.concat([Buffer.from('echo:'), data]), [addr.address, addr.port]); }
  }
  class Client extends DatagramProtocol {
    got = loop.createFuture<string>();
    lost = loop.createFuture<void>();
    failed = loop.createFuture<string>();
    override datagramReceived(data: Buffer) { this.got.setResult(data.toString()); }
    override errorReceived(error: NodeJS.ErrnoException) { this.failed.setResult(error.code!); }
    override connectionLost() { log.push('client lost'); this.lost.setResult(); }
  }
  const reply = await loop.runUntilComplete(function* (): Coroutine<string> {
    const [server] = yield* loop.createDatagramEndpoint(() => new Echo(), { localAddr: ['127.0.0.1', 0] });
    const port = (server.getExtraInfo('sockname') as AddressInfo).port;
    const [client, proto] = yield* loop.createDatagramEndpoint(() => new Client(), { remoteAddr: ['127.0.0.1', port] });
    t.is((client.getExtraInfo('peername') as AddressInfo).port, port);
    t.truthy(client.getExtraInfo('socket'));
    t.throws(() => client.sendto('elsewhere', ['127.0.0.1', port === 65535 ? 1 : port + 1]), { instanceOf: TypeError, message: /connected endpoint sends only to/ });
    client.sendto('ping', ['127.0.0.1', port]); // its own remote: allowed, as in asyncio
    const r = yield* waitFor(proto.got, 10);
    client.sendto(Buffer.alloc(70_000)); // over UDP's 65507: the send fails, as asyncio reports it
    t.is(yield* waitFor(proto.failed, 10), 'EMSGSIZE');
    client.close();
    t.true(client.isClosing());
    client.sendto('ignored after close');
    yield* proto.lost;
    server.abort();
    const [unconnected] = yield* loop.createDatagramEndpoint(() => new DatagramProtocol());
    t.throws(() => unconnected.sendto('x'), { instanceOf: TypeError });
    unconnected.close();
    return r;
  }());
  loop.close();
  t.is(reply, 'echo:ping');
  t.deepEqual(log, ['client lost']);
});

test('UDP: an endpoint cancelled while it binds, or abandoned by a task cancelled as it completes, is closed (it crashed the process)', async (t) => {
  const loop = new EventLoop();
  const made: Counting[] = [];
  class Counting extends DatagramProtocol {
    lost = loop.createFuture<void>();
    override connectionLost() { this.lost.setResult(); }
  }
  await loop.runUntilComplete(function* (): Coroutine<void> {
    const binding = loop.createDatagramEndpoint(() => { const p = new Counting(); made.push(p); return p; }, { localAddr: ['127.0.0.1', 0] });
    t.true(binding.cancel());
    // A task whose endpoint is ready in the same turn it is cancelled: nobody else could close it.
    const task = loop.createTask(function* () {
      const ep = loop.createDatagramEndpoint(() => { const p = new Counting(); made.push(p); return p; }, { localAddr: ['127.0.0.1', 0] });
      ep.addDoneCallback(() => task.cancel());
      return yield* ep;
    }());
    let outcome = 'resumed';
    try { yield* task; } catch (e) { outcome = (e as Error).name; }
    t.is(outcome, 'CancelledError');
    t.is(made.length, 1, 'the cancelled binding never made a protocol');
    yield* waitFor(made[0]!.lost, 5); // the abandoned endpoint was closed
  }());
  loop.close({ strict: true });
  t.pass();
});
