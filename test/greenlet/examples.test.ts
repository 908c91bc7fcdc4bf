// The gevent tutorial's deterministic examples, ported, print exactly what the tutorial prints.
import test from 'ava';
import { execFileSync } from 'node:child_process';

const expected: Record<string, string[]> = {
  'switching.ts': ['Running in foo', 'Explicit context to bar', 'Explicit context switch to foo again', 'Implicit context switch back to bar'],
  'event.ts': ['A: Hey wait for me, I have to do something', ...Array(5).fill("I'll wait for you"), "Ok, I'm done", ...Array(5).fill("It's about time")],
  'async-result.ts': ['Hello!'],
  'queue.ts': [
    ...Array.from({ length: 24 }, (_, i) => `Worker ${['steve', 'john', 'nancy'][i % 3]} got task ${i + 1}`),
    'Quitting time!', 'Quitting time!', 'Quitting time!',
  ],
  'local.ts': ['1', '2', 'x is not local to f2'],
  'pool.ts': ['Size of pool 2', 'Size of pool 2', 'Size of pool 1'],
  'timeout.ts': ['Could not complete'],
};

for (const [file, lines] of Object.entries(expected)) {
  test(`examples/greenlet/${file} prints what gevent's tutorial prints`, (t) => {
    const out = execFileSync(process.execPath, ['--import=tsx', `examples/greenlet/${file}`], { encoding: 'utf8', timeout: 30000 });
    t.deepEqual(out.trim().split('\n'), lines);
  });
}
