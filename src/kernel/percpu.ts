// KCpu: one emulated CPU's kernel-private state, and its views of shared memory.
//
// Everything a CPU touches per packet hangs off this one object (a monomorphic shape, so the
// JIT keeps field loads cheap): the shared typed arrays, this CPU's softnet_data bases, its
// skb cache, its local napi lists, its GRO tables. All of it is allocated here, at start-up.

import type { Config } from '../config/schema.js';
import { maskToCpus } from '../config/schema.js';
import { nicModel } from '../config/nics.js';
import type { Shm } from '../shm/memory.js';
import { SkbCache } from '../shm/skb_pool.js';
import { rxSkbTruesize } from './skbuff.js';
import type { SdIndex, NapiIndex, SkIndex, RxqIndex, TaskIndex, Layout } from '../shm/layout.js';
import { JUMBO_FRAME_LEN } from '../uapi/inet.js';
import type { CpuEnv } from './env.js';
import type { XdpCpu } from './xdp.js';

export const NET_RX_SOFTIRQ = 1 << 3;
export const GRO_HASH_BUCKETS = 8;

/** Receives sampled DMA→socket latencies (ns). */
export interface LatencySink {
  /** Record values[0..n): called with a batch, so no double crosses a call per sample. */
  recordMany(values: Float64Array, n: number): void;
}

/** Latency samples buffered per CPU before they go to the histogram. */
export const LATENCY_BATCH = 1024;

/** skb->truesize by frame length for a run (rxSkbTruesize's table), built once per Shm and shared by its CPUs. */
const truesizeTables = new WeakMap<Shm, Int32Array>();
function truesizeTable(shm: Shm): Int32Array {
  let t = truesizeTables.get(shm);
  if (t === undefined) {
    t = new Int32Array(JUMBO_FRAME_LEN + 1);
    for (let len = 0; len <= JUMBO_FRAME_LEN; len++) t[len] = rxSkbTruesize(shm.cfg, len);
    truesizeTables.set(shm, t);
  }
  return t;
}

export class KCpu {
  readonly cfg: Config;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly SD: SdIndex;
  readonly sd: number; // this CPU's softnet_data, i32 base
  readonly sdF: number; // and f64 base
  readonly NAPI: NapiIndex;
  readonly SOCK: SkIndex;
  readonly RXQ: RxqIndex;
  readonly TASK: TaskIndex;
  readonly layout: Layout;
  readonly ctlI: number;
  readonly skI: number; // i32 base of socket 0, and the socket stride in i32s
  readonly skStrideI: number;
  readonly skF: number;
  readonly skStrideF: number;
  readonly cache: SkbCache;

  // skb pool arrays (see shm/memory.ts)
  readonly skb_len: Int32Array;
  readonly skb_hash: Int32Array;
  readonly skb_flags: Int32Array;
  readonly skb_protocol: Int32Array;
  readonly skb_nh: Int32Array;
  readonly skb_queue: Int32Array;
  readonly skb_next: Int32Array;
  readonly skb_frag_next: Int32Array;
  readonly skb_segs: Int32Array;
  readonly skb_tstamp: Float64Array;
  readonly skb_replay_pos: Int32Array;
  readonly skb_frags: Int32Array;
  /** --pcap: the order check reads skb_replay_pos, not the payload. */
  readonly replay: boolean;
  /** --tap: a packet socket on ptype_all (af_packet.ts). */
  readonly tap: boolean;

  /** The run's clock, advanced by the timer tick: clock[0] is ns since the run's origin. */
  readonly clock: Float64Array;
  private readonly jiffies_at: number;

  /** Pending softirq bits (local_softirq_pending()); only this CPU touches them. */
  softirq_pending = 0;
  /** Is this CPU inside net_rx_action (a softirq handler)? */
  in_softirq = false;

  // napi lists, private to this CPU: sd->poll_list, net_rx_action's local list and repoll.
  // A napi is on at most one list; napi_next[n] is -2 when it is on none (list_del_init).
  readonly napi_next: Int32Array;
  readonly lists = new Int32Array(6).fill(-1);

