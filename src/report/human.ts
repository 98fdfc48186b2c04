// The human summary of a run, with /proc/net/softnet_stat as Linux 5.10 prints it.

import { clipPath, type Config } from '../config/schema.js';
import type { RunResult } from '../engine/result.js';
import { count, duration } from '../lib/units.js';
import { loadReplay } from '../engine/capture.js';

/** A command line as a shell would take it back: arguments with spaces or specials single-quoted. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/**
 * /proc/net/softnet_stat, 5.10: processed, dropped, time_squeeze, five zeros, cpu_collision,
 * received_rps, flow_limit_count, softnet_backlog_len, cpu index. (The counters are u32 in
 * the kernel and wrap the same way here.)
 */
export function softnetStat(r: RunResult): string {
  return r.percpu
    .map((c) =>
      [c.processed, c.dropped, c.time_squeeze, 0, 0, 0, 0, 0, 0, c.received_rps, c.flow_limit_count, c.softnet_backlog_len, c.cpu]
        .map(hex)
        .join(' '),
    )
    .join('\n');
}

const fmt = count;
const pct = (share: number) => `${Math.round(share * 100)}%`;

/** One line for stderr when --knob-at changes never applied (the run ended first); null if none. */
export function knobsNotApplied(r: RunResult): string | null {
  const missed = r.knobs_applied.filter((k) => !k.applied);
  if (missed.length === 0) return null;
  const list = missed.map((k) => `${k.at_ms}:${k.key.replace(/_/g, '-')}`).join(', ');
  return `--knob-at: ${missed.length === 1 ? 'a change' : `${missed.length} changes`} never applied (${list}): the run ended after ${Math.round(r.elapsed_s * 1000)} ms of traffic`;
}

const plural = (n: number, one: string, many = one + 's') => `${fmt(n)} ${n === 1 ? one : many}`;

/** A replay's flows in words: its UDP/TCP tuples (the run has one socket no frame finds when there are none). */
function replayFlows(c: Config): string {
  let tuples = c.flows;
  try {
    tuples = loadReplay(c.pcap).summary.tuples; // read and kept by resolveConfig: no second read
  } catch {
    // the capture changed since: its flows as configured
  }
  return tuples === 0 ? 'no UDP/TCP flow: every frame takes a non-flow path' : plural(tuples, 'one-way 5-tuple flow');
}

/**
 * The first line of a run's human output, printed before any worker starts: the mode, the
 * machine, the NIC and its wire, RPS, the traffic and how long it lasts.
 */
export function runHeader(c: Config): string {
  const masks = [...new Set(c.rps_cpus)];
  const rps = masks.every((m) => /^0*$/.test(m)) ? 'RPS off' : `RPS ${masks.join(',')}${masks.length > 1 ? ' (per queue)' : ''}`;
  const rfs = c.rps_sock_flow_entries > 0 && c.rps_flow_cnt.some((n) => n > 0) ? `, RFS ${fmt(c.rps_sock_flow_entries)} entries` : '';
  const wire =
    c.link_speed === 0
      ? 'unlimited wire'
      : c.link_speed % 1000 === 0
        ? `${c.link_speed / 1000} Gbit/s wire`
        : `${fmt(c.link_speed)} Mbit/s wire`;
  const rate = c.pcap_timing ? "at the capture's timing" : c.rate === 0 ? 'at max rate (closed loop)' : `at ${fmt(c.rate)} pps`;
  const length = c.duration_s > 0 ? `for ${c.duration_s} s (at most ${plural(c.packets, 'packet')})` : plural(c.packets, 'packet');
  const mode = c.mode === 'sim' ? `sim mode (virtual time, seed ${c.seed})` : `threads mode (wall time, seed ${c.seed})`;
  return (
    `rxsmp: ${mode}, ${plural(c.cpus, 'CPU')}, ${plural(c.queues, 'queue')}, nic ${c.nic}, ${wire}, ${rps}${rfs}, GRO ${c.gro ? 'on' : 'off'}; ` +
    (c.pcap !== ''
      ? `${length} ${rate}, replayed from ${clipPath(c.pcap, 80)} (${replayFlows(c)}, frames up to ${c.pkt_size} B)`
      : `${length} ${rate}, ${plural(c.flows, `${c.ip === '4' ? '' : c.ip === '6' ? 'IPv6 ' : 'IPv4/IPv6 '}${c.proto} flow`)} of ${c.pkt_size} B`)
  );
}

