// Why Tulip's Server, TaskGroup and greenlet Group/Pool keep their members in slots
// (src/loop/roster.ts) and not in a Set: churns short-lived members through one long-lived
// container, 50 alive at a time, and reports what the garbage collector spent.
//
// Usage: node --expose-gc bench/set-churn.mjs set|slots
// The container is made old first (two full GCs), as a server's would be after warm-up. A Set
// rebuilds its hash table every few adds and deletes under churn, each replaced table keeping its
// entries and a link to its successor; from the old generation, those tables keep every member
// alive through young-generation GCs. Slots are cleared when a member leaves.
import { PerformanceObserver, constants } from 'node:perf_hooks';

const mode = process.argv[2] ?? 'set';
if (mode !== 'set' && mode !== 'slots') throw new Error('usage: node --expose-gc bench/set-churn.mjs set|slots');
const N = 2_000_000, LIVE = 50;

class Slots {
  #items = [];
  #free = [];
  add(m) { const i = this.#free.length > 0 ? this.#free.pop() : this.#items.length; this.#items[i] = m; return i; }
  remove(i, m) { if (this.#items[i] === m) { this.#items[i] = undefined; this.#free.push(i); } }
}

const set = new Set(), slots = new Slots();
let minor = 0, minorMs = 0, major = 0, majorMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) { minor++; minorMs += e.duration; }
    else if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) { major++; majorMs += e.duration; }
  }
});
obs.observe({ entryTypes: ['gc'] });
globalThis.gc?.();
globalThis.gc?.();

const alive = new Array(LIVE);
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const member = { id: i, payload: new Array(8).fill(i) };
  const k = i % LIVE, leaving = alive[k];
  if (leaving !== undefined) {
    if (mode === 'set') set.delete(leaving.member);
    else slots.remove(leaving.slot, leaving.member);
  }
  alive[k] = mode === 'set' ? (set.add(member), { member, slot: -1 }) : { member, slot: slots.add(member) };
}
const ms = performance.now() - t0;
await new Promise((resolve) => setTimeout(resolve, 100)); // let the observer hear of the last GCs
obs.disconnect();
console.log(JSON.stringify({ mode, members: N, ms: Math.round(ms), minorGCs: minor, minorMs: +minorMs.toFixed(1), majorGCs: major, majorMs: +majorMs.toFixed(1) }));
