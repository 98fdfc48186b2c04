// The machine a BPF program runs on: one XdpEnv per emulated CPU holds the current xdp_buff,
// the program's 512-byte stack, this CPU's redirect info (struct bpf_redirect_info), its
// prandom state and counters, and implements the loads, stores and helpers that the
// interpreter (interp.ts) and the translated function (jit.ts) share.
//
// 64-bit values are pairs of int32 halves (lo, hi). A pointer is a 64-bit value whose high half
// names the region it points into and whose low half is the byte offset there:
//   CTX_HI        the xdp_md context (offsets 0..23)
//   PKT_HI        the frame memory (the run's shared frame buffer; offset = absolute byte)
//   STACK_HI      this CPU's stack (0..512; r10 = 512)
//   MAP_HI + m    map m itself (a `struct bpf_map *`, only helpers take it)
//   VAL_HI + m    a value of map m (offset = byte in the maps' SharedArrayBuffer)
// Pointer arithmetic is plain 64-bit arithmetic, so a program can compare data + 14 with
// data_end as it does in the kernel. Every access checks its region's bounds at run time:
// the packet between data_meta and data_end, the stack, one value of the map (never the
// next one). What the verifier would have refused (a read past data_end, a store into the
// context, an unknown pointer) sets `fault` instead, and the engine ends the run as
// XDP_ABORTED with the reason counted: never a JavaScript exception, never an allocation.

import type { BpfMaps } from './maps.js';
import { COUNTER_SLOTS, E2BIG, EINVAL, OUR_IFINDEX, TRACE_BYTES } from './maps.js';
import {
  BPF_ADD,
  BPF_AND,
  BPF_CMPXCHG,
  BPF_FETCH,
  BPF_FUNC_csum_diff,
  BPF_FUNC_get_prandom_u32,
  BPF_FUNC_get_smp_processor_id,
  BPF_FUNC_ktime_get_ns,
  BPF_FUNC_map_delete_elem,
  BPF_FUNC_map_lookup_elem,
  BPF_FUNC_map_update_elem,
  BPF_FUNC_redirect,
  BPF_FUNC_redirect_map,
  BPF_FUNC_trace_printk,
  BPF_FUNC_xdp_adjust_head,
  BPF_FUNC_xdp_adjust_tail,
  BPF_OR,
  BPF_XCHG,
  BPF_XOR,
  MAX_BPF_STACK,
  XDP_ABORTED,
  XDP_MD_DATA,
  XDP_MD_DATA_END,
  XDP_MD_DATA_META,
  XDP_MD_INGRESS_IFINDEX,
  XDP_MD_RX_QUEUE_INDEX,
  XDP_REDIRECT,
  XDP_TX,
} from './insn.js';
import { traceFormat } from './trace.js';

export const CTX_HI = 0x10000;
export const PKT_HI = 0x20000;
export const STACK_HI = 0x30000;
export const MAP_HI = 0x40000;
export const VAL_HI = 0x50000;

/** Back-edge jumps one run may take: a verified program takes far fewer (BPF_COMPLEXITY_LIMIT_INSNS is 1M instructions). */
export const LOOP_BUDGET = 1 << 20;

/** sizeof(struct xdp_frame) in 5.10: bpf_xdp_adjust_head keeps this much headroom for it. */
export const XDP_FRAME_SIZE = 32;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64: the tailroom xdp_data_hard_end keeps. */
export const SKB_SHARED_INFO_SIZE = 320;
const ETH_HLEN = 14;
const PAGE_SIZE = 4096;

// Why a run ended as XDP_ABORTED (fault), each a counter.
export const FAULT_NONE = 0;
export const FAULT_READ = 1;
export const FAULT_WRITE = 2;
export const FAULT_LOOP = 3;
export const FAULT_CALL = 4;

/** This CPU's counters (f64 slots of the maps' shared memory; only this CPU writes them). */
export const CTR_RUNS = 0;
/** CTR_ACTION + act for act 0..4 (XDP_ABORTED .. XDP_REDIRECT): what the program returned. */
export const CTR_ACTION = 1;
/** Returns above XDP_REDIRECT (bpf_warn_invalid_xdp_action): the driver treats them as aborted. */
export const CTR_INVALID_ACTION = 6;
/** Runs ended by a fault: CTR_FAULT + FAULT_* - 1. */
export const CTR_FAULT = 7;
export const CTR_TRACE_DROPPED = 11;
export const CTR_TRACE_LINES = 12;
export const FAULT_NAMES = ['read', 'write', 'loop', 'call'] as const;

