#!/usr/bin/env node
// `npm run bench`: the scheduler benchmark, Tulip and its peers in one run, one table.
//
// Runs dist/bench/loop.js (build first: `npm run bench` does) and every peer that is
// installed: ../shared/bench/peers/loop_asyncio.py (python3), the same with --uvloop
// (/usr/bin/python3 with python3-uvloop), loop_effection.mjs (effection@4, installed on
// demand into bench/.peers, not a project dependency), loop_native.mjs (bare Node: the floor),
// plus this folder's lock_contention peers. A peer that is missing is listed as missing.
// Each implementation runs in its own process, one after the other. Prints a Markdown table of
// per-second figures and Tulip's ratio to each peer; with --write, replaces the loop section of
// bench/RESULTS.md (between its markers) with the table, the command and the machine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const shared = process.env.SHARED_BENCH ?? path.resolve(root, '../shared/bench/peers');
const write = process.argv.includes('--write');
const n = process.env.N ?? '200000';
// GN: the greenlet section's N (default N). At 200,000 its Tulip cases last 50–200 ms, mostly
// V8 warming up; GN=1000000 measures both sides past that (gevent's cases then take ~30 s).
const gn = process.env.GN ?? n;

function run(label, cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000, ...opts });
  if (r.error || r.status !== 0) {
    return { label, missing: (r.error?.code === 'ENOENT' ? `${cmd} not found` : (r.stderr || String(r.error)).trim().split('\n').pop()) };
  }
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  return { label, rows };
}

function effection() {
  const dir = path.join(here, '.peers');
  if (!fs.existsSync(path.join(dir, 'node_modules', 'effection'))) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true,"type":"module"}\n');
    const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', 'effection@4'], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) return { label: 'effection', missing: 'npm install effection@4 failed' };
  }
  const script = path.join(dir, 'loop_effection.mjs');
  if (!fs.existsSync(path.join(shared, 'loop_effection.mjs'))) return { label: 'effection', missing: 'shared peers not found' };
  fs.copyFileSync(path.join(shared, 'loop_effection.mjs'), script);
  return run('effection', process.execPath, ['--expose-gc', script, '--n', n]);
}

const sysPy = '/usr/bin/python3';
const pyHas = (mod) => spawnSync(sysPy, ['-c', `import ${mod}`]).status === 0;
const results = [];
results.push(run('tulip', process.execPath, ['--expose-gc', path.join(root, 'dist/bench/loop.js'), '--n', n]));
results.push(run('python-asyncio', 'python3', [path.join(shared, 'loop_asyncio.py'), '--n', n]));
results.push(pyHas('uvloop') ? run('python-uvloop', sysPy, [path.join(shared, 'loop_asyncio.py'), '--uvloop', '--n', n]) : { label: 'python-uvloop', missing: 'apt-get install python3-uvloop' });
results.push(effection());
results.push(run('node-native', process.execPath, ['--expose-gc', path.join(shared, 'loop_native.mjs'), '--n', n]));
const lockPy = run('python-asyncio', 'python3', [path.join(here, 'peers/lock_asyncio.py')]);
const lockUv = pyHas('uvloop') ? run('python-uvloop', sysPy, [path.join(here, 'peers/lock_asyncio.py'), '--uvloop']) : null;
const lockNative = run('node-native', process.execPath, [path.join(here, 'peers/lock_native.mjs')]);
for (const extra of [lockPy, lockUv, lockNative]) {
  if (!extra || !extra.rows) continue;
  const target = results.find((r) => r.label === extra.label);
  if (target?.rows) target.rows.push(...extra.rows);
}

// the greenlet bridge against gevent, same run
const greenlet = [
  run('tulip-greenlet', process.execPath, ['--expose-gc', path.join(root, 'dist/bench/greenlet.js'), '--n', gn]),
  pyHas('gevent') ? run('python-gevent', sysPy, [path.join(shared, 'loop_gevent.py'), '--n', gn]) : { label: 'python-gevent', missing: 'apt-get install python3-gevent' },
];

