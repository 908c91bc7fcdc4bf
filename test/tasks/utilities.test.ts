// cf. CPython test_tasks.py (wait, gather, shield, as_completed), test_waitfor.py,
// test_timeouts.py, test_taskgroups.py — behaviours re-derived, tests written fresh.
import test from 'ava';
import { spawn } from 'node:child_process';
import {
  sleep, wait, waitFor, timeout, timeoutAt, gather, shield, asCompleted, taskGroup, toThread, run, createTask,
  CancelledError, TimeoutError, RuntimeError, InvalidStateError, KeyboardInterrupt, FIRST_COMPLETED, FIRST_EXCEPTION,
  ALL_COMPLETED, isCancellation, type Coroutine, type Future, type TaskGroup,
} from '../../src/index.js';
import { runVirtual } from '../helpers/run-virtual.js';
import { runModule } from '../helpers/child.js';

function* catching<T>(body: Coroutine<T>): Coroutine<unknown> {
  try { return yield* body; } catch (e) { return e; }
}
function* settle<T>(f: Future<T>): Coroutine<unknown> {
  try { return yield* f; } catch (e) { return e; }
}

test('sleep resolves to its result after the delay; sleep(0) and negative delays yield once', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    t.is(yield* sleep(1.5, 'r'), 'r');
    t.is(loop.time(), 1.5);
    t.is(yield* sleep(0, 'z'), 'z');
    yield* sleep(-1);
    t.is(loop.time(), 1.5);
    t.throws(() => sleep(NaN), { instanceOf: TypeError });
    const s = sleep(5);
    t.true(s.cancel());
    t.false(s.cancel());
    t.is(loop.scheduledTimers(), 0);
  });
});

test('wait: ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION and timeout split done/pending', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const a = createTask(function* () { yield* sleep(1); return 'a'; }());
    const b = createTask(function* () { yield* sleep(2); throw new Error('b'); }());
    const c = createTask(function* () { yield* sleep(3); return 'c'; }());
    let [done, pending] = yield* wait([a, b, c], { returnWhen: FIRST_COMPLETED });
    t.deepEqual([[...done], [...pending].length, loop.time()], [[a], 2, 1]);
    [done, pending] = yield* wait([a, b, c], { returnWhen: FIRST_EXCEPTION });
    t.deepEqual([done.size, loop.time()], [2, 2]);
    [done, pending] = yield* wait([c], { timeout: 0.5 });
    t.deepEqual([done.size, pending.size, loop.time()], [0, 1, 2.5]);
    [done, pending] = yield* wait([a, b, c], { returnWhen: ALL_COMPLETED });
    t.deepEqual([done.size, pending.size, loop.time()], [3, 0, 3]);
    [done] = yield* wait([a, b], { returnWhen: FIRST_EXCEPTION }); // already failed: at once
    t.is(done.size, 2);
    t.throws(() => wait([]), { instanceOf: RangeError });
    t.throws(() => wait([a], { returnWhen: 'NEVER' as any }), { instanceOf: RangeError });
    const d = createTask(function* () { yield* sleep(10); }());
    const w = wait([d]);
    yield;
    w.cancel();
    yield* sleep(0);
    t.false(d.done(), 'cancelling wait() does not cancel what it waits on');
    d.cancel();
    yield* settle(d);
  });
});

test('wait and asCompleted refuse a positional timeout with a TypeError (it would be ignored)', async (t) => {
  await runVirtual(t, function* () {
    const s = sleep(0);
    t.throws(() => wait([s], 5 as never), { instanceOf: TypeError, message: /^wait\(\) takes its options as an object, \{ timeout, returnWhen \}; got number 5/ });
    t.throws(() => asCompleted([s], 5 as never), { instanceOf: TypeError, message: /^asCompleted\(\) takes/ });
    yield* s;
  });
});

