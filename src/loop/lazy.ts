// Node modules that only some programs need (TLS, UDP, subprocesses, worker threads), loaded on
// first use instead of at import: each costs the process memory and start-up time whether it
// is used or not (node:tls alone is about 2 MiB of RSS), and a plain TCP server needs none.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function lazy<T>(id: string): () => T {
  let module: T | undefined;
  return () => (module ??= require(id) as T);
}

export const tlsModule = lazy<typeof import('node:tls')>('node:tls');
export const dgramModule = lazy<typeof import('node:dgram')>('node:dgram');
export const childProcessModule = lazy<typeof import('node:child_process')>('node:child_process');
export const workerThreadsModule = lazy<typeof import('node:worker_threads')>('node:worker_threads');
