// The watchdog must see a stall while it happens, so these tests really block the main thread:
// each busy loop spins until the watchdog thread says it has the stack (never on a fixed time).
// The second test runs serially: two watchdogs pausing the main thread at once would each see
// the other's stall.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { EventLoop, startWatchdog, type Coroutine, type StallReport } from '../../src/index.js';

/** Blocks until `k` captures begun after this call are done. Not `captures + k`: a capture of
 *  an earlier stall (module loading under load can pass the 50 ms threshold) still under way
 *  when the spin starts would end it before its own stall was seen, and the report the test
 *  then waits for would never come (two full `npm test` runs on this VM hung that way). */
/** Resolves once the watchdog thread has seen the main thread turn: a stall begun after this
 *  is a new one, sampled from its threshold on. Without it, a stall made in the same turn as
 *  an earlier one (the test's own start, under load: 1.5 s seen) continues it, its next samples
 *  seconds apart, and a spin waiting for two of them outlasted its limit (two full `npm test`
 *  runs timed out that way). Waits on the watchdog's count, polled between turns. */
async function turned(wd: { _turnsSeen: number }): Promise<void> {
  const seen = wd._turnsSeen;
  while (wd._turnsSeen === seen) await new Promise((resolve) => setImmediate(resolve));
}

function spinUntilCaptured(wd: { captures: number; _capturesStarted: number }, k: number): void {
  const target = wd._capturesStarted + k;
  // A broken watchdog fails the test instead of hanging it.
  const limit = performance.now() + 30_000;
  while (wd.captures < target && performance.now() < limit) { /* the stall under test */ }
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
  await turned(wd);
  const loop = new EventLoop();
  await loop.runUntilComplete(function* (): Coroutine<void> {
    // Each spin waits for captures made while it runs (counting from its own start), so a
    // sample that lands between two of them cannot end the next one early.
    yield* loop.createTask(function* () { spinUntilCaptured(wd, 1); }(), { name: 'cruncher' });
    const done = loop.createFuture<void>();
    loop.callSoon(function plainCallback() { spinUntilCaptured(wd, 2); done.setResult(); });
    yield* done;
  });
  loop.close();
  const first = await reportWhere((r) => r.culprit === 'cruncher');
  t.true(first.stack.some((f) => f.startsWith('spinUntilCaptured (')), first.stack.join('\n'));
  t.true(first.stack.some((f) => f.includes('watchdog.test.ts')));
  t.true(first.blockedFor >= 0.05);
  t.true(first.duration >= first.blockedFor);
  // One callback stuck long enough for two samples: the stall is sampled again at 2x.
  const inCallback = (r: StallReport): boolean => r.stack.some((f) => f.startsWith('plainCallback ('));
  const resampled = await reportWhere((r) => inCallback(r) && r.blockedFor >= 0.1);
  t.regex(resampled.culprit ?? '', /^a callback of <EventLoop/);
  await reportWhere((r) => inCallback(r) && r !== resampled); // the other sample of that stall
  t.true(resampled.duration >= resampled.blockedFor);
  // Those reports arrived, so the watchdog saw the thread turn: a new stall is a new report.
  await turned(wd);
  (function laterStall() { spinUntilCaptured(wd, 1); })();
  const later = await reportWhere((r) => r.stack.some((f) => f.startsWith('laterStall (')));
  t.is(later.culprit, null);
  t.true(later.blockedFor >= 0.05);
  t.throws(() => startWatchdog({ threshold: 0 }), { instanceOf: RangeError });
});

test.serial("a stall inside Node's own code is reported from the program's frame that called it", async (t) => {
  const reports: StallReport[] = [];
  let got: (r: StallReport) => void = () => {};
  const wanted = new Promise<StallReport>((resolve) => { got = resolve; });
  const wd = startWatchdog({ threshold: 0.05, stderr: false, onStall: (r) => { reports.push(r); if (r.stack.some((f) => f.includes('inspectingStall'))) got(r); } });
  t.teardown(() => wd.stop());
  await wd.ready;
  await turned(wd);
  // Nearly all of this spin is in node:internal/util/inspect, so the pause lands there.
  const big = Array.from({ length: 2000 }, (_, i) => ({ i, s: `item ${i}`, nested: { list: [i, i + 1, i + 2] } }));
  (function inspectingStall() {
    const target = wd._capturesStarted + 1;
    const limit = performance.now() + 30_000;
    while (wd.captures < target && performance.now() < limit) inspect(big, { depth: 4 });
  })();
  const r = await wanted;
  t.true(r.stack[0]!.startsWith('inspectingStall ('), r.stack.slice(0, 4).join('\n'));
});

test("a program spinning on the watchdog's own captures count is reported from its frame, not the getter's (child process)", async (t) => {
  // Interpreted (--no-opt --no-sparkplug), the getter is a frame of its own and the pause lands
  // in it about half the time: the report used to start there.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tulip-wd-'));
  const file = path.join(dir, 'spin.mts'); // .mts: an ES module wherever it lies
  fs.writeFileSync(file, `import { startWatchdog } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)};
const wd = startWatchdog({ threshold: 0.05 });
await wd.ready;
function spinOnCaptures(): void {
  for (let k = 0; k < 3; k++) {
    const seen = wd.captures, end = performance.now() + 10000;
    while (wd.captures === seen && performance.now() < end) {}
  }
}
spinOnCaptures();
wd.stop();
export {};
`);
  const r = spawnSync(process.execPath, ['--no-opt', '--no-sparkplug', '--import=tsx', file], { encoding: 'utf8', timeout: 60_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  t.is(r.status, 0, r.stderr);
  // The reports of the spin (a stall before it, while the child was still loading under load,
  // is reported from wherever it was and is not this test's business) start at its frame.
  const reports = r.stderr.split(/(?=tulip watchdog: main thread blocked)/).filter((b) => b.includes(' at spinOnCaptures ('));
  t.true(reports.length >= 3, r.stderr);
  for (const b of reports) t.regex(b, /blocked for [\d.]+ s\n {4}at spinOnCaptures \(/, b);
});
