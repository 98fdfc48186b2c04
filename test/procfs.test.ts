/**
 * procfs.test.ts: `rxsmp run --proc DIR` writes /proc files in 5.10's formats; parsed back the
 * way tools parse them, they hold the run document's counters (sim mode: exact values).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './e2e.js';

describe('run --proc DIR', () => {
  it('softnet_stat, interrupts, softirqs and the Udp lines of snmp hold the run counters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-proc-'));
    const p = cli([
      'run',
      '--mode',
      'sim',
      '--cpus',
      '2',
      '--queues',
      '2',
      '--rps-cpus',
      '3',
      '--sk-rcvbuf',
      '4096',
      '--packets',
      '30000',
      '--json',
      '--proc',
      dir,
    ]);
    expect(p.status).toBe(0);
    const r = JSON.parse(p.stdout);
    // softnet_stat: 13 hex columns per CPU, as softnet_seq_show prints them (5.10).
    const rows = readFileSync(join(dir, 'net', 'softnet_stat'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(rows.length).toBe(2);
    rows.forEach((row: string, cpu: number) => {
      const col = row.split(' ');
      expect(col.length).toBe(13);
      expect(col.every((c) => /^[0-9a-f]{8}$/.test(c))).toBe(true);
      const v = col.map((c) => Number.parseInt(c, 16));
      const pc = r.percpu[cpu];
      expect([v[0], v[1], v[2], v[9], v[10], v[11], v[12]]).toEqual([
        pc.processed,
        pc.dropped,
        pc.time_squeeze,
        pc.received_rps,
        pc.flow_limit_count,
        pc.softnet_backlog_len,
        cpu,
      ]);
    });
    // interrupts: a header of CPUs, a row per vector: "N:", a count per CPU, then the rest.
    const irq = readFileSync(join(dir, 'interrupts'), 'utf8').trimEnd().split('\n');
    expect(irq[0]!.trim().split(/\s+/)).toEqual(['CPU0', 'CPU1']);
    const vectors = irq.slice(1).map((l) => l.trim().split(/\s+/));
    expect(vectors.map((f) => f.at(-1))).toEqual(['eth0-TxRx-0', 'eth0-TxRx-1']);
    vectors.forEach((f, q) => {
      expect(f[0]).toMatch(/^\d+:$/);
      expect(Number(f[1]) + Number(f[2])).toBe(r.queues[q].interrupts);
    });
    // softirqs: NET_RX per CPU.
    const net_rx = readFileSync(join(dir, 'softirqs'), 'utf8')
      .split('\n')
      .find((l) => l.trim().startsWith('NET_RX:'))!;
    expect(net_rx.trim().split(/\s+/).slice(1).map(Number)).toEqual(r.percpu.map((c: { net_rx_softirqs: number }) => c.net_rx_softirqs));
    // net/snmp: the Udp header and values, by name.
    const [head, vals] = readFileSync(join(dir, 'net', 'snmp'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.split(' ').slice(1));
    const udp = Object.fromEntries(head!.map((k, i) => [k, Number(vals![i])]));
    expect(udp.InDatagrams).toBe(r.packets.delivered);
    expect(udp.RcvbufErrors).toBe(r.packets.dropped.socket);
    expect(udp.RcvbufErrors).toBeGreaterThan(0); // a 4 KiB SO_RCVBUF overflows
    expect(udp.InErrors).toBe(r.packets.dropped.socket + r.packets.dropped.l4_csum);
  });

  it('a --proc that is a file is one line and exit 2, before anything runs', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'rxsmp-proc-')), 'file');
    writeFileSync(f, '');
    const p = cli(['run', '--proc', f]);
    expect(p.status).toBe(2);
    expect(p.stderr.trim().split('\n')).toEqual([`rxsmp: --proc ${f}: cannot write there (not a directory)`]);
    expect(p.stdout).toBe('');
  });
});

describe('run --contention', () => {
  it('prints per CPU the lock, IPI and enqueue counters of the run document (stderr with --json)', () => {
    const p = cli([
      'run',
      '--mode',
      'sim',
      '--cpus',
      '2',
      '--queues',
      '1',
      '--rps-cpus',
      '3',
      '--packets',
      '20000',
      '--json',
      '--contention',
    ]);
    expect(p.status).toBe(0);
    const r = JSON.parse(p.stdout);
    const lines = p.stderr.trim().split('\n');
    expect(lines[0]).toBe('contention');
    const rows = lines.slice(2).map((l) => l.trim().split(/\s+/));
    expect(rows.length).toBe(2);
    rows.forEach((f, cpu) => {
      const n = (s: string) => Number(s.replace(/,/g, ''));
      const c = r.percpu[cpu];
      expect([n(f[0]!), n(f[1]!), n(f[2]!), n(f[4]!), n(f[5]!), n(f[6]!), n(f[7]!), n(f[8]!)]).toEqual([
        cpu,
        c.rps_lock_acquisitions,
        c.rps_lock_spins,
        c.rps_lock_sleeps,
        c.ipis_sent,
        c.ipis_received,
        c.enqueue_local,
        c.enqueue_remote,
      ]);
    });
    expect(r.percpu[0].enqueue_remote).toBeGreaterThan(0); // RPS sent some of CPU 0's packets to CPU 1
  });
});