test('waitFor returns the result in time, else cancels the inner task and raises TimeoutError', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    t.is(yield* waitFor(sleep(1, 'fast'), 2), 'fast');
    t.is(yield* waitFor(sleep(1, 'no limit'), null), 'no limit');
    const slow = createTask(function* () {
      try { yield* sleep(10); } finally { order.push(`inner unwound at ${loop.time()}`); }
    }());
    const e = yield* settle(waitFor(slow, 1));
    t.true(e instanceof TimeoutError);
    t.true((e as Error).cause instanceof CancelledError);
    t.deepEqual(((e as Error).cause as CancelledError).reason, { kind: 'timeout', deadline: 3 });
    t.true(slow.cancelled());
    const zero = yield* settle(waitFor(sleep(1), 0));
    t.true(zero instanceof TimeoutError);
    const ready = createTask(function* () { return 'ready'; }());
    yield* sleep(0);
    yield* sleep(0);
    t.is(yield* waitFor(ready, 0), 'ready');
    const done = sleep(0);
    yield* done;
    t.throws(() => waitFor(done, 'x' as any), { instanceOf: TypeError });
  });
  t.deepEqual(order, ['inner unwound at 3']);
});

test('waitFor wakes its task in the turn after the inner future completes, as a direct wait does', async (t) => {
  // asyncio's wait_for (an in-task timeout since 3.12) adds no turn of its own: a task waiting
  // through waitFor and one waiting directly, woken in that order, resume in that order.
  const order = await runVirtual(t, function* ({ loop }) {
    const f = loop.createFuture<string>();
    const g = loop.createFuture<string>();
    const log: string[] = [];
    const a = createTask(function* () { log.push(yield* waitFor(f, 10)); }());
    const b = createTask(function* () { log.push(yield* g); }());
    yield;
    loop.callSoon(() => { f.setResult('through waitFor'); g.setResult('direct'); });
    yield* gather(a, b);
    return log;
  });
  t.deepEqual(order, ['through waitFor', 'direct']);
});

test('waitFor cancelled from outside raises CancelledError, not TimeoutError', async (t) => {
  await runVirtual(t, function* () {
    const inner = createTask(function* () { yield* sleep(10); }());
    const w = waitFor(inner, 5);
    const outer = createTask(function* () { return yield* w; }());
    yield* sleep(1);
    outer.cancel();
    const e = yield* settle(outer);
    t.true(e instanceof CancelledError);
    t.true(inner.cancelled());
  });
});

test('waitFor: a result that arrives while the timeout cancel is delivered wins', async (t) => {
  await runVirtual(t, function* () {
    const inner = createTask(function* () {
      try { yield* sleep(10); } catch (e) { if (!isCancellation(e)) throw e; }
      return 'swallowed the cancel';
    }());
    t.is(yield* waitFor(inner, 1), 'swallowed the cancel');
  });
});

test('timeout(): the body finishes in time, or is cancelled at the deadline and raises TimeoutError', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    t.is(yield* timeout(2, function* () { yield* sleep(1); return 'ok'; }), 'ok');
    let seen: TimeoutError | null = null;
    try {
      yield* timeout(1, function* (scope) {
        t.is(scope.when(), 2);
        t.false(scope.expired());
        yield* sleep(5);
      });
    } catch (e) { seen = e as TimeoutError; }
    t.true(seen instanceof TimeoutError);
    t.is(loop.time(), 2);
    t.is(yield* timeout(null, async () => { await sleep(1); return 'none'; }), 'none');
    const r = yield* timeoutAt(loop.time() + 1, function* (scope) {
      scope.reschedule(loop.time() + 3);
      yield* sleep(2);
      scope.reschedule(null);
      yield* sleep(5);
      return String(scope);
    });
    t.regex(r, /\[active\]/);
    const past = yield* settle(timeout(5, function* (scope) { scope.reschedule(0); yield* sleep(1); }));
    t.true(past instanceof TimeoutError);
  });
});

test('timeout(): scope.expired() inside the body, reschedule after exit is refused', async (t) => {
  await runVirtual(t, function* () {
    let kept: any = null;
    const e = yield* settle(timeout(1, function* (scope) {
      kept = scope;
      try { yield* sleep(5); } finally { t.true(scope.expired()); }
    }));
    t.true(e instanceof TimeoutError);
    t.throws(() => kept.reschedule(10), { instanceOf: InvalidStateError });
  });
});

test('timeout(): a body done before its deadline fires is not expired, one that swallowed the cancel is', async (t) => {
  await runVirtual(t, function* () {
    // Deadline "now": the timer comes due in the turn the body finishes, before its done callback.
    let kept: any = null;
    t.is(yield* timeout(0, function* (scope) { kept = scope; return 'done first'; }), 'done first');
    t.false(kept.expired());
    t.is(yield* timeout(1, function* (scope) {
      kept = scope;
      try { yield* sleep(5); } catch (e) { if (!isCancellation(e)) throw e; }
      return 'swallowed';
    }), 'swallowed');
    t.true(kept.expired());
  });
});

