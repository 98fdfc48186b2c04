// The ixgbe RX path (drivers/net/ethernet/intel/ixgbe/ixgbe_main.c, Linux 5.10): the MSI-X
// handler, ixgbe_poll, ixgbe_clean_rx_irq and ixgbe_alloc_rx_buffers, one ring per vector.
//
// The driver meets its device only in shared memory: it posts skb buffers in descriptors and
// moves RDT (the tail register); the device writes frames and descriptor write-backs (DD
// bit, length, RSS hash) and moves RDH. The vector's EIMS/EICR live in the MSI-X block.
//
// Ring ownership (as in the 82599): descriptors from RDH up to RDT-1 belong to the device;
// the driver cleans from next_to_clean while DD is set and re-posts at next_to_use. One
// descriptor always stays unposted (ixgbe_desc_unused), which tells a full ring from empty.

import type { KCpu } from '../kernel/percpu.js';
import type { Shm } from '../shm/memory.js';
import { napi_register_poll, napi_schedule, POLL_IXGBE } from '../kernel/napi.js';
import { napi_complete_done } from '../kernel/dev.js';
import { napi_gro_receive } from '../kernel/gro.js';
import { request_irq } from '../kernel/irq.js';
import { get16 } from '../kernel/inet.js';
import { msix_unmask } from '../shm/msix.js';
import { skb_pool_take } from '../shm/skb_pool.js';
import { DESC_DD, DESC_L4, DESC_RSS, SKB_FLAG_HASH_VALID, SKB_FLAG_L4_HASH } from '../shm/layout.js';

/** Buffers are given back to the hardware 16 at a time ("one at a time is too slow"). */
export const IXGBE_RX_BUFFER_WRITE = 16;
/** The device napi's weight, set by the driver (netif_napi_add(..., 64)). */
export const IXGBE_NAPI_WEIGHT = 64;
const ETH_HLEN = 14;

/** The napi id of queue q's vector (napis 0..cpus-1 are the backlogs). */
export function ixgbe_napi(shm: Shm, q: number): number {
  return shm.cfg.cpus + q;
}

/** ixgbe_desc_unused: descriptors the driver may post. */
function ixgbe_desc_unused(ntc: number, ntu: number, count: number): number {
  return (ntc > ntu ? 0 : count) + ntc - ntu - 1;
}

/**
 * ixgbe_up's ring set-up (start-up, before any CPU runs): post ring_size - 1 buffers on
 * every queue, enable every vector, set up the napis.
 */
export function ixgbe_up(shm: Shm): void {
  const cfg = shm.cfg;
  const R = shm.layout.rxq;
  const N = shm.layout.napi;
  const size = cfg.ring_size;
  for (let q = 0; q < cfg.queues; q++) {
    const qi = shm.rxqI[q]!;
    const ring = q * size;
    const got = skb_pool_take(shm, shm.desc_skb, ring, size - 1);
    if (got !== size - 1) throw new Error(`skb pool too small to fill RX ring ${q}`);
    shm.i32[qi + R.rdt] = size - 1;
    shm.i32[qi + R.next_to_use] = size - 1;
    shm.i32[qi + R.eims] = 1;
    shm.i32[qi + R.affinity] = cfg.irq_affinity[q]!;
    const ni = shm.napiI[ixgbe_napi(shm, q)]!;
    shm.i32[ni + N.weight] = IXGBE_NAPI_WEIGHT;
    shm.i32[ni + N.poll_fn] = POLL_IXGBE;
    shm.i32[ni + N.queue] = q;
  }
}

/** ixgbe_msix_clean_rings: the queue vector's handler. The hardware auto-masked it (EIAM). */
function ixgbe_msix_clean_rings(c: KCpu, q: number): void {
  napi_schedule(c, ixgbe_napi(c.shm, q));
}

/**
 * ixgbe_poll: clean the ring within budget. Not clean: return budget to stay scheduled.
 * Clean: napi_complete_done, and re-enable the vector unless the napi was rescheduled.
 */
function ixgbe_poll(c: KCpu, n: number, budget: number): number {
  const q = c.i32[c.napiI(n) + c.napi.queue]!;
  const per_ring_budget = budget > 1 ? budget : 1; // max(budget / rings, 1), one ring here
  const work = ixgbe_clean_rx_irq(c, n, q, per_ring_budget);
  if (work >= per_ring_budget) return budget;
  const work_done = work < budget - 1 ? work : budget - 1;
  if (napi_complete_done(c, n, work_done)) msix_unmask(c.shm, q, c.clock);
  return work_done;
}

/**
 * ixgbe_clean_rx_irq: take completed descriptors (DD set), build the skb fields, hand each to
 * GRO; re-post buffers every IXGBE_RX_BUFFER_WRITE. A failed buffer allocation makes the poll
 * claim its whole budget so NAPI polls again (the ring must not stay dry without interrupts).
 */
