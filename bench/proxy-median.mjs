#!/usr/bin/env node
// Summarizes several proxy-bench.sh runs of one build (their RESULTS_OUT files) as one markdown
// table: per proxy and cell, the median req/s, and each run's ratio to node-raw in that same run
// (the ratio is taken within a run, then the median of those ratios is shown with their range).
// Peak RSS is the highest of the runs, errors their sum. No dependencies.
// Usage: node bench/proxy-median.mjs <results.md> <results.md> ...
import { median, rate, readProxyRun } from './runs.mjs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/proxy-median.mjs <proxy-bench results.md> ...');
  process.exit(2);
}
const runs = files.map(readProxyRun);
const errors = (r) => Object.entries(r.run).filter(([k]) => k.startsWith('err_')).reduce((n, [, v]) => n + v, 0);
const key = (r) => `${r.label}\t${r.size}\t${r.conns}`;
const keys = [...new Set(runs.flat().map(key))];
console.log(`| proxy | body | conns | median req/s | × node-raw (median) | × node-raw per run | errors | peak RSS MiB |`);
console.log('|---|---|---:|---:|---:|---|---:|---:|');
for (const k of keys) {
  const [label, size, conns] = k.split('\t');
  const mine = runs.map((run) => run.find((r) => key(r) === k));
  const ratios = runs.map((run, i) => {
    const base = run.find((r) => r.label === 'node-raw' && r.size === size && String(r.conns) === conns);
    return mine[i] && base ? rate(mine[i]) / rate(base) : null;
  }).filter((x) => x !== null);
  const present = mine.filter(Boolean);
  const rss = Math.max(...present.map((r) => r.rss_kib)) / 1024;
  console.log(`| ${label} | ${size} | ${conns} | ${Math.round(median(present.map(rate)))} | ${ratios.length ? median(ratios).toFixed(2) : '–'} | ${ratios.map((x) => x.toFixed(2)).join(' / ')} | ${present.reduce((n, r) => n + errors(r), 0)} | ${rss > 0 ? rss.toFixed(1) : '–'} |`);
}
