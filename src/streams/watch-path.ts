// watchPath: file-system change events as an async iterator over fs.watch.
//
// Each event is { eventType: 'rename' | 'change', filename }. Events that arrive while nobody
// is reading are queued (coalescing is the OS's business, as with fs.watch). close() stops the
// watcher; so does leaving a `for await` loop (return()) and, because the iterator's next() is
// a Tulip Future, cancelling the task that waits on it: the watcher never outlives its reader.

import type { FSWatcher } from 'node:fs';
import { fsModule } from '../loop/lazy.js';
import { getEventLoop } from '../loop/running.js';
import { Future } from '../tasks/future.js';

export interface WatchEvent { eventType: string; filename: string | null }

/** Project only. Watches `path` (a file or a directory; `recursive` where the OS supports it). */
export function watchPath(path: string, options: { recursive?: boolean } = {}): PathWatcher {
  return new PathWatcher(path, options.recursive ?? false);
}

export class PathWatcher implements AsyncIterable<WatchEvent> {
  #watcher: FSWatcher | null;
  #events: WatchEvent[] = [];
  #waiter: Future<IteratorResult<WatchEvent>> | null = null;
  #error: unknown = null;

  /** @internal */
  constructor(path: string, recursive: boolean) {
    this.#watcher = fsModule().watch(path, { recursive }, (eventType, filename) => this.#push({ eventType, filename: filename === null ? null : String(filename) }));
    this.#watcher.on('error', (error) => {
      this.#error = error;
      this.#flush();
    });
  }

  #push(event: WatchEvent): void {
    const w = this.#waiter;
    if (w !== null && !w.done()) {
      this.#waiter = null;
      w._finish({ value: event, done: false });
    } else this.#events.push(event);
  }

  #flush(): void {
    const w = this.#waiter;
    this.#waiter = null;
    if (w === null || w.done()) return;
    if (this.#error !== null) w._fail(this.#error);
    else w._finish({ value: undefined, done: true });
  }

  /** The next event (a Future: `yield*` it, or `await` it). Done once closed. */
  next(): Future<IteratorResult<WatchEvent>> {
    const fut = new Future<IteratorResult<WatchEvent>>(getEventLoop());
    const event = this.#events.shift();
    if (event !== undefined) fut._finish({ value: event, done: false });
    else if (this.#error !== null) fut._fail(this.#error);
    else if (this.#watcher === null) fut._finish({ value: undefined, done: true });
    else {
      this.#waiter = fut;
      fut.addDoneCallback(() => { if (fut.cancelled()) this.close(); }); // the reader went away
    }
    return fut;
  }

  /** Stops watching. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = null;
    this.#flush();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => this.next() as unknown as Promise<IteratorResult<WatchEvent>>,
      return: async () => { this.close(); return { value: undefined, done: true }; },
    };
  }
}
