// The public surface, pinned: a new public name is a deliberate change to this list.
import test from 'ava';
import * as tulip from '../src/index.js';
import * as greenlet from '../src/greenlet/index.js';

test("'tulip' exports exactly these names", (t) => {
  t.snapshot(Object.keys(tulip).sort());
});

test("'tulip/greenlet' exports exactly these names", (t) => {
  t.deepEqual(Object.keys(greenlet).sort(), [
    'AsyncResult', 'BoundedSemaphore', 'Channel', 'Empty', 'Event', 'Full', 'GreenSocket', 'Greenlet', 'GreenletExit',
    'Group', 'JoinableQueue', 'Lock', 'Pool', 'Queue', 'RLock', 'Semaphore', 'StreamServer', 'Timeout',
    'createConnection', 'futureToGreenlet', 'getcurrent', 'greenletToFuture', 'idle', 'iwait', 'joinall', 'killall',
    'local', 'signalHandler', 'sleep', 'spawn', 'spawnLater', 'wait', 'withTimeout',
  ]);
});
