// Errors of the sync layer, one per failure a caller can act on (asyncio's names).

/** asyncio: `QueueEmpty`. `getNowait()` on an empty queue. */
export class QueueEmpty extends Error {
  constructor(message = 'queue is empty') { super(message); }
}
QueueEmpty.prototype.name = 'QueueEmpty';

/** asyncio: `QueueFull`. `putNowait()` on a full queue. */
export class QueueFull extends Error {
  constructor(message = 'queue is full') { super(message); }
}
QueueFull.prototype.name = 'QueueFull';

/** asyncio: `QueueShutDown` (3.13). The queue was shut down. */
export class QueueShutDown extends Error {
  constructor(message = 'queue is shut down') { super(message); }
}
QueueShutDown.prototype.name = 'QueueShutDown';

/** asyncio: `BrokenBarrierError`. The barrier was reset or aborted while waiting. */
export class BrokenBarrierError extends Error {
  constructor(message = 'barrier is broken') { super(message); }
}
BrokenBarrierError.prototype.name = 'BrokenBarrierError';
