// The human summary of a run, with /proc/net/softnet_stat as Linux 5.10 prints it.

import { clipPath, type Config } from '../config/schema.js';
import type { PerCpuStats, PerQueueStats, RunResult } from '../engine/result.js';
import { count, duration } from '../lib/units.js';
import { loadReplay } from '../engine/capture.js';
import { counterHead, softnetStatRow, type PerCpuCounterName } from '../shm/softnet_counters.js';
import { textTable, type TextColumn } from '../lib/text_table.js';

/** A command line as a shell would take it back: arguments with spaces or specials single-quoted. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** /proc/net/softnet_stat, 5.10: a line per CPU (softnetStatRow: the columns come from PERCPU_COUNTERS). */
export function softnetStat(r: RunResult): string {
  return r.percpu.map(softnetStatRow).join('\n');
}

const fmt = count;

/** A per-CPU counter's column: its name from PERCPU_COUNTERS, the figure with thousands separators. */
const counterColumn = (name: PerCpuCounterName, width: number, headInset = 0): TextColumn<PerCpuStats> => ({
  head: counterHead(name),
  width,
  headInset,
  cell: (p) => fmt(p[name]),
});
const cpuColumn = (width: number): TextColumn<PerCpuStats> => ({ head: 'cpu', width, left: true, cell: (p) => String(p.cpu) });

/**
 * The per-CPU table of the summary. Its headings sit as they always have (docs/runs.md shows
 * the table): from net_rx on, all but squeeze one column left of their figures' right edge.
 */
const PERCPU_TABLE: readonly TextColumn<PerCpuStats>[] = [
  cpuColumn(4),
  counterColumn('processed', 10),
  counterColumn('hardirqs', 9),
  counterColumn('net_rx_softirqs', 8, 1),
  counterColumn('time_squeeze', 8),
  counterColumn('received_rps', 8, 1),
  counterColumn('ipis_sent', 8, 1),
  counterColumn('ipis_received', 8, 1),
  counterColumn('rps_lock_acquisitions', 10, 1),
  counterColumn('rps_lock_spins', 7, 1),
  counterColumn('ksoftirqd_wakeups', 10, 1),
];
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
  const columns: TextColumn<PerCpuStats>[] = [
    cpuColumn(3),
    ...UTIL_COLUMNS.map(([k, h]) => ({ head: h, width: Math.max(8, h.length + 2), cell: (p: PerCpuStats) => p.util_pct[k].toFixed(1) })),
    { head: 'busy', width: 0, left: true, gap: '    ', cell: (p) => duration(p.busy_ns) },
  ];
  return textTable(columns, r.percpu, '');
}

/** Per RX queue: the CPU its vector is affine to, packets, missed frames, interrupts. */
const QUEUE_TABLE: readonly TextColumn<PerQueueStats>[] = [
  { head: 'queue', width: 6, left: true, cell: (q) => String(q.queue) },
  { head: 'cpu', width: 4, left: true, cell: (q) => String(q.cpu) },
  { head: 'rx_packets', width: 10, cell: (q) => fmt(q.rx_packets) },
  { head: 'rx_missed', width: 10, cell: (q) => fmt(q.rx_missed) },
  { head: 'interrupts', width: 11, cell: (q) => fmt(q.interrupts) },
];

/** --nic virtio, per queue: the virtqueue's notifications both ways, refills, QEMU's held packet and tun queue. */
const VIRTIO_TABLE: readonly TextColumn<PerQueueStats>[] = [
  { head: 'virtio', width: 6, left: true, cell: (q) => String(q.queue) },
  { head: 'irq_raised', width: 11, cell: (q) => fmt(q.virtio!.irq_raised) },
  { head: 'irq_suppr', width: 10, cell: (q) => fmt(q.virtio!.irq_suppressed) },
  { head: 'kicks', width: 9, cell: (q) => fmt(q.virtio!.kicks) },
  { head: 'kicks_suppr', width: 12, cell: (q) => fmt(q.virtio!.kicks_suppressed) },
  { head: 'refills', width: 8, cell: (q) => fmt(q.virtio!.refills) },
  { head: 'delayed', width: 8, cell: (q) => fmt(q.virtio!.refills_delayed) },
  { head: 'held', width: 10, cell: (q) => fmt(q.virtio!.held) },
  { head: 'tun_queued', width: 11, cell: (q) => fmt(q.virtio!.tun_queued) },
  { head: 'tun_drop', width: 10, cell: (q) => fmt(q.virtio!.tun_dropped) },
  { head: 'bufs/pkt', width: 9, cell: (q) => String(q.virtio!.buffers_per_packet_max) },
];

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
  out.push(textTable(PERCPU_TABLE, r.percpu));
  out.push('');
  out.push(`CPU time over the run's ${duration(r.elapsed_s * 1e9)}, as mpstat -P ALL (steal: the host kept the CPU's thread off its core)`);
  out.push(utilTable(r));
  out.push('');
  out.push(textTable(QUEUE_TABLE, r.queues));
  out.push('');
  out.push(linuxCounters(r));
  if (r.queues.some((q) => q.virtio)) {
    out.push('');
    out.push(textTable(VIRTIO_TABLE, r.queues));
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
  const mib = [`Ip InReceives ${fmt(s.Ip.InReceives)} InDelivers ${fmt(s.Ip.InDelivers)}`];
  if (r.sockets.udp.sockets > 0)
    mib.push(`Udp InDatagrams ${fmt(s.Udp.InDatagrams)} RcvbufErrors ${fmt(s.Udp.RcvbufErrors)} InErrors ${fmt(s.Udp.InErrors)}`);
  if (r.sockets.tcp.sockets > 0)
    mib.push(`Tcp InSegs ${fmt(s.Tcp.InSegs)} InErrs ${fmt(s.Tcp.InErrs)}; TcpExt TCPRcvQDrop ${fmt(s.TcpExt.TCPRcvQDrop)}`);
  return `${dev}\nsnmp: ${mib.join('; ')}`;
}

/**
 * `rxsmp run --contention`: per CPU, rps_lock acquisitions, spins and spins per acquisition,
 * sleeps (the host preempted a holder), IPIs sent and received, and enqueue_to_backlog's local
 * against remote enqueues (the share that crossed CPUs).
 */
export function contentionTable(r: RunResult): string {
  const enq = (p: PerCpuStats) => p.enqueue_local + p.enqueue_remote;
  return textTable(
    [
      cpuColumn(4),
      counterColumn('rps_lock_acquisitions', 9),
      counterColumn('rps_lock_spins', 10),
      {
        head: 'spins/acq',
        width: 10,
        cell: (p) => (p.rps_lock_acquisitions > 0 ? p.rps_lock_spins / p.rps_lock_acquisitions : 0).toFixed(3),
      },
      counterColumn('rps_lock_sleeps', 8),
      counterColumn('ipis_sent', 8),
      counterColumn('ipis_received', 8),
      counterColumn('enqueue_local', 11),
      counterColumn('enqueue_remote', 11),
      { head: 'remote', width: 7, cell: (p) => (enq(p) > 0 ? pct(p.enqueue_remote / enq(p)) : '-') },
    ],
    r.percpu,
  );
}
