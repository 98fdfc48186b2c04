// The NIC: the hardware side of an 82599-like multi-queue adapter, on the device thread.
//
// For each frame that arrives from the wire (the generator hands it over), the NIC computes
// the RSS Toeplitz hash over the real header bytes, picks the queue from the 128-entry
// indirection table, DMAs the frame into the buffer of the next posted descriptor of that
// queue and writes the descriptor back (length, RSS hash, status with DD). At the end of a
// burst it publishes RDH (one sequentially consistent store: every write-back before it is
// visible to whoever loads RDH) and sets the vector's interrupt cause. No posted descriptor:
// the frame is missed (rx_missed) — or, closed loop, the wire waits (see generator.ts).
//
// The driver loads RDH once per clean (and again when it catches up) and then reads the
// write-backs below it with plain loads, checking DD: the hand-off costs one atomic per burst
// on each side instead of one per packet (ringbuf.js: copy, then one store to publish).
//
// RSS hash types follow ixgbe's defaults (ixgbe_setup_mrqc: IPv4, IPv4/TCP, IPv6, IPv6/TCP):
// TCP hashes the 4-tuple (an L4 hash), UDP only the addresses unless `--rss-udp4 sdfn` /
// `--rss-udp6 sdfn` (`ethtool -N rx-flow-hash udp4|udp6 sdfn`), so by default the kernel's
// skb_get_hash falls back to the flow dissector for UDP. IPv4 fragments hash the addresses
// only; an IPv6 packet hashes its ports only when TCP or UDP follows the fixed header. A frame
// that is neither gets no hash (RSS type 0: the descriptor carries none) and RSS index 0.

import type { Shm } from '../shm/memory.js';
import { RSS_RETA_SIZE, type Config } from '../config/schema.js';
import { nicModel } from '../config/nics.js';
import { DESC_DD, DESC_EOP, DESC_L4, DESC_RSS, DESC_TS, WIRE_INLINE, WIRE_KICKED, WIRE_NAPPING, WIRE_SLEEPING } from '../shm/layout.js';
import { msix_eitr_ns, msix_set_cause, msix_throttled, msix_try_fire } from '../shm/msix.js';
import { ToeplitzTable } from '../uapi/toeplitz.js';
import {
  ETH_HLEN,
  ETH_P_IP,
  ETH_P_IPV6,
  ETH_PROTO_OFF,
  IP_MF,
  IP_OFFSET,
  IPH_FRAG_OFF_OFF,
  IPH_LEN,
  IPH_PROTOCOL_OFF,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV6H_LEN,
  IPV6H_NEXTHDR_OFF,
  get16,
} from '../uapi/inet.js';
import { RSS_IPV6_L4_INPUT_BYTES } from '../uapi/toeplitz.js';
import type { FlowFrames } from './frames.js';
import { assertion_failed } from '../shm/assert.js';

/**
 * How long the closed-loop wire polls RDT for a free descriptor before it naps (~200 µs), on a
 * host with a core for each of the emulator's busy threads; the thread that runs the device
 * passes fewer where there is none (host.ts spinLoads).
 */
export const DEVICE_SPIN_LOADS = 20_000;
/** Nap time in a row (ms) before the closed-loop wire asks the driver for a futex wake-up. */
const DEVICE_NAP_BUDGET_MS = 2;
/** Bounds of one nap (ms): the timer's granularity here, and a fill of the ring at 0.25 Mpps. */
const DEVICE_NAP_MIN_MS = 0.05;
const DEVICE_NAP_MAX_MS = 1;
/** Descriptors a driver may clean and hold back unposted (ixgbe re-posts 16 at a time). */
const DRIVER_UNPOSTED_MAX = 16;

/** ixgbe's RSS hash types: TCP hashes the 4-tuple, UDP only with rx-flow-hash udp4 sdfn. */
export function rss_hashes_ports(proto: number, udp_ports: boolean): boolean {
  return proto === IPPROTO_TCP || (proto === IPPROTO_UDP && udp_ports);
}

/** RSS types of a frame (the descriptor's RSS type, reduced): no hash, addresses, addresses and ports. */
export const RSS_NONE = 0;
export const RSS_L3 = 1;
export const RSS_L4 = 2;

/**
 * The 82599's RSS engine: the Toeplitz hash of a frame's headers under the hash types ixgbe
 * enables. One rule for the device and for boot (which queue each flow's socket sits behind).
 */
export class RssEngine {
  private readonly t: ToeplitzTable;
  /** The RSS type of the last frame hashed: RSS_NONE, RSS_L3 or RSS_L4. */
  type = RSS_NONE;

