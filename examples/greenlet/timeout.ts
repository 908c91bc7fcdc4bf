// gevent tutorial, "Timeouts": a Timeout raised inside the greenlet that waits too long.
import { spawn, sleep, Timeout } from 'tulip/greenlet';
import type { Coroutine } from 'tulip';

function* main(): Coroutine<void> {
  const timeout = Timeout.startNew(1);
  try {
    yield* sleep(10); // interrupted here after one second
  } catch (error) {
    if (error !== timeout) throw error;
    console.log('Could not complete');
  } finally {
    timeout.cancel();
  }
}

await spawn(main).join();
