// The check behind every trailing options object (API.md: keyword parameters go in one).
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
