// XDP on the receive path (issue 25): the run's program and maps, each CPU's engine, the
// drivers' hook (ixgbe_run_xdp, virtio's receive_small/receive_mergeable), generic XDP
// (do_xdp_generic), xdp_do_redirect and xdp_do_flush_map (net/core/filter.c), and the
// cpumap's kthread (kernel/bpf/cpumap.c's cpu_map_kthread_run) as a scheduler entity of its
// CPU. The data structures are src/bpf/ and src/kernel/cpumap.ts; this file wires them in.
//
// Hot path: a run without --xdp never reaches this file (the drivers and
// __netif_receive_skb_core test one KCpu boolean). With --xdp, the hook's work per frame is
// here, out of line; nothing in it allocates (the CpuMapOps objects are made once per CPU).
//
// A frame is its buffer (the skb slot the device wrote): a redirected frame keeps its slot
// until the cpumap's kthread builds the skb from it or hands it back (xdp_return_frame).
// Every buffer keeps XDP_PACKET_HEADROOM (256) bytes in front of skb_data with --xdp
// (layout.ts skbHeadroom), where bpf_xdp_adjust_head may move the frame's start. A frame the
// program moved or resized goes back to skb_data before the stack sees it (a copy, only for
// frames whose bounds changed): rxsmp's skb has its frame at the buffer's start.

import type { Config } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import type { KCpu } from './percpu.js';
import { type BpfMaps, OUR_IFINDEX } from '../bpf/maps.js';
import type { XdpProgram } from '../bpf/check.js';
import { XdpEnv, RI_NONE } from '../bpf/vm.js';
import { translate, type XdpRun } from '../bpf/jit.js';
import { BPF_MAP_TYPE_CPUMAP, BPF_MAP_TYPE_DEVMAP, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX } from '../bpf/insn.js';
import {
  CpuMap,
  CPUMAP_BATCH,
  CPUMAP_ENQ_DROPS,
  CPUMAP_ENQ_PROCESSED,
  CPUMAP_KT_PROCESSED,
  CPUMAP_KT_SCHED,
  CPUMAP_PROG_DROP,
  CPUMAP_PROG_PASS,
  CPUMAP_PROG_REDIRECT,
  type CpuMapOps,
  XdpBulkQueues,
  __cpu_map_flush,
  __ptr_ring_empty,
  cpu_map_enqueue,
  cpu_map_kthread_run,
} from './cpumap.js';
import { kfree_skb } from './skbuff.js';
import { __netif_receive_skb } from './dev.js';
import { ETH_HLEN, ETH_PROTO_OFF, get16, payload_offset } from '../uapi/inet.js';
import { SKB_FLAG_TSTAMP, XDP_PACKET_HEADROOM } from '../shm/layout.js';
import { xdpReport, type XdpReport } from '../bpf/report.js';

/** PAGE_SIZE: frame_sz is at most a page (bpf_xdp_adjust_tail's limit). */
const PAGE_SIZE = 4096;

/** The loaded program (host/xdp_object.ts's XdpLoaded, as far as the kernel needs it). */
export interface XdpAttached {
  file: string;
  section: string;
  prog: XdpProgram;
  /** The cpumap entries' second programs, by their bpf_prog fd. */
  cpumapProgs: Map<number, XdpProgram>;
}

/** The run's program and maps, shared by every CPU (one per thread, over the same memory). */
export interface XdpShared {
  x: XdpAttached;
  maps: BpfMaps;
  /** Per map of the object: its cpumap's queues, or null for other maps. */
  cpumaps: (CpuMap | null)[];
  /** The object's cpumaps, by map index, in order: cpumap j's kthreads are scheduler entity j of their CPUs. */
  cpumapIds: number[];
  /** Per cpumap j and CPU: its kthread's state, 0 asleep (TASK_INTERRUPTIBLE), 1 woken or running. */
  kt: Int32Array;
  /** Per cpumap j and key: the fd of the entry's second program (0: none). */
  progFd: number[][];
  /** The generic hook (do_xdp_generic) rather than the driver's. */
  generic: boolean;
  /** A CPU's XDP state (KCpu's constructor calls this: percpu.ts does not import this file). */
  newCpu: (c: KCpu) => XdpCpu;
}