test('timeout(): cancel from outside stays CancelledError; body errors pass through', async (t) => {
  await runVirtual(t, function* () {
    const f = timeout(10, function* () { yield* sleep(5); });
    const holder = createTask(function* () { return yield* f; }());
    yield* sleep(1);
    holder.cancel();
    t.true((yield* settle(holder)) instanceof CancelledError);
    const err = yield* settle(timeout(10, function* () { yield; throw new RangeError('body'); }));
    t.true(err instanceof RangeError);
  });
});

test('gather returns results in argument order; the first failure propagates', async (t) => {
  await runVirtual(t, function* () {
    const r = yield* gather(sleep(2, 'slow'), sleep(1, 'fast'), createTask(async () => 3));
    t.deepEqual(r, ['slow', 'fast', 3]);
    t.deepEqual(yield* gather(), []);
    const e = yield* settle(gather(sleep(1), createTask(function* () { yield; throw new Error('kid'); }())));
    t.is((e as Error).message, 'kid');
    const same = sleep(1, 'x');
    t.deepEqual(yield* gather(same, same), ['x', 'x']);
  });
});

test('gather with returnExceptions collects errors and cancellations as values', async (t) => {
  await runVirtual(t, function* () {
    const cancelled = createTask(function* () { yield* sleep(5); }());
    const failing = createTask(function* () { yield; throw new TypeError('t'); }());
    const g = gather(sleep(1, 'ok'), failing, cancelled, { returnExceptions: true });
    yield;
    cancelled.cancel();
    const [ok, err, c] = yield* g;
    t.is(ok, 'ok');
    t.true(err instanceof TypeError);
    t.true(c instanceof CancelledError);
  });
});

test('cancelling gather cancels every child; a cancelled child fails a plain gather', async (t) => {
  await runVirtual(t, function* () {
    const a = createTask(function* () { yield* sleep(5); }());
    const b = createTask(function* () { yield* sleep(5); }());
    const g = gather(a, b);
    yield;
    t.true(g.cancel());
    t.true((yield* settle(g)) instanceof CancelledError);
    t.true(a.cancelled() && b.cancelled());
    t.false(g.cancel());
    const c = createTask(function* () { yield* sleep(5); }());
    const other = sleep(1);
    const g2 = gather(c, other);
    yield;
    c.cancel();
    t.true((yield* settle(g2)) instanceof CancelledError);
    yield* other; // gather does not cancel the others when one fails
  });
});

test('shield: cancelling the outer does not cancel the inner, which completes', async (t) => {
  await runVirtual(t, function* () {
    const inner = createTask(function* () { yield* sleep(2); return 'inner done'; }());
    const outer = createTask(function* () { return yield* shield(inner); }());
    yield* sleep(1);
    outer.cancel();
    t.true((yield* settle(outer)) instanceof CancelledError);
    t.is(yield* inner, 'inner done');
    const done = sleep(0, 'already');
    yield* done;
    t.is(shield(done), done);
    t.is(yield* shield(sleep(1, 'passes')), 'passes');
    const failing = createTask(function* () { yield; throw new Error('inner failed'); }());
    t.is(((yield* settle(shield(failing))) as Error).message, 'inner failed');
  });
});

test('asCompleted yields results in completion order; with timeout the rest raise', async (t) => {
  await runVirtual(t, function* () {
    const got: unknown[] = [];
    for (const f of asCompleted([sleep(3, 'c'), sleep(1, 'a'), sleep(2, 'b')])) got.push(yield* f);
    t.deepEqual(got, ['a', 'b', 'c']);
    const late: unknown[] = [];
    const slow = sleep(10, 'y');
    for (const f of asCompleted([sleep(1, 'x'), slow], { timeout: 2 })) late.push(yield* settle(f));
    slow.cancel(); // asCompleted leaves the inputs running after its timeout
    t.is(late[0], 'x');
    t.true(late[1] instanceof TimeoutError);
    const failing = createTask(function* () { yield; throw new Error('ac'); }());
    for (const f of asCompleted([failing])) t.is(((yield* settle(f)) as Error).message, 'ac');
  });
});