/** The run-time half of struct bpf_redirect_info: what bpf_redirect/bpf_redirect_map chose. */
export const RI_NONE = -1;

export interface XdpEnvOptions {
  /** bpf_ktime_get_ns: this CPU's clock in ns (the CPU environment's now()). */
  clock?: () => number;
  /** Seeds bpf_get_prandom_u32 (with the CPU). */
  seed?: number;
}

export class XdpEnv {
  // ---- the current xdp_buff (absolute offsets into `pkt`)
  pkt: Uint8Array = new Uint8Array(0);
  pdv: DataView = new DataView(new ArrayBuffer(0));
  data_hard_start = 0;
  data = 0;
  data_end = 0;
  data_meta = 0;
  frame_sz = 0;
  ingress_ifindex = OUR_IFINDEX;
  rx_queue_index = 0;

  // ---- registers' side channel: the high half of the last 64-bit result, and the fault
  rh = 0;
  fault = FAULT_NONE;

  // ---- struct bpf_redirect_info (per CPU in the kernel)
  /** The map bpf_redirect_map chose (RI_NONE: none, e.g. bpf_redirect's ifindex). */
  ri_map = RI_NONE;
  /** Its key (the target CPU or devmap slot), or bpf_redirect's ifindex. */
  ri_tgt_index = 0;
  ri_flags = 0;

  /** Instructions the interpreter executed (interp.ts counts; the translated function does not). */
  insns = 0;

  readonly stack = new Uint8Array(MAX_BPF_STACK);
  readonly sdv = new DataView(this.stack.buffer);
  readonly m8: Uint8Array;
  readonly mdv: DataView;
  readonly mi32: Int32Array;
  readonly ctr: Float64Array;
  /** Per map: its values' first byte, end, stride, size, and whether programs may write them. */
  readonly vbase: Int32Array;
  readonly vend: Int32Array;
  readonly vstride: Int32Array;
  readonly vsize: Int32Array;
  readonly vro: Uint8Array;
  readonly keysize: Int32Array;
  readonly valsize: Int32Array;
  /** Scratch for helpers: a key, a value, bpf_csum_diff's words (struct bpf_scratchpad). */
  readonly keybuf = new Uint8Array(512);
  readonly valbuf: Uint8Array;
  private readonly diff = new Uint32Array(128);
  private readonly trace: Uint8Array;
  private readonly traceView: Int32Array;
  private readonly s = new Uint32Array(4); // prandom state s1..s4
  private readonly clock: () => number;

  constructor(
    readonly maps: BpfMaps,
    readonly cpu: number,
    o: XdpEnvOptions = {},
  ) {
    const layout = maps.layout;
    this.m8 = maps.u8;
    this.mdv = maps.dv;
    this.mi32 = maps.i32;
    this.ctr = new Float64Array(maps.sab, layout.counters + cpu * COUNTER_SLOTS * 8, COUNTER_SLOTS);
    this.trace = new Uint8Array(maps.sab, layout.trace + cpu * TRACE_BYTES, TRACE_BYTES);
    this.traceView = new Int32Array(maps.sab, layout.trace + cpu * TRACE_BYTES, 1);
    const n = layout.maps.length;
    this.vbase = new Int32Array(n);
    this.vend = new Int32Array(n);
    this.vstride = new Int32Array(n);
    this.vsize = new Int32Array(n);
    this.vro = new Uint8Array(n);
    this.keysize = new Int32Array(n);
    this.valsize = new Int32Array(n);
    let vmax = 8;
    layout.maps.forEach((l, m) => {
      this.vbase[m] = l.vbase;
      this.vend[m] = l.vbase + l.vcount * l.vstride;
      this.vstride[m] = l.vstride;
      this.vsize[m] = l.def.value_size;
      // .rodata (BPF_F_RDONLY_PROG) and devmaps (dev_map_init_map sets BPF_F_RDONLY_PROG) are read-only to programs.
      this.vro[m] = l.def.readonly || l.kind === 'devmap' || l.kind === 'cpumap' ? 1 : 0;
      this.keysize[m] = l.def.key_size;
      this.valsize[m] = l.def.value_size;
      vmax = Math.max(vmax, l.def.value_size);
    });
    this.valbuf = new Uint8Array(vmax);
    this.clock = o.clock ?? (() => Math.round(performance.now() * 1e6));
    prandom_seed_state(this.s, ((o.seed ?? 1) ^ Math.imul(cpu + 1, 0x9e3779b9)) >>> 0);
  }

