// cf. gevent's src/gevent/tests/test__greenlet.py, test__timeout.py, test__event.py,
// test__queue.py, test__pool.py, test__local.py (behaviours re-derived, tests written fresh)
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import type { AddressInfo } from 'node:net';
import {
  Greenlet, spawn, spawnLater, joinall, killall, wait, iwait, sleep, idle, getcurrent, Timeout, withTimeout,
  Event, AsyncResult, Queue, JoinableQueue, Channel, Semaphore, BoundedSemaphore, Lock, RLock, Group, Pool,
  local, StreamServer, createConnection, GreenletExit, Empty, Full, greenletToFuture, futureToGreenlet,
  signalHandler, type GreenSocket,
} from '../../src/greenlet/index.js';
import {
  QueueShutDown, run as trun, getRunningLoop, createTask, currentTask, gather, allTasks, timeout as ttimeout, taskGroup, waitFor, Condition as TCondition, fromPromise, sleep as tsleep, Lock as TLock, Queue as TQueue, CancelledError, EventLoop, type Coroutine, type Future,
} from '../../src/index.js';
import { runVirtual, makeLoop } from '../helpers/run-virtual.js';

function* settle<T>(f: PromiseLike<T> & Iterable<any>): Coroutine<unknown> {
  try { return yield* (f as any); } catch (e) { return e; }
}

test('greenlets start in spawn order and switch at each wait, deterministically (gevent tutorial)', async (t) => {
  const runs: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const out: string[] = [];
    await runVirtual(t, function* () {
      function* foo(): Coroutine<void> { out.push('Running in foo'); yield* sleep(0); out.push('Explicit context switch to foo again'); }
      async function bar(): Promise<void> { out.push('Explicit context to bar'); await sleep(0); out.push('Implicit context switch back to bar'); }
      yield* joinall([spawn(foo), spawn(bar)]);
    });
    runs.push(out);
  }
  t.deepEqual(runs[0], ['Running in foo', 'Explicit context to bar', 'Explicit context switch to foo again', 'Implicit context switch back to bar']);
  t.deepEqual(runs[1], runs[0]);
  t.deepEqual(runs[2], runs[0]);
});

test('state model: started, ready, successful, value, dead; get() re-raises and the failure is reported', async (t) => {
  const fx = makeLoop();
  await fx.loop.runUntilComplete(function* () {
    const ok = spawn(function* (x: number): Coroutine<number> { yield* sleep(1); return x * 2; }, 21);
    t.true(ok.started);
    t.false(ok.ready());
    t.is(yield* ok, 42);
    t.true(ok.dead && ok.ready() && ok.successful());
    t.is(ok.value, 42);
    t.is(ok.exception, null);
    t.regex(String(ok), /dead, successful/);
    const bad = spawn(function* (): Coroutine<void> { yield; throw new RangeError('inside'); });
    bad.name = 'worker-7';
    t.true((yield* bad.join()) === true, 'join() never raises');
    t.false(bad.successful());
    t.true(bad.exception instanceof RangeError);
    t.true((yield* settle(bad.get())) instanceof RangeError);
    const pending = spawn(function* () { yield* sleep(5); });
    t.true((yield* settle(pending.get({ block: false }))) instanceof Timeout);
    t.true((yield* settle(pending.get({ timeout: 1 }))) instanceof Timeout);
    t.false(yield* pending.join(0.5));
    yield* pending.kill();
    t.deepEqual(fx.reports, ['worker-7 failed with RangeError: inside']);
  }());
  fx.loop.close();
});

test('kill() raises GreenletExit at the current wait, however deep; the greenlet counts as successful', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    function* deep(q: Queue<number>): Coroutine<void> {
      try { yield* q.get(); } finally { order.push(`unwound at ${loop.time()}`); }
    }
    const q = new Queue<number>();
    const g = spawn(function* () { yield* sleep(1); yield* deep(q); });
    yield* sleep(2);
    yield* g.kill();
    t.true(g.successful());
    t.true(g.value instanceof GreenletExit);
    q.putNowait(7);
    t.is(q.qsize(), 1, 'the killed getter took nothing');
    const custom = spawn(async () => { await sleep(10); });
    yield* sleep(0);
    yield* custom.kill(new TypeError('custom'));
    t.true(custom.exception instanceof TypeError);
    const never = new Greenlet(function* () { order.push('never runs'); });
    never.start();
    yield* never.kill(GreenletExit, { block: false });
    t.true(never.dead);
    const unstarted = new Greenlet(() => 1);
    unstarted.kill(GreenletExit, { block: false });
    t.true(unstarted.dead && unstarted.successful());
    t.is(loop.scheduledTimers(), 0, 'the killed sleep left no timer');
  }, { expectReports: true });
  t.deepEqual(order, ['unwound at 2']);
});

test('a greenlet killed while it waits for a lock (Tulip\'s, gevent\'s RLock) does not leave it held', async (t) => {
  await runVirtual(t, function* () {
    for (const lock of [new TLock(), new RLock()]) {
      yield* lock.acquire();
      const g = spawn(function* () { yield* lock.acquire(); });
      yield* sleep(0);
      yield* g.kill();
      lock.release();
      t.false(lock.locked(), lock.constructor.name);
      // RLock: the killed greenlet must not have become the owner either.
      const next = spawn(function* () { const ok = yield* lock.acquire(); lock.release(); return ok; });
      t.not(yield* next.get(), false);
    }
  });
});

test('a greenlet killed after a lock or an item was handed to it, before it resumed, gives it back (generator and async bodies)', async (t) => {
  await runVirtual(t, function* () {
    for (const style of ['generator', 'async'] as const) {
      const lock = new TLock();
      yield* lock.acquire();
      const got: string[] = [];
      const take = style === 'generator'
        ? function* (n: string) { yield* lock.acquire(); got.push(n); lock.release(); }
        : async function (n: string) { await lock.acquire(); got.push(n); lock.release(); };
      const a = spawn(take as (n: string) => Coroutine<void>, 'a'), b = spawn(take as (n: string) => Coroutine<void>, 'b');
      yield* sleep(0);
      lock.release();                      // handed to a ...
      void a.kill(GreenletExit, { block: false }); // ... killed before it resumes
      t.true(yield* b.join(1), `${style}: b was not left waiting`);
      yield* a.join();
      t.deepEqual(got, ['b'], `${style}: the lock went on to b`);
      t.false(lock.locked());
      const q = new Queue<number>();
      const get = style === 'generator'
        ? function* (n: string) { got.push(`${n} ${yield* q.get()}`); }
        : async function (n: string) { got.push(`${n} ${await q.get()}`); };
      const g1 = spawn(get as (n: string) => Coroutine<void>, 'g1'), g2 = spawn(get as (n: string) => Coroutine<void>, 'g2');
      yield* sleep(0);
      q.putNowait(7);
      void g1.kill(GreenletExit, { block: false });
      t.true(yield* g2.join(1), `${style}: the item went on to g2`);
      t.deepEqual(got, ['b', 'g2 7']);
    }
  });
});

