// Event: asyncio's Event. set() wakes every waiter; a cancelled waiter just leaves the list.

import type { Future } from '../tasks/future.js';
import { doneFuture, doneTrue, enqueue, type WaiterFuture } from './waiters.js';

/** asyncio: `Event`. */
export class Event {
  #set = false;
  #waiters: WaiterFuture<true>[] & { owner?: object } = this.#list();

  /** asyncio: `Event.is_set`. */
  isSet(): boolean {
    return this.#set;
  }

  /** asyncio: `Event.set`. Wakes every waiter. */
  set(): void {
    if (this.#set) return;
    this.#set = true;
    const waiters = this.#waiters;
    this.#waiters = this.#list();
    for (const w of waiters) {
      w._list = null;
      w._finish(true);
    }
  }

  /** asyncio: `Event.clear`. */
  clear(): void {
    this.#set = false;
  }

  /** asyncio: `Event.wait`. A Future of true once the event is set. */
  wait(): Future<true> {
    if (this.#set) return doneTrue();
    return enqueue<true>(this.#waiters);
  }

  #list(): WaiterFuture<true>[] & { owner?: object } {
    return Object.assign([] as WaiterFuture<true>[], { owner: this });
  }

  toString(): string {
    return `<Event [${this.#set ? 'set' : 'unset'}] waiters=${this.#waiters.length}>`;
  }
}
