// Subprocesses with piped streams: asyncio's create_subprocess_exec / _shell and Process.
//
// Node's child pipes are net.Sockets, so each PIPE gets a SocketTransport and
// StreamReaderProtocol as a TCP connection: stdout/stderr are StreamReaders with the same
// limits and pausing, stdin a StreamWriter with drain(). STDOUT for stderr feeds stderr's
// chunks into the stdout reader as they arrive (Node cannot hand the child one pipe for both),
// and that reader sees EOF once both pipes have ended. communicate() writes the input, closes
// stdin and reads both outputs concurrently, so outputs larger than a pipe buffer cannot
// deadlock. returncode is the exit status, or minus the signal number (asyncio's convention).

import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { childProcessModule } from '../loop/lazy.js';
import { constants } from 'node:os';
import type net from 'node:net';
import type { EventLoop, OpenIo } from '../loop/event-loop.js';
import { getEventLoop } from '../loop/running.js';
import { Protocol } from '../loop/transport.js';
import { SocketTransport } from '../loop/socket-transport.js';
import { Future } from '../tasks/future.js';
import { ownedTask } from '../tasks/task.js';
import type { Coroutine } from '../tasks/coroutine.js';
import { StreamReader } from './stream-reader.js';
import type { StreamWriter } from './stream-writer.js';
import { StreamReaderProtocol } from './stream-protocol.js';

/** asyncio: `subprocess.PIPE`. */
export const PIPE = 'pipe';
/** asyncio: `subprocess.DEVNULL`. */
export const DEVNULL = 'devnull';
/** asyncio: `subprocess.STDOUT` (for stderr: merge into stdout). */
export const STDOUT = 'stdout';

type Stdio = typeof PIPE | typeof DEVNULL | 'inherit' | number | null | undefined;

export interface SubprocessOptions {
  stdin?: Stdio;
  stdout?: Stdio;
  stderr?: Stdio | typeof STDOUT;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  limit?: number;
}

function nodeStdio(s: Stdio | typeof STDOUT): 'pipe' | 'ignore' | 'inherit' | number {
  if (s === PIPE || s === STDOUT) return 'pipe';
  if (s === DEVNULL) return 'ignore';
  if (typeof s === 'number') return s;
  return 'inherit';
}

/** Feeds stderr into the stdout reader; EOF only after both pipes ended. */
class MergeProtocol extends Protocol {
  #reader: StreamReader;
  #open = 2;
  constructor(reader: StreamReader) {
    super();
    this.#reader = reader;
  }
  override dataReceived(data: Buffer): void {
    this.#reader.feedData(data);
  }
  override eofReceived(): boolean {
    if (--this.#open === 0) this.#reader.feedEof();
    return false; // a read-only pipe: close it
  }
}

/** asyncio: `asyncio.subprocess.Process`. */
export class Process {
  readonly pid: number;
  readonly stdin: StreamWriter | null;
  readonly stdout: StreamReader | null;
  readonly stderr: StreamReader | null;
  #returncode: number | null = null;
  #exited: Future<number>;
  readonly #child: ChildProcess;
  readonly #loop: EventLoop;
  /** @internal Links in the loop's list of open I/O. */
  _ioPrev: OpenIo | null = null;
  /** @internal */
  _ioNext: OpenIo | null = null;

