// The ixgbe RX path (drivers/net/ethernet/intel/ixgbe/ixgbe_main.c, Linux 5.10): the MSI-X
// handler, ixgbe_poll, ixgbe_clean_rx_irq and ixgbe_alloc_rx_buffers, one ring per vector.
//
// The driver meets its device only in shared memory: it posts skb buffers in descriptors and
// moves RDT (the tail register); the device writes frames and descriptor write-backs (DD
// bit, length, RSS hash) and moves RDH. The vector's EIMS/EICR live in the MSI-X block.
// Ring mechanics shared with the legacy driver are in rx_ring.ts.

import type { KCpu } from '../../kernel/percpu.js';
import type { Shm } from '../../shm/memory.js';
import { napi_register_poll, napi_schedule } from '../../kernel/napi.js';
import { napi_complete_done } from '../../kernel/dev.js';
import { napi_gro_receive } from '../../kernel/gro.js';
import { request_irq } from '../../kernel/irq.js';
import { xdp_poll_end, xdp_run_native } from '../../kernel/xdp.js';
import { XDP_PASS } from '../../bpf/insn.js';
import { msix_unmask, msix_write_eitr } from '../../shm/msix.js';
import { rx_desc_take, rx_desc_unused, rx_ring_drained, rx_ring_refill, rx_ring_touch_ahead, rx_ring_up } from '../rx_ring.js';

/** Buffers are given back to the hardware 16 at a time ("one at a time is too slow"). */
export const IXGBE_RX_BUFFER_WRITE = 16;
/** The device napi's weight, set by the driver (netif_napi_add(..., 64)). */
export const IXGBE_NAPI_WEIGHT = 64;
/** ixgbe_poll's id in the poll table (kernel/napi.ts), its napi->poll. */
export const POLL_IXGBE = 1;

/** The napi id of queue q's vector (napis 0..cpus-1 are the backlogs). */
export function ixgbe_napi(shm: Shm, q: number): number {
  return shm.cfg.cpus + q;
}

// Adaptive ITR (ixgbe.h, 5.10): ring_container->itr is usecs | the latency flag;
// q_vector->itr is usecs << 2, as EITR's interval field takes it.
const IXGBE_ITR_ADAPTIVE_MIN_INC = 2;
const IXGBE_ITR_ADAPTIVE_MIN_USECS = 10;
const IXGBE_ITR_ADAPTIVE_MAX_USECS = 126;
const IXGBE_ITR_ADAPTIVE_LATENCY = 0x80;
const IXGBE_ITR_ADAPTIVE_BULK = 0x00;
/** 20,000 interrupts/s: a vector's first interval under adaptive ITR (ixgbe_alloc_q_vector). */
const IXGBE_20K_ITR = 200;
/** rx.next_update and tx.next_update before the first update (see ixgbe_up). */
const ITR_NEVER_UPDATED = -0x80000000;

/**
 * adapter->rx_itr_setting from `ethtool -C rx-usecs N` (ixgbe_set_coalesce): 1 is adaptive,
 * N > 1 a fixed interval of N µs (kept as N << 2), 0 no moderation.
 */
function ixgbe_rx_itr_setting(rx_usecs: number): number {
  return rx_usecs > 1 ? rx_usecs << 2 : rx_usecs;
}

/**
 * ixgbe_write_eitr: the vector's interval into EITR (µs = itr >> 2). The 82599 counts it
 * from the vector's last interrupt and holds a new one back until it has passed.
 */
function ixgbe_write_eitr(shm: Shm, q: number, itr: number): void {
  msix_write_eitr(shm, q, (itr >> 2) * 1000);
}

/**
 * ixgbe_up: the rings and the queue vectors' napis; each vector's ITR as ixgbe_alloc_q_vector
 * sets it (20K_ITR when adaptive, else the setting) and ixgbe_configure_msix writes it.
 * Each container's itr starts at MAX_USECS | LATENCY (ixgbe_alloc_q_vector, for the RX ring
 * and for the TX ring every queue vector has). next_update starts as ITR_NEVER_UPDATED: the
 * kernel's is kzalloc'd 0 while jiffies, the device brought up in the first five minutes after
 * boot (INITIAL_JIFFIES), is still below it, so the first ixgbe_update_itr measures instead of
 * taking the stale path.
 */
