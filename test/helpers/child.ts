// Runs an ES module given as source (`node --import=tsx --input-type=module -e`) in a child
// process from the project root, for what one process cannot show: flags, the environment.
import { spawn } from 'node:child_process';

export interface ChildResult {
  status: number | null;
  out: string;
  err: string;
}

/** Runs `code` to its exit (killed after 60 s, so a hang fails the test instead of stalling it). */
export function runModule(code: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildResult> {
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { err += d; });
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, out, err })));
}
