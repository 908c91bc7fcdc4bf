// Coverage gate: at least 90% of lines in each library folder that has code (the issues'
// rule), computed from c8's json-summary. c8 itself only knows global or per-file thresholds.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const MIN = 90;
const FOLDERS = ['src/loop', 'src/tasks', 'src/sync', 'src/streams', 'src/greenlet'];
const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8'));
let failed = false;
for (const folder of FOLDERS) {
  let total = 0, covered = 0;
  for (const [file, s] of Object.entries(summary)) {
    if (file === 'total') continue;
    if (!relative(process.cwd(), file).startsWith(folder + '/')) continue;
    total += s.lines.total;
    covered += s.lines.covered;
  }
  if (total === 0) continue;
  const pct = (100 * covered) / total;
  const ok = pct >= MIN;
  if (!ok) failed = true;
  console.log(`coverage ${folder}: ${pct.toFixed(1)}% of ${total} lines ${ok ? 'ok' : `< ${MIN}%`}`);
}
process.exit(failed ? 1 : 0);
