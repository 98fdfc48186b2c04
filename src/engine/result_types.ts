// The run contract (SPEC.md, schema rxsmp.run/1): the types of the one JSON document
// `rxsmp run --json` prints and `run()` resolves to, read top to bottom: the document, then its
// parts in the order they appear in it. engine/result.ts collects it from shared memory.
//
// Parts declared elsewhere, each with its own documentation: the per-CPU softnet counters
// (PERCPU_COUNTERS, src/shm/softnet_counters.ts: one table drives their slots, these keys and
// the reports), the drop reasons counted on a CPU (SD_DROPS, src/shm/layout.ts), the CPU times
// and the timeline (engine/timeline.ts), the host's threads and the hot-path window
// (cpu/messages.ts), the XDP report (kernel/xdp.ts).

import type { KnobChange } from '../config/schema.js';
import type { HostThreadReport, HotPathReport } from '../cpu/messages.js';
import type { XdpRunReport } from '../kernel/xdp.js';
import type { SD_DROPS } from '../shm/layout.js';
import type { PerCpuCounters } from '../shm/softnet_counters.js';
import type { CpuTimes, Timeline } from './timeline.js';

export const RUN_SCHEMA = 'rxsmp.run/1';

/** The document. */
export interface RunResult {
  schema: typeof RUN_SCHEMA;
  /** The command line that made the run (the CLI sets it; a library caller may). */
  command?: string;
  /** The effective configuration, every option under its config-file key (config/resolve.ts configForReport). */
  config: Record<string, unknown>;
  /** Present (true) only when SIGINT/SIGTERM (an aborted signal) cut the run short. */
  interrupted?: true;
  /** From the first frame on the wire to the last packet accounted for (virtual time in sim mode). */
  elapsed_s: number;
  /** packets.delivered / elapsed_s, rounded. */
  pps: number;
  /** The account: generated == delivered + every drop (conserves()). */
  packets: {
    generated: number;
    /** Of those, generated with a corrupted IPv4 header checksum (--bad-csum-rate). */
    generated_bad_ip_csum: number;
    /**
     * Times a generated TCP flow found the window its socket advertised closed and waited, as
     * its sender would (not drops: those packets were not generated yet).
     */
    tcp_window_stalls: number;
    /** Queued to a socket (a GRO train counts its segments). */
    delivered: number;
    /**
     * Each packet once. Virtio runs only: `tun`, arrived with the host's tun queue at
     * --tap-txqueuelen (the tap's tx_dropped); `virtio_oversize`, a frame QEMU could not fit in
     * the guest's buffers; `virtio_length`, receive_buf's rx_length_errors. `interrupted`
     * (interrupted runs only): still in flight when the drain's bound was hit.
     */
    dropped: Record<Exclude<DropName, VirtioDrop>, number> & { [K in VirtioDrop]?: number } & { snaplen?: number; interrupted?: number };
  };
  /** Per emulated CPU. */
  percpu: PerCpuStats[];
  /** Per RX queue. */
  queues: PerQueueStats[];
  /** eth0's receive counters as dev_get_stats returns them (/proc/net/dev; engine/counters.ts). */
  netdev: NetdevStats;
  /** ethtool -S: the driver's counters rxsmp counts, by the names the driver prints (the rest are 0). */
  nic_stats: Record<string, number>;
  /** /proc/net/snmp's Ip, Tcp and Udp lines and /proc/net/netstat's TcpExt counters rxsmp counts. */
  snmp: SnmpCounters;
  /** Per protocol, the sockets and what they queued and dropped; the UDP sockets that dropped (/proc/net/udp). */
  sockets: { udp: SocketCountsDoc; tcp: SocketCountsDoc; udp_drops: { flow: number; drops: number }[] };
  /** Per-flow order at the sockets: deliveries out of order, flows with any, flows that changed CPU, the first offender. */
  ordering: { flows: number; out_of_order: number; flows_out_of_order: number; flows_moved_cpu: number; first: OrderingFirst | null };
  /** The flows flow limit dropped most (flow index = the generator's, 0 most popular under zipf). */
  flow_limit_top: { flow: number; drops: number }[];
  /** --tap: what the packet socket copied (only with --tap). */
  tap?: TapStats;
  /**
   * The IPv6 MIB counters the receive path keeps (/proc/net/snmp6, snmp6_ipstats_list): header
   * errors (dropped as ip_hdr), address errors (ip_addr), unknown next headers
   * (ip_unknown_proto), payload_len past the frame (ip_hdr). In snmp6_ipstats_list's order:
   * --proc writes net/snmp6 from this block as it is.
   */
  snmp6: { Ip6InHdrErrors: number; Ip6InAddrErrors: number; Ip6InUnknownProtos: number; Ip6InTruncatedPkts: number };
  /** Per application task: the CPU it ended on, packets read, recvmsg calls, migrations. */
  tasks: { task: number; cpu: number; packets: number; recvmsg_calls: number; migrations: number }[];
  /** DMA to socket, of the sampled packets (--latency-sample), from an HDR histogram (engine/latency.ts). */
  latency_ns: { samples: number; p50: number; p99: number; p999: number; max: number };
  /** Per thread: GC events and heap growth in the steady-state window (zero: no per-packet allocation). */
  hot_path: HotPathReport[];
  /** The --knob-at changes, each with when it was applied (ms after traffic started), or applied: false. */
  knobs_applied: AppliedKnob[];
  /** Where every skb of the pool is once the CPUs have stopped; `unaccounted` must be 0. */
  skb_pool: SkbPoolAudit;
  /** What the host gave the emulator: its cores, and each worker thread's CPU time. */
  host: HostReport;
  /** Threads mode: the per-CPU counters over time, sampled by the coordinator (engine/timeline.ts). */
  timeline?: Timeline;
  /**
   * --xdp: the program, its maps read back (as bpftool map dump -j), per CPU its runs, actions
   * and faults, the bpf_trace_printk lines, the cpumaps' tracepoint sums (kernel/xdp.ts), and
   * per CPU what the hook did with the frames (the drop reasons' split, redirects to cpumaps,
   * skbs the cpumap kthreads built).
   */
  xdp?: XdpRunReport & { percpu_path: { cpu: number; redirected: number; cpumap_kthread_packets: number; insns: number }[] };
  /** --busy-read / --so-busy-poll: napi_busy_loop's work per CPU (packets its polls took, passes). */
  busy_poll?: { cpu: number; packets: number; passes: number }[];
}