function ixgbe_clean_rx_irq(c: KCpu, n: number, q: number, budget: number): number {
  const shm = c.shm;
  const R = shm.layout.rxq;
  const qi = shm.rxqI[q]!;
  const i32 = c.i32;
  const size = c.cfg.ring_size;
  const ring = q * size;
  const desc_status = shm.desc_status;
  let ntc = i32[qi + R.next_to_clean]!;
  let cleaned_count = ixgbe_desc_unused(ntc, i32[qi + R.next_to_use]!, size);
  let total = 0;
  let failure = false;
  // The acquire that stands for dma_rmb(): every write-back below RDH is visible after it.
  let rdh = Atomics.load(i32, qi + R.rdh);
  while (total < budget) {
    if (cleaned_count >= IXGBE_RX_BUFFER_WRITE) {
      i32[qi + R.next_to_clean] = ntc;
      if (!ixgbe_alloc_rx_buffers(c, q, cleaned_count)) failure = true;
      cleaned_count = 0;
    }
    if (ntc === rdh) {
      rdh = Atomics.load(i32, qi + R.rdh);
      if (ntc === rdh) break;
    }
    const d = ring + ntc;
    const status = desc_status[d]!;
    if ((status & DESC_DD) === 0) throw new Error(`ixgbe: queue ${q} descriptor ${ntc} below RDH ${rdh} without DD`);
    const skb = shm.desc_skb[d]!;
    c.skb_len[skb] = shm.desc_len[d]!;
    desc_status[d] = 0;
    ntc = ntc + 1 === size ? 0 : ntc + 1;
    cleaned_count++;
    ixgbe_process_skb_fields(c, skb, status, shm.desc_hash[d]!, q);
    napi_gro_receive(c, n, skb);
    total++;
    if ((total & 31) === 0) c.env.irq_window();
  }
  i32[qi + R.next_to_clean] = ntc;
  return failure ? budget : total;
}

/** ixgbe_process_skb_fields: RSS hash (L4 type or L3), queue, eth_type_trans. */
function ixgbe_process_skb_fields(c: KCpu, skb: number, status: number, hash: number, q: number): void {
  if (status & DESC_RSS) {
    c.skb_hash[skb] = hash;
    c.skb_flags[skb] = status & DESC_L4 ? SKB_FLAG_HASH_VALID | SKB_FLAG_L4_HASH : SKB_FLAG_HASH_VALID;
  } else {
    c.skb_hash[skb] = 0;
    c.skb_flags[skb] = 0;
  }
  c.skb_queue[skb] = q; // skb_record_rx_queue
  c.skb_segs[skb] = 1;
  c.skb_next[skb] = -1;
  c.skb_frag_next[skb] = -1;
  // eth_type_trans: protocol from the frame, network header after the Ethernet header.
  c.skb_protocol[skb] = get16(c.u8, c.skb_data(skb) + 12);
  c.skb_nh[skb] = ETH_HLEN;
}

/**
 * ixgbe_alloc_rx_buffers: post up to `count` fresh buffers from next_to_use, then move RDT
 * (ixgbe_release_rx_desc: the tail write publishes the descriptors) and wake a device that
 * waits for descriptors. Returns false if the skb pool ran out.
 */
function ixgbe_alloc_rx_buffers(c: KCpu, q: number, count: number): boolean {
  const shm = c.shm;
  const R = shm.layout.rxq;
  const qi = shm.rxqI[q]!;
  const size = c.cfg.ring_size;
  const ring = q * size;
  const ntu = c.i32[qi + R.next_to_use]!;
  let i = ntu;
  let ok = true;
  while (count-- > 0) {
    const skb = c.cache.alloc();
    if (skb < 0) {
      c.f64[shm.rxqF[q]! + R.alloc_failed]! += 1;
      ok = false;
      break;
    }
    shm.desc_skb[ring + i] = skb;
    i = i + 1 === size ? 0 : i + 1;
  }
  if (i !== ntu) {
    c.i32[qi + R.next_to_use] = i;
    Atomics.store(c.i32, qi + R.rdt, i);
    // A device waiting for descriptors (closed loop) is woken once an eighth of the ring is
    // its again: a wake per refill would cost a futex call every 16 packets.
    if (Atomics.load(c.i32, qi + R.dev_waiting) !== 0) {
      const avail = i - c.i32[qi + R.rdh]!;
      if ((avail < 0 ? avail + size : avail) >= size >> 3) Atomics.notify(c.i32, qi + R.rdt);
    }
  }
  return ok;
}

/** Register the driver's poll and interrupt handler (module init, in every thread). */
export function ixgbe_register(): void {
  napi_register_poll(POLL_IXGBE, ixgbe_poll);
  request_irq(ixgbe_msix_clean_rings);
}
