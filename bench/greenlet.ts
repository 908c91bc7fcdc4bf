// Greenlet-bridge micro-benchmarks, case by case as ../shared/bench/peers/loop_gevent.py,
// printed as JSON lines for bench/run.mjs. Usage: node --expose-gc dist/bench/greenlet.js [--n N]
import { parseArgs } from 'node:util';
import { EventLoop, type Coroutine } from '../src/index.js';
import { spawn, joinall, sleep, Queue, Event, Pool, type Greenlet } from '../src/greenlet/index.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' }, only: { type: 'string', default: '' } } });
const only = values.only ? new RegExp(values.only) : null;
const want = (name: string): boolean => only === null || only.test(name);
const N = Number(values.n);
const now = (): number => performance.now() / 1000;
const emit = (c: string, n: number, seconds: number, extra: Record<string, unknown> = {}): void => {
  console.log(JSON.stringify({ impl: 'tulip-greenlet', case: c, n, seconds, per_second: n / seconds, ...extra }));
};

function* pingpong(n: number): Coroutine<void> {
  const q1 = new Queue<number>(), q2 = new Queue<number>();
  const pong = spawn(function* () { for (let i = 0; i < n; i++) q2.putNowait(yield* q1.get()); });
  const t0 = now();
  for (let i = 0; i < n; i++) {
    q1.putNowait(i);
    yield* q2.get();
  }
  yield* pong.join();
  emit('greenlet_pingpong_queue', n, now() - t0);
}

function* sleep0(n: number): Coroutine<void> {
  const t0 = now();
  for (let i = 0; i < n; i++) yield* sleep(0);
  emit('greenlet_sleep0', n, now() - t0);
}

const identity = (i: number): number => i;

function* spawnJoin(n: number): Coroutine<void> {
  const t0 = now();
  const gs: Greenlet<number>[] = [];
  for (let i = 0; i < n; i++) gs.push(spawn(identity, i));
  yield* joinall(gs);
  emit('greenlet_spawn_joinall', n, now() - t0);
}

function* waitOn(ev: Event): Coroutine<boolean> {
  return yield* ev.wait();
}

function* manyWaiting(n: number): Coroutine<void> {
  const ev = new Event();
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = now();
  const gs: Greenlet<boolean>[] = [];
  for (let i = 0; i < n; i++) gs.push(spawn(waitOn, ev));
  yield* sleep(0);
  const probe = now();
  globalThis.gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  const probeSeconds = now() - probe;
  ev.set();
  yield* joinall(gs);
  emit('greenlet_many_waiting', n, now() - t0 - probeSeconds, { kib_per_greenlet: (heap1 - heap0) / 1024 / n });
}

const double = (i: number): number => i * 2;

function* poolMap(n: number): Coroutine<void> {
  const pool = new Pool(100);
  const items = Array.from({ length: n }, (_, i) => i);
  const t0 = now();
  const out = yield* pool.map(double, items);
  if (out[n - 1] !== 2 * (n - 1)) throw new Error('wrong result');
  emit('greenlet_pool_map', n, now() - t0);
}

const loop = new EventLoop();
await loop.runUntilComplete(function* (): Coroutine<void> {
  if (want('greenlet_pingpong_queue')) yield* pingpong(N);
  if (want('greenlet_sleep0')) yield* sleep0(N);
  if (want('greenlet_spawn_joinall')) yield* spawnJoin(N / 10);
  if (want('greenlet_many_waiting')) yield* manyWaiting(N / 10);
  if (want('greenlet_pool_map')) yield* poolMap(N / 10);
}());
loop.close();
