// StreamReader: asyncio's buffered reader, with Futures instead of coroutines.
//
// One read may be pending at a time (asyncio raises RuntimeError for a second). A read that can
// complete from the buffer returns a done Future; otherwise the operation is parked and retried
// on every feedData/feedEof/setException, so a read costs no Task. The data a completed read
// took is given back to the front of the buffer if the reading generator task is cancelled
// before it resumes (Future._onAbandon): a cancelled read never loses bytes.
//
// The buffer is a list of the chunks as they arrived: read(n) hands over a whole chunk without
// copying when it fits (the common case for a relay or an echo), and only readUntil/readLine
// flatten the chunks into one, when a search must span them.
//
// Bounded memory: when more than 2 × limit bytes are buffered and no read is waiting, the
// transport is paused (the socket stops reading); a waiting read, or the buffer falling to the
// limit, resumes it (asyncio's streams.py: _maybe_resume_transport / _wait_for_data).

import type { EventLoop } from '../loop/event-loop.js';
import type { Transport } from '../loop/transport.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from '../tasks/future.js';
import { RuntimeError } from '../tasks/errors.js';
import { IncompleteReadError, LimitOverrunError } from './errors.js';

const DEFAULT_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);
const LF = Buffer.from('\n');
const NO_SEPS: Buffer[] = [];

/** Separators given as strings, encoded once: a server reads every request head with the same
 *  few (the WARP proxy: three per request, 0.7 us each to encode). Bounded: cleared when full. */
const encoded = new Map<string, Buffer>();
const ENCODED_MAX = 64;

/** A separator's bytes: a copy (the caller may reuse its buffer while the read waits), or the
 *  string's UTF-8 encoding, shared. Empty is refused, as asyncio does. */
function separatorBytes(s: Uint8Array | string): Buffer {
  let b: Buffer | undefined;
  if (typeof s === 'string') {
    b = encoded.get(s);
    if (b === undefined) {
      b = Buffer.from(s);
      if (encoded.size >= ENCODED_MAX) encoded.clear();
      encoded.set(s, b);
    }
  } else {
    b = Buffer.from(s);
  }
  if (b.length === 0) throw new RangeError('separator must contain at least one byte');
  return b;
}

/** A pending read, described as such in the task tree. It knows its reader, so a completed
 *  read abandoned by a cancelled task can give its bytes back without a closure per read. */
class ReadFuture extends Future<Buffer> {
  /** @internal */ declare _reader: StreamReader;
  constructor(loop: EventLoop, reader: StreamReader) {
    super(loop);
    this._reader = reader;
  }

  override _describeWait(): string {
    return 'stream read';
  }
}

/** Returns the value when the operation can finish, NOT_YET to wait for more data. */
type ReadOp = (reader: StreamReader) => Buffer | typeof NOT_YET;
const NOT_YET = Symbol('not yet');

/** asyncio: `StreamReader`. */
export class StreamReader {
  readonly #limit: number;
  /** Buffered data, oldest first; #size is their total length. */
  #chunks: Buffer[] = [];
  #size = 0;
  #eof = false;
  #error: unknown = null;
  #transport: Pick<Transport, 'pauseReading' | 'resumeReading'> | null = null;
  #paused = false;
  #op: ReadOp | null = null;
  /** read(n)'s n, for #readSome. */
  #readSize = 0;
  /** readUntil's separators and the longest one's length, for #readUntil. */
  #seps: Buffer[] = NO_SEPS;
  #maxSep = 0;
  #opFuture: Future<Buffer> | null = null;
  /** read(-1) collects here as data arrives, so the transport need not pause. */
  #all: Buffer[] | null = null;

  constructor(limit = DEFAULT_LIMIT) {
    if (typeof limit !== 'number') throw new TypeError(`limit must be a number of bytes, got ${typeof limit}`);
    if (!(limit > 0)) throw new RangeError(`limit must be > 0 bytes, got ${limit}`);
    this.#limit = limit;
  }

  /** The reader's line and separator limit, in bytes. */
  get limit(): number {
    return this.#limit;
  }

  /** @internal */
  _setTransport(t: Pick<Transport, 'pauseReading' | 'resumeReading'>): void {
    this.#transport = t;
  }

  /** asyncio: `StreamReader.exception`. */
  exception(): unknown {
    return this.#error;
  }

