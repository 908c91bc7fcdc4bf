import test from 'ava';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import {
  EventLoop, VirtualClock, sleep, createTask, getRunningLoop, getEventLoop, setEventLoop, newEventLoop,
  RuntimeError, Future, fromPromise, Protocol, DatagramProtocol, run, type Coroutine,
} from '../../src/index.js';
import { makeLoop, runVirtual } from '../helpers/run-virtual.js';

test('callSoon runs callbacks FIFO; one scheduled during a batch runs in the next batch', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    loop.callSoon(() => {
      order.push('a');
      loop.callSoon(() => order.push('c (next batch)'));
    });
    loop.callSoon((x: string) => order.push(x), 'b');
    yield;
    yield;
  });
  t.deepEqual(order, ['a', 'b', 'c (next batch)']);
});

test('a cancelled handle does not run', async (t) => {
  const order: string[] = [];
  await runVirtual(t, function* ({ loop }) {
    const h = loop.callSoon(() => order.push('no'));
    t.false(h.cancelled());
    h.cancel();
    h.cancel();
    t.true(h.cancelled());
    t.regex(String(h), /cancelled/);
    yield;
  });
  t.deepEqual(order, []);
});

test('timers fire by deadline, ties in scheduling order, on the virtual clock', async (t) => {
  const order: Array<[string, number]> = [];
  await runVirtual(t, function* ({ loop }) {
    const rec = (name: string) => order.push([name, loop.time()]);
    loop.callLater(2, rec, 'late');
    loop.callLater(1, rec, 'first');
    loop.callLater(1, rec, 'second');
    const h = loop.callAt(1.5, rec, 'cancelled');
    t.is(h.when(), 1.5);
    h.cancel();
    loop.callLater(0, rec, 'zero');
    yield* sleep(3);
  });
  t.deepEqual(order, [['zero', 0], ['first', 1], ['second', 1], ['late', 2]]);
});

test('thousands of timers, many cancelled, fire in (deadline, scheduling) order and the cancelled never do', async (t) => {
  // Enough timers to grow the heap's key arrays several times, cancellations past half of them
  // to rebuild it, deadlines drawn from 50 values so ties are common: the firing order must be
  // the sorted order of the live ones, ties in scheduling order.
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const fired: number[] = [];
  const expected: Array<[number, number]> = [];
  await runVirtual(t, function* ({ loop }) {
    const handles = [];
    for (let i = 0; i < 5000; i++) {
      const delay = (1 + Math.floor(random() * 50)) / 10;
      handles.push({ i, delay, h: loop.callLater(delay, (k: number) => fired.push(k), i) });
      if (i % 1000 === 999) yield* sleep(0); // the loop runs between batches of pushes
    }
    for (const x of handles) {
      if (random() < 0.6) x.h.cancel();
      else expected.push([x.delay, x.i]);
    }
    t.is(loop.scheduledTimers(), expected.length);
    yield* sleep(10);
  });
  expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  t.deepEqual(fired, expected.map(([, i]) => i));
});

test('nothing due fires before clock.advance() moves time (manual virtual clock)', async (t) => {
  const { loop, clock } = makeLoop({ autoJump: false });
  const fired: number[] = [];
  loop.callLater(1, () => fired.push(loop.time()));
  const done = loop.createFuture<void>();
  loop.callLater(2, () => done.setResult());
  const p = loop.runUntilComplete(done);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(fired, []);
  clock.advance(1);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(fired, [1]);
  clock.advance(1);
  await p;
  loop.close();
  t.throws(() => clock.advance(-1), { instanceOf: RangeError });
});

test('1e5 scheduled-then-cancelled timers are compacted away', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    for (let i = 0; i < 100_000; i++) loop.callLater(10 + i, () => {}).cancel();
    t.is(loop.scheduledTimers(), 0);
    const live = loop.callLater(5, () => {});
    t.is(loop.scheduledTimers(), 1);
    live.cancel();
    yield* sleep(0);
  });
});

test('real clock: callLater waits at least its delay', async (t) => {
  const loop = new EventLoop();
  const t0 = loop.time();
  const fut = loop.createFuture<number>();
  loop.callLater(0.02, () => fut.setResult(loop.time()));
  const fired = await loop.runUntilComplete(fut);
  loop.close();
  t.true(fired - t0 >= 0.02 - 1e-3);
});

