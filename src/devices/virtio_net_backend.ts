// QEMU's virtio-net receive side (hw/net/virtio-net.c, hw/virtio/virtio.c, net/queue.c) on
// the device thread, QEMU's I/O thread: the tap backend hands each frame to
// virtio_net_receive → virtio_net_receive_rcu, which pops guest buffers from the avail ring,
// writes the virtio_net_hdr_mrg_rxbuf and the frame into them (iov_from_buf), fills and
// flushes the used ring and calls virtio_notify, which raises the queue's MSI-X vector unless
// the guest suppressed it (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
//
// No buffer: virtio_net_receive returns 0. The tap backend sends with a completion callback
// (tap_send → qemu_send_packet_async(..., tap_send_completed)), so net/queue.c appends the
// packet whatever nq_maxlen says (qemu_net_queue_append drops only for a sender without
// sent_cb) and tap_send stops reading the tap fd (tap_read_poll(s, false)): QEMU holds that one
// packet. Later packets wait in the host kernel's tun queue (tun_net_xmit's ptr_ring, sized
// dev->tx_queue_len by tun_attach: --tap-txqueuelen, 1000 by default); one that finds it full
// is dropped and counted as the tap's tx_dropped (packets.dropped.tun). The guest's kick
// (virtio_net_handle_rx → qemu_flush_queued_packets) delivers the held packet; its completion
// (tap_send_completed → tap_read_poll(s, true)) lets tap_send read the tun queue again until a
// packet does not fit, which is held in turn. (tap_send stops after 50 packets per call, and
// the main loop calls it again at once while the fd is readable: no difference here.) A
// waiting packet is kept as what rebuilds its bytes exactly (flow, index, corruption, sample
// time), not as 9 KB of bytes: the same frame is written when it is delivered.
//
// Closed loop (--rate max): the wire waits while the guest has no buffers (the tap is not read
// and the sender is flow-controlled), woken by the guest's kick; nothing is held or dropped.
//
// Multiqueue: a multiqueue tap (tun_automq_select_queue) picks the queue by the host
// kernel's symmetric flow hash of the packet, reciprocal_scale(hash, queues). Here: SipHash
// (uapi/siphash.ts, the host kernel's hash since 5.5) of the symmetric IPv4 4-tuple and
// protocol under a host boot key from the seed. virtio 1.x without VIRTIO_NET_F_HASH_REPORT
// gives the guest no hash: its skb->hash is 0 and RPS runs the flow dissector.

import type { Shm } from '../shm/memory.js';
import {
  VIRTIO_NET_HDR_F_RXSMP_TSTAMP,
  VIRTIO_NET_HDR_LEN,
  VIRTIO_NET_HDR_NUM_BUFFERS_OFF,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_I32,
  VRING_USED_F_NO_NOTIFY,
  vring_need_event,
} from '../shm/virtqueue.js';
import { msix_notify } from '../shm/msix.js';
import { siphash_2_4 } from '../uapi/siphash.js';
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_PROTO_OFF, IPH_DADDR_OFF, IPH_PROTOCOL_OFF, IPH_SADDR_OFF } from '../uapi/inet.js';
import { Prng } from '../lib/prng.js';
import { assertion_failed } from '../shm/assert.js';

/** VIRTQUEUE_MAX_SIZE in virtio_net_receive_rcu: elements per packet, at most. */
const ELEMS_MAX = 64;
const SG_MAX = 32;

/**
 * Rebuilds a held frame: the generator's template and per-packet stamp, or (--pcap) a capture
 * frame. Returns the frame's length; `replay_pos` is then its position in its capture flow.
 */
export interface FrameSource {
  frame_into(flow: number, index: number, corrupt: boolean, out: Uint8Array, at: number): number;
  readonly replay_pos: number;
}

/** The host's multiqueue tap spread: which RX queue a frame goes to (see the header). */
export class TapSpread {
  private readonly key = new Uint32Array(4);
  private readonly keys = new Uint8Array(16);
  constructor(
    seed: number,
    private readonly queues: number,
  ) {
    const p = new Prng(seed).fork(0x7a9);
    for (let i = 0; i < 4; i++) this.key[i] = p.nextI32() >>> 0;
  }

