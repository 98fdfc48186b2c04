// A non-NAPI driver in the style of 3Com's 3c59x (drivers/net/ethernet/3com/3c59x.c, seed
// 004): the interrupt handler (boomerang_interrupt) runs the receive loop itself
// (boomerang_rx), building an skb per completed descriptor and handing it to netif_rx, which
// queues it on a CPU's backlog (this one, or the RPS target). The protocol work happens
// later, in NET_RX softirq, in process_backlog.
//
// The device has no RSS: one queue, no hash in the write-back, so RPS falls back to the flow
// dissector. Its interrupt is level-triggered: while completed descriptors are left over
// (rx_work_limit reached), the line stays asserted and fires again once unmasked.

import type { KCpu } from '../../kernel/percpu.js';
import type { Shm } from '../../shm/memory.js';
import { netif_rx } from '../../kernel/dev.js';
import { request_irq } from '../../kernel/irq.js';
import { POLL_BACKLOG } from '../../kernel/napi.js';
import { msix_unmask } from '../../shm/msix.js';
import { rx_desc_take, rx_desc_unused, rx_ring_drained, rx_ring_refill, rx_ring_touch_ahead, rx_ring_up } from '../rx_ring.js';

/** boomerang_rx's rx_work_limit: at most a ring's worth of frames per interrupt. */
export function legacy_work_limit(shm: Shm): number {
  return shm.cfg.ring_size;
}

/** vortex_up: post the ring. The device's queue napi is never used (no NAPI). */
export function legacy_up(shm: Shm): void {
  rx_ring_up(shm, POLL_BACKLOG, 0);
}

/**
 * boomerang_interrupt: the device masked its interrupt when it fired. Receive what is there,
 * then acknowledge; if frames are left, re-assert the cause before unmasking. Hardirq context.
 */
function boomerang_interrupt(c: KCpu, q: number): void {
  const left = boomerang_rx(c, q);
  const shm = c.shm;
  if (left) Atomics.store(c.i32, shm.rxqI[q] + c.RXQ.eicr, 1);
  msix_unmask(shm, q, c.clock);
}

/**
 * boomerang_rx: for each completed descriptor, up to rx_work_limit: skb fields, netif_rx;
 * then refill the ring. Returns true when completed descriptors remain.
 */
function boomerang_rx(c: KCpu, q: number): boolean {
  const shm = c.shm;
  const RXQ = c.RXQ;
  const qi = shm.rxqI[q];
  const i32 = c.i32;
  const size = c.cfg.ring_size;
  let ntc = i32[qi + RXQ.next_to_clean];
  let rdh = Atomics.load(i32, qi + RXQ.rdh);
  let rx_work_limit = legacy_work_limit(shm);
  rx_ring_touch_ahead(c, q, ntc, rdh, rx_work_limit);
  while (ntc !== rdh || (rdh = Atomics.load(i32, qi + RXQ.rdh)) !== ntc) {
    if (--rx_work_limit < 0) break;
    const skb = rx_desc_take(c, q, ntc);
    ntc = ntc + 1 === size ? 0 : ntc + 1;
    netif_rx(c, skb);
  }
  i32[qi + RXQ.next_to_clean] = ntc;
  const unused = rx_desc_unused(ntc, i32[qi + RXQ.next_to_use], size);
  // Refill the Rx ring buffers. A failed allocation leaves the ring short; the next
  // interrupt tries again (3c59x retries from a timer when the ring runs dry).
  if (unused > 0) rx_ring_refill(c, q, unused);
  if (ntc === rdh) rx_ring_drained(c, q); // the loop ended on an empty ring, not the work limit
  return ntc !== Atomics.load(i32, qi + RXQ.rdh);
}

export function legacy_register(): void {
  request_irq(boomerang_interrupt);
}