test('a Tulip cancel of an async greenlet\'s task after a lock was handed to it is raised at that await; the lock goes on', async (t) => {
  await runVirtual(t, function* () {
    const lock = new TLock();
    yield* lock.acquire();
    const seen: string[] = [];
    let aTask: Future<unknown> | null = null;
    const a = spawn(async () => {
      aTask = currentTask();
      try { await lock.acquire(); seen.push('a acquired'); lock.release(); } catch (e) { seen.push(`a ${(e as Error).name}`); }
    });
    const b = spawn(async () => { await lock.acquire(); seen.push('b acquired'); lock.release(); });
    yield* tsleep(0);
    lock.release(); // handed to a ...
    aTask!.cancel(); // ... whose task is cancelled before the await settles
    t.true(yield* b.join(1));
    yield* a.join();
    t.deepEqual(seen, ['a CancelledError', 'b acquired']);
    t.false(lock.locked());
  });
});

test('Timeout raises itself in the greenlet that started it; run() and silent timeouts', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const g = spawn(function* (): Coroutine<string> {
      const timeout = Timeout.startNew(1);
      try { yield* sleep(10); return 'slept'; } catch (e) { return e === timeout ? 'timed out' : 'other'; } finally { timeout.cancel(); }
    });
    t.is(yield* g, 'timed out');
    t.is(loop.time(), 1);
    const r = spawn(function* () { return yield* new Timeout(1, false).run(function* () { yield* sleep(5); return 'no'; }); });
    t.is(yield* r, undefined);
    const inTime = spawn(function* () { return yield* new Timeout(5).run(function* () { yield* sleep(1); return 'yes'; }); });
    t.is(yield* inTime, 'yes');
    const custom = spawn(async () => new Timeout(1, new RangeError('late')).run(async () => { await sleep(3); }));
    t.true((yield* settle(custom)) instanceof RangeError);
    t.true((yield* settle(withTimeout(1, function* () { yield* sleep(2); }))) instanceof Timeout);
    t.is(yield* withTimeout(1, function* () { yield* sleep(2); return 1; }, { timeoutValue: 'fallback' } as any), 'fallback');
    t.is(yield* withTimeout(2, async (x: number) => { await sleep(1); return x; }, 5), 5);
    const pending = new Timeout(3);
    t.false(pending.pending);
    t.regex(String(pending), /3 s/);
  }, { expectReports: true }); // the greenlet that died of RangeError('late') is reported
  t.throws(() => new Timeout(1).start(), { message: /needs a running greenlet/ });
});

test('Event.wait(timeout) resolves to the flag; AsyncResult get/wait/setException', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const ev = new Event();
    t.false(yield* ev.wait(1));
    loop.callLater(1, () => ev.set());
    t.true(yield* ev.wait());
    t.true(ev.isSet() && ev.ready());
    ev.clear();
    t.false(ev.isSet());
    const a = new AsyncResult<string>();
    t.true((yield* settle(a.get({ timeout: 1 }))) instanceof Timeout);
    t.is(yield* a.wait(0.5), undefined);
    spawn(function* () { yield* sleep(1); a.set('Hello!'); });
    t.is(yield* a.get(), 'Hello!');
    t.true(a.ready() && a.successful());
    t.is(yield* a, 'Hello!');
    const b = new AsyncResult<number>();
    b.setException(new Error('bad'));
    t.is(((yield* settle(b.get())) as Error).message, 'bad');
    t.is(yield* b.wait(), undefined);
    t.false(b.successful());
    t.true(b.exception instanceof Error);
    t.true((yield* settle(new AsyncResult().get({ block: false }))) instanceof Timeout);
  });
});

test('Queue with block/timeout raises Empty/Full; a timed-out put does not insert', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const q = new Queue<number>(1);
    t.is(q.maxsize, 1);
    yield* q.put(1);
    t.true(q.full());
    t.true((yield* settle(q.put(2, { timeout: 1 }))) instanceof Full);
    t.true((yield* settle(q.put(2, { block: false }))) instanceof Full);
    t.throws(() => q.putNowait(2), { instanceOf: Full });
    t.is(yield* q.peek(), 1);
    t.is(yield* q.get(), 1);
    t.true(q.empty());
    t.true((yield* settle(q.get({ timeout: 1 }))) instanceof Empty);
    t.true((yield* settle(q.get({ block: false }))) instanceof Empty);
    t.throws(() => q.getNowait(), { instanceOf: Empty });
    t.true((yield* settle(q.peek({ block: false }))) instanceof Empty);
    loop.callLater(1, () => q.putNowait(9));
    t.is(yield* q.peek(), 9);
    t.is(q.getNowait(), 9);
    t.true((yield* settle(q.peek({ timeout: 0.01 }))) instanceof Empty);
    t.is(new Queue().maxsize, null);
  });
});

test('Queue: for await takes the items as they come and ends once the queue is shut down and drained; shutdown(immediate) drops the rest', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<number>();
    const consumer = spawn(async () => {
      const got: number[] = [];
      for await (const item of q) got.push(item);
      return got;
    });
    for (const n of [1, 2, 3]) { yield* q.put(n); yield* sleep(1); }
    q.putNowait(4);
    q.shutdown();
    t.deepEqual(yield* consumer, [1, 2, 3, 4]);
    t.true((yield* settle(q.put(5))) instanceof QueueShutDown);
    t.true((yield* settle(q.get())) instanceof QueueShutDown);
    const dropped = new Queue<number>();
    dropped.putNowait(1);
    dropped.putNowait(2);
    const reader = spawn(async () => { const got: number[] = []; for await (const item of dropped) got.push(item); return got; });
    dropped.shutdown(true); // before the reader's first get: both items go
    t.deepEqual(yield* reader, []);
    t.is(dropped.qsize(), 0);
  });
});

test('JoinableQueue.join waits for taskDone; Channel is a rendezvous (putNowait/getNowait with a partner only)', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const jq = new JoinableQueue<number>();
    for (let i = 0; i < 3; i++) jq.putNowait(i);
    t.is(jq.unfinishedTasks, 3);
    t.false(yield* jq.join(0.5), 'join times out while items are unfinished');
    const worker = spawn(function* () { for (;;) { const x = yield* jq.get(); yield* sleep(1); order.push(`done ${x}`); jq.taskDone(); } });
    t.true(yield* jq.join());
    yield* worker.kill();
    t.is(jq.unfinishedTasks, 0);
    t.is(loop.time(), 3.5);
    const ch = new Channel<string>();
    t.is(ch.qsize(), 0);
    const putter = spawn(function* () { yield* ch.put('hand-over'); order.push('put returned'); });
    yield* sleep(1);
    t.false(putter.dead, 'put waits for a getter');
    t.is(yield* ch.get(), 'hand-over');
    yield* putter;
    t.true((yield* settle(ch.get({ timeout: 1 }))) instanceof Empty);
    t.true((yield* settle(ch.put('x', { timeout: 1 }))) instanceof Full);
    t.true((yield* settle(ch.put('x', { block: false }))) instanceof Full);
    t.true((yield* settle(ch.get({ block: false }))) instanceof Empty);
    const g = spawn(function* () { return yield* ch.get(); });
    yield* sleep(0);
    t.is(ch.getters, 1);
    yield* ch.put('direct');
    t.is(yield* g, 'direct');
    // gevent's put_nowait/get_nowait: only with a partner already waiting
    t.throws(() => ch.putNowait('nobody'), { instanceOf: Full });
    t.throws(() => ch.getNowait(), { instanceOf: Empty });
    const g2 = spawn(function* () { return yield* ch.get(); });
    yield* sleep(0);
    ch.putNowait('now');
    t.is(yield* g2, 'now');
    const p2 = spawn(function* () { yield* ch.put('taken'); return 'put done'; });
    yield* sleep(0);
    t.is(ch.getNowait(), 'taken');
    t.is(yield* p2, 'put done');
  });
  t.deepEqual(order, ['done 0', 'done 1', 'done 2', 'put returned']);
});