  /** @internal */
  constructor(loop: EventLoop, child: ChildProcess, options: SubprocessOptions) {
    this.#loop = loop;
    this.#child = child;
    this.pid = child.pid!;
    this.#exited = new Future<number>(loop);
    const limit = options.limit;
    let stdin: StreamWriter | null = null, stdout: StreamReader | null = null, stderr: StreamReader | null = null;
    if (child.stdin !== null) {
      const proto = new StreamReaderProtocol(loop, new StreamReader(limit));
      const t = new SocketTransport(loop, child.stdin as unknown as net.Socket, proto);
      proto.connectionMade(t);
      stdin = proto.writer;
    }
    if (child.stdout !== null) {
      stdout = new StreamReader(limit);
      if (options.stderr === STDOUT && child.stderr !== null) {
        const merge = new MergeProtocol(stdout);
        stdout._setTransport(new SocketTransport(loop, child.stdout as unknown as net.Socket, merge));
        new SocketTransport(loop, child.stderr as unknown as net.Socket, merge);
      } else {
        const proto = new StreamReaderProtocol(loop, stdout);
        proto._closeOnEof = true;
        proto.connectionMade(new SocketTransport(loop, child.stdout as unknown as net.Socket, proto));
      }
    }
    if (child.stderr !== null && options.stderr !== STDOUT) {
      stderr = new StreamReader(limit);
      const proto = new StreamReaderProtocol(loop, stderr);
      proto._closeOnEof = true;
      proto.connectionMade(new SocketTransport(loop, child.stderr as unknown as net.Socket, proto));
    }
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    loop._ioAdd(this);
    child.on('exit', (code, signal) => {
      loop._ioRemove(this);
      this.#returncode = code ?? -(signal !== null ? (constants.signals[signal] ?? 1) : 1);
      if (!this.#exited.done()) this.#exited._finish(this.#returncode);
    });
  }

  /** @internal The loop closed with this still running: killed, as asyncio kills a subprocess
   *  whose transport it collects (its pipes are aborted as transports). */
  _abandon(): void {
    if (this.#returncode === null) this.#child.kill('SIGKILL');
  }

  /** asyncio: `Process.returncode`. Null while running. */
  get returncode(): number | null {
    return this.#returncode;
  }

  /** asyncio: `Process.wait`. The return code once the process has exited. */
  wait(): Future<number> {
    const f = new Future<number>(this.#loop);
    this.#exited.addDoneCallback(() => { if (!f.done()) f._finish(this.#exited.result()); });
    return f;
  }

  /** asyncio: `Process.communicate`. Sends `input`, closes stdin, reads stdout and stderr to
   *  EOF (concurrently) and waits for the exit: `[stdout, stderr]` (null where not piped). */
  communicate(input?: Uint8Array | string): Future<[Buffer | null, Buffer | null]> {
    return ownedTask(this.#loop.createTask(this.#communicate(input), { name: `communicate(${this.pid})` }));
  }

  *#communicate(input?: Uint8Array | string): Coroutine<[Buffer | null, Buffer | null]> {
    const loop = this.#loop;
    const feed = this.stdin === null ? null : loop.createTask(this.#feed(this.stdin, input));
    const out = this.stdout === null ? null : this.stdout.read();
    const err = this.stderr === null ? null : this.stderr.read();
    const results: [Buffer | null, Buffer | null] = [out === null ? null : yield* out, err === null ? null : yield* err];
    if (feed !== null) yield* feed;
    yield* this.wait();
    return results;
  }

  *#feed(stdin: StreamWriter, input?: Uint8Array | string): Coroutine<void> {
    try {
      if (input !== undefined && input.length > 0) {
        stdin.write(input);
        yield* stdin.drain();
      }
    } catch (error) {
      // the child closed its stdin early (EPIPE): asyncio ignores that too
      if ((error as NodeJS.ErrnoException).code !== 'EPIPE' && (error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    } finally {
      stdin.close();
    }
  }

  /** asyncio: `Process.send_signal`. */
  sendSignal(signal: NodeJS.Signals | number): void {
    if (this.#returncode === null) this.#child.kill(signal);
  }

  /** asyncio: `Process.terminate` (SIGTERM). */
  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  /** asyncio: `Process.kill` (SIGKILL). */
  kill(): void {
    this.sendSignal('SIGKILL');
  }

  toString(): string {
    return `<Process ${this.pid} ${this.#returncode === null ? 'running' : `returncode=${this.#returncode}`}>`;
  }
}

function start(command: string, args: string[], options: SubprocessOptions, shell: boolean): Future<Process> {
  const loop = getEventLoop();
  loop._checkOpen();
  const fut = new Future<Process>(loop);
  const spawnOptions: SpawnOptions = {
    stdio: [nodeStdio(options.stdin), nodeStdio(options.stdout), nodeStdio(options.stderr)],
    cwd: options.cwd, env: options.env, shell,
  };
  let child: ChildProcess;
  try {
    child = childProcessModule().spawn(command, args, spawnOptions);
  } catch (error) {
    fut._fail(error);
    return fut;
  }
  child.once('error', (error) => { if (!fut.done()) fut._fail(error); });
  child.once('spawn', () => {
    if (fut.done()) { // cancelled while starting: nobody will hold this process (asyncio kills it too)
      child.kill('SIGKILL');
      return;
    }
    fut._finish(new Process(loop, child, options));
    fut._onAbandon = killAbandoned; // a task cancelled before it resumes with it
  });
  return fut;
}

function killAbandoned(f: Future<unknown>): void {
  (f.result() as Process).kill();
}

/** asyncio: `create_subprocess_exec`. Runs `program` with `args` (no shell). */
export function createSubprocessExec(program: string, args: string[] = [], options: SubprocessOptions = {}): Future<Process> {
  return start(program, args, options, false);
}

/** asyncio: `create_subprocess_shell`. Runs `cmd` through /bin/sh. */
export function createSubprocessShell(cmd: string, options: SubprocessOptions = {}): Future<Process> {
  return start(cmd, [], options, true);
}
