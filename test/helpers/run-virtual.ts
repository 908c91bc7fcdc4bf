// Test fixtures: a loop on an autojump VirtualClock that fails the test on any unexpected
// exception report (uvloop's _testbase does the same), and helpers to record order.
import type { ExecutionContext } from 'ava';
import { EventLoop, VirtualClock, waitFor, type Coroutine } from '../../src/index.js';

export interface Fixture {
  loop: EventLoop;
  clock: VirtualClock;
  reports: string[];
}

export function makeLoop(options: { autoJump?: boolean; debug?: boolean } = {}): Fixture {
  const clock = new VirtualClock({ autoJump: options.autoJump ?? true });
  const loop = new EventLoop({ clock, debug: options.debug });
  const reports: string[] = [];
  loop.setExceptionHandler((_loop, context) => {
    reports.push(context.message + (context.exception instanceof Error ? `: ${context.exception.message}` : ''));
  });
  return { loop, clock, reports };
}

/** Runs `main` on a fresh autojump loop; asserts no exception reports arrived. */
export async function runVirtual<T>(
  t: ExecutionContext,
  main: (fx: Fixture) => Coroutine<T> | Promise<T>,
  options: { expectReports?: boolean } = {},
): Promise<T> {
  const fx = makeLoop();
  try {
    return await fx.loop.runUntilComplete(() => main(fx));
  } finally {
    fx.loop.close();
    if (!options.expectReports) t.deepEqual(fx.reports, [], 'the loop reported exceptions nobody expected');
  }
}

/** Runs `main` on a real-clock loop (sockets, processes), guarded by waitFor(`seconds`) against
 *  hangs (never a timing assertion); asserts no exception reports arrived. */
export async function runReal<T>(t: ExecutionContext, main: () => Coroutine<T>, seconds = 20): Promise<T> {
  const loop = new EventLoop();
  const reports: string[] = [];
  loop.setExceptionHandler((_l, ctx) => reports.push(ctx.message));
  try {
    return await loop.runUntilComplete(function* () { return yield* waitFor(main(), seconds); }());
  } finally {
    loop.close();
    t.deepEqual(reports, []);
  }
}
