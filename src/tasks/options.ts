// The checks behind every trailing options object (API.md: keyword parameters go in one) and
// every duration in seconds.
//
// A gevent or asyncio program ported by hand passes them positionally — `joinall(gs, 5)`,
// `q.get(true, 1)`, `wait(aws, 5)` — and destructuring a number finds no `timeout` in it, so
// the call would wait forever without a word. It is refused with a TypeError that shows the
// shape to use instead.

/** @internal `options` itself, when it is an object (or undefined: no options). */
export function optionsOf<T extends object>(fn: string, options: T | undefined, shape: string): T | Record<string, never> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${fn}() takes its options as an object, ${shape}; got ${options === null ? 'null' : `${typeof options} ${String(options)}`}`);
  }
  return options;
}

/** @internal Refuses a duration or a time that is not a number of seconds (a string, NaN) where it
 *  is passed, naming `what`: a timer armed with it would fire at once or never. */
export function checkSeconds(what: string, value: unknown, orNull = false): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${what} must be a number of seconds${orNull ? ' or null' : ''}, got ${String(value)}`);
  }
}
