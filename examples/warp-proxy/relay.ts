// Relay: copy a StreamReader into a StreamWriter with backpressure and half-close.
//
// Reads up to 64 KiB at a time, writes, and waits on drain() so a fast sender and a slow
// receiver hold at most the stream limits in memory (the original buffered everything). At
// EOF the write side is half-closed (writeEof) so the peer sees the end too (WARP.md §8.8).
//
// The client -> upstream direction of a request is started on demand (`onFirstData`): its first
// read is a plain pending Future, and the task that relays the rest is made only once that read
// completes. Most requests send nothing after their head, and a task made, parked on a read and
// cancelled for each of them was about a tenth of the proxy's CPU per request. A client that
// half-closes after its head (its first read is EOF) gets its EOF passed on at once
// (`endsAtOnce`), with no task either. That also keeps the process's first such client from
// deoptimizing the hot path: the first relay task to finish stores a number as a Future's result
// and V8 then widens that field in every Future and drops the optimized code built on it.

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
      endWrite(to);
      return total;
    }
    total += chunk.length;
    to.write(chunk);
    yield* to.drain();
  }
}

/** Half-closes `to` (EOF to its peer) unless it is closing already. */
export function endWrite(to: StreamWriter): void {
  if (!to.isClosing() && to.canWriteEof()) to.writeEof();
}

/** When the read `first` completed with EOF, passes it on (half-closes `to`, as pipe would) and
 *  returns true: there is nothing left to relay. False for data or an error (a relay handles them). */
export function endsAtOnce(first: Future<Buffer>, shutdown: () => void, idle: IdleWatch | null): boolean {
  if (first.cancelled() || first.exception() !== null || first.result().length !== 0) return false;
  idle?.touch();
  shutdown();
  return true;
}

/** A relay that may never need to run. */
export interface Relay {
  /** Stops it (a relay under way is cancelled and waited for; its failure is raised). */
  stop(): Coroutine<void>;
}

/** Starts `start(first)` once the read `first` completes (data, EOF or an error); until then
 *  the relay costs one pending read. `start` returns null when nothing needs to run (see
 *  endsAtOnce). stop() before that cancels the read, and bytes it may have taken in the same
 *  turn are dropped, as a cancelled relay's would be. */
export function onFirstData(first: Future<Buffer>, start: (first: Future<Buffer>) => Relay | null): Relay {
  return new OnFirstData(first, start);
}

// A class, not an object literal with a `*stop()` method: a generator function made per call
// gets its own prototype and so its own hidden class for the generators it makes: onFirstData
// and stop() cost 3.6 us that way in a micro-benchmark, 67 ns as this class.
class OnFirstData implements Relay {
  readonly #first: Future<Buffer>;
  readonly #start: (first: Future<Buffer>) => Relay | null;
  #running: Relay | null = null;
  readonly #begin = (): void => {
    const relay = this.#start(this.#first);
    if (relay !== null) this.#running = relay;
  };

  constructor(first: Future<Buffer>, start: (first: Future<Buffer>) => Relay | null) {
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
 *  tunnel nobody uses, held its task and both sockets forever). touch() per chunk is one clock
 *  read; the timer is armed once per idle period and re-armed lazily when it finds activity,
 *  not reset per chunk. Before the relay, limit() gives each phase of a request (its head, the
 *  connect, the first answer byte) a fixed deadline on the same timer, so a request arms one or
 *  two timers, not one per phase: a later deadline keeps the armed timer, which re-checks when
 *  it fires. */
export class IdleWatch {
  readonly #loop: EventLoop;
  readonly #seconds: number;
  readonly #onIdle: () => void;
  #at = 0;
  /** The current phase's deadline (loop time; Infinity: none); -1 under the idle rule. */
  #limit = -1;
  #timer: TimerHandle | null = null;
  /** True once onIdle was called. */
  fired = false;

  constructor(seconds: number, onIdle: () => void) {
    this.#loop = getRunningLoop();
    this.#seconds = seconds;
    this.#onIdle = onIdle;
  }

  /** The current phase must end within `seconds` (onIdle otherwise). */
  limit(seconds: number): void {
    this.#limit = this.#loop.time() + seconds;
    this.#arm(this.#limit);
  }

  /** No deadline until the next limit() or start(). */
  pause(): void {
    this.#limit = Infinity;
  }

  /** Starts watching for idleness (the relay begins now). */
  start(): void {
    this.#limit = -1;
    this.touch();
    this.#arm(this.#at + this.#seconds);
  }

  touch(): void {
    this.#at = this.#loop.time();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #arm(when: number): void {
    const timer = this.#timer;
    if (timer !== null) {
      if (timer.when() <= when) return; // it fires first and looks again
      timer.cancel();
    }
    this.#timer = this.#loop.callAt(when, this.#check);
  }

  readonly #check = (): void => {
    this.#timer = null;
    const due = this.#limit >= 0 ? this.#limit : this.#at + this.#seconds;
    if (this.#loop.time() < due) {
      if (due !== Infinity) this.#timer = this.#loop.callAt(due, this.#check);
      return;
    }
    this.fired = true;
    this.#onIdle();
  };
}