/** The packets' account: generated, delivered, dropped by reason, and whether it conserves. */
export function conservationLine(r: Pick<RunResult, 'packets'>): string {
  const drops = Object.entries(r.packets.dropped).filter(([, n]) => n > 0);
  const dropTotal = Object.values(r.packets.dropped).reduce((a, b) => a + b, 0);
  const ok = r.packets.generated === r.packets.delivered + dropTotal;
  return (
    `packets: generated ${fmt(r.packets.generated)}, delivered ${fmt(r.packets.delivered)}, dropped ${fmt(dropTotal)}` +
    (drops.length ? ` (${drops.map(([k, n]) => `${k} ${fmt(n)}`).join(', ')})` : '') +
    (ok ? ' — conserved' : ' — DOES NOT CONSERVE')
  );
}

/** Per-flow ordering: deliveries out of order and the first offender. */
export function orderingLine(r: RunResult): string {
  const o = r.ordering;
  return (
    `ordering: ${fmt(o.flows)} flows, ${fmt(o.out_of_order)} out of order` +
    (o.first
      ? ` (first: flow ${o.first.flow} expected index ≥ ${o.first.expected_index}, got ${o.first.got_index}, on cpu ${o.first.cpu})`
      : '')
  );
}

/** The mpstat columns of percpu[].util_pct, in mpstat's order. */
export const UTIL_COLUMNS = [
  ['usr', '%usr'],
  ['irq', '%irq'],
  ['soft', '%soft'],
  ['ksoftirqd', '%ksoftirqd'],
  ['steal', '%steal'],
  ['idle', '%idle'],
] as const;

/**
 * Each CPU's time over the run as `mpstat -P ALL` prints its Average lines, and its busy time
 * (the emulated CPU's: steal is the host's).
 */
export function utilTable(r: RunResult): string {
  const width = (h: string) => Math.max(8, h.length + 2);
  const head = `cpu${UTIL_COLUMNS.map(([, h]) => h.padStart(width(h))).join('')}    busy`;
  const rows = r.percpu.map(
    (p) =>
      `${String(p.cpu).padEnd(3)}${UTIL_COLUMNS.map(([k, h]) => p.util_pct[k].toFixed(1).padStart(width(h))).join('')}    ${duration(p.busy_ns)}`,
  );
  return [head, ...rows].join('\n');
}