  /**
   * Point the context at a frame: the xdp_buff as the driver sets it up (xdp_prepare_buff):
   * `hard_start` is the buffer's start, `data`..`data_end` the frame, `frame_sz` the buffer's
   * truesize. Offsets are absolute in `mem` (the run's frame memory). No metadata (data_meta = data).
   */
  setFrame(mem: Uint8Array, hard_start: number, data: number, data_end: number, frame_sz: number, rx_queue_index: number): void {
    if (mem !== this.pkt) {
      this.pkt = mem;
      this.pdv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength); // once per buffer, not per packet
    }
    this.data_hard_start = hard_start;
    this.data = data;
    this.data_end = data_end;
    this.data_meta = data;
    this.frame_sz = frame_sz;
    this.rx_queue_index = rx_queue_index;
  }

  /** Before a run: no fault, no redirect chosen. */
  begin(): void {
    this.fault = FAULT_NONE;
    this.ri_map = RI_NONE;
  }

  /** After a run: count the outcome and turn a fault or an invalid action into XDP_ABORTED. */
  end(r0: number): number {
    const c = this.ctr;
    c[CTR_RUNS]++;
    if (this.fault !== FAULT_NONE) {
      c[CTR_FAULT + this.fault - 1]++;
      c[CTR_ACTION + XDP_ABORTED]++;
      return XDP_ABORTED;
    }
    const act = r0 >>> 0;
    if (act > XDP_REDIRECT) {
      c[CTR_INVALID_ACTION]++;
      c[CTR_ACTION + XDP_ABORTED]++;
      return XDP_ABORTED;
    }
    c[CTR_ACTION + act]++;
    return act;
  }

  // ------------------------------------------------------------------ memory

  private valueOk(h: number, a: number, size: number): boolean {
    const m = h - VAL_HI;
    if (m < 0 || m >= this.vbase.length) return false;
    const base = this.vbase[m];
    if (a < base || a + size > this.vend[m]) return false;
    return ((a - base) % this.vstride[m]) + size <= this.vsize[m];
  }

  private readFault(): number {
    this.fault = FAULT_READ;
    this.rh = 0;
    return 0;
  }

  /** The xdp_md field at `a` (a u32 load; the verifier rewrites data/data_end/data_meta into pointer loads). */
  private ctxLoad(a: number): number {
    switch (a) {
      case XDP_MD_DATA:
        this.rh = PKT_HI;
        return this.data | 0;
      case XDP_MD_DATA_END:
        this.rh = PKT_HI;
        return this.data_end | 0;
      case XDP_MD_DATA_META:
        this.rh = PKT_HI;
        return this.data_meta | 0;
      case XDP_MD_INGRESS_IFINDEX:
        this.rh = 0;
        return this.ingress_ifindex;
      case XDP_MD_RX_QUEUE_INDEX:
        this.rh = 0;
        return this.rx_queue_index;
    }
    // egress_ifindex is for devmap programs only (xdp_is_valid_access); any other offset is no field.
    return this.readFault();
  }

  ld1(h: number, l: number, off: number): number {
    const a = (l >>> 0) + off;
    if (h === PKT_HI) {
      if (a >= this.data_meta && a + 1 <= this.data_end) return this.pkt[a];
    } else if (h === STACK_HI) {
      if (a >= 0 && a + 1 <= MAX_BPF_STACK) return this.stack[a];
    } else if (this.valueOk(h, a, 1)) return this.m8[a];
    return this.readFault();
  }

  ld2(h: number, l: number, off: number): number {
    const a = (l >>> 0) + off;
    if (h === PKT_HI) {
      if (a >= this.data_meta && a + 2 <= this.data_end) return this.pdv.getUint16(a, true);
    } else if (h === STACK_HI) {
      if (a >= 0 && a + 2 <= MAX_BPF_STACK) return this.sdv.getUint16(a, true);
    } else if (this.valueOk(h, a, 2)) return this.mdv.getUint16(a, true);
    return this.readFault();
  }

  /** A u32 load; sets rh (0, or PKT_HI for the context's packet pointers). */
  ld4(h: number, l: number, off: number): number {
    const a = (l >>> 0) + off;
    this.rh = 0;
    if (h === PKT_HI) {
      if (a >= this.data_meta && a + 4 <= this.data_end) return this.pdv.getInt32(a, true);
    } else if (h === STACK_HI) {
      if (a >= 0 && a + 4 <= MAX_BPF_STACK) return this.sdv.getInt32(a, true);
    } else if (h === CTX_HI) return this.ctxLoad(a);
    else if (this.valueOk(h, a, 4)) return this.mdv.getInt32(a, true);
    return this.readFault();
  }

  /** A u64 load: returns the low half, sets rh to the high half. */
  ld8(h: number, l: number, off: number): number {
    const a = (l >>> 0) + off;
    let v: DataView;
    if (h === PKT_HI) {
      if (a < this.data_meta || a + 8 > this.data_end) return this.readFault();
      v = this.pdv;
    } else if (h === STACK_HI) {
      if (a < 0 || a + 8 > MAX_BPF_STACK) return this.readFault();
      v = this.sdv;
    } else if (this.valueOk(h, a, 8)) v = this.mdv;
    else return this.readFault();
    this.rh = v.getInt32(a + 4, true);
    return v.getInt32(a, true);
  }

  /** Where a store of `size` bytes at (h, l + off) goes: the DataView, or undefined (fault set). */
  private storeTarget(h: number, a: number, size: number): DataView | undefined {
    if (h === PKT_HI) {
      if (a >= this.data_meta && a + size <= this.data_end) return this.pdv;
    } else if (h === STACK_HI) {
      if (a >= 0 && a + size <= MAX_BPF_STACK) return this.sdv;
    } else if (this.valueOk(h, a, size) && this.vro[h - VAL_HI] === 0) return this.mdv;
    this.fault = FAULT_WRITE;
    return undefined;
  }

  st1(h: number, l: number, off: number, v: number): void {
    const a = (l >>> 0) + off;
    this.storeTarget(h, a, 1)?.setUint8(a, v & 0xff);
  }

  st2(h: number, l: number, off: number, v: number): void {
    const a = (l >>> 0) + off;
    this.storeTarget(h, a, 2)?.setUint16(a, v & 0xffff, true);
  }

  st4(h: number, l: number, off: number, v: number): void {
    const a = (l >>> 0) + off;
    this.storeTarget(h, a, 4)?.setInt32(a, v, true);
  }

  st8(h: number, l: number, off: number, vl: number, vh: number): void {
    const a = (l >>> 0) + off;
    const t = this.storeTarget(h, a, 8);
    if (t === undefined) return;
    t.setInt32(a, vl, true);
    t.setInt32(a + 4, vh, true);
  }

  /**
   * BPF_STX | BPF_ATOMIC (BPF_XADD in 5.10's words) of `size` 4 or 8 at (h, l + off) with
   * operand (vl, vh); cmpxchg compares with (cl, ch) (r0). Returns the old value's low half,
   * rh its high half. On map values (shared by every CPU thread) it is an Atomics operation on
   * each aligned 32-bit half (a 64-bit add carries into the high half with a second atomic add,
   * so concurrent adds sum exactly); on the stack a plain read-modify-write. The verifier
   * refuses atomics on the packet and the context: a fault here.
   */
  atomic(h: number, l: number, off: number, size: number, op: number, vl: number, vh: number, cl: number, ch: number): number {
    const a = (l >>> 0) + off;
    if (h === STACK_HI) {
      if (a < 0 || a + size > MAX_BPF_STACK || a % size !== 0) return this.writeFault();
      return this.atomicPlain(a, size, op, vl, vh, cl, ch);
    }
    if (!this.valueOk(h, a, size) || this.vro[h - VAL_HI] !== 0 || a % size !== 0) return this.writeFault();
    const w = this.mi32;
    const i = a >> 2;
    const base = op & ~BPF_FETCH;
    if (size === 4) {
      this.rh = 0;
      switch (op === BPF_XCHG || op === BPF_CMPXCHG ? op : base) {
        case BPF_ADD:
          return Atomics.add(w, i, vl);
        case BPF_OR:
          return Atomics.or(w, i, vl);
        case BPF_AND:
          return Atomics.and(w, i, vl);
        case BPF_XOR:
          return Atomics.xor(w, i, vl);
        case BPF_XCHG:
          return Atomics.exchange(w, i, vl);
        default:
          return Atomics.compareExchange(w, i, cl, vl);
      }
    }
    switch (op === BPF_XCHG || op === BPF_CMPXCHG ? op : base) {
      case BPF_ADD: {
        const oldl = Atomics.add(w, i, vl);
        const carry = (oldl >>> 0) + (vl >>> 0) > 0xffffffff ? 1 : 0;
        this.rh = Atomics.add(w, i + 1, (vh + carry) | 0);
        return oldl;
      }
      case BPF_OR:
        this.rh = Atomics.or(w, i + 1, vh);
        return Atomics.or(w, i, vl);
      case BPF_AND:
        this.rh = Atomics.and(w, i + 1, vh);
        return Atomics.and(w, i, vl);
      case BPF_XOR:
        this.rh = Atomics.xor(w, i + 1, vh);
        return Atomics.xor(w, i, vl);
      default:
        return this.atomic64Exchange(a, op, vl, vh, cl, ch);
    }
  }

  /** 64-bit xchg and cmpxchg need one 64-bit atomic: BigInt64Array's (they allocate; beyond 5.10, which has only add). */
  private atomic64Exchange(a: number, op: number, vl: number, vh: number, cl: number, ch: number): number {
    const w64 = new BigInt64Array(this.maps.sab, a, 1);
    const nv = (BigInt(vh) << 32n) | BigInt(vl >>> 0);
    const old =
      op === BPF_XCHG ? Atomics.exchange(w64, 0, nv) : Atomics.compareExchange(w64, 0, (BigInt(ch) << 32n) | BigInt(cl >>> 0), nv);
    this.rh = Number(BigInt.asIntN(32, old >> 32n));
    return Number(BigInt.asIntN(32, old));
  }

  private atomicPlain(a: number, size: number, op: number, vl: number, vh: number, cl: number, ch: number): number {
    const d = this.sdv;
    const ol = d.getInt32(a, true);
    const oh = size === 8 ? d.getInt32(a + 4, true) : 0;
    let nl: number;
    let nh: number;
    switch (op === BPF_XCHG || op === BPF_CMPXCHG ? op : op & ~BPF_FETCH) {
      case BPF_ADD: {
        const t = (ol >>> 0) + (vl >>> 0);
        nl = t | 0;
        nh = (oh + vh + (t > 0xffffffff ? 1 : 0)) | 0;
        break;
      }
      case BPF_OR:
        nl = ol | vl;
        nh = oh | vh;
        break;
      case BPF_AND:
        nl = ol & vl;
        nh = oh & vh;
        break;
      case BPF_XOR:
        nl = ol ^ vl;
        nh = oh ^ vh;
        break;
      case BPF_XCHG:
        nl = vl;
        nh = vh;
        break;
      default: {
        const eq = size === 8 ? ol === cl && oh === ch : ol === cl;
        nl = eq ? vl : ol;
        nh = eq ? vh : oh;
      }
    }
    d.setInt32(a, nl, true);
    if (size === 8) d.setInt32(a + 4, nh, true);
    this.rh = oh;
    return ol;
  }

  private writeFault(): number {
    this.fault = FAULT_WRITE;
    this.rh = 0;
    return 0;
  }

  /** Copy `len` bytes from the program's memory at (h, l) into `dst` (a helper's argument); false (fault) when out of bounds. */
  private copyIn(h: number, l: number, len: number, dst: Uint8Array): boolean {
    const a = l >>> 0;
    let src: Uint8Array;
    if (h === PKT_HI) {
      if (a < this.data_meta || a + len > this.data_end) return false;
      src = this.pkt;
    } else if (h === STACK_HI) {
      if (a + len > MAX_BPF_STACK) return false;
      src = this.stack;
    } else if (this.valueOk(h, a, len)) src = this.m8;
    else return false;
    for (let i = 0; i < len; i++) dst[i] = src[a + i];
    return true;
  }

  /** The map index of a `struct bpf_map *` register, or -1 (fault set). */
  private mapOf(h: number, l: number): number {
    const m = h - MAP_HI;
    if (m >= 0 && m < this.vbase.length && l === 0) return m;
    this.fault = FAULT_CALL;
    return -1;
  }

  private ret(lo: number, hi: number): number {
    this.rh = hi;
    return lo;
  }

  private callFault(): number {
    this.fault = FAULT_CALL;
    return this.ret(0, 0);
  }

  // ------------------------------------------------------------------ helpers (net/core/filter.c, kernel/bpf/helpers.c)

  /** bpf_map_lookup_elem(map, key): a pointer to the value, or NULL. */
  h_map_lookup_elem(mh: number, ml: number, kh: number, kl: number): number {
    const m = this.mapOf(mh, ml);
    if (m < 0 || !this.copyIn(kh, kl, this.keysize[m], this.keybuf)) return this.callFault();
    const v = this.maps.lookup(m, this.keybuf, 0, this.cpu);
    return v < 0 ? this.ret(0, 0) : this.ret(v, VAL_HI + m);
  }

  /** bpf_map_update_elem(map, key, value, flags): 0 or -errno. */
  h_map_update_elem(mh: number, ml: number, kh: number, kl: number, vh: number, vl: number, fh: number, fl: number): number {
    const m = this.mapOf(mh, ml);
    if (
      m < 0 ||
      this.vro[m] !== 0 ||
      !this.copyIn(kh, kl, this.keysize[m], this.keybuf) ||
      !this.copyIn(vh, vl, this.valsize[m], this.valbuf)
    )
      return this.callFault();
    const r = fh !== 0 ? -EINVAL : this.maps.update(m, this.keybuf, 0, this.valbuf, 0, fl >>> 0, this.cpu);
    return this.ret(r, r < 0 ? -1 : 0);
  }

  /** bpf_map_delete_elem(map, key): 0 or -errno. */
  h_map_delete_elem(mh: number, ml: number, kh: number, kl: number): number {
    const m = this.mapOf(mh, ml);
    if (m < 0 || this.vro[m] !== 0 || !this.copyIn(kh, kl, this.keysize[m], this.keybuf)) return this.callFault();
    const r = this.maps.delete(m, this.keybuf, 0);
    return this.ret(r, r < 0 ? -1 : 0);
  }

  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC in ns (this CPU's clock). */
  h_ktime_get_ns(): number {
    const ns = this.clock();
    return this.ret((ns % 2 ** 32) | 0, Math.floor(ns / 2 ** 32) | 0);
  }

  /** bpf_get_prandom_u32(): prandom_u32_state on this CPU's state (bpf_user_rnd_u32). */
  h_get_prandom_u32(): number {
    return this.ret(prandom_u32_state(this.s), 0);
  }

  /** bpf_get_smp_processor_id(). */
  h_get_smp_processor_id(): number {
    return this.ret(this.cpu, 0);
  }

  /** bpf_xdp_redirect(ifindex, flags) (5.10): any flag aborts; the target is checked at xdp_do_redirect. */
  h_redirect(ifindex: number, fh: number, fl: number): number {
    if (fh !== 0 || fl !== 0) return this.ret(XDP_ABORTED, 0);
    this.ri_flags = 0;
    this.ri_tgt_index = ifindex >>> 0;
    this.ri_map = RI_NONE;
    return this.ret(XDP_REDIRECT, 0);
  }

  /**
   * bpf_xdp_redirect_map(map, key, flags) (5.10): flags above XDP_TX abort; a missing entry
   * clears the chosen map and returns the flags (the action to take instead); else remember
   * the map and key for xdp_do_redirect and return XDP_REDIRECT.
   */
  h_redirect_map(mh: number, ml: number, key: number, fh: number, fl: number): number {
    const m = this.mapOf(mh, ml);
    if (m < 0) return this.callFault();
    if (fh !== 0 || fl >>> 0 > XDP_TX) return this.ret(XDP_ABORTED, 0);
    if (!this.maps.redirectTarget(m, key)) {
      this.ri_map = RI_NONE;
      return this.ret(fl, 0);
    }
    this.ri_flags = fl;
    this.ri_tgt_index = key >>> 0;
    this.ri_map = m;
    return this.ret(XDP_REDIRECT, 0);
  }

  /** bpf_xdp_adjust_head(xdp, offset) (5.10): move data, keeping room for struct xdp_frame and ETH_HLEN of frame. */
  h_xdp_adjust_head(ch: number, offset: number): number {
    if (ch !== CTX_HI) return this.callFault();
    const metalen = this.data - this.data_meta;
    const data_start = this.data_hard_start + XDP_FRAME_SIZE + metalen;
    const data = this.data + offset;
    if (data < data_start || data > this.data_end - ETH_HLEN) return this.ret(-EINVAL, -1);
    if (metalen > 0) this.pkt.copyWithin(this.data_meta + offset, this.data_meta, this.data);
    this.data_meta += offset;
    this.data = data;
    return this.ret(0, 0);
  }

  /** bpf_xdp_adjust_tail(xdp, offset) (5.10): move data_end within the buffer less the skb_shared_info tailroom. */
  h_xdp_adjust_tail(ch: number, offset: number): number {
    if (ch !== CTX_HI) return this.callFault();
    const data_hard_end = this.data_hard_start + this.frame_sz - SKB_SHARED_INFO_SIZE;
    const data_end = this.data_end + offset;
    if (data_end > data_hard_end) return this.ret(-EINVAL, -1);
    if (this.frame_sz > PAGE_SIZE) return this.ret(-EINVAL, -1);
    if (data_end < this.data + ETH_HLEN) return this.ret(-EINVAL, -1);
    if (offset > 0) this.pkt.fill(0, this.data_end, data_end); // clear memory area on grow
    this.data_end = data_end;
    return this.ret(0, 0);
  }

  /**
   * bpf_csum_diff(from, from_size, to, to_size, seed) (5.10): csum_partial over ~from and to,
   * as x86-64's csum_partial computes it (a 64-bit ones'-complement sum folded to 32 bits).
   */
  h_csum_diff(fromh: number, froml: number, from_size: number, toh: number, tol: number, to_size: number, seed: number): number {
    const fs = from_size >>> 0;
    const ts = to_size >>> 0;
    if (((fs | ts) & 3) !== 0 || fs + ts > 512) return this.ret(-EINVAL, -1);
    const d = this.diff;
    let j = 0;
    for (let i = 0; i < fs; i += 4, j++) {
      const w = this.ld4(fromh, froml, i);
      if (this.fault !== FAULT_NONE) return this.callFault();
      d[j] = ~w;
    }
    for (let i = 0; i < ts; i += 4, j++) {
      const w = this.ld4(toh, tol, i);
      if (this.fault !== FAULT_NONE) return this.callFault();
      d[j] = w;
    }
    return this.ret(csum_partial_words(d, j, seed >>> 0) | 0, 0);
  }

  /**
   * bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3) (5.10): the formatted line goes to this
   * CPU's trace ring (read by `traceLines`); returns its length, or -EINVAL for a format the
   * kernel refuses. A full ring drops the line and counts it.
   */
  h_trace_printk(
    fh: number,
    fl: number,
    size: number,
    a1h: number,
    a1l: number,
    a2h: number,
    a2l: number,
    a3h: number,
    a3l: number,
  ): number {
    const n = size >>> 0;
    if (n === 0 || n > this.keybuf.length || !this.copyIn(fh, fl, n, this.keybuf)) return this.callFault();
    const args = this.diff; // borrowed: 6 words of arguments
    args[0] = a1l;
    args[1] = a1h;
    args[2] = a2l;
    args[3] = a2h;
    args[4] = a3l;
    args[5] = a3h;
    const used = Atomics.load(this.traceView, 0);
    const r = traceFormat(this.keybuf, n, args, this, this.trace, 4 + used + 2, TRACE_BYTES - (4 + used + 2));
    if (r === -E2BIG) {
      this.ctr[CTR_TRACE_DROPPED]++;
      return this.ret(0, 0);
    }
    if (r < 0) return this.ret(r, -1);
    this.trace[4 + used] = r & 0xff;
    this.trace[4 + used + 1] = r >> 8;
    Atomics.store(this.traceView, 0, used + 2 + r);
    this.ctr[CTR_TRACE_LINES]++;
    return this.ret(r, 0);
  }

  /** A string argument of %s: copy up to `max` bytes of a NUL-terminated string at (h, l) into `out` at `at`; the length or -1. */
  readString(h: number, l: number, out: Uint8Array, at: number, max: number): number {
    for (let i = 0; i < max; i++) {
      const c = this.ld1(h, l, i);
      if (this.fault !== FAULT_NONE) {
        this.fault = FAULT_NONE; // the kernel prints "(efault)"-style garbage-free output; so do we
        return -1;
      }
      if (c === 0) return i;
      out[at + i] = c;
    }
    return max;
  }
}

