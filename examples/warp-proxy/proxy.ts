// The WARP proxy, one coroutine per client, on Tulip's streams (explicit model).
//
// A request head is read (with the idle timeout), parsed and rewritten (http-head.ts), the
// upstream is connected (connect timeout: 504; refused: 502), and the head is sent in WARP's
// wire format: the request line; a pause; 32 decoy lines and "Host: "; the Host value in
// pieces, each after its own pause; the kept headers and the blank line. With the pauses off
// (scale 0) the whole head goes in one write, as uvloop and the corked raw-Node peer do. Then
// the body streams client -> upstream and the answer upstream -> client, both with drain();
// the first answer byte must come within the idle timeout (504 otherwise), and once the answer
// flows, a relay that moves no byte either way for that long is ended (relay.ts, IdleWatch); the
// body's relay starts when the client sends a byte after its head. CONNECT opens a tunnel
// relaying both ways with half-close (also ended when idle). Whatever happens, both sockets are
// closed.

import {
  CancelledError, createTask, currentTask, gather, openConnection, sleep,
  type Coroutine, type Future, type StreamReader, type StreamWriter, type Task,
} from 'tulip';
import {
  DECOY_LINE, HttpError, MAX_HEAD_BYTES, decoyHeaders, errorResponse, hostPieces, parseAuthority, parseHead, readHead, rewrite,
  type Authority, type RequestHead, type Rewritten,
} from './http-head.js';
import { CHUNK, IdleWatch, endWrite, endsAtOnce, onFirstData, pipe, type Relay } from './relay.js';
import { ClientTasks } from './client-tasks.js';

export interface ProxyOptions {
  /** Multiplies every pause; 0 removes them (one write for the head). */
  delayScale: number;
  /** Seconds to connect upstream before 504. */
  connectTimeout: number;
  /** Seconds (> 0) for a client to send its head, for the upstream's first byte (504), and
   *  for a relay that moves no byte either way. */
  idleTimeout: number;
  /** WARP's original rule: close silently unless the head has this many header lines (0: off). */
  minHeaders: number;
  /** Connections served at once; more are closed at accept. */
  maxConns: number;
  log: (message: string) => void;
  /** Random source for pauses and pieces (tests fix it). */
  random?: () => number;
}

export interface ProxyStats {
  active: number;
  served: number;
  failed: number;
  rejected: number;
  tasks: ClientTasks;
}

export function newStats(): ProxyStats {
  return { active: 0, served: 0, failed: 0, rejected: 0, tasks: new ClientTasks() };
}

/** Handles one client connection (the clientConnected of startServer). */
export function* serveClient(reader: StreamReader, writer: StreamWriter, opts: ProxyOptions, stats: ProxyStats): Coroutine<void> {
  if (stats.active >= opts.maxConns) {
    stats.rejected++;
    writer.transport.abort();
    return;
  }
  stats.active++;
  const me = currentTask();
  const place = me === null ? -1 : stats.tasks.enter(me);
  let upstream: StreamWriter | null = null;
  let answered = false;
  // The task cancels itself (once) when the request cannot go on: once the answer flows (or the
  // tunnel is open), no byte either way for idleTimeout; or the client's side fails (a reset)
  // while the upstream is still being reached or answering, which raw Node's 'close' handler
  // notices at once too: the answer is not fetched for nobody.
  let ownCancel = false;
  const cancelOwn = (why: string): void => {
    if (ownCancel || me === null) return;
    ownCancel = true;
    me.cancel(why);
  };
  // One watch times every phase: the head, the connect, the first answer byte, then the relay's
  // idleness (it cancels the task; the phase that was waiting turns that into its answer).
  const idle = new IdleWatch(opts.idleTimeout, () => cancelOwn('timed out'));
  const onClientFailed = (read: Future<Buffer>): void => {
    if (!read.cancelled() && read.exception() !== null) cancelOwn('client connection failed');
  };
  const onRelayFailed = (): void => cancelOwn('body relay failed');
  try {
    idle.limit(opts.idleTimeout);
    const lines = yield* readHead(reader, MAX_HEAD_BYTES);
    if (lines === null || lines.length - 1 < opts.minHeaders) return; // WARP: silent close
    const head = parseHead(lines);
    const connect = (to: Authority): Coroutine<[StreamReader, StreamWriter]> => connectUpstream(to, opts.connectTimeout, idle);
    if (head.method === 'CONNECT') {
      const target = parseAuthority(head.target, 443);
      opts.log(`BYPASSING <CONNECT ${head.target}> (SSL connection)`);
      const [ur, uw] = yield* connect(target);
      upstream = uw;
      writer.write('HTTP/1.1 200 Connection established\r\n\r\n');
      answered = true;
      idle.start();
      const results = yield* gather(createTask(pipe(reader, uw, null, idle)), createTask(pipe(ur, writer, null, idle)), { returnExceptions: true });
      for (const r of results as unknown[]) if (r instanceof Error) throw r;
    } else {
      const rw = rewrite(head);
      opts.log(`WARPING <${head.method} ${head.target}>`);
      const firstBody = reader.read(CHUNK); // from now on a client reset is seen at once
      firstBody.addDoneCallback(onClientFailed);
      const [ur, uw] = yield* connect(rw.upstream);
      upstream = uw;
      idle.pause(); // WARP's pauses are not bounded (drain() on a reading upstream is)
      yield* sendHead(uw, head, rw, opts.delayScale, opts.random ?? Math.random);
      const body = onFirstData(firstBody, (first) => endsAtOnce(first, () => endWrite(uw), idle) ? null : relayTask(pipe(reader, uw, first, idle), onRelayFailed));
      try {
        let first: Buffer;
        try {
          idle.limit(opts.idleTimeout);
          first = yield* ur.read(CHUNK);
        } catch (error) {
          if (timedOut(error, idle)) throw new HttpError(504, `no answer from ${rw.host} within ${opts.idleTimeout} s`);
          throw error;
        }
        answered = first.length > 0;
        if (first.length > 0) {
          idle.start();
          writer.write(first);
          yield* writer.drain();
          yield* pipe(ur, writer, null, idle);
        }
      } finally {
        yield* body.stop();
      }
    }
    stats.served++;
  } catch (error) {
    // Our own cancel is a request failure (unless someone else cancelled too); the relay's
    // error, raised by body.stop(), may have taken the CancelledError's place.
    if (error instanceof CancelledError) {
      if (!(ownCancel && me!.uncancel() === 0)) throw error;
    } else if (ownCancel && me!.cancelling() > 0) me!.uncancel();
    stats.failed++;
    if (error instanceof HttpError && !answered) writer.write(errorResponse(error.status, error.message));
  } finally {
    idle.stop();
    stats.active--;
    if (place >= 0) stats.tasks.leave(place);
    upstream?.close();
    writer.close();
  }
}