/** Drops only virtio runs have: the host's tun queue, frames QEMU could not fit, receive_buf's length errors. */
export type VirtioDrop = 'tun' | 'virtio_oversize' | 'virtio_length';
/** Every drop reason a run can count: the device's rx_missed, virtio's, and those counted on a CPU (SD_DROPS). */
export type DropName = 'rx_missed' | VirtioDrop | (typeof SD_DROPS)[number][0];

/**
 * One CPU: `cpu`, then every counter of PERCPU_COUNTERS in that table's order
 * (src/shm/softnet_counters.ts says what each counts: processed, dropped, time_squeeze, ...),
 * then the CPU's time.
 */
export interface PerCpuStats extends PerCpuCounters {
  cpu: number;
  /** hardirq + softirq + ksoftirqd + task: the emulated CPU's busy time, host steal taken off. */
  busy_ns: number;
  /**
   * The CPU's time by context since it came online (threads mode: up to the drain), as
   * /proc/stat counts it: `steal_ns` is the host's (its thread waited for a host core; 0 in sim
   * mode), taken off the contexts it was charged to (engine/timeline.ts).
   */
  busy: CpuTimes;
  /** mpstat's split of the run's traffic window (first packet to drain), in %: sums to 100. */
  util_pct: UtilPct;
}

/**
 * A CPU's time as mpstat -P shows it, in % of the window: `usr` the application tasks, `irq`
 * hardirqs, `soft` softirqs run from irq_exit, `ksoftirqd` softirqs run in ksoftirqd (mpstat
 * counts those in %sys: irqtime_account_irq leaves ksoftirqd's softirq time to the thread),
 * `steal` the host's, `idle`.
 */
export interface UtilPct {
  usr: number;
  irq: number;
  soft: number;
  ksoftirqd: number;
  steal: number;
  idle: number;
}

/** One RX queue: the device's counts, its vector's, the driver's, the closed-loop wire's. */
export interface PerQueueStats {
  queue: number;
  cpu: number; // the CPU its vector is affine to at the end of the run
  rx_packets: number;
  rx_bytes: number;
  rx_missed: number;
  interrupts: number;
  alloc_failed: number;
  /** Closed loop (threads mode): the wire's naps waiting for descriptors, its sleeps that needed
   * a futex wake, the driver's wake-up calls (each costs the emulated CPU 10-60 µs here), and
   * the naps a driver that emptied the ring cut short (one futex call each). */
  wire_naps: number;
  wire_sleeps: number;
  wire_wakes: number;
  wire_kicks: number;
  /** --nic ixgbe only: the vector's EITR interval at the end of the run, µs (ixgbe_write_eitr; adaptive ITR moves it). */
  eitr_usecs?: number;
  /** --nic virtio only: the virtqueue's notifications both ways, refills, QEMU's held packet and tun queue. */
  virtio?: VirtioQueueStats;
}

