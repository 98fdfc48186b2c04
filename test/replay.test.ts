// Replay (--pcap): captures written during the test, by Debian's text2pcap from frames made
// here and by this suite's own writer, go through the device, the drivers and the stack. Sim
// runs give exact figures; threads runs assert invariants only.

import { describe, expect, it } from 'vitest';
import { tool } from './tools.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { config } from './harness.js';
import { cli, run } from './e2e.js';
import { simulate, type SimRunResult } from '../dist/src/engine/sim_run.js';
import { conserves } from '../dist/src/engine/result.js';
import type { FlowSpec } from '../dist/src/devices/flows.js';
import { buildFrameTemplate } from '../dist/src/devices/frame_template.js';
import { MIXED_FLOWS, mixedTraffic, pcapFile, pcapngFile, v6, type Pkt } from './capture_files.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsmp-replay-'));
type Flags = Record<string, string | number>;
const sim = (flags: Flags): SimRunResult => simulate(config({ mode: 'sim', ...flags })).result;

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** text2pcap's input: each frame as an offset-prefixed hex dump (od -Ax -tx1 style). */
function hexdump(pkts: Pkt[]): string {
  const lines: string[] = [];
  for (const p of pkts) {
    for (let o = 0; o < p.frame.length; o += 16) {
      const bytes = Array.from(p.frame.subarray(o, o + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
      lines.push(`${o.toString(16).padStart(6, '0')} ${bytes}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A capture written by text2pcap (pcap, or pcapng with -n) from these frames. */
function text2pcap(name: string, pkts: Pkt[], ng: boolean): string {
  const txt = join(dir, `${name}.txt`);
  writeFileSync(txt, hexdump(pkts));
  const out = join(dir, name);
  tool('text2pcap', ['-q', '-F', ng ? 'pcapng' : 'pcap', txt, out]);
  return out;
}

/** tshark's count of distinct one-way 5-tuples (UDP and TCP, IPv4 and IPv6) in a capture. */
function tsharkFlows(path: string): number {
  const stdout = tool('tshark', [
    '-r',
    path,
    '-T',
    'fields',
    '-E',
    'separator=/',
    '-e',
    'ip.src',
    '-e',
    'ipv6.src',
    '-e',
    'ip.dst',
    '-e',
    'ipv6.dst',
    '-e',
    'ip.proto',
    '-e',
    'ipv6.nxt',
    '-e',
    'udp.srcport',
    '-e',
    'tcp.srcport',
    '-e',
    'udp.dstport',
    '-e',
    'tcp.dstport',
    '-Y',
    'udp or tcp',
  ]);
  return new Set(stdout.trim().split('\n')).size;
}

// 5 flows (IPv4 and IPv6, UDP and TCP) and an ARP frame in every 6.
const TRAFFIC = mixedTraffic(600, { arpEvery: 6 });
const ARPS = TRAFFIC.filter((p) => p.frame.length === 42).length;

describe('replay of a capture written by text2pcap', () => {
  for (const ng of [false, true]) {
    const path = text2pcap(ng ? 'mixed.pcapng' : 'mixed.pcap', TRAFFIC, ng);

    it(`${ng ? 'pcapng' : 'pcap'}: the capture's one-way flows, conserved and in order, ARP counted (sim, RPS)`, () => {
      expect(tsharkFlows(path)).toBe(MIXED_FLOWS.length);
      // At 200 kpps no socket overflows: every frame of a flow is delivered.
      const r = sim({ pcap: path, cpus: 4, queues: 1, 'rps-cpus': 'f', packets: 1800, rate: 200_000, seed: 2 });
      expect(r.config.flows).toBe(MIXED_FLOWS.length);
      expect(conserves(r)).toBe(true);
      expect(r.packets.generated).toBe(1800);
      expect(r.packets.dropped.not_ip).toBe(3 * ARPS);
      expect(r.packets.delivered).toBe(1800 - 3 * ARPS);
      expect(r.ordering.out_of_order).toBe(0);
      expect(r.percpu.reduce((a, p) => a + p.received_rps, 0)).toBeGreaterThan(0); // RPS steered some flows off CPU 0
    });
  }

  it('threads mode: replayed three times over, conserved, every flow in order', async () => {
    const path = text2pcap('threads.pcapng', TRAFFIC, true);
    const r = await run({ pcap: path, cpus: 2, queues: 2, 'rps-cpus': '3', packets: 1800 });
    expect(r.config.flows).toBe(MIXED_FLOWS.length);
    expect(r.packets.dropped.not_ip).toBe(3 * ARPS);
    expect(r.ordering.out_of_order).toBe(0);
  });
});

describe('replay: what the capture decides', () => {
  it('one pass by default; the header names the capture', () => {
    const path = file('one.pcap', pcapFile(TRAFFIC));
    const r = cli(['run', '--mode', 'sim', '--pcap', path, '--rate', '100000']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(
      /600 packets at 100,000 pps, replayed from .*one\.pcap \(5 one-way 5-tuple flows, frames up to 204 B\)$/,
    );
    expect(r.stdout).toMatch(/generated 600, delivered 500, dropped 100 \(not_ip 100\)/);
  });

  it('snaplen-truncated frames are counted and dropped before the NIC', () => {
    const cut = (p: Pkt, i: number) => i % 10 === 3 && p.frame.length > 64;
    const pkts = TRAFFIC.slice(0, 60).map((p, i) => (cut(p, i) ? { ...p, frame: p.frame.subarray(0, 64), origlen: p.frame.length } : p));
    const r = sim({ pcap: file('snap.pcap', pcapFile(pkts)), rate: 100_000 });
    expect(conserves(r)).toBe(true);
    expect(r.packets.dropped.snaplen).toBe(TRAFFIC.slice(0, 60).filter(cut).length);
    expect(r.packets.dropped.snaplen).toBe(4);
    expect(r.ordering.out_of_order).toBe(0);
  });

  it("--pcap-timing sends at the capture's own times: a pass of 1 ms gaps lasts its length in virtual time", () => {
    const pkts = mixedTraffic(101, { gap_ns: 1_000_000n });
    const r = sim({ pcap: file('timed.pcapng', pcapngFile(pkts)), 'pcap-timing': 'on' });
    expect(conserves(r)).toBe(true);
    expect(r.elapsed_s).toBeGreaterThanOrEqual(0.1);
    expect(r.elapsed_s).toBeLessThan(0.102);
  });

  it('every NIC model replays it: legacy (netif_rx) and virtio-net', () => {
    const path = file('nics.pcap', pcapFile(TRAFFIC));
    for (const nic of ['legacy', 'virtio']) {
      const r = sim({ pcap: path, nic, cpus: 2, packets: 1200, rate: 100_000 });
      expect(conserves(r), nic).toBe(true);
      expect(r.packets.dropped.not_ip, nic).toBe(2 * ARPS);
      expect(r.ordering.out_of_order, nic).toBe(0);
    }
  });
});

describe('replay: IPv6 flows land where the RSS verification suite says', () => {
  it("each vector's TCP flow is received on queue (hash & 127) mod 8 with the suite's key", () => {
    // Microsoft's "Verifying the RSS Hash Calculation", IPv6 with TCP; the key is rxsmp's default.
    const vectors = [
      { dst: '3ffe:2501:200:3::1', dport: 1766, src: '3ffe:2501:200:1fff::7', sport: 2794, tcp: 0x40207d3d },
      { dst: 'ff02::1', dport: 4739, src: '3ffe:501:8::260:97ff:fe40:efab', sport: 14230, tcp: 0xdde51bbf },
      { dst: 'fe80::200:f8ff:fe21:67cf', dport: 38024, src: '3ffe:1900:4545:3:200:f8ff:fe21:67cf', sport: 44251, tcp: 0x02d1feef },
    ];
    const counts = [10, 20, 40];
    const pkts: Pkt[] = [];
    vectors.forEach((v, k) => {
      const flow: FlowSpec = {
        saddr: 0,
        daddr: 0,
        sport: v.sport,
        dport: v.dport,
        proto: 6,
        family: 6,
        saddr6: v6(v.src),
        daddr6: v6(v.dst),
      };
      for (let i = 0; i < counts[k]; i++) {
        const frame = new Uint8Array(120);
        buildFrameTemplate(frame, 0, flow, 120, 1, 2);
        pkts.push({ frame, ts_ns: BigInt(pkts.length) * 1000n });
      }
    });
    const r = sim({ pcap: file('vectors.pcap', pcapFile(pkts)), cpus: 8, queues: 8, gro: 'off' });
    const want = new Array<number>(8).fill(0);
    vectors.forEach((v, k) => {
      want[(v.tcp & 127) % 8] += counts[k];
    });
    expect(want).toEqual([0, 0, 0, 0, 0, 10, 0, 60]);
    expect(r.queues.map((q) => q.rx_packets)).toEqual(want);
  });
});

describe('replay: mistakes are one line, exit 2, before anything starts', () => {
  const good = pcapFile(TRAFFIC.slice(0, 20));
  const cases: [string, () => string[], RegExp][] = [
    [
      'a missing file',
      () => ['--pcap', join(dir, 'nope.pcap')],
      /^rxsmp: --pcap .*nope\.pcap: cannot read it \(ENOENT: no such file or directory\)$/,
    ],
    [
      'a truncated capture',
      () => ['--pcap', file('cut.pcap', good.subarray(0, good.length - 7))],
      /^rxsmp: --pcap .*cut\.pcap: truncated: the record at byte \d+ claims \d+ bytes, \d+ remain$/,
    ],
    [
      'garbage',
      () => [
        '--pcap',
        file(
          'garbage.pcap',
          Uint8Array.from({ length: 500 }, (_, i) => (i * 37) & 255),
        ),
      ],
      /^rxsmp: --pcap .*garbage\.pcap: not a pcap or pcapng file \(magic 0x00254a6f\)$/,
    ],
    [
      'a wrong magic (JSON)',
      () => ['--pcap', file('cfg.pcap', new TextEncoder().encode('{"cpus": 2}'))],
      /^rxsmp: --pcap .*cfg\.pcap: not a pcap or pcapng file \(magic 0x7b226370\)$/,
    ],
    [
      'a wrong link type',
      () => ['--pcap', file('wifi.pcapng', pcapngFile(TRAFFIC.slice(0, 5), { interfaces: [{ linktype: 127 }] }))],
      /^rxsmp: --pcap .*wifi\.pcapng: interface 0 has link type 127 \(IEEE 802\.11 radiotap\); only Ethernet \(1\) replays$/,
    ],
    [
      '--flows with a replay',
      () => ['--pcap', file('ok.pcap', good), '--flows', '8'],
      /^rxsmp: --flows: a replay \(--pcap\) sends the capture's frames and flows; leave --flows out$/,
    ],
    [
      '--pcap-timing without timestamps',
      () => ['--pcap', file('spb.pcapng', pcapngFile(TRAFFIC.slice(0, 5), { spb: true })), '--pcap-timing'],
      /^rxsmp: --pcap-timing: .*spb\.pcapng has Simple Packet Blocks, which carry no timestamp; replay it at --rate instead$/,
    ],
    [
      'a frame longer than the NIC takes',
      () => ['--pcap', file('jumbo.pcap', pcapFile(mixedTraffic(3, { len: 4000 })))],
      /^rxsmp: --pcap .*jumbo\.pcap: a frame of 4000 bytes is longer than --nic ixgbe takes \(1514, FCS excluded\); capture with GRO, LRO, TSO and GSO off \(ethtool -K\), or use --nic virtio$/,
    ],
  ];
  for (const [name, args, msg] of cases) {
    it(name, () => {
      const r = cli(['run', ...args()]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(msg);
    });
  }
});