export function ixgbe_up(shm: Shm): void {
  rx_ring_up(shm, POLL_IXGBE, IXGBE_NAPI_WEIGHT);
  const RXQ = shm.layout.RXQ;
  const setting = ixgbe_rx_itr_setting(shm.cfg.rx_usecs);
  for (let q = 0; q < shm.cfg.queues; q++) {
    const qi = shm.rxqI[q];
    const itr = setting === 1 ? IXGBE_20K_ITR : setting;
    shm.i32[qi + RXQ.q_itr] = itr;
    shm.i32[qi + RXQ.rx_itr] = IXGBE_ITR_ADAPTIVE_MAX_USECS | IXGBE_ITR_ADAPTIVE_LATENCY;
    shm.i32[qi + RXQ.rx_next_update] = ITR_NEVER_UPDATED;
    shm.i32[qi + RXQ.rx_total_packets] = 0;
    shm.f64[shm.rxqF[q] + RXQ.rx_total_bytes] = 0;
    shm.i32[qi + RXQ.tx_itr] = IXGBE_ITR_ADAPTIVE_MAX_USECS | IXGBE_ITR_ADAPTIVE_LATENCY;
    shm.i32[qi + RXQ.tx_next_update] = ITR_NEVER_UPDATED;
    ixgbe_write_eitr(shm, q, itr);
  }
}

/**
 * ixgbe_update_itr (5.10) for the vector's RX ring container: from the packets and bytes
 * cleaned since the last update, a latency class and an interval in µs (| LATENCY flag).
 * The 10 Gb/s scaling (avg_wire_size / 256) is used whatever --link-speed says, as ixgbe
 * does for 10G and 100M.
 */
function ixgbe_update_itr(c: KCpu, q: number): void {
  const RXQ = c.shm.layout.RXQ;
  const qi = c.shm.rxqI[q];
  const qf = c.shm.rxqF[q];
  const i32 = c.i32;
  const q_itr = i32[qi + RXQ.q_itr];
  let itr = IXGBE_ITR_ADAPTIVE_MIN_USECS | IXGBE_ITR_ADAPTIVE_LATENCY;
  const next_update = c.jiffies();
  const packets = i32[qi + RXQ.rx_total_packets];
  const bytes = c.f64[qf + RXQ.rx_total_bytes];
  // Not updated within 1-2 jiffies: too slow to measure, or NAPI is moderating: clear.
  const last = i32[qi + RXQ.rx_next_update];
  if (last === ITR_NEVER_UPDATED || next_update - last <= 0) {
    if (packets === 0) {
      itr = (q_itr >> 2) + IXGBE_ITR_ADAPTIVE_MIN_INC;
      if (itr > IXGBE_ITR_ADAPTIVE_MAX_USECS) itr = IXGBE_ITR_ADAPTIVE_MAX_USECS;
      itr += i32[qi + RXQ.rx_itr] & IXGBE_ITR_ADAPTIVE_LATENCY;
    } else if (packets < 4 && bytes < 9000) {
      itr = ixgbe_itr_by_size(IXGBE_ITR_ADAPTIVE_LATENCY, bytes, packets); // latency driven
    } else if (packets < 48) {
      itr = (q_itr >> 2) + IXGBE_ITR_ADAPTIVE_MIN_INC; // the delay is slightly too low
      if (itr > IXGBE_ITR_ADAPTIVE_MAX_USECS) itr = IXGBE_ITR_ADAPTIVE_MAX_USECS;
    } else if (packets < 96) {
      itr = q_itr >> 2; // "goldilocks"
    } else if (packets < 256) {
      itr = q_itr >> 3; // a slight overrun: halve the delay
      if (itr < IXGBE_ITR_ADAPTIVE_MIN_USECS) itr = IXGBE_ITR_ADAPTIVE_MIN_USECS;
    } else {
      itr = ixgbe_itr_by_size(IXGBE_ITR_ADAPTIVE_BULK, bytes, packets);
    }
  }
  // clear_counts:
  i32[qi + RXQ.rx_itr] = itr;
  i32[qi + RXQ.rx_next_update] = next_update + 1;
  i32[qi + RXQ.rx_total_packets] = 0;
  c.f64[qf + RXQ.rx_total_bytes] = 0;
}

