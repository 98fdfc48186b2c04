// IPv6 throughout: the generator's frames, the 82599's RSS over IPv6 (checked against the
// Microsoft/Intel RSS verification suite's IPv6 vectors), the flow dissector's IPv6 keys,
// ipv6_rcv and the IPv6 socket lookup, GRO for TCP over IPv6, and the order check. Sim runs
// give exact figures; the threads run asserts invariants only.

import { describe, expect, it } from 'vitest';
import { config } from './harness.js';
import { cli, run, sum } from './e2e.js';
import { simulate, type SimRunResult } from '../dist/src/engine/sim_run.js';
import { conserves } from '../dist/src/engine/result.js';
import { makeFlowTable, type FlowSpec } from '../dist/src/devices/flows.js';
import { buildFrameTemplate, stampPacket } from '../dist/src/devices/frame_template.js';
import { frame_payload_index, l4_offset, verify_l4_csum, ETH_HLEN } from '../dist/src/uapi/inet.js';
import { MS_RSS_KEY, ToeplitzTable } from '../dist/src/uapi/toeplitz.js';
import { RssEngine, RSS_L3, RSS_L4, RSS_NONE } from '../dist/src/devices/nic.js';
import { flow_hash_init, skb_flow_dissect_hash } from '../dist/src/kernel/hash/flow_dissector.js';
import { Prng } from '../dist/src/lib/prng.js';
import { MIXED_FLOWS, pcapFile, v6, type Pkt } from './capture_files.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Flags = Record<string, string | number>;
const sim = (flags: Flags): SimRunResult => simulate(config({ mode: 'sim', ...flags })).result;

// The IPv6 table of "Verifying the RSS Hash Calculation" (Microsoft's RSS verification suite,
// the key MS_RSS_KEY): destination, source, hash of the addresses, hash with TCP ports.
const VECTORS = [
  { dst: '3ffe:2501:200:3::1', dport: 1766, src: '3ffe:2501:200:1fff::7', sport: 2794, ip: 0x2cc18cd5, tcp: 0x40207d3d },
  { dst: 'ff02::1', dport: 4739, src: '3ffe:501:8::260:97ff:fe40:efab', sport: 14230, ip: 0x0f0c461c, tcp: 0xdde51bbf },
  {
    dst: 'fe80::200:f8ff:fe21:67cf',
    dport: 38024,
    src: '3ffe:1900:4545:3:200:f8ff:fe21:67cf',
    sport: 44251,
    ip: 0x4b61e985,
    tcp: 0x02d1feef,
  },
];

function frameOf(v: (typeof VECTORS)[number], proto: 6 | 17, len = 128): Uint8Array {
  const out = new Uint8Array(len);
  const flow: FlowSpec = { saddr: 0, daddr: 0, sport: v.sport, dport: v.dport, proto, family: 6, saddr6: v6(v.src), daddr6: v6(v.dst) };
  buildFrameTemplate(out, 0, flow, len, 1, 2);
  return out;
}

describe('RSS over IPv6: the verification suite', () => {
  it('the Toeplitz hash of each IPv6 vector, addresses only and with the TCP ports', () => {
    const t = new ToeplitzTable(MS_RSS_KEY, 36);
    for (const v of VECTORS) {
      const f = frameOf(v, 6);
      expect(t.hashIpv6(f, ETH_HLEN, false), v.src).toBe(v.ip);
      expect(t.hashIpv6(f, ETH_HLEN, true), v.src).toBe(v.tcp);
    }
  });

  it("the NIC's hash types: TCP hashes the ports, UDP only with rx-flow-hash udp6 sdfn, non-IP none", () => {
    const sd = new RssEngine(MS_RSS_KEY, false, false);
    const sdfn = new RssEngine(MS_RSS_KEY, false, true);
    for (const v of VECTORS) {
      expect(sd.hash_i32(frameOf(v, 6), 0, 128) >>> 0).toBe(v.tcp);
      expect(sd.type).toBe(RSS_L4);
      expect(sd.hash_i32(frameOf(v, 17), 0, 128) >>> 0).toBe(v.ip);
      expect(sd.type).toBe(RSS_L3);
      expect(sdfn.hash_i32(frameOf(v, 17), 0, 128) >>> 0).toBe(v.tcp);
      expect(sdfn.type).toBe(RSS_L4);
    }
    const arp = new Uint8Array(60);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(sd.hash_i32(arp, 0, 60)).toBe(0);
    expect(sd.type).toBe(RSS_NONE);
  });

  it('each vector lands on the queue its hash predicts: the indirection table entry hash & 127', () => {
    // 8 queues, the default table (entry i -> queue i mod 8): the queue is (hash & 127) mod 8.
    const queues = [0x40207d3d, 0xdde51bbf, 0x02d1feef].map((h) => (h & 127) % 8);
    expect(queues).toEqual([5, 7, 7]);
    const rss = new RssEngine(MS_RSS_KEY, false, false);
    const reta = Array.from({ length: 128 }, (_, i) => i % 8);
    expect(VECTORS.map((v) => reta[rss.hash_i32(frameOf(v, 6), 0, 128) & 127])).toEqual(queues);
  });
});

