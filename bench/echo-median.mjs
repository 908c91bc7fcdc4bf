#!/usr/bin/env node
// Summarizes several echo-bench.sh runs (their stdout tables) as one markdown table: per server
// and message size, each run's ratio to bare node:net in that run, their median and range, and
// the median ratio to uvloop's server of the same kind (streams or proto). No dependencies.
// Usage: node bench/echo-median.mjs <run.md> <run.md> ...
import fs from 'node:fs';
import { median } from './runs.mjs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/echo-median.mjs <echo-bench output> ...');
  process.exit(2);
}
const SIZES = ['1 KiB', '10 KiB', '100 KiB'];
// One Map per run: server -> [msg/s at each size].
const runs = files.map((f) => new Map(fs.readFileSync(f, 'utf8').split('\n')
  .filter((l) => l.startsWith('| ') && !l.startsWith('| server'))
  .map((l) => l.split('|').map((c) => c.trim()).filter((c) => c !== ''))
  .map((c) => [c[0], [c[1], c[3], c[5]].map((x) => Number.parseFloat(x))])));
const peer = (server) => (server.endsWith('-proto') ? 'py-uvloop-proto' : 'py-uvloop-streams');
const servers = [...new Set(runs.flatMap((r) => [...r.keys()]))];
console.log(`| server | ${SIZES.map((s) => `${s} × native (median; per run)`).join(' | ')} | ${SIZES.map((s) => `${s} × uvloop`).join(' | ')} |`);
console.log(`|---|${SIZES.map(() => '---').join('|')}|${SIZES.map(() => '---:').join('|')}|`);
for (const server of servers) {
  const native = SIZES.map((_, i) => runs.filter((r) => r.has(server)).map((r) => r.get(server)[i] / r.get('node-net-native')[i]));
  const uv = SIZES.map((_, i) => runs.filter((r) => r.has(server) && r.has(peer(server))).map((r) => r.get(server)[i] / r.get(peer(server))[i]));
  console.log(`| ${server} | ${native.map((xs) => `${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(2)).join(' / ')})`).join(' | ')} | ${uv.map((xs) => (xs.length ? median(xs).toFixed(2) : '–')).join(' | ')} |`);
}
