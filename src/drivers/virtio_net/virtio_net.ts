// The virtio-net guest driver's receive path (drivers/net/virtio_net.c, Linux 5.10):
//
//   vring_interrupt → skb_recv_done → virtqueue_napi_schedule
//       (napi_schedule_prep, then virtqueue_disable_cb, then __napi_schedule)
//   virtnet_poll → virtnet_receive → virtqueue_get_buf → receive_buf
//       (receive_mergeable or receive_big) → napi_gro_receive
//     then try_fill_recv once num_free > min(budget, ring size) / 2 (refill work if it fails),
//     then, under budget, virtqueue_napi_complete: virtqueue_enable_cb_prepare,
//       napi_complete_done, virtqueue_poll (the recheck that closes the lost-interrupt race)
//   try_fill_recv → add_recvbuf_mergeable | add_recvbuf_big → virtqueue_kick_prepare → notify
//
// The driver meets QEMU only in shared memory: the virtqueue (shm/virtqueue.ts) and its
// notify register; the device raises the queue's MSI-X vector. A receive buffer is an skb
// pool slot (a "page"): mergeable buffers are one slot each, the header right before the
// frame; a frame over several buffers becomes one skb whose frag pages are the other slots
// (skb_frags), as receive_mergeable's skb_shinfo(skb)->frags. Big packets (no MRG_RXBUF, as
// 5.10 with GUEST_TSO4/6) post MAX_SKB_FRAGS + 2 sgs over 18 pages through one indirect
// descriptor; receive_big keeps the pages the frame used and gives the rest back.

import type { KCpu } from '../../kernel/percpu.js';
import type { Shm } from '../../shm/memory.js';
import { ____napi_schedule, napi_register_poll, napi_schedule_prep, NAPI_STATE_SCHED } from '../../kernel/napi.js';
import { napi_complete_done } from '../../kernel/dev.js';
import { napi_gro_receive } from '../../kernel/gro.js';
import { kfree_skb } from '../../kernel/skbuff.js';
import { request_irq } from '../../kernel/irq.js';
import { register_delayed_work, schedule_delayed_work } from '../../kernel/workqueue.js';
import { ETH_HLEN, ETH_PROTO_OFF, get16 } from '../../uapi/inet.js';
import { skb_pool_take_in_use } from '../../shm/skb_pool.js';
import { DRV, VIRTIO_NET_HDR_F_RXSMP_TSTAMP, VIRTIO_NET_HDR_LEN, VIRTIO_NET_HDR_NUM_BUFFERS_OFF } from '../../shm/virtqueue.js';
import { xdp_poll_end, xdp_run_native } from '../../kernel/xdp.js';
import { XDP_PASS, XDP_REDIRECT, XDP_TX } from '../../bpf/insn.js';
import { SKB_FLAG_TSTAMP, VIRTIO_BIG_PAGES, VIRTIO_BIG_SG, virtioHeadroom } from '../../shm/layout.js';
import {
  more_used,
  virtqueue_add_inbuf,
  virtqueue_add_inbuf_indirect,
  virtqueue_disable_cb,
  virtqueue_enable_cb_prepare,
  virtqueue_get_buf,
  virtqueue_kick_prepare,
  virtqueue_notify,
  virtqueue_num_free,
  virtqueue_poll,
  vring_init,
  vring_out,
} from '../virtio_ring.js';

/** napi_weight (NAPI_POLL_WEIGHT), the device napi's weight. */
export const VIRTNET_NAPI_WEIGHT = 64;
/** virtnet_poll's id in the poll table (kernel/napi.ts), its napi->poll. */
export const POLL_VIRTIO = 2;
const HDR_LEN = VIRTIO_NET_HDR_LEN;
/** GOOD_PACKET_LEN: ETH_HLEN + VLAN_HLEN + ETH_DATA_LEN, mergeable_min_buf_len for 1500 MTU. */
const GOOD_PACKET_LEN = 1518;
const PAGE_SIZE = 4096;
const L1_CACHE_BYTES = 64;

