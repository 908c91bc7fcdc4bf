// The WARP proxy in the greenlet style: gevent-shaped code on the same loop as proxy.ts.
//
// StreamServer spawns one greenlet per client with a GreenSocket; the head read, the connect,
// the upstream's first byte and then the relay's idleness are timed by one watch (relay.ts,
// IdleWatch) whose expiry raises a gevent Timeout inside the greenlet through kill(); the upstream
// is a GreenSocket from createConnection(); the two relay directions are greenlets joined with
// joinall (a request's body relay is spawned when the client sends a byte after its head).
// Parsing, the wire format (sendHead) and the counters are shared with proxy.ts, so
// `--model both` serves both styles with one connection limit and one set of counters.

import type { AddressInfo } from 'node:net';
import { CancelledError, currentTask, type Coroutine, type Future } from 'tulip';
import { GreenletExit, StreamServer, Timeout, createConnection, getcurrent, joinall, spawn, type GreenSocket, type Greenlet } from 'tulip/greenlet';
import { HttpError, errorResponse, parseAuthority, parseHead, readHead, rewrite, type Authority } from './http-head.js';
import { sendHead, type ProxyOptions, type ProxyStats } from './proxy.js';
import { CHUNK, IdleWatch, endsAtOnce, onFirstData, type Relay } from './relay.js';

/** Copies one socket into the other until EOF, then half-closes the destination. `first`, when
 *  given, is a recv() already made on `from` (see onFirstData). */
function* relay(from: GreenSocket, to: GreenSocket, first: Future<Buffer> | null = null, idle: IdleWatch | null = null): Coroutine<void> {
  for (;;) {
    const data = yield* (first ?? from.recv(CHUNK));
    first = null;
    idle?.touch();
    if (data.length === 0) {
      to.shutdown();
      return;
    }
    yield* to.sendall(data);
  }
}

/** A relay greenlet; stop() kills it (as gevent's `kill()`, its failure stays inside it). */
class GreenletRelay implements Relay {
  constructor(readonly greenlet: Greenlet<void>) {}

  *stop(): Coroutine<void> {
    yield* this.greenlet.kill();
  }
}

/** Connects within `seconds`, timed by `watch` (it raises a Timeout in this greenlet). */
function* connect(to: Authority, seconds: number, watch: IdleWatch): Coroutine<GreenSocket> {
  try {
    watch.limit(seconds);
    return yield* createConnection([to.host, to.port]);
  } catch (error) {
    if (expired(error, watch)) throw new HttpError(504, `connecting to ${to.host}:${to.port} timed out after ${seconds} s`);
    if (error instanceof CancelledError || error instanceof Timeout) throw error;
    throw new HttpError(502, `cannot reach ${to.host}:${to.port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The Timeout raised by the request's watch (a phase's deadline, or the relay's idleness). */
function expired(error: unknown, watch: IdleWatch): boolean {
  return error instanceof Timeout && watch.fired;
}

/** The StreamServer handler: one greenlet per client. */
export function greenletHandler(opts: ProxyOptions, stats: ProxyStats) {
  return function* handle(client: GreenSocket, _address: AddressInfo): Coroutine<void> {
    if (stats.active >= opts.maxConns) {
      stats.rejected++;
      client.writer.transport.abort();
      return;
    }
    stats.active++;
    const me = currentTask();
    const place = me === null ? -1 : stats.tasks.enter(me);
    let upstream: GreenSocket | null = null;
    let answered = false;
    // As proxy.ts, one watch times every phase (the head, the connect, the first answer byte,
    // then the relay's idleness) on one timer; gevent-style, its expiry raises a Timeout inside
    // this greenlet at its current wait (kill), which the waiting phase turns into its answer.
    const self = getcurrent();
    const idle = new IdleWatch(opts.idleTimeout, () => { void self?.kill(new Timeout(opts.idleTimeout), { block: false }); });
    try {
      let lines: string[] | null;
      idle.limit(opts.idleTimeout);
      try {
        lines = yield* readHead(client.reader);
      } catch (error) {
        if (expired(error, idle)) return; // the client never finished its head
        throw error;
      }
      if (lines === null || lines.length - 1 < opts.minHeaders) return;
      const head = parseHead(lines);
      if (head.method === 'CONNECT') {
        const target = parseAuthority(head.target, 443);
        opts.log(`BYPASSING <CONNECT ${head.target}> (SSL connection)`);
        upstream = yield* connect(target, opts.connectTimeout, idle);
        yield* client.sendall('HTTP/1.1 200 Connection established\r\n\r\n');
        answered = true;
        idle.start();
        const pipes = [spawn(relay, client, upstream, null, idle), spawn(relay, upstream, client, null, idle)];
        try {
          yield* joinall(pipes);
        } finally {
          for (const p of pipes) if (!p.dead) void p.kill(GreenletExit, { block: false }); // ended idle
        }
        for (const p of pipes) if (!p.successful()) throw p.exception;
      } else {
        const rw = rewrite(head);
        opts.log(`WARPING <${head.method} ${head.target}>`);
        // As proxy.ts: a client reset while the upstream is reached or answering ends the request
        // at once, raised in this greenlet as gevent's kill() raises an exception.
        const firstBody = client.recv(CHUNK);
        firstBody.addDoneCallback((read) => {
          if (self !== null && !read.cancelled() && read.exception() !== null) void self.kill(read.exception(), { block: false });
        });
        const up: GreenSocket = (upstream = yield* connect(rw.upstream, opts.connectTimeout, idle));
        idle.pause(); // WARP's pauses are not bounded (as proxy.ts)
        yield* sendHead(up.writer, head, rw, opts.delayScale, opts.random ?? Math.random);
        const body = onFirstData(firstBody, (first) => endsAtOnce(first, () => up.shutdown(), idle) ? null : new GreenletRelay(spawn(relay, client, up, first, idle)));
        try {
          let first: Buffer;
          idle.limit(opts.idleTimeout);
          try {
            first = yield* up.recv(CHUNK);
          } catch (error) {
            if (expired(error, idle)) throw new HttpError(504, `no answer from ${rw.host} within ${opts.idleTimeout} s`);
            throw error;
          }
          answered = first.length > 0;
          if (first.length > 0) {
            idle.start();
            yield* client.sendall(first);
            yield* relay(up, client, null, idle);
          }
        } finally {
          yield* body.stop();
        }
      }
      stats.served++;
    } catch (error) {
      if (error instanceof CancelledError) throw error;
      stats.failed++; // an idle relay (idleError) too
      if (error instanceof HttpError && !answered) client.writer.write(errorResponse(error.status, error.message));
    } finally {
      idle.stop();
      stats.active--;
      if (place >= 0) stats.tasks.leave(place);
      upstream?.close();
      client.close();
    }
  };
}

/** A StreamServer serving WARP in the greenlet style. */
export function greenletServer(host: string, port: number, opts: ProxyOptions, stats: ProxyStats, backlog = 1024): StreamServer {
  return new StreamServer([host, port], greenletHandler(opts, stats), { backlog });
}
