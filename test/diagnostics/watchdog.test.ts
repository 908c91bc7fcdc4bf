// The watchdog must see a stall while it happens, so these tests really block the main thread:
// each busy loop spins until the watchdog thread says it has the stack (never on a fixed time).
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { EventLoop, startWatchdog, type Coroutine, type StallReport } from '../../src/index.js';

function spinUntilCaptured(wd: { captures: number }, before: number): void {
  const limit = performance.now() + 20_000; // a broken watchdog fails the test instead of hanging it
  while (wd.captures === before && performance.now() < limit) { /* the stall under test */ }
}

test('startWatchdog names the task or callback holding the main thread and its stack, while it is stuck', async (t) => {
  const reports: StallReport[] = [];
  let delivered!: () => void;
  const twoReports = new Promise<void>((resolve) => { delivered = resolve; });
  let third!: () => void;
  const threeReports = new Promise<void>((resolve) => { third = resolve; });
  const wd = startWatchdog({
    threshold: 0.05,
    stderr: false,
    onStall: (r) => { reports.push(r); if (reports.length === 2) delivered(); if (reports.length === 3) third(); },
  });
  t.teardown(() => wd.stop());
  await wd.ready;
  const loop = new EventLoop();
  await loop.runUntilComplete(function* (): Coroutine<void> {
    yield* loop.createTask(function* () { spinUntilCaptured(wd, 0); }(), { name: 'cruncher' });
    // The next callback keeps the thread stuck: the same stall, sampled again, names it.
    const done = loop.createFuture<void>();
    loop.callSoon(function plainCallback() { spinUntilCaptured(wd, 1); done.setResult(); });
    yield* done;
  });
  loop.close();
  await twoReports;
  t.is(wd.captures, 2);
  const [first, second] = reports as [StallReport, StallReport];
  t.is(first.culprit, 'cruncher');
  t.true(first.stack.some((f) => f.startsWith('spinUntilCaptured (')), first.stack.join('\n'));
  t.true(first.stack.some((f) => f.includes('watchdog.test.ts')));
  t.true(first.blockedFor >= 0.05);
  t.true(first.duration >= first.blockedFor);
  t.true(second.blockedFor >= 0.1);
  t.is(second.duration, first.duration);
  t.regex(second.culprit ?? '', /^a callback of <EventLoop/);
  t.true(second.stack.some((f) => f.startsWith('plainCallback (')), second.stack.join('\n'));
  // The reports arrived, so the watchdog saw the thread turn: a new stall is a new report.
  (function laterStall() { spinUntilCaptured(wd, 2); })();
  await threeReports;
  t.is(reports[2]!.culprit, null);
  t.true(reports[2]!.stack.some((f) => f.startsWith('laterStall (')));
  t.true(reports[2]!.blockedFor < second.blockedFor);
  t.throws(() => startWatchdog({ threshold: 0 }), { instanceOf: RangeError });
});