test('asCompleted: a handed-out future takes the next outcome when first waited on; a cancelled waiter takes none (asyncio)', async (t) => {
  await runVirtual(t, function* () {
    // Awaited out of order: the second future waited on first gets the first to finish.
    let fs = [...asCompleted([sleep(2, 'b'), sleep(1, 'a')])];
    t.is(yield* fs[1]!, 'a');
    t.is(yield* fs[0]!, 'b');
    // gather() waits on its arguments in order: fs[2] claims first.
    fs = [...asCompleted([sleep(1, 'a'), sleep(2, 'b'), sleep(3, 'c')])];
    t.deepEqual(yield* gather(fs[2]!, fs[0]!), ['a', 'b']);
    t.is(yield* fs[1]!, 'c');
    // A waiter cancelled before anything finished leaves the first outcome to the next one.
    fs = [...asCompleted([sleep(1, 'a'), sleep(2, 'b')])];
    const early = createTask(settle(fs[0]!));
    yield* sleep(0.5);
    early.cancel();
    t.true((yield* catching(early)) instanceof CancelledError);
    t.is(yield* fs[1]!, 'a');
    // Cancelled after its outcome came but before it resumed: the outcome is given back.
    const a = sleep(1, 'a');
    fs = [...asCompleted([a, sleep(2, 'b')])];
    const late = createTask(function* () { return yield* fs[0]!; }());
    a.addDoneCallback(() => late.cancel()); // runs after asCompleted's own callback on `a`
    t.true((yield* catching(late)) instanceof CancelledError);
    t.is(yield* fs[1]!, 'a');
    // With a timeout, a later wait gets what finished before it, then TimeoutError.
    const slow = sleep(10, 'z');
    fs = [...asCompleted([sleep(1, 'x'), slow], { timeout: 2 })];
    yield* sleep(3);
    t.is(yield* fs[0]!, 'x');
    t.true((yield* settle(fs[1]!)) instanceof TimeoutError);
    slow.cancel();
  });
});

test('asCompleted as an async iterator yields the original futures', async (t) => {
  await runVirtual(t, async () => {
    const a = sleep(2, 'a'), b = sleep(1, 'b');
    const order: Future<string>[] = [];
    for await (const f of asCompleted([a, b])) order.push(f);
    t.deepEqual(order, [b, a]);
  });
});

test('taskGroup waits for all children and resolves to the body result', async (t) => {
  const order: string[] = [];
  const r = await runVirtual(t, function* ({ loop }) {
    const v = yield* taskGroup(function* (tg: TaskGroup) {
      tg.createTask(function* () { yield* sleep(2); order.push('two'); }());
      tg.createTask(async () => { await sleep(1); order.push('one'); });
      return 'body';
    });
    t.is(loop.time(), 2);
    return v;
  });
  t.is(r, 'body');
  t.deepEqual(order, ['one', 'two']);
});

test('taskGroup: one failure cancels siblings and body; AggregateError of failures', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    let group!: TaskGroup;
    const e = yield* settle(taskGroup(function* (tg) {
      group = tg;
      tg.createTask(function* () { try { yield* sleep(10); } catch (err) { order.push(`sibling ${(err as CancelledError).reason?.kind}`); throw err; } }());
      tg.createTask(function* () { yield* sleep(1); throw new Error('first'); }());
      tg.createTask(function* () { yield* sleep(1); throw new Error('second'); }());
      try { yield* sleep(10); } catch (err) { order.push('body cancelled'); throw err; }
    }));
    t.true(e instanceof AggregateError);
    t.deepEqual((e as AggregateError).errors.map((x: Error) => x.message), ['first', 'second']);
    t.is(loop.time(), 1);
    t.throws(() => group.createTask(function* () {}()), { instanceOf: RuntimeError, message: /finished/ });
    t.regex(String(group), /exited/);
  });
  t.deepEqual(order, ['sibling sibling-failed', 'body cancelled']);
});

test('taskGroup: a body error is added last; cancelling the group ends in CancelledError', async (t) => {
  await runVirtual(t, function* () {
    const e = yield* settle(taskGroup(function* (tg) {
      tg.createTask(function* () { yield* sleep(1); }());
      yield;
      throw new Error('body failed');
    }));
    t.deepEqual((e as AggregateError).errors.map((x: Error) => x.message), ['body failed']);
    const g = taskGroup(function* (tg) {
      tg.createTask(function* () { yield* sleep(5); }());
      yield* sleep(5);
    });
    yield* sleep(1);
    t.true(g.cancel());
    t.true((yield* settle(g)) instanceof CancelledError);
    t.false(g.cancel());
    const aborting = yield* settle(taskGroup(function* (tg) {
      tg.createTask(function* () { yield; throw new Error('x'); }());
      try { yield* sleep(1); } catch { /* cancelled by the abort */ }
      return tg.createTask(function* () {}());
    }));
    t.true(aborting instanceof AggregateError);
  });
});