  // GRO: per napi, GRO_HASH_BUCKETS lists of held skbs (oldest first), and napi->rx_list.
  readonly gro_head: Int32Array;
  readonly gro_tail: Int32Array;
  readonly gro_count: Int32Array;
  readonly gro_age: Int32Array; // per skb: jiffies when GRO first held it (skb pool, shared)
  readonly gro_last: Int32Array; // per held skb: the last segment of its chain
  readonly gro_next_seq: Int32Array; // per held skb: the TCP sequence number that may follow
  readonly gro_gso_size: Int32Array; // per held skb: its first segment's payload (gso_size)
  readonly gro_flags: Int32Array; // per held skb: GRO_IS_ATOMIC
  readonly rx_head: Int32Array;
  readonly rx_tail: Int32Array;
  readonly rx_count: Int32Array;

  /** Sampled DMA→socket latencies (ns) not yet handed to the histogram. */
  readonly lat_buf = new Float64Array(LATENCY_BATCH);
  lat_n = 0;
  /** The clean loops' touch-ahead loads, XORed (rx_ring_touch_ahead): kept so the JIT keeps them. */
  touched = 0;

  // get_rps_cpu's out parameter (rflowp): the i32 index of the entry's last_qtail
  // (&rflow->last_qtail, which enqueue_to_backlog sets), -1 for none.
  rflow = -1;

  /** This CPU's flow-limit table (i32 base), or -1 when it is not in flow_limit_cpu_bitmap. */
  readonly flow_limit: number;
  readonly flow_limit_mask: number;
  readonly rps_cpu_mask: number;
  readonly stack_cost_ns: number;

  // The Config's per-packet values, copied once: a field of this object is one load where
  // c.cfg.x is two (docs/design.md, "Objects the hot path holds").
  readonly gro: boolean;
  readonly gro_normal_batch: number;
  readonly l4_csum_verify: boolean;
  /** sock_rps_save_rxhash runs for UDP sockets too (--udp-sockets connected). */
  readonly udp_connected: boolean;
  readonly app_cost_ns: number;
  readonly ring_size: number;
  readonly ncpus: number;
  readonly unsafe_rfs_no_qtail_check: boolean;
  /** --debug-asserts: the per-packet protocol checks (docs/design.md, "Assertions"). */
  readonly debug_asserts: boolean;
  /**
   * skb->truesize by frame length (rxSkbTruesize: what the driver allocated), a table built
   * once, so charging a socket is a load, not the rule's branches.
   */
  readonly truesize_by_len: Int32Array;

  /** --xdp in native mode: the driver's hook runs the program (kernel/xdp.ts). */
  readonly xdp: boolean;
  /** --xdp in generic mode (and the legacy driver): __netif_receive_skb_core runs it (do_xdp_generic). */
  readonly xdp_generic: boolean;
  /** This CPU's XDP engine, bulk queues and kthread state (null without --xdp). */
  readonly x: XdpCpu | null;
  /** sk_ll_usec of the sockets (--so-busy-poll, else net.core.busy_read), µs; 0: no busy polling. */
  readonly busy_read_us: number;
  /** Busy polling configured: sockets record their napi (sk_mark_napi_id), completions check IN_BUSY_POLL. */
  readonly busy_poll: boolean;
  /** Inside napi_busy_loop (sim mode prices the descriptors it cleans in task context). */
  in_busy_poll = false;

