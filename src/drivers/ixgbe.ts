// The ixgbe RX path (drivers/net/ethernet/intel/ixgbe/ixgbe_main.c, Linux 5.10): the MSI-X
// handler, ixgbe_poll, ixgbe_clean_rx_irq and ixgbe_alloc_rx_buffers, one ring per vector.
//
// The driver meets its device only in shared memory: it posts skb buffers in descriptors and
// moves RDT (the tail register); the device writes frames and descriptor write-backs (DD
// bit, length, RSS hash) and moves RDH. The vector's EIMS/EICR live in the MSI-X block.
// Ring mechanics shared with the legacy driver are in rx_ring.ts.

import type { KCpu } from '../kernel/percpu.js';
import type { Shm } from '../shm/memory.js';
import { napi_register_poll, napi_schedule, POLL_IXGBE } from '../kernel/napi.js';
import { napi_complete_done } from '../kernel/dev.js';
import { napi_gro_receive } from '../kernel/gro.js';
import { request_irq } from '../kernel/irq.js';
import { msix_unmask } from '../shm/msix.js';
import { rx_desc_take, rx_desc_unused, rx_ring_drained, rx_ring_refill, rx_ring_up } from './rx_ring.js';

/** Buffers are given back to the hardware 16 at a time ("one at a time is too slow"). */
export const IXGBE_RX_BUFFER_WRITE = 16;
/** The device napi's weight, set by the driver (netif_napi_add(..., 64)). */
export const IXGBE_NAPI_WEIGHT = 64;

/** The napi id of queue q's vector (napis 0..cpus-1 are the backlogs). */
export function ixgbe_napi(shm: Shm, q: number): number {
  return shm.cfg.cpus + q;
}

/** ixgbe_up: the rings and the queue vectors' napis. */
export function ixgbe_up(shm: Shm): void {
  rx_ring_up(shm, POLL_IXGBE, IXGBE_NAPI_WEIGHT);
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
 * GRO; re-post buffers every IXGBE_RX_BUFFER_WRITE. Returns the packets cleaned, as 5.10's
 * (non-zero-copy) ixgbe_clean_rx_irq does; `failure ? budget : total` is the AF_XDP zero-copy
 * variant's rule (ixgbe_clean_rx_irq_zc). A failed refill is counted by rx_ring_refill and
 * retried at the next IXGBE_RX_BUFFER_WRITE or poll; ixgbe's watchdog is what rearms a dry ring.
 */
function ixgbe_clean_rx_irq(c: KCpu, n: number, q: number, budget: number): number {
  const shm = c.shm;
  const R = shm.layout.rxq;
  const qi = shm.rxqI[q]!;
  const i32 = c.i32;
  const size = c.cfg.ring_size;
  let ntc = i32[qi + R.next_to_clean]!;
  let cleaned_count = rx_desc_unused(ntc, i32[qi + R.next_to_use]!, size);
  let total = 0;
  // The acquire that stands for dma_rmb(): every write-back below RDH is visible after it.
  let rdh = Atomics.load(i32, qi + R.rdh);
  while (total < budget) {
    if (cleaned_count >= IXGBE_RX_BUFFER_WRITE) {
      i32[qi + R.next_to_clean] = ntc;
      rx_ring_refill(c, q, cleaned_count); // ixgbe_alloc_rx_buffers; 5.10 ignores its failure here
      cleaned_count = 0;
    }
    if (ntc === rdh) {
      rdh = Atomics.load(i32, qi + R.rdh);
      if (ntc === rdh) {
        rx_ring_drained(c, q);
        break;
      }
    }
    const skb = rx_desc_take(c, q, ntc); // with ixgbe_process_skb_fields
    ntc = ntc + 1 === size ? 0 : ntc + 1;
    cleaned_count++;
    napi_gro_receive(c, n, skb);
    total++;
    if ((total & 31) === 0) c.env.irq_window();
  }
  i32[qi + R.next_to_clean] = ntc;
  return total;
}

/** Register the driver's poll and interrupt handler (module init, in every thread). */
export function ixgbe_register(): void {
  napi_register_poll(POLL_IXGBE, ixgbe_poll);
  request_irq(ixgbe_msix_clean_rings);
}
