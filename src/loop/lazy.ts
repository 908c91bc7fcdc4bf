// Modules that only some programs need (TLS, UDP, subprocesses, worker threads, fs.watch),
// loaded on first use instead of at import: each costs the process memory and start-up time
// whether it is used or not, and a plain TCP server needs none (node:tls is about 2 MiB of RSS).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function lazy<T>(id: string): () => T {
  let module: T | undefined;
  return () => (module ??= require(id) as T);
}

export const tlsModule = lazy<typeof import('node:tls')>('node:tls');
export const dgramModule = lazy<typeof import('node:dgram')>('node:dgram');
export const childProcessModule = lazy<typeof import('node:child_process')>('node:child_process');
export const fsModule = lazy<typeof import('node:fs')>('node:fs');
export const workerThreadsModule = lazy<typeof import('node:worker_threads')>('node:worker_threads');
