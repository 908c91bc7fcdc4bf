// cf. CPython Lib/test/test_asyncio/test_queues.py (behaviours re-derived, tests written fresh)
import test from 'ava';
import {
  Queue, PriorityQueue, LifoQueue, QueueEmpty, QueueFull, QueueShutDown, CancelledError, createTask, sleep,
  gather, waitFor, TimeoutError, type Coroutine, type Future,
} from '../../src/index.js';
import { runVirtual } from '../helpers/run-virtual.js';

function* settle<T>(f: Future<T>): Coroutine<unknown> {
  try { return yield* f; } catch (e) { return e; }
}

test('FIFO order; getNowait on empty and putNowait on full throw typed errors', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<number>(2);
    t.true(q.empty());
    q.putNowait(1);
    yield* q.put(2);
    t.true(q.full());
    t.is(q.qsize(), 2);
    t.throws(() => q.putNowait(3), { instanceOf: QueueFull });
    t.is(yield* q.get(), 1);
    t.is(q.getNowait(), 2);
    t.throws(() => q.getNowait(), { instanceOf: QueueEmpty });
    t.false(new Queue().full(), 'maxsize 0 is unbounded');
    t.throws(() => new Queue('x' as any), { instanceOf: TypeError });
    t.regex(String(q), /maxsize=2 qsize=0/);
  });
});

test('getters are served in FIFO order and a later get() cannot barge', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* () {
    const q = new Queue<string>();
    const getter = (name: string) => createTask(function* () { order.push(`${name}:${yield* q.get()}`); }());
    const a = getter('a'), b = getter('b');
    yield;
    q.putNowait('x');
    const barger = q.get(); // the item went to a already
    q.putNowait('y');
    yield* gather(a, b);
    t.false(barger.done());
    q.putNowait('z');
    order.push(`barger:${yield* barger}`);
  });
  t.deepEqual(order, ['a:x', 'b:y', 'barger:z']);
});

test('put() waits on a full queue; putters enter in FIFO order as slots free', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const q = new Queue<number>(1);
    q.putNowait(0);
    const p1 = createTask(function* () { yield* q.put(1); return loop.time(); }());
    const p2 = createTask(function* () { yield* q.put(2); return loop.time(); }());
    yield* sleep(1);
    t.is(q.getNowait(), 0);
    yield* sleep(1);
    t.is(yield* q.get(), 1);
    t.is(yield* q.get(), 2);
    t.deepEqual([yield* p1, yield* p2], [1, 2]);
  });
});

test('a cancelled put on a full queue does not insert its item', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<string>(1);
    q.putNowait('kept');
    const e = yield* settle(waitFor(q.put('dropped'), 1));
    t.true(e instanceof TimeoutError);
    t.is(q.getNowait(), 'kept');
    t.true(q.empty());
    const p = createTask(function* () { yield* q.put('x'); }());
    q.putNowait('fill');
    yield;
    t.is(q.getNowait(), 'fill'); // admits p's item ...
    p.cancel();                 // ... but p is cancelled before it resumes
    t.true((yield* settle(p)) instanceof CancelledError);
    t.true(q.empty(), 'the abandoned put was taken back');
  });
});

test('a getter cancelled as it is woken gives the item back: nothing is lost', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<string>();
    const a = createTask(function* () { return yield* q.get(); }());
    const b = createTask(function* () { return yield* q.get(); }());
    yield;
    q.putNowait('one');
    a.cancel();
    t.true((yield* settle(a)) instanceof CancelledError);
    t.is(yield* b, 'one', 'the item went on to the next getter');
    const c = createTask(function* () { return yield* q.get(); }());
    yield;
    q.putNowait('two');
    c.cancel();
    yield* settle(c);
    t.is(q.getNowait(), 'two', 'with no other getter the item returns to the queue');
    q.taskDone(); q.taskDone();
    t.true((yield* q.join()) === true);
  });
});