// add_recvbuf_big's scatter list, reused (one CPU at a time per thread).
const big_addr = new Int32Array(VIRTIO_BIG_SG);
const big_len = new Int32Array(VIRTIO_BIG_SG);
// Boot-time page allocation (no CPU yet): slots taken from the pool.
const boot_slots = new Int32Array(VIRTIO_BIG_PAGES);

/** The napi of queue q (napis 0..cpus-1 are the backlogs). */
function virtnet_napi(shm: Shm, q: number): number {
  return shm.cfg.cpus + q;
}

/** Where a buffer of slot `slot` starts: its header, right before its data. */
function buf_addr(shm: Shm, slot: number): number {
  return shm.skbData(slot) - HDR_LEN;
}

// ------------------------------------------------------------------------ buffers

/** get_mergeable_buf_len: header + the EWMA of packet lengths, clamped, to a cache line. */
function get_mergeable_buf_len(shm: Shm, q: number): number {
  const ewma = shm.i32[shm.vq[q].drv + DRV.mrg_avg_pkt_len];
  const room = shm.skbBufSize - virtioHeadroom(shm.cfg) + HDR_LEN;
  let len = ewma < GOOD_PACKET_LEN ? GOOD_PACKET_LEN : ewma > PAGE_SIZE - HDR_LEN ? PAGE_SIZE - HDR_LEN : ewma;
  len = Math.ceil((HDR_LEN + len) / L1_CACHE_BYTES) * L1_CACHE_BYTES;
  return len < room ? len : room;
}

/** ewma_pkt_len_add (DECLARE_EWMA(pkt_len, 0, 64)). */
function ewma_pkt_len_add(shm: Shm, q: number, val: number): void {
  const at = shm.vq[q].drv + DRV.mrg_avg_pkt_len;
  const internal = shm.i32[at];
  shm.i32[at] = internal !== 0 ? Math.floor((internal * 63 + val) / 64) : val;
}

/** add_recvbuf_mergeable: one buffer of get_mergeable_buf_len bytes. */
function add_recvbuf_mergeable(shm: Shm, q: number, slot: number): void {
  virtqueue_add_inbuf(shm, q, buf_addr(shm, slot), get_mergeable_buf_len(shm, q), slot);
}

/**
 * add_recvbuf_big: sg[0] the header, sg[1] the first page's data, sg[2..18] 17 more pages,
 * one indirect descriptor. `pages[0..18)` are the slots; the first is the token.
 */
function add_recvbuf_big(shm: Shm, q: number, pages: Int32Array): void {
  const vq = shm.vq[q];
  const room = shm.skbBufSize - virtioHeadroom(shm.cfg);
  big_addr[0] = buf_addr(shm, pages[0]);
  big_len[0] = HDR_LEN;
  for (let k = 0; k < VIRTIO_BIG_PAGES; k++) {
    big_addr[k + 1] = shm.skbData(pages[k]);
    big_len[k + 1] = room;
  }
  const head = shm.i32[vq.drv + DRV.free_head];
  for (let k = 0; k < VIRTIO_BIG_PAGES; k++) shm.i32[vq.pages + head * VIRTIO_BIG_PAGES + k] = pages[k];
  virtqueue_add_inbuf_indirect(shm, q, big_addr, big_len, VIRTIO_BIG_SG, pages[0]);
}

// add_recvbuf_big's pages, taken from this CPU's cache.
const big_pages = new Int32Array(VIRTIO_BIG_PAGES);

/**
 * try_fill_recv: post buffers until the ring is full or allocation fails, then kick if the
 * device asked for it. Returns false on an allocation failure (the caller schedules the
 * refill work). Softirq context (or the refill work's process context).
 */
