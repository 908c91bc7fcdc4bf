// local(): gevent's greenlet-local storage.
//
// The object returned is a Proxy whose attributes live per greenlet (per task outside
// greenlets, and one shared slot outside any task), found through getcurrent()/currentTask(),
// which work at any depth and across `await` (AsyncLocalStorage carries async tasks). Storage
// is held in a WeakMap, so it goes with its greenlet. An attribute never set reads undefined.

import { currentTask } from '../tasks/create-task.js';
import { getcurrent } from './hub.js';

const OUTSIDE = {};

/** gevent: `gevent.local.local()`. */
export function local<T extends Record<string, unknown> = Record<string, any>>(): T {
  const slots = new WeakMap<object, Record<string | symbol, unknown>>();
  const slot = (): Record<string | symbol, unknown> => {
    const owner: object = getcurrent() ?? currentTask() ?? OUTSIDE;
    let s = slots.get(owner);
    if (s === undefined) {
      s = Object.create(null) as Record<string | symbol, unknown>;
      slots.set(owner, s);
    }
    return s;
  };
  return new Proxy({} as T, {
    get: (_t, key) => slot()[key],
    set: (_t, key, value) => { slot()[key] = value; return true; },
    has: (_t, key) => key in slot(),
    deleteProperty: (_t, key) => delete slot()[key],
    ownKeys: () => Reflect.ownKeys(slot()),
    getOwnPropertyDescriptor: (_t, key) => {
      const s = slot();
      return key in s ? { value: s[key], writable: true, enumerable: true, configurable: true } : undefined;
    },
  });
}