test('join() waits for taskDone() of every item; too many taskDone() throws', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const q = new Queue<number>();
    t.throws(() => q.taskDone(), { instanceOf: RangeError });
    for (let i = 0; i < 3; i++) q.putNowait(i);
    const worker = createTask(function* () {
      for (;;) {
        const item = yield* q.get();
        yield* sleep(1);
        order.push(`done ${item}`);
        q.taskDone();
      }
    }());
    yield* q.join();
    order.push(`joined at ${loop.time()}`);
    worker.cancel();
    yield* settle(worker);
  });
  t.deepEqual(order, ['done 0', 'done 1', 'done 2', 'joined at 3']);
});

test('shutdown(): puts fail, waiting getters fail, queued items can still be got', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const putter = createTask(function* () { yield* q.put(2); }());
    yield;
    q.shutdown();
    t.true((yield* settle(putter)) instanceof QueueShutDown);
    t.throws(() => q.putNowait(3), { instanceOf: QueueShutDown });
    t.true((yield* settle(q.put(3))) instanceof QueueShutDown);
    t.is(yield* q.get(), 1);
    t.throws(() => q.getNowait(), { instanceOf: QueueShutDown });
    t.true((yield* settle(q.get())) instanceof QueueShutDown);
    const q2 = new Queue<number>();
    const getter = createTask(function* () { return yield* q2.get(); }());
    yield;
    q2.shutdown();
    t.true((yield* settle(getter)) instanceof QueueShutDown);
    t.regex(String(q2), /shutdown/);
  });
});

test('shutdown(true) drops queued items and releases join()', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    const joiner = createTask(function* () { return yield* q.join(); }());
    yield;
    q.shutdown(true);
    t.true(q.empty());
    t.true(yield* joiner);
  });
});

test('PriorityQueue gives the smallest first (tuple-like order); LifoQueue the newest', async (t) => {
  await runVirtual(t, function* () {
    const pq = new PriorityQueue<[number, string]>();
    for (const x of [[3, 'c'], [1, 'a'], [2, 'b'], [1, 'aa'], [5, 'e'], [4, 'd']] as Array<[number, string]>) pq.putNowait(x);
    const got: string[] = [];
    while (!pq.empty()) got.push((yield* pq.get())[1]);
    t.deepEqual(got, ['a', 'aa', 'b', 'c', 'd', 'e']);
    const lifo = new LifoQueue<number>();
    [1, 2, 3].forEach((x) => lifo.putNowait(x));
    t.deepEqual([lifo.getNowait(), lifo.getNowait(), lifo.getNowait()], [3, 2, 1]);
    const custom = new PriorityQueue<number>(0, (a, b) => b - a);
    [1, 3, 2].forEach((x) => custom.putNowait(x));
    t.is(custom.getNowait(), 3);
  });
});

test('an async-function getter or putter cancelled as woken: the item goes back, the put does not happen', async (t) => {
  await runVirtual(t, function* () {
    const q = new Queue<number>(1);
    const g = createTask(async () => q.get());
    yield;
    q.putNowait(7); // handed to g ...
    g.cancel();     // ... cancelled before its continuation runs
    t.true((yield* settle(g)) instanceof CancelledError);
    t.is(q.getNowait(), 7, 'the item is back in the queue');
    q.putNowait(1);
    const p = createTask(async () => { await q.put(2); });
    yield;
    q.getNowait(); // admits p's item ...
    p.cancel();    // ... but p is cancelled before it resumes
    t.true((yield* settle(p)) instanceof CancelledError);
    t.true(q.empty(), 'the cancelled put did not insert');
  });
});

test('a getter cancelled as woken gives back to PriorityQueue and LifoQueue too; putter take-back works', async (t) => {
  await runVirtual(t, function* () {
    for (const q of [new PriorityQueue<number>(1), new LifoQueue<number>(1)]) {
      const g = createTask(function* () { return yield* q.get(); }());
      yield;
      q.putNowait(7);
      g.cancel();
      yield* settle(g);
      t.is(q.getNowait(), 7);
      q.putNowait(1);
      const p = createTask(function* () { yield* q.put(2); }());
      yield;
      q.getNowait();
      p.cancel();
      yield* settle(p);
      t.true(q.empty());
    }
  });
});
