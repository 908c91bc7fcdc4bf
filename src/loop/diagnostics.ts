// Diagnostics: what is every task waiting on, and is anything able to wake them?
//
// dumpTasks() returns the live tasks (greenlets included: they run as tasks) as a tree by
// creator, each with its name, state, what it waits on (a sleep and its deadline, a lock and
// who holds it, a queue, a stream read, another task) and, in debug mode, where it was created.
// formatTasks() prints it. DeadlockError is raised by runUntilComplete() when its future is
// pending and nothing can ever wake anything: no callback ready, no timer armed, no Tulip
// transport, server, subprocess or signal handler open, and Node reports no other active
// resource (process.getActiveResourcesInfo(), less the loop's own keep-alive timer). It carries
// the task tree and a wait-for cycle when there is one (A waits on a lock held by B, which
// waits on A). Rejected: a watchdog timer that declares a deadlock after N idle seconds; it
// would fire on programs that merely wait for a slow peer.

import type { EventLoop } from './event-loop.js';
import { runningTaskOrNull } from './running.js';
import { firstFrame } from '../tasks/creation-site.js';
import type { Future } from '../tasks/future.js';
import type { Task } from '../tasks/task.js';

/** One node of the task tree. Project only. */
export interface TaskInfo {
  name: string;
  /** 'running' (the step that asked), 'waiting' (parked on a future), 'ready' (a step is
   *  queued), 'cancelling'. */
  state: 'running' | 'waiting' | 'ready' | 'cancelling';
  /** What it waits on, in words (`sleep until t=12.000`, `<Lock [locked by Task-3] waiters=1>`). */
  waitingOn: string | null;
  /** The greenlet this task runs, if any. */
  greenlet: string | null;
  /** Where it was created (debug mode only). */
  createdAt: string | null;
  children: TaskInfo[];
}

function holderOf(fut: Future<unknown>): Task<unknown> | null {
  const list = (fut as { _list?: { owner?: { _holder?: Task<unknown> | null } } | null })._list;
  return list?.owner?._holder ?? null;
}

function describe(task: Task<unknown>): Omit<TaskInfo, 'children'> {
  const w = task._waitingOn;
  const g = task._greenlet as { name?: string } | null;
  return {
    name: task.getName(),
    state: task.cancelling() > 0 ? 'cancelling' : w !== null ? 'waiting' : task === runningTaskOrNull() ? 'running' : 'ready',
    waitingOn: w === null ? null : w._describeWait(),
    greenlet: g?.name ?? null,
    createdAt: task._createdAt ?? null,
  };
}

/** Project only (issue: "what is my hung program waiting on?"). The live tasks as a tree. */
export function dumpTasks(loop: EventLoop): TaskInfo[] {
  const tasks = loop.allTasks();
  const nodes = new Map<Task<unknown>, TaskInfo>();
  for (const t of tasks) nodes.set(t, { ...describe(t), children: [] });
  const roots: TaskInfo[] = [];
  for (const t of tasks) {
    let parent = t._parent;
    while (parent !== null && !nodes.has(parent)) parent = parent._parent; // skip finished creators
    if (parent === null) roots.push(nodes.get(t)!);
    else nodes.get(parent)!.children.push(nodes.get(t)!);
  }
  return roots;
}

/** The task tree as text, one task per line. */
export function formatTasks(roots: TaskInfo[]): string {
  const lines: string[] = [];
  const walk = (n: TaskInfo, prefix: string, last: boolean, top: boolean): void => {
    const branch = top ? '' : last ? '└─ ' : '├─ ';
    const g = n.greenlet === null ? '' : ` (greenlet ${n.greenlet})`;
    const wait = n.waitingOn === null ? '' : ` waits on ${n.waitingOn}`;
    lines.push(`${prefix}${branch}${n.name}${g} [${n.state}]${wait}`);
    if (n.createdAt !== null) lines.push(`${prefix}${top ? '' : last ? '   ' : '│  '}  created ${firstFrame(n.createdAt)}`);
    const next = top ? prefix : prefix + (last ? '   ' : '│  ');
    n.children.forEach((c, i) => walk(c, next, i === n.children.length - 1, false));
  };
  roots.forEach((r) => walk(r, '', true, true));
  return lines.join('\n');
}

/** A wait-for cycle among the live tasks, as task names (first repeated last), or null. */
export function findCycle(loop: EventLoop): string[] | null {
  const next = new Map<Task<unknown>, Task<unknown>>();
  for (const t of loop.allTasks()) {
    const w = t._waitingOn;
    if (w === null) continue;
    const target = w._shared && 'getName' in w ? (w as unknown as Task<unknown>) : holderOf(w);
    if (target !== null && target !== t) next.set(t, target);
  }
  for (const start of next.keys()) {
    const seen: Task<unknown>[] = [];
    for (let t: Task<unknown> | undefined = start; t !== undefined; t = next.get(t)) {
      const i = seen.indexOf(t);
      if (i >= 0) return [...seen.slice(i), t].map((x) => x.getName());
      seen.push(t);
    }
  }
  return null;
}

/** Project only. Raised by runUntilComplete() when nothing can ever complete its future. */
export class DeadlockError extends Error {
  constructor(readonly tasks: TaskInfo[], readonly cycle: string[] | null) {
    super(
      (cycle !== null ? `deadlock: wait-for cycle ${cycle.join(' -> ')}` : 'deadlock: the main task waits and nothing can wake it (no ready callback, timer, I/O or signal handler)') +
      (tasks.length > 0 ? `\n${formatTasks(tasks)}` : ''),
    );
  }
}
DeadlockError.prototype.name = 'DeadlockError';

/** How many of stdout/stderr are pipes: Node lists them as active PipeWrap resources once
 *  written to, but they can never wake the loop. */
function stdioPipes(): number {
  let n = 0;
  for (const s of [process.stdout, process.stderr] as unknown as Array<{ _type?: string }>) if (s._type === 'pipe') n++;
  return n;
}

/** True when Node has no active resource but the loop's own keep-alive timer (and stdio), and
 *  `ownImmediates` setImmediate callbacks and `ownTimeouts` more timers the loop itself has. */
export function nodeIsIdle(ownImmediates = 0, ownTimeouts = 0): boolean {
  let timeouts = 0, pipes = 0, immediates = 0;
  for (const r of process.getActiveResourcesInfo()) {
    if (r === 'Timeout') timeouts++;
    else if (r === 'PipeWrap') pipes++;
    else if (r === 'Immediate') immediates++;
    else if (r !== 'TTYWrap') return false;
  }
  return timeouts <= 1 + ownTimeouts && pipes <= stdioPipes() && immediates <= ownImmediates;
}