describe('IPv6 frames', () => {
  it('stamped IPv6 frames keep a valid L4 checksum and carry their index', () => {
    for (const proto of [6, 17] as const) {
      const f = frameOf(VECTORS[0], proto, 200);
      for (const index of [1, 77, 0x12345678]) {
        stampPacket(f, 0, index, 1000, true); // no IPv4 header: the corruption cannot apply
        expect(verify_l4_csum(f, 0)).toBe(true);
        expect(frame_payload_index(f, 0)).toBe(index);
        expect(l4_offset(f, 0)).toBe(ETH_HLEN + 40);
      }
    }
  });

  it('--ip mix draws the IPv4 tuples of --ip 4 and a family per flow; --ip 6 puts them under the IPv6 prefixes', () => {
    const four = makeFlowTable(500, new Prng(3), 'udp', '4');
    const six = makeFlowTable(500, new Prng(3), 'udp', '6');
    expect(Array.from(six.sport)).toEqual(Array.from(four.sport));
    expect(Array.from(six.family).every((f) => f === 6)).toBe(true);
    expect(six.saddr6[3]).toBe(four.saddr[0]);
    const mix = makeFlowTable(500, new Prng(3), 'udp', 'mix');
    const v6n = Array.from(mix.family).filter((f) => f === 6).length;
    expect(v6n).toBeGreaterThan(200);
    expect(v6n).toBeLessThan(300);
  });
});

describe('the flow dissector over IPv6 (skb_get_hash)', () => {
  flow_hash_init('siphash', 1);
  const frame = (flowlabel: number, sport: number, hop = false): Uint8Array => {
    const f = frameOf({ ...VECTORS[0], sport }, 17, 128);
    f[ETH_HLEN + 1] = (f[ETH_HLEN + 1] & 0xf0) | ((flowlabel >> 16) & 0x0f);
    f[ETH_HLEN + 2] = (flowlabel >> 8) & 0xff;
    f[ETH_HLEN + 3] = flowlabel & 0xff;
    if (!hop) return f;
    // A hop-by-hop options header (8 bytes: next header UDP, length 0, PadN) before the UDP header.
    const g = new Uint8Array(136);
    g.set(f.subarray(0, ETH_HLEN + 40));
    g[ETH_HLEN + 6] = 0;
    g.set([17, 0, 1, 4, 0, 0, 0, 0], ETH_HLEN + 40);
    g.set(f.subarray(ETH_HLEN + 40), ETH_HLEN + 48);
    return g;
  };

  it('a flow label ends dissection (FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL): the ports do not count', () => {
    const a = skb_flow_dissect_hash(frame(0x12345, 1000), 0, 128);
    expect(skb_flow_dissect_hash(frame(0x12345, 2000), 0, 128)).toBe(a);
    expect(skb_flow_dissect_hash(frame(0x12346, 1000), 0, 128)).not.toBe(a);
  });

  it('without a label the ports count, after the extension headers', () => {
    const a = skb_flow_dissect_hash(frame(0, 1000), 0, 128);
    expect(skb_flow_dissect_hash(frame(0, 2000), 0, 128)).not.toBe(a);
    expect(skb_flow_dissect_hash(frame(0, 1000, true), 0, 136)).toBe(a);
    // The generator's frames carry a label (auto_flowlabels): a different hash from the unlabelled one.
    expect(skb_flow_dissect_hash(frameOf(VECTORS[0], 17, 128), 0, 128)).not.toBe(a);
  });

  it('both directions of an unlabelled flow hash alike (__flow_hash_consistentify)', () => {
    const f = frame(0, 1000);
    const g = f.slice();
    g.set(f.subarray(ETH_HLEN + 24, ETH_HLEN + 40), ETH_HLEN + 8);
    g.set(f.subarray(ETH_HLEN + 8, ETH_HLEN + 24), ETH_HLEN + 24);
    g.set(f.subarray(ETH_HLEN + 42, ETH_HLEN + 44), ETH_HLEN + 40);
    g.set(f.subarray(ETH_HLEN + 40, ETH_HLEN + 42), ETH_HLEN + 42);
    expect(skb_flow_dissect_hash(g, 0, 128)).toBe(skb_flow_dissect_hash(f, 0, 128));
  });
});

