// cf. CPython Lib/test/test_asyncio/test_tasks.py (behaviours re-derived, tests written fresh)
import test from 'ava';
import {
  createTask, currentTask, allTasks, sleep, CancelledError, RuntimeError, ensureFuture, fromPromise,
  Task, Lock, type Coroutine, type Future,
} from '../../src/index.js';
import { makeLoop, runVirtual } from '../helpers/run-virtual.js';

function* settle<T>(f: Future<T>): Coroutine<unknown> {
  try { return yield* f; } catch (e) { return e; }
}

test('a generator task returns its value; it starts in the next batch, not inline', async (t) => {
  const order: string[] = [];
  const v = await runVirtual(t, function* () {
    const task = createTask(function* () { order.push('task runs'); return 42; }(), { name: 'answer' });
    order.push('created');
    t.is(task.getName(), 'answer');
    task.setName('renamed');
    t.is(task.getName(), 'renamed');
    t.truthy(task.getCoro());
    t.regex(String(task), /pending name=renamed/);
    return yield* task;
  });
  t.is(v, 42);
  t.deepEqual(order, ['created', 'task runs']);
});

test('cancel() raises CancelledError at the exact wait; finally blocks run', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const task = createTask(function* () {
      try {
        order.push('before');
        yield* sleep(10);
        order.push('never');
      } finally {
        order.push(`finally at ${loop.time()}`);
      }
    }());
    yield* sleep(1);
    t.true(task.cancel('because'));
    t.is(task.cancelling(), 1);
    const e = yield* (function* () { try { yield* task; } catch (err) { return err as CancelledError; } })();
    t.true(e instanceof CancelledError);
    t.is(e!.message, 'because');
    t.true(task.cancelled());
    t.false(task.cancel());
    t.is(loop.scheduledTimers(), 0, 'the sleep timer was cancelled with the task');
  });
  t.deepEqual(order, ['before', 'finally at 1']);
});

test('a coroutine may catch CancelledError and go on; the task then finishes normally', async (t) => {
  const v = await runVirtual(t, function* () {
    const task = createTask(function* () {
      try { yield* sleep(10); } catch (e) { if (!(e instanceof CancelledError)) throw e; }
      yield* sleep(1);
      return 'survived';
    }());
    yield;
    task.cancel();
    const r = yield* task;
    t.is(task.uncancel(), 0);
    return r;
  });
  t.is(v, 'survived');
});

test('cancelling a task that waits on another task cancels that one', async (t) => {
  await runVirtual(t, function* () {
    const inner = createTask(function* () { yield* sleep(100); }());
    const outer = createTask(function* () { yield* inner; }());
    yield;
    yield;
    t.deepEqual(outer.getStack(), [inner, ...inner.getStack()]);
    outer.cancel();
    yield* sleep(0);
    yield* sleep(0);
    t.true(inner.cancelled());
    t.true(outer.cancelled());
  });
});

test('a task made from a Future awaits it: cancelling the task cancels the future', async (t) => {
  // createTask(lock.acquire()) cancelled must not leave the acquire queued: the lock would then
  // go to a waiter nobody holds, and stay locked for good.
  await runVirtual(t, function* () {
    const lock = new Lock();
    yield* lock.acquire();
    const acquiring = lock.acquire();
    const task = createTask(acquiring);
    t.not(task as Future<unknown>, acquiring as Future<unknown>);
    yield* sleep(0);
    task.cancel();
    const error = yield* settle(task);
    t.true(error instanceof CancelledError);
    t.true(acquiring.cancelled());
    lock.release();
    t.false(lock.locked(), 'the lock is free, not handed to the cancelled acquire');
    const done = createTask(sleep(0.5, 'v'));
    t.is(yield* done, 'v', 'a future that completes gives the task its result');
    // The same for a function that returns a Future (`() => lock.acquire()`).
    yield* lock.acquire();
    let made: Future<unknown> | null = null;
    const viaFn = createTask(() => (made = lock.acquire()));
    yield* sleep(0);
    viaFn.cancel();
    t.true((yield* settle(viaFn)) instanceof CancelledError);
    t.true(made!.cancelled(), 'the returned future was cancelled with the task');
    lock.release();
    t.false(lock.locked());
    t.is(yield* createTask(() => sleep(0.5, 'w')), 'w');
  });
});

