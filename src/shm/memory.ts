// Shm: typed-array views over the run's SharedArrayBuffer.
//
// `Shm.create(cfg, skbCount)` computes the layout and allocates the buffer (the engine does this
// once, with the skb pool's size it chose); `Shm.attach(cfg, sab)` only attaches views, in any
// thread (ringbuf.js style: the factory
// allocates, the constructor attaches). The views are created here, at start-up; the hot
// path indexes them with precomputed bases and never creates a view.

import type { Config } from '../config/schema.js';
import { computeLayout, SD_DROPS, skbCountIn, type Layout } from './layout.js';
import { Vq } from './virtqueue.js';
import { fastObject } from '../lib/fast_object.js';
import { spin_debug_asserts } from './spinlock.js';

/**
 * What --xdp attaches to a run (the program, its maps, the cpumaps): shm/ carries it and never
 * reads it. Its members are the kernel's XdpShared, declared onto this interface by
 * src/kernel/xdp.ts (a module augmentation), so this layer imports nothing above it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by kernel/xdp.ts's augmentation
export interface ShmXdp {}

export class Shm {
  readonly layout: Layout;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array; // the virtqueues' u16 fields (avail and used rings)

  // Element bases (in i32 / f64 units) of each per-CPU, per-napi, per-queue, per-task struct.
  readonly sd: Int32Array;
  readonly sdF: Int32Array;
  readonly napiI: Int32Array;
  readonly napiF: Int32Array;
  readonly rxqI: Int32Array;
  readonly rxqF: Int32Array;
  readonly taskI: Int32Array;
  readonly taskF: Int32Array;
  readonly ctlI: number;
  readonly ctlF: number;

  // skb pool, structure of arrays: index = skb id.
  readonly skb_len: Int32Array;
  readonly skb_hash: Int32Array;
  readonly skb_flags: Int32Array;
  readonly skb_protocol: Int32Array;
  readonly skb_nh: Int32Array; // network header offset within the skb's buffer
  readonly skb_queue: Int32Array;
  readonly skb_next: Int32Array; // list link (backlog, socket, rx_list, GRO bucket)
  readonly skb_frag_next: Int32Array; // GRO chain of merged segments (frag_list)
  readonly skb_segs: Int32Array; // segments in this skb (1 unless GRO merged)
  readonly skb_replay_pos: Int32Array; // --pcap: the frame's position in its capture flow
  readonly skb_gro_age: Int32Array;
  readonly skb_gro_last: Int32Array;
  readonly skb_gro_next_seq: Int32Array;
  readonly skb_gro_gso_size: Int32Array;
  readonly skb_gro_flags: Int32Array;
  readonly skb_frags: Int32Array; // first frag page of a frame over several buffers (virtio), -1: none
  readonly skb_data_len: Int32Array; // bytes in frag pages (skb->data_len); on a page, its own bytes
  readonly skb_frag_off: Int32Array; // on a frag page: its bytes start at skb_data(page) + frag_off
  readonly skb_tstamp: Float64Array; // ns of DMA for sampled packets, 0 otherwise
  readonly skb_free: Int32Array; // the global free stack
  /** --debug-asserts: per skb, 1 while it is in the pool (free stack or a CPU's cache), 0 in use (empty otherwise). */
  readonly skb_state: Uint8Array;
  readonly skbDataBase: number; // byte offset of skb 0's buffer in u8
  readonly skbBufSize: number;

  // Descriptor rings: ring q's descriptor d is at [q * ring_size + d].
  readonly desc_skb: Int32Array;
  readonly desc_len: Int32Array;
  readonly desc_hash: Int32Array;
  readonly desc_status: Int32Array;

  readonly reta: Int32Array;
  /** virtio: one split virtqueue per RX queue (empty for the other NICs). */
  readonly vq: Vq[];
  readonly skI: number; // i32 base of socket 0
  readonly skF: number; // f64 base of socket 0
  readonly skStrideI: number;
  readonly skStrideF: number;
  readonly skHash: Int32Array;

  /** The run's Config, copied with every field in-object (lib/fast_object.ts): the hot path reads it. */
  readonly cfg: Config;
  /** --xdp: the program, its maps and cpumaps (kernel/xdp.ts), set at boot and by each worker's attach. */
  xdp: ShmXdp | null = null;

  private constructor(
    cfg: Config,
    readonly sab: SharedArrayBuffer,
    skbCount: number,
  ) {
    this.cfg = cfg = fastObject(cfg);
    const layout = (this.layout = computeLayout(cfg, skbCount));
    if (sab.byteLength !== layout.bytes) {
      throw new Error(`shared memory is ${sab.byteLength} bytes, the layout for this config needs ${layout.bytes}`);
    }
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.u8 = new Uint8Array(sab);
    this.u16 = new Uint16Array(sab);
    const bases = (base: number, stride: number, n: number, unit: number): Int32Array =>
      Int32Array.from({ length: n }, (_, i) => (base + i * stride) / unit);
    this.sd = bases(layout.sdBase, layout.SD.stride, cfg.cpus, 4);
    this.sdF = bases(layout.sdBase, layout.SD.stride, cfg.cpus, 8);
    this.napiI = bases(layout.napiBase, layout.NAPI.stride, layout.napiCount, 4);
    this.napiF = bases(layout.napiBase, layout.NAPI.stride, layout.napiCount, 8);
    this.rxqI = bases(layout.rxqBase, layout.RXQ.stride, cfg.queues, 4);
    this.rxqF = bases(layout.rxqBase, layout.RXQ.stride, cfg.queues, 8);
    this.taskI = bases(layout.taskBase, layout.TASK.stride, layout.taskCount, 4);
    this.taskF = bases(layout.taskBase, layout.TASK.stride, layout.taskCount, 8);
    this.ctlI = layout.CTL.base / 4;
    this.ctlF = layout.CTL.base / 8;
    const n = layout.skbCount;
    const i32At = (byteOffset: number, len: number) => new Int32Array(sab, byteOffset, len);
    const b = layout.skbI32Base;
    this.skb_len = i32At(b.len, n);
    this.skb_hash = i32At(b.hash, n);
    this.skb_flags = i32At(b.flags, n);
    this.skb_protocol = i32At(b.protocol, n);
    this.skb_nh = i32At(b.nh, n);
    this.skb_queue = i32At(b.queue, n);
    this.skb_next = i32At(b.next, n);
    this.skb_frag_next = i32At(b.frag_next, n);
    this.skb_segs = i32At(b.segs, n);
    this.skb_replay_pos = i32At(b.replay_pos, n);
    this.skb_gro_age = i32At(b.gro_age, n);
    this.skb_gro_last = i32At(b.gro_last, n);
    this.skb_gro_next_seq = i32At(b.gro_next_seq, n);
    this.skb_gro_gso_size = i32At(b.gro_gso_size, n);
    this.skb_gro_flags = i32At(b.gro_flags, n);
    this.skb_frags = i32At(b.frags, n);
    this.skb_data_len = i32At(b.data_len, n);
    this.skb_frag_off = i32At(b.frag_off, n);
    this.skb_tstamp = new Float64Array(sab, layout.skbTstampBase, n);
    this.skb_free = i32At(layout.skbFreeBase, n);
    this.skb_state = new Uint8Array(sab, layout.skbStateBase, cfg.debug_asserts ? n : 0);
    this.skbDataBase = layout.skbDataBase;
    this.skbBufSize = layout.skbBufSize;
    const ringElems = cfg.queues * cfg.ring_size;
    this.desc_skb = i32At(layout.descBase, ringElems);
    this.desc_len = i32At(layout.descBase + ringElems * 4, ringElems);
    this.desc_hash = i32At(layout.descBase + ringElems * 8, ringElems);
    this.desc_status = i32At(layout.descBase + ringElems * 12, ringElems);
    this.reta = i32At(layout.retaBase, 128);
    const vqL = layout.vq;
    this.vq = vqL === null ? [] : Array.from({ length: cfg.queues }, (_, q) => new Vq(layout.vqBase + q * vqL.stride, cfg.ring_size, vqL));
    this.skI = layout.skBase / 4;
    this.skF = layout.skBase / 8;
    this.skStrideI = layout.SOCK.stride / 4;
    this.skStrideF = layout.SOCK.stride / 8;
    this.skHash = i32At(layout.skHashBase, layout.skHashSize);
    spin_debug_asserts(cfg.debug_asserts, this.i32, (index) => this.lockName(index));
  }

  /** The name of the lock word at i32 index `index`, for an assertion's line ("cpu 1 rps_lock"). */
  lockName(index: number): string {
    const layout = this.layout;
    const field = (st: Record<string, number>, off: number): string => {
      const names = Object.keys(st).filter((k) => k !== 'stride' && st[k] === off);
      return names.find((k) => k.includes('lock')) ?? names[0] ?? `word ${off}`;
    };
    const within = (bases: Int32Array, st: Record<string, number>, what: string): string | null => {
      for (let i = 0; i < bases.length; i++) {
        const off = index - bases[i];
        if (off >= 0 && off < st.stride / 4) return `${what} ${i} ${field(st, off)}`;
      }
      return null;
    };
    if (index >= this.ctlI && index < this.ctlI + layout.CTL.stride / 4) return `ctl ${field(layout.CTL, index - this.ctlI)}`;
    const sk = index - this.skI;
    if (sk >= 0 && sk < layout.skCount * this.skStrideI)
      return `socket ${Math.floor(sk / this.skStrideI)} ${field(layout.SOCK, sk % this.skStrideI)}`;
    return (
      within(this.sd, layout.SD, 'cpu') ??
      within(this.taskI, layout.TASK, 'task') ??
      within(this.rxqI, layout.RXQ, 'queue') ??
      `lock word ${index}`
    );
  }

  /** Fresh shared memory for `cfg` with a pool of `skbCount` skbs, the count kept in the control block. */
  static create(cfg: Config, skbCount: number): Shm {
    const layout = computeLayout(cfg, skbCount);
    const shm = new Shm(cfg, new SharedArrayBuffer(layout.bytes), skbCount);
    shm.i32[shm.ctlI + layout.CTL.skb_count] = skbCount;
    return shm;
  }

  static attach(cfg: Config, sab: SharedArrayBuffer): Shm {
    return new Shm(cfg, sab, skbCountIn(cfg, sab));
  }

  /** Byte offset in u8 of skb's frame buffer. */
  skbData(skb: number): number {
    return this.skbDataBase + skb * this.skbBufSize;
  }

  /** i32 index of socket s's field `fi` (an i32 field index from layout.sk). */
  skIdx(s: number, fi: number): number {
    return this.skI + s * this.skStrideI + fi;
  }

  skIdxF(s: number, ff: number): number {
    return this.skF + s * this.skStrideF + ff;
  }

  /** A softnet_data f64 counter (a field index from layout.SD) summed over every CPU. */
  sdSum(field: number): number {
    let s = 0;
    for (let c = 0; c < this.cfg.cpus; c++) s += this.f64[this.sdF[c] + field];
    return s;
  }

  /**
   * Generated packets accounted for: delivered to a socket, or counted once under a drop
   * reason (the softnet drops of SD_DROPS, a ring's rx_missed, virtio's tun queue at its
   * bound, frames QEMU could not fit, the guest driver's length errors). The one rule of both
   * drains (engine/result.ts accounted(), the sim machine's).
   */
  packetsDone(): number {
    return this.sdSum(this.layout.SD.delivered) + this.packetsDropped();
  }

  /** Generated packets counted under a drop reason so far (packetsDone's drops). */
  packetsDropped(): number {
    const layout = this.layout;
    let dropped = 0;
    for (const [, field] of SD_DROPS) dropped += this.sdSum(layout.SD[field]);
    const RXQ = layout.RXQ;
    for (let q = 0; q < this.cfg.queues; q++) {
      const b = this.rxqF[q];
      dropped += this.f64[b + RXQ.rx_missed] + this.f64[b + RXQ.virtio_tun_dropped] + this.f64[b + RXQ.virtio_oversize];
      dropped += this.f64[b + RXQ.virtio_rx_length_errors];
    }
    return dropped + this.f64[this.ctlF + layout.CTL.replay_snaplen];
  }
}
