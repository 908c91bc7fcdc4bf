// Group and Pool: gevent's sets of greenlets, with map/imap/imapUnordered/apply.
//
// Group tracks greenlets until they die (length: started and not finished). Pool(size) is a
// Group that never runs more than `size` at once: spawn() cannot block in TypeScript, so on a
// full pool it returns a greenlet gated on a unit of a src/sync Semaphore and started when a
// slot frees (FIFO); waitAvailable() is the blocking form. map() keeps argument order,
// imap() yields in order as results arrive, imapUnordered() in completion order; their
// iterators' next() is a Future, so generator code can `yield*` it.

import type { Future } from '../tasks/future.js';
import { optionsOf } from '../tasks/options.js';
import { Roster } from '../loop/roster.js';
import { Semaphore as SyncSemaphore } from '../sync/semaphore.js';
import { BridgeFuture, GreenletExit, blockOptions, hubLoop, type BlockOptions } from './hub.js';
import { Greenlet, waitReady, type GreenletBody } from './greenlet.js';
import { wait, type FutureIterator } from './waiting.js';

/** gevent: `gevent.pool.Group`. */
export class Group {
  /** Members in slots, each greenlet keeping its slot (Greenlet._groups): a Set would keep dead
   *  greenlets alive through young-generation GCs under churn (src/loop/roster.ts). */
  protected readonly _members = new Roster<Greenlet<any>>();

  /** gevent: `len(group)`: greenlets started and not finished. */
  get length(): number {
    return this._members.size;
  }

  /** The greenlets (gevent: iterating a group). */
  greenlets(): Greenlet<any>[] {
    return this._members.toArray();
  }

  /** gevent: `greenlet in group`. */
  has(g: Greenlet<any>): boolean {
    return this.#place(g) >= 0;
  }