export function try_fill_recv(c: KCpu, q: number): boolean {
  const shm = c.shm;
  const RXQ = shm.layout.RXQ;
  const qf = shm.rxqF[q];
  c.f64[qf + RXQ.virtio_refills] += 1;
  let oom = false;
  const mergeable = c.cfg.virtio_mrg_rxbuf;
  while (virtqueue_num_free(shm, q) > 0) {
    if (mergeable) {
      const slot = c.cache.alloc();
      if (slot < 0) {
        oom = true;
        break;
      }
      add_recvbuf_mergeable(shm, q, slot);
    } else {
      let k = 0;
      for (; k < VIRTIO_BIG_PAGES; k++) {
        const page = c.cache.alloc();
        if (page < 0) break;
        big_pages[k] = page;
      }
      if (k < VIRTIO_BIG_PAGES) {
        while (k > 0) c.cache.free(big_pages[--k]); // give_pages
        oom = true;
        break;
      }
      add_recvbuf_big(shm, q, big_pages);
    }
  }
  if (oom) c.f64[qf + RXQ.alloc_failed] += 1;
  virtnet_kick(shm, q);
  return !oom;
}

/** virtqueue_kick_prepare && virtqueue_notify, counted. */
function virtnet_kick(shm: Shm, q: number): void {
  const RXQ = shm.layout.RXQ;
  const qf = shm.rxqF[q];
  if (virtqueue_kick_prepare(shm, q, shm.cfg.virtio_event_idx)) {
    virtqueue_notify(shm, q);
    shm.f64[qf + RXQ.virtio_kicks] += 1;
  } else {
    shm.f64[qf + RXQ.virtio_kicks_suppressed] += 1;
  }
}

/**
 * virtnet_open at ifup (start-up, before any CPU runs): create each virtqueue, fill it from
 * the pool (try_fill_recv with GFP_KERNEL) and kick; the queue napi is virtnet_poll, weight 64.
 */
export function virtnet_up(shm: Shm): void {
  const cfg = shm.cfg;
  const RXQ = shm.layout.RXQ;
  const NAPI = shm.layout.NAPI;
  for (let q = 0; q < cfg.queues; q++) {
    vring_init(shm, q);
    const per = cfg.virtio_mrg_rxbuf ? 1 : VIRTIO_BIG_PAGES;
    while (virtqueue_num_free(shm, q) > 0) {
      if (skb_pool_take_in_use(shm, boot_slots, 0, per) !== per) throw new Error(`skb pool too small to fill virtqueue ${q}`);
      if (cfg.virtio_mrg_rxbuf) add_recvbuf_mergeable(shm, q, boot_slots[0]);
      else add_recvbuf_big(shm, q, boot_slots);
    }
    virtnet_kick(shm, q);
    shm.f64[shm.rxqF[q] + RXQ.virtio_refills] += 1;
    shm.i32[shm.rxqI[q] + RXQ.affinity] = cfg.irq_affinity[q];
    const ni = shm.napiI[virtnet_napi(shm, q)];
    shm.i32[ni + NAPI.weight] = VIRTNET_NAPI_WEIGHT;
    shm.i32[ni + NAPI.poll_fn] = POLL_VIRTIO;
    shm.i32[ni + NAPI.queue] = q;
  }
}

// ------------------------------------------------------------------------ interrupt

/**
 * vring_interrupt: no used buffer, not ours (IRQ_NONE); else the callback, skb_recv_done,
 * which schedules the queue's napi. Hardirq context, on the vector's CPU.
 */
function vring_interrupt(c: KCpu, q: number): void {
  if (!more_used(c.shm, q)) return;
  virtqueue_napi_schedule(c, virtnet_napi(c.shm, q), q);
}

/** virtqueue_napi_schedule: if we take the napi, stop the device's interrupts, then poll it here. */
function virtqueue_napi_schedule(c: KCpu, n: number, q: number): void {
  if (napi_schedule_prep(c, n)) {
    virtqueue_disable_cb(c.shm, q, c.cfg.virtio_event_idx);
    ____napi_schedule(c, n);
  }
}

