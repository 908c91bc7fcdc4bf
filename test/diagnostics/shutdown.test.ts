import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  EventLoop, LeakError, createTask, sleep, signalFor, cancelOn, CancelledError, startServer, openConnection,
  watchPath, fromPromise, type Coroutine, type Future,
} from '../../src/index.js';
import { makeLoop, runReal, runVirtual } from '../helpers/run-virtual.js';

function* settle<T>(f: Future<T>): Coroutine<unknown> {
  try { return yield* f; } catch (e) { return e; }
}

test('close({ strict: true }) lists what was left behind; without strict it is one report', async (t) => {
  const fx = makeLoop({ debug: true });
  await fx.loop.runUntilComplete(function* () {
    createTask(function* () { yield* sleep(100); }(), { name: 'forgotten' });
    yield;
  }());
  const e = t.throws(() => fx.loop.close({ strict: true }), { instanceOf: LeakError })!;
  t.is(e.leaks.length, 2);
  t.regex(e.leaks[0]!, /task forgotten still pending, waiting on sleep until t=100\.000, created /);
  t.regex(e.leaks[1]!, /1 timer still armed/);
  t.true(fx.loop.isClosed());
  const other = makeLoop();
  other.loop.callLater(5, () => {});
  other.loop.close();
  t.is(other.reports.length, 1);
  t.regex(other.reports[0]!, /^the loop was closed with 1 thing left behind:\n  1 timer still armed/);
});

