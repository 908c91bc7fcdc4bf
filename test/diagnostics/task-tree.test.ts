import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createTask, sleep, Lock, Queue, EventLoop, formatTasks, type Coroutine } from '../../src/index.js';
import { spawn as gspawn } from '../../src/greenlet/index.js';
import { makeLoop } from '../helpers/run-virtual.js';

test('dumpTasks: a tree by creator, with what each task waits on (sleep, lock holder, queue, task, greenlet)', async (t) => {
  const fx = makeLoop({ debug: true });
  let text = '';
  await fx.loop.runUntilComplete(loopMain());
  function* loopMain(): Coroutine<void> {
    const lock = new Lock();
    const q = new Queue<number>();
    const holder = createTask(function* () { yield* lock.acquire(); yield* sleep(100); }(), { name: 'holder' });
    const worker = createTask(function* () {
      createTask(function* () { yield* q.get(); }(), { name: 'consumer' });
      yield* lock.acquire();
    }(), { name: 'worker' });
    const g = gspawn(function* () { yield* sleep(50); });
    g.name = 'green';
    const joiner = createTask(function* () { yield* holder; }(), { name: 'joiner' });
    yield* sleep(1);
    const tree = fx.loop.dumpTasks();
    text = fx.loop.formatTasks();
    const main = tree.find((n) => n.children.length > 0)!;
    const byName = new Map(main.children.map((c) => [c.name, c]));
    t.regex(byName.get('holder')!.waitingOn!, /sleep until t=100\.000/);
    t.regex(byName.get('worker')!.waitingOn!, /Lock \[locked by holder\] waiters=1/);
    t.is(byName.get('worker')!.children[0]!.name, 'consumer');
    t.regex(byName.get('worker')!.children[0]!.waitingOn!, /Queue maxsize=0/);
    t.is(byName.get('joiner')!.waitingOn, 'task holder');
    t.true(main.children.some((c) => c.greenlet === 'green' && c.state === 'waiting'));
    t.truthy(byName.get('holder')!.createdAt, 'debug mode records where a task was created');
    for (const x of [holder, worker, joiner]) x.cancel();
    yield* g.kill();
    yield* sleep(0);
  }
  fx.loop.close();
  t.regex(text, /├─ holder \[waiting\] waits on sleep until t=100\.000/);
  t.regex(text, /consumer \[waiting\] waits on <Queue/);
  t.is(formatTasks([]), '');
});

test("creationSites: 'first' records one site per coroutine function, 'each' one per task, 'off' none", async (t) => {
  const sites = async (mode: 'off' | 'first' | 'each'): Promise<Array<string | null>> => {
    const loop = new EventLoop({ creationSites: mode });
    const out: Array<string | null> = [];
    await loop.runUntilComplete(function* (): Coroutine<void> {
      function* job(): Coroutine<void> { yield; }
      const a = createTask(job(), { name: 'a' });
      const b = createTask(job(), { name: 'b' }); // a second call site, same function
      const c = createTask(function* other() { yield; }(), { name: 'c' });
      const tree = loop.dumpTasks().flatMap((n) => [n, ...n.children]);
      for (const name of ['a', 'b', 'c']) out.push(tree.find((n) => n.name === name)!.createdAt);
      yield* a; yield* b; yield* c;
    });
    loop.close();
    return out;
  };
  const first = await sites('first');
  t.regex(first[0]!, /task-tree\.test\.ts:\d+:\d+/);
  t.is(first[1], first[0], 'the first site of job() stands for every job() task');
  t.not(first[2], first[0]);
  const each = await sites('each');
  t.not(each[1], each[0]);
  t.regex(each[1]!, /task-tree\.test\.ts/);
  t.deepEqual(await sites('off'), [null, null, null]);
  const loop = new EventLoop({ debug: true, creationSites: 'first' });
  t.is(loop._sites, 2, 'debug mode captures each');
  loop.setDebug(false);
  t.is(loop._sites, 1);
  loop.setCreationSites('all');
  t.is(loop._sites, 3);
  loop.setDebug(true);
  t.is(loop._sites, 3, "debug mode keeps 'all'");
  t.throws(() => loop.setCreationSites('every' as 'each'), { instanceOf: TypeError });
  loop.close();
});