test('gevent order and results that differ only in timing: Channel.put resumes after its getter; Event.wait after set-then-clear; Timeout.run with an arrow', async (t) => {
  await runVirtual(t, function* () {
    const order: string[] = [];
    const c = new Channel<string>();
    const putter = spawn(function* () {
      yield* c.put('a'); order.push('put a returned');
      yield* c.put('b'); order.push('put b returned');
    });
    yield* sleep(0);
    order.push(`get ${yield* c.get()}`);
    order.push(`get ${yield* c.get()}`);
    yield* putter.join();
    t.deepEqual(order, ['get a', 'put a returned', 'get b', 'put b returned'], 'gevent 22.10 prints this order');
    const e = new Event();
    const waiters = [spawn(function* () { return yield* e.wait(); }), spawn(function* () { return yield* e.wait(5); })];
    yield* sleep(0);
    e.set();
    e.clear();
    yield* joinall(waiters);
    t.deepEqual(waiters.map((g) => g.value), [true, true], 'set while waiting: true, though cleared since');
    t.false(yield* e.wait(1));
    // A body that returns a Future (gevent's spawn(sleep, 1), with_timeout(s, sleep, 1)) can be
    // killed or timed out like any other.
    const sleeper = spawn(sleep, 5);
    yield* sleep(0);
    yield* sleeper.kill();
    t.true((yield* sleeper.get()) instanceof GreenletExit, 'get() of a killed greenlet is its GreenletExit');
    t.true((yield* settle(withTimeout(0.5, sleep, 5))) instanceof Timeout);
    const r = new AsyncResult<number>();
    r.set(1);
    r.set(2);
    r.setException(new RangeError('ignored once a value is stored'));
    t.is(yield* r.get(), 2, 'a later set() replaces the value, as in gevent');
    t.true(r.successful());
    function* work(x: number): Coroutine<number> { yield* sleep(x); return x; }
    t.is(yield* new Timeout(2).run(() => work(1)), 1);
    t.is(yield* new Timeout(1, false).run(() => work(2)), undefined);
    t.is(yield* fromPromise(new Timeout(2).run(async () => { await sleep(1); return 'async'; })), 'async');
  });
});

test('Pool map/imap spawn lazily: never more than size greenlets exist; a full pool delays; kill stops the feed', async (t) => {
  await runVirtual(t, function* () {
    const pool = new Pool(3);
    let peakMembers = 0;
    function* job(x: number): Coroutine<number> {
      peakMembers = Math.max(peakMembers, pool.greenlets().length);
      yield* sleep(1 + (x % 2));
      return x;
    }
    const items = Array.from({ length: 30 }, (_, i) => i);
    t.deepEqual(yield* pool.map(job, items), items);
    t.is(peakMembers, 3, 'no greenlet was made for an item before a slot was free');
    const ordered: number[] = [];
    const it = pool.imap(job, [5, 4, 3, 2, 1]);
    for (;;) { const r = yield* it.next(); if (r.done) break; ordered.push(r.value); }
    t.deepEqual(ordered, [5, 4, 3, 2, 1]);
    // A pool full of other work: the map waits for slots, then runs.
    const blockers = [pool.spawn(function* () { yield* sleep(10); }), pool.spawn(function* () { yield* sleep(10); }), pool.spawn(function* () { yield* sleep(10); })];
    const t0 = (yield* sleep(0), pool.freeCount());
    const mapped = pool.map(job, [7, 8]);
    t.deepEqual(yield* mapped, [7, 8]);
    t.is(t0, 0);
    t.true(blockers.every((g) => g.dead));
    // kill() stops a map's feed: what was left is never spawned.
    let started = 0;
    const unordered = pool.imapUnordered(function* (x: number): Coroutine<number> { started++; yield* sleep(5); return x; }, items);
    yield* sleep(1);
    yield* pool.kill();
    yield* sleep(20);
    t.is(started, 3);
    t.is(pool.greenlets().length, 0);
    const first = yield* unordered.next();
    t.false(first.done);
  });
});

test('a greenlet killed while it waits on join() or imapUnordered().next(): nothing reported, no result lost', async (t) => {
  const fx = makeLoop();
  const got = await fx.loop.runUntilComplete(function* (): Coroutine<number[]> {
    const group = new Group();
    group.spawn(function* () { yield* sleep(1); });
    const joiner = spawn(function* () { return yield* group.join(); });
    const it = group.imapUnordered(function* (x: number): Coroutine<number> { yield* sleep(x); return x; }, [2, 3]);
    const consumer = spawn(function* () { return yield* it.next(); });
    yield* sleep(0.5); // both wait now
    yield* joiner.kill();
    yield* consumer.kill();
    yield* sleep(5); // the group's members finish; their outcomes find the waiters gone
    const out: number[] = [];
    for (let r = yield* it.next(); !r.done && out.length < 2; r = yield* it.next()) out.push(r.value);
    return out;
  }());
  fx.loop.close();
  t.deepEqual(got, [2, 3], 'the result the killed consumer waited for goes to the next next()');
  t.deepEqual(fx.reports, []);
});

test('Queue: a getter killed just before a put does not swallow the item', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<string>();
    const getter = spawn(function* () { return yield* q.get(); });
    const timed = spawn(function* () { return yield* q.get({ timeout: 5 }); });
    yield* sleep(0); // both wait in get()
    void getter.kill(GreenletExit, { block: false });
    void timed.kill(GreenletExit, { block: false });
    q.putNowait('x'); // same turn: the killed getters must not take it
    t.is(q.qsize(), 1);
    t.is(yield* q.get(), 'x');
    // Granted, then killed before it resumes (twice: before and after the bridge saw the grant).
    for (const killAfter of [0, 1]) {
      const g = spawn(function* () { return yield* q.get(); });
      yield* sleep(0);
      q.putNowait(`y${killAfter}`);
      if (killAfter === 1) yield; // the item has reached the bridge future; g has not run yet
      void g.kill(GreenletExit, { block: false });
      yield* g.join();
      t.is(q.qsize(), 1, `the item went back (kill ${killAfter === 0 ? 'before' : 'after'} the bridge had it)`);
      t.is(yield* q.get(), `y${killAfter}`);
    }
  });
});

test('Channel: a getter or putter killed while it waits is skipped, nothing lost or delivered twice', async (t) => {
  await runVirtual(t, function* () {
    const ch = new Channel<string>();
    const deadGetter = spawn(function* () { return yield* ch.get(); });
    yield* sleep(0);
    yield* deadGetter.kill();
    const got = spawn(function* () { return yield* ch.get(); });
    yield* sleep(0);
    yield* ch.put('a');
    t.is(yield* got.get(), 'a', 'the live getter has it, not the killed one');
    const deadPutter = spawn(function* () { yield* ch.put('never'); });
    yield* sleep(0);
    yield* deadPutter.kill();
    const live = spawn(function* () { yield* ch.put('b'); });
    yield* sleep(0);
    t.is(yield* ch.get(), 'b', 'a killed put is not delivered');
    yield* live.join();
    // Handed the item, then killed before it resumed (generator and async getters): the item
    // goes to the next getter, or waits for one; put() and putNowait() alike.
    for (const style of ['generator', 'async'] as const) {
      for (const how of ['put', 'putNowait'] as const) {
        const handed = style === 'generator' ? spawn(function* () { return yield* ch.get(); }) : spawn(async () => ch.get());
        yield* sleep(0);
        if (how === 'put') void spawn(function* () { yield* ch.put(`${style} ${how}`); });
        else ch.putNowait(`${style} ${how}`);
        if (how === 'put') yield; // the putter has run: the item is handed over
        void handed.kill(GreenletExit, { block: false });
        yield* handed.join();
        t.true(handed.value instanceof GreenletExit);
        t.is(yield* ch.get({ timeout: 1 }), `${style} ${how}`, `${style} ${how}: not lost`);
      }
    }
  });
});

