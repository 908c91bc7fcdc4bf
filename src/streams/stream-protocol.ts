// StreamReaderProtocol: the Protocol that feeds a StreamReader and serves a StreamWriter.
//
// For servers it calls clientConnected(reader, writer) on connectionMade; if that returns a
// coroutine, promise or Future it runs as a Task. An exception in it is reported through the
// loop's exception handler (with the peer's address) and closes that connection only.

import type { EventLoop } from '../loop/event-loop.js';
import { Protocol, type Transport } from '../loop/transport.js';
import { Future } from '../tasks/future.js';
import { Task } from '../tasks/task.js';
import { CancelledError } from '../tasks/errors.js';
import { isGenerator, isThenable } from '../tasks/coroutine.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';

export type ClientConnected = (reader: StreamReader, writer: StreamWriter) => unknown;

export class StreamReaderProtocol extends Protocol {
  /** @internal */ readonly _loop: EventLoop;
  readonly #reader: StreamReader;
  readonly #clientConnected: ClientConnected | null;
  #writer: StreamWriter | null = null;
  #transport: Transport | null = null;
  #paused = false;
  #drainWaiters: Future<void>[] = [];
  #lost = false;
  #lostError: Error | null = null;
  #closed: Future<void> | null = null;
  #task: Task<unknown> | null = null;

  /** @internal Read-only pipes (a subprocess's stdout) close at EOF instead of half-closing. */
  _closeOnEof = false;

  constructor(loop: EventLoop, reader: StreamReader, clientConnected: ClientConnected | null = null) {
    super();
    this._loop = loop;
    this.#reader = reader;
    this.#clientConnected = clientConnected;
  }

  /** @internal */
  get reader(): StreamReader {
    return this.#reader;
  }

  /** @internal */
  get writer(): StreamWriter | null {
    return this.#writer;
  }

  override connectionMade(transport: Transport): void {
    if (this.#transport !== null) return; // openConnection already made the writer
    this.#transport = transport;
    this.#reader._setTransport(transport);
    this.#writer = new StreamWriter(transport, this, this.#reader);
    const cb = this.#clientConnected;
    if (cb === null) return;
    let r: unknown;
    try {
      r = cb(this.#reader, this.#writer);
    } catch (error) {
      this.#clientFailed(error);
      return;
    }
    if (isGenerator(r) || isThenable(r)) {
      const task = r instanceof Task ? r : this._loop.createTask(r as any, { name: 'clientConnected' });
      this.#task = task;
      task.addDoneCallback((t: Future<unknown>) => {
        if (t.cancelled()) return;
        const error = t.exception();
        if (error !== null && !(error instanceof CancelledError)) this.#clientFailed(error);
      });
    }
  }

  #clientFailed(error: unknown): void {
    this._loop.callExceptionHandler({
      message: 'Unhandled exception in client_connected_cb',
      exception: error,
      transport: this.#transport,
      peername: this.#transport?.getExtraInfo('peername'),
    });
    this.#transport?.close();
  }

  override dataReceived(data: Buffer): void {
    this.#reader.feedData(data);
  }

  override eofReceived(): boolean {
    this.#reader.feedEof();
    return !this._closeOnEof; // sockets: keep the write side open, the coroutine decides
  }

  override connectionLost(error: Error | null): void {
    this.#lost = true;
    this.#lostError = error;
    if (error === null) this.#reader.feedEof();
    else this.#reader.setException(error);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) {
      if (w.done()) continue;
      if (error === null) w._finish(undefined);
      else w._fail(error);
    }
    if (this.#closed !== null && !this.#closed.done()) settleClosed(this.#closed, error);
  }

  override pauseWriting(): void {
    this.#paused = true;
  }

  override resumeWriting(): void {
    this.#paused = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) if (!w.done()) w._finish(undefined);
  }

  /** @internal startTls: a server's connection upgrades as the server side. */
  get _serverSide(): boolean {
    return this.#clientConnected !== null;
  }

  /** @internal startTls: the TLS transport takes over. */
  _replaceTransport(t: Transport): void {
    this.#transport = t;
    this.#reader._setTransport(t);
    this.#paused = false;
  }

  /** @internal */
  _writePaused(): boolean {
    return this.#paused;
  }

  /** @internal the error drain() raises once the connection is gone */
  _lostError(): Error | null {
    if (!this.#lost) return null;
    return this.#lostError ?? Object.assign(new Error('Connection lost'), { code: 'ECONNRESET' });
  }

  /** @internal */
  _drainWaiter(): Future<void> {
    const w = new Future<void>(this._loop);
    this.#drainWaiters.push(w);
    return w;
  }

  /** @internal */
  _closedFuture(): Future<void> {
    if (this.#closed === null) {
      this.#closed = new Future<void>(this._loop);
      if (this.#lost) settleClosed(this.#closed, this.#lostError);
    }
    return this.#closed;
  }

  /** The clientConnected task, if one runs. */
  get task(): Task<unknown> | null {
    return this.#task;
  }
}

/** wait_closed's outcome, as asyncio's: the error the connection was lost with, if any. Marked
 *  retrieved (asyncio's protocol does the same), so a writer nobody waits on is not reported. */
function settleClosed(closed: Future<void>, error: Error | null): void {
  if (error === null) {
    closed._finish(undefined);
  } else {
    closed._fail(error);
    closed.exception();
  }
}