  constructor(
    key: Uint8Array,
    private readonly udp4_ports: boolean,
    private readonly udp6_ports: boolean,
  ) {
    this.t = new ToeplitzTable(key, RSS_IPV6_L4_INPUT_BYTES);
  }

  /** The hash (int32 bits; 0 with RSS_NONE) of the frame bytes[offset .. offset+len). */
  hash_i32(bytes: Uint8Array, offset: number, len: number): number {
    const ip = offset + ETH_HLEN;
    const end = offset + len;
    const proto = (bytes[offset + ETH_PROTO_OFF] << 8) | bytes[offset + ETH_PROTO_OFF + 1];
    if (proto === ETH_P_IP && ip + IPH_LEN <= end) {
      const ihl = bytes[ip] & 15;
      if (bytes[ip] >> 4 === 4 && ihl >= 5) {
        const ports =
          (get16(bytes, ip + IPH_FRAG_OFF_OFF) & (IP_MF | IP_OFFSET)) === 0 &&
          ip + ihl * 4 + 4 <= end &&
          rss_hashes_ports(bytes[ip + IPH_PROTOCOL_OFF], this.udp4_ports);
        this.type = ports ? RSS_L4 : RSS_L3;
        return this.t.hash_ipv4_i32(bytes, ip, ports);
      }
    } else if (proto === ETH_P_IPV6 && ip + IPV6H_LEN <= end && bytes[ip] >> 4 === 6) {
      const ports = ip + IPV6H_LEN + 4 <= end && rss_hashes_ports(bytes[ip + IPV6H_NEXTHDR_OFF], this.udp6_ports);
      this.type = ports ? RSS_L4 : RSS_L3;
      return this.t.hash_ipv6_i32(bytes, ip, ports);
    }
    this.type = RSS_NONE;
    return 0;
  }
}

/** A write-back's RSS status bits by RSS type: none, the addresses, the addresses and ports. */
const RSS_STATUS = Int32Array.of(0, DESC_RSS, DESC_RSS | DESC_L4);