test('taskGroup: a cancel from outside reaches the body before the children, a child failure the children first (asyncio order)', async (t) => {
  await runVirtual(t, function* () {
    const order: string[] = [];
    const child = (name: string) => function* (): Coroutine<void> {
      try { yield* sleep(5); } catch (e) { order.push(name); throw e; }
    }();
    const g = taskGroup(function* (tg) {
      tg.createTask(child('a'));
      tg.createTask(child('b'));
      yield* child('body');
    });
    yield* sleep(1);
    g.cancel();
    t.true((yield* settle(g)) instanceof CancelledError);
    t.deepEqual(order, ['body', 'a', 'b']);
    order.length = 0;
    const failed = yield* settle(taskGroup(function* (tg) {
      tg.createTask(child('a'));
      tg.createTask(function* () { yield* sleep(1); throw new Error('x'); }());
      yield* child('body');
    }));
    t.true(failed instanceof AggregateError);
    t.deepEqual(order, ['a', 'body']);
  });
});

test('taskGroup.cancel({ grace }): no new tasks, work finishes within grace, the rest is cancelled as shutdown', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const log: string[] = [];
    let group!: TaskGroup;
    const g = taskGroup(function* (tg) {
      group = tg;
      tg.createTask(function* () { yield* sleep(1); log.push(`fast done at ${loop.time()}`); }());
      tg.createTask(function* () {
        try { yield* sleep(10); } catch (e) { log.push(`slow ${(e as CancelledError).reason?.kind} at ${loop.time()}`); throw e; }
      }());
      return 'body';
    });
    yield* sleep(0.5);
    t.is(group.cancel({ grace: 2 }), g);
    t.regex(String(group), /draining/);
    t.throws(() => group.createTask(function* () {}()), { instanceOf: RuntimeError, message: /shutting down/ });
    const e = yield* settle(g);
    t.true(e instanceof CancelledError);
    t.is((e as CancelledError).reason?.kind, 'shutdown');
    t.deepEqual(log, ['fast done at 1', 'slow shutdown at 2.5']);

    // Everything done within grace: the group's own result, and the grace timer is gone.
    const h = taskGroup(function* (tg) {
      group = tg;
      tg.createTask(function* () { yield* sleep(1); }());
      return 'finished';
    });
    yield;
    group.cancel({ grace: 5 });
    t.is(yield* h, 'finished');
    t.is(loop.scheduledTimers(), 0);
    t.throws(() => group.cancel({ grace: -1 }), { instanceOf: RangeError });
    t.is(group.cancel(), h);
  });
});

test('run(main, { grace, signals }): servers stop accepting, main may finish; else it is cancelled as shutdown (child)', async (t) => {
  const code = `
    import { run, sleep, startServer, KeyboardInterrupt, CancelledError } from './src/index.ts';
    const first = await run(function* () {
      const server = yield* startServer(function* () {}, '127.0.0.1', 0);
      console.log('ready 1');
      yield* server.serveForever();
      console.log('stopped accepting: serving=' + server.isServing());
      return 'main finished in grace';
    }, { grace: 30, signals: ['SIGTERM'] });
    console.log(first);
    try {
      await run(function* () {
        console.log('ready 2');
        try { yield* sleep(60); } catch (e) { console.log('cancelled: ' + JSON.stringify(e.reason)); throw e; }
      }, { grace: 0.05, signals: ['SIGTERM'] });
    } catch (e) { console.log(e instanceof KeyboardInterrupt ? 'KeyboardInterrupt ' + e.signal : String(e)); }`;
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let sent = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  child.stdout.on('data', (d) => {
    out += d;
    const ready = (out.match(/ready/g) ?? []).length;
    while (sent < ready) { sent++; child.kill('SIGTERM'); }
  });
  t.is(await exited, 0);
  t.deepEqual(out.trim().split('\n'), [
    'ready 1', 'stopped accepting: serving=false', 'main finished in grace',
    'ready 2', 'cancelled: {"kind":"shutdown","signal":"SIGTERM"}', 'KeyboardInterrupt SIGTERM',
  ]);
});