// The Shm carries the run's XdpShared without importing this file (shm/ is below the kernel).
declare module '../shm/memory.js' {
  interface ShmXdp extends XdpShared {}
}

/** What a worker needs to attach to the coordinator's XDP memory. */
export interface XdpShare {
  maps: SharedArrayBuffer;
  cpumaps: (SharedArrayBuffer | null)[];
  kt: SharedArrayBuffer;
}

/** A cpumap's qsize per key and second program per key, from its entries (the map's contents at start). */
function cpumapEntries(maps: BpfMaps, m: number): { qsize: number[]; fd: number[] } {
  const l = maps.layout.maps[m];
  const qsize: number[] = [];
  const fd: number[] = [];
  for (let k = 0; k < l.def.max_entries; k++) {
    const has = maps.redirectTarget(m, k);
    qsize.push(has ? maps.dv.getUint32(l.vbase + k * 8, true) : 0);
    fd.push(has ? maps.dv.getInt32(l.vbase + k * 8 + 4, true) : 0);
  }
  return { qsize, fd };
}

function shared(cfg: Config, x: XdpAttached, maps: BpfMaps, cm: (m: number, qsize: number[]) => CpuMap, kt: SharedArrayBuffer): XdpShared {
  const cpumapIds: number[] = [];
  const progFd: number[][] = [];
  const cpumaps = x.prog.obj.maps.map((def, m) => {
    if (def.type !== BPF_MAP_TYPE_CPUMAP) return null;
    const e = cpumapEntries(maps, m);
    cpumapIds.push(m);
    progFd.push(e.fd);
    return cm(m, e.qsize);
  });
  const s: XdpShared = {
    x,
    maps,
    cpumaps,
    cpumapIds,
    kt: new Int32Array(kt),
    progFd,
    generic: cfg.xdp_mode === 'generic',
    newCpu: (c) => new XdpCpu(c, s),
  };
  return s;
}

/**
 * The coordinator, at boot: the program loaded (engine/boot.ts: config resolution checked it
 * already) and its maps allocated and filled (`xdpMapsFor`); the cpumaps' rings from them.
 */
export function xdp_create(cfg: Config, x: XdpAttached, maps: BpfMaps): XdpShared {
  const ncpumaps = x.prog.obj.maps.filter((d) => d.type === BPF_MAP_TYPE_CPUMAP).length;
  const kt = new SharedArrayBuffer(Math.max(4, ncpumaps * cfg.cpus * 4));
  return shared(cfg, x, maps, (_m, qsize) => CpuMap.create(qsize), kt);
}

export function xdp_share(s: XdpShared): XdpShare {
  return { maps: s.maps.sab, cpumaps: s.cpumaps.map((c) => c?.sab ?? null), kt: s.kt.buffer as SharedArrayBuffer };
}

/** A worker: the same program (read again from the file), views of the coordinator's memory (maps: BpfMaps.attach). */
export function xdp_attach(cfg: Config, x: XdpAttached, maps: BpfMaps, share: XdpShare): XdpShared {
  return shared(cfg, x, maps, (m, qsize) => CpuMap.attach(qsize, share.cpumaps[m]!), share.kt);
}

/** The run contract's `xdp` block: the maps read back, the engine's counters, the cpumaps' tracepoint sums. */
export interface XdpRunReport extends XdpReport {
  mode: 'native' | 'generic';
  program: { file: string; section: string; name: string; insns: number };
  cpumaps: Record<
    string,
    {
      cpu: number;
      qsize: number;
      enqueued: number;
      enqueue_drops: number;
      kthread_processed: number;
      kthread_sched: number;
      prog_pass: number;
      prog_drop: number;
      prog_redirect: number;
    }[]
  >;
}