/**
 * The helpers' calling convention, one table for both engines: helper id → the XdpEnv method
 * and the register halves it takes (`l2` = r2's low half, `h1` = r1's high half). Each method
 * returns r0's low half and leaves the high half in env.rh.
 */
export const HELPER_CALLS: ReadonlyMap<number, { method: string; args: readonly string[] }> = new Map([
  [BPF_FUNC_map_lookup_elem, { method: 'h_map_lookup_elem', args: ['h1', 'l1', 'h2', 'l2'] }],
  [BPF_FUNC_map_update_elem, { method: 'h_map_update_elem', args: ['h1', 'l1', 'h2', 'l2', 'h3', 'l3', 'h4', 'l4'] }],
  [BPF_FUNC_map_delete_elem, { method: 'h_map_delete_elem', args: ['h1', 'l1', 'h2', 'l2'] }],
  [BPF_FUNC_ktime_get_ns, { method: 'h_ktime_get_ns', args: [] }],
  [BPF_FUNC_trace_printk, { method: 'h_trace_printk', args: ['h1', 'l1', 'l2', 'h3', 'l3', 'h4', 'l4', 'h5', 'l5'] }],
  [BPF_FUNC_get_prandom_u32, { method: 'h_get_prandom_u32', args: [] }],
  [BPF_FUNC_get_smp_processor_id, { method: 'h_get_smp_processor_id', args: [] }],
  [BPF_FUNC_redirect, { method: 'h_redirect', args: ['l1', 'h2', 'l2'] }],
  [BPF_FUNC_csum_diff, { method: 'h_csum_diff', args: ['h1', 'l1', 'l2', 'h3', 'l3', 'l4', 'l5'] }],
  [BPF_FUNC_xdp_adjust_head, { method: 'h_xdp_adjust_head', args: ['h1', 'l2'] }],
  [BPF_FUNC_redirect_map, { method: 'h_redirect_map', args: ['h1', 'l1', 'l2', 'h3', 'l3'] }],
  [BPF_FUNC_xdp_adjust_tail, { method: 'h_xdp_adjust_tail', args: ['h1', 'l2'] }],
]);

