// The skb pool's audit after a run: where every skb of the pool is once the CPUs have stopped
// (the run contract's `skb_pool`, engine/result_types.ts SkbPoolAudit).

import type { Shm } from '../shm/memory.js';
import { nicDriver } from '../drivers/table.js';
import type { SkbPoolAudit } from './result_types.js';

/**
 * Count every skb after the CPUs stopped (their caches are back in the pool): a leak or a
 * double free shows as a nonzero `unaccounted`, which packet conservation alone cannot see.
 */
export function skbPoolAudit(shm: Shm): SkbPoolAudit {
  const layout = shm.layout;
  const i32 = shm.i32;
  const chain = (skb: number): number => {
    let n = 0;
    for (let s = skb; s !== -1; s = shm.skb_frag_next[s]) for (let p = s; p !== -1; p = shm.skb_frags[p]) n++;
    return n;
  };
  const list = (head: number): number => {
    let n = 0;
    for (let s = head; s !== -1; s = shm.skb_next[s]) n += chain(s);
    return n;
  };
  let in_rings = 0;
  const driver = nicDriver(shm.cfg.nic);
  for (let q = 0; q < shm.cfg.queues; q++) in_rings += driver.in_ring(shm, q);
  let in_backlogs = 0;
  for (let c = 0; c < shm.cfg.cpus; c++) {
    in_backlogs += list(i32[shm.sd[c] + layout.SD.input_pkt_head]) + list(i32[shm.sd[c] + layout.SD.process_head]);
  }
  let in_sockets = 0;
  for (let s = 0; s < layout.skCount; s++)
    in_sockets += list(i32[shm.skIdx(s, layout.SOCK.rx_head)]) + list(i32[shm.skIdx(s, layout.SOCK.reader_head)]);
  const free = i32[shm.ctlI + layout.CTL.skb_free_top];
  const size = layout.skbCount;
  return { size, free, in_rings, in_backlogs, in_sockets, unaccounted: size - free - in_rings - in_backlogs - in_sockets };
}