// ------------------------------------------------------------------------ poll

/** virtnet_poll: receive within budget; under it, complete with the recheck. Softirq context. */
function virtnet_poll(c: KCpu, n: number, budget: number): number {
  const q = c.i32[c.napiI(n) + c.NAPI.queue];
  const received = virtnet_receive(c, n, q, budget);
  if (received < budget) virtqueue_napi_complete(c, n, q, received);
  if (c.xdp) xdp_poll_end(c); // xdp_do_flush() if it redirected; the XDP send queue's kick
  return received;
}

/**
 * virtqueue_napi_complete: enable callbacks from last_used_idx (used_event), complete the
 * napi, then virtqueue_poll: a buffer the device used after our last look and before it could
 * see used_event raised no interrupt; we take it now. Without the recheck (the test-only
 * fault switch) such a packet waits for an interrupt that never comes.
 */
function virtqueue_napi_complete(c: KCpu, n: number, q: number, processed: number): void {
  const shm = c.shm;
  const event_idx = c.cfg.virtio_event_idx;
  // A point where the vCPU may lose its host core (sim: where the device may run in between).
  c.env.burn_ns(0);
  const opaque = virtqueue_enable_cb_prepare(shm, q, event_idx);
  if (napi_complete_done(c, n, processed)) {
    if (!c.cfg.fault_virtio_no_poll_recheck && virtqueue_poll(shm, q, opaque)) virtqueue_napi_schedule(c, n, q);
  } else {
    virtqueue_disable_cb(shm, q, event_idx);
  }
}

/**
 * virtnet_receive: up to `budget` packets from the used ring to GRO, then try_fill_recv once
 * num_free > min(budget, ring size) / 2; a failed refill schedules vi->refill at once.
 */
function virtnet_receive(c: KCpu, n: number, q: number, budget: number): number {
  const shm = c.shm;
  const RXQ = c.RXQ;
  const qi = shm.rxqI[q];
  const mask = c.cfg.ring_size - 1;
  const drv = shm.vq[q].drv;
  let received = 0;
  while (received < budget) {
    const buf = virtqueue_get_buf(shm, q);
    if (buf < 0) break;
    receive_buf(c, n, q, buf, vring_out[0], vring_out[1]);
    received++;
    if ((received & 31) === 0) {
      c.i32[qi + RXQ.next_to_clean] = c.i32[drv + DRV.last_used_idx] & mask;
      c.env.irq_window();
    }
  }
  c.i32[qi + RXQ.next_to_clean] = c.i32[drv + DRV.last_used_idx] & mask;
  const size = c.cfg.ring_size;
  if (virtqueue_num_free(shm, q) > (budget < size ? budget : size) >> 1) {
    if (!try_fill_recv(c, q) && schedule_delayed_work(c, 0)) c.f64[shm.rxqF[q] + RXQ.virtio_refills_delayed] += 1;
  }
  return received;
}

/**
 * receive_buf: a buffer shorter than the header and an Ethernet header is a length error
 * (dev->stats.rx_length_errors, the buffer freed: put_page, or give_pages for big packets);
 * else receive_mergeable or receive_big builds the skb, then the header's flags, the queue,
 * eth_type_trans, napi_gro_receive. No hash: virtio 1.x without HASH_REPORT gives none.
 */
