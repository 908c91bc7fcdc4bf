// cf. CPython Lib/test/test_asyncio/test_futures.py (behaviours re-derived, tests written fresh)
import test from 'ava';
import { Future, CancelledError, InvalidStateError, EventLoop, isFuture, type Coroutine } from '../../src/index.js';
import { makeLoop, runVirtual } from '../helpers/run-virtual.js';

test('a new future is pending; result() and exception() raise InvalidStateError', (t) => {
  const { loop } = makeLoop();
  const f = loop.createFuture<number>();
  t.false(f.done());
  t.false(f.cancelled());
  t.throws(() => f.result(), { instanceOf: InvalidStateError });
  t.throws(() => f.exception(), { instanceOf: InvalidStateError });
  t.is(f.getLoop(), loop);
  t.true(isFuture(f));
  t.is(String(f), '<Future pending>');
  loop.close();
});

test('setResult is one-way: a second set or a cancel is refused', (t) => {
  const { loop } = makeLoop();
  const f = loop.createFuture<number>();
  f.setResult(3);
  t.is(f.result(), 3);
  t.is(f.exception(), null);
  t.throws(() => f.setResult(4), { instanceOf: InvalidStateError, message: /FINISHED/ });
  t.throws(() => f.setException(new Error('x')), { instanceOf: InvalidStateError });
  t.false(f.cancel());
  t.is(String(f), '<Future finished result=3>');
  loop.close();
});

test('setException stores the error for result() and exception()', (t) => {
  const { loop } = makeLoop();
  const f = loop.createFuture<number>();
  const e = new Error('bad');
  f.setException(e);
  t.is(f.exception(), e);
  t.is(t.throws(() => f.result()), e);
  t.regex(String(f), /exception=Error: bad/);
  t.throws(() => loop.createFuture().setException(undefined), { instanceOf: TypeError });
  loop.close();
});

test('cancel(msg) makes result() raise CancelledError with the message', (t) => {
  const { loop } = makeLoop();
  const f = loop.createFuture<number>();
  t.true(f.cancel('stop it'));
  t.true(f.cancelled());
  t.true(f.done());
  const e = t.throws(() => f.result(), { instanceOf: CancelledError });
  t.is(e?.message, 'stop it');
  t.throws(() => f.exception(), { instanceOf: CancelledError });
  t.throws(() => f.setResult(1), { instanceOf: InvalidStateError, message: /CANCELLED/ });
  t.is(String(f), '<Future cancelled>');
  loop.close();
});

test('done callbacks run via the loop, in order, never inline; remove returns the count', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const f = loop.createFuture<number>();
    const a = () => order.push('a');
    f.addDoneCallback(a);
    f.addDoneCallback(() => order.push('b'));
    f.addDoneCallback(a);
    const removed = () => order.push('removed');
    f.addDoneCallback(removed);
    t.is(f.removeDoneCallback(removed), 1);
    t.is(f.removeDoneCallback(() => {}), 0);
    f.setResult(1);
    order.push('after set');
    yield;
    f.addDoneCallback(() => order.push('late'));
    yield;
    t.is(loop.createFuture().removeDoneCallback(a), 0);
  });
  t.deepEqual(order, ['after set', 'a', 'b', 'a', 'late']);
});

test('yield* on a future returns its result, raises its exception', async (t) => {
  await runVirtual(t, function* ({ loop }): Coroutine<void> {
    const ok = loop.createFuture<number>();
    loop.callLater(1, () => ok.setResult(7));
    t.is(yield* ok, 7);
    const bad = loop.createFuture<number>();
    loop.callSoon(() => bad.setException(new RangeError('r')));
    const e = yield* (function* () { try { yield* bad; } catch (err) { return err; } })();
    t.true(e instanceof RangeError);
    const done = loop.createFuture<string>();
    done.setResult('now');
    t.is(yield* done, 'now'); // already done: no suspension
  });
});

test('await on a future works from async code, including outside the loop', async (t) => {
  const { loop } = makeLoop();
  const f = loop.createFuture<number>();
  const g = loop.createFuture<number>();
  const waiter = (async () => (await f) + 1)();
  const failed = g.then(() => 'no', (e: Error) => e.message);
  loop.callSoon(() => { f.setResult(1); g.setException(new Error('nope')); });
  loop.callLater(1, () => loop.stop()); // callbacks scheduled in the stopping batch would wait
  await loop.runForever();
  t.is(await waiter, 2);
  t.is(await failed, 'nope');
  const c = loop.createFuture<number>();
  c.cancel();
  await t.throwsAsync(c as unknown as Promise<number>, { instanceOf: CancelledError });
  const d = loop.createFuture<number>();
  d.setResult(5);
  t.is(await d, 5);
  loop.close();
});

test('an exception nobody retrieved is reported when the future is collected', async (t) => {
  if (typeof globalThis.gc !== 'function') return t.fail('run with --expose-gc');
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx.message));
  (() => { new Future<void>(loop).setException(new Error('lost')); })();
  (() => { const f = new Future<void>(loop); f.setException(new Error('seen')); f.exception(); })();
  for (let i = 0; i < 200 && reports.length === 0; i++) { // collection is a real event: bounded, not counted on
    globalThis.gc!();
    await new Promise((r) => setImmediate(r));
  }
  t.deepEqual(reports, ['Future exception was never retrieved']);
  loop.close();
});

test('failures in a running loop: one its waiter retrieves is never reported, one dropped is, once collected', async (t) => {
  if (typeof globalThis.gc !== 'function') return t.fail('run with --expose-gc');
  const fx = makeLoop();
  const caught = await fx.loop.runUntilComplete(function* (): Coroutine<string> {
    const awaited = new Future<void>(fx.loop);
    fx.loop.callSoon(() => awaited.setException(new Error('seen')));
    fx.loop.callSoon(() => { new Future<void>(fx.loop).setException(new Error('dropped')); });
    try {
      yield* awaited;
      return 'no';
    } catch (error) {
      return (error as Error).message;
    }
  }());
  t.is(caught, 'seen');
  for (let i = 0; i < 200 && fx.reports.length === 0; i++) { // collection is a real event: bounded, not counted on
    globalThis.gc!();
    await new Promise((r) => setImmediate(r));
  }
  t.deepEqual(fx.reports, ['Future exception was never retrieved: dropped']);
  fx.loop.close();
});

test('Future without a loop uses the default loop', (t) => {
  const f = new Future<number>();
  t.truthy(f.getLoop());
});
