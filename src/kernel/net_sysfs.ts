// net/core/net-sysfs.c: the files under /sys/class/net/X/ the receive path reads, written at
// boot and while traffic flows (--knob-at): a queue's RPS map and RFS flow table. The device's
// gro_flush_timeout and napi_defer_hard_irqs are plain stores (netdev_store) into the words
// their schema entries name (kernel/knobs.ts). The kernel reads each at its next use.

import type { Shm } from '../shm/memory.js';
import { RPS_MAP_MAX, roundupPow2 } from '../shm/layout.js';
import { maskToCpus } from '../config/schema.js';
import { RPS_NO_CPU } from './dev.js';

/**
 * store_rps_map: write /sys/class/net/X/queues/rx-q/rps_cpus. The new map goes in the
 * inactive buffer and is published with one store (rcu_assign_pointer). Readers hold a map
 * for one packet; callers space changes by far more than that (synchronize_rcu's role).
 */
export function store_rps_map(shm: Shm, q: number, hexmask: string): void {
  const layout = shm.layout;
  const cpus = maskToCpus(hexmask).filter((c) => c < shm.cfg.cpus);
  if (cpus.length > RPS_MAP_MAX) throw new Error(`rps_cpus: more than ${RPS_MAP_MAX} CPUs`);
  const activeAt = layout.rpsActiveBase / 4 + q;
  const next = 1 - Atomics.load(shm.i32, activeAt);
  const base = layout.rpsMapBase / 4 + (q * 2 + next) * layout.rpsMapStride;
  shm.i32[base] = cpus.length;
  cpus.forEach((cpu, i) => {
    shm.i32[base + 1 + i] = cpu;
  });
  Atomics.store(shm.i32, activeAt, next);
  update_rps_needed(shm);
}

/** A fresh rps_dev_flow_table of `cnt` entries (rounded up to a power of two), every CPU unset, published. */
export function rps_flow_table_init(shm: Shm, q: number, cnt: number): void {
  const layout = shm.layout;
  const size = cnt > 0 ? roundupPow2(cnt) : 0;
  if (size > layout.rpsDevFlowCap[q]) throw new Error(`rps_flow_cnt ${cnt} exceeds the table allocated for queue ${q}`);
  const base = layout.rpsDevFlowBase[q] / 4;
  shm.i32.fill(RPS_NO_CPU, base, base + size);
  shm.i32.fill(0, base + size, base + 2 * size); // last_qtail
  Atomics.store(shm.i32, layout.rpsFlowSizeBase / 4 + q, size);
}

/**
 * store_rps_dev_flow_table_cnt: write every queue's rps_flow_cnt while traffic flows. Linux
 * publishes a new table and frees the old one after a grace period; here the tables' memory
 * is reused, so the old ones are unpublished now (no table: RFS off on the queue) and the
 * returned half (fill, publish) runs once readers have let go of them.
 */
export function store_rps_dev_flow_table_cnt(shm: Shm, cnt: readonly number[]): () => void {
  const layout = shm.layout;
  for (let q = 0; q < shm.cfg.queues; q++) Atomics.store(shm.i32, layout.rpsFlowSizeBase / 4 + q, 0);
  update_rps_needed(shm);
  return () => {
    cnt.forEach((n, q) => {
      rps_flow_table_init(shm, q, n);
    });
    update_rps_needed(shm);
  };
}

/** The rps_needed static key (static_branch_inc / _dec): on while any queue has a map or a flow table. */
export function update_rps_needed(shm: Shm): void {
  const layout = shm.layout;
  let needed = 0;
  for (let q = 0; q < shm.cfg.queues; q++) {
    const active = Atomics.load(shm.i32, layout.rpsActiveBase / 4 + q);
    if (
      shm.i32[layout.rpsMapBase / 4 + (q * 2 + active) * layout.rpsMapStride] > 0 ||
      Atomics.load(shm.i32, layout.rpsFlowSizeBase / 4 + q) > 0
    )
      needed = 1;
  }
  Atomics.store(shm.i32, shm.ctlI + layout.CTL.rps_needed, needed);
}