test('real clock: cancelling the earliest timer does not fire a later one early', async (t) => {
  const loop = new EventLoop();
  const t0 = loop.time();
  const fut = loop.createFuture<number>();
  const ran: string[] = [];
  const result = loop.runUntilComplete(function* () {
    // 0.2 s, not less: the cancel below comes from a setImmediate, which a stalled (loaded)
    // process can reach after a shorter timer is due.
    const early = loop.callLater(0.2, () => ran.push('cancelled one'));
    // While the loop idles with a Node timer armed for `early`: cancel it and schedule later ones.
    setImmediate(() => loop.callSoon(() => {
      early.cancel();
      for (let i = 0; i < 20; i++) loop.callLater(0.36 + i / 1000, () => ran.push('later')).cancel();
      loop.callLater(0.3, () => { ran.push('kept'); fut.setResult(loop.time()); });
    }));
    return yield* fut;
  }());
  const fired = await result;
  loop.close();
  t.deepEqual(ran, ['kept']);
  t.true(fired - t0 >= 0.3 - 1e-3, `fired after ${fired - t0} s`);
});

test('exceptions in callbacks go to the exception handler and the loop goes on', async (t) => {
  const { loop, reports } = makeLoop();
  const seen: unknown[] = [];
  loop.callSoon(function broken() { throw new Error('boom'); });
  await loop.runUntilComplete(function* () { yield; yield; seen.push('after'); }());
  t.deepEqual(seen, ['after']);
  t.is(reports.length, 1);
  t.regex(reports[0]!, /Exception in callback <Handle broken>: boom/);
  t.truthy(loop.getExceptionHandler());
  loop.close();
});

test('the default exception handler prints to stderr; a failing handler falls back to it', (t) => {
  const loop = new EventLoop();
  const writes: string[] = [];
  const orig = process.stderr.write;
  (process.stderr as any).write = (s: string) => { writes.push(String(s)); return true; };
  try {
    loop.callExceptionHandler({ message: 'plain', exception: new Error('e1'), extra: 1 });
    loop.setExceptionHandler(() => { throw new Error('handler broke'); });
    loop.callExceptionHandler({ message: 'second', exception: 'not an error' });
  } finally {
    (process.stderr as any).write = orig;
  }
  t.regex(writes[0]!, /plain\nextra: 1\nError: e1/);
  t.regex(writes[1]!, /Unhandled error in exception handler/);
  t.throws(() => loop.setExceptionHandler(42 as any), { instanceOf: TypeError });
  loop.setExceptionHandler(null);
  t.is(loop.getExceptionHandler(), null);
  loop.close();
});

test('debug mode names slow callbacks through loop.events', async (t) => {
  const { loop } = makeLoop({ debug: true });
  loop.slowCallbackDuration = 0;
  const reports: string[] = [];
  loop.events.on('slowCallback', ({ name, duration }) => { reports.push(name); t.true(duration >= 0); });
  t.true(loop.getDebug());
  loop.callSoon(function slowOne() {});
  await loop.runUntilComplete(loop.createTask(function* () { yield; }(), { name: 'stepper' }));
  t.true(reports.some((r) => r.includes('slowOne')));
  t.true(reports.some((r) => r.includes('stepper')));
  loop.setDebug(false);
  t.false(loop.getDebug());
  loop.close();
});

test('debug mode warns on stderr when nobody listens', async (t) => {
  const { loop } = makeLoop({ debug: true });
  loop.slowCallbackDuration = 0;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  loop.callSoon(function slowTwo() {});
  await loop.runUntilComplete(function* () { yield; }());
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  t.true(warnings.some((w) => w.includes('slowTwo')));
  loop.close();
});

test('stop() ends runForever after the current batch; callbacks left run on the next run', async (t) => {
  const { loop } = makeLoop();
  const order: string[] = [];
  loop.callSoon(() => { order.push('1'); loop.stop(); loop.callSoon(() => order.push('3')); });
  loop.callSoon(() => order.push('2'));
  await loop.runForever();
  t.deepEqual(order, ['1', '2']);
  t.false(loop.isRunning());
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  t.deepEqual(order, ['1', '2', '3']);
  loop.close();
});