test('GreenletExit is control flow: a future failed with it is never reported as unretrieved', async (t) => {
  if (typeof globalThis.gc !== 'function') return t.fail('run with --expose-gc');
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(`${ctx.message}: ${(ctx.exception as Error).message}`));
  (() => { loop.createFuture<void>().setException(new GreenletExit()); })();
  (() => { loop.createFuture<void>().setException(new Error('lost')); })();
  // Collection and the registry's callbacks are real events with no set turn: collect until the
  // report of the ordinary failure comes (bounded), then a few rounds more for any other.
  for (let i = 0, after = 0; i < 200 && after < 5; i++) {
    globalThis.gc!();
    await new Promise((r) => setImmediate(r));
    if (reports.length > 0) after++;
  }
  t.deepEqual(reports, ['Future exception was never retrieved: lost']);
  loop.close();
});

test('Pool never runs more than its size; map keeps order; imapUnordered gives completion order', async (t) => {
  await runVirtual(t, function* () {
    const pool = new Pool(2);
    let running = 0, peak = 0;
    function* job(x: number): Coroutine<number> {
      running++;
      peak = Math.max(peak, running);
      yield* sleep(4 - x);
      running--;
      return x * 10;
    }
    t.deepEqual(yield* pool.map(job, [0, 1, 2, 3]), [0, 10, 20, 30]);
    t.is(peak, 2);
    const seen: number[] = [];
    const it = pool.imapUnordered(job, [0, 1, 2]);
    for (;;) { const r = yield* it.next(); if (r.done) break; seen.push(r.value); }
    t.deepEqual(seen, [10, 0, 20]);
    const ordered: number[] = [];
    const it2 = pool.imap(job, [2, 1]);
    for (;;) { const r = yield* it2.next(); if (r.done) break; ordered.push(r.value); }
    t.deepEqual(ordered, [20, 10]);
    t.is(yield* pool.apply(job, [3]), 30);
    let cb: number | null = null;
    yield* pool.applyAsync(job, [3], (v) => { cb = v; });
    yield* sleep(0);
    t.is(cb, 30);
    t.is(pool.freeCount(), 2);
    t.throws(() => new Pool(0), { instanceOf: RangeError });
  });
});

test('Pool: len counts running greenlets; waitAvailable; full; kill empties it (gevent tutorial)', async (t) => {
  const out: string[] = [];
  await runVirtual(t, function* () {
    const pool = new Pool(2);
    function* helloFrom(_n: number): Coroutine<void> { out.push(`Size of pool ${pool.length}`); }
    yield* pool.map(helloFrom, [0, 1, 2]);
    for (let i = 0; i < 2; i++) pool.spawn(function* () { yield* sleep(10); });
    const third = pool.spawn(function* () { yield* sleep(1); });
    t.true(pool.full());
    t.is(pool.freeCount(), 0);
    const avail = pool.waitAvailable(1);
    t.is(yield* avail, 0, 'timed out');
    yield* pool.kill();
    t.is(pool.length, 0);
    t.true(third.dead);
    t.true((yield* pool.waitAvailable()) >= 1);
  });
  t.deepEqual(out, ['Size of pool 2', 'Size of pool 2', 'Size of pool 1']);
});

test('a wait that times out unhooks itself: polling a long-lived greenlet leaves nothing behind', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const worker = spawn(function* () { yield* sleep(100); return 'done'; });
    const other = loop.createFuture<void>();
    for (let i = 0; i < 50; i++) {
      const ready = yield* wait([worker, other], { timeout: 1 });
      t.deepEqual(ready, []);
    }
    t.is(worker._hookCount, 0);
    t.is(other._cb0, null, 'no callback of the 50 waits is left on the future');
    t.is(other._cbs?.length ?? 0, 0);
    t.deepEqual(yield* joinall([worker], { timeout: 60 }), [worker]);
    t.is(worker.value, 'done');
    other.cancel();
  });
});

test('wait() without objects is gevent\'s hub.join(): true once nothing is left that could run, false at its timeout (child process: a test worker\'s IPC channel keeps Node busy)', (t) => {
  const code = `
    import { EventLoop, VirtualClock, createTask, sleep as tsleep } from './src/index.ts';
    import { spawn, spawnLater, sleep, wait, Event, AsyncResult, StreamServer } from './src/greenlet/index.ts';
    const clock = new VirtualClock({ autoJump: true });
    const loop = new EventLoop({ clock });
    const out = await loop.runUntilComplete(function* () {
      const log = [];
      for (const n of [3, 1, 2]) spawn(function* () { yield* sleep(n * 3600); log.push(n + 'h'); });
      const all = yield* wait();
      const at = clock.now();
      // A greenlet blocked on an event nobody can set does not keep the loop busy (gevent's
      // loop exits with it still blocked); a task's timer does.
      const ev = new Event();
      const blocked = spawn(() => ev.wait());
      createTask(function* () { yield* tsleep(60); log.push('task'); }());
      const withBlocked = yield* wait();
      const stillBlocked = !blocked.dead;
      const at2 = clock.now();
      spawn(sleep, 3600);
      const timedOut = yield* wait(null, { timeout: 5 });
      const at3 = clock.now();
      const again = yield* wait();
      ev.set();
      yield* blocked.join();
      return [all, at, withBlocked, stillBlocked, at2, timedOut, at3, again, clock.now(), log, blocked.dead];
    }());
    loop.close();
    console.log(JSON.stringify(out));
    // On the default loop with a real server: wait() until it stops; a killed waiter leaves no timer.
    const server = new StreamServer(['127.0.0.1', 0], function* () {});
    await server.start();
    const stopped = new AsyncResult();
    spawnLater(0.01, function* () { yield* server.stop(); stopped.set(!server.started); });
    const quiet = await wait();
    const waiter = spawn(() => wait(null, { timeout: 3600 }));
    await sleep(0);
    await waiter.kill();
    // A timeout armed does not keep the loop from being quiet (its own Node timer is no work).
    const quietBeforeTimeout = await wait(null, { timeout: 3600 });
    console.log(JSON.stringify([quiet, stopped.value, waiter.dead, quietBeforeTimeout]));`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20000 });
  t.is(r.status, 0, r.stderr);
  t.is(r.stderr, '');
  const [virtual, real] = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
  t.deepEqual(virtual, [true, 3 * 3600, true, true, 3 * 3600 + 60, false, 3 * 3600 + 65, true, 4 * 3600 + 60, ['1h', '2h', '3h', 'task'], true]);
  t.deepEqual(real, [true, true, true, true]);
});