  /** asyncio: `StreamReader.set_exception`. Pending and later reads raise it. */
  setException(error: unknown): void {
    this.#error = error;
    this.#retry();
  }

  /** asyncio: `StreamReader.feed_data`. */
  feedData(data: Uint8Array): void {
    if (this.#eof) throw new RuntimeError('feedData after feedEof');
    if (data.length === 0) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#op !== null) this.#retry();
    if (this.#op === null && this.#transport !== null && !this.#paused && this.#size > 2 * this.#limit) {
      this.#paused = true;
      this.#transport.pauseReading();
    }
  }

  /** asyncio: `StreamReader.feed_eof`. */
  feedEof(): void {
    this.#eof = true;
    this.#retry();
  }

  /** asyncio: `StreamReader.at_eof`. True once EOF was fed and the buffer is empty. */
  atEof(): boolean {
    return this.#eof && this.#size === 0;
  }

  /** Bytes buffered. Project only (tests check the bound). */
  get buffered(): number {
    return this.#size;
  }

  /** asyncio: `StreamReader.read`. Up to `n` bytes (n < 0: until EOF); empty at EOF. */
  read(n = -1): Future<Buffer> {
    if (!Number.isInteger(n)) throw new TypeError(`read size must be an integer number of bytes (-1: to EOF), got ${String(n)}`);
    this.#checkFree();
    if (n === 0) return this.#start(() => EMPTY);
    if (n < 0) {
      this.#all = [];
      return this.#start(() => {
        if (this.#size > 0) {
          this.#all!.push(...this.#chunks);
          this.#chunks = [];
          this.#size = 0;
          this.#maybeResume();
        }
        if (!this.#eof) return NOT_YET;
        const all = Buffer.concat(this.#all!);
        this.#all = null;
        return all;
      });
    }
    this.#readSize = n;
    return this.#start(StreamReader.#readSome); // the hot path (a relay, an echo): no closure per read
  }

  /** asyncio: `StreamReader.readexactly`. Raises IncompleteReadError at an early EOF. */
  readExactly(n: number): Future<Buffer> {
    if (!Number.isInteger(n)) throw new TypeError(`readExactly size must be an integer number of bytes, got ${String(n)}`);
    if (n < 0) throw new RangeError(`readExactly size must be >= 0, got ${n}`);
    this.#checkFree();
    return this.#start(() => {
      if (this.#size >= n) return this.#take(n);
      if (this.#eof) throw new IncompleteReadError(this.#take(this.#size), n);
      return NOT_YET;
    });
  }

  /** asyncio: `StreamReader.readuntil`. Data up to and including the first separator found
   *  (of several: the one that ends earliest). LimitOverrunError past the limit (the data stays
   *  buffered), IncompleteReadError at EOF. */
  readUntil(separator: Uint8Array | string | Array<Uint8Array | string> = LF): Future<Buffer> {
    const list = Array.isArray(separator) ? separator : [separator];
    if (list.length === 0) throw new RangeError('separator must contain at least one byte');
    const seps = new Array<Buffer>(list.length);
    let maxSep = 0;
    for (let i = 0; i < list.length; i++) {
      const b = separatorBytes(list[i]!);
      seps[i] = b;
      if (b.length > maxSep) maxSep = b.length;
    }
    this.#checkFree();
    this.#seps = seps;
    this.#maxSep = maxSep;
    return this.#start(StreamReader.#readUntil);
  }

  /** asyncio: `StreamReader.readline`. A line with its "\n"; the partial last line at EOF;
   *  LimitOverrunError (the over-long line is dropped) past the limit. */
  readLine(): Future<Buffer> {
    this.#checkFree();
    return this.#start(() => {
      const buf = this.#flat();
      const i = buf.indexOf(10);
      if (i >= 0) {
        if (i > this.#limit) { // as readUntil: a line of `limit` bytes and its "\n" pass
          this.#take(i + 1);
          throw new LimitOverrunError('Separator is found, but chunk is longer than limit', i);
        }
        return this.#take(i + 1);
      }
      if (buf.length > this.#limit) {
        const consumed = buf.length;
        this.#take(consumed);
        throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', consumed);
      }
      if (this.#eof) return this.#take(buf.length);
      return NOT_YET;
    });
  }

