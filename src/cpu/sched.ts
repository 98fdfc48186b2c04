// The CPU's scheduler, as both runtimes (runtime.ts, sim.ts) run it: a round robin over
// ksoftirqd and the application tasks pinned to the CPU. How each runtime switches context
// and charges time stays its own; which thread runs next is decided here, once.

import type { Shm } from '../shm/memory.js';
import { task_runnable } from '../kernel/sock.js';

/** pick_next found nothing to run. */
export const PICK_NONE = -1;
/** pick_next picked ksoftirqd; a task index (>= 0) otherwise. */
export const PICK_KSOFTIRQD = -2;

/**
 * The next thread to run on `cpu`, from `cursor[i]` on (slot 0 is ksoftirqd, slot t + 1 is
 * application task t), advancing the cursor past it. ksoftirqd runs while awake with softirqs
 * pending; one the round reaches awake with nothing pending goes back to sleep
 * (`ksoftirqd[i] = 0`). A task runs when it is pinned here and a socket of it has data.
 */
export function pick_next(shm: Shm, cpu: number, softirq_pending: number, cursor: Int32Array, ksoftirqd: Uint8Array, i: number): number {
  const slots = shm.layout.taskCount + 1;
  const T = shm.layout.task;
  for (let k = 0; k < slots; k++) {
    const slot = cursor[i]!;
    cursor[i] = slot + 1 === slots ? 0 : slot + 1;
    if (slot === 0) {
      if (ksoftirqd[i] === 0) continue;
      if (softirq_pending === 0) {
        ksoftirqd[i] = 0;
        continue;
      }
      return PICK_KSOFTIRQD;
    }
    const t = slot - 1;
    if (shm.i32[shm.taskI[t]! + T.cpu] !== cpu) continue;
    if (!task_runnable(shm, t)) continue;
    return t;
  }
  return PICK_NONE;
}