export function xdp_report(s: XdpShared): XdpRunReport {
  const cpumaps: XdpRunReport['cpumaps'] = {};
  s.cpumapIds.forEach((m) => {
    const cm = s.cpumaps[m]!;
    cpumaps[s.x.prog.obj.maps[m].name] = cm.layout.qsize.flatMap((qsize, cpu) =>
      qsize === 0
        ? []
        : [
            {
              cpu,
              qsize,
              enqueued: cm.counter(cpu, CPUMAP_ENQ_PROCESSED),
              enqueue_drops: cm.counter(cpu, CPUMAP_ENQ_DROPS),
              kthread_processed: cm.counter(cpu, CPUMAP_KT_PROCESSED),
              kthread_sched: cm.counter(cpu, CPUMAP_KT_SCHED),
              prog_pass: cm.counter(cpu, CPUMAP_PROG_PASS),
              prog_drop: cm.counter(cpu, CPUMAP_PROG_DROP),
              prog_redirect: cm.counter(cpu, CPUMAP_PROG_REDIRECT),
            },
          ],
    );
  });
  const o = s.x.prog.obj;
  return {
    mode: s.generic ? 'generic' : 'native',
    program: { file: s.x.file, section: s.x.section, name: o.name, insns: s.x.prog.insns.length },
    ...xdpReport(s.maps),
    cpumaps,
  };
}

// ---------------------------------------------------------------------------------------------
// Per CPU

/** One CPU's XDP state: its engine (XdpEnv, the translated program), bulk queues, kthread scratch. */
export class XdpCpu {
  readonly env: XdpEnv;
  readonly run: XdpRun;
  /** Per map index: this CPU's bulk queues for a cpumap (null for other maps). */
  readonly bq: (XdpBulkQueues | null)[];
  /** Per map index: a cpumap's CpuMapOps as this CPU runs them (null for other maps). */
  readonly ops: (CpuMapOps | null)[];
  /** Per map index: __cpu_map_flush's wake_up_process of an entry's kthread (null for other maps). */
  readonly wake: (((key: number) => void) | null)[];
  /** Per cpumap j: the second program of this CPU's entry (this CPU runs its kthread), translated once. */
  readonly kprog: (XdpRun | null)[];
  /** Did this poll redirect (xdp_do_flush_map due at its end)? */
  redirected = false;
  /** Frames this poll sent to the XDP TX ring (its tail is bumped at the end of the clean). */
  tx = 0;
  /** The last frame's XDP_TX or XDP_REDIRECT failed (virtio counts it in xdp_drops). */
  failed = false;
  /** Running a cpumap kthread (its skbs have no napi: sk_mark_napi_id records none). */
  in_kthread = false;
  /** Per cpumap j: this CPU's kthread went to sleep last time (the tracepoint's `sched`). */
  readonly slept: Uint8Array;
  readonly frames = new Int32Array(CPUMAP_BATCH);
  /** Where the frame's buffer starts (XDP headroom) and its truesize (frame_sz). */
  readonly headroom: number;
  readonly frame_sz: number;
  /** Instructions counted (sim mode prices them): the translated functions count per basic block. */
  readonly count: boolean;

  constructor(
    readonly c: KCpu,
    readonly s: XdpShared,
  ) {
    const shm = c.shm;
    const sim = shm.cfg.mode === 'sim';
    this.count = sim;
    this.env = new XdpEnv(s.maps, c.cpu, { clock: () => c.env.now_ns(), seed: shm.cfg.seed });
    this.run = translate(s.x.prog, s.maps.layout, { count: sim });
    this.headroom = XDP_PACKET_HEADROOM;
    // ixgbe_rx_frame_truesize / virtio's buffer: the slot, headroom included, at most a page.
    this.frame_sz = Math.min(shm.skbBufSize, PAGE_SIZE);
    this.bq = s.cpumaps.map((cm) => (cm === null ? null : new XdpBulkQueues(cm.layout.qsize.length)));
    this.kprog = s.cpumapIds.map((_m, j) => {
      const fd = s.progFd[j][c.cpu] ?? 0;
      const p = fd > 0 ? s.x.cpumapProgs.get(fd) : undefined;
      return p === undefined ? null : translate(p, s.maps.layout, { count: sim });
    });
    this.ops = s.cpumaps.map((cm, m) => (cm === null ? null : this.makeOps(s.cpumapIds.indexOf(m))));
    this.wake = s.cpumaps.map((cm, m) => {
      if (cm === null) return null;
      const j = s.cpumapIds.indexOf(m);
      return (key: number) => cpumap_kthread_wake(c, s, j, key);
    });
    this.slept = new Uint8Array(s.cpumapIds.length).fill(1);
  }

