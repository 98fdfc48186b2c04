// `rxsmp run --proc DIR`: what a user would read from /proc after the run, in 5.10's formats, so
// the parsers people already have read them: net/softnet_stat (net/core/net-procfs.c,
// softnet_seq_show: 13 columns), interrupts (kernel/irq/proc.c, show_interrupts: a row per
// MSI-X vector, a column per CPU), softirqs (fs/proc/softirqs.c) and the Udp lines of net/snmp
// (net/ipv4/proc.c, snmp_seq_show_udplite / udp_mib_list). Written from the run document.

import { join } from 'node:path';
import { OutputError, writeOutputFile } from '../host/files.js';
import type { RunResult } from '../engine/result.js';
import { softnetStat } from './human.js';

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
  const nic = String(r.config.nic);
  const name = (q: number) => (nic === 'ixgbe' ? `eth0-TxRx-${q}` : nic === 'legacy' ? 'eth0' : `virtio0-input.${q}`);
  const rows = r.queues.map((q) => {
    const counts = Array.from({ length: cpus }, (_, c) => `${String(c === q.cpu ? q.interrupts : 0).padStart(10)} `).join('');
    const chip = nic === 'legacy' ? '  IO-APIC' : ' PCI-MSI';
    return `${String(base + q.queue).padStart(prec)}: ${counts}${chip} ${524288 + q.queue}-edge      ${name(q.queue)}`;
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

/**
 * The Udp lines of net/snmp (udp_mib_list, 5.10): a header line and a value line. InErrors
 * counts what __udp_queue_rcv_skb / __udp4_lib_rcv count there: receive-buffer drops and bad
 * checksums. With --proto mix the emulation keeps no per-protocol delivery count, so the lines
 * count TCP sockets' packets too (the docs say so).
 */
export function snmpUdp(r: RunResult): string {
  const tcp = r.config.proto === 'tcp';
  const d = r.packets.dropped;
  const v = tcp ? [0, 0, 0, 0, 0, 0, 0, 0, 0] : [r.packets.delivered, d.no_socket, d.socket + d.l4_csum, 0, d.socket, 0, d.l4_csum, 0, 0];
  const head = [
    'InDatagrams',
    'NoPorts',
    'InErrors',
    'OutDatagrams',
    'RcvbufErrors',
    'SndbufErrors',
    'InCsumErrors',
    'IgnoredMulti',
    'MemErrors',
  ];
  return `Udp: ${head.join(' ')}\nUdp: ${v.join(' ')}\n`;
}

/** The files --proc DIR writes, under DIR. */
export const PROC_FILES = ['net/softnet_stat', 'interrupts', 'softirqs', 'net/snmp'] as const;

/**
 * Write DIR/net/softnet_stat, DIR/interrupts, DIR/softirqs and DIR/net/snmp, each under the
 * output rules (src/host/files.ts; the command made DIR/net and checked each file before the run, checkOutputDir). Every file is
 * tried; the first failure is thrown after the others were written.
 */
export function writeProcDir(dir: string, r: RunResult): void {
  const text: Record<(typeof PROC_FILES)[number], () => string> = {
    'net/softnet_stat': () => `${softnetStat(r)}\n`,
    interrupts: () => interrupts(r),
    softirqs: () => softirqs(r),
    'net/snmp': () => snmpUdp(r),
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
