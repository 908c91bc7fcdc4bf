// Scheduler micro-benchmarks on Tulip, printed as JSON lines: the cases of
// ../shared/bench/peers/loop_asyncio.py, same names and sizes, so `bench/run.mjs` can put them
// beside Python asyncio, uvloop, Effection and bare Node from one run. Generator tasks unless
// the case name ends in `_async` (async-function tasks, which pay for AsyncLocalStorage).
// Usage: node --expose-gc dist/bench/loop.js [--n N] [--debug] [--sites first|each] [--watchdog]
import { parseArgs } from 'node:util';
import {
  EventLoop, Event, Lock, Queue, createTask, gather, sleep, startWatchdog, type Coroutine, type Future,
} from '../src/index.js';

const { values } = parseArgs({ options: {
  n: { type: 'string', default: '200000' }, only: { type: 'string', default: '' },
  // --debug: the loop's debug mode (creation sites for the task tree, slow-callback timing).
  debug: { type: 'boolean', default: false },
  // --sites first: creation sites once per coroutine function (the task tree's cheap mode).
  sites: { type: 'string', default: 'off' },
  // --watchdog: startWatchdog({ threshold: 0.5 }) running through the cases.
  watchdog: { type: 'boolean', default: false },
} });
const watchdog = values.watchdog ? startWatchdog({ threshold: 0.5 }) : null;
if (watchdog !== null) await watchdog.ready;
const N = Number(values.n);
const now = (): number => performance.now() / 1000;
const emit = (c: string, n: number, seconds: number, extra: Record<string, unknown> = {}): void => {
  console.log(JSON.stringify({ impl: 'tulip', case: c, n, seconds, per_second: n / seconds, ...extra }));
};

function* pingpongQueue(n: number): Coroutine<void> {
  const q1 = new Queue<number>(), q2 = new Queue<number>();
  const pong = createTask(function* () { for (let i = 0; i < n; i++) q2.putNowait(yield* q1.get()); }());
  const t0 = now();
  for (let i = 0; i < n; i++) {
    q1.putNowait(i);
    yield* q2.get();
  }
  yield* pong;
  emit('pingpong_queue', n, now() - t0);
}

function* pingpongFuture(loop: EventLoop, n: number): Coroutine<void> {
  const box = { a: loop.createFuture<void>(), b: loop.createFuture<void>() };
  const pong = createTask(function* () {
    for (let i = 0; i < n; i++) {
      yield* box.a;
      box.a = loop.createFuture();
      box.b.setResult();
    }
  }());
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const b = box.b;
    box.a.setResult();
    yield* b;
    box.b = loop.createFuture();
  }
  yield* pong;
  emit('pingpong_future', n, now() - t0);
}

async function pingpongFutureAsync(loop: EventLoop, n: number): Promise<void> {
  const box = { a: loop.createFuture<void>(), b: loop.createFuture<void>() };
  const pong = createTask(async () => {
    for (let i = 0; i < n; i++) {
      await box.a;
      box.a = loop.createFuture();
      box.b.setResult();
    }
  });
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const b = box.b;
    box.a.setResult();
    await b;
    box.b = loop.createFuture();
  }
  await pong;
  emit('pingpong_future_async', n, now() - t0);
}

function* callSoonChain(loop: EventLoop, n: number): Coroutine<void> {
  const done = loop.createFuture<void>();
  let count = 0;
  const cb = (): void => {
    if (++count < n) loop.callSoon(cb);
    else done.setResult();
  };
  const t0 = now();
  loop.callSoon(cb);
  yield* done;
  emit('call_soon_chain', n, now() - t0);
}

function* sleep0(n: number): Coroutine<void> {
  const t0 = now();
  for (let i = 0; i < n; i++) yield* sleep(0);
  emit('sleep0', n, now() - t0);
}

function* timers(loop: EventLoop, n: number): Coroutine<void> {
  const done = loop.createFuture<void>();
  let left = n;
  const fire = (): void => { if (--left === 0) done.setResult(); };
  const t0 = now();
  for (let i = 0; i < n; i++) loop.callLater((i % 1000) / 1e6, fire);
  yield* done;
  emit('timers', n, now() - t0);
}

// One generator function for all tasks, as the peers use one coroutine function: a function*
// expression evaluated per task gives each generator its own prototype, hence its own hidden
// class in V8 (about 3 us each; see docs/tasks.md).
function* waitOn(ev: Event): Coroutine<void> {
  yield* ev.wait();
}

function* manyTasks(n: number): Coroutine<void> {
  const ev = new Event();
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = now();
  const tasks: Future<unknown>[] = [];
  for (let i = 0; i < n; i++) tasks.push(createTask(waitOn(ev)));
  yield* sleep(0); // every task has started and is parked on the event
  const probe = now();
  globalThis.gc?.(); // count what the waiting tasks hold, not garbage from starting them
  const heap1 = process.memoryUsage().heapUsed;
  const probeSeconds = now() - probe; // not part of the scheduling cost
  ev.set();
  yield* gather(...tasks);
  emit('many_tasks', n, now() - t0 - probeSeconds, { kib_per_task: (heap1 - heap0) / 1024 / n });
}

function* lockContention(tasksCount: number, rounds: number): Coroutine<void> {
  const lock = new Lock();
  let inside = 0;
  const worker = function* (): Coroutine<void> {
    for (let i = 0; i < rounds; i++) {
      yield* lock.acquire();
      inside++;
      yield; // hold it across a turn, so the others queue up
      lock.release();
    }
  };
  const t0 = now();
  const all: Future<unknown>[] = [];
  for (let i = 0; i < tasksCount; i++) all.push(createTask(worker()));
  yield* gather(...all);
  if (inside !== tasksCount * rounds) throw new Error('lost an acquisition');
  emit('lock_contention', tasksCount * rounds, now() - t0, { tasks: tasksCount, rounds });
}

const only = values.only ? new RegExp(values.only) : null;
const want = (name: string): boolean => only === null || only.test(name);
const loop = new EventLoop({ debug: values.debug, creationSites: values.sites as 'off' | 'first' | 'each' });
// Each case runs as its own task, as each peer's case is its own async function or coroutine:
// its waits then resume the case's generator directly, not through this runner's yield* too
// (that extra frame per resume was 6% of pingpong_queue in a profile).
await loop.runUntilComplete(function* (): Coroutine<void> {
  if (want('pingpong_queue')) yield* createTask(pingpongQueue(N));
  if (want('pingpong_future')) yield* createTask(pingpongFuture(loop, N));
  if (want('call_soon_chain')) yield* createTask(callSoonChain(loop, N));
  if (want('sleep0')) yield* createTask(sleep0(N));
  if (want('timers')) yield* createTask(timers(loop, N / 10));
  if (want('many_tasks')) yield* createTask(manyTasks(N / 10));
  if (want('lock_contention')) yield* createTask(lockContention(100, 10_000));
}());
if (want('pingpong_future_async')) await loop.runUntilComplete(() => pingpongFutureAsync(loop, N));
loop.close();
watchdog?.stop();