/** The summary of a finished run (the header line, runHeader, comes before it). */
export function humanSummary(r: RunResult): string {
  const out: string[] = [];
  if (r.interrupted) {
    out.push(
      `interrupted: generation stopped after ${fmt(r.packets.generated)} packets; ` +
        `${fmt(r.packets.dropped.interrupted ?? 0)} still in flight when the drain's bound was hit (counted as dropped: interrupted)`,
    );
  }
  out.push(`${fmt(r.pps)} pps delivered over ${duration(r.elapsed_s * 1e9)}`);
  out.push(conservationLine(r));
  out.push(orderingLine(r));
  if (r.tap) {
    const t = r.tap;
    out.push(
      `tap: ${fmt(t.packets)} skbs (${fmt(t.bytes)} bytes) written to ${t.file}, one interface per CPU` +
        (t.drops > 0 ? `; ${fmt(t.drops)} dropped, the ring full (raise --tap-buffer)` : '; none dropped'),
    );
  }
  if (r.latency_ns.samples > 0) {
    const l = r.latency_ns;
    out.push(
      `latency DMA→socket (${fmt(l.samples)} samples): p50 ${duration(l.p50)}, p99 ${duration(l.p99)}, p99.9 ${duration(l.p999)}, max ${duration(l.max)}`,
    );
  }
  for (const k of r.knobs_applied) {
    const change = `${k.key.replace(/_/g, '-')} = ${Array.isArray(k.value) ? k.value.join(',') : String(k.value)}`;
    out.push(
      k.applied
        ? `knob: ${change} at ${k.applied_at_ms.toFixed(1)} ms (asked for ${k.at_ms} ms)`
        : `knob: ${change} not applied (asked for ${k.at_ms} ms, after the run ended)`,
    );
  }
  if (r.skb_pool.unaccounted !== 0) {
    // An interrupted drain leaves skbs in GRO lists and CPUs' hands, which the audit does not walk.
    const why = r.interrupted ? 'held in GRO or by a CPU when the drain was cut short' : 'a leak or a double free';
    out.push(`skb pool: ${r.skb_pool.unaccounted} skbs unaccounted for after the run (${why})`);
  }
  const h = r.host;
  const pinned = Array.isArray(r.config.host_cpus) && r.config.host_cpus.length > 0;
  if (h.threads.length) {
    out.push(
      `host: ${h.cores} cores, ${h.busy_threads} busy threads${h.oversubscribed ? ' (oversubscribed)' : ''}; thread CPU over ${duration(r.elapsed_s * 1e9)}: ` +
        h.threads
          .map((t) => {
            const waited = t.runqueue_wait_s !== null && t.wall_s > 0 ? `, waited for a core ${pct(t.runqueue_wait_s / t.wall_s)}` : '';
            return `${t.thread} ${t.cpu_s.toFixed(2)} s (${fmt(t.involuntary_switches)} preempted${waited}${pinned ? `, host cores ${t.cpus_allowed}` : ''})`;
          })
          .join(', '),
    );
  }
  const worst = h.disturbance.worst;
  if (h.disturbed && worst) {
    out.push(
      `host: DISTURBED: ${worst.thread}'s thread waited for a host core ${pct(worst.share)} of the run (threshold ${pct(h.disturbance.threshold)}); ` +
        'drops and rates above are partly the host scheduler, not the emulated kernel',
    );
  }
  const hot = r.hot_path.filter((t) => t.gc_events > 0);
  if (hot.length) out.push(`hot path: GC during the steady-state window in ${hot.map((t) => `${t.thread} (${t.gc_events})`).join(', ')}`);
  out.push('');
  out.push('/proc/net/softnet_stat');
  out.push(softnetStat(r));
  out.push('');
  out.push('cpu   processed  hardirqs  net_rx   squeeze  rps_rx   ipi_tx   ipi_rx   lock_acq   spins  ksoftirqd');
  for (const p of r.percpu) {
    out.push(
      [
        String(p.cpu).padEnd(4),
        fmt(p.processed).padStart(10),
        fmt(p.hardirqs).padStart(9),
        fmt(p.net_rx_softirqs).padStart(8),
        fmt(p.time_squeeze).padStart(8),
        fmt(p.received_rps).padStart(8),
        fmt(p.ipis_sent).padStart(8),
        fmt(p.ipis_received).padStart(8),
        fmt(p.rps_lock_acquisitions).padStart(10),
        fmt(p.rps_lock_spins).padStart(7),
        fmt(p.ksoftirqd_wakeups).padStart(10),
      ].join(' '),
    );
  }
  out.push('');
  out.push(`CPU time over the run's ${duration(r.elapsed_s * 1e9)}, as mpstat -P ALL (steal: the host kept the CPU's thread off its core)`);
  out.push(utilTable(r));
  out.push('');
  out.push('queue  cpu  rx_packets  rx_missed  interrupts');
  for (const q of r.queues) {
    out.push(
      `${String(q.queue).padEnd(6)} ${String(q.cpu).padEnd(4)} ${fmt(q.rx_packets).padStart(10)} ${fmt(q.rx_missed).padStart(10)} ${fmt(q.interrupts).padStart(11)}`,
    );
  }
  out.push('');
  out.push(linuxCounters(r));
  if (r.queues.some((q) => q.virtio)) {
    out.push('');
    out.push('virtio  irq_raised  irq_suppr     kicks  kicks_suppr  refills  delayed       held  tun_queued   tun_drop  bufs/pkt');
    for (const q of r.queues) {
      const v = q.virtio!;
      out.push(
        [
          String(q.queue).padEnd(6),
          fmt(v.irq_raised).padStart(11),
          fmt(v.irq_suppressed).padStart(10),
          fmt(v.kicks).padStart(9),
          fmt(v.kicks_suppressed).padStart(12),
          fmt(v.refills).padStart(8),
          fmt(v.refills_delayed).padStart(8),
          fmt(v.held).padStart(10),
          fmt(v.tun_queued).padStart(11),
          fmt(v.tun_dropped).padStart(10),
          String(v.buffers_per_packet_max).padStart(9),
        ].join(' '),
      );
    }
  }
  return out.join('\n');
}