test('Group: join(raiseError) in every shape, killone, joinall/killall/wait/iwait', async (t) => {
  await runVirtual(t, function* () {
    const group = new Group();
    const a = group.spawn(function* () { yield* sleep(1); return 'a'; });
    const b = group.spawn(function* () { yield* sleep(2); throw new Error('b failed'); });
    t.is(group.length, 2);
    t.false(group.full());
    t.is(((yield* settle(group.join(null, true))) as Error).message, 'b failed');
    t.true(a.dead && b.dead);
    t.is(group.length, 0);
    t.true(yield* group.join());
    // raise_error as a keyword, the way gevent programs pass it: both option shapes
    for (const join of [() => group.join({ raiseError: true }), () => group.join(5, { raiseError: true })]) {
      group.spawn(function* () { throw new Error('keyword'); });
      t.is(((yield* settle(join())) as Error).message, 'keyword');
    }
    const sleeper = group.spawn(function* () { yield* sleep(10); });
    t.false(yield* group.join({ timeout: 1 }));
    yield* group.killone(sleeper);
    t.throws(() => group.join(null, 5 as never), { instanceOf: TypeError, message: /\{ raiseError \}/ });
    const c = group.spawn(function* () { yield* sleep(10); });
    yield* group.killone(c);
    t.true(c.dead);
    const gs = [spawn(function* () { yield* sleep(3); }), spawn(function* () { yield* sleep(1); })];
    t.deepEqual(yield* wait(gs, { count: 1 }), [gs[1]]);
    t.is((yield* joinall(gs, { timeout: 0.5 })).length, 1);
    const failing = [spawn(function* () { yield* sleep(1); throw new Error('first'); }), spawn(function* () { yield* sleep(5); })];
    t.is(((yield* settle(joinall(failing, { raiseError: true }))) as Error).message, 'first');
    yield* killall(failing);
    t.true(failing[1]!.dead);
    const order: Greenlet<number>[] = [];
    const xs = [spawn(function* () { yield* sleep(2); return 2; }), spawn(function* () { yield* sleep(1); return 1; })];
    const it = iwait(xs);
    for (;;) { const r = yield* it.next(); if (r.done) break; order.push(r.value); }
    t.deepEqual(order, [xs[1], xs[0]]);
    const slow = spawn(function* () { yield* sleep(5); });
    const it2 = iwait([slow], { timeout: 1 });
    t.true((yield* it2.next()).done);
    yield* killall([slow], { block: false });
    yield* idle();
  }, { expectReports: true });
});


test('Group membership: a greenlet in two groups, add twice, discard, has; each group forgets it when it dies', async (t) => {
  await runVirtual(t, function* () {
    const one = new Group(), two = new Group();
    const g = spawn(function* () { yield* sleep(1); return 'g'; });
    const h = spawn(function* () { yield* sleep(2); return 'h'; });
    one.add(g);
    one.add(g); // already in: no second entry
    two.add(g);
    one.add(h);
    t.is(one.length, 2);
    t.is(two.length, 1);
    t.true(one.has(g) && two.has(g) && one.has(h));
    t.false(two.has(h));
    one.discard(h);
    t.false(one.has(h));
    t.deepEqual(one.greenlets(), [g]);
    one.add(h); // back in, into the slot it left
    t.deepEqual(new Set(one.greenlets()), new Set([g, h]));
    yield* g.join();
    yield* sleep(0); // links run as loop callbacks
    t.false(one.has(g) || two.has(g), 'dead: gone from both groups');
    t.is(two.length, 0);
    t.deepEqual(one.greenlets(), [h]);
    yield* h.join();
    yield* sleep(0);
    t.is(one.length, 0);
    one.add(g); // dead greenlets are not added
    t.is(one.length, 0);
  });
});
test('local(): per greenlet, at any depth and across await; unset attributes read undefined', async (t) => {
  const out: unknown[] = [];
  await runVirtual(t, function* () {
    const stash = local<{ x?: number; y?: number }>();
    const read = (): unknown => stash.x;
    const g1 = spawn(async () => { stash.x = 1; await sleep(1); out.push(read()); });
    const g2 = spawn(function* () { stash.y = 2; yield* sleep(1); out.push(stash.y); out.push(stash.x === undefined ? 'x is not local to f2' : 'leak'); out.push('x' in stash, Object.keys(stash)); });
    yield* joinall([g1, g2]);
    stash.x = 5;
    t.is(stash.x, 5, 'outside any greenlet there is one slot too');
    delete stash.x;
    t.is(stash.x, undefined);
  });
  t.deepEqual(out, [1, 2, 'x is not local to f2', false, ['y']]);
});

test('getcurrent() at any depth and after await; null outside a greenlet', async (t) => {
  await runVirtual(t, function* () {
    t.is(getcurrent(), null);
    const deep = (): Greenlet<unknown> | null => getcurrent();
    const g = spawn(async () => { const a = deep(); await sleep(1); return [a, deep()]; });
    const [a, b] = (yield* g) as Array<Greenlet<unknown> | null>;
    t.is(a, g as Greenlet<unknown>);
    t.is(b, g as Greenlet<unknown>);
  });
});

test('interop: tasks and greenlets wait on each other and share Tulip locks and queues', async (t) => {
  await runVirtual(t, function* () {
    const g = spawn(function* () { yield* sleep(1); return 'from greenlet'; });
    const task = createTask(async () => `task got ${await g}`);
    t.is(yield* task, 'task got from greenlet');
    const t2 = createTask(function* () { yield* tsleep(1); return 'from task'; }());
    t.is(yield* spawn(function* () { return yield* t2; }), 'from task');
    const q = new TQueue<string>();
    const consumer = spawn(function* () { return yield* q.get(); });
    createTask(function* () { yield* tsleep(1); q.putNowait('shared queue'); }());
    t.is(yield* consumer, 'shared queue');
    t.deepEqual(yield* gather(greenletToFuture(spawn(() => 1)), greenletToFuture(spawn(async () => 2))), [1, 2]);
    t.is(yield* futureToGreenlet(tsleep(1, 'wrapped')), 'wrapped');
    t.is(yield* futureToGreenlet(Promise.resolve('promise')), 'promise');
  });
});

test('cancelling a task that waits on a greenlet does not kill the greenlet; killing a joiner spares the joined', async (t) => {
  await runVirtual(t, function* () {
    const g = spawn(function* () { yield* sleep(2); return 'finished anyway'; });
    const waiter = createTask(function* () { return yield* g; }());
    yield* sleep(1);
    waiter.cancel();
    t.true((yield* settle(waiter)) instanceof CancelledError);
    t.false(g.dead);
    const joiner = spawn(async () => { await g; });
    yield* sleep(0);
    yield* joiner.kill();
    t.false(g.dead, 'killing the joiner does not kill the joined greenlet');
    t.is(yield* g, 'finished anyway');
  });
});

