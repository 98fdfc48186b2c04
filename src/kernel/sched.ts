// kernel/sched/core.c, the one call the run's schedule makes of it: moving an application task.

import type { Shm } from '../shm/memory.js';
import { doorbell_ring } from '../shm/msix.js';

/** sched_setaffinity: move application task t to `cpu`, and kick that CPU. */
export function sched_setaffinity(shm: Shm, t: number, cpu: number): void {
  const TASK = shm.layout.TASK;
  const at = shm.taskI[t] + TASK.cpu;
  if (Atomics.load(shm.i32, at) === cpu) return;
  Atomics.store(shm.i32, at, cpu);
  shm.f64[shm.taskF[t] + TASK.migrations] += 1;
  shm.f64[shm.sdF[cpu] + shm.layout.SD.task_migrations_in] += 1;
  doorbell_ring(shm, cpu);
}
