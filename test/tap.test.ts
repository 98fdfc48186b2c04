// --tap: a packet socket on ptype_all, as tcpdump sees the device. tshark reads the file: it
// must count exactly the skbs that reached __netif_receive_skb_core, and each packet's
// interface (its CPU) must be where RPS put its flow, computed here from the kernel's own hash
// functions. The placement is a function of the hash, so threads mode checks it as well.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { tool } from './tools.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { config } from './harness.js';
import { cli, run, sum } from './e2e.js';
import { simulate } from '../dist/src/engine/sim_run.js';
import { conserves, type RunResult } from '../dist/src/engine/result.js';
import { runFrames } from '../dist/src/devices/generator.js';
import { rssEngine } from '../dist/src/devices/nic.js';
import { flow_hash_init, reciprocal_scale, skb_flow_dissect_hash } from '../dist/src/kernel/hash/flow_dissector.js';
import { IPPROTO_TCP } from '../dist/src/uapi/inet.js';
import type { Config } from '../dist/src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsmp-tap-'));

interface Tapped {
  iface: number;
  len: number;
  key: string;
}

/** tshark's view of the file: each packet's interface, length and one-way 5-tuple. */
function tshark(path: string): Tapped[] {
  const fields = [
    'frame.interface_id',
    'frame.len',
    'ip.src',
    'ipv6.src',
    'ip.dst',
    'ipv6.dst',
    'udp.srcport',
    'tcp.srcport',
    'udp.dstport',
    'tcp.dstport',
  ];
  return tool('tshark', ['-r', path, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])])
    .trim()
    .split('\n')
    .map((line) => {
      const [iface, len, s4, s6, d4, d6, us, ts, ud, td] = line.split('|');
      const proto = us ? 'udp' : 'tcp';
      return { iface: Number(iface), len: Number(len), key: `${proto} ${s4 || s6}:${us || ts} > ${d4 || d6}:${ud || td}` };
    });
}

/** The Interface Statistics Blocks of a little-endian pcapng file (block type 5). */
function interfaceStatistics(b: Buffer): { iface: number; start: bigint; end: bigint; ifrecv: number; ifdrop: number }[] {
  const out = [];
  for (let o = 0; o < b.length; o += b.readUInt32LE(o + 4)) {
    if (b.readUInt32LE(o) !== 5) continue;
    const opt = new Map<number, bigint>();
    for (let p = o + 20; b.readUInt16LE(p) !== 0; p += 4 + ((b.readUInt16LE(p + 2) + 3) & ~3)) {
      const code = b.readUInt16LE(p);
      if (code === 2 || code === 3) opt.set(code, (BigInt(b.readUInt32LE(p + 4)) << 32n) | BigInt(b.readUInt32LE(p + 8)));
      if (code === 4 || code === 5) opt.set(code, b.readBigUInt64LE(p + 4));
    }
    out.push({
      iface: b.readUInt32LE(o + 8),
      start: opt.get(2)!,
      end: opt.get(3)!,
      ifrecv: Number(opt.get(4)),
      ifdrop: Number(opt.get(5)),
    });
  }
  return out;
}

