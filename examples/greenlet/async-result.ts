// gevent tutorial, "AsyncResult": a value handed from one greenlet to another, later.
import { spawn, joinall, sleep, AsyncResult } from 'tulip/greenlet';
import type { Coroutine } from 'tulip';

const a = new AsyncResult<string>();

function* setter(): Coroutine<void> {
  yield* sleep(3);
  a.set('Hello!');
}

function* waiter(): Coroutine<void> {
  console.log(yield* a.get());
}

await joinall([spawn(setter), spawn(waiter)]);