/** ixgbe_update_itr's adjust_by_size: an interval from the average wire size (10G scaling). */
function ixgbe_itr_by_size(itr: number, bytes: number, packets: number): number {
  let avg_wire_size = Math.floor(bytes / packets);
  if (avg_wire_size <= 60)
    avg_wire_size = 5120; // 50K ints/s
  else if (avg_wire_size <= 316) avg_wire_size = avg_wire_size * 40 + 2720;
  else if (avg_wire_size <= 1084) avg_wire_size = avg_wire_size * 15 + 11452;
  else if (avg_wire_size < 1968) avg_wire_size = avg_wire_size * 5 + 22420;
  else avg_wire_size = 32256; // plateau at 8K ints/s
  if (itr & IXGBE_ITR_ADAPTIVE_LATENCY) avg_wire_size >>= 1;
  const unit = IXGBE_ITR_ADAPTIVE_MIN_INC * 256;
  return itr + Math.ceil(avg_wire_size / unit) * IXGBE_ITR_ADAPTIVE_MIN_INC;
}

/**
 * ixgbe_update_itr for the vector's TX ring container. rxsmp sends nothing, so it always has
 * 0 packets: measured within 1-2 jiffies, (q_vector->itr >> 2) + MIN_INC (capped) with the
 * container's LATENCY bit carried; stale, MIN_USECS | LATENCY.
 */
function ixgbe_update_itr_tx(c: KCpu, qi: number): void {
  const RXQ = c.shm.layout.RXQ;
  const i32 = c.i32;
  let itr = IXGBE_ITR_ADAPTIVE_MIN_USECS | IXGBE_ITR_ADAPTIVE_LATENCY;
  const next_update = c.jiffies();
  const last = i32[qi + RXQ.tx_next_update];
  if (last === ITR_NEVER_UPDATED || next_update - last <= 0) {
    itr = (i32[qi + RXQ.q_itr] >> 2) + IXGBE_ITR_ADAPTIVE_MIN_INC;
    if (itr > IXGBE_ITR_ADAPTIVE_MAX_USECS) itr = IXGBE_ITR_ADAPTIVE_MAX_USECS;
    itr += i32[qi + RXQ.tx_itr] & IXGBE_ITR_ADAPTIVE_LATENCY;
  }
  i32[qi + RXQ.tx_itr] = itr;
  i32[qi + RXQ.tx_next_update] = next_update + 1;
}

/**
 * ixgbe_set_itr: update the TX container, then the RX one; the smaller raw value (LATENCY bit
 * included) wins, so a bulk RX value always does, and in latency mode the idle TX container's
 * current + 2 µs wins whenever RX asks for more than that: the interval climbs in 2 µs steps.
 * Write EITR if it changed.
 */
