// gevent tutorial, "Synchronous & Asynchronous Execution": two greenlets hand control back and
// forth at each sleep(0). Prints the same four lines on every run.
import { spawn, joinall, sleep } from 'tulip/greenlet';
import type { Coroutine } from 'tulip';

function* foo(): Coroutine<void> {
  console.log('Running in foo');
  yield* sleep(0);
  console.log('Explicit context switch to foo again');
}

async function bar(): Promise<void> {
  console.log('Explicit context to bar');
  await sleep(0);
  console.log('Implicit context switch back to bar');
}

await joinall([spawn(foo), spawn(bar)]);
