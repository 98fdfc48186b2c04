/**
 * procfs.test.ts: `rxsmp run --proc DIR` writes /proc files in 5.10's formats; parsed back the
 * way tools parse them, they hold the run document's counters (sim mode: exact values).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './e2e.js';

/** What a parser of each --proc file reads back. */
interface ProcFiles {
  dev: Record<string, number>;
  snmp: Record<string, Record<string, number>>;
  netstat: Record<string, Record<string, number>>;
  ethtool: Record<string, number>;
  udp: { local: string; remote: string; st: string; drops: number; width: number }[];
}

/** "Name: k1 k2 ..." / "Name: v1 v2 ..." pairs, as nstat and netstat -s read them. */
function mibs(text: string): Record<string, Record<string, number>> {
  const lines = text.trimEnd().split('\n');
  const out: Record<string, Record<string, number>> = {};
  for (let i = 0; i < lines.length; i += 2) {
    const [name, ...keys] = lines[i].split(' ');
    const [name2, ...vals] = lines[i + 1].split(' ');
    expect(name2).toBe(name);
    expect(vals.length).toBe(keys.length);
    out[name.slice(0, -1)] = Object.fromEntries(keys.map((k, j) => [k, Number(vals[j])]));
  }
  return out;
}

function procFiles(dir: string): ProcFiles {
  const read = (...p: string[]) => readFileSync(join(dir, ...p), 'utf8');
  const dev = read('net', 'dev').split('\n');
  expect(dev[1]).toBe(
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
  );
  const cols = ['bytes', 'packets', 'errs', 'drop', 'fifo', 'frame', 'compressed', 'multicast'];
  const eth0 = dev[2]
    .match(/^ {2}eth0: (.*)$/)![1]
    .trim()
    .split(/\s+/)
    .map(Number);
  expect(eth0.length).toBe(16);
  const eth = read('ethtool_S.eth0').trimEnd().split('\n');
  expect(eth[0]).toBe('NIC statistics:');
  const udpLines = read('net', 'udp').split('\n').slice(1, -1);
  return {
    dev: Object.fromEntries(cols.map((c, i) => [c, eth0[i]])),
    snmp: mibs(read('net', 'snmp')),
    netstat: mibs(read('net', 'netstat')),
    ethtool: Object.fromEntries(
      eth
        .slice(1)
        .map((l) => /^ {5}(\w+): (\d+)$/.exec(l)!.slice(1))
        .map(([k, v]) => [k, Number(v)]),
    ),
    udp: udpLines.map((l) => {
      const f = l.trim().split(/\s+/);
      return { local: f[1], remote: f[2], st: f[3], drops: Number(f[12]), width: l.length };
    }),
  };
}

/** `rxsmp run --mode sim ARGS --json --proc DIR`: the run document, the directory and its files read back. */
// biome-ignore lint/suspicious/noExplicitAny: the run document, parsed
function procRun(args: string): { r: any; dir: string; files: ProcFiles } {
  const dir = mkdtempSync(join(tmpdir(), 'rxsmp-proc-'));
  const p = cli(['run', '--mode', 'sim', ...args.split(' '), '--json', '--proc', dir]);
  expect(p.status, p.stderr).toBe(0);
  const r = JSON.parse(p.stdout);
  const files = procFiles(dir);
  expectFilesMatch(files, r);
  return { r, dir, files };
}

