// gevent tutorial, "Events": one setter, several waiters blocked on the same Event.
import { spawn, joinall, sleep, Event } from 'tulip/greenlet';
import type { Coroutine } from 'tulip';

const evt = new Event();

function* setter(): Coroutine<void> {
  console.log('A: Hey wait for me, I have to do something');
  yield* sleep(3);
  console.log("Ok, I'm done");
  evt.set();
}

function* waiter(): Coroutine<void> {
  console.log("I'll wait for you");
  yield* evt.wait();
  console.log("It's about time");
}

await joinall([spawn(setter), spawn(waiter), spawn(waiter), spawn(waiter), spawn(waiter), spawn(waiter)]);