test('run() returns and the process exits when main left a server, connections, an endpoint and a subprocess open: close() ends them (child process)', (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', `
    import { run, getRunningLoop, startServer, openConnection, createSubprocessExec, DatagramProtocol } from './src/index.ts';
    const reports = [];
    await run(function* () {
      getRunningLoop().setExceptionHandler((_l, ctx) => reports.push(ctx.message.split('\\n')[1].trim()));
      const server = yield* startServer(function* () {}, '127.0.0.1', 0);
      yield* openConnection('127.0.0.1', server.sockets[0].port);
      yield* getRunningLoop().createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] });
      const child = yield* createSubprocessExec('sleep', ['100']);
      console.log(child.pid);
    });
    console.log(reports.join('; '));`], { encoding: 'utf8', timeout: 20_000 });
  t.is(r.signal, null, 'the process did not exit by itself');
  t.is(r.status, 0, r.stderr);
  const [pid, report] = r.stdout.trim().split('\n');
  t.is(report, '5 transports, servers or subprocesses still open'); // still reported as a leak
  let state = 'gone';
  try { state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0]!; } catch { /* reaped */ }
  t.true(state === 'gone' || state === 'Z', `the subprocess was killed (state ${state})`);
});

test('close() while a connect, a bind or a spawn is in flight: each is ended when it completes, nothing throws from a Node callback (child process)', (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', `
    import net from 'node:net';
    import { EventLoop, startServer, openConnection, createTask, createSubprocessExec, DatagramProtocol, PIPE } from './src/index.ts';
    const peer = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((resolve) => peer.once('listening', resolve));
    const loop = new EventLoop();
    loop.setExceptionHandler(() => {}); // the leak report: tested above
    await loop.runUntilComplete(function* () {
      // Started, then left pending: main returns before any of them completes.
      createTask(function* () { yield* openConnection('127.0.0.1', peer.address().port); }());
      createTask(function* () { yield* startServer(function* () {}, '127.0.0.1', 0); }());
      createTask(function* () { yield* loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] }); }());
      createTask(function* () { yield* createSubprocessExec('sleep', ['30'], { stdout: PIPE }); }());
    }());
    loop.close();
    peer.close();
    process.on('exit', () => console.log('exited'));`], { encoding: 'utf8', timeout: 20_000 });
  t.is(r.signal, null, 'the process did not exit by itself');
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'exited');
});

test('close({ strict }) lists failed futures nobody retrieved; run(main, { strict }) is the test helper', async (t) => {
  const fx = makeLoop({ debug: true });
  fx.loop.setCreationSites('all'); // a site for every future, not only tasks
  let kept!: Future<void>;
  await fx.loop.runUntilComplete(function* () {
    kept = fx.loop.createFuture<void>();
    kept.setException(new RangeError('lost failure'));
    const seen = fx.loop.createFuture<void>();
    seen.setException(new Error('retrieved'));
    t.is(seen.exception()!.message, 'retrieved');
    const failedTask = createTask(function* () { yield; throw new TypeError('task failure'); }(), { name: 'dropper' });
    yield* sleep(1);
    t.true(failedTask.done());
  }());
  const e = t.throws(() => fx.loop.close({ strict: true }), { instanceOf: LeakError })!;
  t.deepEqual(e.leaks.map((l) => l.replace(/, created .*/, ', created …')), [
    'Future failed and nobody retrieved its exception: RangeError: lost failure, created …',
    'Task dropper failed and nobody retrieved its exception: TypeError: task failure, created …',
  ]);
  t.regex(e.leaks[0]!, /created at .*shutdown\.test\.ts:\d+:\d+/, 'debug mode records where a future was made');
  t.is(kept.exception()!.message, 'lost failure');

  const { run, VirtualClock } = await import('../../src/index.js');
  t.is(await run(function* () { yield* sleep(5); return 'clean'; }, { strict: true, clock: new VirtualClock({ autoJump: true }) }), 'clean');
  const leak = await t.throwsAsync(run(function* () {
    createTask(function* () { yield* sleep(60); }(), { name: 'background' });
    yield* sleep(1);
    return 'leaky';
  }, { strict: true, clock: new VirtualClock({ autoJump: true }) }), { instanceOf: LeakError });
  t.regex(leak!.leaks.join('\n'), /task background still pending, waiting on sleep until t=60\.000/);
  t.regex(leak!.leaks.join('\n'), /1 timer still armed/);
  await t.throwsAsync(run(function* () { yield; throw new Error('main failed'); }, { strict: true }), { message: 'main failed' });
});

test('a failure handed to an awaiting async function counts as retrieved (no leak report)', async (t) => {
  const fx = makeLoop();
  const caught = await fx.loop.runUntilComplete(async () => {
    const f = fx.loop.createFuture<void>();
    fx.loop.callSoon(() => f.setException(new Error('later')));
    try { await f; return 'no error'; } catch (e) { return (e as Error).message; }
  });
  t.is(caught, 'later');
  t.notThrows(() => fx.loop.close({ strict: true }));
});

test('cancel(msg) carries reason { kind: "user", message }', async (t) => {
  await runVirtual(t, function* () {
    const task = createTask(function* () { yield* sleep(10); }());
    yield;
    task.cancel('enough');
    const e = (yield* settle(task)) as CancelledError;
    t.deepEqual(e.reason, { kind: 'user', message: 'enough' });
  });
});

test('signalFor(task) aborts on cancel(); cancelOn(signal) cancels; no listener is left behind', async (t) => {
  await runVirtual(t, function* () {
    const task = createTask(function* () { yield* sleep(10); }());
    const signal = signalFor(task);
    t.false(signal.aborted);
    yield;
    task.cancel('stop');
    t.true(signal.aborted);
    t.true(signal.reason instanceof CancelledError);
    yield* settle(task);
    const done = createTask(function* () { yield; }());
    yield* done;
    t.false(signalFor(done).aborted);
    const ac = new AbortController();
    const victims: Future<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const v = createTask(function* () { yield* sleep(i === 0 ? 1 : 10); }());
      cancelOn(ac.signal, v);
      victims.push(v);
    }
    yield* victims[0]!; // finished normally: its listener is gone
    ac.abort(new Error('shutting down'));
    const e = (yield* settle(victims[1]!)) as CancelledError;
    t.deepEqual(e.reason, { kind: 'user', message: 'shutting down' });
    t.true(victims[2]!.cancelled());
    const already = createTask(function* () { yield* sleep(1); }());
    cancelOn(AbortSignal.abort('now'), already);
    t.true((yield* settle(already)) instanceof CancelledError);
    const keep = createTask(function* () { yield* sleep(1); return 'kept'; }());
    const detach = cancelOn(new AbortController().signal, keep);
    detach();
    t.is(yield* keep, 'kept');
  });
  const fx = makeLoop();
  t.throws(() => signalFor(null));
  t.throws(() => cancelOn(new AbortController().signal, null));
  fx.loop.close();
});

test('server.stop({ grace }): stops accepting, lets a connection finish, aborts the rest after grace', async (t) => {
  const loop = new EventLoop();
  const out = await loop.runUntilComplete(function* (): Coroutine<string[]> {
    const slowRead = loop.createFuture<void>();
    const server = yield* startServer(function* (r, w): Coroutine<void> {
      const line = (yield* r.readLine()).toString();
      if (line === 'quick\n') { w.write('done\n'); w.close(); }
      else slowRead.setResult();
    }, '127.0.0.1', 0);
    const port = server.sockets[0]!.port;
    const [r1, w1] = yield* openConnection('127.0.0.1', port);
    const [r2, w2] = yield* openConnection('127.0.0.1', port);
    w2.write('slow\n');
    yield* slowRead; // the server has read it and goes on holding that connection
    const stopping = server.stop({ grace: 0.3 });
    w1.write('quick\n');
    const quick = (yield* r1.read()).toString();
    const slow = yield* settle(r2.read());
    yield* stopping;
    w1.close(); w2.close();
    const refused = yield* settle(openConnection('127.0.0.1', port));
    return [quick, slow instanceof Error ? 'reset' : `eof ${(slow as Buffer).length}`, (refused as NodeJS.ErrnoException).code ?? 'connected'];
  }());
  loop.close();
  t.deepEqual(out, ['done\n', 'eof 0', 'ECONNREFUSED']);
});

test('watchPath delivers change events to a reader, in order, and queues them while nobody reads', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tulip-watch-'));
  const events = await runReal(t, function* () {
    const w = watchPath(dir);
    const seen: string[] = [];
    fs.writeFileSync(path.join(dir, 'a.txt'), 'one'); // before anyone reads: queued
    for (;;) {
      const r = yield* w.next();
      if (r.done) break;
      if (!seen.includes(r.value.filename!)) seen.push(r.value.filename!);
      if (r.value.filename === 'a.txt' && !seen.includes('b.txt')) fs.writeFileSync(path.join(dir, 'b.txt'), 'two');
      if (r.value.filename === 'b.txt') w.close();
    }
    return seen;
  });
  t.deepEqual(events, ['a.txt', 'b.txt']);
});

test('watchPath: close() ends the iteration, a cancelled reader closes the watcher, a missing path throws', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tulip-watch-'));
  await runVirtual(t, function* () {
    const w = watchPath(dir);
    const pending = w.next();
    w.close();
    t.true((yield* pending).done === true);
    t.true((yield* w.next()).done === true);
    const w2 = watchPath(dir);
    const reader = createTask(function* () { return yield* w2.next(); }());
    yield;
    reader.cancel();
    t.true((yield* settle(reader)) instanceof CancelledError);
    t.true((yield* w2.next()).done === true, 'the watcher closed with its reader');
    const it = w2[Symbol.asyncIterator]();
    t.deepEqual(yield* fromPromise(it.return!()), { value: undefined, done: true });
  });
  t.throws(() => watchPath(path.join(dir, 'missing')), { code: 'ENOENT' });
});
