// cf. CPython Lib/test/test_asyncio/test_subprocess.py (the parts that apply; written fresh)
import test from 'ava';
import { runReal as runRealLoop } from '../helpers/run-virtual.js';
import {
  createSubprocessExec, createSubprocessShell, createTask, PIPE, DEVNULL, STDOUT, type Coroutine, type Future,
} from '../../src/index.js';

const runReal = <T>(t: import('ava').ExecutionContext, main: () => Coroutine<T>): Promise<T> => runRealLoop(t, main, 30);

function* settle<T>(f: Future<T>): Coroutine<unknown> {
  try { return yield* f; } catch (e) { return e; }
}

test('communicate() with several MiB each way does not deadlock', async (t) => {
  const [out, err, code] = await runReal(t, function* () {
    const input = Buffer.alloc(4 * 1024 * 1024, 'a');
    const p = yield* createSubprocessExec('sh', ['-c', 'cat; head -c 3000000 /dev/zero >&2'], { stdin: PIPE, stdout: PIPE, stderr: PIPE });
    t.true(p.pid > 0);
    const [o, e] = yield* p.communicate(input);
    return [o!.length, e!.length, p.returncode] as const;
  });
  t.deepEqual([out, err, code], [4 * 1024 * 1024, 3000000, 0]);
});

test('stdin writer and stdout reader talk line by line; wait() gives the return code', async (t) => {
  const lines = await runReal(t, function* () {
    const p = yield* createSubprocessShell('while read x; do echo "got $x"; done; exit 3', { stdin: PIPE, stdout: PIPE });
    const got: string[] = [];
    for (const word of ['a', 'b']) {
      p.stdin!.write(`${word}\n`);
      yield* p.stdin!.drain();
      got.push((yield* p.stdout!.readLine()).toString());
    }
    p.stdin!.close();
    t.is(yield* p.wait(), 3);
    t.is(p.returncode, 3);
    // wait() answers at the exit; the stdout pipe's EOF can come just after it (seen when other
    // processes exit at the same time), so read to EOF before the loop closes.
    t.is((yield* p.stdout!.read()).length, 0);
    t.regex(String(p), /returncode=3/);
    return got;
  });
  t.deepEqual(lines, ['got a\n', 'got b\n']);
});

test('DEVNULL and STDOUT: stderr merged into stdout, null where not piped', async (t) => {
  const r = await runReal(t, function* () {
    const p = yield* createSubprocessShell('echo out; echo err >&2', { stdin: DEVNULL, stdout: PIPE, stderr: STDOUT });
    t.is(p.stdin, null);
    t.is(p.stderr, null);
    const [o, e] = yield* p.communicate();
    return [o!.toString().split('\n').sort().join(','), e];
  });
  t.deepEqual(r, [',err,out', null]);
});

test('terminate() and kill() end a process; returncode is minus the signal number', async (t) => {
  const codes = await runReal(t, function* () {
    const a = yield* createSubprocessExec('sleep', ['30'], { stdout: DEVNULL });
    a.terminate();
    const b = yield* createSubprocessExec('sleep', ['30']);
    b.kill();
    const r = [yield* a.wait(), yield* b.wait()];
    b.sendSignal('SIGTERM'); // already exited: ignored
    return r;
  });
  t.deepEqual(codes, [-15, -9]);
});

test('a program that does not exist fails with ENOENT', async (t) => {
  const e = await runReal(t, function* () {
    return (yield* settle(createSubprocessExec('/nonexistent/program'))) as NodeJS.ErrnoException;
  });
  t.is(e.code, 'ENOENT');
});

test('communicate() when the child closes stdin early does not raise', async (t) => {
  const out = await runReal(t, function* () {
    const p = yield* createSubprocessShell('exec 0<&-; echo done', { stdin: PIPE, stdout: PIPE });
    const [o] = yield* p.communicate(Buffer.alloc(2 * 1024 * 1024));
    return o!.toString();
  });
  t.is(out, 'done\n');
});

test('writing to the stdin of a process that has exited: drain() raises, as asyncio\'s does', async (t) => {
  const e = await runReal(t, function* () {
    const p = yield* createSubprocessExec('true', [], { stdin: PIPE });
    t.is(yield* p.wait(), 0);
    p.stdin!.write(Buffer.alloc(1024 * 1024)); // EPIPE: Node destroys the pipe in this call, with no 'error'
    const error = yield* settle(p.stdin!.drain());
    p.stdin!.close();
    yield* settle(p.stdin!.waitClosed());
    return error;
  });
  t.true(e instanceof Error, 'not silently dropped');
  t.is((e as NodeJS.ErrnoException).code, 'ECONNRESET');
});

test('a process whose task is cancelled as it starts is killed; one cancelled while starting never runs on', async (t) => {
  await runReal(t, function* () {
    const starting = createSubprocessExec('sleep', ['30']);
    const task = createTask(function* () {
      starting.addDoneCallback(() => task.cancel()); // cancelled in the turn the process is ready
      return yield* starting;
    }());
    let outcome = 'resumed';
    try { yield* task; } catch (e) { outcome = (e as Error).name; }
    t.is(outcome, 'CancelledError');
    const abandoned = starting.result(); // nobody else holds it: it was killed
    t.is(yield* abandoned.wait(), -9);
    const cancelled = createSubprocessExec('sleep', ['30']);
    t.true(cancelled.cancel());
    t.true(cancelled.cancelled());
  });
});