  /** Lines until EOF (asyncio: `async for line in reader`). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const line = await this.readLine();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** The buffered data as one Buffer (joins the chunks once, when a search needs it). */
  #flat(): Buffer {
    const chunks = this.#chunks;
    if (chunks.length === 0) return EMPTY;
    if (chunks.length > 1) this.#chunks = [Buffer.concat(chunks, this.#size)];
    return this.#chunks[0]!;
  }

  /** Removes and returns the first n bytes (n <= #size); no copy when they are one chunk. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const chunks = this.#chunks;
    let out: Buffer;
    const first = chunks[0]!;
    if (first.length === n) {
      chunks.shift();
      out = first;
    } else if (first.length > n) {
      chunks[0] = first.subarray(n);
      out = first.subarray(0, n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) chunks.shift();
        else chunks[0] = c.subarray(k);
      }
    }
    this.#size -= n;
    this.#maybeResume();
    return out;
  }

  #unread(data: Buffer): void {
    if (data.length === 0) return;
    this.#chunks.unshift(data);
    this.#size += data.length;
  }

  #maybeResume(): void {
    if (this.#paused && this.#size <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  /** asyncio's RuntimeError for a second read while one waits; checked before a read stores
   *  its parameters, which the waiting read still needs. */
  #checkFree(): void {
    if (this.#opFuture !== null && !this.#opFuture.done()) {
      throw new RuntimeError('another read is already waiting for incoming data on this StreamReader');
    }
  }

  /** Parks `op` (the caller has checked #checkFree) and tries it at once. */
  #start(op: ReadOp): Future<Buffer> {
    const fut = new ReadFuture(getEventLoop(), this);
    this.#op = op;
    this.#opFuture = fut;
    this.#retry();
    if (this.#op !== null && this.#paused) {
      this.#paused = false; // a reader waits: let data in (asyncio's _wait_for_data)
      this.#transport?.resumeReading();
    }
    return fut;
  }

  #retry(): void {
    const op = this.#op, fut = this.#opFuture;
    if (op === null || fut === null) return;
    if (fut.done()) { // cancelled while waiting: nothing was taken
      this.#op = null;
      this.#opFuture = null;
      if (this.#all !== null) { this.#unread(Buffer.concat(this.#all)); this.#all = null; }
      return;
    }
    let value: Buffer | typeof NOT_YET;
    try {
      value = op(this);
    } catch (error) {
      this.#op = null;
      this.#opFuture = null;
      fut._fail(error);
      return;
    }
    if (value === NOT_YET) {
      if (this.#error !== null) {
        this.#op = null;
        this.#opFuture = null;
        fut._fail(this.#error);
      }
      return;
    }
    this.#op = null;
    this.#opFuture = null;
    if (value.length > 0) fut._onAbandon = StreamReader.#giveBack;
    fut._finish(value);
  }

  /** read(n)'s operation. */
  static #readSome(r: StreamReader): Buffer | typeof NOT_YET {
    if (r.#size > 0) return r.#take(Math.min(r.#readSize, r.#size));
    return r.#eof ? EMPTY : NOT_YET;
  }

  /** readUntil's operation: the separator that ends earliest wins. */
  static #readUntil(r: StreamReader): Buffer | typeof NOT_YET {
    const buf = r.#flat();
    const seps = r.#seps;
    let start = -1, end = -1;
    for (let k = 0; k < seps.length; k++) {
      const sep = seps[k]!;
      const i = buf.indexOf(sep);
      if (i >= 0 && (end < 0 || i + sep.length < end)) {
        start = i;
        end = i + sep.length;
      }
    }
    if (end >= 0) {
      // asyncio measures the data before the separator: `limit` bytes and the separator pass.
      if (start > r.#limit) throw new LimitOverrunError('Separator is found, but chunk is longer than limit', start);
      return r.#take(end);
    }
    if (buf.length - r.#maxSep + 1 > r.#limit) {
      throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', buf.length - r.#maxSep + 1);
    }
    if (r.#eof) throw new IncompleteReadError(r.#take(buf.length), null);
    return NOT_YET;
  }

  /** A completed read's _onAbandon: its bytes go back (its task was cancelled before resuming). */
  static #giveBack(fut: Future<any>): void {
    (fut as ReadFuture)._reader.#unread(fut.result() as Buffer);
  }

  toString(): string {
    return `<StreamReader ${this.#size} bytes${this.#eof ? ' eof' : ''}${this.#paused ? ' paused' : ''}${this.#error !== null ? ' exception' : ''}>`;
  }
}