const v4 = (a: number) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
const v6 = (w: ArrayLike<number>, i: number) => {
  // tshark's compressed form, for the generator's addresses (zero runs in the middle only).
  const groups = Array.from({ length: 8 }, (_, g) => ((w[i * 4 + (g >> 1)] >>> (g & 1 ? 0 : 16)) & 0xffff).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
};

/**
 * Where RPS puts each flow (rps_cpus mask 3 on one queue: map [0, 1]): the skb's hash is the
 * NIC's for TCP (an L4 RSS type), the flow dissector's for UDP (ixgbe hashes UDP ports only with
 * rx-flow-hash sdfn), scaled onto the map by reciprocal_scale, as get_rps_cpu does.
 */
function rpsPlacement(cfg: Config): Map<string, number> {
  flow_hash_init(cfg.flow_hash, cfg.seed);
  const frames = runFrames(cfg);
  const rss = rssEngine(cfg);
  const out = new Map<string, number>();
  const buf = new Uint8Array(cfg.pkt_size);
  const t = frames.flows;
  for (let i = 0; i < t.count; i++) {
    frames.write(buf, 0, i);
    const tcp = t.proto[i] === IPPROTO_TCP;
    const hash = tcp ? rss.hash_i32(buf, 0, cfg.pkt_size - 4) >>> 0 : skb_flow_dissect_hash(buf, 0, cfg.pkt_size - 4);
    const six = t.family[i] === 6;
    const key = `${tcp ? 'tcp' : 'udp'} ${six ? v6(t.saddr6, i) : v4(t.saddr[i])}:${t.sport[i]} > ${six ? v6(t.daddr6, i) : v4(t.daddr[i])}:${t.dport[i]}`;
    out.set(key, [0, 1][reciprocal_scale(hash, 2)]);
  }
  return out;
}

/** The tap's file against the run: the count of skbs, and each one's CPU. */
function expectTapMatches(r: RunResult, cfg: Config, path: string): void {
  const processed = sum(r.percpu.map((p) => p.processed));
  expect(r.tap!.packets + r.tap!.drops).toBe(processed);
  const pkts = tshark(path);
  expect(pkts.length).toBe(r.tap!.packets);
  for (const { cpu } of r.percpu) {
    expect(pkts.filter((k) => k.iface === cpu).length, `cpu${cpu}`).toBe(r.tap!.percpu[cpu].packets);
  }
  const where = rpsPlacement(cfg);
  const wrong = pkts.filter((k) => where.get(k.key) !== k.iface);
  expect(wrong.slice(0, 3)).toEqual([]);
  expect(new Set(pkts.map((k) => k.iface)).size).toBe(2);
}

// 2 CPUs, one queue on CPU 0, RPS to both; IPv4 and IPv6, UDP and TCP (GRO merges the TCP).
const RPS = {
  cpus: 2,
  queues: 1,
  'irq-affinity': 0,
  'rps-cpus': '3',
  ip: 'mix',
  proto: 'mix',
  'pkt-size': 300,
  flows: 48,
  packets: 20_000,
};

describe('--tap, as tcpdump sees the device', () => {
  it('sim: tshark counts every skb that reached __netif_receive_skb_core, each on the CPU RPS chose', () => {
    const path = join(dir, 'sim.pcapng');
    const cfg = config({ mode: 'sim', ...RPS, tap: path });
    const r = simulate(cfg).result;
    expect(conserves(r)).toBe(true);
    expect(r.tap!.drops).toBe(0);
    expectTapMatches(r, cfg, path);
    // GRO: a merged train is one tapped packet, as long as its segments together.
    const merged = sum(r.percpu.map((p) => p.gro_merged));
    expect(merged).toBeGreaterThan(1000);
    expect(r.tap!.packets).toBe(20_000 - merged);
    expect(Math.max(...tshark(path).map((k) => k.len))).toBeGreaterThan(1000);
  });

  it('sim: the file is the same run after run', () => {
    const a = join(dir, 'a.pcapng');
    const b = join(dir, 'b.pcapng');
    simulate(config({ mode: 'sim', ...RPS, packets: 3000, tap: a }));
    simulate(config({ mode: 'sim', ...RPS, packets: 3000, tap: b }));
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).length).toBeGreaterThan(3000 * 64);
  });

  it('threads: the same count and placement, whatever the host', async () => {
    const path = join(dir, 'threads.pcapng');
    const r = await run({ ...RPS, packets: 10_000, rate: 200_000, tap: path });
    expectTapMatches(r, config({ ...RPS, packets: 10_000, rate: 200_000, tap: path }), path);
  });

  it('a full ring is a counted tap drop; the stack is not affected', () => {
    const path = join(dir, 'small.pcapng');
    const r = simulate(config({ mode: 'sim', ...RPS, 'pkt-size': 1518, proto: 'udp', tap: path, 'tap-buffer': 65536 })).result;
    expect(conserves(r)).toBe(true);
    expect(r.tap!.drops).toBeGreaterThan(0);
    expect(r.tap!.packets + r.tap!.drops).toBe(sum(r.percpu.map((p) => p.processed)));
    expect(tshark(path).length).toBe(r.tap!.packets);
  });

  it("one buffer for every CPU (tpacket_rcv claims the socket's ring under its lock): 1 CPU and 4 drop alike at one load", () => {
    // The load with 1,514-byte frames, so the 64 KiB buffer overflows between reads.
    const load = { mode: 'sim', queues: 1, rate: 500_000, packets: 50_000, 'pkt-size': 1518, 'tap-buffer': 65536 };
    const one = simulate(config({ ...load, cpus: 1, tap: join(dir, 'one.pcapng') })).result;
    const four = simulate(config({ ...load, cpus: 4, 'rps-cpus': 'f', tap: join(dir, 'four.pcapng') })).result;
    expect(one.tap!.drops).toBeGreaterThan(10_000);
    expect(four.percpu.every((p) => p.processed > 0)).toBe(true);
    expect(Math.abs(four.tap!.drops - one.tap!.drops) / one.tap!.drops).toBeLessThan(0.03);
    // The buffer is --tap-buffer, not split: with it split four ways, 4 CPUs dropped far more.
    expect(four.tap!.packets + four.tap!.drops).toBe(50_000);
  });

  it('an Interface Statistics Block per interface ends the file, as dumpcap writes them (isb_ifrecv, isb_ifdrop)', () => {
    const path = join(dir, 'isb.pcapng');
    const r = simulate(config({ mode: 'sim', ...RPS, 'pkt-size': 1518, proto: 'udp', tap: path, 'tap-buffer': 65536 })).result;
    expect(r.tap!.drops).toBeGreaterThan(0);
    const isbs = interfaceStatistics(readFileSync(path));
    expect(isbs.map((b) => b.iface)).toEqual([0, 1]);
    for (const b of isbs) {
      expect(b.ifrecv).toBe(r.tap!.percpu[b.iface].packets);
      expect(b.ifdrop).toBe(r.tap!.percpu[b.iface].drops);
      expect(b.end).toBeGreaterThan(b.start);
    }
    // capinfos reads them: a stat entry for each interface (none before there were ISBs).
    const info = spawnSync('capinfos', ['-I', path], { encoding: 'utf8' }).stdout;
    expect(info.match(/Number of stat entries = 1/g)).toHaveLength(2);
  });

  it("records are in time order across interfaces (sim: sorted across the CPUs' clocks; threads: one clock)", async () => {
    const order = (path: string) => {
      const t = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      return t.stdout.trim().split('\n').map(Number);
    };
    const nondecreasing = (ts: number[]) => ts.every((t, i) => i === 0 || t >= ts[i - 1]);
    const path = join(dir, 'order.pcapng');
    simulate(config({ mode: 'sim', ...RPS, cpus: 4, 'rps-cpus': 'f', seed: 9, tap: path }));
    const sim = order(path);
    expect(sim.length).toBeGreaterThan(10_000);
    expect(nondecreasing(sim)).toBe(true);
    const tpath = join(dir, 'order-threads.pcapng');
    await run({ ...RPS, packets: 10_000, rate: 200_000, tap: tpath });
    expect(nondecreasing(order(tpath))).toBe(true);
  });

  it('a path that cannot be written is one line, exit 2, before anything starts', () => {
    for (const [path, msg] of [
      [join(dir, 'no', 'such', 'dir', 'x.pcapng'), /^rxsmp: --tap .*x\.pcapng: cannot write it \(no directory .*dir\)$/],
      [dir, /^rxsmp: --tap .*: is a directory; give a file name$/],
    ] as const) {
      const r = cli(['run', '--tap', path, '--packets', '100']);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(msg);
    }
  });
});
