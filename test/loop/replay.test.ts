import test from 'ava';
import { EventLoop, VirtualClock, createTask, sleep, gather, type Coroutine } from '../../src/index.js';

/** A program with an ordering bug: `user` assumes `loader` runs first when both wake at t=1. */
function* racy(log: string[]): Coroutine<number> {
  let config: { port: number } | null = null;
  const loader = createTask(function* () { yield* sleep(1); config = { port: 80 }; log.push('loaded'); }(), { name: 'loader' });
  const user = createTask(function* () { yield* sleep(1); log.push('using'); return config!.port; }(), { name: 'user' });
  const [, port] = yield* gather(loader, user);
  return port;
}

async function runWith(seed: number | undefined): Promise<{ outcome: string; trace: string[]; log: string[] }> {
  const clock = new VirtualClock({ autoJump: true, seed, record: true });
  const loop = new EventLoop({ clock });
  const log: string[] = [];
  try {
    const port = await loop.runUntilComplete(loop.createTask(racy(log), { name: 'main' }));
    return { outcome: `port ${port}`, trace: clock.trace, log };
  } catch (e) {
    return { outcome: (e as Error).name, trace: clock.trace, log };
  } finally {
    loop.close();
  }
}

test('a seed permutes tied task steps; the same seed replays the same interleaving and the same failure', async (t) => {
  const fifo = await runWith(undefined);
  t.is(fifo.outcome, 'port 80'); // asyncio's FIFO order hides the bug
  t.deepEqual(fifo.log, ['loaded', 'using']);
  const outcomes = new Map<number, string>();
  for (let seed = 0; seed < 16; seed++) outcomes.set(seed, (await runWith(seed)).outcome);
  const failing = [...outcomes].find(([, o]) => o === 'TypeError');
  const passing = [...outcomes].find(([, o]) => o === 'port 80');
  t.truthy(failing, 'some seed orders user before loader');
  t.truthy(passing, 'some seed keeps loader first');
  const first = await runWith(failing![0]);
  const again = await runWith(failing![0]);
  t.is(first.outcome, 'TypeError');
  t.deepEqual(again, first);
  t.deepEqual(first.log, ['using', 'loaded']);
  t.true(first.trace.indexOf('user') < first.trace.lastIndexOf('loader'));
  t.notDeepEqual((await runWith(passing![0])).trace, first.trace);
});

test('a seeded clock keeps callSoon FIFO; record without a seed traces asyncio order', async (t) => {
  const clock = new VirtualClock({ autoJump: true, seed: 7, record: true });
  const loop = new EventLoop({ clock });
  const order: number[] = [];
  await loop.runUntilComplete(function* (): Coroutine<void> {
    for (let i = 0; i < 20; i++) loop.callSoon(function cb() { order.push(i); });
    yield* sleep(0);
  });
  loop.close();
  t.deepEqual(order, [...Array(20).keys()]);
  t.true(clock.trace.includes('<Handle cb>'));
  t.is(clock.seed, 7);

  const plain = new VirtualClock({ autoJump: true, record: true });
  const loop2 = new EventLoop({ clock: plain });
  await loop2.runUntilComplete(function* (): Coroutine<void> {
    const a = createTask(function* () { yield; }(), { name: 'a' });
    const b = createTask(function* () { yield; }(), { name: 'b' });
    yield* gather(a, b);
  });
  loop2.close();
  t.deepEqual(plain.trace.filter((x) => x === 'a' || x === 'b'), ['a', 'b', 'a', 'b', 'a', 'b']); // start, resume, done callbacks
  t.is(plain.seed, null);
  t.throws(() => new VirtualClock({ seed: 1.5 }), { instanceOf: TypeError });
  t.deepEqual(new VirtualClock().trace, []);
});
