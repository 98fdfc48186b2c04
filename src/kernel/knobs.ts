// The writes that set a knob, as Linux makes them: a sysctl (proc_dointvec or its handler), a
// sysfs store, ethtool, /proc/irq. Where each knob lives and which write it takes is declared
// once, in its schema entry's slot (config/schema.ts); boot writes every slotted knob through
// here, and the control schedule (engine/control.ts) each --knob-at change.

import type { Shm } from '../shm/memory.js';
import { KNOBS, RSS_RETA_SIZE, SLOTTED_KNOBS, type CtlWord, type KnobKey, type KnobWriter, type SlottedKnob } from '../config/schema.js';
import { proc_do_dev_weight, proc_dointvec, rps_sock_flow_sysctl } from './sysctl.js';
import { store_rps_dev_flow_table_cnt, store_rps_map, update_rps_needed } from './net_sysfs.js';
import { irq_set_affinity } from './irq.js';

/** What is left of a write that replaces a table: run once readers have let go of the old one (RCU), or null. */
export type KnobFinish = (() => void) | null;

/**
 * ethtool -X: ethtool_set_rxfh → the driver's set_rxfh (ixgbe_set_rxfh → ixgbe_store_reta),
 * which rewrites the indirection table entry by entry, as the NIC's RETA registers.
 */
export function ethtool_set_rxfh(shm: Shm, reta: readonly number[]): void {
  for (let i = 0; i < RSS_RETA_SIZE; i++) Atomics.store(shm.reta, i, reta[i]);
}

/** Each writer a slot names, taking the knob's whole value (a per-queue list for the sysfs queue files). */
const KNOB_WRITERS: { readonly [W in KnobWriter]: (shm: Shm, key: KnobKey, value: unknown) => KnobFinish } = {
  proc_do_dev_weight: (shm, key, value) => {
    proc_do_dev_weight(shm, key as 'dev_weight' | 'dev_weight_rx_bias', value as number);
    return null;
  },
  rps_sock_flow_sysctl: (shm, _key, value) => rps_sock_flow_sysctl(shm, value as number),
  store_rps_map: (shm, _key, value) => {
    (value as string[]).forEach((mask, q) => {
      store_rps_map(shm, q, mask);
    });
    return null;
  },
  store_rps_dev_flow_table_cnt: (shm, _key, value) => store_rps_dev_flow_table_cnt(shm, value as number[]),
  irq_set_affinity: (shm, _key, value) => {
    (value as number[]).forEach((cpu, q) => {
      irq_set_affinity(shm, q, cpu);
    });
    return null;
  },
  ethtool_set_rxfh: (shm, _key, value) => {
    ethtool_set_rxfh(shm, value as number[]);
    return null;
  },
};

/**
 * Write knob `key` as Linux would (its slot's writer, or a store of the value in its word):
 * the change, or the first half of it (a table unpublished) with the second half returned, to
 * run once readers have let go of the old table. The control schedule waits (RCU_GRACE_MS):
 * wall time in threads mode, virtual time in sim mode.
 */
export function knob_write(shm: Shm, key: SlottedKnob, value: unknown): KnobFinish {
  const slot = KNOBS[key].slot;
  if (slot.write !== undefined) return KNOB_WRITERS[slot.write](shm, key, value);
  proc_dointvec(shm, slot.ctl[0] as CtlWord, value as number);
  return null;
}

/** Boot: every slotted knob written from the configuration (both halves at once: no reader yet), then the rps_needed key. */
export function knobs_boot(shm: Shm): void {
  for (const key of SLOTTED_KNOBS) {
    if (KNOBS[key].slot.boot === false) continue;
    knob_write(shm, key, shm.cfg[key])?.();
  }
  update_rps_needed(shm);
}