const impls = results.map((r) => r.label);
const value = (label, c) => results.find((r) => r.label === label)?.rows?.find((row) => row.case === c);
const cases = ['pingpong_queue', 'pingpong_future', 'pingpong_future_async', 'call_soon_chain', 'sleep0', 'timers', 'many_tasks', 'lock_contention'];
const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(0)}k` : x.toFixed(0));
const lines = [];
lines.push(`| case | ${impls.join(' | ')} | × asyncio | × effection | × node-native |`);
lines.push(`|---|${impls.map(() => '---:').join('|')}|---:|---:|---:|`);
for (const c of cases) {
  const cells = impls.map((label) => {
    const r = results.find((x) => x.label === label);
    if (!r.rows) return 'missing';
    const row = value(label, c);
    if (!row) return '–';
    return fmt(row.per_second) + (row.kib_per_task !== undefined ? ` (${row.kib_per_task.toFixed(2)} KiB/task)` : '');
  });
  const t = value('tulip', c === 'pingpong_future_async' ? 'pingpong_future_async' : c)?.per_second;
  const base = c === 'pingpong_future_async' ? 'pingpong_future' : c;
  const ratio = (label) => { const p = value(label, base)?.per_second; return t && p ? `${(t / p).toFixed(2)}×` : '–'; };
  lines.push(`| ${c} | ${cells.join(' | ')} | ${ratio('python-asyncio')} | ${ratio('effection')} | ${ratio('node-native')} |`);
}
const gvalue = (label, c) => greenlet.find((r) => r.label === label)?.rows?.find((row) => row.case === c);
const glines = ['| case | tulip-greenlet | python-gevent | × gevent |', '|---|---:|---:|---:|'];
for (const c of ['greenlet_pingpong_queue', 'greenlet_sleep0', 'greenlet_spawn_joinall', 'greenlet_many_waiting', 'greenlet_pool_map']) {
  const a = gvalue('tulip-greenlet', c), b = gvalue('python-gevent', c);
  const cell = (row) => row ? fmt(row.per_second) + (row.kib_per_greenlet !== undefined ? ` (${row.kib_per_greenlet.toFixed(2)} KiB/greenlet)` : '') : (greenlet.find((r) => !r.rows) ? 'missing' : '–');
  glines.push(`| ${c} | ${cell(a)} | ${cell(b)} | ${a && b ? (a.per_second / b.per_second).toFixed(2) + '×' : '–'} |`);
}
const missing = [...results, ...greenlet].filter((r) => !r.rows).map((r) => `- ${r.label}: missing (${r.missing})`);
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.type()} ${os.release()}, node ${process.version}`;
const table = [
  `Command: \`${process.env.N ? `N=${n} ` : ''}${process.env.GN ? `GN=${gn} ` : ''}node bench/run.mjs --write\` after \`npm run build\` (N=${n}, GN=${gn}), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}.`,
  'Figures are operations per second (higher is better); ratios are Tulip ÷ peer in the same run',
  '(for pingpong_future_async, Tulip async-function tasks ÷ the peer\'s pingpong_future).',
  '',
  ...lines,
  '',
  `Greenlet bridge (\`dist/bench/greenlet.js\`) against gevent (\`loop_gevent.py\`, Debian python3), same run, N=${gn}:`,
  '',
  ...glines,
  ...(missing.length ? ['', ...missing] : []),
].join('\n');
console.log(table);
if (write) {
  const file = path.join(here, 'RESULTS.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = '<!-- loop:start -->', end = '<!-- loop:end -->';
  const i = text.indexOf(start), j = text.indexOf(end);
  if (i < 0 || j < 0) throw new Error('RESULTS.md lacks the loop markers');
  fs.writeFileSync(file, text.slice(0, i + start.length) + '\n' + table + '\n' + text.slice(j));
  console.log(`\nwrote ${path.relative(root, file)}`);
}
