// gevent tutorial, "Thread Locals": each greenlet sees only its own attributes.
import { spawn, joinall, local } from 'tulip/greenlet';

const stash = local<{ x?: number; y?: number }>();

function f1(): void {
  stash.x = 1;
  console.log(stash.x);
}

function f2(): void {
  stash.y = 2;
  console.log(stash.y);
  if (stash.x === undefined) console.log('x is not local to f2'); // gevent raises AttributeError
}

await joinall([spawn(f1), spawn(f2)]);