test('stop() before runForever: the run does one batch of what is ready, then returns (asyncio)', async (t) => {
  const { loop } = makeLoop();
  const order: string[] = [];
  loop.stop();
  loop.callSoon(() => { order.push('a'); loop.callSoon(() => order.push('c')); });
  loop.callSoon(() => order.push('b'));
  await loop.runForever(); // hung: the stop was forgotten when the run began
  t.deepEqual(order, ['a', 'b']);
  loop.stop();
  await loop.runForever(); // nothing but 'c' ready: one batch with it
  t.deepEqual(order, ['a', 'b', 'c']);
  loop.stop();
  await t.throwsAsync(loop.runUntilComplete(loop.createFuture()), { instanceOf: RuntimeError, message: 'Event loop stopped before Future completed.' });
  loop.close();
});

test('a closed loop refuses work with RuntimeError; close() of a running loop throws', async (t) => {
  const { loop } = makeLoop();
  const fut = loop.createFuture<void>();
  const p = loop.runUntilComplete(fut);
  await t.throwsAsync(loop.runForever(), { instanceOf: RuntimeError, message: /already running/ });
  t.throws(() => loop.close(), { instanceOf: RuntimeError });
  fut.setResult();
  await p;
  loop.close();
  loop.close();
  t.true(loop.isClosed());
  t.throws(() => loop.callSoon(() => {}), { instanceOf: RuntimeError, message: /closed/ });
  t.throws(() => loop.callLater(1, () => {}), { instanceOf: RuntimeError });
  t.throws(() => loop.createTask(function* () {}()), { instanceOf: RuntimeError });
  await t.throwsAsync(loop.runForever(), { instanceOf: RuntimeError });
  await t.throwsAsync(loop.runUntilComplete(function* () {}()), { instanceOf: RuntimeError });
  // nothing is opened for a loop that will never run (a listening socket would hold the process)
  t.throws(() => loop.createServer(() => new Protocol(), '127.0.0.1', 0), { instanceOf: RuntimeError, message: /closed/ });
  t.throws(() => loop.createUnixServer(() => new Protocol(), '/tmp/never.sock'), { instanceOf: RuntimeError });
  t.throws(() => loop.createConnection(() => new Protocol(), '127.0.0.1', 9), { instanceOf: RuntimeError });
  t.throws(() => loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] }), { instanceOf: RuntimeError });
  t.regex(String(loop), /closed=true/);
});

test('run() from inside a running loop is refused, as asyncio.run() is (generator and async tasks)', async (t) => {
  let ran = false;
  const got = await runVirtual(t, function* (): Coroutine<string[]> {
    const fromGenerator = yield* fromPromise(run(function* () { ran = true; }).then(() => 'ran', (e: Error) => `${e.name}: ${e.message}`));
    const fromAsync = yield* createTask(async () => {
      await sleep(0);
      try { await run(async () => { ran = true; }); return 'ran'; } catch (e) { return `${(e as Error).name}: ${(e as Error).message}`; }
    });
    return [fromGenerator, fromAsync];
  });
  t.deepEqual(got, ['RuntimeError: run() cannot be called from a running event loop', 'RuntimeError: run() cannot be called from a running event loop']);
  t.false(ran);
  t.is(await run(function* () { return 'outside any loop'; }), 'outside any loop');
});

test('runUntilComplete rejects when the loop is stopped before the future is done', async (t) => {
  const { loop } = makeLoop();
  const fut = loop.createFuture<void>();
  loop.callSoon(() => loop.stop());
  await t.throwsAsync(loop.runUntilComplete(fut), { instanceOf: RuntimeError, message: /stopped before/ });
  loop.close();
});

test('bad arguments are refused with TypeError', (t) => {
  const { loop } = makeLoop();
  t.throws(() => loop.callLater(NaN, () => {}), { instanceOf: TypeError });
  t.throws(() => loop.callAt('1' as any, () => {}), { instanceOf: TypeError });
  t.throws(() => loop.createTask(42 as any), { instanceOf: TypeError });
  t.throws(() => new EventLoop({ clock: {} as any }), { instanceOf: TypeError, message: /clock must be a Clock/ });
  t.throws(() => loop.addSignalHandler('SIGUSR2', 5 as any), { instanceOf: TypeError });
  // a callback that is not a function fails where it is scheduled (asyncio), not in the loop
  t.throws(() => loop.callSoon(42 as any), { instanceOf: TypeError, message: /function was expected by callSoon\(\), got 42/ });
  t.throws(() => loop.callLater(1, 'cb' as any), { instanceOf: TypeError, message: /got "cb"/ });
  t.is(loop._readyCount(), 0, 'nothing was queued');
  t.is(loop.scheduledTimers(), 0);
  // a name that is no signal would be an event that never fires; SIGKILL cannot be caught
  t.throws(() => loop.addSignalHandler('SIGFOO' as any, () => {}), { instanceOf: RangeError, message: /not a signal: SIGFOO/ });
  t.throws(() => loop.addSignalHandler('SIGKILL', () => {}), { instanceOf: RuntimeError, message: /cannot be caught/ });
  t.false(loop.removeSignalHandler('SIGFOO'));
  loop.close();
});

