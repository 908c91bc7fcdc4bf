import test from 'ava';
import { sleep } from '../../src/index.js';
import { IdleWatch } from '../../examples/warp-proxy/relay.js';
import { runVirtual } from '../helpers/run-virtual.js';

test('IdleWatch: a watch with no byte fires 1 to 1.5x its timeout after its last byte; a busy one never; one timer serves them all and goes with the last', async (t) => {
  await runVirtual(t, function* ({ loop }) {
    const fired: Array<[string, number]> = [];
    const watch = (name: string): IdleWatch => new IdleWatch(2, () => fired.push([name, loop.time()]));
    const quiet = watch('quiet'), busy = watch('busy'), late = watch('late'), stopped = watch('stopped');
    t.is(loop.scheduledTimers(), 0, 'no timer before a watch starts');
    const t0 = loop.time();
    quiet.start();
    busy.start();
    stopped.start();
    t.is(loop.scheduledTimers(), 1, 'watches share one timer');
    yield* sleep(0.3);
    late.start(); // joins between two looks
    late.touch();
    const lateAt = loop.time();
    for (let i = 0; i < 10; i++) {
      yield* sleep(0.5);
      busy.touch();
      if (i === 1) stopped.stop();
    }
    t.deepEqual(fired.map(([n]) => n).sort(), ['late', 'quiet']);
    const at = new Map(fired);
    t.true(at.get('quiet')! - t0 >= 2 && at.get('quiet')! - t0 <= 3, `quiet fired at +${at.get('quiet')! - t0}`);
    t.true(at.get('late')! - lateAt >= 2 && at.get('late')! - lateAt <= 3, `late fired at +${at.get('late')! - lateAt}`);
    t.true(quiet.fired && late.fired && !busy.fired && !stopped.fired);
    quiet.stop(); // after it fired: nothing to do
    busy.stop();
    t.is(loop.scheduledTimers(), 0, 'the timer goes with the last watch');
    busy.start(); // watched again later: the timer comes back
    t.is(loop.scheduledTimers(), 1);
    busy.stop();
    t.is(loop.scheduledTimers(), 0);
  });
});