describe('--ip and --pkt-size', () => {
  it('the default frame grows to fit the headers; a smaller one names the minimum', () => {
    expect(config({ ip: '6' }).pkt_size).toBe(70);
    expect(config({ ip: '6', proto: 'tcp' }).pkt_size).toBe(82);
    expect(config({ ip: 'mix', proto: 'mix' }).pkt_size).toBe(82);
    expect(config({}).pkt_size).toBe(64);
    expect(config({ ip: '6', proto: 'tcp', 'pkt-size': 94 }).tcp_timestamps).toBe(true);
    expect(config({ ip: '6', proto: 'tcp', 'pkt-size': 93 }).tcp_timestamps).toBe(false);
    const r = cli(['run', '--ip', '6', '--proto', 'tcp', '--pkt-size', '64']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      'rxsmp: --pkt-size: 64 is too small; IPv6 TCP frames (Ethernet 14, IPv6 40, TCP 20, the 4-byte packet index, the FCS 4) need 82 bytes or more',
    );
    const t = cli(['run', '--ip', '6', '--proto', 'tcp', '--pkt-size', '90', '--tcp-timestamps', 'on']);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/--tcp-timestamps: on needs --pkt-size 94 or more/);
  });
});

describe('sim: IPv6 through the stack', () => {
  it('TCP over IPv6 merges in GRO, RPS spreads it, every segment is read once, in order', () => {
    const r = sim({ ip: '6', proto: 'tcp', 'pkt-size': 1518, cpus: 4, queues: 1, 'rps-cpus': 'f', packets: 40_000, seed: 3 });
    expect(conserves(r)).toBe(true);
    expect(r.packets.delivered).toBe(40_000);
    expect(r.ordering.out_of_order).toBe(0);
    const merged = r.percpu.reduce((a, p) => a + p.gro_merged, 0);
    expect(merged).toBeGreaterThan(10_000);
    expect(r.percpu.filter((p) => p.received_rps > 0).length).toBe(3);
  });

  it('UDP over IPv6 with RPS: the flow dissector hashes (no L4 RSS hash), flows spread, none reordered', () => {
    const r = sim({ ip: '6', cpus: 4, queues: 1, 'rps-cpus': 'f', packets: 30_000, seed: 2 });
    expect(conserves(r)).toBe(true);
    expect(r.ordering.out_of_order).toBe(0);
    expect(r.percpu[0].flow_dissected).toBe(30_000);
    expect(r.percpu.filter((p) => p.processed > 3_000).length).toBe(4);
  });

  it('--ip mix with RFS and --proto mix: both families find their sockets, none dropped for want of one', () => {
    const r = sim({
      ip: 'mix',
      proto: 'mix',
      cpus: 2,
      queues: 1,
      'rps-cpus': '3',
      'rps-sock-flow-entries': 4096,
      'rps-flow-cnt': 1024,
      packets: 30_000,
      seed: 4,
    });
    expect(conserves(r)).toBe(true);
    expect(r.packets.dropped.no_socket).toBe(0);
    expect(r.packets.dropped.ip_hdr).toBe(0);
    expect(r.ordering.out_of_order).toBe(0);
    // The rest overflow UDP sockets (closed loop) while their readers wait out ksoftirqd's
    // slices, CFS's 2-CPU tunables (x2): socket drops, not lookups that failed.
    expect(r.packets.delivered + r.packets.dropped.socket).toBe(30_000);
    expect(r.packets.delivered).toBeGreaterThan(20_000);
  });

  it('--bad-csum-rate damages only IPv4 headers: every damaged one is dropped as ip_csum', () => {
    const r = sim({ ip: 'mix', 'bad-csum-rate': 0.1, packets: 20_000, seed: 5 });
    expect(conserves(r)).toBe(true);
    expect(r.packets.generated_bad_ip_csum).toBeGreaterThan(500);
    expect(r.packets.generated_bad_ip_csum).toBeLessThan(1500);
    expect(r.packets.dropped.ip_csum).toBe(r.packets.generated_bad_ip_csum);
  });
});

