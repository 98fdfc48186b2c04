// The host machine, as far as spinning is concerned: a thread that waits for another may
// poll shared memory for a while before sleeping on a futex (whose wake-up costs tens of µs),
// but only while every emulator thread has a core of its own. Oversubscribed, a spinning
// thread takes the core the thread it waits for needs, so polls are kept short.

import { availableParallelism } from 'node:os';

/**
 * Atomics.load iterations to poll before sleeping (~10 ns each): `long` while `threads`
 * (the emulator threads that may spin) fit the host's cores, a twentieth of it otherwise.
 */
export function spinLoads(threads: number, long: number): number {
  return threads <= availableParallelism() ? long : Math.max(64, Math.floor(long / 20));
}
