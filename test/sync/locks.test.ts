// cf. CPython Lib/test/test_asyncio/test_locks.py (behaviours re-derived, tests written fresh)
import test, { type ExecutionContext } from 'ava';
import {
  Lock, Semaphore, BoundedSemaphore, Event, Condition, Barrier, BrokenBarrierError, RuntimeError,
  CancelledError, createTask, sleep, gather, waitFor, TimeoutError, type Coroutine, type Future,
} from '../../src/index.js';
import { runVirtual } from '../helpers/run-virtual.js';

interface LockLike { acquire(): Future<true>; release(): void; locked(): boolean; hold(): Future<{ release(): void } & Disposable> }
const kinds: Array<[string, () => LockLike]> = [['Lock', () => new Lock()], ['Semaphore(1)', () => new Semaphore(1)]];

function* settle<T>(f: Future<T>): Coroutine<unknown> {
  try { return yield* f; } catch (e) { return e; }
}

for (const [kind, make] of kinds) {
  test(`${kind}: release() hands over to the oldest waiter; a barging acquire() waits its turn`, async (t: ExecutionContext) => {
    const order: string[] = [];
    await runVirtual(t, function* () {
      const lock = make();
      yield* lock.acquire();
      const waiter = (name: string) => createTask(function* () { yield* lock.acquire(); order.push(name); yield; lock.release(); }());
      const a = waiter('a'), b = waiter('b');
      yield;
      lock.release();
      yield* lock.acquire(); // the releaser tries to barge in
      order.push('main');
      lock.release();
      yield* gather(a, b);
      t.false(lock.locked());
    });
    t.deepEqual(order, ['a', 'b', 'main']);
  });

  test(`${kind}: a waiter cancelled as it is woken passes the grant on, nobody is left holding it`, async (t) => {
    const order: string[] = [];
    await runVirtual(t, function* () {
      const lock = make();
      yield* lock.acquire();
      const a = createTask(function* () { yield* lock.acquire(); order.push('a'); lock.release(); }());
      const b = createTask(function* () { yield* lock.acquire(); order.push('b'); lock.release(); }());
      yield;
      lock.release(); // granted to a ...
      a.cancel();     // ... which is cancelled before it resumes
      t.true((yield* settle(a)) instanceof CancelledError);
      yield* b;
      t.false(lock.locked());
    });
    t.deepEqual(order, ['b']);
  });

  test(`${kind}: an async-function waiter cancelled as it is woken raises at its await and passes the grant on`, async (t) => {
    const order: string[] = [];
    await runVirtual(t, function* () {
      const lock = make();
      yield* lock.acquire();
      const a = createTask(async () => {
        try { await lock.acquire(); } catch (e) { order.push(`a: ${(e as Error).name}`); throw e; }
        order.push('a acquired');
        lock.release();
      });
      const b = createTask(async () => { await lock.acquire(); order.push('b acquired'); lock.release(); });
      yield;
      lock.release(); // granted to a ...
      a.cancel();     // ... which is cancelled before its continuation runs
      t.true((yield* settle(a)) instanceof CancelledError);
      yield* b;
      t.false(lock.locked());
    });
    t.deepEqual(order, ['a: CancelledError', 'b acquired']);
  });

  test(`${kind}: a cancelled pending waiter leaves no trace; waitFor on acquire times out cleanly`, async (t) => {
    await runVirtual(t, function* ({ loop }) {
      const lock = make();
      yield* lock.acquire();
      const e = yield* settle(waitFor(lock.acquire(), 1));
      t.true(e instanceof TimeoutError);
      t.is(loop.scheduledTimers(), 0);
      lock.release();
      t.false(lock.locked(), 'the timed-out waiter did not take the lock');
    });
  });

  test(`${kind}: hold() with using releases at the end of the block, in generators and async functions`, async (t) => {
    await runVirtual(t, function* () {
      const lock = make();
      {
        using _held = yield* lock.hold();
        t.true(lock.locked());
      }
      t.false(lock.locked());
      yield* lock.acquire();
      const waiting = createTask(async () => {
        using h = await lock.hold();
        t.true(lock.locked());
        h.release();
        h.release(); // idempotent
        return 'async held';
      });
      yield;
      lock.release();
      t.is(yield* waiting, 'async held');
      t.false(lock.locked());
    });
  });
}

test('Lock.release() of an unlocked lock throws RuntimeError', (t) => {
  const lock = new Lock();
  t.throws(() => lock.release(), { instanceOf: RuntimeError });
  t.regex(String(lock), /unlocked/);
});