test('cancel before the first step: the coroutine never runs', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* () {
    const task = createTask(function* () { order.push('ran'); }());
    task.cancel();
    yield* sleep(0);
    yield* sleep(0);
    t.true(task.cancelled());
    const asyncTask = createTask(async () => { order.push('async ran'); });
    asyncTask.cancel();
    yield* sleep(0);
    yield* sleep(0);
    t.true(asyncTask.cancelled());
  });
  t.deepEqual(order, []);
});

test('cancel while the task is scheduled (after its wait completed) still cancels it', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const f = loop.createFuture<void>();
    const task = createTask(function* () { yield* f; return 'done'; }());
    yield;
    f.setResult();
    task.cancel();
    const e = yield* (function* () { try { yield* task; } catch (err) { return err; } })();
    t.true(e instanceof CancelledError);
  });
});

test('an async-function task cancelled after its wait completed, before it resumed, raises at that await', async (t) => {
  const seen: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const f = loop.createFuture<string>();
    const task = createTask(async () => {
      try {
        seen.push(`got ${await f}`);
      } catch (e) { seen.push(`raised ${(e as Error).name}`); }
      await sleep(0); // asyncio: the cancel was delivered once, at the wait; this one completes
      return 'finished';
    });
    yield;
    f.setResult('value');
    task.cancel();
    t.is(yield* task, 'finished');
  });
  t.deepEqual(seen, ['raised CancelledError']);
});

test('cancel after the last wait, during a step, ends the task cancelled (asyncio rule)', async (t) => {
  await runVirtual(t, function* () {
    const task: Task<string> = createTask(function* (): Coroutine<string> { task.cancel(); return 'value'; }());
    yield* sleep(0);
    yield* sleep(0);
    t.true(task.cancelled());
  });
});

test('cancelling() counts requests and uncancel() takes them back', async (t) => {
  await runVirtual(t, function* () {
    const task = createTask(function* () {
      for (let i = 0; i < 2; i++) {
        try { yield* sleep(10); } catch (e) { if (!(e instanceof CancelledError)) throw e; }
      }
      return currentTask()!.cancelling();
    }());
    yield;
    task.cancel();
    task.cancel();
    t.is(task.cancelling(), 2);
    t.is(task.uncancel(), 1);
    t.is(yield* task, 1);
  });
});

test('a second cancel() while the first is delivered counts, but the first message arrives (asyncio)', async (t) => {
  await runVirtual(t, function* () {
    const seen: string[] = [];
    const task = createTask(function* () {
      try { yield* sleep(10); } catch (e) { seen.push((e as CancelledError).message); throw e; }
    }());
    yield;
    task.cancel('why');
    task.cancel('again');
    t.is(task.cancelling(), 2);
    const e = yield* settle(task);
    t.deepEqual(seen, ['why']);
    t.is((e as CancelledError).message, 'why');
    // An async-function task the same: one CancelledError, the first message; its next wait runs.
    const seenAsync: string[] = [];
    const asyncTask = createTask(async () => {
      try { await sleep(10); } catch (err) { seenAsync.push((err as CancelledError).message); }
      await sleep(0);
      return 'went on';
    });
    yield;
    asyncTask.cancel('why');
    asyncTask.cancel('again');
    t.is(yield* asyncTask, 'went on');
    t.deepEqual(seenAsync, ['why']);
  });
});

test('an exception in a task is its result; result() re-raises it', async (t) => {
  await runVirtual(t, function* () {
    const task = createTask(function* () { yield; throw new TypeError('typed'); }());
    const e = yield* (function* () { try { yield* task; } catch (err) { return err; } })();
    t.true(e instanceof TypeError);
    t.true(task.exception() instanceof TypeError);
  });
});

test('setResult and setException are refused on a task', async (t) => {
  await runVirtual(t, function* () {
    const task = createTask(function* () { yield; }());
    t.throws(() => task.setResult(undefined), { instanceOf: RuntimeError });
    t.throws(() => task.setException(new Error()), { instanceOf: RuntimeError });
    yield* task;
  });
});

