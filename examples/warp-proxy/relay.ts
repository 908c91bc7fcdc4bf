// Relay: copy a StreamReader into a StreamWriter with backpressure and half-close.
//
// Reads up to 64 KiB at a time, writes, and waits on drain() so a fast sender and a slow
// receiver hold at most the stream limits in memory (the original buffered everything). At
// EOF the write side is half-closed (writeEof) so the peer sees the end too (WARP.md §8.8).
//
// The client -> upstream direction of a request is started on demand (`onFirstData`): its first
// read is a plain pending Future, and the task that relays the rest is made only once that read
// completes. Most requests send nothing after their head, and a task made, parked on a read and
// cancelled for each of them was about a tenth of the proxy's CPU per request.
//
// IdleWatch ends a relay that has moved nothing for the idle timeout; all the watches of a loop
// share one timer that looks at them every half timeout (IdleSweeper).

import { getRunningLoop, type Coroutine, type EventLoop, type Future, type StreamReader, type StreamWriter, type TimerHandle } from 'tulip';

export const CHUNK = 64 * 1024;

/** Copies until EOF; returns the number of bytes relayed. `first`, when given, is a read of
 *  `from` already made (see onFirstData): its bytes come first. Each chunk touches `idle`. */
export function* pipe(from: StreamReader, to: StreamWriter, first: Future<Buffer> | null = null, idle: IdleWatch | null = null): Coroutine<number> {
  let total = 0;
  for (;;) {
    const chunk = yield* (first ?? from.read(CHUNK));
    first = null;
    idle?.touch();
    if (chunk.length === 0) {
      if (!to.isClosing() && to.canWriteEof()) to.writeEof();
      return total;
    }
    total += chunk.length;
    to.write(chunk);
    yield* to.drain();
  }
}

/** A relay that may never need to run. */
export interface Relay {
  /** Stops it (a relay under way is cancelled and waited for; its failure is raised). */
  stop(): Coroutine<void>;
}

/** Starts `start(first)` once the read `first` completes (data, EOF or an error); until then
 *  the relay costs one pending read. stop() before that cancels the read, and bytes it may
 *  have taken in the same turn are dropped, as a cancelled relay's would be. */
export function onFirstData(first: Future<Buffer>, start: (first: Future<Buffer>) => Relay): Relay {
  return new OnFirstData(first, start);
}

// A class, not an object literal with a `*stop()` method: a generator function made per call
// gets its own prototype and so its own hidden class for the generators it makes: onFirstData
// and stop() cost 3.6 us that way in a micro-benchmark, 67 ns as this class.
class OnFirstData implements Relay {
  readonly #first: Future<Buffer>;
  readonly #start: (first: Future<Buffer>) => Relay;
  #running: Relay | null = null;
  readonly #begin = (): void => {
    this.#running = this.#start(this.#first);
  };

  constructor(first: Future<Buffer>, start: (first: Future<Buffer>) => Relay) {
    this.#first = first;
    this.#start = start;
    first.addDoneCallback(this.#begin);
  }

  *stop(): Coroutine<void> {
    if (this.#running !== null) return yield* this.#running.stop();
    const first = this.#first;
    first.removeDoneCallback(this.#begin);
    if (!first.cancel() && !first.cancelled()) first.exception(); // retrieved: nobody is left to tell
  }
}

/** Ends a relay that moves no byte either way for `seconds` (WARP.md §7: a silent origin, or a
 *  tunnel nobody uses, held its task and both sockets forever), 1 to 1.5 times `seconds` after
 *  its last byte. touch() per chunk is one store; the watches of a loop with the same `seconds`
 *  share one timer (IdleSweeper), so a request arms no timer of its own (one per request, armed
 *  at the first answer byte and cancelled at the end, was 2.6% of the proxy's CPU). */
export class IdleWatch {
  readonly #sweeper: IdleSweeper;
  readonly #onIdle: () => void;
  /** A byte moved since the sweeper last looked. */
  _moved = true;
  /** Sweeps in a row that found nothing moved. */
  _quiet = 0;
  /** This watch's place in its sweeper, -1 when not watched. */
  _place = -1;
  /** True once onIdle was called. */
  fired = false;

  constructor(seconds: number, onIdle: () => void) {
    this.#sweeper = IdleSweeper.of(getRunningLoop(), seconds);
    this.#onIdle = onIdle;
  }

  /** Starts watching (the relay begins now). */
  start(): void {
    this._moved = true;
    if (this._place < 0) this.#sweeper.add(this);
  }

  touch(): void {
    this._moved = true;
  }

  stop(): void {
    if (this._place >= 0) this.#sweeper.remove(this);
  }

  /** @internal The sweeper found it idle (and no longer watches it). */
  _fire(): void {
    this.fired = true;
    this.#onIdle();
  }
}

/** The timer behind every IdleWatch of one loop and one timeout: every `seconds / 2` it looks at
 *  each watch, and one that moved nothing at two looks in a row is idle. Armed only while it
 *  watches something, so an idle proxy (and a test counting timers) sees none. Watches sit in
 *  numbered places, not a Set (client-tasks.ts says why). */
class IdleSweeper {
  static readonly #all = new WeakMap<EventLoop, Map<number, IdleSweeper>>();

  static of(loop: EventLoop, seconds: number): IdleSweeper {
    let bySeconds = IdleSweeper.#all.get(loop);
    if (bySeconds === undefined) IdleSweeper.#all.set(loop, bySeconds = new Map());
    let sweeper = bySeconds.get(seconds);
    if (sweeper === undefined) bySeconds.set(seconds, sweeper = new IdleSweeper(loop, seconds / 2));
    return sweeper;
  }

  readonly #loop: EventLoop;
  readonly #period: number;
  readonly #places: Array<IdleWatch | null> = [];
  readonly #vacant: number[] = [];
  #count = 0;
  #timer: TimerHandle | null = null;

  private constructor(loop: EventLoop, period: number) {
    this.#loop = loop;
    this.#period = period;
  }

  add(w: IdleWatch): void {
    const place = this.#vacant.pop() ?? this.#places.length;
    this.#places[place] = w;
    w._place = place;
    w._quiet = 0;
    this.#count++;
    this.#timer ??= this.#loop.callLater(this.#period, sweep, this);
  }

  remove(w: IdleWatch): void {
    this.#places[w._place] = null;
    this.#vacant.push(w._place);
    w._place = -1;
    if (--this.#count === 0) {
      this.#timer?.cancel();
      this.#timer = null;
    }
  }

  /** @internal One look at every watch. */
  _sweep(): void {
    this.#timer = null;
    const places = this.#places;
    for (let i = 0; i < places.length; i++) {
      const w = places[i];
      if (w == null) continue;
      if (w._moved) {
        w._moved = false;
        w._quiet = 0;
      } else if (++w._quiet >= 2) {
        this.remove(w);
        w._fire();
      }
    }
    if (this.#count > 0) this.#timer ??= this.#loop.callLater(this.#period, sweep, this);
  }
}

function sweep(sweeper: IdleSweeper): void {
  sweeper._sweep();
}