test('getRunningLoop works in callbacks, generator steps and async tasks, and throws outside', async (t) => {
  t.throws(() => getRunningLoop(), { instanceOf: RuntimeError });
  const { loop } = makeLoop();
  const seen: boolean[] = [];
  loop.callSoon(() => seen.push(getRunningLoop() === loop));
  await loop.runUntilComplete(async () => {
    seen.push(getRunningLoop() === loop);
    await sleep(1);
    seen.push(getRunningLoop() === loop && getEventLoop() === loop);
  });
  t.deepEqual(seen, [true, true, true]);
  loop.close();
});

test.serial('setEventLoop / getEventLoop / newEventLoop', (t) => {
  const mine = newEventLoop();
  setEventLoop(mine);
  t.is(getEventLoop(), mine);
  setEventLoop(null);
  const fresh = getEventLoop();
  t.not(fresh, mine);
  t.is(getEventLoop(), fresh);
  mine.close();
});

test.serial('signal handlers run as loop callbacks and can be removed', async (t) => {
  const { loop } = makeLoop();
  const got: string[] = [];
  const fut = loop.createFuture<void>();
  loop.addSignalHandler('SIGUSR2', (tag: string) => { got.push(tag); fut.setResult(); }, 'usr2');
  const p = loop.runUntilComplete(fut);
  process.kill(process.pid, 'SIGUSR2');
  await p;
  t.deepEqual(got, ['usr2']);
  t.true(loop.removeSignalHandler('SIGUSR2'));
  t.false(loop.removeSignalHandler('SIGUSR2'));
  loop.addSignalHandler('SIGUSR2', () => {});
  loop.close(); // removes it
  t.is(process.listenerCount('SIGUSR2'), 0);
});

test('a task looping on bare yield does not starve a socket round trip or a real timer', async (t) => {
  const loop = new EventLoop();
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  let spins = 0;
  let stop = false;
  const result = await loop.runUntilComplete(function* (): Coroutine<string> {
    createTask(function* () { while (!stop) { spins++; yield; } }());
    const sock = net.connect(port, '127.0.0.1');
    const echoed = new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString())));
    sock.write('ping');
    const reply = yield* fromPromise(echoed);
    yield* sleep(0.005);
    stop = true;
    sock.destroy();
    return reply;
  }());
  await new Promise<void>((r) => server.close(() => r()));
  loop.close();
  t.is(result, 'ping');
  t.true(spins > 10, `the busy task ran ${spins} times`);
});

test('the process exits by itself when run() returns (child process)', (t) => {
  const code = `
    import { run, sleep } from './src/index.ts';
    const v = await run(async () => { await sleep(0.01); return 'done'; });
    console.log(v);`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20000, cwd: process.cwd() });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'done');
});

test('the loop keeps the process alive while it waits on a timer (child process)', (t) => {
  const code = `
    import { EventLoop } from './src/index.ts';
    const loop = new EventLoop();
    const f = loop.createFuture();
    loop.callLater(0.05, () => f.setResult('late'));
    console.log(await loop.runUntilComplete(f));
    loop.close();`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20000 });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'late');
});

test('a future of another loop cannot be awaited by a task', async (t) => {
  const other = new EventLoop();
  const foreign = new Future<void>(other);
  await runVirtual(t, function* () {
    const err = yield* (function* () { try { yield* foreign; return null; } catch (e) { return e; } })();
    t.true(err instanceof RuntimeError);
  });
  other.close();
});

test('a VirtualClock loop does not arm Node timers: a one-hour sleep finishes at once', async (t) => {
  const started = Date.now();
  const at = await runVirtual(t, function* ({ loop }) {
    yield* sleep(3600);
    return loop.time();
  });
  t.is(at, 3600);
  t.true(Date.now() - started < 5000);
  t.is(new VirtualClock({ start: 5 }).now(), 5);
});
