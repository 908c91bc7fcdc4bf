// Watchdog: report a main thread that stopped turning, with the culprit, while it is stuck.
//
// A loop callback that computes for seconds blocks every task, and nothing on that thread can
// notice until it returns. So the watch runs on a worker thread. The main thread bumps a
// counter in a SharedArrayBuffer from an unref'd interval (a few timer callbacks a second: the
// whole production cost). When the counter has not moved for `threshold` seconds, the worker
// opens a `node:inspector` session on the main thread (Session.connectToMainThread, Node 12+),
// pauses it wherever it is — V8 takes the pause at the next interrupt check, inside the busy
// loop — reads the stack and asks the main thread's global hook for the running task's name,
// then resumes it. The worker writes the report to fd 2 at once (a worker's process.stderr
// would go through the stuck main thread) and posts it; `onStall` gets it, with the stall's
// total duration, once the main thread turns again. A stall that goes on is sampled again at
// 2x, 4x, 8x... the threshold: back-to-back blocking callbacks in one Node turn are one stall
// to the thread, but each gets named.
//
// The Debugger domain is enabled only for the capture, so a program that never stalls never
// pays for it. Rejected: a SIGPROF-style sampling profiler (no stack names while stuck unless
// it runs all the time); `process.report` (only for the calling thread).

import type { Worker } from 'node:worker_threads';
import { workerThreadsModule } from './lazy.js';
import { current, runningTaskOrNull } from './running.js';

/** What a stall looked like. Project only. */
export interface StallReport {
  /** Seconds the main thread had not turned when the stack was taken. */
  blockedFor: number;
  /** Seconds it stayed stuck in all (known once it turned again). */
  duration: number;
  /** The task (and greenlet) whose step was running, when one was. */
  culprit: string | null;
  /** The main thread's stack at capture, innermost first: `fn (url:line:column)`. */
  stack: string[];
}

export interface WatchdogOptions {
  /** Seconds without a turn that count as a stall (default 0.5). */
  threshold?: number;
  /** Called on the main thread once a stall ends, once per stack captured during it. */
  onStall?: (report: StallReport) => void;
  /** Write each stall to stderr from the watchdog thread as it happens (default true). */
  stderr?: boolean;
}

const CULPRIT = 'tulip.watchdog.culprit';

// The worker: compiled from this string, so it needs no build step of its own. It loads its
// modules with import(), so the string runs as CommonJS or as an ES module (a program started
// with --input-type=module passes that flag on to its workers).
const WORKER_SOURCE = `
(async () => {
const { workerData, parentPort } = await import('node:worker_threads');
const inspector = await import('node:inspector');
const { writeSync } = await import('node:fs');
const { shared, thresholdMs, stderr, culpritKey, selfUrl } = workerData;
const beat = new Int32Array(shared);
let last = Atomics.load(beat, 0), since = Date.now();
const session = new inspector.Session();
session.connectToMainThread();
parentPort.postMessage({ ready: true });
const post = (method, params) => new Promise((resolve, reject) =>
  session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
async function capture(blockedMs) {
  Atomics.add(beat, 2, 1);
  const scripts = new Map();
  const onScript = (m) => scripts.set(m.params.scriptId, m.params.url);
  session.on('Debugger.scriptParsed', onScript);
  const paused = new Promise((resolve) => session.once('Debugger.paused', (m) => resolve(m.params)));
  let report = { blockedFor: blockedMs / 1000, culprit: null, stack: [] };
  try {
    await post('Debugger.enable');
    await post('Debugger.pause');
    const { callFrames } = await paused;
    const urlOf = (f) => scripts.get(f.location.scriptId) || f.url || '?';
    // Node's own frames on top (the program was inside performance.now() or a validator when
    // paused) are dropped, and this module's (a program spinning on \`captures\` was paused in
    // its getter): the report starts at the program's code.
    const skipped = (u) => u.startsWith('node:') || u === selfUrl;
    let top = 0;
    while (top < callFrames.length - 1 && skipped(urlOf(callFrames[top]))) top++;
    report.stack = callFrames.slice(top).map((f) => (f.functionName || '<anonymous>') + ' (' +
      urlOf(f) + ':' + (f.location.lineNumber + 1) + ':' + ((f.location.columnNumber || 0) + 1) + ')');
    const r = await post('Runtime.evaluate', { expression: 'globalThis[Symbol.for(' + JSON.stringify(culpritKey) + ')]?.() ?? null', returnByValue: true });
    report.culprit = r.result.value ?? null;
  } catch (e) {
    report.stack = ['<stack unavailable: ' + (e && e.message) + '>'];
  } finally {
    session.off('Debugger.scriptParsed', onScript);
    await post('Debugger.resume').catch(() => {});
    await post('Debugger.disable').catch(() => {});
  }
  if (stderr) writeSync(2, 'tulip watchdog: main thread blocked for ' + report.blockedFor.toFixed(3) + ' s' +
    (report.culprit ? ' in ' + report.culprit : '') + '\\n    at ' + report.stack.slice(0, 12).join('\\n    at ') + '\\n');
  Atomics.add(beat, 1, 1); // counted once written: a program that spins until captures moves sees the report out
  return report;
}
let captures = [], nextAt = thresholdMs, capturing = false;
setInterval(() => {
  const b = Atomics.load(beat, 0);
  const now = Date.now();
  if (b !== last) {
    last = b;
    Atomics.add(beat, 3, 1);
    if (captures.length > 0) {
      const done = captures, duration = (now - since) / 1000;
      captures = [];
      Promise.all(done).then((reports) => { for (const r of reports) parentPort.postMessage({ ...r, duration }); });
    }
    since = now;
    nextAt = thresholdMs;
    return;
  }
  // Still stuck: capture at threshold, then at 2x, 4x... (a new culprit may hold it by now).
  if (!capturing && now - since >= nextAt) {
    capturing = true;
    nextAt *= 2;
    captures.push(capture(now - since).finally(() => { capturing = false; }));
  }
}, Math.max(1, Math.floor(thresholdMs / 4)));
})();
`;