/** Lines bpf_trace_printk wrote on `cpu` (allocates: for reports). */
export function traceLines(maps: BpfMaps, cpu: number): string[] {
  const base = maps.layout.trace + cpu * TRACE_BYTES;
  const used = Atomics.load(new Int32Array(maps.sab, base, 1), 0);
  const out: string[] = [];
  const dec = new TextDecoder();
  for (let at = base + 4; at < base + 4 + used; ) {
    const len = maps.u8[at] | (maps.u8[at + 1] << 8);
    out.push(dec.decode(maps.u8.slice(at + 2, at + 2 + len)));
    at += 2 + len;
  }
  return out;
}

// ---------------------------------------------------------------------- lib/random32.c

/** TAUSWORTHE(s, a, b, c, d) of lib/random32.c. */
const taus = (s: number, a: number, b: number, c: number, d: number) => (((s & c) << d) ^ (((s << a) ^ s) >>> b)) >>> 0;

/** prandom_u32_state: the Tausworthe LFSR113 generator's next value. */
export function prandom_u32_state(s: Uint32Array): number {
  s[0] = taus(s[0], 6, 13, 4294967294, 18);
  s[1] = taus(s[1], 2, 27, 4294967288, 2);
  s[2] = taus(s[2], 13, 21, 4294967280, 7);
  s[3] = taus(s[3], 3, 12, 4294967168, 13);
  return (s[0] ^ s[1] ^ s[2] ^ s[3]) >>> 0;
}