/** Per virtio RX queue (docs/virtio.md). */
export interface VirtioQueueStats {
  irq_raised: number; // virtio_notify raised the vector
  irq_suppressed: number; // ... and did not (NO_INTERRUPT, or used_event not crossed)
  kicks: number; // the guest notified the device (virtqueue_kick_prepare said yes)
  kicks_suppressed: number; // ... and did not need to (NO_NOTIFY, or avail_event not crossed)
  refills: number; // try_fill_recv calls
  refills_delayed: number; // refill work scheduled after an allocation failure
  held: number; // virtio_net_receive found no buffer: QEMU held the packet and stopped reading the tap
  tun_queued: number; // packets that waited in the host's tun queue meanwhile
  tun_dropped: number; // packets that found the tun queue at txqueuelen: the tap's tx_dropped (packets.dropped.tun)
  oversize: number; // frames that did not fit the guest's buffers, dropped by QEMU (packets.dropped.virtio_oversize)
  rx_length_errors: number; // receive_buf's length errors, dropped by the guest (packets.dropped.virtio_length)
  buffers_per_packet_max: number; // most buffers one frame took (num_buffers, or big pages)
  /** --xdp: receive_mergeable's XDP counters (ethtool -S rx_queue_N_xdp_*); xdp_drops are also the queue's drops. */
  xdp?: { packets: number; tx: number; redirects: number; drops: number };
}

/**
 * The receive half of struct rtnl_link_stats64 as dev_get_stats returns it for eth0: the
 * driver's ndo_get_stats64 plus the core's dev->rx_dropped.
 */
export interface NetdevStats {
  rx_packets: number;
  rx_bytes: number;
  rx_errors: number;
  rx_dropped: number;
  rx_fifo_errors: number;
  rx_missed_errors: number;
  rx_length_errors: number;
  rx_over_errors: number;
  rx_crc_errors: number;
  rx_frame_errors: number;
  rx_compressed: number;
  multicast: number;
}

/** /proc/net/snmp's Ip, Tcp and Udp counters (every name, in snmp_seq_show's order) and TcpExt's that rxsmp counts. */
export interface SnmpCounters {
  Ip: Record<string, number>;
  Tcp: Record<string, number>;
  Udp: Record<string, number>;
  /** /proc/net/netstat's TcpExt counters rxsmp counts; every other TcpExt name is 0. */
  TcpExt: Record<string, number>;
}

/** A protocol's sockets: how many, the segments queued to them and those they refused (sk_drops). */
export interface SocketCountsDoc {
  sockets: number;
  delivered: number;
  drops: number;
}

/** The first out-of-order delivery: the flow, the least index it expected, the one it got, the CPU. */
export interface OrderingFirst {
  flow: number;
  expected_index: number;
  got_index: number;
  cpu: number;
}

/**
 * --tap: the packet socket's counts. packets + drops is every skb that reached
 * __netif_receive_skb_core (the CPUs' `processed`); the file holds `packets` of them.
 */
export interface TapStats {
  file: string;
  packets: number;
  /** Found the CPU's ring full (tp_drops). */
  drops: number;
  bytes: number;
  percpu: { cpu: number; packets: number; drops: number; bytes: number }[];
}

/**
 * A --knob-at change and when it was applied (ms after traffic started), or `applied: false`
 * (applied_at_ms null) when the run ended before its time came.
 */
export type AppliedKnob = KnobChange & ({ applied: true; applied_at_ms: number } | { applied: false; applied_at_ms: null });

/** Where every skb of the pool is after the run (engine/skb_audit.ts). */
export interface SkbPoolAudit {
  size: number;
  free: number;
  in_rings: number; // posted in RX descriptors
  in_backlogs: number;
  in_sockets: number; // queued on sockets, GRO segments included
  unaccounted: number; // leaked (> 0) or freed twice (< 0)
}

/** What the host gave the emulator. */
export interface HostReport {
  cores: number;
  /**
   * Where the device ran: 'thread' (a worker of its own), 'inline' (on the thread of the CPU
   * of queue 0's interrupt, --device inline or auto on a small host), 'sim' (virtual time).
   */
  device: 'thread' | 'inline' | 'sim';
  /** Threads that may all want a core at once: each emulated CPU, and the device unless inline (1 in sim mode). */
  busy_threads: number;
  oversubscribed: boolean;
  /** Per thread over the run: each worker's loop, and the coordinator's (empty in sim mode and off Linux). */
  threads: HostThreadReport[];
  /**
   * Threads mode: the host took an emulated CPU's (or the device's) thread off its core long
   * enough to explain drops or a rate: some worker thread waited on a host run queue for at
   * least DISTURBED_WAIT_SHARE of its loop. Always false in sim mode (virtual time).
   */
  disturbed: boolean;
  /** The measure behind `disturbed`: each worker thread's run-queue wait share, the worst, the threshold. */
  disturbance: Disturbance;
}

/**
 * How much the host kept the worker threads off their cores. A thread's share is the time it
 * was runnable but waiting on a host run queue (/proc/thread-self/schedstat) over its loop's
 * wall time: while it waits, its emulated CPU (or the wire) stands still.
 */
export interface Disturbance {
  measure: 'runqueue_wait_share';
  threshold: number;
  /** The worker thread that waited most, and its share; null when no thread was measured. */
  worst: { thread: string; share: number } | null;
}
