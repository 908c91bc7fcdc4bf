// 'tulip/greenlet': gevent's API on Tulip's loop. Named re-exports only; test/greenlet pins them.

export { Greenlet, spawn, spawnLater } from './greenlet.js';
export type { GreenletBody } from './greenlet.js';
export { GreenletExit, Empty, Full, getcurrent } from './hub.js';
export { Timeout, withTimeout } from './timeout.js';
export { Event, AsyncResult } from './event.js';
export { Queue, JoinableQueue, Channel } from './queue.js';
export { Semaphore, BoundedSemaphore, Lock, RLock } from './locks.js';
export { Group, Pool } from './group.js';
export { joinall, killall, wait, iwait, sleep, idle } from './waiting.js';
export type { Waitable, FutureIterator } from './waiting.js';
export { local } from './local.js';
export { StreamServer, GreenSocket, createConnection } from './stream-server.js';
export { greenletToFuture, futureToGreenlet, signalHandler } from './bridge.js';
