// toThread: run blocking or CPU-heavy work in a worker thread; a Future of its result.
//
// A closure cannot cross into a worker, so the work is a *self-contained function*: its
// source text is sent to the worker and compiled there (cached per source), and it may only use
// its arguments, globals and `await import(...)` of modules. Arguments and the result cross by
// structured clone (numbers, strings, Buffers, plain objects, Maps, Errors; not functions or
// class instances' methods). The function may be async.
//
// Workers come from a lazy pool of up to availableParallelism() threads; idle workers are
// unref'd, so they never keep the process alive. Cancelling the Future drops the result; the
// thread runs to completion (asyncio's to_thread cannot interrupt a thread either).

import type { Worker } from 'node:worker_threads';
import { workerThreadsModule } from '../loop/lazy.js';
import { availableParallelism } from 'node:os';
import { getEventLoop } from '../loop/running.js';
import { Future } from './future.js';
import { RuntimeError } from './errors.js';

// The worker: compiles each source once, runs it, and posts the outcome. A value or an error
// that cannot be cloned back is replaced by a TypeError that says so (a failed postMessage
// would otherwise leave the job unanswered). \`__name\` is esbuild's helper for function
// names, which tsx and esbuild-built code put into function sources; it is a no-op here.
// The source loads its modules with import(), which a worker compiles either way: as CommonJS,
// or as an ES module when the program runs under --input-type=module (workers inherit it).
const WORKER_SOURCE = `
(async () => {
const { parentPort } = await import('node:worker_threads');
globalThis.__name ??= (f) => f;
const cache = new Map();
const send = (msg, what) => {
  try { parentPort.postMessage(msg); }
  catch (e) {
    const error = new TypeError('toThread: the ' + what + ' could not be sent back from the worker: ' + (e && e.message));
    parentPort.postMessage({ id: msg.id, ok: false, error });
  }
};
parentPort.on('message', async ({ id, source, args }) => {
  try {
    let fn = cache.get(source);
    if (fn === undefined) { fn = (0, eval)('(' + source + ')'); cache.set(source, fn); }
    const value = await fn(...args);
    send({ id, ok: true, value }, 'result');
  } catch (error) {
    send({ id, ok: false, error }, 'error it raised');
  }
});
})();`;

interface Job { id: number; source: string; args: unknown[]; fut: Future<unknown> }

class WorkerPool {
  #idle: Worker[] = [];
  #busy = new Map<Worker, Job>();
  #queue: Job[] = [];
  #nextId = 0;
  readonly #max = Math.max(1, availableParallelism());

  submit(source: string, args: unknown[], fut: Future<unknown>): void {
    this.#queue.push({ id: this.#nextId++, source, args, fut });
    this.#pump();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (worker === undefined) {
        if (this.#busy.size >= this.#max) return;
        worker = this.#spawn();
      }
      const job = this.#queue.shift()!;
      if (job.fut.done()) { this.#idle.push(worker); continue; } // cancelled while queued
      try {
        worker.postMessage({ id: job.id, source: job.source, args: job.args });
      } catch (error) {
        // An argument that cannot be cloned (a function, a socket): the job fails, the worker stays free.
        this.#idle.push(worker);
        job.fut._fail(error);
        continue;
      }
      this.#busy.set(worker, job);
      worker.ref();
    }
  }

  #spawn(): Worker {
    const worker = new (workerThreadsModule().Worker)(WORKER_SOURCE, { eval: true });
    worker.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: unknown }) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      worker.unref();
      this.#idle.push(worker);
      if (job !== undefined && !job.fut.done()) {
        if (msg.ok) job.fut._finish(msg.value);
        else job.fut._fail(msg.error);
      }
      this.#pump();
    });
    worker.on('error', (error) => this.#lost(worker, error));
    // A worker that ends (process.exit() in the function, a fatal error) fails its job instead
    // of leaving it pending forever; the next job gets a fresh worker.
    worker.on('exit', (code) => this.#lost(worker, new RuntimeError(`toThread: the worker thread exited (code ${code}) before answering`)));
    return worker;
  }

  #lost(worker: Worker, error: unknown): void {
    const job = this.#busy.get(worker);
    this.#busy.delete(worker);
    this.#idle = this.#idle.filter((w) => w !== worker);
    if (job !== undefined && !job.fut.done()) job.fut._fail(error);
    this.#pump();
  }
}

let pool: WorkerPool | null = null;

/** asyncio: `to_thread`. Runs `fn(...args)` in a worker thread; `fn` must be self-contained
 *  (see the module comment) and `args` structured-cloneable. */
export function toThread<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Future<Awaited<R>> {
  if (typeof fn !== 'function') throw new TypeError(`toThread needs a function, got ${String(fn)}`);
  const fut = new Future<Awaited<R>>(getEventLoop());
  (pool ??= new WorkerPool()).submit(fn.toString(), args, fut as Future<unknown>);
  return fut;
}