  /**
   * tun_automq_select_queue: reciprocal_scale(__skb_get_hash_symmetric(skb), numqueues). An
   * IPv6 frame's addresses enter as the XOR of their four words; a frame that is neither IPv4
   * nor IPv6 goes to queue 0.
   */
  select_queue(frame: Uint8Array, at = 0): number {
    if (this.queues === 1) return 0;
    const ip = at + ETH_HLEN;
    const k = this.keys;
    const type = (frame[at + ETH_PROTO_OFF] << 8) | frame[at + ETH_PROTO_OFF + 1];
    let s: number;
    let d: number;
    let l4: number;
    let proto: number;
    if (type === ETH_P_IP) {
      s = be32(frame, ip + IPH_SADDR_OFF);
      d = be32(frame, ip + IPH_DADDR_OFF);
      l4 = ip + (frame[ip] & 15) * 4;
      proto = frame[ip + IPH_PROTOCOL_OFF];
    } else if (type === ETH_P_IPV6) {
      s = (be32(frame, ip + 8) ^ be32(frame, ip + 12) ^ be32(frame, ip + 16) ^ be32(frame, ip + 20)) >>> 0;
      d = (be32(frame, ip + 24) ^ be32(frame, ip + 28) ^ be32(frame, ip + 32) ^ be32(frame, ip + 36)) >>> 0;
      l4 = ip + 40;
      proto = frame[ip + 6];
    } else {
      return 0;
    }
    const sp = (frame[l4] << 8) | frame[l4 + 1];
    const dp = (frame[l4 + 2] << 8) | frame[l4 + 3];
    // Symmetric: the smaller address (and its port) first, as __flow_hash_consistentify does.
    const swap = d < s || (d === s && dp < sp);
    put32(k, 0, swap ? d : s);
    put32(k, 4, swap ? s : d);
    put32(k, 8, ((swap ? dp : sp) << 16) | (swap ? sp : dp));
    put32(k, 12, proto);
    const hash = siphash_2_4(k, 0, 16, this.key) >>> 0;
    return Math.floor((hash * this.queues) / 4294967296);
  }
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

export class VirtioNetBackend {
  /** Byte offset in shm.u8 of the frame as the tap hands it over (the device's own buffer). */
  readonly staging: number;
  readonly spread: TapSpread;
  private readonly queues: number;
  private readonly num: number;
  private readonly mergeable: boolean;
  private readonly event_idx: boolean;
  // VirtQueue (QEMU's per-queue state, host memory), per queue.
  private readonly last_avail_idx: Int32Array;
  private readonly shadow_avail_idx: Int32Array;
  private readonly used_idx: Int32Array;
  private readonly signalled_used: Int32Array;
  private readonly signalled_used_valid: Uint8Array;
  private readonly notification: Uint8Array;
  private readonly kicks_seen: Int32Array;
  // The elements of the packet being received: head, first sg, sg count; the sgs.
  private readonly elem_head = new Int32Array(ELEMS_MAX);
  private readonly elem_sg = new Int32Array(ELEMS_MAX);
  private readonly elem_nsg = new Int32Array(ELEMS_MAX);
  private readonly elem_len = new Int32Array(ELEMS_MAX);
  private readonly sg_addr = new Int32Array(ELEMS_MAX * SG_MAX);
  private readonly sg_len = new Int32Array(ELEMS_MAX * SG_MAX);
  private nsg = 0;
  // Per queue, a ring of waiting packets: its head is QEMU's held packet (net/queue.c), the
  // rest the host's tun queue behind it (the tap not read meanwhile).
  private readonly nq_flow: Int32Array;
  private readonly nq_index: Int32Array;
  private readonly nq_corrupt: Uint8Array;
  private readonly nq_tstamp: Float64Array;
  private readonly nq_head: Int32Array;
  private readonly nq_len: Int32Array;
  private readonly nq_max: number;
  private readonly clock = new Float64Array(1);
  private source: FrameSource | null = null;
  private readonly replay: boolean;
  /** --debug-asserts, read once: check each popped buffer's ownership (pop_check). */
  private readonly debug_asserts: boolean;

  /** The frame in staging: its length (the largest a frame can be until one is written). */
  private frame_len: number;

