// net/core/sysctl_net_core.c: the net.core sysctls the receive path reads. Each is a plain
// store (proc_dointvec) the kernel reads at its next use, but for the two handlers below.
// Which word a sysctl lives in, and which handler it takes, is its schema entry's slot
// (config/schema.ts); kernel/knobs.ts makes the write.

import type { Shm } from '../shm/memory.js';
import { roundupPow2 } from '../shm/layout.js';
import type { CtlWord } from '../config/schema.js';
import { RPS_NO_CPU } from './dev.js';

/** proc_dointvec: store a sysctl's value in its word, read by the kernel at its next use. */
export function proc_dointvec(shm: Shm, word: CtlWord, value: number): void {
  Atomics.store(shm.i32, shm.ctlI + shm.layout.CTL[word], value);
}

/** proc_do_dev_weight: write dev_weight or dev_weight_rx_bias (proc_dointvec), then dev_rx_weight is their product. */
export function proc_do_dev_weight(shm: Shm, word: 'dev_weight' | 'dev_weight_rx_bias', value: number): void {
  proc_dointvec(shm, word, value);
  const CTL = shm.layout.CTL;
  const w = Atomics.load(shm.i32, shm.ctlI + CTL.dev_weight) * Atomics.load(shm.i32, shm.ctlI + CTL.dev_weight_rx_bias);
  Atomics.store(shm.i32, shm.ctlI + CTL.dev_rx_weight, w);
}

/** A fresh rps_sock_flow_table of `entries` (rounded up to a power of two), every CPU unset, published. */
export function rps_sock_flow_table_init(shm: Shm, entries: number): void {
  const layout = shm.layout;
  const size = entries > 0 ? roundupPow2(entries) : 0;
  if (size > layout.rpsSockFlowCap) throw new Error(`rps_sock_flow_entries ${entries} exceeds the table allocated`);
  // rps_sock_flow_sysctl fills a new table with RPS_NO_CPU.
  shm.i32.fill(RPS_NO_CPU, layout.rpsSockFlowBase / 4, layout.rpsSockFlowBase / 4 + size);
  Atomics.store(shm.i32, shm.ctlI + layout.CTL.rps_sock_flow_size, size);
}

/**
 * rps_sock_flow_sysctl: write net.core.rps_sock_flow_entries while traffic flows. Linux
 * publishes a new table and frees the old one after synchronize_rcu; here the table's memory
 * is reused, so the old one is unpublished now (size 0: RFS off) and the returned half (fill,
 * publish) runs once readers have let go of it.
 */
export function rps_sock_flow_sysctl(shm: Shm, entries: number): () => void {
  Atomics.store(shm.i32, shm.ctlI + shm.layout.CTL.rps_sock_flow_size, 0);
  return () => rps_sock_flow_table_init(shm, entries);
}