  /**
   * Cpumap j's operations on this CPU, built once. Only this CPU's kthread runs programs and
   * builds skbs here, so run_prog is the second program of this CPU's entry.
   */
  private makeOps(j: number): CpuMapOps {
    const c = this.c;
    const ops: CpuMapOps = {
      xdp_return_frame: (frame) => {
        c.count(c.SD.drop_cpumap);
        kfree_skb(c, frame);
      },
      receive: (frame) => {
        cpu_map_build_skb(c, frame);
        c.count(c.SD.cpumap_kthread_packets);
        __netif_receive_skb(c, frame); // netif_receive_skb_core: no RPS, no GRO
        return false;
      },
      redirect: (frame) => xdp_do_redirect(c, this, frame),
    };
    const run = this.kprog[j];
    if (run !== null && run !== undefined) ops.run_prog = (frame) => xdp_run_frame(c, this, run, frame, c.skb_len[frame], 0);
    return ops;
  }
}

/**
 * bpf_prog_run_xdp over the frame in skb's buffer (len bytes at skb_data): set the xdp_buff up
 * (xdp_prepare_buff, with the headroom), run, count. Returns the action (aborted after a fault).
 */
function xdp_run_frame(c: KCpu, x: XdpCpu, run: XdpRun, skb: number, len: number, q: number): number {
  const env = x.env;
  const data = c.skb_data(skb);
  env.setFrame(c.u8, data - x.headroom, data, data + len, x.frame_sz, q);
  env.begin();
  const act = env.end(run(env));
  c.count(c.SD.xdp_runs);
  if (x.count) c.f64[c.sdF + c.SD.xdp_insns] = env.insns;
  return act;
}

/**
 * The frame after the program: if bpf_xdp_adjust_head/_tail moved its bounds, copy it back to
 * skb_data and set the skb's length and protocol (eth_type_trans) from it.
 */
function xdp_frame_fixup(c: KCpu, x: XdpCpu, skb: number, len: number): void {
  const env = x.env;
  const data = c.skb_data(skb);
  if (env.data === data && env.data_end === data + len) return;
  const n = env.data_end - env.data;
  if (env.data !== data) c.u8.copyWithin(data, env.data, env.data_end);
  c.skb_len[skb] = n;
  c.skb_protocol[skb] = get16(c.u8, data + ETH_PROTO_OFF);
}

/**
 * The driver's hook: ixgbe_run_xdp (ixgbe_main.c, 5.10), virtio's receive_small /
 * receive_mergeable switch, on the frame at skb_data (`len` bytes) before the skb is built.
 * Returns the action. XDP_PASS: the caller builds the skb (the frame's new bounds applied).
 * Otherwise the frame is consumed here (x.failed: a transmit or redirect that failed): XDP_DROP recycles the buffer; XDP_TX puts it on
 * the CPU's XDP TX ring (transmission is a completion and the buffer's return);
 * XDP_REDIRECT goes through xdp_do_redirect; XDP_ABORTED, a fault, an invalid action or a
 * failed redirect are trace_xdp_exception and the buffer recycled. Each is counted.
 */
export function xdp_run_native(c: KCpu, skb: number, len: number, q: number): number {
  const x = c.x!;
  const act = xdp_run_frame(c, x, x.run, skb, len, q);
  if (act === XDP_PASS) {
    xdp_frame_fixup(c, x, skb, len);
    return act;
  }
  xdp_consume(c, x, skb, len, act);
  return act;
}

/** What became of a frame the program did not pass (the hook's switch after the run). */
function xdp_consume(c: KCpu, x: XdpCpu, skb: number, len: number, act: number): void {
  const SD = c.SD;
  x.failed = false;
  switch (act) {
    case XDP_DROP:
      c.count(SD.drop_xdp_drop, c.skb_segs[skb]);
      kfree_skb(c, skb);
      return;
    case XDP_TX:
      xdp_frame_fixup(c, x, skb, len);
      xdp_xmit_frame(c, x, skb);
      return;
    case XDP_REDIRECT:
      xdp_frame_fixup(c, x, skb, len);
      if (xdp_do_redirect(c, x, skb) === 0) return;
      x.failed = true;
      c.count(SD.drop_xdp_redirect_err, c.skb_segs[skb]);
      kfree_skb(c, skb);
      return;
    default: // XDP_ABORTED, and what end() turned into it
      c.count(SD.drop_xdp_aborted, c.skb_segs[skb]);
      kfree_skb(c, skb);
  }
}

