// Collecting the run contract (engine/result_types.ts) from shared memory once a run has
// ended, and the checks on it (conserves, unread). The skb audit is engine/skb_audit.ts, the
// latency merge engine/latency.ts.

import { CPU_TIMES, type CpuTimes, type Timeline } from './timeline.js';
import { configForReport } from '../config/resolve.js';
import type { Config } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import { SD_DROPS } from '../shm/layout.js';
import { nicDriver } from '../drivers/table.js';
import { PERCPU_COUNTERS, type SdCounterName } from '../shm/softnet_counters.js';
import { xdp_report } from '../kernel/xdp.js';
import type { HostThreadReport, HotPathReport, LatencyHistogram } from '../cpu/messages.js';
import { busyThreads, deviceInline, HOST_CORES, oversubscribed } from '../host/host.js';
import { netdevStats, nicStats, snmpCounters, socketTotals } from './counters.js';
import { mergeLatency } from './latency.js';
import { skbPoolAudit } from './skb_audit.js';
import {
  RUN_SCHEMA,
  type AppliedKnob,
  type Disturbance,
  type HostReport,
  type PerCpuStats,
  type PerQueueStats,
  type RunResult,
  type TapStats,
  type UtilPct,
  type VirtioDrop,
} from './result_types.js';

// The contract, for the modules that import it from here.
export type * from './result_types.js';
export { RUN_SCHEMA };

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