  constructor(
    private readonly shm: Shm,
    /** The largest frame (FCS excluded): what a queue must have buffers for to take one. */
    private readonly frame_max: number,
  ) {
    this.frame_len = frame_max;
    const cfg = shm.cfg;
    this.queues = cfg.queues;
    this.num = cfg.ring_size;
    this.mergeable = cfg.virtio_mrg_rxbuf;
    this.replay = cfg.pcap !== '';
    this.event_idx = cfg.virtio_event_idx;
    this.debug_asserts = cfg.debug_asserts;
    this.staging = shm.layout.tapBufBase;
    this.spread = new TapSpread(cfg.seed, cfg.queues);
    const Q = this.queues;
    this.last_avail_idx = new Int32Array(Q);
    this.shadow_avail_idx = new Int32Array(Q);
    this.used_idx = new Int32Array(Q);
    this.signalled_used = new Int32Array(Q);
    this.signalled_used_valid = new Uint8Array(Q);
    this.notification = new Uint8Array(Q).fill(1);
    this.kicks_seen = Int32Array.from({ length: Q }, (_, q) => Atomics.load(shm.i32, shm.vq[q].notify));
    // Open loop: the held packet and the tun queue's txqueuelen behind it. Closed loop: the
    // wire waits instead (one packet at most is ever held).
    this.nq_max = cfg.rate === 0 ? 1 : 1 + cfg.tap_txqueuelen;
    this.nq_flow = new Int32Array(Q * this.nq_max);
    this.nq_index = new Int32Array(Q * this.nq_max);
    this.nq_corrupt = new Uint8Array(Q * this.nq_max);
    this.nq_tstamp = new Float64Array(Q * this.nq_max);
    this.nq_head = new Int32Array(Q);
    this.nq_len = new Int32Array(Q);
  }

  /** The generator that can rebuild held frames. */
  attach_source(source: FrameSource): void {
    this.source = source;
  }

  // ---------------------------------------------------------------- hw/virtio/virtio.c

  /** virtio_queue_empty (split): re-reads avail->idx only when the shadow says empty. */
  private virtio_queue_empty(q: number): boolean {
    if (this.shadow_avail_idx[q] !== this.last_avail_idx[q]) return false;
    const avail = this.vring_avail_idx(q);
    // virtqueue_num_heads: "Guest moved used index" (always on: per re-read of avail->idx).
    if (((avail - this.last_avail_idx[q]) & 0xffff) > this.num) this.avail_idx_bad(q, avail);
    return avail === this.last_avail_idx[q];
  }

  /** The guest's avail->idx ran more than the ring ahead of the device (QEMU: virtio_error). */
  private avail_idx_bad(q: number, avail: number): never {
    return assertion_failed(
      `virtio rx avail idx ${avail} on queue ${q} is more than the ring's ${this.num} ahead of the device's last_avail_idx ${this.last_avail_idx[q]} (read by the device)`,
    );
  }

  /**
   * --debug-asserts, as the device pops head `head` of queue q: the driver made it available and
   * has not had it back (its token is set). (Every read of avail idx is checked too: vring_avail_idx.)
   */
  private pop_check(q: number, head: number): void {
    const shm = this.shm;
    if (shm.i32[shm.vq[q].tokens + head] < 0) {
      assertion_failed(
        `virtio rx desc ${head} on queue ${q} taken by the device while owned by the driver (no buffer made available there)`,
      );
    }
  }

  /** vring_avail_idx: load avail->idx (the guest published its entries before it). */
  private vring_avail_idx(q: number): number {
    const v = Atomics.load(this.shm.u16, this.shm.vq[q].avail_idx);
    if (this.debug_asserts && ((v - this.last_avail_idx[q]) & 0xffff) > this.num) this.avail_idx_bad(q, v);
    this.shadow_avail_idx[q] = v;
    return v;
  }