/**
 * Two lines of what /proc/net/dev and /proc/net/snmp (and netstat's TcpExt) would say: the
 * figures a kernel engineer checks first (--proc DIR writes the files whole).
 */
export function linuxCounters(r: RunResult): string {
  const n = r.netdev;
  const dev =
    `eth0 (/proc/net/dev): rx_packets ${fmt(n.rx_packets)}, rx_bytes ${fmt(n.rx_bytes)}, drop ${fmt(n.rx_dropped + n.rx_missed_errors)}` +
    (n.rx_missed_errors > 0 ? ` (rx_missed_errors ${fmt(n.rx_missed_errors)})` : '') +
    (n.rx_fifo_errors > 0 ? `, fifo ${fmt(n.rx_fifo_errors)}` : '');
  const s = r.snmp;
  const mib = [`Ip InReceives ${fmt(s.Ip.InReceives!)} InDelivers ${fmt(s.Ip.InDelivers!)}`];
  if (r.sockets.udp.sockets > 0)
    mib.push(`Udp InDatagrams ${fmt(s.Udp.InDatagrams!)} RcvbufErrors ${fmt(s.Udp.RcvbufErrors!)} InErrors ${fmt(s.Udp.InErrors!)}`);
  if (r.sockets.tcp.sockets > 0)
    mib.push(`Tcp InSegs ${fmt(s.Tcp.InSegs!)} InErrs ${fmt(s.Tcp.InErrs!)}; TcpExt TCPRcvQDrop ${fmt(s.TcpExt.TCPRcvQDrop!)}`);
  return `${dev}\nsnmp: ${mib.join('; ')}`;
}

/**
 * `rxsmp run --contention`: per CPU, rps_lock acquisitions, spins and spins per acquisition,
 * sleeps (the host preempted a holder), IPIs sent and received, and enqueue_to_backlog's local
 * against remote enqueues (the share that crossed CPUs).
 */
export function contentionTable(r: RunResult): string {
  const out = ['cpu   lock_acq      spins  spins/acq   sleeps   ipi_tx   ipi_rx   enq_local  enq_remote  remote'];
  for (const p of r.percpu) {
    const enq = p.enqueue_local + p.enqueue_remote;
    out.push(
      [
        String(p.cpu).padEnd(4),
        fmt(p.rps_lock_acquisitions).padStart(9),
        fmt(p.rps_lock_spins).padStart(10),
        (p.rps_lock_acquisitions > 0 ? p.rps_lock_spins / p.rps_lock_acquisitions : 0).toFixed(3).padStart(10),
        fmt(p.rps_lock_sleeps).padStart(8),
        fmt(p.ipis_sent).padStart(8),
        fmt(p.ipis_received).padStart(8),
        fmt(p.enqueue_local).padStart(11),
        fmt(p.enqueue_remote).padStart(11),
        (enq > 0 ? pct(p.enqueue_remote / enq) : '-').padStart(7),
      ].join(' '),
    );
  }
  return out.join('\n');
}
