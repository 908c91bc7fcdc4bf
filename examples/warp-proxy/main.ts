#!/usr/bin/env node
// `npm start`: the WARP proxy on 127.0.0.1:8800 (see --help).
//
// `npm start` runs it with two V8 flags (docs/warp-proxy.md): the young generation capped at 4 MiB
// semi-spaces (peak RSS about 20 MiB lower under load, CPU per request unchanged), and a
// sixteenth of the default tier-up budget (`--interrupt-budget=8192`: hot functions reach
// optimized code sooner, so a fresh process gets to its steady rate sooner; the steady rate is
// unchanged). The bin keeps a plain `env node` shebang, which every `env` understands: it takes
// the first flag from NODE_OPTIONS, and the second (which NODE_OPTIONS refuses) from the command
// line only.
//
// Runs its own loop (not run()), because it handles SIGINT and SIGTERM itself: stop accepting,
// let requests in flight finish for --grace seconds, cancel the rest, exit 0. A second signal
// exits at once. A bind failure exits 1 with a one-line reason.

import { parseArgs } from 'node:util';
import { EventLoop, Event, startServer, wait, type Coroutine, type Server } from 'tulip';
import { newStats, serveClient, type ProxyOptions } from './proxy.js';

const HELP = `usage: warp-proxy [options]

WARP: a local HTTP proxy that hides the Host header from DPI (32 decoy headers, the Host
value sent in pieces with pauses); CONNECT tunnels pass through.

  -H, --host HOST          listen address (default 127.0.0.1)
  -p, --port PORT          listen port (default 8800)
  -v, --verbose            more logging (repeat for more)
      --model M            explicit (coroutines, default), greenlet (gevent style), or both:
                           explicit on PORT and greenlet on PORT+1, one loop, shared limits
      --delay-scale X      multiply every pause (default $WARP_DELAY_SCALE or 1; 0 = none)
      --grace S            seconds to let requests finish on Ctrl-C/SIGTERM (default 5)
      --connect-timeout S  upstream connect timeout, 504 after it (default 10; > 0)
      --idle-timeout S     head, first-answer-byte and idle-relay timeout (default 30; > 0)
      --max-conns N        connections served at once (default 10000)
      --backlog N          listen backlog (default 1024; thousands of clients connecting at
                           once overflow a short one and wait for SYN retransmits)
      --min-headers N      WARP's original rule: silently close heads with fewer header
                           lines (default 0: serve any valid request; the benchmark uses 3)
  -h, --help               this text
`;

function fail(message: string): never {
  process.stderr.write(`warp-proxy: ${message}\n`);
  process.exit(2);
}

