#!/usr/bin/env node
// What diagnostics cost the scheduler: dist/bench/loop.js plain, with creation sites recorded
// once per coroutine function (`creationSites: 'first'`, the task tree's production mode), with
// the loop's debug mode (a stack per task, slow-callback timing) and with the watchdog running,
// against a build of an older commit (`--before DIR`, a built checkout: the same benchmark
// before diagnostics existed). The variants run interleaved, ROUNDS times each (default 7), and
// the table gives each case's median per-second figure and its ratio to the plain run (and the
// plain run's to the older build). Usage: npm run build && node bench/overhead.mjs [--before DIR]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const i = process.argv.indexOf('--before');
const before = i > 0 ? process.argv[i + 1] : null;
const rounds = Number(process.env.ROUNDS ?? 7);
const n = process.env.N ?? '200000';
const variants = [
  ...(before ? [['before', path.join(before, 'dist/bench/loop.js'), []]] : []),
  ['plain', path.join(root, 'dist/bench/loop.js'), []],
  ['sites', path.join(root, 'dist/bench/loop.js'), ['--sites', 'first']],
  ['debug', path.join(root, 'dist/bench/loop.js'), ['--debug']],
  ['watchdog', path.join(root, 'dist/bench/loop.js'), ['--watchdog']],
];
const samples = new Map(); // variant -> case -> [per_second]
for (let r = 0; r < rounds; r++) {
  for (const [name, script, extra] of variants) {
    const out = spawnSync(process.execPath, ['--expose-gc', script, '--n', n, ...extra], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`${name}: ${out.stderr}`);
    for (const line of out.stdout.split('\n').filter((l) => l.startsWith('{'))) {
      const row = JSON.parse(line);
      if (!samples.has(name)) samples.set(name, new Map());
      const byCase = samples.get(name);
      if (!byCase.has(row.case)) byCase.set(row.case, []);
      byCase.get(row.case).push(row.per_second);
    }
  }
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const cases = [...samples.get('plain').keys()];
const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`);
const head = ['case', ...variants.map(([v]) => v), ...(before ? ['plain/before'] : []), 'sites/plain', 'debug/plain', 'watchdog/plain'];
console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
for (const c of cases) {
  const m = Object.fromEntries(variants.map(([v]) => [v, median(samples.get(v).get(c) ?? [NaN])]));
  const cells = [c, ...variants.map(([v]) => fmt(m[v]))];
  if (before) cells.push(`${(m.plain / m.before).toFixed(3)}×`);
  cells.push(`${(m.sites / m.plain).toFixed(3)}×`, `${(m.debug / m.plain).toFixed(3)}×`, `${(m.watchdog / m.plain).toFixed(3)}×`);
  console.log(`| ${cells.join(' | ')} |`);
}
const geo = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const ratio = (a, b) => geo(cases.map((c) => median(samples.get(a).get(c)) / median(samples.get(b).get(c))));
const g = ['**geometric mean**', ...variants.map(() => '')];
if (before) g.push(`**${ratio('plain', 'before').toFixed(3)}×**`);
g.push(...['sites', 'debug', 'watchdog'].map((v) => `**${ratio(v, 'plain').toFixed(3)}×**`));
console.log(`| ${g.join(' | ')} |`);
console.log(`\nmedians of ${rounds} interleaved runs, N=${n}, per second; node ${process.version}`);