/** ixgbe_xmit_xdp_ring / virtnet_xdp_xmit: the frame leaves by our port; its completion returns the buffer. */
function xdp_xmit_frame(c: KCpu, x: XdpCpu, skb: number): void {
  c.count(c.SD.drop_xdp_tx, c.skb_segs[skb]);
  x.tx++;
  kfree_skb(c, skb);
}

/**
 * xdp_do_redirect (net/core/filter.c, 5.10): the target bpf_redirect_map or bpf_redirect chose
 * (the CPU's bpf_redirect_info). A cpumap entry: cpu_map_enqueue onto this CPU's bulk queue.
 * A devmap entry (which can only name our device) or bpf_redirect(1): a transmit on our port
 * (dev_map_enqueue → ndo_xdp_xmit). Anything else: -EINVAL, the caller counts and frees.
 */
export function xdp_do_redirect(c: KCpu, x: XdpCpu, skb: number): number {
  const env = x.env;
  const m = env.ri_map;
  const key = env.ri_tgt_index;
  if (m === RI_NONE) {
    if (key !== OUR_IFINDEX) return -22;
    xdp_xmit_frame(c, x, skb);
    return 0;
  }
  const type = x.s.x.prog.obj.maps[m].type;
  if (type === BPF_MAP_TYPE_CPUMAP) {
    const cm = x.s.cpumaps[m]!;
    if (!cm.has(key)) return -22;
    // 5.10's generic XDP redirects only to devmaps and xskmaps (xdp_do_generic_redirect_map:
    // "TODO: Handle BPF_MAP_TYPE_CPUMAP", -EBADRQC).
    if (x.s.generic) return -56;
    c.count(c.SD.xdp_redirect);
    x.redirected = true;
    return cpu_map_enqueue(cm, x.bq[m]!, key, skb, x.ops[m]!);
  }
  if (type === BPF_MAP_TYPE_DEVMAP && x.s.maps.redirectTarget(m, key)) {
    xdp_xmit_frame(c, x, skb);
    return 0;
  }
  return -22;
}

/**
 * The end of a driver's clean with a program attached: xdp_do_flush_map() if it redirected
 * (__cpu_map_flush: the bulk queues into the rings, their kthreads woken), and the XDP TX
 * ring's tail bumped if it transmitted (ixgbe's writel of the XDP ring's tail).
 */
export function xdp_poll_end(c: KCpu): void {
  const x = c.x!;
  if (x.redirected) xdp_do_flush_map(x);
  x.tx = 0;
}

/** xdp_do_flush_map → __cpu_map_flush of each cpumap this CPU queued to. */
function xdp_do_flush_map(x: XdpCpu): void {
  x.redirected = false;
  const ids = x.s.cpumapIds;
  for (let j = 0; j < ids.length; j++) {
    const m = ids[j];
    const bq = x.bq[m]!;
    if (bq.flushLen > 0) __cpu_map_flush(x.s.cpumaps[m]!, bq, x.ops[m]!, x.wake[m]!);
  }
}

/** wake_up_process(rcpu->kthread): the kthread of cpumap j's entry `key` runs on CPU `key`. */
function cpumap_kthread_wake(c: KCpu, s: XdpShared, j: number, key: number): void {
  const at = j * c.ncpus + key;
  if (Atomics.exchange(s.kt, at, 1) !== 0) return; // already awake: costs little
  if (key !== c.cpu) c.env.wake_cpu(key);
}

/** cpu_map_build_skb (5.10): an skb around the frame: eth_type_trans; no RX hash, no checksum state. */
function cpu_map_build_skb(c: KCpu, skb: number): void {
  c.skb_hash[skb] = 0;
  c.skb_flags[skb] = c.skb_flags[skb] & SKB_FLAG_TSTAMP; // the sampled DMA time: rxsmp's own latency mark
  c.skb_segs[skb] = 1;
  c.skb_next[skb] = -1;
  c.skb_frag_next[skb] = -1;
  c.skb_protocol[skb] = get16(c.u8, c.skb_data(skb) + 12);
  c.skb_nh[skb] = ETH_HLEN;
}

// ---------------------------------------------------------------------------------------------
// The cpumap kthreads as scheduler entities