test('gevent locks: acquire(blocking, timeout), BoundedSemaphore, Lock, RLock; shared with a task', async (t) => {
  await runVirtual(t, function* ({ clock }) {
    const sem = new Semaphore(1);
    t.true(yield* sem.acquire());
    t.true(sem.locked());
    t.false(yield* sem.acquire(false));
    t.false(yield* sem.acquire(true, 1));
    // gevent's keywords, acquire(timeout=1) and acquire(blocking=False), as an options object;
    // anything else in blocking's place is refused (a truthy object would block without limit)
    const before = clock.now();
    t.false(yield* sem.acquire({ timeout: 1 }));
    t.false(yield* sem.acquire(true, { timeout: 1 }));
    t.is(clock.now() - before, 2);
    t.false(yield* sem.acquire({ blocking: false }));
    t.throws(() => sem.acquire('yes' as never), { instanceOf: TypeError, message: /\{ blocking, timeout \}/ });
    t.throws(() => sem.acquire(true, 'soon' as never), { instanceOf: TypeError });
    const waiter = spawn(function* () { return yield* sem.acquire(); });
    yield* sleep(0);
    sem.release();
    t.true(yield* waiter);
    sem.release();
    t.is(sem.counter, 1);
    t.is(yield* sem.wait(), 1);
    const bounded = new BoundedSemaphore(1);
    t.throws(() => bounded.release(), { instanceOf: RangeError });
    const lock = new Lock();
    t.throws(() => lock.release());
    const rlock = new RLock();
    const g = spawn(function* () {
      t.true(yield* rlock.acquire());
      t.true(yield* rlock.acquire());
      rlock.release();
      t.true(rlock.locked());
      rlock.release();
      return rlock.locked();
    });
    t.false(yield* g);
    t.throws(() => rlock.release());
    const holder = spawn(function* () { yield* rlock.acquire(); yield* sleep(10); rlock.release(); });
    yield* sleep(0);
    t.false(yield* rlock.acquire({ timeout: 1 }));
    yield* holder.kill();
    yield* lock.acquire();
    const taskSide = createTask(async () => { await lock.acquire(); lock.release(); return 'task got the gevent lock'; });
    yield* sleep(0);
    lock.release();
    t.is(yield* taskSide, 'task got the gevent lock');
  });
});

test('spawnLater, startLater, links and a Greenlet subclass overriding run()', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const later = spawnLater(2, () => loop.time());
    t.true(later.started);
    t.is(yield* later, 2);
    class Worker extends Greenlet<string> {
      constructor(private readonly who: string) { super(); }
      override *run(): Coroutine<string> { yield* sleep(1); return `hi ${this.who}`; }
    }
    const w = new Worker('there').start();
    w.link((g) => order.push(`link ${g.value}`));
    w.linkValue(() => order.push('value'));
    const dropped = () => order.push('never');
    w.linkException(dropped);
    w.link(dropped);
    w.unlink(dropped);
    t.is(yield* w, 'hi there');
    yield* sleep(0);
    w.link(() => order.push('late link'));
    w.linkException(() => order.push('never'));
    yield* sleep(0);
    const f = spawn(function* () { yield; throw new Error('x'); });
    f.linkException(() => order.push('exception link'));
    yield* f.join();
    yield* sleep(0);
    t.throws(() => new Greenlet().run(), { instanceOf: TypeError });
    const s = new Greenlet(() => 'started later').startLater(1);
    t.is(yield* s, 'started later');
  }, { expectReports: true });
  t.deepEqual(order, ['link hi there', 'value', 'late link', 'exception link']);
});

test('StreamServer hands each connection to a greenlet with a GreenSocket; createConnection; a socket used after close() raises EBADF', async (t) => {
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx.message));
  const seen: unknown[] = [];
  const got = await loop.runUntilComplete(function* (): Coroutine<string[]> {
    const server = new StreamServer(['127.0.0.1', 0], function* (sock: GreenSocket, address: AddressInfo): Coroutine<void> {
      // gevent's address of the peer, read on first use (while the connection is open)
      seen.push(address.port, address.address, address.family, JSON.parse(JSON.stringify(address)), inspect(address));
      for (;;) {
        const data = yield* sock.recv(1024);
        if (data.length === 0) break;
        yield* sock.sendall(data.toString().toUpperCase());
      }
      sock.shutdown();
    }, { spawn: new Pool(10) });
    yield* server.start();
    t.true(server.started);
    const port = server.address!.port;
    const c = yield* createConnection(['127.0.0.1', port], 5);
    t.is(yield* c.send('hello'), 5);
    const first = (yield* c.recv(5)).toString();
    t.is(c.getpeername()?.port, port);
    const mine = c.writer.getExtraInfo('sockname') as AddressInfo;
    t.deepEqual(seen.slice(0, 3), [mine.port, '127.0.0.1', 'IPv4'], 'the handler got the peer: this client');
    t.deepEqual(seen[3], { address: '127.0.0.1', family: 'IPv4', port: mine.port });
    t.is(seen[4], `{ address: '127.0.0.1', family: 'IPv4', port: ${mine.port} }`);
    c.shutdown();
    const rest = (yield* c.recv()).toString();
    c.close();
    c.close(); // twice is fine
    // Used after close(): EBADF at the call, as gevent's OSError(EBADF), not an EOF or a reset.
    const codes = [() => c.recv(1), () => c.send('x'), () => c.sendall('x'), () => c.shutdown(), () => c.getpeername()]
      .map((use) => { try { use(); return 'no error'; } catch (e) { return (e as NodeJS.ErrnoException).code; } });
    t.deepEqual(codes, ['EBADF', 'EBADF', 'EBADF', 'EBADF', 'EBADF']);
    yield* server.stop();
    return [first, rest];
  }());
  loop.close();
  t.deepEqual(got, ['HELLO', '']);
  t.deepEqual(reports, []);
});

test('GreenSocket timeouts, as gevent: createConnection(addr, s) keeps s for recv/send/sendall; a recv that times out loses no byte', async (t) => {
  const loop = new EventLoop(); // real sockets: a real clock (autoJump could jump while the connect is in flight)
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx.message));
  const got = await loop.runUntilComplete(function* (): Coroutine<unknown[]> {
    const speak = new Event();
    const ended = new Event();
    const server = new StreamServer(['127.0.0.1', 0], function* (sock: GreenSocket): Coroutine<void> {
      yield* speak.wait();
      yield* sock.sendall('late');
      yield* sock.recv(); // until the client closes
      ended.set();
    });
    yield* server.start();
    const c = yield* createConnection(['127.0.0.1', server.address!.port], 5);
    const kept = c.gettimeout();
    c.settimeout(0.05); // the server says nothing until told
    let timedOut: unknown = null;
    try { yield* c.recv(10); } catch (e) { timedOut = e; }
    speak.set();
    c.settimeout(null);
    const late = (yield* c.recv(10)).toString();
    const refused = [-1, NaN].map((s) => { try { c.settimeout(s); return 'accepted'; } catch (e) { return (e as Error).name; } });
    c.close();
    yield* ended.wait();
    server.close();
    return [kept, (timedOut as Error)?.name, late, c.gettimeout(), refused];
  }());
  loop.close();
  t.deepEqual(got, [5, 'TimeoutError', 'late', null, ['RangeError', 'TypeError']]);
  t.deepEqual(reports, []);
});

test('StreamServer.stop(): handlers go on without a pool; a pool gets stopTimeout, then its handlers are killed (gevent)', async (t) => {
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx.message));
  const events: string[] = [];
  let entered = loop.createFuture<void>();
  function* echoOnce(sock: GreenSocket): Coroutine<void> {
    entered.setResult();
    try {
      const data = yield* sock.recv();
      yield* sock.sendall(data.toString().toUpperCase());
      events.push('handler done');
    } catch (e) {
      events.push(`handler ${(e as Error).name}`);
      throw e;
    }
  }
  await loop.runUntilComplete(function* (): Coroutine<void> {
    const plain = new StreamServer(['127.0.0.1', 0], echoOnce);
    yield* plain.start();
    const port = plain.address!.port;
    const c = yield* createConnection(['127.0.0.1', port], 5);
    yield* entered;
    yield* plain.stop(); // closed the connection in flight as well: gevent lets it finish
    t.false(plain.started);
    const refused = yield* settle(createConnection(['127.0.0.1', port], 5));
    t.is((refused as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    yield* c.sendall('late');
    t.is((yield* c.recv()).toString(), 'LATE', 'the handler in flight still answers');
    c.close();
    const pooled = new StreamServer(['127.0.0.1', 0], echoOnce, { spawn: new Pool(4) });
    pooled.stopTimeout = 0.05;
    yield* pooled.start();
    entered = loop.createFuture<void>();
    const c2 = yield* createConnection(['127.0.0.1', pooled.address!.port], 5);
    yield* entered;
    yield* pooled.stop(); // the handler waits for data that never comes: killed after 0.05 s
    t.is((yield* c2.recv()).length, 0);
    c2.close();
  }());
  loop.close();
  t.deepEqual(events, ['handler done', 'handler GreenletExit']);
  t.deepEqual(reports, []);
});

