// ClientTasks: the client tasks (or greenlets) the proxy is serving, for the graceful stop and
// the tests. Each request takes a numbered place on arrival and empties it when done.
//
// Not a Set: a Set that gains and loses a member per request is rebuilt by V8 every few
// requests, and its promoted old tables keep every task they held (with its sockets and
// buffers) alive through young-generation GCs; an emptied place keeps nothing. Tulip's Server
// tracks its connections the same way (src/loop/roster.ts has the measurements).

import type { Task } from 'tulip';

export class ClientTasks {
  readonly #places: Array<Task<unknown> | null> = [];
  readonly #vacant: number[] = [];
  #count = 0;

  /** How many are being served. */
  get size(): number {
    return this.#count;
  }

  /** Registers `task`; returns its place, for leave(). */
  enter(task: Task<unknown>): number {
    const place = this.#vacant.pop() ?? this.#places.length;
    this.#places[place] = task;
    this.#count++;
    return place;
  }

  leave(place: number): void {
    if (this.#places[place] == null) return; // already left (or never a place)
    this.#places[place] = null;
    this.#vacant.push(place);
    this.#count--;
  }

  /** The tasks being served now. */
  list(): Array<Task<unknown>> {
    return this.#places.filter((t): t is Task<unknown> => t !== null);
  }
}