/** The schedule as a run saw it: the changes it applied (in order), then those it never reached. */
function knobsApplied(cfg: Config, applied: AppliedKnob[]): AppliedKnob[] {
  const missed = cfg.knob_at.slice(applied.length).map((k): AppliedKnob => ({ ...k, applied: false, applied_at_ms: null }));
  return [...applied, ...missed];
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
  const delivered = shm.sdSum(shm.layout.SD.delivered);
  const done = shm.packetsDone();
  const read = shm.sdSum(shm.layout.SD.recvmsg_packets);
  return { generated: shm.f64[shm.ctlF + shm.layout.CTL.generated], done, read, unread: delivered - read };
}

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
  const layout = shm.layout;
  const SD = layout.SD;
  const f = shm.f64;
  const i32 = shm.i32;
  const percpu: PerCpuStats[] = [];
  for (let c = 0; c < cfg.cpus; c++) {
    const b = shm.sdF[c];
    const sd = shm.sd[c];
    const g = (field: number) => f[b + field];
    // Sim mode charges virtual time, which no host steals: its counters are the split.
    const busy: CpuTimes = o.cpu_times?.total[c] ?? {
      hardirq_ns: Math.round(g(SD.busy_hardirq_ns)),
      softirq_ns: Math.round(g(SD.busy_softirq_ns)),
      ksoftirqd_ns: Math.round(g(SD.busy_ksoftirqd_ns)),
      task_ns: Math.round(g(SD.busy_task_ns)),
      idle_ns: Math.round(g(SD.idle_ns)),
      steal_ns: 0,
    };
    // The counters in PERCPU_COUNTERS's order (the JSON's; softnet_backlog_len, the one without a slot, from
    // the two queues' lengths), then the CPU's time.
    const counters = { cpu: c } as PerCpuStats;
    for (const k of PERCPU_COUNTERS) {
      counters[k.name] = k.group === null ? i32[sd + SD.input_pkt_qlen] + i32[sd + SD.process_qlen] : g(SD[k.name satisfies SdCounterName]);
    }
    percpu.push({
      ...counters,
      busy_ns: busy.hardirq_ns + busy.softirq_ns + busy.ksoftirqd_ns + busy.task_ns,
      busy,
      util_pct: utilPct(o.cpu_times?.window[c] ?? busy),
    });
  }
  const RXQ = layout.RXQ;
  const driver = nicDriver(cfg.nic);
  const queues: PerQueueStats[] = [];
  for (let q = 0; q < cfg.queues; q++) {
    const b = shm.rxqF[q];
    const stats: PerQueueStats = {
      queue: q,
      cpu: i32[shm.rxqI[q] + RXQ.affinity],
      rx_packets: f[b + RXQ.rx_packets],
      rx_bytes: f[b + RXQ.rx_bytes],
      rx_missed: f[b + RXQ.rx_missed],
      interrupts: f[b + RXQ.irqs],
      alloc_failed: f[b + RXQ.alloc_failed],
      wire_naps: f[b + RXQ.wire_naps],
      wire_sleeps: f[b + RXQ.wire_sleeps],
      wire_wakes: f[b + RXQ.wire_wakes],
      wire_kicks: f[b + RXQ.wire_kicks],
    };
    Object.assign(stats, driver.queue_stats(shm, q)); // what the NIC's driver adds (drivers/table.ts)
    queues.push(stats);
  }
  const SOCK = layout.SOCK;
  let ooo = 0;
  let flows_ooo = 0;
  let moved = 0;
  const flDrops: { flow: number; drops: number }[] = [];
  for (let s = 0; s < layout.skCount; s++) {
    const fl = f[shm.skIdxF(s, SOCK.flow_limit_drops)];
    if (fl > 0) flDrops.push({ flow: i32[shm.skIdx(s, SOCK.flow)], drops: fl });
    const n = f[shm.skIdxF(s, SOCK.out_of_order)];
    ooo += n;
    if (n > 0) flows_ooo++;
    if (i32[shm.skIdx(s, SOCK.cpu_moves)] > 0) moved++;
  }
  const CTL = layout.CTL;
  const first =
    i32[shm.ctlI + CTL.ooo_set] !== 0
      ? {
          flow: i32[shm.ctlI + CTL.ooo_flow],
          expected_index: i32[shm.ctlI + CTL.ooo_expected] >>> 0,
          got_index: i32[shm.ctlI + CTL.ooo_got] >>> 0,
          cpu: i32[shm.ctlI + CTL.ooo_cpu],
        }
      : null;
  const delivered = shm.sdSum(SD.delivered);
  const generated = f[shm.ctlF + CTL.generated];
  const TASK = layout.TASK;
  const tasks = cfg.app_cpus.map((_, t) => ({
    task: t,
    cpu: i32[shm.taskI[t] + TASK.cpu],
    packets: f[shm.taskF[t] + TASK.packets],
    recvmsg_calls: f[shm.taskF[t] + TASK.recvmsg_calls],
    migrations: f[shm.taskF[t] + TASK.migrations],
  }));
  const dropped: RunResult['packets']['dropped'] = {
    rx_missed: queues.reduce((a, q) => a + q.rx_missed, 0),
    ...(Object.fromEntries(SD_DROPS.map(([name, field]) => [name, shm.sdSum(SD[field])])) as Record<(typeof SD_DROPS)[number][0], number>),
    // the NIC's own (virtio: the tun queue at its bound, frames QEMU could not fit, the guest's length errors)
    ...(driver.drops(queues) as Partial<Record<VirtioDrop, number>>),
    // --pcap: snaplen-truncated frames, which the NIC would not see whole
    ...(cfg.pcap !== '' ? { snaplen: f[shm.ctlF + CTL.replay_snaplen] } : {}),
  };
  const sockets = socketTotals(shm);
  const busy_poll_packets = shm.sdSum(SD.busy_poll_packets);
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
      generated_bad_ip_csum: f[shm.ctlF + CTL.generated_bad_ip_csum],
      tcp_window_stalls: f[shm.ctlF + CTL.tcp_window_stalls],
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
      Ip6InHdrErrors: shm.sdSum(SD.ip6_in_hdr_errors),
      Ip6InAddrErrors: dropped.ip_addr,
      Ip6InUnknownProtos: dropped.ip_unknown_proto,
      Ip6InTruncatedPkts: shm.sdSum(SD.ip6_in_truncated_pkts),
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
            packets: f[shm.sdF[p.cpu] + SD.busy_poll_packets],
            passes: f[shm.sdF[p.cpu] + SD.busy_poll_passes],
          })),
        }
      : {}),
  };
}

/** The run contract's `xdp` block. */
function xdpResult(shm: Shm): NonNullable<RunResult['xdp']> {
  const SD = shm.layout.SD;
  const f = shm.f64;
  return {
    ...xdp_report(shm.xdp!),
    percpu_path: Array.from({ length: shm.cfg.cpus }, (_, cpu) => ({
      cpu,
      redirected: f[shm.sdF[cpu] + SD.xdp_redirect],
      cpumap_kthread_packets: f[shm.sdF[cpu] + SD.cpumap_kthread_packets],
      insns: f[shm.sdF[cpu] + SD.xdp_insns],
    })),
  };
}

/** generated == delivered + every drop counter. */

/** --tap: what the packet socket copied out, per CPU (its interface in the file) and in all. */
function tapResult(shm: Shm, cfg: Config): TapStats {
  const SD = shm.layout.SD;
  const percpu = Array.from({ length: cfg.cpus }, (_, cpu) => {
    const g = (field: number) => shm.f64[shm.sdF[cpu] + field];
    return { cpu, packets: g(SD.tap_packets), drops: g(SD.tap_drops), bytes: g(SD.tap_bytes) };
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