test('toThread runs a self-contained function in a worker thread', async (t) => {
  const v = await run(async () => {
    const r = await toThread((a: number, b: number) => {
      let x = 0;
      for (let i = 0; i < 1000; i++) x += a * b;
      return x;
    }, 2, 3);
    const e = await toThread(() => { throw new RangeError('in thread'); }).then(() => null, (err: Error) => err);
    const [p, q] = await Promise.all([toThread(async (s: string) => s.toUpperCase(), 'x'), toThread((n: number) => n + 1, 1)]);
    return [r, e?.message, p, q];
  });
  t.deepEqual(v, [6000, 'in thread', 'X', 2]);
  t.throws(() => toThread(42 as any), { instanceOf: TypeError });
});

test('toThread fails, never hangs, when the work cannot cross or its thread dies; the pool recovers', async (t) => {
  const outcomes = await run(async () => {
    const settle = (f: PromiseLike<unknown>) => f.then((v) => ['ok', v], (e: Error) => [e?.name, String(e?.message ?? e)]);
    return [
      await settle(toThread(() => () => 1)), // a result that cannot be cloned back
      await settle(toThread((_f: unknown) => 1, () => 1)), // an argument that cannot be cloned
      await settle(toThread(() => { process.exit(3); })), // the thread ends before answering
      await settle(toThread(() => { function named(): string { return 'named'; } return named(); })),
      await settle(toThread((n: number) => n * 2, 21)), // the pool still works
    ];
  });
  t.is(outcomes[0]![0], 'TypeError');
  t.regex(outcomes[0]![1] as string, /result could not be sent back/);
  t.is(outcomes[1]![0], 'DataCloneError');
  t.is(outcomes[2]![0], 'RuntimeError');
  t.regex(outcomes[2]![1] as string, /exited \(code 3\)/);
  t.deepEqual(outcomes[3], ['ok', 'named'], 'named inner functions work under tsx/esbuild too');
  t.deepEqual(outcomes[4], ['ok', 42]);
});

test('toThread and the watchdog work in a program run as `-e` under --input-type=module (child)', async (t) => {
  // Workers inherit --input-type=module, so their sources must not assume CommonJS.
  const code = `
    import { run, toThread, startWatchdog } from './src/index.ts';
    console.log('sum', await run(function* () { return yield* toThread((a, b) => a + b, 2, 3); }));
    const wd = startWatchdog({ threshold: 0.05, stderr: false });
    await wd.ready;
    const end = performance.now() + 20000;
    while (wd.captures === 0 && performance.now() < end) {}
    console.log('captures', wd.captures);
    wd.stop();`;
  const { status, out, err } = await runModule(code);
  t.is(status, 0, err);
  t.is(out, 'sum 5\ncaptures 1\n', err);
});

test('run(): resolves to main\'s result, cancels leftover tasks and closes the loop', async (t) => {
  let leftover: Future<unknown> | null = null;
  const order: string[] = [];
  const r = await run(function* () {
    leftover = createTask(function* () { try { yield* sleep(100); } finally { order.push('leftover cancelled'); } }());
    yield* sleep(0.001);
    return 'main';
  });
  t.is(r, 'main');
  t.true(leftover!.cancelled());
  t.deepEqual(order, ['leftover cancelled']);
  await t.throwsAsync(run(async () => { throw new Error('main failed'); }), { message: 'main failed' });
});

test('run(): the first SIGINT cancels main (finally runs) and rejects with KeyboardInterrupt (child)', async (t) => {
  const code = `
    import { run, sleep, KeyboardInterrupt } from './src/index.ts';
    try {
      await run(function* () {
        try { console.log('ready'); yield* sleep(60); } finally { console.log('finally ran'); }
      });
    } catch (e) { console.log(e instanceof KeyboardInterrupt ? 'KeyboardInterrupt' : String(e)); }`;
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let signalled = false;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  child.stdout.on('data', (d) => {
    out += d;
    if (!signalled && out.includes('ready')) { signalled = true; child.kill('SIGINT'); }
  });
  const codeExit = await exited;
  t.is(codeExit, 0);
  t.deepEqual(out.trim().split('\n'), ['ready', 'finally ran', 'KeyboardInterrupt']);
  t.true(new KeyboardInterrupt() instanceof Error);
});
