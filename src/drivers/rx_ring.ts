// The RX descriptor ring as the drivers see it: set-up, the count of descriptors the driver
// may post, re-posting buffers, and the skb fields every driver fills from a write-back.
// Shared by ixgbe (NAPI) and the legacy netif_rx driver; each keeps its own clean loop, as
// each Linux driver does.
//
// Ring ownership (as in the 82599): descriptors from RDH up to RDT-1 belong to the device;
// the driver cleans from next_to_clean up to RDH (which the device publishes after its
// write-backs) and re-posts at next_to_use. One descriptor always stays unposted
// (rx_desc_unused), which tells a full ring from an empty one.

import type { KCpu } from '../kernel/percpu.js';
import type { Shm } from '../shm/memory.js';
import { ETH_HLEN, ETH_PROTO_OFF, get16 } from '../uapi/inet.js';
import { skb_pool_take_in_use } from '../shm/skb_pool.js';
import { doorbell_ring } from '../shm/msix.js';
import { assertion_failed } from '../shm/assert.js';
import {
  WIRE_KICKED,
  WIRE_NAPPING,
  WIRE_SLEEPING,
  WIRE_INLINE,
  DESC_DD,
  DESC_L4,
  DESC_RSS,
  DESC_TS,
  SKB_FLAG_HASH_VALID,
  SKB_FLAG_L4_HASH,
  SKB_FLAG_TSTAMP,
} from '../shm/layout.js';

/** ixgbe_desc_unused: descriptors the driver may post. */
export function rx_desc_unused(ntc: number, ntu: number, count: number): number {
  return (ntc > ntu ? 0 : count) + ntc - ntu - 1;
}

/**
 * Ring set-up at ifup (start-up, before any CPU runs): post ring_size - 1 buffers on every
 * queue, enable every vector, point each queue's napi at the driver's poll function.
 */
export function rx_ring_up(shm: Shm, poll_fn: number, weight: number): void {
  const cfg = shm.cfg;
  const RXQ = shm.layout.RXQ;
  const NAPI = shm.layout.NAPI;
  const size = cfg.ring_size;
  for (let q = 0; q < cfg.queues; q++) {
    const qi = shm.rxqI[q];
    const got = skb_pool_take_in_use(shm, shm.desc_skb, q * size, size - 1);
    if (got !== size - 1) throw new Error(`skb pool too small to fill RX ring ${q}`);
    shm.i32[qi + RXQ.rdt] = size - 1;
    shm.i32[qi + RXQ.next_to_use] = size - 1;
    shm.i32[qi + RXQ.eims] = 1;
    shm.i32[qi + RXQ.affinity] = cfg.irq_affinity[q];
    const ni = shm.napiI[cfg.cpus + q];
    shm.i32[ni + NAPI.weight] = weight;
    shm.i32[ni + NAPI.poll_fn] = poll_fn;
    shm.i32[ni + NAPI.queue] = q;
  }
}

/**
 * The clean loop's touch-ahead, as ixgbe's prefetch of the next descriptor and of the frame's
 * first line (ixgbe_build_skb's net_prefetch), done for a whole burst at once: load each
 * completed descriptor from `ntc` up to `rdh` (at most `max`) and the first line of its frame
 * before any is used. The device wrote those lines on another core; touching them together
 * lets the misses overlap instead of taking one per packet. Reads only: nothing the kernel
 * observes changes. The loads' XOR goes to c.touched so the JIT cannot drop them.
 */
export function rx_ring_touch_ahead(c: KCpu, q: number, ntc: number, rdh: number, max: number): void {
  const shm = c.shm;
  const size = c.ring_size;
  if (rdh >>> 0 >= size) rx_rdh_bad(c, q, rdh);
  const base = q * size;
  const u8 = c.u8;
  let x = c.touched;
  for (let i = ntc, n = 0; i !== rdh && n < max; n++) {
    const d = base + i;
    const skb = shm.desc_skb[d];
    x ^= shm.desc_status[d] ^ shm.desc_len[d] ^ u8[c.skb_data(skb) + ETH_PROTO_OFF];
    i = i + 1 === size ? 0 : i + 1;
  }
  c.touched = x | 0;
}

/**
 * Take the completed descriptor at `ntc` (below RDH, so its write-back is visible): check DD,
 * fill its skb from the write-back, clear the descriptor for re-posting. Returns the skb.
 */
export function rx_desc_take(c: KCpu, q: number, ntc: number): number {
  const shm = c.shm;
  const d = q * c.ring_size + ntc;
  const status = shm.desc_status[d];
  if ((status & DESC_DD) === 0) rx_desc_not_done(c, q, ntc);
  const skb = shm.desc_skb[d];
  c.skb_len[skb] = shm.desc_len[d];
  shm.desc_status[d] = 0;
  rx_skb_fields(c, skb, status, shm.desc_hash[d], q);
  return skb;
}

/** The descriptor hand-off broke: a descriptor below RDH without DD (always on: the status is loaded anyway). */
function rx_desc_not_done(c: KCpu, q: number, ntc: number): never {
  return assertion_failed(
    `${c.cfg.nic} rx desc ${ntc} on queue ${q} taken by the driver on cpu ${c.cpu} while owned by the device (below RDH without DD)`,
  );
}