const child = (code: string) => spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20000 });

test('a main task waiting on a future nothing can complete raises DeadlockError (child process)', (t) => {
  const r = child(`
    import { run, Future, DeadlockError } from './src/index.ts';
    try {
      await run(function* () { yield* new Future(); });
    } catch (e) { console.log(e instanceof DeadlockError ? 'DeadlockError' : String(e)); console.log(e.message.split('\\n').slice(0, 2).join(' | ')); }`);
  t.is(r.status, 0, r.stderr);
  const [kind, msg] = r.stdout.trim().split('\n');
  t.is(kind, 'DeadlockError');
  t.regex(msg!, /nothing can wake it.* \| main \[waiting\] waits on <Future pending>/);
});

test('a lock cycle is reported as a wait-for cycle (child process)', (t) => {
  const r = child(`
    import { run, createTask, gather, sleep, Lock, DeadlockError } from './src/index.ts';
    const a = new Lock(), b = new Lock();
    try {
      await run(function* () {
        // A takes a, B takes b, each gives up one turn, then each wants the other's lock.
        const x = createTask(function* () { yield* a.acquire(); yield; yield* b.acquire(); }(), { name: 'A' });
        const y = createTask(function* () { yield* b.acquire(); yield; yield* a.acquire(); }(), { name: 'B' });
        yield* gather(x, y);
      });
    } catch (e) { console.log(e instanceof DeadlockError ? e.cycle.join(' -> ') : String(e)); }`);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout.trim(), /^(A -> B -> A|B -> A -> B)$/);
});

test('no deadlock is declared while a timer, a socket or a foreign timer can still wake the loop', async (t) => {
  const loop = new EventLoop();
  const f = loop.createFuture<string>();
  // The foreign timer is the subject, not a wait: it is pending when the loop first goes idle
  // (within microseconds), so the deadlock check must see it and stand down.
  setTimeout(() => f.setResult('woken by a foreign timer'), 5);
  t.is(await loop.runUntilComplete(f), 'woken by a foreign timer');
  loop.close();
});

test('run(main, { dumpOnSignal }) prints the task tree on that signal (child process)', (t) => {
  const r = child(`
    import { run, sleep, createTask, fromPromise } from './src/index.ts';
    await run(function* () {
      const napper = createTask(function* () { yield* sleep(60); }(), { name: 'napper' });
      yield; // napper waits now
      // A second listener, added after run's: it hears the signal once the dump is printed.
      const delivered = new Promise((resolve) => process.once('SIGUSR2', resolve));
      process.kill(process.pid, 'SIGUSR2');
      yield* fromPromise(delivered);
      napper.cancel();
    }, { dumpOnSignal: 'SIGUSR2' });`);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /main \[waiting\] waits on <Future pending>/);
  t.regex(r.stderr, /└─ napper \[waiting\] waits on sleep until/);
});

test('examples/diagnostics/tour.ts prints each report the docs quote (child process)', (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', 'examples/diagnostics/tour.ts'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const out = r.stdout;
  t.regex(out, /^main \[running\]\n {2}created at .*examples\/diagnostics\/tour\.ts:\d+:\d+\)$/m);
  t.regex(out, /├─ reader \[waiting\] waits on <Lock \[locked by writer\] waiters=1>/);
  t.regex(out, /└─ Task-\d+ \(greenlet Greenlet-\d+\) \[waiting\] waits on <gevent Event unset>/);
  t.regex(out, /DeadlockError: deadlock: wait-for cycle transfer-1 -> transfer-2 -> transfer-1/);
  t.regex(out, /task forgotten-listener still pending, waiting on <Event \[unset\] waiters=1>, created at .*tour\.ts/);
  t.regex(out, /slow request: \{"kind":"timeout","deadline":2\}/);
  t.regex(out, /sibling: \{"kind":"sibling-failed","error":"Error: upstream refused"\}/);
  t.regex(out, /user-cancelled: \{"kind":"user","message":"operator asked"\}/);
  t.regex(out, /seed \d+ fails; replayed: fails again, same trace: true/);
  t.regex(r.stderr, /tulip watchdog: main thread blocked for \d+\.\d+ s in report-builder\n {4}at checksumEverything \(/);
});