/** Every file says what the run document says, in the kernel's layout. */
// biome-ignore lint/suspicious/noExplicitAny: the run document, parsed
function expectFilesMatch(f: ProcFiles, r: any): void {
  const n = r.netdev;
  expect(f.dev).toEqual({
    bytes: n.rx_bytes,
    packets: n.rx_packets,
    errs: n.rx_errors,
    drop: n.rx_dropped + n.rx_missed_errors,
    fifo: n.rx_fifo_errors,
    frame: n.rx_length_errors + n.rx_over_errors + n.rx_crc_errors + n.rx_frame_errors,
    compressed: n.rx_compressed,
    multicast: n.multicast,
  });
  expect(Object.keys(f.snmp)).toEqual(['Ip', 'Icmp', 'Tcp', 'Udp', 'UdpLite']);
  expect(f.snmp.Ip).toEqual({ Forwarding: 2, DefaultTTL: 64, ...r.snmp.Ip });
  expect(f.snmp.Tcp).toEqual(r.snmp.Tcp);
  expect(f.snmp.Udp).toEqual(r.snmp.Udp);
  expect(Object.keys(f.snmp.Udp)).toEqual([
    'InDatagrams',
    'NoPorts',
    'InErrors',
    'OutDatagrams',
    'RcvbufErrors',
    'SndbufErrors',
    'InCsumErrors',
    'IgnoredMulti',
    'MemErrors',
  ]);
  const ext = f.netstat.TcpExt;
  expect(Object.keys(ext).length).toBe(123); // snmp4_net_list, 5.10
  for (const [k, v] of Object.entries(ext)) expect(v, k).toBe(r.snmp.TcpExt[k] ?? 0);
  for (const k of Object.keys(r.snmp.TcpExt)) expect(k in ext, k).toBe(true);
  for (const [k, v] of Object.entries(f.ethtool)) expect(v, k).toBe(r.nic_stats[k] ?? 0);
  for (const k of Object.keys(r.nic_stats)) expect(k in f.ethtool, k).toBe(true);
  // /proc/net/udp: 127-column lines (seq_setwidth / seq_pad), little-endian hex addresses
  expect(f.udp.length).toBe(r.sockets.udp.sockets); // every UDP socket is IPv4 here
  for (const l of f.udp) {
    expect(l.width).toBe(127);
    expect(l.local).toMatch(/^[0-9A-F]{8}:[0-9A-F]{4}$/);
    expect(l.st).toBe('01'); // connected UDP sockets: TCP_ESTABLISHED
  }
  expect(f.udp.reduce((a, l) => a + l.drops, 0)).toBe(r.sockets.udp.drops);
}