  /**
   * virtio_queue_set_notification (split): EVENT_IDX: avail_event = avail idx (written only
   * while notifications are on); else VRING_USED_F_NO_NOTIFY cleared or set. Enabling is
   * followed by a full barrier before the caller re-checks the ring (Atomics are SC).
   */
  private virtio_queue_set_notification(q: number, enable: boolean): void {
    const shm = this.shm;
    const vq = shm.vq[q];
    this.notification[q] = enable ? 1 : 0;
    if (this.event_idx) {
      const idx = this.vring_avail_idx(q);
      if (enable) Atomics.store(shm.u16, vq.avail_event, idx);
    } else {
      const flags = Atomics.load(shm.u16, vq.used_flags);
      Atomics.store(shm.u16, vq.used_flags, enable ? flags & ~VRING_USED_F_NO_NOTIFY : flags | VRING_USED_F_NO_NOTIFY);
    }
  }

  /** virtqueue_avail_bytes: do the available buffers hold `in_bytes`? (stops once they do) */
  private virtqueue_avail_bytes(q: number, in_bytes: number): boolean {
    const shm = this.shm;
    const vq = shm.vq[q];
    const mask = this.num - 1;
    const avail = this.vring_avail_idx(q);
    let total = 0;
    for (let idx = this.last_avail_idx[q]; idx !== avail; idx = (idx + 1) & 0xffff) {
      const head = shm.u16[vq.avail_ring + (idx & mask)];
      total += this.chain_len(q, head);
      if (total >= in_bytes) return true;
    }
    return false;
  }

  /** Bytes the device may write in the buffer at `head` (following NEXT and INDIRECT). */
  private chain_len(q: number, head: number): number {
    const i32 = this.shm.i32;
    const vq = this.shm.vq[q];
    let at = vq.desc + head * VRING_DESC_I32;
    let table = vq.desc;
    if (i32[at + 3] & 0xffff & VRING_DESC_F_INDIRECT) table = at = i32[at] / 4;
    let total = 0;
    for (let k = 0; k < SG_MAX; k++) {
      total += i32[at + 2];
      const w = i32[at + 3];
      if ((w & VRING_DESC_F_NEXT) === 0) return total;
      at = table + (w >>> 16) * VRING_DESC_I32;
    }
    throw new Error(`virtqueue ${q}: descriptor chain longer than ${SG_MAX}`);
  }

  /**
   * virtio_net_has_buffers: are there buffers for `bufsize` bytes? If not, enable the guest's
   * notifications (so its next refill kicks), then look once more (it may have added some
   * between the check and the enable). With buffers, notifications go off again.
   */
  private virtio_net_has_buffers(q: number, bufsize: number): boolean {
    if (this.virtio_queue_empty(q) || (this.mergeable && !this.virtqueue_avail_bytes(q, bufsize))) {
      this.virtio_queue_set_notification(q, true);
      if (this.virtio_queue_empty(q) || (this.mergeable && !this.virtqueue_avail_bytes(q, bufsize))) return false;
    }
    this.virtio_queue_set_notification(q, false);
    return true;
  }

  /**
   * virtqueue_pop (virtqueue_split_pop): take the next available head into element `i`,
   * gathering its device-writable sgs (through an indirect table if flagged). False if empty.
   */
  private virtqueue_pop(q: number, i: number): boolean {
    if (this.virtio_queue_empty(q)) return false;
    const shm = this.shm;
    const i32 = shm.i32;
    const vq = shm.vq[q];
    const last = this.last_avail_idx[q];
    const head = shm.u16[vq.avail_ring + (last & (this.num - 1))];
    if (head >= this.num)
      assertion_failed(`virtio rx avail entry ${last & (this.num - 1)} on queue ${q} holds ${head}, not a descriptor (read by the device)`);
    if (this.debug_asserts) this.pop_check(q, head);
    this.last_avail_idx[q] = (last + 1) & 0xffff;
    if (this.event_idx && this.notification[q] !== 0) Atomics.store(shm.u16, vq.avail_event, this.last_avail_idx[q]);
    let at = vq.desc + head * VRING_DESC_I32;
    let table = vq.desc;
    if (i32[at + 3] & 0xffff & VRING_DESC_F_INDIRECT) table = at = i32[at] / 4;
    const first = this.nsg;
    for (let k = 0; ; k++) {
      if (k === SG_MAX || this.nsg === this.sg_addr.length) throw new Error(`virtqueue ${q}: descriptor chain too long`);
      this.sg_addr[this.nsg] = i32[at];
      this.sg_len[this.nsg] = i32[at + 2];
      this.nsg++;
      const w = i32[at + 3];
      if ((w & VRING_DESC_F_NEXT) === 0) break;
      at = table + (w >>> 16) * VRING_DESC_I32;
    }
    this.elem_head[i] = head;
    this.elem_sg[i] = first;
    this.elem_nsg[i] = this.nsg - first;
    return true;
  }