test('Semaphore counts units; BoundedSemaphore refuses release past its bound', async (t) => {
  await runVirtual(t, function* () {
    const sem = new Semaphore(2);
    yield* sem.acquire();
    t.false(sem.locked());
    yield* sem.acquire();
    t.true(sem.locked());
    t.is(sem.value, 0);
    sem.release();
    sem.release();
    sem.release();
    t.is(sem.value, 3, 'a plain Semaphore may go past its start');
    const bounded = new BoundedSemaphore(1);
    t.throws(() => bounded.release(), { instanceOf: RangeError });
    yield* bounded.acquire();
    bounded.release();
    t.throws(() => bounded.release(), { instanceOf: RangeError });
    t.throws(() => new Semaphore(-1), { instanceOf: RangeError });
    t.regex(String(bounded), /BoundedSemaphore/);
  });
});

test('Event: wait() blocks until set(); clear() makes it wait again; cancelled waiters leave', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const ev = new Event();
    const w1 = createTask(function* () { yield* ev.wait(); order.push(`w1 ${loop.time()}`); }());
    const w2 = createTask(function* () { yield* ev.wait(); order.push('never'); }());
    yield;
    w2.cancel();
    yield* sleep(1);
    ev.set();
    ev.set();
    t.true(ev.isSet());
    yield* w1;
    t.true((yield* ev.wait()) === true);
    ev.clear();
    t.false(ev.isSet());
    t.regex(String(ev), /unset/);
  });
  t.deepEqual(order, ['w1 1']);
});

test('Condition: notify(n) wakes n waiters in order; each returns holding the lock', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* () {
    const cond = new Condition();
    const waiter = (name: string) => createTask(function* () {
      yield* cond.acquire();
      try {
        yield* cond.wait();
        t.true(cond.locked());
        order.push(name);
      } finally { cond.release(); }
    }());
    const ws = [waiter('a'), waiter('b'), waiter('c')];
    yield* sleep(0);
    yield* sleep(0);
    yield* cond.acquire();
    cond.notify(2);
    cond.release();
    yield* sleep(1);
    t.deepEqual(order, ['a', 'b']);
    yield* cond.acquire();
    cond.notifyAll();
    cond.release();
    yield* gather(...ws);
  });
  t.deepEqual(order, ['a', 'b', 'c']);
});

test('Condition.wait() cancelled reacquires the lock, then raises CancelledError', async (t) => {
  await runVirtual(t, function* () {
    const cond = new Condition(new Lock());
    let heldWhenCancelled = false;
    const w = createTask(function* () {
      yield* cond.acquire();
      try { yield* cond.wait(); } catch (e) { heldWhenCancelled = cond.locked(); cond.release(); throw e; }
    }());
    yield* sleep(0);
    yield* sleep(0);
    yield* cond.acquire(); // main holds the lock while the waiter is cancelled
    w.cancel();
    yield* sleep(1);
    t.false(w.done(), 'the cancelled waiter waits to reacquire');
    cond.release();
    t.true((yield* settle(w)) instanceof CancelledError);
    t.true(heldWhenCancelled);
    t.false(cond.locked());
  });
});

test('Condition.wait() cancelled in the very turn it was called still returns holding the lock', async (t) => {
  // wait() releases the lock at once and finishes in a helper task; a cancel that reaches that
  // task before its first step used to end it there, without reacquiring: the caller's finally
  // then released a lock it did not hold (RuntimeError) and the lock was free under it.
  await runVirtual(t, function* () {
    const cond = new Condition(new Lock());
    const seen: string[] = [];
    const w = createTask(function* () {
      yield* cond.acquire();
      try {
        yield* cond.wait();
      } catch (e) {
        seen.push(`raised ${(e as Error).name} holding=${cond.locked()}`);
        throw e;
      } finally {
        cond.release();
      }
    }());
    yield* sleep(0); // w runs up to wait(); its helper task has not started yet
    w.cancel();
    t.true((yield* settle(w)) instanceof CancelledError);
    t.deepEqual(seen, ['raised CancelledError holding=true']);
    t.false(cond.locked());
  });
});

/** Waits on `cond` once, then records `name`. */
function* waitThenLog(cond: Condition, order: string[], name: string): Coroutine<void> {
  yield* cond.acquire();
  try { yield* cond.wait(); order.push(name); } finally { cond.release(); }
}

test('Condition: notifyAll() wakes waiters to reacquire in notify order, also one whose wait began in that turn', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const cond = new Condition();
    const a = createTask(waitThenLog(cond, order, 'a'));
    const b = createTask(waitThenLog(cond, order, 'b'));
    yield* sleep(0);
    yield* sleep(0); // a and b are parked in wait()
    const c = createTask(function* () {
      yield* cond.acquire();
      // Runs before c's wait() takes its first step: notifies all three in the same turn.
      loop.callSoon(() => { void cond.acquire(); cond.notifyAll(); cond.release(); });
      try { yield* cond.wait(); order.push('c'); } finally { cond.release(); }
    }());
    yield* gather(a, b, c);
  });
  t.deepEqual(order, ['a', 'b', 'c']);
});