function ixgbe_set_itr(c: KCpu, q: number): void {
  const RXQ = c.shm.layout.RXQ;
  const qi = c.shm.rxqI[q];
  ixgbe_update_itr_tx(c, qi);
  ixgbe_update_itr(c, q);
  const rx = c.i32[qi + RXQ.rx_itr];
  const tx = c.i32[qi + RXQ.tx_itr];
  const new_itr = ((rx < tx ? rx : tx) & ~IXGBE_ITR_ADAPTIVE_LATENCY) << 2;
  if (new_itr !== c.i32[qi + RXQ.q_itr]) {
    c.i32[qi + RXQ.q_itr] = new_itr;
    ixgbe_write_eitr(c.shm, q, new_itr);
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
  const q = c.i32[c.napiI(n) + c.NAPI.queue];
  const per_ring_budget = budget > 1 ? budget : 1; // max(budget / rings, 1), one ring here
  const work = ixgbe_clean_rx_irq(c, n, q, per_ring_budget);
  if (work >= per_ring_budget) return budget;
  const work_done = work < budget - 1 ? work : budget - 1;
  if (napi_complete_done(c, n, work_done)) {
    if (c.cfg.rx_usecs === 1) ixgbe_set_itr(c, q); // adapter->rx_itr_setting & 1
    msix_unmask(c.shm, q, c.clock);
  }
  return work_done;
}

/**
 * ixgbe_clean_rx_irq: take completed descriptors (DD set), build the skb fields, hand each to
 * GRO; re-post buffers every IXGBE_RX_BUFFER_WRITE. Returns the packets cleaned, as 5.10's
 * (non-zero-copy) ixgbe_clean_rx_irq does; `failure ? budget : total` is the AF_XDP zero-copy
 * variant's rule (ixgbe_clean_rx_irq_zc). A failed refill is counted by rx_ring_refill and
 * retried at the next IXGBE_RX_BUFFER_WRITE or poll; ixgbe's watchdog is what rearms a dry ring.
 */
function ixgbe_clean_rx_irq(c: KCpu, n: number, q: number, budget: number): number {
  const shm = c.shm;
  const RXQ = shm.layout.RXQ;
  const qi = shm.rxqI[q];
  const i32 = c.i32;
  const size = c.ring_size;
  let ntc = i32[qi + RXQ.next_to_clean];
  let cleaned_count = rx_desc_unused(ntc, i32[qi + RXQ.next_to_use], size);
  let total = 0;
  let total_bytes = 0;
  // The acquire that stands for dma_rmb(): every write-back below RDH is visible after it.
  let rdh = Atomics.load(i32, qi + RXQ.rdh);
  rx_ring_touch_ahead(c, q, ntc, rdh, budget);
  while (total < budget) {
    if (cleaned_count >= IXGBE_RX_BUFFER_WRITE) {
      i32[qi + RXQ.next_to_clean] = ntc;
      rx_ring_refill(c, q, cleaned_count); // ixgbe_alloc_rx_buffers; 5.10 ignores its failure here
      cleaned_count = 0;
    }
    if (ntc === rdh) {
      rdh = Atomics.load(i32, qi + RXQ.rdh);
      if (ntc === rdh) {
        rx_ring_drained(c, q);
        break;
      }
      rx_ring_touch_ahead(c, q, ntc, rdh, budget - total);
    }
    const skb = rx_desc_take(c, q, ntc); // with ixgbe_process_skb_fields
    ntc = ntc + 1 === size ? 0 : ntc + 1;
    cleaned_count++;
    // 5.10 adds skb->len before ixgbe_process_skb_fields (eth_type_trans): the Ethernet header
    // counts. (rxsmp's skb_len is the frame's; eth_type_trans only sets skb_nh.)
    total_bytes += c.skb_len[skb];
    // ixgbe_run_xdp, before the skb is built: only XDP_PASS goes on (kernel/xdp.ts).
    if (!c.xdp || xdp_run_native(c, skb, c.skb_len[skb], q) === XDP_PASS) napi_gro_receive(c, n, skb);
    total++;
    if ((total & 31) === 0) c.env.irq_window();
  }
  i32[qi + RXQ.next_to_clean] = ntc;
  if (c.xdp) xdp_poll_end(c); // xdp_do_flush_map() if it redirected; the XDP TX ring's tail
  // q_vector->rx.total_packets / total_bytes, for ixgbe_update_itr
  i32[qi + RXQ.rx_total_packets] += total;
  c.f64[shm.rxqF[q] + RXQ.rx_total_bytes] += total_bytes;
  return total;
}

/** Register the driver's poll and interrupt handler (module init, in every thread). */
export function ixgbe_register(): void {
  napi_register_poll(POLL_IXGBE, ixgbe_poll);
  request_irq(ixgbe_msix_clean_rings);
}