export function parseHexKey(hex: string): Uint8Array {
  const key = new Uint8Array(hex.length / 2);
  for (let i = 0; i < key.length; i++) key[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

/** The RSS engine a run's configuration programs (key, UDP hash fields). */
export function rssEngine(cfg: Pick<Config, 'rss_key' | 'rss_udp4' | 'rss_udp6'>): RssEngine {
  return new RssEngine(parseHexKey(cfg.rss_key), cfg.rss_udp4 === 'sdfn', cfg.rss_udp6 === 'sdfn');
}

export class Nic {
  private readonly rdh: Int32Array; // the device's own head per queue
  private readonly rdt: Int32Array; // last RDT read per queue
  private readonly cause: Int32Array; // queues with write-backs not yet signalled
  /** Per queue, counted since the last flush_counters: packets and bytes written back, frames missed. */
  private readonly pend_packets: Float64Array;
  private readonly pend_bytes: Float64Array;
  private readonly pend_missed: Float64Array;
  private readonly queues: number;
  private readonly size: number;
  private readonly spin_loads: number;
  /** The skb pool's buffers: byte offset of skb 0's, and the size of each. */
  private readonly data_base: number;
  private readonly buf_size: number;
  /** A legacy (3c59x-like) device has one queue and no RSS: no hash in its write-backs. */
  private readonly rss_enabled: boolean;
  /** The device's notion of now for the ITR throttle (a slot: see msix_try_fire). */
  private readonly clock = new Float64Array(1);
  /** --debug-asserts, read once: check each descriptor's ownership as the device takes it (take_check). */
  private readonly debug_asserts: boolean;
  /** The closed-loop wire's nap time so far in this wait (ms), and the length of the next nap. */
  private napped_ms = 0;
  private nap_ms = DEVICE_NAP_MIN_MS;

  constructor(
    private readonly shm: Shm,
    private readonly now_ns: () => number,
    spin_loads = DEVICE_SPIN_LOADS,
  ) {
    this.queues = shm.cfg.queues;
    this.size = shm.cfg.ring_size;
    this.data_base = shm.skbDataBase;
    this.buf_size = shm.skbBufSize;
    this.spin_loads = spin_loads;
    this.rss_enabled = nicModel(shm.cfg.nic).steering !== 'none';
    this.debug_asserts = shm.cfg.debug_asserts;
    this.rdh = new Int32Array(this.queues);
    this.rdt = new Int32Array(this.queues);
    this.cause = new Int32Array(this.queues);
    this.pend_packets = new Float64Array(this.queues);
    this.pend_bytes = new Float64Array(this.queues);
    this.pend_missed = new Float64Array(this.queues);
    for (let q = 0; q < this.queues; q++) this.rdt[q] = Atomics.load(shm.i32, shm.rxqI[q] + shm.layout.RXQ.rdt);
    for (let i = 0; i < RSS_RETA_SIZE; i++) shm.reta[i] = shm.cfg.rss_reta[i];
  }

  /**
   * RSS: the queue of a frame whose headers hash to `hash` (the flow's, computed once:
   * FlowFrames.set_rss), from the indirection table, which ethtool -X may change under traffic.
   * A device without RSS (legacy) has one queue.
   */
  rss_queue(hash: number): number {
    return this.rss_enabled ? this.shm.reta[hash & (RSS_RETA_SIZE - 1)] : 0;
  }

  /** Is a posted descriptor free on queue q? Re-reads RDT only when the cached one is used up. */
  has_descriptor(q: number): boolean {
    if (this.rdh[q] !== this.rdt[q]) return true;
    const rdt = Atomics.load(this.shm.i32, this.shm.rxqI[q] + this.shm.layout.RXQ.rdt);
    if (rdt >>> 0 >= this.size) this.rdt_bad(q, rdt);
    this.rdt[q] = rdt;
    return this.rdh[q] !== rdt;
  }

  /** The driver's tail, as the device reads it, is not a descriptor of the ring (always on: per RDT read). */
  private rdt_bad(q: number, rdt: number): never {
    return assertion_failed(`${this.shm.cfg.nic} rx RDT ${rdt} on queue ${q} is outside the ring of ${this.size} (read by the device)`);
  }

  /**
   * --debug-asserts, as the device takes descriptor h of queue q (write-back): the driver
   * cleared its DD when it took the last write-back (rx_desc_take), and posted an skb of the
   * pool that is in use.
   */
  private take_check(q: number, h: number, d: number): void {
    const shm = this.shm;
    const nic = shm.cfg.nic;
    if ((shm.desc_status[d] & DESC_DD) !== 0) {
      assertion_failed(
        `${nic} rx desc ${h} on queue ${q} taken by the device while owned by the driver (DD set: its write-back not yet taken)`,
      );
    }
    const skb = shm.desc_skb[d];
    if (skb >>> 0 >= shm.layout.skbCount)
      assertion_failed(`${nic} rx desc ${h} on queue ${q} holds skb ${skb}, not a pool index (taken by the device)`);
    if (shm.skb_state[skb] !== 0)
      assertion_failed(`${nic} rx desc ${h} on queue ${q} holds skb ${skb}, which is free in the pool (taken by the device)`);
  }

  /**
   * Receive packet `index` of flow `flow` on queue q: DMA its frame into the next descriptor's
   * buffer (FlowFrames.copy, stamp: the flow's template as words, the per-packet fields) and
   * write the descriptor back (writeback). The caller checked has_descriptor(q).
   */
  rx_frame(q: number, frames: FlowFrames, flow: number, index: number, corrupt: boolean, tstamp_ns: number, hash: number): void {
    const shm = this.shm;
    const at = this.data_base + shm.desc_skb[q * this.size + this.rdh[q]] * this.buf_size;
    frames.copy(shm.i32, at >> 2, flow);
    frames.stamp(shm.u8, at, flow, index, corrupt);
    this.writeback(q, frames.frameLen, tstamp_ns, hash, frames.rss_type[flow]);
  }

  /**
   * --pcap: DMA capture frame i into queue q's next descriptor (copied as words), and its
   * position in its capture flow beside it (the skb's replay_pos). The caller checked
   * has_descriptor(q); writeback() follows.
   */
  dma_replay(q: number, frames: FlowFrames, i: number, pos: number): void {
    const shm = this.shm;
    const skb = shm.desc_skb[q * this.size + this.rdh[q]];
    frames.copy_replay(shm.i32, shm.skbData(skb) >> 2, i);
    shm.skb_replay_pos[skb] = pos;
  }

  /**
   * Write the descriptor back (length, the RSS hash and type, DD) and advance the device's
   * head; RDH is published by signal(). The queue's counters are kept here and written at the
   * end of the burst (flush_counters).
   */
  writeback(q: number, len: number, tstamp_ns: number, hash: number, rss_type: number): void {
    const shm = this.shm;
    const h = this.rdh[q];
    const d = q * this.size + h;
    if (this.debug_asserts) this.take_check(q, h, d);
    let ts = 0;
    if (tstamp_ns !== 0) {
      shm.skb_tstamp[shm.desc_skb[d]] = tstamp_ns;
      ts = DESC_TS;
    }
    shm.desc_len[d] = len;
    const rss = this.rss_enabled ? RSS_STATUS[rss_type] : 0;
    shm.desc_hash[d] = rss === 0 ? 0 : hash;
    shm.desc_status[d] = ts | DESC_DD | DESC_EOP | rss;
    this.rdh[q] = h + 1 === this.size ? 0 : h + 1;
    this.pend_packets[q] += 1;
    this.pend_bytes[q] += len + 4;
    this.cause[q] = 1;
  }

  /** No descriptor: the frame is lost (the 82599's RXMPC / rx_missed_errors), counted at flush_counters. */
  miss(q: number): void {
    this.pend_missed[q] += 1;
  }

  /**
   * Write the counters kept since the last flush (rx_packets, rx_bytes, rx_missed). The
   * generator writes `generated` first: an accounted packet (a miss) never outruns it.
   */
  flush_counters(): void {
    const shm = this.shm;
    const RXQ = shm.layout.RXQ;
    for (let q = 0; q < this.queues; q++) {
      const qf = shm.rxqF[q];
      if (this.pend_packets[q] !== 0) {
        shm.f64[qf + RXQ.rx_packets] += this.pend_packets[q];
        shm.f64[qf + RXQ.rx_bytes] += this.pend_bytes[q];
        this.pend_packets[q] = 0;
        this.pend_bytes[q] = 0;
      }
      if (this.pend_missed[q] !== 0) {
        shm.f64[qf + RXQ.rx_missed] += this.pend_missed[q];
        this.pend_missed[q] = 0;
      }
    }
  }

  /** The ITR throttle needs the time; without coalescing the interrupt logic never reads it. */
  private read_clock(): void {
    if (this.shm.cfg.rx_usecs > 0) this.clock[0] = this.now_ns();
  }

  /** End of a burst: publish RDH of each queue written, set its cause and try to fire. */
  signal(): void {
    const shm = this.shm;
    let clock_read = false;
    for (let q = 0; q < this.queues; q++) {
      if (this.cause[q] === 0) continue;
      this.cause[q] = 0;
      Atomics.store(shm.i32, shm.rxqI[q] + shm.layout.RXQ.rdh, this.rdh[q]);
      // The throttle reads the time only for an enabled vector: a masked one (NAPI polling)
      // cannot fire, and reading Node's clock boxes a number (the hot path allocates nothing).
      if (!clock_read && Atomics.load(shm.i32, shm.rxqI[q] + shm.layout.RXQ.eims) !== 0) {
        this.read_clock();
        clock_read = true;
      }
      msix_set_cause(this.shm, q, this.clock);
    }
  }

  /**
   * The ITR timer: fire every vector with a cause pending behind an enabled mask once its
   * interval has passed, whoever set the cause or the mask last (the driver's unmask fires
   * only when its coarse clock proves the interval over). True while some are held back.
   */
  service_throttled(): boolean {
    if (this.shm.cfg.rx_usecs === 0) return false;
    let held = false;
    for (let q = 0; q < this.queues; q++) {
      if (!msix_throttled(this.shm, q)) continue;
      this.read_clock();
      if (!msix_try_fire(this.shm, q, this.clock)) held = true;
    }
    return held;
  }

  /** How long the device may sleep with interrupts held back by the ITR: its interval. */
  itr_wait_ms(held: boolean, otherwise_ms: number): number {
    if (!held) return otherwise_ms;
    let ns = Infinity;
    for (let q = 0; q < this.queues; q++) {
      const e = msix_eitr_ns(this.shm, q);
      if (e > 0 && e < ns) ns = e;
    }
    return ns === Infinity ? otherwise_ms : Math.max(0.01, ns / 1e6);
  }

  /**
   * Closed loop: wait for the driver to post descriptors on queue q, for about `timeout_ms`
   * at most per call (between calls the caller serves the ITR timer and the stop flag).
   * Returns true when the wire should put packets on the ring again.
   *
   * 1. Poll RDT for a while: the driver re-posts every 16 descriptors it cleans.
   * 2. Nap until half the ring is free, each nap as long as the driver took to free that
   *    much last time: a timed sleep, so the driver's RDT write needs no futex call on the
   *    emulated CPU's time (see host.ts). Only a driver that finds the ring empty meanwhile
   *    kicks us out of a nap (rx_ring_drained): it would otherwise wait for frames.
   * 3. After DEVICE_NAP_BUDGET_MS of naps, sleep until the driver wakes us: a Dekker with the
   *    driver, which stores RDT then loads dev_waiting while we store dev_waiting then load
   *    RDT; sequentially consistent on both sides, so one of us sees the other. The driver
   *    wakes us once half the ring is ours again.
   */
  wait_descriptor(q: number, timeout_ms: number): boolean {
    const shm = this.shm;
    const RXQ = shm.layout.RXQ;
    const qi = shm.rxqI[q];
    const want = this.size >> 1;
    if (this.napped_ms === 0) {
      for (let k = 0; k < this.spin_loads; k++) if (this.has_descriptor(q)) return true;
    }
    if (this.napped_ms < DEVICE_NAP_BUDGET_MS) {
      const before = this.free_descriptors(q);
      if (before < want) {
        const ms = this.nap_ms < timeout_ms ? this.nap_ms : timeout_ms;
        // Say we nap (a driver that drains the ring now kicks us), then look once more.
        const at = qi + RXQ.dev_waiting;
        Atomics.store(shm.i32, at, WIRE_NAPPING);
        if (this.free_descriptors(q) >= want) {
          Atomics.store(shm.i32, at, 0);
          this.napped_ms = 0;
          return true;
        }
        const t0 = this.now_ns();
        const woke = Atomics.wait(shm.i32, at, WIRE_NAPPING, ms);
        // Kicked: the driver's CAS landed before the nap ended (or before it began).
        const kicked = Atomics.exchange(shm.i32, at, 0) === WIRE_KICKED && woke !== 'timed-out';
        const slept_ms = (this.now_ns() - t0) / 1e6;
        const qf = shm.rxqF[q];
        shm.f64[qf + RXQ.wire_naps] += 1;
        if (kicked) shm.f64[qf + RXQ.wire_kicks] += 1;
        this.napped_ms += slept_ms;
        const free = this.free_descriptors(q);
        this.nap_ms = this.next_nap(slept_ms, kicked, before, free, want);
        if (free < want) return false;
      }
      this.napped_ms = 0;
      return true;
    }
    this.napped_ms = 0;
    shm.f64[shm.rxqF[q] + RXQ.wire_sleeps] += 1;
    Atomics.store(shm.i32, qi + RXQ.dev_waiting, WIRE_SLEEPING);
    if (!this.has_descriptor(q)) Atomics.wait(shm.i32, qi + RXQ.rdt, this.rdt[q], timeout_ms);
    Atomics.store(shm.i32, qi + RXQ.dev_waiting, 0);
    return this.has_descriptor(q);
  }

  /**
   * The next nap: what the driver took to free `want` descriptors, at the pace of the nap of
   * `ms` that saw free go from `before` to `free`. A kicked nap ended when the driver emptied
   * the ring, so its pace holds; a ring emptied without a kick (just as the nap timed out)
   * says only that the nap was too long, by how much unknown: a quarter of it.
   */
  private next_nap(ms: number, kicked: boolean, before: number, free: number, want: number): number {
    const drained = !kicked && free >= this.size - 1 - DRIVER_UNPOSTED_MAX;
    const next = drained ? ms / 4 : free > before ? (ms * want) / (free - before) : 2 * ms;
    return next < DEVICE_NAP_MIN_MS ? DEVICE_NAP_MIN_MS : next > DEVICE_NAP_MAX_MS ? DEVICE_NAP_MAX_MS : next;
  }

  /**
   * --device inline: the device has a frame for queue q and no descriptor: say so, so the
   * driver that posts some kicks the CPU hosting the device (rx_ring_refill), then look once
   * more (the refill may have come between).
   */
  wait_inline(q: number): void {
    const at = this.shm.rxqI[q] + this.shm.layout.RXQ.dev_waiting;
    Atomics.store(this.shm.i32, at, WIRE_INLINE);
    if (this.free_descriptors(q) > 0) Atomics.store(this.shm.i32, at, 0);
  }

  /** Does the ITR hold back some vector's interrupt? */
  any_throttled(): boolean {
    if (this.shm.cfg.rx_usecs === 0) return false;
    for (let q = 0; q < this.queues; q++) if (msix_throttled(this.shm, q)) return true;
    return false;
  }

  /** Posted descriptors free on queue q (re-reads RDT). */
  free_descriptors(q: number): number {
    const rdt = Atomics.load(this.shm.i32, this.shm.rxqI[q] + this.shm.layout.RXQ.rdt);
    if (rdt >>> 0 >= this.size) this.rdt_bad(q, rdt);
    this.rdt[q] = rdt;
    const n = rdt - this.rdh[q];
    return n < 0 ? n + this.size : n;
  }
}