describe('threads: IPv6 and IPv4 together', () => {
  it('--ip mix --proto mix with RPS conserves and keeps every flow in order', async () => {
    const r = await run({ ip: 'mix', proto: 'mix', cpus: 2, queues: 1, 'rps-cpus': '3', flows: 32, packets: 20_000, rate: 100_000 });
    expect(r.packets.dropped.no_socket).toBe(0);
    expect(r.ordering.out_of_order).toBe(0);
  });
});

describe('IPv6 extension headers (ipv6_gro_receive, ip6_rcv_core, ip6_protocol_deliver_rcu, ipv6_rthdr_rcv)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxsmp-ext6-'));
  const TCP6: FlowSpec = MIXED_FLOWS[3]; // TCP over IPv6
  const HOP = 0;
  const ROUTING = 43;
  const DEST = 60;
  /** An 8-byte hop-by-hop or destination options header: next header, length 0, PadN of 4. */
  const opts = (next: number) => [next, 0, 1, 4, 0, 0, 0, 0];
  /** A type 0 routing header with one address and `left` segments left. */
  const rthdr0 = (next: number, left: number) => [next, 2, 0, left, 0, 0, 0, 0, ...new Array<number>(16).fill(0x20)];
  /**
   * `n` frames of the TCP flow (consecutive sequence numbers, 100-byte payloads), each with
   * `ext` (a list of headers, each starting with its next header) inserted after the IPv6
   * header: payload_len grows by their length, the TCP checksum is unchanged.
   */
  function framesWith(n: number, first: number, ext: number[]): Pkt[] {
    return Array.from({ length: n }, (_, i) => {
      const base = new Uint8Array(14 + 40 + 20 + 100);
      buildFrameTemplate(base, 0, TCP6, base.length, 1, 2);
      stampPacket(base, 0, i, TCP6.isn!, false);
      const frame = new Uint8Array(base.length + ext.length);
      frame.set(base.subarray(0, 54));
      frame.set(ext, 54);
      frame.set(base.subarray(54), 54 + ext.length);
      frame[20] = first; // the IPv6 header's next header
      new DataView(frame.buffer).setUint16(18, 20 + 100 + ext.length);
      return { frame, ts_ns: 1_700_000_000_000_000_000n + BigInt(i) * 1000n };
    });
  }
  const replay = (name: string, pkts: Pkt[], flags: Flags = {}) => {
    const path = join(dir, name);
    writeFileSync(path, pcapFile(pkts));
    return sim({ pcap: path, cpus: 1, queues: 1, ...flags });
  };

  it('ipv6_gro_receive pulls hop-by-hop and destination options (ipv6_gso_pull_exthdrs) and merges the TCP behind them', () => {
    const r = replay('hbh-dst.pcap', framesWith(64, HOP, [...opts(DEST), ...opts(6)]), { rate: 2_000_000 });
    expect(conserves(r)).toBe(true);
    expect(r.packets.delivered).toBe(64);
    expect(r.ordering.out_of_order).toBe(0);
    expect(sum(r.percpu.map((p) => p.gro_merged))).toBeGreaterThan(32);
    expect(r.snmp6).toEqual({ Ip6InHdrErrors: 0, Ip6InAddrErrors: 0, Ip6InUnknownProtos: 0, Ip6InTruncatedPkts: 0 });
    // The same flow without extension headers merges alike: the headers cost GRO nothing.
    const plain = replay('plain.pcap', framesWith(64, 6, []), { rate: 2_000_000 });
    expect(sum(r.percpu.map((p) => p.gro_merged))).toBe(sum(plain.percpu.map((p) => p.gro_merged)));
    // The TCP checksum is found behind the headers (the pseudo-header's length is TCP's).
    const verified = replay('hbh-dst.pcap', framesWith(64, HOP, [...opts(DEST), ...opts(6)]), { 'l4-csum-verify': 'on' });
    expect(verified.packets.dropped.l4_csum).toBe(0);
    expect(verified.packets.delivered).toBe(64);
  });

  it('a hop-by-hop header not first is InUnknownProtos; a type 0 routing header with segments left is InHdrErrors (JSON, --proc snmp6)', () => {
    const late = framesWith(10, DEST, [...opts(HOP), ...opts(6)]);
    const rh0 = framesWith(6, ROUTING, rthdr0(6, 1)).map((p) => ({ ...p, ts_ns: p.ts_ns + 1_000_000n }));
    const done = framesWith(4, ROUTING, rthdr0(6, 0)).map((p) => ({ ...p, ts_ns: p.ts_ns + 2_000_000n }));
    const path = join(dir, 'bad.pcap');
    writeFileSync(path, pcapFile([...late, ...rh0, ...done]));
    const procDir = join(dir, 'proc');
    const p = cli(['run', '--mode', 'sim', '--pcap', path, '--cpus', '1', '--queues', '1', '--gro', 'off', '--json', '--proc', procDir]);
    expect(p.status).toBe(0);
    const r = JSON.parse(p.stdout);
    expect(r.packets.dropped.ip_unknown_proto).toBe(10);
    expect(r.packets.dropped.ip_hdr).toBe(6);
    // segments_left 0: the routing header is done with, the TCP behind it delivered.
    expect(r.packets.delivered).toBe(4);
    expect(r.snmp6).toEqual({ Ip6InHdrErrors: 6, Ip6InAddrErrors: 0, Ip6InUnknownProtos: 10, Ip6InTruncatedPkts: 0 });
    const lines = Object.fromEntries(
      readFileSync(join(procDir, 'net', 'snmp6'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)),
    );
    expect(lines).toEqual({ Ip6InHdrErrors: '6', Ip6InAddrErrors: '0', Ip6InUnknownProtos: '10', Ip6InTruncatedPkts: '0' });
  });

  it('ipv6_rthdr_rcv: a multicast destination is InAddrErrors; type 2 needs hdrlen 2 and one segment left; SRv6 is freed uncounted', () => {
    const mcast = framesWith(3, ROUTING, rthdr0(6, 0)).map((p) => {
      p.frame[14 + 24] = 0xff; // ff.. destination
      return p;
    });
    const type2 = (hdrlen: number, left: number) => [6, hdrlen, 2, left, 0, 0, 0, 0, ...new Array<number>(8 * hdrlen).fill(0x20)];
    const srh = [6, 2, 4, 0, 0, 0, 0, 0, ...new Array<number>(16).fill(0)];
    const at = (pkts: Pkt[], k: number) => pkts.map((p) => ({ ...p, ts_ns: p.ts_ns + BigInt(k) * 1_000_000n }));
    const r = replay(
      'rthdr.pcap',
      [
        ...mcast,
        ...at(framesWith(2, ROUTING, type2(2, 1)), 1), // valid, but no Mobile IPv6 state takes it: InAddrErrors
        ...at(framesWith(5, ROUTING, type2(4, 1)), 2), // hdrlen not 2: InHdrErrors
        ...at(framesWith(7, ROUTING, type2(2, 0)), 3), // not processed here: InAddrErrors
        ...at(framesWith(4, ROUTING, srh), 4), // seg6_enabled 0: freed
      ],
      { gro: 'off' },
    );
    expect(conserves(r)).toBe(true);
    expect(r.packets.dropped.ip_addr).toBe(3 + 2 + 7);
    expect(r.packets.dropped.ip_hdr).toBe(5);
    expect(r.packets.dropped.srh_disabled).toBe(4);
    expect(r.snmp6).toEqual({ Ip6InHdrErrors: 5, Ip6InAddrErrors: 12, Ip6InUnknownProtos: 0, Ip6InTruncatedPkts: 0 });
  });
});