describe('run --proc DIR', () => {
  it('softnet_stat, interrupts, softirqs and the Udp lines of snmp hold the run counters', () => {
    const { r, dir, files } = procRun('--cpus 2 --queues 2 --rps-cpus 3 --sk-rcvbuf 4096 --packets 30000');
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
    expect(irq[0].trim().split(/\s+/)).toEqual(['CPU0', 'CPU1']);
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
    // UDP traffic: the Udp MIB counts what the sockets took and refused, Tcp nothing.
    const [ip, tcp, udp] = [files.snmp.Ip, files.snmp.Tcp, files.snmp.Udp];
    const processed = r.percpu.reduce((a: number, c: { processed: number }) => a + c.processed, 0);
    expect(ip.InReceives).toBe(processed); // every skb the core passed up was IPv4
    expect(ip.InDelivers).toBe(processed);
    expect(udp.InDatagrams).toBe(r.packets.delivered);
    expect(udp.RcvbufErrors).toBe(r.packets.dropped.socket);
    expect(udp.RcvbufErrors).toBeGreaterThan(0); // a 4 KiB SO_RCVBUF overflows
    expect(udp.InErrors).toBe(r.packets.dropped.socket + r.packets.dropped.l4_csum);
    expect(udp.InDatagrams + udp.RcvbufErrors).toBe(ip.InDelivers);
    expect([tcp.InSegs, tcp.CurrEstab, files.netstat.TcpExt.TCPRcvQDrop]).toEqual([0, 0, 0]);
    // net/dev: what the NIC took, the core's drops (enqueue_to_backlog) in `drop`.
    expect(files.dev.packets).toBe(r.packets.generated);
    expect(files.dev.bytes).toBe(r.packets.generated * 60); // 64-byte frames without their FCS
    expect(files.dev.drop).toBe(r.packets.dropped.backlog);
    expect(files.dev.drop).toBeGreaterThan(0);
    // ethtool -S: ixgbe's per-ring counters are the queues', the unused rings 0.
    expect(files.ethtool.rx_queue_0_packets + files.ethtool.rx_queue_1_packets).toBe(r.packets.generated);
    expect(files.ethtool.rx_queue_1_packets).toBe(r.queues[1].rx_packets);
    expect(files.ethtool.rx_queue_63_packets).toBe(0);
    expect(files.ethtool.rx_dropped).toBe(files.dev.drop);
    // /proc/net/udp: a line per socket, sk_drops in the last column.
    expect(files.udp.length).toBe(64);
    expect(files.udp.reduce((a, l) => a + l.drops, 0)).toBe(r.packets.dropped.socket);
  });

  it("TCP traffic: Tcp InSegs counts skbs after GRO, TcpExt TCPRcvQDrop the sockets' drops, Udp nothing", () => {
    const { r, files } = procRun('--cpus 2 --queues 1 --rps-cpus 3 --proto tcp --flows 16 --packets 20000');
    const tcp = files.snmp.Tcp;
    const processed = r.percpu.reduce((a: number, c: { processed: number }) => a + c.processed, 0);
    const merged = r.percpu.reduce((a: number, c: { gro_merged: number }) => a + c.gro_merged, 0);
    expect(merged).toBeGreaterThan(0);
    expect(tcp.InSegs).toBe(processed); // tcp_v4_rcv sees each GRO train once
    expect(tcp.InSegs).toBe(r.packets.delivered + r.packets.dropped.socket - merged);
    expect([tcp.CurrEstab, tcp.PassiveOpens, tcp.MaxConn, tcp.RtoMin]).toEqual([16, 16, -1, 200]);
    expect(files.netstat.TcpExt.TCPRcvQDrop).toBe(r.packets.dropped.socket);
    expect(files.snmp.Udp.InDatagrams).toBe(0);
    expect(files.udp.length).toBe(0);
  });

  it("virtio and legacy: each driver's own ethtool -S names, and where its losses show in net/dev", () => {
    for (const [nic, extra] of [
      ['virtio', ['--ring-size', '256', '--rate', '2000000', '--stack-cost-ns', '3000']],
      ['legacy', ['--ring-size', '64', '--rate', '2000000', '--stack-cost-ns', '3000']],
    ] as const) {
      const { r, files } = procRun(`--cpus 1 --nic ${nic} ${extra.join(' ')} --packets 20000`);
      const names = Object.keys(files.ethtool);
      if (nic === 'virtio') {
        // virtnet_rq_stats_desc then virtnet_sq_stats_desc, per queue pair
        expect(names.slice(0, 8)).toEqual(
          ['packets', 'bytes', 'drops', 'xdp_packets', 'xdp_tx', 'xdp_redirects', 'xdp_drops', 'kicks'].map((k) => `rx_queue_0_${k}`),
        );
        expect(files.ethtool.rx_queue_0_packets).toBe(r.queues[0].rx_packets);
        expect(files.ethtool.rx_queue_0_kicks).toBe(r.queues[0].virtio.kicks);
        expect(files.ethtool.rx_queue_0_kicks).toBeGreaterThan(0);
        // the tap's tun queue drops are the host's: no guest counter sees them
        expect(r.packets.dropped.tun).toBeGreaterThan(0);
        expect(files.dev.packets).toBe(r.packets.generated - (r.packets.dropped.tun ?? 0));
      } else {
        expect(names).toEqual(['tx_deferred', 'tx_max_collisions', 'tx_multiple_collisions', 'tx_single_collisions', 'rx_bad_ssd']);
        // 3c59x: frames the chip could not upload are RxOverruns, rx_fifo_errors: the fifo column
        expect(files.dev.fifo).toBe(r.packets.dropped.rx_missed);
        expect(files.dev.fifo).toBeGreaterThan(0);
      }
    }
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
      expect([n(f[0]), n(f[1]), n(f[2]), n(f[4]), n(f[5]), n(f[6]), n(f[7]), n(f[8])]).toEqual([
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
