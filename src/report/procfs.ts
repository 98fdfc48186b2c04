// `rxsmp run --proc DIR`: what a user would read from /proc (and `ethtool -S`) after the run, in
// 5.10's formats, so the parsers people already have read them: net/softnet_stat
// (net/core/net-procfs.c, softnet_seq_show: 13 columns), interrupts (kernel/irq/proc.c,
// show_interrupts: a row per MSI-X vector, a column per CPU), softirqs (fs/proc/softirqs.c),
// net/dev, net/snmp, net/snmp6's Ip6 lines (net/ipv6/proc.c), net/netstat's TcpExt, net/udp and
// net/udp6, and ethtool_S.eth0. Written
// from the run document (the counters are engine/counters.ts's); the socket lines also need the
// run's flows, rebuilt from its configuration.

import { join } from 'node:path';
import { OutputError, writeOutputFile } from '../host/files.js';
import type { RunResult } from '../engine/result.js';
import { ethtoolNames, IP_MIB, TCP_MIB, TCPEXT_MIB, UDP_MIB } from '../engine/counters.js';
import type { Config } from '../config/schema.js';
import { runFlows } from '../devices/generator.js';
import type { FlowTable } from '../devices/flows.js';
import { loadReplay } from '../engine/capture.js';
import { IPPROTO_UDP } from '../uapi/inet.js';
import { softnetStat } from './human.js';
import { NIC_DRIVERS, nicDriver } from '../drivers/table.js';

/** The header of /proc/interrupts and /proc/softirqs: `CPU%-8d` per CPU after `lead` spaces. */
const cpuHeader = (lead: number, cpus: number) =>
  `${' '.repeat(lead)}${Array.from({ length: cpus }, (_, c) => `CPU${c}`.padEnd(11)).join('')}`.trimEnd();

/**
 * show_interrupts: `%*d: ` then `%10u ` per CPU, the chip, the hwirq and its type, the action's
 * name as ixgbe requests it (`eth0-TxRx-N`; the legacy NIC `eth0`, virtio `virtio0-input.N`).
 * A vector's interrupts are in the column of the CPU it was affine to at the end of the run.
 */
export function interrupts(r: RunResult): string {
  const cpus = r.percpu.length;
  const base = 24; // the first vector's Linux irq number (any value a parser accepts)
  const prec = 3;
  const driver = nicDriver(String(r.config.nic)) ?? NIC_DRIVERS.ixgbe; // a result from a build with another NIC: ixgbe's lines
  const rows = r.queues.map((q) => {
    const counts = Array.from({ length: cpus }, (_, c) => `${String(c === q.cpu ? q.interrupts : 0).padStart(10)} `).join('');
    return `${String(base + q.queue).padStart(prec)}: ${counts}${driver.irq_chip} ${524288 + q.queue}-edge      ${driver.irq_name(q.queue)}`;
  });
  return `${cpuHeader(prec + 8, cpus)}\n${rows.map((l) => `${l}\n`).join('')}`;
}

/** softirq_to_name (5.10), in order. */
const SOFTIRQS = ['HI', 'TIMER', 'NET_TX', 'NET_RX', 'BLOCK', 'IRQ_POLL', 'TASKLET', 'SCHED', 'HRTIMER', 'RCU'];

/** show_softirqs: `%12s:` then ` %10u` per CPU; NET_RX is what the emulation runs, the rest 0. */
export function softirqs(r: RunResult): string {
  const rows = SOFTIRQS.map(
    (n) => `${n.padStart(12)}:${r.percpu.map((p) => ` ${String(n === 'NET_RX' ? p.net_rx_softirqs : 0).padStart(10)}`).join('')}`,
  );
  return `${cpuHeader(20, r.percpu.length)}\n${rows.map((l) => `${l}\n`).join('')}`;
}

const pad = (v: number, w: number) => String(v).padStart(w);

/**
 * /proc/net/dev (net/core/net-procfs.c, dev_seq_show / dev_seq_printf_stats): the receive
 * columns from dev_get_stats, rx_missed_errors added into `drop` as 5.10 does; rxsmp
 * transmits nothing, so the transmit columns are 0.
 */
