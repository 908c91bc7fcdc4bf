// Reading saved benchmark runs (bench/runs/): shared by chart.mjs, proxy-median.mjs and
// echo-median.mjs. No dependencies.
import fs from 'node:fs';

/** The measured rows of one proxy-bench.sh results file (its jsonl lines). */
export function readProxyRun(file) {
  return fs.readFileSync(file, 'utf8').split('\n')
    .filter((l) => l.startsWith('{"label"'))
    .map((l) => JSON.parse(l))
    .filter((r) => r.run);
}

/** Requests per second of one proxy-bench row. */
export function rate(row) {
  return row.run.requests / (row.run.duration_us / 1e6);
}

/** The median of a list of numbers (0 for an empty one). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