test('a greenlet killed while its createConnection is pending leaves no connection open and nothing reported', async (t) => {
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(`${ctx.message}: ${String(ctx.exception)}`));
  await loop.runUntilComplete(function* (): Coroutine<void> {
    const server = new StreamServer(['127.0.0.1', 0], function* (sock: GreenSocket): Coroutine<void> {
      while ((yield* sock.recv()).length > 0) { /* until the client closes */ }
    }, { spawn: new Pool(10) }); // stop() waits for a pool's handlers
    yield* server.start();
    const port = server.address!.port;
    const g = spawn(function* (): Coroutine<unknown> { return yield* createConnection(['127.0.0.1', port], 5); });
    yield* sleep(0); // g is now waiting for the connection
    yield* g.kill();
    t.true(g.dead);
    // The connection attempt was stopped: wait until any server-side connection it made is gone.
    const stopped = server.stop();
    yield* stopped;
    t.is(stopped.exception(), null);
  }());
  loop.close();
  t.deepEqual(reports, []);
});

test('a greenlet killed in the turn its createConnection completes closes that connection', async (t) => {
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(`${ctx.message}: ${String(ctx.exception)}`));
  let serverSaw = '';
  await loop.runUntilComplete(function* (): Coroutine<void> {
    const ended = loop.createFuture<void>();
    const server = new StreamServer(['127.0.0.1', 0], function* (sock: GreenSocket): Coroutine<void> {
      const data = yield* sock.recv();
      serverSaw = data.length === 0 ? 'EOF' : data.toString();
      ended.setResult();
    });
    yield* server.start();
    const c = createConnection(['127.0.0.1', server.address!.port], 5);
    const g = spawn(function* (): Coroutine<unknown> { return yield* c; });
    c.addDoneCallback(() => { void g.kill(GreenletExit, { block: false }); });
    yield* ended; // the server's side sees the client's side closed
    server.close();
  }());
  loop.close();
  t.is(serverSaw, 'EOF');
  t.deepEqual(reports, []);
});

test.serial('signalHandler spawns a greenlet per delivery', async (t) => {
  const loop = new EventLoop(); // real clock: the signal arrives from outside the loop
  const ok = await loop.runUntilComplete(async () => {
    const ev = new Event();
    const h = signalHandler('SIGUSR2', (tag: string) => { if (tag === 'usr2') ev.set(); }, 'usr2');
    process.kill(process.pid, 'SIGUSR2');
    const got = await ev.wait(10);
    h.cancel();
    return got;
  });
  loop.close();
  t.true(ok);
});

test('a get() that need not wait returns at once, before the putter it frees runs; Pool.map raises in input order (gevent)', async (t) => {
  await runVirtual(t, function* () {
    const order: string[] = [];
    const q = new Queue<string>(1);
    yield* q.put('a');
    spawn(function* () { yield* sleep(1); order.push(`got ${yield* q.get()}`); });
    yield* q.put('b', { timeout: 5 });
    order.push(`put b returned, qsize ${q.qsize()}`);
    t.deepEqual(order, ['got a', 'put b returned, qsize 1'], 'gevent 22.10 prints this order');
    const pool = new Pool(3);
    const finished: number[] = [];
    function* f(x: number): Coroutine<number> {
      if (x === 1) { yield* sleep(1); throw new RangeError('item 1'); }
      yield* sleep(3);
      finished.push(x);
      return x;
    }
    const e = yield* settle(pool.map(f, [0, 1, 2]));
    t.true(e instanceof RangeError);
    t.true(finished.includes(0), 'raised once the results before the failed one were in, not at the failure');
    yield* pool.join();
  }, { expectReports: true }); // the failed greenlet is reported, as gevent prints it
});

test('a greenlet that kills itself: raised at once when blocking, at its next wait otherwise (gevent)', async (t) => {
  await runVirtual(t, function* () {
    const seen: string[] = [];
    const a = spawn(function* () {
      try { yield* getcurrent()!.kill(); seen.push('a went on'); } catch (e) { seen.push(`a raised ${e instanceof GreenletExit}`); throw e; }
    });
    const b = spawn(function* () {
      yield* getcurrent()!.kill(GreenletExit, { block: false });
      seen.push('b went on');
      yield* sleep(10);
      seen.push('b survived its sleep');
    });
    const c = spawn(async () => {
      try { await getcurrent()!.kill(); seen.push('c went on'); } catch (e) { seen.push(`c raised ${e instanceof GreenletExit}`); throw e; }
    });
    t.deepEqual(yield* joinall([a, b, c], { timeout: 1 }), [a, b, c], 'all three die at once (no hang)');
    t.deepEqual(seen, ['a raised true', 'b went on', 'c raised true']);
    t.true([a, b, c].every((g) => g.value instanceof GreenletExit && g.successful()));
    t.throws(() => new Timeout(Number.NaN), { instanceOf: TypeError });
    t.throws(() => new Group().add(5 as unknown as Greenlet<unknown>), { instanceOf: TypeError, message: /holds greenlets/ });
  });
});

test('a loop the program runs itself is never restarted by an await on a bridge future', async (t) => {
  const fx = makeLoop();
  let dangling: Promise<unknown> | null = null;
  const e = await fx.loop.runUntilComplete(function* () {
    // A body returned to nobody: its await on a greenlet sleep comes after main has failed.
    yield* sleep(0.5);
    dangling = (async () => { await sleep(1); return 'late'; })();
    throw new RangeError('main failed'); // in the same step: the await's then() comes after the loop stopped
  }()).catch((error: unknown) => error);
  t.true(e instanceof RangeError);
  t.false(fx.loop.isRunning(), 'the bridge did not start the loop again');
  t.truthy(dangling);
  t.is(await fx.loop.runUntilComplete(() => fromPromise(dangling!)), 'late', 'it completes when the program runs the loop');
  fx.loop.close();
});

test('a greenlet cancelled from the asyncio side (run()\'s shutdown) ends with the CancelledError, unreported; a failing one is still reported', async (t) => {
  const reports: string[] = [];
  let pending: Greenlet<unknown> | null = null;
  await trun(function* (): Coroutine<void> {
    getRunningLoop().setExceptionHandler((_l, ctx) => reports.push(ctx.message));
    pending = spawn(sleep, 3600); // left running: run() cancels it on the way out
    const failing = spawn(function* (): Coroutine<void> { throw new Error('boom'); });
    failing.name = 'failing';
    yield* failing.join();
  });
  t.deepEqual(reports, ['failing failed with Error']);
  t.true(pending!.dead);
  t.false(pending!.successful());
  t.true(pending!.exception instanceof CancelledError);
});

