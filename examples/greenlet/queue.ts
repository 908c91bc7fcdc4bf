// gevent tutorial, "Queues": a boss fills a queue, three workers drain it in turns.
import { spawn, joinall, sleep, Queue } from 'tulip/greenlet';
import type { Coroutine } from 'tulip';

const tasks = new Queue<number>();

function* worker(n: string): Coroutine<void> {
  while (!tasks.empty()) {
    const task = yield* tasks.get();
    console.log(`Worker ${n} got task ${task}`);
    yield* sleep(0);
  }
  console.log('Quitting time!');
}

function* boss(): Coroutine<void> {
  for (let i = 1; i < 25; i++) tasks.putNowait(i);
}

await spawn(boss).join();
await joinall([spawn(worker, 'steve'), spawn(worker, 'john'), spawn(worker, 'nancy')]);
