// The run contract (SPEC.md): the counters of a finished run, read from shared memory.

import { CPU_TIMES, type CpuTimes, type Timeline } from './timeline.js';
import * as hdr from 'hdr-histogram-js';
import { configForReport } from '../config/resolve.js';
import type { Config, KnobChange } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import { SD_DROPS } from '../shm/layout.js';
import { nicDriver } from '../drivers/table.js';
import { xdp_report, type XdpRunReport } from '../kernel/xdp.js';
import type { HostThreadReport, HotPathReport, LatencyHistogram } from '../cpu/messages.js';
import { busyThreads, deviceInline, HOST_CORES, oversubscribed } from '../host/host.js';
import { netdevStats, nicStats, snmpCounters, socketTotals, type NetdevStats, type SnmpCounters } from './counters.js';

export const RUN_SCHEMA = 'rxsmp.run/1';

export interface PerCpuStats {
  cpu: number;
  processed: number;
  dropped: number;
  time_squeeze: number;
  received_rps: number;
  flow_limit_count: number;
  softnet_backlog_len: number;
  hardirqs: number;
  net_rx_softirqs: number;
  ipis_sent: number;
  ipis_received: number;
  rps_lock_acquisitions: number;
  rps_lock_spins: number;
  rps_lock_sleeps: number;
  enqueue_local: number;
  enqueue_remote: number;
  ksoftirqd_wakeups: number;
  delivered: number;
  recvmsg_packets: number;
  rfs_flow_moves: number;
  gro_merged: number;
  /** Beyond Linux: skbs whose hash came from the flow dissector (no L4 hash from the device). */
  flow_dissected: number;
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

/** UtilPct of a CPU's times over a window (each rounded to 0.1; all 0 for an empty window). */
export function utilPct(t: CpuTimes): UtilPct {
  const total = CPU_TIMES.reduce((a, k) => a + t[k], 0);
  const pct = (ns: number) => (total > 0 ? Math.round((ns / total) * 1000) / 10 : 0);
  return {
    usr: pct(t.task_ns),
    irq: pct(t.hardirq_ns),
    soft: pct(t.softirq_ns),
    ksoftirqd: pct(t.ksoftirqd_ns),
    steal: pct(t.steal_ns),
    idle: pct(t.idle_ns),
  };
}

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

export interface OrderingFirst {
  flow: number;
  expected_index: number;
  got_index: number;
  cpu: number;
}

export interface RunResult {
  schema: typeof RUN_SCHEMA;
  /** The command line that made the run (the CLI sets it; a library caller may). */
  command?: string;
  config: Record<string, unknown>;
  /** Present (true) only when SIGINT/SIGTERM (an aborted signal) cut the run short. */
  interrupted?: true;
  elapsed_s: number;
  pps: number;
  packets: {
    generated: number;
    /** Of those, generated with a corrupted IPv4 header checksum (--bad-csum-rate). */
    generated_bad_ip_csum: number;
    /**
     * Times a generated TCP flow found the window its socket advertised closed and waited, as
     * its sender would (not drops: those packets were not generated yet).
     */
    tcp_window_stalls: number;
    delivered: number;
    /**
     * Each packet once. Virtio runs only: `tun`, arrived with the host's tun queue at
     * --tap-txqueuelen (the tap's tx_dropped); `virtio_oversize`, a frame QEMU could not fit in
     * the guest's buffers; `virtio_length`, receive_buf's rx_length_errors. `interrupted`
     * (interrupted runs only): still in flight when the drain's bound was hit.
     */
    dropped: Record<Exclude<DropName, VirtioDrop>, number> & { [K in VirtioDrop]?: number } & { snaplen?: number; interrupted?: number };
  };
  percpu: PerCpuStats[];
  queues: PerQueueStats[];
  /** eth0's receive counters as dev_get_stats returns them (/proc/net/dev; engine/counters.ts). */
  netdev: NetdevStats;
  /** ethtool -S: the driver's counters rxsmp counts, by the names the driver prints (the rest are 0). */
  nic_stats: Record<string, number>;
  /** /proc/net/snmp's Ip, Tcp and Udp lines and /proc/net/netstat's TcpExt counters rxsmp counts. */
  snmp: SnmpCounters;
  /** Per protocol, the sockets and what they queued and dropped; the UDP sockets that dropped (/proc/net/udp). */
  sockets: { udp: SocketCountsDoc; tcp: SocketCountsDoc; udp_drops: { flow: number; drops: number }[] };
  ordering: { flows: number; out_of_order: number; flows_out_of_order: number; flows_moved_cpu: number; first: OrderingFirst | null };
  /** The flows flow limit dropped most (flow index = the generator's, 0 most popular under zipf). */
  flow_limit_top: { flow: number; drops: number }[];
  /** --tap: what the packet socket copied (only with --tap). */
  tap?: TapStats;
  /**
   * The IPv6 MIB counters the receive path keeps (/proc/net/snmp6, snmp6_ipstats_list): header
   * errors (dropped as ip_hdr), address errors (ip_addr), unknown next headers
   * (ip_unknown_proto), payload_len past the frame (ip_hdr).
   */
  snmp6: { Ip6InHdrErrors: number; Ip6InAddrErrors: number; Ip6InUnknownProtos: number; Ip6InTruncatedPkts: number };
  tasks: { task: number; cpu: number; packets: number; recvmsg_calls: number; migrations: number }[];
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

/** A protocol's sockets: how many, the segments queued to them and those they refused (sk_drops). */
export interface SocketCountsDoc {
  sockets: number;
  delivered: number;
  drops: number;
}

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

/**
 * A worker thread that waited for a core for a tenth of the run: its CPU stood still that
 * long, time in which its rings and backlogs fill and drop. Host scheduling noise on a quiet
 * machine stays well under 1%.
 */
export const DISTURBED_WAIT_SHARE = 0.1;

/** The worst run-queue wait share among the worker threads (not the coordinator). */
export function disturbance(threads: HostThreadReport[]): Disturbance {
  let worst: Disturbance['worst'] = null;
  for (const t of threads) {
    if (t.thread === 'coordinator' || t.runqueue_wait_s === null || !(t.wall_s > 0)) continue;
    const share = Math.round((t.runqueue_wait_s / t.wall_s) * 1000) / 1000;
    if (worst === null || share > worst.share) worst = { thread: t.thread, share };
  }
  return { measure: 'runqueue_wait_share', threshold: DISTURBED_WAIT_SHARE, worst };
}

/** The host section of a run: cores, and what each worker thread got (null entries dropped). */
function hostReport(cfg: Config, threads: (HostThreadReport | null)[]): HostReport {
  const sim = cfg.mode === 'sim';
  const measured = threads.filter((t): t is HostThreadReport => t !== null);
  const d = disturbance(measured);
  return {
    cores: HOST_CORES,
    device: sim ? 'sim' : deviceInline(cfg) ? 'inline' : 'thread',
    busy_threads: sim ? 1 : busyThreads(cfg.cpus, deviceInline(cfg)),
    oversubscribed: !sim && oversubscribed(cfg.cpus, deviceInline(cfg)),
    threads: measured,
    disturbed: !sim && d.worst !== null && d.worst.share >= d.threshold,
    disturbance: d,
  };
}

export interface SkbPoolAudit {
  size: number;
  free: number;
  in_rings: number; // posted in RX descriptors
  in_backlogs: number;
  in_sockets: number; // queued on sockets, GRO segments included
  unaccounted: number; // leaked (> 0) or freed twice (< 0)
}

/**
 * Count every skb after the CPUs stopped (their caches are back in the pool): a leak or a
 * double free shows as a nonzero `unaccounted`, which packet conservation alone cannot see.
 */
export function skbPoolAudit(shm: Shm): SkbPoolAudit {
  const L = shm.layout;
  const i32 = shm.i32;
  const chain = (skb: number): number => {
    let n = 0;
    for (let s = skb; s !== -1; s = shm.skb_frag_next[s]!) for (let p = s; p !== -1; p = shm.skb_frags[p]!) n++;
    return n;
  };
  const list = (head: number): number => {
    let n = 0;
    for (let s = head; s !== -1; s = shm.skb_next[s]!) n += chain(s);
    return n;
  };
  let in_rings = 0;
  const driver = nicDriver(shm.cfg.nic);
  for (let q = 0; q < shm.cfg.queues; q++) in_rings += driver.in_ring(shm, q);
  let in_backlogs = 0;
  for (let c = 0; c < shm.cfg.cpus; c++) {
    in_backlogs += list(i32[shm.sdI[c]! + L.sd.input_pkt_head]!) + list(i32[shm.sdI[c]! + L.sd.process_head]!);
  }
  let in_sockets = 0;
  for (let s = 0; s < L.skCount; s++) in_sockets += list(i32[shm.skIdx(s, L.sk.rx_head)]!) + list(i32[shm.skIdx(s, L.sk.reader_head)]!);
  const free = i32[shm.ctlI + L.ctl.skb_free_top]!;
  const size = L.skbCount;
  return { size, free, in_rings, in_backlogs, in_sockets, unaccounted: size - free - in_rings - in_backlogs - in_sockets };
}

/**
 * A --knob-at change and when it was applied (ms after traffic started), or `applied: false`
 * (applied_at_ms null) when the run ended before its time came.
 */
export type AppliedKnob = KnobChange & ({ applied: true; applied_at_ms: number } | { applied: false; applied_at_ms: null });

/** The schedule as a run saw it: the changes it applied (in order), then those it never reached. */
function knobsApplied(cfg: Config, applied: AppliedKnob[]): AppliedKnob[] {
  const missed = cfg.knob_at.slice(applied.length).map((k): AppliedKnob => ({ ...k, applied: false, applied_at_ms: null }));
  return [...applied, ...missed];
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

/** What accounted() counts: the drain condition and the watchdog's progress. */
export interface Accounted {
  generated: number;
  /** Delivered to a socket or counted in a drop (rx_missed included). */
  done: number;
  /** Taken by the applications' recvmsg. */
  read: number;
  /** Delivered and not yet read (delivered - read; briefly negative while a CPU counts). */
  unread: number;
}

/**
 * Drops, deliveries and reads counted so far (the drain test and the watchdog read this
 * live). `done` is read before `generated`: the device counts a packet before publishing it.
 * A run has drained when the device is done (read before this), done == generated and
 * unread == 0: every application has read its sockets.
 */
export function accounted(shm: Shm): Accounted {
  const delivered = shm.sdSum(shm.layout.sd.delivered);
  const done = shm.packetsDone();
  const read = shm.sdSum(shm.layout.sd.recvmsg_packets);
  return { generated: shm.f64[shm.ctlF + shm.layout.ctl.generated]!, done, read, unread: delivered - read };
}

type VirtioDrop = 'tun' | 'virtio_oversize' | 'virtio_length';
type DropName = 'rx_missed' | VirtioDrop | (typeof SD_DROPS)[number][0];

/** What the engine brings to a result besides shared memory: from the threads, or from sim mode. */
export interface RunOutcome {
  elapsed_s: number;
  /** Per CPU (or one for all in sim mode). */
  latencies: LatencyHistogram[];
  hot_path: HotPathReport[];
  knobs_applied: AppliedKnob[];
  /** Per worker thread and the coordinator (none in sim mode); null where the host said nothing. */
  host_threads: (HostThreadReport | null)[];
  /** Cut short by SIGINT/SIGTERM: what was still in flight counts as dropped.interrupted. */
  interrupted?: boolean;
  timeline?: Timeline;
  /** Threads mode: each CPU's time by context with steal apart, from the timeline (run total and traffic window). */
  cpu_times?: { total: CpuTimes[]; window: CpuTimes[] } | null;
}

export function collectResult(shm: Shm, cfg: Config, o: RunOutcome): RunResult {
  const { elapsed_s, latencies, hot_path } = o;
  const L = shm.layout;
  const sd = L.sd;
  const f = shm.f64;
  const i32 = shm.i32;
  const percpu: PerCpuStats[] = [];
  for (let c = 0; c < cfg.cpus; c++) {
    const b = shm.sdF[c]!;
    const bi = shm.sdI[c]!;
    const g = (field: number) => f[b + field]!;
    // Sim mode charges virtual time, which no host steals: its counters are the split.
    const busy: CpuTimes = o.cpu_times?.total[c] ?? {
      hardirq_ns: Math.round(g(sd.busy_hardirq_ns)),
      softirq_ns: Math.round(g(sd.busy_softirq_ns)),
      ksoftirqd_ns: Math.round(g(sd.busy_ksoftirqd_ns)),
      task_ns: Math.round(g(sd.busy_task_ns)),
      idle_ns: Math.round(g(sd.idle_ns)),
      steal_ns: 0,
    };
    percpu.push({
      cpu: c,
      processed: g(sd.processed),
      dropped: g(sd.dropped),
      time_squeeze: g(sd.time_squeeze),
      received_rps: g(sd.received_rps),
      flow_limit_count: g(sd.flow_limit_count),
      softnet_backlog_len: i32[bi + sd.input_pkt_qlen]! + i32[bi + sd.process_qlen]!,
      hardirqs: g(sd.hardirqs),
      net_rx_softirqs: g(sd.net_rx_softirqs),
      ipis_sent: g(sd.ipis_sent),
      ipis_received: f[b + sd.ipis_received]!,
      rps_lock_acquisitions: g(sd.rps_lock_acquisitions),
      rps_lock_spins: g(sd.rps_lock_spins),
      rps_lock_sleeps: g(sd.rps_lock_sleeps),
      enqueue_local: g(sd.enqueue_local),
      enqueue_remote: g(sd.enqueue_remote),
      ksoftirqd_wakeups: g(sd.ksoftirqd_wakeups),
      delivered: g(sd.delivered),
      recvmsg_packets: g(sd.recvmsg_packets),
      rfs_flow_moves: g(sd.rfs_flow_moves),
      gro_merged: g(sd.gro_merged),
      flow_dissected: g(sd.flow_dissected),
      busy_ns: busy.hardirq_ns + busy.softirq_ns + busy.ksoftirqd_ns + busy.task_ns,
      busy,
      util_pct: utilPct(o.cpu_times?.window[c] ?? busy),
    });
  }
  const R = L.rxq;
  const driver = nicDriver(cfg.nic);
  const queues: PerQueueStats[] = [];
  for (let q = 0; q < cfg.queues; q++) {
    const b = shm.rxqF[q]!;
    const stats: PerQueueStats = {
      queue: q,
      cpu: i32[shm.rxqI[q]! + R.affinity]!,
      rx_packets: f[b + R.rx_packets]!,
      rx_bytes: f[b + R.rx_bytes]!,
      rx_missed: f[b + R.rx_missed]!,
      interrupts: f[b + R.irqs]!,
      alloc_failed: f[b + R.alloc_failed]!,
      wire_naps: f[b + R.wire_naps]!,
      wire_sleeps: f[b + R.wire_sleeps]!,
      wire_wakes: f[b + R.wire_wakes]!,
      wire_kicks: f[b + R.wire_kicks]!,
    };
    Object.assign(stats, driver.queue_stats(shm, q)); // what the NIC's driver adds (drivers/table.ts)
    queues.push(stats);
  }
  const S = L.sk;
  let ooo = 0;
  let flows_ooo = 0;
  let moved = 0;
  const flDrops: { flow: number; drops: number }[] = [];
  for (let s = 0; s < L.skCount; s++) {
    const fl = f[shm.skIdxF(s, S.flow_limit_drops)]!;
    if (fl > 0) flDrops.push({ flow: i32[shm.skIdx(s, S.flow)]!, drops: fl });
    const n = f[shm.skIdxF(s, S.out_of_order)]!;
    ooo += n;
    if (n > 0) flows_ooo++;
    if (i32[shm.skIdx(s, S.cpu_moves)]! > 0) moved++;
  }
  const C = L.ctl;
  const first =
    i32[shm.ctlI + C.ooo_set] !== 0
      ? {
          flow: i32[shm.ctlI + C.ooo_flow]!,
          expected_index: i32[shm.ctlI + C.ooo_expected]! >>> 0,
          got_index: i32[shm.ctlI + C.ooo_got]! >>> 0,
          cpu: i32[shm.ctlI + C.ooo_cpu]!,
        }
      : null;
  const delivered = shm.sdSum(sd.delivered);
  const generated = f[shm.ctlF + C.generated]!;
  const T = L.task;
  const tasks = cfg.app_cpus.map((_, t) => ({
    task: t,
    cpu: i32[shm.taskI[t]! + T.cpu]!,
    packets: f[shm.taskF[t]! + T.packets]!,
    recvmsg_calls: f[shm.taskF[t]! + T.recvmsg_calls]!,
    migrations: f[shm.taskF[t]! + T.migrations]!,
  }));
  const dropped: RunResult['packets']['dropped'] = {
    rx_missed: queues.reduce((a, q) => a + q.rx_missed, 0),
    ...(Object.fromEntries(SD_DROPS.map(([name, field]) => [name, shm.sdSum(sd[field])])) as Record<(typeof SD_DROPS)[number][0], number>),
    // the NIC's own (virtio: the tun queue at its bound, frames QEMU could not fit, the guest's length errors)
    ...(driver.drops(queues) as Partial<Record<VirtioDrop, number>>),
    // --pcap: snaplen-truncated frames, which the NIC would not see whole
    ...(cfg.pcap !== '' ? { snaplen: f[shm.ctlF + C.replay_snaplen]! } : {}),
  };
  const sockets = socketTotals(shm);
  const busy_poll_packets = shm.sdSum(sd.busy_poll_packets);
  const inputs = { cfg, percpu, queues, dropped, sockets, busy_poll_packets };
  const netdev = netdevStats(inputs);
  if (o.interrupted) {
    // Still in rings, backlogs, GRO or a CPU's hands when the drain's bound was hit.
    dropped.interrupted = generated - delivered - Object.values(dropped).reduce((a, b) => a + b, 0);
  }
  return {
    schema: RUN_SCHEMA,
    ...(o.interrupted ? { interrupted: true as const } : {}),
    config: configForReport(cfg),
    elapsed_s,
    pps: elapsed_s > 0 ? Math.round(delivered / elapsed_s) : 0,
    packets: {
      generated,
      generated_bad_ip_csum: f[shm.ctlF + C.generated_bad_ip_csum]!,
      tcp_window_stalls: f[shm.ctlF + C.tcp_window_stalls]!,
      delivered,
      dropped,
    },
    percpu,
    queues,
    netdev,
    nic_stats: nicStats(inputs, netdev),
    snmp: snmpCounters(inputs),
    sockets,
    ordering: { flows: cfg.flows, out_of_order: ooo, flows_out_of_order: flows_ooo, flows_moved_cpu: moved, first },
    flow_limit_top: flDrops.sort((a, b) => b.drops - a.drops).slice(0, 5),
    snmp6: {
      Ip6InHdrErrors: shm.sdSum(sd.ip6_in_hdr_errors),
      Ip6InAddrErrors: dropped.ip_addr,
      Ip6InUnknownProtos: dropped.ip_unknown_proto,
      Ip6InTruncatedPkts: shm.sdSum(sd.ip6_in_truncated_pkts),
    },
    ...(cfg.tap !== '' ? { tap: tapResult(shm, cfg) } : {}),
    tasks,
    latency_ns: mergeLatency(latencies),
    hot_path,
    knobs_applied: knobsApplied(cfg, o.knobs_applied),
    skb_pool: skbPoolAudit(shm),
    host: hostReport(cfg, o.host_threads),
    ...(o.timeline !== undefined ? { timeline: o.timeline } : {}),
    ...(shm.xdp !== null ? { xdp: xdpResult(shm) } : {}),
    ...(cfg.busy_read > 0 || cfg.so_busy_poll > 0
      ? {
          busy_poll: percpu.map((p) => ({
            cpu: p.cpu,
            packets: f[shm.sdF[p.cpu]! + sd.busy_poll_packets]!,
            passes: f[shm.sdF[p.cpu]! + sd.busy_poll_passes]!,
          })),
        }
      : {}),
  };
}

/** The run contract's `xdp` block. */
function xdpResult(shm: Shm): NonNullable<RunResult['xdp']> {
  const sd = shm.layout.sd;
  const f = shm.f64;
  return {
    ...xdp_report(shm.xdp!),
    percpu_path: Array.from({ length: shm.cfg.cpus }, (_, cpu) => ({
      cpu,
      redirected: f[shm.sdF[cpu]! + sd.xdp_redirect]!,
      cpumap_kthread_packets: f[shm.sdF[cpu]! + sd.cpumap_kthread_packets]!,
      insns: f[shm.sdF[cpu]! + sd.xdp_insns]!,
    })),
  };
}

/**
 * The CPUs' latency histograms merged. A histogram keeps each value only to its bucket (3
 * significant digits): getValueAtPercentile answers with the top of the percentile's bucket,
 * and a decoded histogram's maxValue is its top bucket's lower end, so read as they come
 * p99.9 could exceed max. max is the exact largest value recorded (each CPU sends its own),
 * and no percentile is reported above it: every sample is at most max.
 */
export function mergeLatency(sources: LatencyHistogram[]): RunResult['latency_ns'] {
  const all = hdr.build({ bitBucketSize: 64, autoResize: true });
  let max = 0;
  for (const s of sources) {
    all.add(hdr.decodeFromCompressedBase64(s.encoded));
    if (s.max_ns > max) max = s.max_ns;
  }
  if (all.totalCount === 0) return { samples: 0, p50: 0, p99: 0, p999: 0, max: 0 };
  const at = (percentile: number) => Math.min(all.getValueAtPercentile(percentile), max);
  return { samples: all.totalCount, p50: at(50), p99: at(99), p999: at(99.9), max };
}

/** generated == delivered + every drop counter. */

/** --tap: what the packet socket copied out, per CPU (its interface in the file) and in all. */
function tapResult(shm: Shm, cfg: Config): TapStats {
  const sd = shm.layout.sd;
  const percpu = Array.from({ length: cfg.cpus }, (_, cpu) => {
    const g = (field: number) => shm.f64[shm.sdF[cpu]! + field]!;
    return { cpu, packets: g(sd.tap_packets), drops: g(sd.tap_drops), bytes: g(sd.tap_bytes) };
  });
  const total = (k: 'packets' | 'drops' | 'bytes') => percpu.reduce((a, p) => a + p[k], 0);
  return { file: cfg.tap, packets: total('packets'), drops: total('drops'), bytes: total('bytes'), percpu };
}

export function conserves(r: RunResult): boolean {
  const drops = Object.values(r.packets.dropped).reduce((a, b) => a + b, 0);
  return r.packets.generated === r.packets.delivered + drops;
}

/** Packets delivered to sockets that no application read by the run's end: 0 after a drain. */
export function unread(r: RunResult): number {
  return r.percpu.reduce((n, p) => n + p.delivered - p.recvmsg_packets, 0);
}