test('a bad yield, or awaiting itself, raises RuntimeError inside the coroutine', async (t) => {
  await runVirtual(t, function* () {
    const bad = createTask(function* (): Coroutine<unknown> {
      try { yield 42 as any; } catch (e) { return e; }
      return null;
    }());
    t.true((yield* bad) instanceof RuntimeError);
    const self: Task<unknown> = createTask(function* (): Coroutine<unknown> {
      try { yield* self; } catch (e) { return e; }
      return null;
    }());
    t.true((yield* self) instanceof RuntimeError);
  });
});

test('currentTask() is the running task in generator steps and after awaits in async tasks', async (t) => {
  await runVirtual(t, function* () {
    const me = currentTask();
    t.truthy(me);
    const seen = yield* createTask(async () => {
      const a = currentTask();
      await sleep(1);
      const b = currentTask();
      await Promise.resolve();
      return [a, b, currentTask()];
    }, { name: 'async-one' });
    t.is(seen[0]!.getName(), 'async-one');
    t.is(seen[0], seen[1]);
    t.is(seen[1], seen[2]);
    t.is(currentTask(), me);
  });
  t.is(currentTask(), null);
});

test('a loop callback that an async task scheduled does not run as that task', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    let seen: unknown = 'not run';
    yield* createTask(async () => {
      await new Promise((resolve) => setImmediate(resolve)); // the loop idles; this wakes it
      loop.callSoon(() => { seen = currentTask(); });
    }, { name: 'waker' });
    yield* sleep(0);
    t.is(seen, null, 'the drive the task started must not carry its context');
  });
});

test('an async task is cancelled at its await on a Tulip future', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const task = createTask(async () => {
      try {
        await sleep(10);
        order.push('never');
      } catch (e) {
        order.push(`caught ${(e as Error).name} at ${loop.time()}`);
        throw e;
      }
    });
    yield* sleep(1);
    task.cancel();
    yield* sleep(0);
    yield* sleep(0);
    t.true(task.cancelled());
  });
  t.deepEqual(order, ['caught CancelledError at 1']);
});

test('an async task cancelled while awaiting a foreign promise gets it at its next Tulip wait', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* () {
    let release!: () => void;
    const foreign = new Promise<void>((r) => { release = r; });
    const task = createTask(async () => {
      await foreign;
      order.push('foreign done');
      try { await sleep(1); } catch (e) { order.push('cancelled at sleep'); throw e; }
    });
    yield* sleep(0);
    task.cancel();
    release();
    const e = yield* (function* () { try { yield* task; } catch (err) { return err; } })();
    t.true(e instanceof CancelledError);
  });
  t.deepEqual(order, ['foreign done', 'cancelled at sleep']);
});

test('an async task cancelled with no further waits still ends cancelled', async (t) => {
  await runVirtual(t, function* () {
    let release!: () => void;
    const foreign = new Promise<void>((r) => { release = r; });
    const task = createTask(async () => { await foreign; return 1; });
    yield* sleep(0);
    task.cancel();
    release();
    yield* fromPromise(foreign);
    yield* sleep(0);
    yield* sleep(0);
    t.true(task.cancelled());
  });
});

test('a task made from a running promise is cancelled at once (it cannot be tracked)', async (t) => {
  await runVirtual(t, function* () {
    let release!: (v: number) => void;
    const p = new Promise<number>((r) => { release = r; });
    const task = createTask(p);
    yield;
    t.true(task.cancel());
    t.true(task.cancelled());
    release(1);
    const ok = createTask(Promise.resolve(5));
    t.is(yield* ok, 5);
    const failing = createTask(Promise.reject(new Error('rejected')));
    const e = yield* (function* () { try { yield* failing; } catch (err) { return err; } })();
    t.is((e as Error).message, 'rejected');
  });
});

test('createTask accepts a plain function returning a generator or a value', async (t) => {
  await runVirtual(t, function* () {
    t.is(yield* createTask(() => (function* () { yield; return 'gen'; })()), 'gen');
    t.is(yield* createTask(() => 'plain' as any), 'plain');
    const thrower = createTask(() => { throw new Error('sync throw'); });
    const e = yield* (function* () { try { yield* thrower; } catch (err) { return err; } })();
    t.is((e as Error).message, 'sync throw');
  });
});

