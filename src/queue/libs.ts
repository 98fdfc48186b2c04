// BullMQ and ioredis, loaded when a queue command first needs them. A static import would load
// them in every rxsmp process (about 0.25 s of start-up: the bundle hoists an external
// package's import to its top even behind a dynamic import of our own module), for the queue
// commands' sake only. probeQueue, which every queue command runs first, loads them.

import type { Redis } from 'ioredis';

interface QueueLibs {
  bullmq: typeof import('bullmq');
  ioredis: { Redis: typeof Redis };
}

let libs: QueueLibs | null = null;

/** Load both libraries (once). */
export async function loadQueueLibs(): Promise<QueueLibs> {
  if (libs === null) {
    const [bullmq, { Redis }] = await Promise.all([import('bullmq'), import('ioredis')]);
    libs = { bullmq, ioredis: { Redis } };
  }
  return libs;
}

/** The libraries, after loadQueueLibs. */
export function queueLibs(): QueueLibs {
  if (libs === null) throw new Error('internal: the queue libraries are used before probeQueue loaded them');
  return libs;
}