function receive_buf(c: KCpu, n: number, q: number, buf: number, len: number, head: number): void {
  const shm = c.shm;
  if (len < HDR_LEN + ETH_HLEN) return receive_length_error(c, q, buf, head);
  const hdr = c.skb_data(buf) - HDR_LEN;
  const flags = c.u8[hdr];
  let bufs = 1;
  if (c.cfg.virtio_mrg_rxbuf) bufs = receive_mergeable(c, q, buf, len);
  else bufs = receive_big(c, q, buf, len, head);
  if (bufs === 0) return; // receive_mergeable's err_buf: counted, freed
  const at = shm.rxqI[q] + c.RXQ.virtio_buffers_per_packet_max;
  if (bufs > c.i32[at]) c.i32[at] = bufs;
  c.skb_hash[buf] = 0;
  c.skb_flags[buf] = flags & VIRTIO_NET_HDR_F_RXSMP_TSTAMP ? SKB_FLAG_TSTAMP : 0;
  c.skb_queue[buf] = q; // skb_record_rx_queue
  c.skb_segs[buf] = 1;
  c.skb_next[buf] = -1;
  c.skb_frag_next[buf] = -1;
  c.skb_protocol[buf] = get16(c.u8, c.skb_data(buf) + ETH_PROTO_OFF); // eth_type_trans
  c.skb_nh[buf] = ETH_HLEN;
  if (c.xdp && !receive_mergeable_xdp(c, q, buf, bufs)) return;
  napi_gro_receive(c, n, buf);
}

/**
 * --xdp: receive_mergeable's program run (5.10), before page_to_skb, with VIRTIO_XDP_HEADROOM
 * in front of the frame; its switch's counters (xdp_packets, xdp_tx, xdp_redirects, and
 * xdp_drops with drops on err_xdp). True: XDP_PASS, the skb is built. Big packets
 * (receive_big) have no XDP in 5.10; a frame over several mergeable buffers is linearised by
 * the kernel (xdp_linearize_page), which rxsmp does not model: it goes on unrun.
 */
function receive_mergeable_xdp(c: KCpu, q: number, buf: number, bufs: number): boolean {
  if (!c.cfg.virtio_mrg_rxbuf || bufs !== 1) return true;
  const RXQ = c.RXQ;
  const qf = c.shm.rxqF[q];
  c.f64[qf + RXQ.virtio_xdp_packets] += 1;
  const act = xdp_run_native(c, buf, c.skb_len[buf], q);
  if (act === XDP_PASS) return true;
  if (act === XDP_TX) c.f64[qf + RXQ.virtio_xdp_tx] += 1;
  else if (act === XDP_REDIRECT) c.f64[qf + RXQ.virtio_xdp_redirects] += 1;
  if ((act !== XDP_TX && act !== XDP_REDIRECT) || c.x!.failed) c.f64[qf + RXQ.virtio_xdp_drops] += 1; // err_xdp
  return false;
}

/** receive_buf's short packet: rx_length_errors, the buffer (big packets: all its pages) freed. */
function receive_length_error(c: KCpu, q: number, buf: number, head: number): void {
  const shm = c.shm;
  c.f64[shm.rxqF[q] + c.RXQ.virtio_rx_length_errors] += 1;
  if (!c.cfg.virtio_mrg_rxbuf) {
    // give_pages: the chain's other pages go back with the first.
    const vq = shm.vq[q];
    for (let k = 1; k < VIRTIO_BIG_PAGES; k++) c.cache.free(shm.i32[vq.pages + head * VIRTIO_BIG_PAGES + k]);
  }
  shm.skb_frags[buf] = -1;
  c.cache.free(buf);
}

/**
 * receive_mergeable: the head buffer holds the header and the frame's start; num_buffers - 1
 * more buffers follow in the used ring, each added as a frag page. Returns num_buffers, or 0
 * when the used ring runs out first ("rx error: buffers missing": rx_length_errors, err_buf
 * frees the skb with what it gathered).
 */