  constructor(
    readonly cpu: number,
    readonly shm: Shm,
    readonly env: CpuEnv,
    readonly latency: LatencySink,
  ) {
    const cfg = (this.cfg = shm.cfg);
    const layout = shm.layout;
    this.i32 = shm.i32;
    this.f64 = shm.f64;
    this.u8 = shm.u8;
    this.SD = layout.SD;
    this.sd = shm.sd[cpu];
    this.sdF = shm.sdF[cpu];
    this.NAPI = layout.NAPI;
    this.SOCK = layout.SOCK;
    this.RXQ = layout.RXQ;
    this.TASK = layout.TASK;
    this.layout = layout;
    this.ctlI = shm.ctlI;
    this.skI = shm.skI;
    this.skStrideI = shm.skStrideI;
    this.skF = shm.skF;
    this.skStrideF = shm.skStrideF;
    this.cache = new SkbCache(shm, cpu);
    this.clock = new Float64Array(shm.sab, layout.CTL.base + layout.CTL.clock_ns * 8, 1);
    this.jiffies_at = shm.ctlI + layout.CTL.jiffies;
    this.skb_len = shm.skb_len;
    this.skb_hash = shm.skb_hash;
    this.skb_flags = shm.skb_flags;
    this.skb_protocol = shm.skb_protocol;
    this.skb_nh = shm.skb_nh;
    this.skb_queue = shm.skb_queue;
    this.skb_next = shm.skb_next;
    this.skb_frag_next = shm.skb_frag_next;
    this.skb_segs = shm.skb_segs;
    this.skb_tstamp = shm.skb_tstamp;
    this.skb_replay_pos = shm.skb_replay_pos;
    this.skb_frags = shm.skb_frags;
    this.replay = shm.cfg.pcap !== '';
    this.tap = shm.cfg.tap !== '';
    this.napi_next = new Int32Array(layout.napiCount).fill(-2);
    const buckets = layout.napiCount * GRO_HASH_BUCKETS;
    this.gro_head = new Int32Array(buckets).fill(-1);
    this.gro_tail = new Int32Array(buckets).fill(-1);
    this.gro_count = new Int32Array(buckets);
    this.gro_age = shm.skb_gro_age;
    this.gro_last = shm.skb_gro_last;
    this.gro_next_seq = shm.skb_gro_next_seq;
    this.gro_gso_size = shm.skb_gro_gso_size;
    this.gro_flags = shm.skb_gro_flags;
    this.rx_head = new Int32Array(layout.napiCount).fill(-1);
    this.rx_tail = new Int32Array(layout.napiCount).fill(-1);
    this.rx_count = new Int32Array(layout.napiCount);
    const inBitmap = maskToCpus(cfg.flow_limit_cpu_bitmap).includes(cpu);
    this.flow_limit = inBitmap ? layout.flowLimitBase / 4 + cpu * layout.flowLimitStride : -1;
    this.flow_limit_mask = cfg.flow_limit_table_len - 1;
    let p = 1;
    while (p < cfg.cpus) p *= 2;
    this.rps_cpu_mask = p - 1;
    this.stack_cost_ns = cfg.stack_cost_ns;
    this.gro = cfg.gro;
    this.gro_normal_batch = cfg.gro_normal_batch;
    this.l4_csum_verify = cfg.l4_csum_verify;
    this.udp_connected = cfg.udp_sockets === 'connected';
    this.app_cost_ns = cfg.app_cost_ns;
    this.ring_size = cfg.ring_size;
    this.ncpus = cfg.cpus;
    this.unsafe_rfs_no_qtail_check = cfg.unsafe_rfs_no_qtail_check;
    this.debug_asserts = cfg.debug_asserts;
    this.truesize_by_len = truesizeTable(shm);
    this.busy_read_us = cfg.so_busy_poll > 0 ? cfg.so_busy_poll : cfg.busy_read;
    // netif_rx's skbs (the legacy driver) carry no napi id: nothing to busy-poll there.
    this.busy_poll = this.busy_read_us > 0 && nicModel(cfg.nic).napi;
    this.x = shm.xdp === null ? null : shm.xdp.newCpu(this); // kernel/xdp.ts, reached through the Shm (no import cycle)
    this.xdp = this.x !== null && !this.x.s.generic;
    this.xdp_generic = this.x !== null && this.x.s.generic;
  }

  /** Hand buffered latency samples to the histogram (when the buffer fills, and at the end). */
  flush_latency(): void {
    if (this.lat_n === 0) return;
    this.latency.recordMany(this.lat_buf, this.lat_n);
    this.lat_n = 0;
  }

  /** jiffies, as the timer tick last set it. */
  jiffies(): number {
    return this.i32[this.jiffies_at];
  }

  /** Byte offset in u8 of skb's buffer. */
  skb_data(skb: number): number {
    return this.shm.skbDataBase + skb * this.shm.skbBufSize;
  }

  /** i32 index of napi n's field f. */
  napiI(n: number): number {
    return this.shm.napiI[n];
  }

  /** Count into this CPU's softnet_data f64 counter at field index `f`. */
  count(f: number, by = 1): void {
    this.f64[this.sdF + f] += by;
  }
}
