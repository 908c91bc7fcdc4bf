// What a coroutine is, and how to tell the kinds of "awaitable" apart.
//
// A coroutine is a generator: it waits with `yield*` on a Future (whose iterator yields the
// Future itself while it is pending, like asyncio's `Future.__iter__`), and a bare `yield;`
// gives up one loop turn. The Task drives the generator; nothing else may call `next()` on it.

import type { Future } from './future.js';

/** What a coroutine may yield to its Task: a Future to wait on, or nothing for one loop turn. */
export type Yieldable = Future<unknown> | undefined | void;

/** asyncio: a `yield from` coroutine. A generator that waits with `yield*`. */
export type Coroutine<T> = Generator<Yieldable, T, unknown>;

/** Everything `createTask`, `ensureFuture` and the utilities accept as work to run. */
export type Awaitable<T> = Future<T> | Coroutine<T> | PromiseLike<T>;

/** A function that starts work: a generator function or an async function. */
export type CoroutineFunction<T, A extends unknown[] = []> = (...args: A) => Coroutine<T> | PromiseLike<T>;

/** %GeneratorPrototype%: every generator object has it two links up its prototype chain. */
const GeneratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf((function* () {})()));

/** True for generator objects (not for other iterators such as a Future). Two prototype
 *  loads: a duck-typed check (next/throw, and no `then`) cost a megamorphic miss per task. */
export function isGenerator(x: unknown): x is Coroutine<unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto !== null && Object.getPrototypeOf(proto) === GeneratorPrototype;
}

export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === 'object' || typeof x === 'function') && x !== null && typeof (x as any).then === 'function';
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor;

export function isGeneratorFunction(fn: unknown): boolean {
  return fn instanceof GeneratorFunction;
}

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

/** True for `async function` / `async () =>` (not for plain functions that return a promise). */
export function isAsyncFunction(fn: unknown): boolean {
  return fn instanceof AsyncFunction;
}