function num(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) fail(`--${name} needs a number >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

/** A timeout in seconds: 0 would time every request out at once (the proxy would answer nothing). */
function seconds(name: string, text: string | undefined, fallback: number): number {
  const n = num(name, text, fallback);
  if (n === 0) fail(`--${name} needs a number of seconds > 0, got ${JSON.stringify(text)}`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      host: { type: 'string', short: 'H', default: '127.0.0.1' },
      port: { type: 'string', short: 'p', default: '8800' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
      'delay-scale': { type: 'string' },
      grace: { type: 'string' },
      'connect-timeout': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'max-conns': { type: 'string' },
      'min-headers': { type: 'string' },
      backlog: { type: 'string' },
      model: { type: 'string', default: 'explicit' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const port = num('port', args.port, 8800, 1);
if (!Number.isInteger(port) || port > 65535) fail('port must be 1-65535');
const host = args.host!;
const verbose = args.verbose?.length ?? 0;
const grace = num('grace', args.grace, 5);
const backlog = num('backlog', args.backlog, 1024, 1);
const model = args.model!;
if (model !== 'explicit' && model !== 'greenlet' && model !== 'both') fail(`--model must be explicit, greenlet or both, got ${JSON.stringify(model)}`);
if (model === 'both' && port === 65535) fail('--model both needs PORT+1 to be a port too');

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x: only this machine can connect. */
function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

// Log lines leave in one write at most every LOG_EVERY_MS, not one write each: writing a request's
// line cost about 2% of the proxy's CPU (Buffer.from and a write(2) per line). Not per turn of
// the event loop: under load a turn serves about one request. Order is kept; what is pending is
// written when the process exits.
const LOG_EVERY_MS = 50;
let pending = '';
let flushTimer: NodeJS.Timeout | null = null;
function flushLog(): void {
  flushTimer = null;
  if (pending === '') return;
  const text = pending;
  pending = '';
  process.stderr.write(text);
}
function emit(text: string): void {
  pending += text;
  if (flushTimer === null) flushTimer = setTimeout(flushLog, LOG_EVERY_MS).unref();
}
process.on('exit', flushLog);

let stamp = '', stampSecond = -1;
function log(level: string, message: string): void {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    stampSecond = second;
    const d = new Date(second * 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  emit(`[${stamp},${String(now % 1000).padStart(3, '0')}] {${level}} ${message}\n`);
}

const opts: ProxyOptions = {
  delayScale: num('delay-scale', args['delay-scale'] ?? process.env.WARP_DELAY_SCALE, 1),
  connectTimeout: seconds('connect-timeout', args['connect-timeout'], 10),
  idleTimeout: seconds('idle-timeout', args['idle-timeout'], 30),
  minHeaders: num('min-headers', args['min-headers'], 0),
  maxConns: num('max-conns', args['max-conns'], 10000, 1),
  log: (m) => log('INFO', m),
};

// The greenlet model (and the bridge under it) loads only when asked for: a process serving the
// explicit model does not pay its memory.
const greenletServer = model === 'explicit' ? null : (await import('./greenlet-proxy.js')).greenletServer;

const loop = new EventLoop({ debug: verbose >= 2 });
const stats = newStats();
const stop = new Event();
let signals = 0;
const onSignal = (sig: string) => () => {
  if (++signals > 1) process.exit(130);
  log('INFO', `${sig}: stopping (grace ${grace} s)`);
  loop.callSoon(() => stop.set());
};
process.on('SIGINT', onSignal('SIGINT'));
process.on('SIGTERM', onSignal('SIGTERM'));

function* main(): Coroutine<number> {
  const stops: Array<() => void> = [];
  const bound: string[] = [];
  const addresses: string[] = []; // what the listeners were bound to ('localhost' resolved)
  try {
    if (model !== 'greenlet') {
      const server: Server = yield* startServer((r, w) => serveClient(r, w, opts, stats), host, port, { backlog });
      stops.push(() => server.close());
      bound.push(`${host}:${port}`);
      addresses.push(...server.sockets.map((a) => a.address));
    }
    if (model !== 'explicit') {
      const gport = model === 'both' ? port + 1 : port;
      const gserver = greenletServer!(host, gport, opts, stats, backlog);
      yield* gserver.start();
      stops.push(() => gserver.close());
      bound.push(`${host}:${gport} (greenlet)`);
      if (gserver.address !== null) addresses.push(gserver.address.address);
    }
  } catch (error) {
    log('CRITICAL', `!!! Failed to bind server at [${host}:${port}]: ${(error as Error).message}`);
    for (const stop of stops) stop();
    return 1;
  }
  log('INFO', `Server bound at [${bound.join(', ')}].`);
  if (addresses.some((a) => !isLoopback(a))) {
    emit(`warp-proxy: WARNING: listening on ${host}, not loopback: anyone who can reach it can use this proxy\n`);
  }
  yield* stop.wait();
  for (const stopServer of stops) stopServer();
  const inFlight = stats.tasks.list();
  if (inFlight.length > 0) {
    const [, pending] = yield* wait(inFlight, { timeout: grace });
    for (const t of pending) t.cancel(undefined, { kind: 'shutdown' });
    if (pending.size > 0) yield* wait(pending);
  }
  if (verbose) log('DEBUG', `served ${stats.served}, failed ${stats.failed}, rejected ${stats.rejected}`);
  log('INFO', 'bye');
  return 0;
}

loop.setExceptionHandler((_l, ctx) => {
  if (verbose) loop.defaultExceptionHandler(ctx);
});
const code = await loop.runUntilComplete(main());
loop.close();
process.exit(code);