for (const [when, whileReacquiring, parked] of [
  ['before its wait started', false, false],
  ['before it resumes', false, true],
  ['while it reacquires the lock (Python 3.13)', true, true],
] as const) {
  test(`Condition: a notified waiter cancelled ${when} passes the notification on`, async (t) => {
    const order: string[] = [];
    await runVirtual(t, function* () {
      const cond = new Condition();
      const waiter = (name: string) => createTask(waitThenLog(cond, order, name));
      const a = waiter('a'), b = waiter('b');
      yield* sleep(0); // a and b called wait(): both are queued, their helper tasks not started
      if (parked) yield* sleep(0); // a's wait has started: it is parked on its notification
      yield* cond.acquire();
      cond.notify(1);
      if (whileReacquiring) yield* sleep(0); // a has its notification and waits for the lock this task holds
      a.cancel();
      if (whileReacquiring) yield* sleep(0);
      cond.release();
      t.true((yield* settle(a)) instanceof CancelledError);
      t.is(yield* waitFor(b, 1), undefined); // b got a's notification (3.11 lost it while reacquiring)
      t.false(cond.locked());
    });
    t.deepEqual(order, ['b']);
  });
}

test('Condition: waitFor(predicate) and the un-acquired lock errors', async (t) => {
  await runVirtual(t, function* () {
    const cond = new Condition();
    t.throws(() => new Condition({} as unknown as Lock), { instanceOf: TypeError, message: /needs a Lock/ });
    let value = 0;
    t.throws(() => cond.wait(), { instanceOf: RuntimeError });
    t.throws(() => cond.notify(), { instanceOf: RuntimeError });
    const w = createTask(function* () {
      yield* cond.acquire();
      try { return yield* cond.waitFor(() => value >= 2 && value); } finally { cond.release(); }
    }());
    for (let i = 0; i < 2; i++) {
      yield* sleep(1);
      {
        using _h = yield* cond.hold();
        value++;
        cond.notifyAll();
      }
    }
    t.is(yield* w, 2);
    t.regex(String(cond), /Condition/);
  });
});

test('Barrier: parties meet, each gets its index; the barrier cycles', async (t) => {
  await runVirtual(t, function* () {
    const barrier = new Barrier(3);
    t.is(barrier.parties, 3);
    const arrive = () => createTask(function* () { return yield* barrier.wait(); }());
    const a = arrive(), b = arrive();
    yield;
    t.is(barrier.nWaiting, 2);
    const c = yield* barrier.wait();
    t.deepEqual([yield* a, yield* b, c], [0, 1, 2]);
    t.is(barrier.nWaiting, 0);
    const again = [arrive(), arrive(), arrive()];
    t.deepEqual((yield* gather(...again)).sort(), [0, 1, 2]);
    t.throws(() => new Barrier(0), { instanceOf: RangeError });
  });
});

test('Barrier: a cancelled waiter leaves; those that pass get each index once (asyncio can repeat one)', async (t) => {
  await runVirtual(t, function* () {
    const barrier = new Barrier(3);
    const arrive = () => createTask(function* () { return yield* barrier.wait(); }());
    const a = arrive(), b = arrive();
    yield;
    a.cancel();
    yield;
    t.is(barrier.nWaiting, 1);
    const c = arrive(), d = arrive();
    t.deepEqual((yield* gather(b, c, d)).sort(), [0, 1, 2]);
    t.true(a.cancelled());
  });
});

test('Barrier: reset() and abort() raise BrokenBarrierError in waiters', async (t) => {
  await runVirtual(t, function* () {
    const barrier = new Barrier(3);
    const w = createTask(function* () { return yield* barrier.wait(); }());
    yield;
    yield* barrier.reset();
    t.true((yield* settle(w)) instanceof BrokenBarrierError);
    t.false(barrier.broken);
    const w2 = createTask(function* () { return yield* barrier.wait(); }());
    yield;
    yield* barrier.abort();
    t.true(barrier.broken);
    t.true((yield* settle(w2)) instanceof BrokenBarrierError);
    t.true((yield* settle(barrier.wait())) instanceof BrokenBarrierError);
    t.regex(String(barrier), /broken/);
    yield* barrier.reset();
    t.false(barrier.broken);
    const w3 = createTask(function* () { return yield* barrier.wait(); }());
    yield;
    w3.cancel();
    yield* settle(w3);
    t.is(barrier.nWaiting, 0, 'a cancelled waiter leaves the barrier');
  });
});