/** The device's head, as the driver reads it, is not a descriptor of the ring (always on: per RDH read). */
function rx_rdh_bad(c: KCpu, q: number, rdh: number): never {
  return assertion_failed(
    `${c.cfg.nic} rx RDH ${rdh} on queue ${q} is outside the ring of ${c.ring_size} (read by the driver on cpu ${c.cpu})`,
  );
}

/** --debug-asserts, as the driver posts descriptor i of queue q: it took the last write-back there (DD clear). */
function rx_post_check(c: KCpu, q: number, i: number): void {
  if ((c.shm.desc_status[q * c.ring_size + i] & DESC_DD) !== 0) {
    assertion_failed(
      `${c.cfg.nic} rx desc ${i} on queue ${q} posted by the driver on cpu ${c.cpu} while its write-back is not taken (DD set)`,
    );
  }
}

/** Fill an skb from its write-back: RSS hash (L4 type or L3), queue, eth_type_trans. */
function rx_skb_fields(c: KCpu, skb: number, status: number, hash: number, q: number): void {
  const ts = status & DESC_TS ? SKB_FLAG_TSTAMP : 0;
  if (status & DESC_RSS) {
    c.skb_hash[skb] = hash;
    c.skb_flags[skb] = ts | (status & DESC_L4 ? SKB_FLAG_HASH_VALID | SKB_FLAG_L4_HASH : SKB_FLAG_HASH_VALID);
  } else {
    c.skb_hash[skb] = 0;
    c.skb_flags[skb] = ts;
  }
  c.skb_queue[skb] = q; // skb_record_rx_queue
  c.skb_segs[skb] = 1;
  c.skb_next[skb] = -1;
  c.skb_frag_next[skb] = -1;
  // eth_type_trans: protocol from the frame, network header after the Ethernet header.
  c.skb_protocol[skb] = get16(c.u8, c.skb_data(skb) + ETH_PROTO_OFF);
  c.skb_nh[skb] = ETH_HLEN;
}

/**
 * ixgbe_alloc_rx_buffers: post up to `count` fresh buffers from next_to_use, then move RDT
 * (ixgbe_release_rx_desc: the tail write publishes the descriptors) and wake a device that
 * waits for descriptors. Returns false if the skb pool ran out.
 */
export function rx_ring_refill(c: KCpu, q: number, count: number): boolean {
  const shm = c.shm;
  const RXQ = shm.layout.RXQ;
  const qi = shm.rxqI[q];
  const size = c.cfg.ring_size;
  const ring = q * size;
  const ntu = c.i32[qi + RXQ.next_to_use];
  let i = ntu;
  let ok = true;
  while (count-- > 0) {
    const skb = c.cache.alloc();
    if (skb < 0) {
      c.f64[shm.rxqF[q] + RXQ.alloc_failed] += 1;
      ok = false;
      break;
    }
    if (c.debug_asserts) rx_post_check(c, q, i);
    shm.desc_skb[ring + i] = skb;
    i = i + 1 === size ? 0 : i + 1;
  }
  if (i !== ntu) {
    c.i32[qi + RXQ.next_to_use] = i;
    Atomics.store(c.i32, qi + RXQ.rdt, i);
    // A device waiting for descriptors (closed loop) is woken once half of the ring is
    // its again: a wake per refill would cost a futex call every 16 packets.
    const waiting = Atomics.load(c.i32, qi + RXQ.dev_waiting);
    if (waiting === WIRE_INLINE) {
      // --device inline: the device runs on a CPU's thread and waits for this ring: kick it
      // (this CPU, if it hosts the device, gives it a turn at its next step anyway).
      Atomics.store(c.i32, qi + RXQ.dev_waiting, 0);
      const host = c.i32[c.ctlI + c.layout.CTL.device_cpu];
      if (host !== c.cpu) doorbell_ring(shm, host);
    } else if (waiting === WIRE_SLEEPING) {
      const avail = i - c.i32[qi + RXQ.rdh];
      if ((avail < 0 ? avail + size : avail) >= size >> 1) {
        Atomics.notify(c.i32, qi + RXQ.rdt);
        c.f64[shm.rxqF[q] + RXQ.wire_wakes] += 1;
      }
    }
  }
  return ok;
}

/**
 * The driver found queue q's ring empty: a closed-loop wire napping meanwhile is kicked now
 * rather than at the end of its nap, which this ring would sit out with no frames. The
 * futex call is paid by a CPU that has run out of frames on this ring (it may still have
 * backlog work). The wire counts the kicks that cut a nap short (wire_kicks).
 */
export function rx_ring_drained(c: KCpu, q: number): void {
  const at = c.shm.rxqI[q] + c.shm.layout.RXQ.dev_waiting;
  if (Atomics.load(c.i32, at) !== WIRE_NAPPING) return;
  if (Atomics.compareExchange(c.i32, at, WIRE_NAPPING, WIRE_KICKED) !== WIRE_NAPPING) return;
  Atomics.notify(c.i32, at);
}

/** Descriptors posted and not yet cleaned on queue `q`: the skbs the ring holds (the pool audit's count). */
export function rx_ring_in_use(shm: Shm, q: number): number {
  const b = shm.rxqI[q];
  const RXQ = shm.layout.RXQ;
  return (shm.i32[b + RXQ.next_to_use] - shm.i32[b + RXQ.next_to_clean] + shm.cfg.ring_size) % shm.cfg.ring_size;
}
