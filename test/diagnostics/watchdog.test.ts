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
  const waiting: Array<[(r: StallReport) => boolean, (r: StallReport) => void]> = [];
  const reportWhere = (pred: (r: StallReport) => boolean): Promise<StallReport> => new Promise((resolve) => {
    const hit = reports.find(pred);
    if (hit !== undefined) resolve(hit);
    else waiting.push([pred, resolve]);
  });
  const wd = startWatchdog({
    threshold: 0.05,
    stderr: false,
    onStall: (r) => {
      reports.push(r);
      for (const [pred, resolve] of waiting) if (pred(r)) resolve(r);
    },
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
  const first = await reportWhere((r) => r.culprit === 'cruncher');
  const second = await reportWhere((r) => r.stack.some((f) => f.startsWith('plainCallback (')));
  t.true(first.stack.some((f) => f.startsWith('spinUntilCaptured (')), first.stack.join('\n'));
  t.true(first.stack.some((f) => f.includes('watchdog.test.ts')));
  t.true(first.blockedFor >= 0.05);
  t.true(first.duration >= first.blockedFor);
  t.true(second.blockedFor >= 0.1, 'sampled again at twice the threshold');
  t.is(second.duration, first.duration, 'one stall');
  t.regex(second.culprit ?? '', /^a callback of <EventLoop/);
  // Those reports arrived, so the watchdog saw the thread turn: a new stall is a new report.
  const before = wd.captures;
  (function laterStall() { spinUntilCaptured(wd, before); })();
  const later = await reportWhere((r) => r.stack.some((f) => f.startsWith('laterStall (')));
  t.is(later.culprit, null);
  t.true(later.blockedFor >= 0.05);
  t.throws(() => startWatchdog({ threshold: 0 }), { instanceOf: RangeError });
});