/** A running watchdog. Project only. */
export class Watchdog {
  readonly threshold: number;
  /** Settles once the watchdog thread is watching (a stall before that goes unseen). */
  readonly ready: Promise<void>;
  readonly #beat: Int32Array;
  readonly #worker: Worker;
  readonly #interval: NodeJS.Timeout;

  /** @internal */
  constructor(options: WatchdogOptions) {
    const threshold = options.threshold ?? 0.5;
    if (!(threshold > 0)) throw new RangeError(`threshold must be seconds > 0, got ${threshold}`);
    this.threshold = threshold;
    const shared = new SharedArrayBuffer(16); // [heartbeat, captures done, captures started, turns seen]
    this.#beat = new Int32Array(shared);
    (globalThis as Record<symbol, unknown>)[Symbol.for(CULPRIT)] ??= culprit;
    this.#worker = new (workerThreadsModule().Worker)(WORKER_SOURCE, {
      eval: true,
      workerData: { shared, thresholdMs: threshold * 1000, stderr: options.stderr ?? true, culpritKey: CULPRIT, selfUrl: import.meta.url },
    });
    this.#worker.unref();
    const onStall = options.onStall;
    this.ready = new Promise((resolve, reject) => {
      this.#worker.on('message', (m: StallReport | { ready: true }) => {
        if ('ready' in m) resolve();
        else onStall?.(m);
      });
      // A watchdog that cannot watch (no inspector in this Node build, a worker that died)
      // says so once and stops; it never takes the program down with it.
      this.#worker.on('error', (error) => {
        clearInterval(this.#interval);
        process.emitWarning(`tulip watchdog stopped: ${error.message}`, 'WatchdogWarning');
        reject(error);
      });
    });
    this.ready.catch(() => {}); // the warning above is the report when nobody awaits ready
    const beat = this.#beat;
    this.#interval = setInterval(() => Atomics.add(beat, 0, 1), Math.max(1, Math.floor((threshold * 1000) / 8)));
    this.#interval.unref();
  }

  /** Stacks captured (and written to stderr, when it is on) so far; readable even from inside
   *  the stall. */
  get captures(): number {
    return Atomics.load(this.#beat, 1);
  }

  /** @internal Captures begun so far. They run one at a time, so once `captures` reaches
   *  `_capturesStarted + k` as read at some moment, k captures begun after it are done (tests
   *  that stall on purpose wait for that, not for one already under way). */
  get _capturesStarted(): number {
    return Atomics.load(this.#beat, 2);
  }

  /** @internal Turns of the main thread the watchdog thread has seen (heartbeats). A stall
   *  starts at the last one: a test that stalls on purpose waits for one first, or its stall
   *  would continue an earlier one, sampled at that stall's doubling intervals. */
  get _turnsSeen(): number {
    return Atomics.load(this.#beat, 3);
  }

  /** Stops watching; the worker thread exits. */
  stop(): void {
    clearInterval(this.#interval);
    void this.#worker.terminate();
  }
}

/** Project only (trio#591). Starts watching the main thread for stalls of `threshold` seconds. */
export function startWatchdog(options: WatchdogOptions = {}): Watchdog {
  return new Watchdog(options);
}

/** Called by the watchdog (through the inspector) while the main thread is paused. */
function culprit(): string | null {
  const task = runningTaskOrNull();
  if (task === null) return current.loop === null ? null : `a callback of ${current.loop}`;
  const g = task._greenlet as { name?: string } | null;
  return g?.name ? `${task.getName()} (greenlet ${g.name})` : task.getName();
}