export function netDev(r: RunResult): string {
  const n = r.netdev;
  const rx = [
    [n.rx_bytes, 7],
    [n.rx_packets, 7],
    [n.rx_errors, 4],
    [n.rx_dropped + n.rx_missed_errors, 4],
    [n.rx_fifo_errors, 4],
    [n.rx_length_errors + n.rx_over_errors + n.rx_crc_errors + n.rx_frame_errors, 5],
    [n.rx_compressed, 10],
    [n.multicast, 9],
  ] as const;
  const tx = [8, 7, 4, 4, 4, 5, 7, 10].map((w) => pad(0, w));
  return (
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
    `${'eth0'.padStart(6)}: ${[...rx.map(([v, w]) => pad(v, w)), ...tx].join(' ')}\n`
  );
}

/**
 * The Ip6 lines of net/snmp6 the receive path counts (snmp6_seq_show_item: `%-32s\t%lu`, in
 * snmp6_ipstats_list's order): header errors, address errors, unknown next headers,
 * truncated packets.
 */
export function snmp6(r: RunResult): string {
  // the run document's snmp6 block holds them under their names, in that order
  return Object.entries(r.snmp6)
    .map(([k, v]) => `${k.padEnd(32)}\t${v}\n`)
    .join('');
}

/**
 * `ethtool -S eth0` (ethtool's dump_stats: "NIC statistics:", then "     name: value"): every
 * name the driver's get_strings gives, the values rxsmp counts (nic_stats), the others 0.
 */
export function ethtoolS(r: RunResult): string {
  const names = ethtoolNames(String(r.config.nic), r.queues.length);
  return `NIC statistics:\n${names.map((k) => `     ${k}: ${r.nic_stats[k] ?? 0}\n`).join('')}`;
}

/** A MIB as snmp_seq_show prints it: "Name: K1 K2 ..." then "Name: v1 v2 ...". */
const mibLines = (name: string, keys: readonly string[], values: Record<string, number>) =>
  `${name}: ${keys.join(' ')}\n${name}: ${keys.map((k) => values[k] ?? 0).join(' ')}\n`;

/** icmpmibmap: the Icmp line's In and Out message types. */
const ICMP_TYPES = [
  'DestUnreachs',
  'TimeExcds',
  'ParmProbs',
  'SrcQuenchs',
  'Redirects',
  'Echos',
  'EchoReps',
  'Timestamps',
  'TimestampReps',
  'AddrMasks',
  'AddrMaskReps',
];

/**
 * /proc/net/snmp (net/ipv4/proc.c, snmp_seq_show, 5.10): Ip with Forwarding (2: not a router)
 * and DefaultTTL (64) first, Icmp (rxsmp neither receives nor sends ICMP: 0), Tcp, Udp and
 * UdpLite (0). The values are the run document's snmp block (engine/counters.ts).
 */
export function netSnmp(r: RunResult): string {
  const icmp = [
    'InMsgs',
    'InErrors',
    'InCsumErrors',
    ...ICMP_TYPES.map((t) => `In${t}`),
    'OutMsgs',
    'OutErrors',
    ...ICMP_TYPES.map((t) => `Out${t}`),
  ];
  return (
    mibLines('Ip', ['Forwarding', 'DefaultTTL', ...IP_MIB], { Forwarding: 2, DefaultTTL: 64, ...r.snmp.Ip }) +
    mibLines('Icmp', icmp, {}) +
    mibLines('Tcp', TCP_MIB, r.snmp.Tcp) +
    mibLines('Udp', UDP_MIB, r.snmp.Udp) +
    mibLines('UdpLite', UDP_MIB, {})
  );
}

/**
 * /proc/net/netstat's TcpExt lines (netstat_seq_show, snmp4_net_list, 5.10): the counters rxsmp
 * counts (snmp.TcpExt), every other 0. The IpExt lines that follow in Linux are left out: rxsmp
 * does not count their octets.
 */
export function netNetstat(r: RunResult): string {
  return mibLines('TcpExt', TCPEXT_MIB, r.snmp.TcpExt);
}

/** A __be32 as /proc prints it with %08X on a little-endian machine: the bytes in memory order. */
const be32 = (v: number) =>
  (((v & 0xff) << 24) | (((v >>> 8) & 0xff) << 16) | (((v >>> 16) & 0xff) << 8) | (v >>> 24))
    .toString(16)
    .toUpperCase()
    .padStart(8, '0')
    .slice(-8);
const hex = (v: number, w: number) => (v >>> 0).toString(16).toUpperCase().padStart(w, '0');