  /** Where this group's (group, slot) pair sits in g._groups, or -1. */
  #place(g: Greenlet<any>): number {
    const groups = g._groups;
    if (groups !== null) for (let i = 0; i < groups.length; i += 2) if (groups[i] === this) return i;
    return -1;
  }

  /** gevent: `Group.add(greenlet)`: tracked until it dies. */
  add(g: Greenlet<any>): void {
    if (!(g instanceof Greenlet)) throw new TypeError(`a Group holds greenlets, got ${String(g)}`);
    if (g.dead || this.#place(g) >= 0) return;
    const slot = this._members.add(g);
    (g._groups ??= []).push(this, slot);
    g.link(this.#discardLink);
  }

  readonly #discardLink = (g: Greenlet<any>): void => this.discard(g);

  /** gevent: `Group.discard(greenlet)`. */
  discard(g: Greenlet<any>): void {
    const at = this.#place(g);
    if (at >= 0) {
      this._members.remove(g._groups![at + 1] as number, g);
      g._groups!.splice(at, 2);
      g.unlink(this.#discardLink);
    }
    this._onDiscard(g);
  }

  protected _onDiscard(_g: Greenlet<any>): void {}

  /** kill() stops map/imap spawning what is left (a Pool feeds them lazily). */
  protected _stopFeeding(): void {}

  /** gevent: `Group.spawn(fn, *args)`. */
  spawn<T, A extends unknown[]>(fn: GreenletBody<T, A>, ...args: A): Greenlet<T> {
    const g = new Greenlet<T>(fn as GreenletBody<T, any[]>, ...args);
    this.start(g);
    return g;
  }

  /** gevent: `Group.start(greenlet)`: add and start. */
  start(g: Greenlet<any>): void {
    this.add(g);
    g.start();
  }

  /** gevent: `Group.join(timeout=None, raise_error=False)`: true once all are dead. Takes
   *  `join(timeout)`, `join(timeout, { raiseError })`, `join({ timeout, raiseError })`, and
   *  gevent's positional `join(timeout, raiseError)`. */
  join(timeout: number | null | { timeout?: number | null; raiseError?: boolean } = null, options: { raiseError?: boolean } | boolean = {}): Future<boolean> {
    let raiseError: boolean;
    if (timeout !== null && typeof timeout === 'object') {
      ({ timeout = null, raiseError = false } = timeout);
    } else {
      raiseError = typeof options === 'boolean' ? options : !!optionsOf('join', options, '{ raiseError }').raiseError;
    }
    const members = this._members.toArray();
    const out = new BridgeFuture<boolean>(hubLoop());
    wait(members, { timeout }).addDoneCallback((f) => {
      const done = (f as Future<Greenlet<any>[]>).result();
      const failed = raiseError ? done.find((g) => !g.successful()) : undefined;
      if (failed !== undefined) out._fail(failed.exception);
      else out._finish(done.length === members.length);
    });
    return out;
  }

  /** gevent: `Group.kill(exception=GreenletExit, block=True, timeout=None)`. */
  kill(exception: unknown = GreenletExit, options: BlockOptions = {}): Future<boolean> {
    const { block, timeout } = blockOptions('kill', options);
    this._stopFeeding();
    const members = this._members.toArray();
    for (const g of members) g.kill(exception, { block: false });
    const out = new BridgeFuture<boolean>(hubLoop());
    if (!block) { out._finish(false); return out; }
    wait(members, { timeout }).addDoneCallback((f) => out._finish((f as Future<unknown[]>).result().length === members.length));
    return out;
  }

  /** gevent: `Group.killone(greenlet, ...)`. */
  killone(g: Greenlet<any>, exception: unknown = GreenletExit, options: BlockOptions = {}): Future<boolean> {
    return g.kill(exception, options);
  }

  /** gevent: `Group.full()`: never, for an unbounded group. */
  full(): boolean {
    return false;
  }

  /** gevent: `Group.apply(fn, args)`: runs it in a greenlet of the group; its result. */
  apply<T>(fn: GreenletBody<T, any[]>, args: unknown[] = []): Future<T> {
    return this.spawn(fn, ...args).get();
  }

  /** gevent: `Group.apply_async(fn, args, callback)`: the greenlet; `callback(value)` on success. */
  applyAsync<T>(fn: GreenletBody<T, any[]>, args: unknown[] = [], callback?: (value: T) => void): Greenlet<T> {
    const g = this.spawn(fn, ...args);
    if (callback) g.linkValue((done) => callback(done.value as T));
    return g;
  }

  /** Spawns `fn(list[i])` for each i in order and calls `started(g, i)`. A Group spawns them
   *  all at once; a Pool as slots free (see Pool), so a map over a million items never holds
   *  more than the pool's size of greenlets. */
  protected _spawnEach<T, R>(fn: GreenletBody<R, [T]>, list: T[], started: (g: Greenlet<R>, i: number) => void): void {
    for (let i = 0; i < list.length; i++) started(this.spawn(fn, list[i]!), i);
  }

  /** gevent: `Group.map(fn, iterable)`: results in input order. A failure is raised when the
   *  results before it are in, as gevent's map (a list of imap) reaches it in order. */
  map<T, R>(fn: (item: T) => ReturnType<GreenletBody<R, [T]>>, items: Iterable<T>): Future<R[]> {
    const list = [...items];
    const results = new Array<R>(list.length);
    const ended: Array<Greenlet<R> | undefined> = new Array(list.length);
    const out = new BridgeFuture<R[]>(hubLoop());
    let next = 0; // the first result not yet taken, in input order
    if (list.length === 0) { out._finish([]); return out; }
    this._spawnEach(fn as GreenletBody<R, [T]>, list, (g, i) => {
      g._whenDead(() => {
        if (out.done()) return;
        ended[i] = g as Greenlet<R>;
        for (let d = ended[next]; d !== undefined; d = ended[next]) {
          if (!d.successful()) { out._fail(d.exception); return; }
          results[next++] = d.value as R;
        }
        if (next === list.length) out._finish(results);
      });
    });
    return out;
  }

  /** gevent: `Group.imap(fn, iterable, maxsize=None)`: results in input order, as they come. */
  imap<T, R>(fn: (item: T) => ReturnType<GreenletBody<R, [T]>>, items: Iterable<T>): FutureIterator<R> {
    const list = [...items];
    const gs: Array<Greenlet<R> | undefined> = new Array(list.length);
    const asked = new Map<number, BridgeFuture<IteratorResult<R>>>();
    const deliverWhenDead = (g: Greenlet<R>, out: BridgeFuture<IteratorResult<R>>): void => {
      waitReady(g._future, null).addDoneCallback(() => {
        if (g.successful()) out._finish({ value: g.value as R, done: false });
        else out._fail(g.exception);
      });
    };
    this._spawnEach(fn as GreenletBody<R, [T]>, list, (g, i) => {
      gs[i] = g;
      const out = asked.get(i);
      if (out !== undefined) { asked.delete(i); deliverWhenDead(g, out); }
    });
    let i = 0;
    const it: FutureIterator<R> = {
      next: () => {
        const out = new BridgeFuture<IteratorResult<R>>(hubLoop());
        if (i >= list.length) { out._finish({ value: undefined, done: true }); return out; }
        const k = i++;
        const g = gs[k];
        if (g !== undefined) deliverWhenDead(g, out);
        else asked.set(k, out); // not spawned yet (a full Pool): delivered once it is
        return out;
      },
      [Symbol.asyncIterator]: () => it as unknown as AsyncIterator<R>,
    };
    return it;
  }

  /** gevent: `Group.imap_unordered(fn, iterable)`: results in completion order. */
  imapUnordered<T, R>(fn: (item: T) => ReturnType<GreenletBody<R, [T]>>, items: Iterable<T>): FutureIterator<R> {
    const list = [...items];
    const finished: Greenlet<R>[] = [];
    const waiting: BridgeFuture<IteratorResult<R>>[] = [];
    let handed = 0;
    const deliver = (out: BridgeFuture<IteratorResult<R>>, g: Greenlet<R>): void => {
      if (g.successful()) out._finish({ value: g.value as R, done: false });
      else out._fail(g.exception);
    };
    // A consumer killed while it waited gave up its turn: its result goes to the next next().
    const prune = (): void => {
      if (!waiting.some((w) => w.done())) return;
      const live = waiting.filter((w) => !w.done());
      handed -= waiting.length - live.length;
      waiting.splice(0, waiting.length, ...live);
    };
    this._spawnEach(fn as GreenletBody<R, [T]>, list, (g) => {
      g.link(() => {
        prune();
        const w = waiting.shift();
        if (w !== undefined) deliver(w, g);
        else finished.push(g);
      });
    });
    const it: FutureIterator<R> = {
      next: () => {
        const out = new BridgeFuture<IteratorResult<R>>(hubLoop());
        prune();
        if (handed >= list.length) { out._finish({ value: undefined, done: true }); return out; }
        handed++;
        const g = finished.shift();
        if (g !== undefined) deliver(out, g);
        else waiting.push(out);
        return out;
      },
      [Symbol.asyncIterator]: () => it as unknown as AsyncIterator<R>,
    };
    return it;
  }
}

/** gevent: `gevent.pool.Pool(size)`: a Group running at most `size` greenlets at once. */
export class Pool extends Group {
  readonly size: number;
  readonly #slots: SyncSemaphore;
  /** Greenlets holding a slot (each marked by Greenlet._heldBy; no Set, see Group). */
  #running = 0;

  constructor(size = 100) {
    super();
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Pool size must be an integer >= 1, got ${size}`);
    this.size = size;
    this.#slots = new SyncSemaphore(size);
  }

  /** gevent: `len(pool)`: greenlets holding a slot (running); queued ones are not counted. */
  override get length(): number {
    return this.#running;
  }

  /** gevent: `Pool.full()`. */
  override full(): boolean {
    return this.freeCount() === 0;
  }

  /** gevent: `Pool.free_count()`. */
  freeCount(): number {
    return Math.max(0, this.size - this.#running - this.#pendingStarts);
  }

  #pendingStarts = 0;

  /** gevent: `Pool.wait_available(timeout=None)`: resolves once a slot is free (the free count). */
  waitAvailable(timeout: number | null = null): Future<number> {
    const out = new BridgeFuture<number>(hubLoop());
    const unit = this.#slots.acquire();
    const timer = timeout === null ? null : hubLoop().callLater(timeout, () => { if (unit.cancel()) out._finish(this.freeCount()); });
    unit.addDoneCallback(() => {
      timer?.cancel();
      if (unit.cancelled()) return;
      this.#slots.release(); // only looking: hand the unit straight back
      if (!out.done()) out._finish(this.freeCount() || 1);
    });
    return out;
  }

  /** Starts `g` once a slot is free (FIFO); it holds the slot until it dies. */
  override start(g: Greenlet<any>): void {
    this.add(g);
    const unit = this.#slots.acquire();
    if (unit.done()) {
      this.#hold(g);
      g.start();
      return;
    }
    this.#pendingStarts++;
    g._gate = unit;
    unit.addDoneCallback(() => {
      this.#pendingStarts--;
      if (g.dead) { this.#slots.release(); return; } // killed while queued
      this.#hold(g);
    });
    g.start();
  }

  #hold(g: Greenlet<any>): void {
    g._heldBy = this;
    this.#running++;
  }

  protected override _onDiscard(g: Greenlet<any>): void {
    if (g._heldBy === this) {
      g._heldBy = null;
      this.#running--;
      this.#slots.release();
    }
    if (this.#feeders.size > 0) for (const feed of [...this.#feeders]) feed();
  }

  /** map/imap/imapUnordered still spawning: each called when a slot may have freed. */
  readonly #feeders = new Set<() => void>();

  /** Spawns as slots free instead of all at once (gevent's IMap spawns one per free slot too):
   *  at most `size` greenlets of a map exist, plus none queued. */
  protected override _spawnEach<T, R>(fn: GreenletBody<R, [T]>, list: T[], started: (g: Greenlet<R>, i: number) => void): void {
    let next = 0;
    const spawnNext = (): void => {
      const i = next++;
      started(this.spawn(fn, list[i]!), i);
    };
    const feed = (): void => {
      while (next < list.length && this.freeCount() > 0) spawnNext();
      if (next >= list.length) this.#feeders.delete(feed);
    };
    this.#feeders.add(feed);
    // A pool already full (by other work): the first item queues for a slot, as gevent's map
    // blocks in spawn(); the rest follow as slots free.
    if (list.length > 0 && this.freeCount() === 0) spawnNext();
    feed();
  }

  protected override _stopFeeding(): void {
    this.#feeders.clear();
  }
}