/** prandom_seed_state + prandom_warmup: seed the four words (each above its minimum) and run 10 rounds. */
export function prandom_seed_state(s: Uint32Array, seed: number): void {
  const lcg = (x: number) => Math.imul(x, 69069) >>> 0;
  const seedMin = (x: number, m: number) => (x < m ? x + m : x) >>> 0;
  const i = ((seed << 10) ^ seed) >>> 0; // (seed >> 32) is 0 for a 32-bit seed
  s[0] = seedMin(i, 2);
  s[1] = seedMin(lcg(s[0]), 8);
  s[2] = seedMin(lcg(s[1]), 16);
  s[3] = seedMin(lcg(s[2]), 128);
  for (let r = 0; r < 10; r++) prandom_u32_state(s);
}

// ---------------------------------------------------------------------- arch/x86/lib/csum-partial_64.c

/** add32_with_carry: a + b with the carry folded back in (32 bits). */
const add32_with_carry = (a: number, b: number) => {
  const t = (a >>> 0) + (b >>> 0);
  return (t > 0xffffffff ? t - 0xffffffff : t) >>> 0;
};

/**
 * csum_partial(words, 4 * n, sum) of x86-64 (5.10) for an 8-byte-aligned buffer of n u32
 * (bpf_csum_diff's scratchpad): do_csum adds the 64-bit words with end-around carry, folds to
 * 32 bits, adds a last odd u32 into the 64-bit result and folds again; then the seed is added
 * with add32_with_carry. Exact, in two 32-bit halves.
 */
export function csum_partial_words(w: Uint32Array, n: number, sum: number): number {
  let lo = 0;
  let hi = 0;
  const pairs = n >> 1;
  for (let i = 0; i < pairs; i++) {
    // result += word (64-bit) with the carry out of bit 63 added back in (adcq).
    const tl = lo + w[2 * i];
    const cl = tl > 0xffffffff ? 1 : 0;
    lo = tl >>> 0;
    const th = hi + w[2 * i + 1] + cl;
    hi = th >>> 0;
    if (th > 0xffffffff) {
      const t2 = lo + 1;
      lo = t2 >>> 0;
      if (t2 > 0xffffffff) hi = (hi + 1) >>> 0;
    }
  }
  let r = pairs > 0 ? add32_with_carry(hi, lo) : 0;
  // `result` is an unsigned long: the odd word adds without folding, then the final fold.
  let rhi = 0;
  if (n & 1) {
    const t = r + w[n - 1];
    rhi = t > 0xffffffff ? 1 : 0;
    r = t >>> 0;
  }
  r = add32_with_carry(rhi, r);
  return add32_with_carry(r, sum);
}