/**
 * /proc/net/udp and /proc/net/udp6 (udp4_seq_show / udp4_format_sock in net/ipv4/udp.c,
 * __ip6_dgram_sock_seq_show in net/ipv6/datagram.c): a line per UDP socket, in hash-slot order
 * (udp_hashfn with a 65536-slot table: the local port). Each socket is bound to its flow's
 * destination; a connected one (--udp-sockets connected, TCP_ESTABLISHED, st 01) also to its
 * source, an unconnected one is TCP_CLOSE (07). rx_queue (udp_rqueue_get) is 0 after the drain;
 * drops is sk_drops. uid 0, inode 10000 + the flow, the pointer as an unprivileged reader sees it.
 */
export function netUdp(r: RunResult, flows: FlowTable): { udp: string; udp6: string } {
  const drops = new Map(r.sockets.udp_drops.map((d) => [d.flow, d.drops]));
  const connected = r.config.udp_sockets !== 'unconnected';
  const v4: [number, number, string][] = [];
  const v6: [number, number, string][] = [];
  for (let f = 0; f < flows.count; f++) {
    if (flows.proto[f] !== IPPROTO_UDP) continue;
    const port = flows.dport[f];
    const rem = connected ? flows.sport[f] : 0;
    const rest = ` ${connected ? '01' : '07'} 00000000:00000000 00:00000000 00000000 ${pad(0, 5)} ${pad(0, 8)} ${10000 + f} 2 0000000000000000 ${drops.get(f) ?? 0}`;
    const slot = `${pad(port, 5)}: `;
    if (flows.family[f] === 6) {
      const w = (a: Uint32Array, i: number) => [0, 1, 2, 3].map((k) => be32(a[f * 4 + k])).join('') + `:${hex(i, 4)}`;
      const remote = connected ? w(flows.saddr6, rem) : `${'0'.repeat(32)}:0000`;
      v6.push([port, f, `${slot}${w(flows.daddr6, port)} ${remote}${rest}\n`]);
    } else {
      const remote = connected ? `${be32(flows.saddr[f])}:${hex(rem, 4)}` : '00000000:0000';
      v4.push([port, f, `${`${slot}${be32(flows.daddr[f])}:${hex(port, 4)} ${remote}${rest}`.padEnd(127)}\n`]);
    }
  }
  const order = (a: [number, number, string], b: [number, number, string]) => a[0] - b[0] || a[1] - b[1];
  return {
    udp:
      `${'   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops'.padEnd(127)}\n` +
      v4
        .sort(order)
        .map((l) => l[2])
        .join(''),
    udp6:
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n' +
      v6
        .sort(order)
        .map((l) => l[2])
        .join(''),
  };
}

/** The flows a run's sockets were made from: generated from its seed, or a capture's. */
export function runSockets(cfg: Config): FlowTable {
  return cfg.pcap !== '' ? loadReplay(cfg.pcap).flows : runFlows(cfg);
}

/** The files --proc DIR writes, under DIR. */
export const PROC_FILES = [
  'net/softnet_stat',
  'interrupts',
  'softirqs',
  'net/dev',
  'net/snmp',
  'net/snmp6',
  'net/netstat',
  'net/udp',
  'net/udp6',
  'ethtool_S.eth0',
] as const;

/**
 * Write PROC_FILES under DIR, each under the output rules (src/host/files.ts: a temporary file
 * renamed into place). A file that cannot be written does not stop the others: the first
 * failure is thrown after them (OutputError).
 */
export function writeProcDir(dir: string, r: RunResult, cfg: Config): void {
  let udp: { udp: string; udp6: string } | undefined;
  const sockets = () => (udp ??= netUdp(r, runSockets(cfg)));
  const text: Record<(typeof PROC_FILES)[number], () => string> = {
    'net/softnet_stat': () => `${softnetStat(r)}\n`,
    interrupts: () => interrupts(r),
    softirqs: () => softirqs(r),
    'net/dev': () => netDev(r),
    'net/snmp': () => netSnmp(r),
    'net/snmp6': () => snmp6(r),
    'net/netstat': () => netNetstat(r),
    'net/udp': () => sockets().udp,
    'net/udp6': () => sockets().udp6,
    'ethtool_S.eth0': () => ethtoolS(r),
  };
  let failed: OutputError | undefined;
  for (const f of PROC_FILES) {
    try {
      writeOutputFile('--proc', join(dir, f), text[f]());
    } catch (e) {
      if (!(e instanceof OutputError)) throw e;
      failed ??= e;
    }
  }
  if (failed !== undefined) throw failed;
}