function receive_mergeable(c: KCpu, q: number, head_skb: number, len: number): number {
  const shm = c.shm;
  const num_buf = get16le(c.u8, c.skb_data(head_skb) - HDR_LEN + VIRTIO_NET_HDR_NUM_BUFFERS_OFF);
  let total = len - HDR_LEN;
  let data_len = 0;
  let last = head_skb;
  shm.skb_frags[head_skb] = -1;
  for (let k = 1; k < num_buf; k++) {
    const page = virtqueue_get_buf(shm, q);
    if (page < 0) {
      c.f64[shm.rxqF[q] + c.RXQ.virtio_rx_length_errors] += 1;
      c.skb_frag_next[head_skb] = -1;
      c.skb_next[head_skb] = -1;
      kfree_skb(c, head_skb);
      return 0;
    }
    const plen = vring_out[0];
    shm.skb_frags[last] = page;
    shm.skb_frags[page] = -1;
    shm.skb_data_len[page] = plen;
    shm.skb_frag_off[page] = -HDR_LEN; // its bytes start where its header would be
    data_len += plen;
    total += plen;
    last = page;
  }
  c.skb_len[head_skb] = total;
  shm.skb_data_len[head_skb] = data_len;
  ewma_pkt_len_add(shm, q, total);
  return num_buf;
}

/**
 * receive_big (page_to_skb): the first page holds the frame's start, the next pages the rest;
 * the pages the frame did not reach go back (give_pages). Returns the pages used.
 */
function receive_big(c: KCpu, q: number, first: number, len: number, head: number): number {
  const shm = c.shm;
  const vq = shm.vq[q];
  const room = shm.skbBufSize - virtioHeadroom(shm.cfg);
  const total = len - HDR_LEN;
  const used = Math.ceil(total / room);
  let last = first;
  shm.skb_frags[first] = -1;
  let left = total - room;
  for (let k = 1; k < VIRTIO_BIG_PAGES; k++) {
    const page = shm.i32[vq.pages + head * VIRTIO_BIG_PAGES + k];
    if (k >= used) {
      c.cache.free(page);
      continue;
    }
    const plen = left < room ? left : room;
    shm.skb_frags[last] = page;
    shm.skb_frags[page] = -1;
    shm.skb_data_len[page] = plen;
    shm.skb_frag_off[page] = 0;
    left -= plen;
    last = page;
  }
  c.skb_len[first] = total;
  shm.skb_data_len[first] = used > 1 ? total - room : 0;
  return used;
}

function get16le(u8: Uint8Array, at: number): number {
  return u8[at] | (u8[at + 1] << 8);
}

// ------------------------------------------------------------------------ refill work

/**
 * refill_work (vi->refill, process context on the CPU that queued it): for each queue,
 * napi_disable, try_fill_recv(GFP_KERNEL), virtnet_napi_enable (which schedules the napi
 * here); still short of memory: again in HZ/2. napi_disable waits for a running poll to
 * finish; a worker here cannot sleep, so a queue whose napi is scheduled is left to its poll
 * (virtnet_receive refills on its own) and the work comes back in a jiffy.
 */
function refill_work(c: KCpu): void {
  const shm = c.shm;
  let still_empty = false;
  let busy = false;
  for (let q = 0; q < c.cfg.queues; q++) {
    const n = virtnet_napi(shm, q);
    const at = c.napiI(n) + c.NAPI.state;
    if (Atomics.compareExchange(c.i32, at, 0, NAPI_STATE_SCHED) !== 0) {
      busy = true;
      continue;
    }
    if (!try_fill_recv(c, q)) still_empty = true;
    // virtnet_napi_enable: napi_enable, then virtqueue_napi_schedule: we hold SCHED already.
    virtqueue_disable_cb(shm, q, c.cfg.virtio_event_idx);
    ____napi_schedule(c, n);
  }
  if (still_empty || busy) {
    if (schedule_delayed_work(c, still_empty ? Math.floor(c.cfg.hz / 2) : 1) && still_empty) {
      c.f64[shm.rxqF[0] + c.RXQ.virtio_refills_delayed] += 1;
    }
  }
}

/** Register the driver's poll, interrupt handler and refill work (module init, every thread). */
export function virtio_register(): void {
  napi_register_poll(POLL_VIRTIO, virtnet_poll);
  request_irq(vring_interrupt);
  register_delayed_work(refill_work);
}