  /** virtqueue_unpop: give the last popped element back (it will be popped again). */
  private virtqueue_unpop(q: number): void {
    this.last_avail_idx[q] = (this.last_avail_idx[q] - 1) & 0xffff;
  }

  /** virtqueue_fill (split): the used entry `idx` places past used_idx (not yet published). */
  private virtqueue_fill(q: number, head: number, len: number, idx: number): void {
    const vq = this.shm.vq[q];
    const e = vq.used_ring + 2 * ((this.used_idx[q] + idx) & (this.num - 1));
    this.shm.i32[e] = head;
    this.shm.i32[e + 1] = len;
  }

  /** virtqueue_flush (split): publish `count` used entries with one store of used->idx (after smp_wmb). */
  private virtqueue_flush(q: number, count: number): void {
    const old = this.used_idx[q];
    const next = (old + count) & 0xffff;
    Atomics.store(this.shm.u16, this.shm.vq[q].used_idx, next);
    this.used_idx[q] = next;
    if (((next - this.signalled_used[q]) & 0xffff) < count) this.signalled_used_valid[q] = 0;
  }

  /**
   * virtio_should_notify (split), after smp_mb: without EVENT_IDX, unless the guest set
   * VRING_AVAIL_F_NO_INTERRUPT; with it, if used_event lies in what was published since the
   * last notification (vring_need_event).
   */
  private virtio_should_notify(q: number): boolean {
    const shm = this.shm;
    const vq = shm.vq[q];
    if (!this.event_idx) return (Atomics.load(shm.u16, vq.avail_flags) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
    const v = this.signalled_used_valid[q] !== 0;
    this.signalled_used_valid[q] = 1;
    const old = this.signalled_used[q];
    const next = this.used_idx[q];
    this.signalled_used[q] = next;
    return !v || vring_need_event(Atomics.load(shm.u16, vq.used_event), next, old);
  }

  /** virtio_notify → virtio_irq → msix_notify: the queue's vector, unless suppressed. */
  private virtio_notify(q: number): void {
    const shm = this.shm;
    const RXQ = shm.layout.RXQ;
    const qf = shm.rxqF[q];
    if (!this.virtio_should_notify(q)) {
      shm.f64[qf + RXQ.virtio_irq_suppressed] += 1;
      return;
    }
    shm.f64[qf + RXQ.virtio_irq_raised] += 1;
    msix_notify(shm, q, this.clock);
  }

  // ---------------------------------------------------------------- hw/net/virtio-net.c

  /**
   * virtio_net_receive_rcu: the frame at `staging` (frame_len bytes) into queue q's guest
   * buffers. Returns the size taken, or 0 when there are no buffers (the caller holds it).
   * `tstamp_ns` (nonzero: a latency sample) goes in the head buffer's skb.
   */
  virtio_net_receive_rcu(q: number, tstamp_ns: number): number {
    const size = this.frame_len;
    const hdr_len = VIRTIO_NET_HDR_LEN;
    if (!this.virtio_net_has_buffers(q, size + hdr_len)) return 0;
    const shm = this.shm;
    const u8 = shm.u8;
    this.nsg = 0;
    let offset = 0;
    let i = 0;
    let hdr_at = 0;
    while (offset < size) {
      if (i === ELEMS_MAX) throw new Error(`virtio-net: unexpected long buffer chain on queue ${q}`);
      if (!this.virtqueue_pop(q, i)) {
        if (i) throw new Error(`virtio-net unexpected empty queue: i ${i} mergeable ${this.mergeable} offset ${offset}, size ${size}`);
        return 0;
      }
      let guest_offset = 0;
      let total = 0;
      if (i === 0) {
        hdr_at = this.sg_addr[this.elem_sg[0]];
        receive_header(u8, hdr_at, tstamp_ns !== 0);
        guest_offset = hdr_len;
        total = hdr_len;
        if (tstamp_ns !== 0) shm.skb_tstamp[this.slot_of(hdr_at + hdr_len)] = tstamp_ns;
        if (this.replay) shm.skb_replay_pos[this.slot_of(hdr_at + hdr_len)] = this.source!.replay_pos;
      }
      const len = this.iov_from_buf(i, guest_offset, offset, size - offset);
      total += len;
      offset += len;
      if (!this.mergeable && offset < size) {
        // A buffer that cannot take the whole packet without MRG_RXBUF: QEMU gives the element
        // back (virtqueue_unpop) and drops the packet (err = size: "consumed"). Counted here.
        this.virtqueue_unpop(q);
        shm.f64[shm.rxqF[q] + shm.layout.RXQ.virtio_oversize] += 1;
        return size;
      }
      this.elem_len[i] = total;
      i++;
    }
    if (this.mergeable) {
      u8[hdr_at + VIRTIO_NET_HDR_NUM_BUFFERS_OFF] = i & 255;
      u8[hdr_at + VIRTIO_NET_HDR_NUM_BUFFERS_OFF + 1] = i >>> 8;
    }
    for (let j = 0; j < i; j++) this.virtqueue_fill(q, this.elem_head[j], this.elem_len[j], j);
    this.virtqueue_flush(q, i);
    const qf = shm.rxqF[q];
    const RXQ = shm.layout.RXQ;
    shm.f64[qf + RXQ.rx_packets] += 1;
    shm.f64[qf + RXQ.rx_bytes] += size + 4;
    this.virtio_notify(q);
    return size;
  }

  /** iov_from_buf: `bytes` of staging from `from` into element i's sgs, from byte `offset` of them. */
  private iov_from_buf(i: number, offset: number, from: number, bytes: number): number {
    const u8 = this.shm.u8;
    const first = this.elem_sg[i];
    const n = this.elem_nsg[i];
    let done = 0;
    for (let k = 0; k < n && done < bytes; k++) {
      const len = this.sg_len[first + k];
      if (offset >= len) {
        offset -= len;
        continue;
      }
      let take = len - offset;
      if (take > bytes - done) take = bytes - done;
      const src = this.staging + from + done;
      u8.copyWithin(this.sg_addr[first + k] + offset, src, src + take);
      done += take;
      offset = 0;
    }
    return done;
  }

  /** The pool slot whose data starts at byte `data` (the timestamp's home). */
  private slot_of(data: number): number {
    return Math.round((data - this.shm.skbDataBase) / this.shm.skbBufSize);
  }

  // ---------------------------------------------------------------- net/queue.c, net/tap.c

  /** Packets waiting on queue q: QEMU's held one and the tun queue behind it. */
  held(q: number): number {
    return this.nq_len[q];
  }

  /** Any packet held on any queue? */
  any_held(): boolean {
    for (let q = 0; q < this.queues; q++) if (this.nq_len[q] !== 0) return true;
    return false;
  }

  /** Can queue q take a packet now (no packet held before it, and buffers for it)? */
  can_take(q: number): boolean {
    return this.nq_len[q] === 0 && this.virtio_net_has_buffers(q, this.frame_max + VIRTIO_NET_HDR_LEN);
  }

  /**
   * A frame from the wire to the tap (in staging): QEMU reading the tap, nothing held, hands
   * it to virtio_net_receive (tap_send → qemu_send_packet_async); no buffer: QEMU holds it and
   * stops reading. QEMU holding one, the frame waits in the host's tun queue (tun_net_xmit).
   * Returns false when it was dropped (the tun queue at txqueuelen: the tap's tx_dropped).
   */
  send(q: number, flow: number, index: number, corrupt: boolean, tstamp_ns: number, len: number): boolean {
    this.frame_len = len;
    if (this.nq_len[q] === 0 && this.virtio_net_receive_rcu(q, tstamp_ns) !== 0) return true;
    const RXQ = this.shm.layout.RXQ;
    const qf = this.shm.rxqF[q];
    if (this.nq_len[q] >= this.nq_max) {
      this.shm.f64[qf + RXQ.virtio_tun_dropped] += 1;
      return false;
    }
    const at = q * this.nq_max + ((this.nq_head[q] + this.nq_len[q]) % this.nq_max);
    this.nq_flow[at] = flow;
    this.nq_index[at] = index;
    this.nq_corrupt[at] = corrupt ? 1 : 0;
    this.nq_tstamp[at] = tstamp_ns;
    // The first waits in QEMU's net queue (tap_read_poll(s, false)); the rest in the tun queue.
    this.shm.f64[qf + (this.nq_len[q] === 0 ? RXQ.virtio_held : RXQ.virtio_tun_queued)] += 1;
    this.nq_len[q] += 1;
    this.shm.i32[this.shm.rxqI[q] + RXQ.virtio_backlog_len] = this.nq_len[q];
    return true;
  }

  /** tun_net_xmit with the tun queue full: the tap's tx_dropped. */
  drop(q: number): void {
    this.shm.f64[this.shm.rxqF[q] + this.shm.layout.RXQ.virtio_tun_dropped] += 1;
  }

  /** Is queue q's tun queue at txqueuelen (with QEMU holding a packet)? */
  full(q: number): boolean {
    return this.nq_len[q] >= this.nq_max;
  }

  /**
   * virtio_net_handle_rx: for each queue the guest kicked since we last looked, deliver the
   * held packet (qemu_flush_queued_packets), then, reading the tap again (tap_send_completed),
   * the tun queue's until one does not fit: QEMU holds that one. True while any is held.
   */
  service(): boolean {
    let held = false;
    for (let q = 0; q < this.queues; q++) {
      if (this.nq_len[q] === 0) continue;
      const kicks = Atomics.load(this.shm.i32, this.shm.vq[q].notify);
      if (kicks !== this.kicks_seen[q]) {
        this.kicks_seen[q] = kicks;
        this.flush(q);
      }
      if (this.nq_len[q] !== 0) held = true;
    }
    return held;
  }

  private flush(q: number): void {
    const src = this.source!;
    const RXQ = this.shm.layout.RXQ;
    let first = true;
    while (this.nq_len[q] > 0) {
      const at = q * this.nq_max + this.nq_head[q];
      this.frame_len = src.frame_into(this.nq_flow[at], this.nq_index[at], this.nq_corrupt[at] !== 0, this.shm.u8, this.staging);
      if (this.virtio_net_receive_rcu(q, this.nq_tstamp[at]) === 0) {
        // A packet read from the tun queue that does not fit: held, the tap not read again.
        if (!first) this.shm.f64[this.shm.rxqF[q] + RXQ.virtio_held] += 1;
        break;
      }
      first = false;
      this.nq_head[q] = (this.nq_head[q] + 1) % this.nq_max;
      this.nq_len[q] -= 1;
    }
    this.shm.i32[this.shm.rxqI[q] + RXQ.virtio_backlog_len] = this.nq_len[q];
  }

  /** The kick counter of queue q as last seen, to wait on. */
  kick_word(q: number): number {
    return this.shm.vq[q].notify;
  }

  /**
   * Closed loop: wait up to `timeout_ms` for buffers on queue q. The kick counter is read
   * before the ring is checked (virtio_net_has_buffers enables the guest's notification), so
   * a kick after the check changes the word we wait on: no lost wake-up.
   */
  wait_buffers(q: number, timeout_ms: number): boolean {
    const at = this.shm.vq[q].notify;
    const seen = Atomics.load(this.shm.i32, at);
    if (this.can_take(q)) return true;
    Atomics.wait(this.shm.i32, at, seen, timeout_ms);
    return this.can_take(q);
  }
}

/** receive_header: a virtio_net_hdr_mrg_rxbuf with no offloads (num_buffers written later). */
function receive_header(u8: Uint8Array, at: number, tstamp: boolean): void {
  // Twelve stores: TypedArray.prototype.fill over shared memory is a runtime call.
  for (let k = 0; k < VIRTIO_NET_HDR_LEN; k++) u8[at + k] = 0;
  if (tstamp) u8[at] = VIRTIO_NET_HDR_F_RXSMP_TSTAMP;
}