/** Is a cpumap kthread of this CPU runnable (woken)? j: which cpumap. */
export function cpumap_kthread_runnable(shm: Shm, j: number, cpu: number): boolean {
  const s = shm.xdp!;
  return Atomics.load(s.kt, j * shm.cfg.cpus + cpu) !== 0;
}

/** Any cpumap kthread of `cpu` runnable? (a CPU going idle looks once more) */
export function cpu_kthread_runnable(shm: Shm, cpu: number): boolean {
  const s = shm.xdp;
  if (s === null) return false;
  for (let j = 0; j < s.cpumapIds.length; j++) if (Atomics.load(s.kt, j * shm.cfg.cpus + cpu) !== 0) return true;
  return false;
}

/**
 * One slice of cpu_map_kthread_run for cpumap j's entry on this CPU (process context, task
 * time): batches of CPUMAP_BATCH frames while the ring has them, cond_resched between
 * batches (an interrupt window, and a yield when CFS says so); when the ring is empty the
 * kthread sets itself TASK_INTERRUPTIBLE, rechecks the ring against a lost wake-up, and sleeps.
 */
export function cpu_map_kthread_slice(c: KCpu, j: number): void {
  const x = c.x!;
  const s = x.s;
  const m = s.cpumapIds[j];
  const cm = s.cpumaps[m]!;
  const key = c.cpu;
  const ops = x.ops[m]!;
  const at = j * c.ncpus + key;
  if (!cm.has(key)) {
    Atomics.store(s.kt, at, 0); // no entry for this CPU: no kthread
    return;
  }
  x.in_kthread = true;
  for (;;) {
    const n = cpu_map_kthread_run(cm, key, x.frames, ops, x.slept[j] === 1);
    x.slept[j] = 0;
    if (n === 0) {
      Atomics.store(s.kt, at, 0); // set_current_state(TASK_INTERRUPTIBLE)
      if (__ptr_ring_empty(cm, key)) {
        x.slept[j] = 1; // schedule()
        break;
      }
      Atomics.store(s.kt, at, 1); // __set_current_state(TASK_RUNNING)
      continue;
    }
    if (x.redirected) xdp_do_flush_map(x); // the second program redirected: 5.10 flushes after the batch
    c.env.do_softirq(); // local_bh_enable after the batch
    c.env.irq_window(); // cond_resched: interrupts, and the CPU if CFS wants it
    if (c.env.need_resched()) break;
  }
  x.in_kthread = false;
}

// ---------------------------------------------------------------------------------------------
// Generic XDP

/**
 * do_xdp_generic (net/core/dev.c, 5.10), from __netif_receive_skb_core on the CPU that
 * processes the skb, after RPS and the backlog, before the taps: netif_receive_generic_xdp
 * runs the program on the skb's frame (XDP_PACKET_HEADROOM is in every buffer, so no head is
 * expanded); XDP_PASS goes on (the frame's new bounds applied); XDP_TX is generic_xdp_tx,
 * XDP_REDIRECT xdp_do_generic_redirect (a devmap or our ifindex: a transmit; a cpumap:
 * -EBADRQC in 5.10, dropped); anything else kfree_skb. A GRO train (several segments) is
 * linearised by the kernel; rxsmp runs the program on its first segment's frame and the
 * action takes the whole train. True: the skb goes on up.
 */
export function do_xdp_generic(c: KCpu, skb: number): boolean {
  const x = c.x!;
  const len = c.skb_segs[skb] === 1 ? c.skb_len[skb] : xdp_first_segment_len(c, skb, c.skb_len[skb]);
  const act = xdp_run_frame(c, x, x.run, skb, len, c.skb_queue[skb]);
  if (act === XDP_PASS) {
    if (c.skb_segs[skb] === 1) xdp_frame_fixup(c, x, skb, len);
    return true;
  }
  xdp_consume(c, x, skb, len, act);
  return false;
}

/** The head segment's own frame of a GRO train (its skb_len grew by the chained segments' payloads). */
function xdp_first_segment_len(c: KCpu, skb: number, len: number): number {
  let own = len;
  for (let seg = c.skb_frag_next[skb]; seg !== -1; seg = c.skb_frag_next[seg]) {
    const d = c.skb_data(seg);
    own -= c.skb_len[seg] - (payload_offset(c.u8, d) - d);
  }
  return own;
}
