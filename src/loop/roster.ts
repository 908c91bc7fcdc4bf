// Roster: the set of members that come and go quickly (a server's connections, a TaskGroup's
// children, a greenlet Group's members), kept in slots of an array with a free list. add()
// returns the member's slot; the owner keeps it and gives it back to remove().
//
// Why not a Set: under churn V8 rebuilds a Set's hash table every few adds and deletes, and an
// old table keeps its entries and a link to the table that replaced it. Once one of those
// tables has been promoted to the old generation, the young-generation GC treats it as a root,
// so every member it ever held, and every later table with theirs, survives until the next full
// GC. Measured with a server that answers and closes short connections (wrk, 50 at a time): a
// Set of connections made V8 promote 1160 bytes per connection and spend 5.5 us per connection
// in scavenges; slots, 575 bytes and 2.9 us (bare node:net: 540 bytes, 3.6 us).
// bench/set-churn.mjs shows the same without Tulip (2M members through an old Set: 1.5 s;
// through slots: 0.13 s). A slot is cleared when its member leaves, so nothing outlives it.
// The array keeps the high-water mark of members (8 bytes a slot); order of iteration is slot
// order, not insertion order.
// A leaf module (no imports), so the tasks layer may use it too (TaskGroup).

/** @internal */
export class Roster<T extends object> {
  readonly #slots: (T | undefined)[] = [];
  /** Indexes of empty slots, reused last-freed first so the array stays dense. */
  readonly #free: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `member`; returns its slot. */
  add(member: T): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#slots.length;
    this.#slots[slot] = member;
    this.#size++;
    return slot;
  }

  /** Removes `member` from `slot`; false if it is not there (already removed). */
  remove(slot: number, member: T): boolean {
    if (slot < 0 || this.#slots[slot] !== member) return false;
    this.#slots[slot] = undefined;
    this.#free.push(slot);
    this.#size--;
    return true;
  }

  /** The members now, as an array (safe to iterate while members leave). */
  toArray(): T[] {
    const out: T[] = [];
    for (const m of this.#slots) if (m !== undefined) out.push(m);
    return out;
  }
}