test('top level: joinall of spawned greenlets runs the default loop while awaited (child process)', (t) => {
  const code = `
    import { spawn, joinall, sleep } from './src/greenlet/index.ts';
    function* foo() { console.log('Running in foo'); yield* sleep(0); console.log('Explicit context switch to foo again'); }
    function* bar() { console.log('Explicit context to bar'); yield* sleep(0); console.log('Implicit context switch back to bar'); }
    await joinall([spawn(foo), spawn(bar)]);
    console.log(await spawn(() => 'and the process exits'));`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20000 });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['Running in foo', 'Explicit context to bar', 'Explicit context switch to foo again', 'Implicit context switch back to bar', 'and the process exits']);
});

test('top level: timeout.run(body) is gevent\'s `with Timeout` in the main greenlet; socket calls and idle() run the default loop while awaited (child process)', (t) => {
  const code = `
    import { Timeout, sleep, idle, StreamServer, createConnection } from './src/greenlet/index.ts';
    const out = [];
    try { await new Timeout(0.05).run(async () => { await sleep(5); }); out.push('no timeout'); } catch (e) { out.push(e instanceof Timeout ? 'Timeout' : String(e)); }
    try { await new Timeout(0.05).run(function* () { yield* sleep(5); }); out.push('no timeout'); } catch (e) { out.push(e instanceof Timeout ? 'Timeout' : String(e)); }
    out.push(String(await new Timeout(0.05, false).run(async () => { await sleep(5); return 'late'; })));
    out.push(await new Timeout(5).run(function* () { yield* sleep(0.01); return 'in time'; }));
    try { Timeout.startNew(1); } catch (e) { out.push(e.name); }
    // Socket calls and idle() at the top level run the default loop while awaited, as every
    // bridge call does (they returned Futures that waited for a loop nobody ran).
    const server = new StreamServer(['127.0.0.1', 0], function* (s) { yield* s.sendall(yield* s.recv(10)); });
    await server.start();
    const c = await createConnection(['127.0.0.1', server.address.port]);
    await c.sendall('ping');
    out.push(String(await c.recv(10)));
    await idle();
    c.close();
    await server.stop();
    console.log(out.join(','));`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20000 });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'Timeout,Timeout,undefined,in time,RuntimeError,ping');
});

test("gevent's positional keywords are refused with a TypeError naming the options shape (they would wait forever)", async (t) => {
  // `q.get(True, 1)` or `joinall(gs, 5)` ported as is: destructuring a boolean or a number finds
  // no timeout, so without the check these would block with no bound.
  await runVirtual(t, function* () {
    const calls: Array<[string, () => unknown]> = [
      ['get', () => new Queue().get(true as never)],
      ['put', () => new Queue(1).put(1, true as never)],
      ['peek', () => new Queue().peek(true as never)],
      ['get', () => new AsyncResult().get(true as never)],
      ['joinall', () => joinall([], 5 as never)],
      ['wait', () => wait([], 5 as never)],
      ['iwait', () => iwait([], 5 as never)],
      ['killall', () => killall([], null as never)],
    ];
    for (const [name, call] of calls) {
      t.throws(call, { instanceOf: TypeError, message: new RegExp(`^${name}\\(\\) takes its options as an object, \\{`) });
    }
    const g = spawn(function* () { yield* sleep(1); });
    t.throws(() => g.get(true as never), { instanceOf: TypeError });
    t.throws(() => g.kill(GreenletExit, 1 as never), { instanceOf: TypeError });
    t.throws(() => new Group().kill(GreenletExit, 1 as never), { instanceOf: TypeError });
    t.deepEqual(yield* joinall([g], { timeout: 0.5 }), [], 'the object form still works');
    yield* g.kill();
    // gevent checks the body at construction too
    t.throws(() => spawn(42 as never), { instanceOf: TypeError, message: /body must be a function, got number 42/ });
    t.throws(() => new Greenlet('run' as never), { instanceOf: TypeError });
  });
});

test('a greenlet killed or timed out in Condition.wait() gets its error holding the lock again, and leaves no wait behind', async (t) => {
  const events: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const cond = new TCondition();
    function* waiter(name: string): Coroutine<void> {
      yield* cond.acquire();
      try {
        yield* cond.wait();
      } catch (e) {
        events.push(`${name} ${(e as Error).name} locked=${cond.locked()}`); // was false: released before it was held
        throw e;
      } finally {
        cond.release(); // threw 'Lock is not acquired'
      }
    }
    const killed = spawn(waiter, 'killed');
    const timed = spawn(function* () { yield* new Timeout(5).run(() => waiter('timed')); });
    const asyncOne = spawn(async () => {
      await cond.acquire();
      try { await cond.waitFor(() => false); } catch (e) { events.push(`async ${(e as Error).name} locked=${cond.locked()}`); throw e; } finally { cond.release(); }
    });
    yield* tsleep(1);
    yield* cond.acquire(); // held while the kills land: each must wait for the lock before it raises
    void killed.kill(GreenletExit, { block: false });
    void asyncOne.kill(GreenletExit, { block: false });
    yield* tsleep(1);
    t.deepEqual(events, [], 'nobody raises while another holds the lock');
    cond.release();
    yield* joinall([killed, asyncOne]);
    yield* timed.join(); // its Timeout fires at 5 s, the lock free
    t.true(killed.successful() && asyncOne.successful(), 'GreenletExit, nothing else');
    t.true(timed.exception instanceof Timeout);
    t.false(cond.locked());
    t.deepEqual([...allTasks()].filter((x) => x.getName().startsWith('Condition.')).map((x) => x.getName()), [], 'no Condition.wait left waiting');
    t.is(loop.time(), 5);
  }, { expectReports: true }); // the timed greenlet failed with its Timeout, and says so
  t.deepEqual(events, ['killed GreenletExit locked=true', 'async GreenletExit locked=true', 'timed Timeout locked=true']);
});

test('a greenlet killed inside timeout(), taskGroup(), gather() or waitFor() resumes after what it waited on has unwound, as a cancelled task does', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    function* body(name: string): Coroutine<void> {
      try { yield* tsleep(5); } finally { yield* tsleep(1); order.push(`${loop.time()} ${name} unwound`); }
    }
    const scoped = spawn(function* () { try { yield* ttimeout(10, () => body('timeout body')); } finally { order.push(`${loop.time()} timeout greenlet resumed`); } });
    const grouped = spawn(function* () { try { yield* taskGroup(function* (tg) { tg.createTask(body('group child')); }); } finally { order.push(`${loop.time()} group greenlet resumed`); } });
    const gathered = spawn(function* () { try { yield* gather(createTask(body('gathered task'))); } finally { order.push(`${loop.time()} gather greenlet resumed`); } });
    const waited = spawn(function* () { try { yield* waitFor(body('waitFor body'), 10); } finally { order.push(`${loop.time()} waitFor greenlet resumed`); } });
    yield* tsleep(1);
    yield* killall([scoped, grouped, gathered, waited]); // the greenlets resumed at 1, their bodies still unwinding
    t.true(scoped.dead && grouped.dead && gathered.dead && waited.dead);
  });
  t.deepEqual(order, [
    '2 timeout body unwound', '2 group child unwound', '2 gathered task unwound', '2 waitFor body unwound',
    '2 waitFor greenlet resumed', '2 timeout greenlet resumed', '2 group greenlet resumed', '2 gather greenlet resumed',
  ]); // waitFor settles in its body's completion slot, the others a callback later
});
