// lock_contention on bare Node promises: the least a FIFO promise mutex can do (the shared
// loop_native.mjs has no lock case). 100 async functions each take the lock 10,000 times,
// holding it across one macrotask-free turn (await null). One JSON line.
const now = () => performance.now() / 1000;
class MiniLock {
  locked = false; waiters = [];
  acquire() {
    if (!this.locked) { this.locked = true; return Promise.resolve(); }
    return new Promise((r) => this.waiters.push(r));
  }
  release() { const w = this.waiters.shift(); if (w) w(); else this.locked = false; }
}
const tasks = 100, rounds = 10_000;
const lock = new MiniLock();
let inside = 0;
const worker = async () => { for (let i = 0; i < rounds; i++) { await lock.acquire(); inside++; await null; lock.release(); } };
const t0 = now();
await Promise.all(Array.from({ length: tasks }, worker));
const seconds = now() - t0;
if (inside !== tasks * rounds) throw new Error('lost an acquisition');
console.log(JSON.stringify({ impl: 'node-native', case: 'lock_contention', n: tasks * rounds, seconds, per_second: tasks * rounds / seconds, tasks, rounds }));
