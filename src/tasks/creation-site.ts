// Creation sites: where user code made a task or future, for the task tree and leak reports.
//
// A stack capture costs microseconds, so this is a mode of the loop (EventLoop's
// `creationSites`): 'all' per task and per future, 'each' per task (debug mode), 'first' once
// per coroutine function, 'off' never. Frames inside Tulip itself and Node's internals are skipped,
// so the site is the user's line.

import { fileURLToPath } from 'node:url';
import { isGenerator } from './coroutine.js';

/** Tulip's own source folder (src/ under tsx, dist/src/ when built): its frames are skipped. */
const LIBRARY_DIR = fileURLToPath(new URL('..', import.meta.url));

/** The first frames of the stack outside Tulip and Node's internals: where user code created the
 *  task or future. */
export function creationSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack;
  Error.stackTraceLimit = limit;
  if (stack === undefined) return undefined;
  const frames = stack.split('\n').slice(1).map((l) => l.trim())
    .filter((l) => !l.includes(LIBRARY_DIR) && !l.includes('(node:') && !l.startsWith('at node:'));
  return frames.length === 0 ? undefined : frames.slice(0, 4).join('\n');
}

/** The innermost frame of a site, for one-line reports (`at fn (file:line:col)`). */
export function firstFrame(site: string): string {
  return site.trim().split('\n')[0]!.trim();
}

const firstSites = new WeakMap<object, string | undefined>();

/** 'first' mode: what identifies "the same coroutine function": a generator object's prototype
 *  is its function's `prototype`, shared by every call; a function is itself. */
export function siteKeyOf(body: unknown): object | null {
  if (isGenerator(body)) return Object.getPrototypeOf(body) as object;
  return typeof body === 'function' ? body : null;
}

/** The creation site of the first task made from `key`, captured once. */
export function firstSite(key: object | null): string | undefined {
  if (key === null) return creationSite();
  let site = firstSites.get(key);
  if (site === undefined && !firstSites.has(key)) firstSites.set(key, (site = creationSite()));
  return site;
}