test('allTasks lists pending tasks; ensureFuture wraps coroutines and passes futures through', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const f = loop.createFuture<void>();
    t.is(ensureFuture(f), f);
    const task = ensureFuture(function* () { yield* f; }());
    t.true(task instanceof Task);
    t.true(allTasks().has(task as Task<unknown>));
    f.setResult();
    yield* task;
    t.false(allTasks(loop).has(task as Task<unknown>));
    // Tasks leave the set in any order: the middle one, then the newest, then the oldest.
    const gates = [loop.createFuture<void>(), loop.createFuture<void>(), loop.createFuture<void>()];
    const three = gates.map((g) => createTask(function* () { yield* g; }()));
    const live = (): number[] => three.map((x, i) => (allTasks(loop).has(x as Task<unknown>) ? i : -1)).filter((i) => i >= 0);
    t.deepEqual(live(), [0, 1, 2]);
    for (const [i, left] of [[1, [0, 2]], [2, [0]], [0, []]] as const) {
      gates[i]!.setResult();
      yield* three[i]!;
      t.deepEqual(live(), left);
    }
    t.is([...allTasks(loop)].filter((x) => (three as unknown[]).includes(x)).length, 0);
    t.throws(() => ensureFuture(42 as any), { instanceOf: TypeError });
    const other = makeLoop();
    t.throws(() => ensureFuture(f, other.loop), { instanceOf: RuntimeError });
    other.loop.close();
  });
});

test('scheduling order: tasks woken in one batch run in wake order, generator and async alike', async (t) => {
  const runs: string[][] = [];
  for (let round = 0; round < 3; round++) {
    const order: string[] = [];
    await runVirtual(t, function* ({ loop }) {
      const gate = loop.createFuture<void>();
      const kids: Future<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        if (i % 2 === 0) {
          kids.push(createTask(function* () { yield* gate; order.push(`gen${i}`); yield; order.push(`gen${i}'`); }()));
        } else {
          kids.push(createTask(async () => { await gate; order.push(`async${i}`); await null; order.push(`async${i}+`); await sleep(0); order.push(`async${i}'`); }));
        }
      }
      yield;
      gate.setResult();
      for (const k of kids) yield* k;
    });
    runs.push(order);
  }
  t.deepEqual(runs[0], ['gen0', 'async1', 'async1+', 'gen2', 'async3', 'async3+', "gen0'", "async1'", "gen2'", "async3'"]);
  t.deepEqual(runs[1], runs[0]);
  t.deepEqual(runs[2], runs[0]);
});

test('a task exception nobody retrieved is reported when collected', async (t) => {
  if (typeof globalThis.gc !== 'function') return t.fail('run with --expose-gc');
  const fx = makeLoop();
  const origins: unknown[] = [];
  const base = fx.loop.getExceptionHandler()!;
  fx.loop.setExceptionHandler((loop, context) => { origins.push(context.origin); base(loop, context); });
  await fx.loop.runUntilComplete(function* () {
    createTask(function* () { throw new Error('orphan'); }(), { name: 'orphan-maker' });
    yield;
    yield;
  }());
  for (let i = 0; i < 200 && fx.reports.length === 0; i++) { // collection is a real event: bounded, not counted on
    globalThis.gc!();
    await new Promise((r) => setImmediate(r));
  }
  t.deepEqual(fx.reports, ['Task exception was never retrieved: orphan']);
  t.deepEqual(origins, ['task orphan-maker'], 'the report names the task, which is gone');
  fx.loop.close();
});

test('loop events report task creation and completion', async (t) => {
  const fx = makeLoop();
  const seen: string[] = [];
  fx.loop.events.on('taskCreated', (task) => seen.push(`+${task.getName()}`));
  fx.loop.events.on('taskDone', (task) => seen.push(`-${task.getName()}`));
  await fx.loop.runUntilComplete(fx.loop.createTask(function* () { yield; }(), { name: 'x' }));
  t.deepEqual(seen, ['+x', '-x']);
  fx.loop.close();
});