/** A relay run as a task; stop() cancels it and raises what it failed with, if not a cancel. */
class TaskRelay implements Relay {
  constructor(readonly task: Task<number>, onFailed: () => void) {
    task.addDoneCallback((t) => {
      if (!t.cancelled() && t.exception() !== null) onFailed();
    });
  }

  *stop(): Coroutine<void> {
    if (!this.task.done()) this.task.cancel();
    yield* settle(this.task);
  }
}

function relayTask(coro: Coroutine<number>, onFailed: () => void): Relay {
  return new TaskRelay(createTask(coro), onFailed);
}

function* settle(task: Task<unknown>): Coroutine<void> {
  try {
    yield* task;
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
  }
}

/** A phase's wait ended by its deadline: the cancel of the request's watch. */
function timedOut(error: unknown, watch: IdleWatch): boolean {
  return error instanceof CancelledError && watch.fired;
}

/** Connects within timeoutSeconds, timed by `watch` (its firing cancels the task). */
function* connectUpstream(to: Authority, timeoutSeconds: number, watch: IdleWatch): Coroutine<[StreamReader, StreamWriter]> {
  try {
    watch.limit(timeoutSeconds);
    return yield* openConnection(to.host, to.port);
  } catch (error) {
    if (timedOut(error, watch)) throw new HttpError(504, `connecting to ${to.host}:${to.port} timed out after ${timeoutSeconds} s`);
    if (error instanceof CancelledError) throw error;
    throw new HttpError(502, `cannot reach ${to.host}:${to.port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The minimal writer sendHead needs (a StreamWriter, or a recorder in tests). */
export interface HeadSink {
  write(data: Uint8Array | string): void;
  drain(): { [Symbol.iterator](): Iterator<any, void, unknown> };
}

/** Sends the head in WARP's wire format; each pause separates writes (WARP.md §5.3). */
export function* sendHead(to: HeadSink, head: RequestHead, rw: Rewritten, scale: number, random: () => number): Coroutine<void> {
  const requestLine = `${head.method} ${rw.path} ${head.version}\r\n`;
  let tail = '\r\n';
  for (const line of rw.kept) tail += line + '\r\n';
  tail += '\r\n';
  if (!(scale > 0)) {
    // No pauses: the whole head in one buffer, decoys generated in place, one write.
    const a = Buffer.byteLength(requestLine, 'latin1');
    const rest = `Host: ${rw.host}${tail}`;
    const out = Buffer.allocUnsafe(a + 32 * DECOY_LINE + Buffer.byteLength(rest, 'latin1'));
    out.write(requestLine, 0, 'latin1');
    decoyHeaders(32, out, a);
    out.write(rest, a + 32 * DECOY_LINE, 'latin1');
    to.write(out);
    yield* to.drain();
    return;
  }
  const pieces = hostPieces(rw.host, (min, max) => min + Math.floor(random() * (max - min)));
  to.write(Buffer.from(requestLine, 'latin1'));
  yield* sleep(0.2 * scale);
  const decoys = Buffer.allocUnsafe(32 * DECOY_LINE + 6); // the decoys and "Host: ", one write
  decoyHeaders(32, decoys, 0);
  decoys.write('Host: ', 32 * DECOY_LINE, 'latin1');
  to.write(decoys);
  for (let i = 0; i < pieces.length; i++) {
    yield* sleep((random() < 0.5 ? 0.2 : 0.3) * scale);
    to.write(Buffer.from(i === pieces.length - 1 ? pieces[i]! + tail : pieces[i]!, 'latin1'));
  }
  yield* to.drain();
}
