// Test-side writers of pcap and pcapng files, byte by byte from the format drafts, so the
// reader is checked against files built independently of it (and, in test/replay.test.ts,
// against Debian's text2pcap).

import type { FlowSpec } from '../dist/src/devices/flows.js';
import { buildFrameTemplate, stampPacket } from '../dist/src/devices/frame_template.js';

export interface Pkt {
  frame: Uint8Array;
  /** ns since the epoch. */
  ts_ns: bigint;
  /** Bytes on the wire, if more than were captured (snaplen). */
  origlen?: number;
}

class Out {
  private chunks: Uint8Array[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.chunks.push(Uint8Array.of(v));
    return this;
  }
  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.le);
    this.chunks.push(b);
    return this;
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.le);
    this.chunks.push(b);
    return this;
  }
  bytes(b: Uint8Array, pad4 = false): this {
    this.chunks.push(b);
    if (pad4 && b.length % 4) this.chunks.push(new Uint8Array(4 - (b.length % 4)));
    return this;
  }
  get length(): number {
    return this.chunks.reduce((a, c) => a + c.length, 0);
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** A pcap file: microsecond or nanosecond timestamps, either byte order, link type 1 (or `linktype`). */
export function pcapFile(pkts: Pkt[], o: { le?: boolean; ns?: boolean; linktype?: number; snaplen?: number } = {}): Uint8Array {
  const w = new Out(o.le ?? true);
  w.u32(o.ns ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(o.snaplen ?? 262144)
    .u32(o.linktype ?? 1);
  for (const p of pkts) {
    const sec = p.ts_ns / 1_000_000_000n;
    const frac = p.ts_ns % 1_000_000_000n;
    w.u32(Number(sec))
      .u32(Number(o.ns ? frac : frac / 1000n))
      .u32(p.frame.length)
      .u32(p.origlen ?? p.frame.length)
      .bytes(p.frame);
  }
  return w.done();
}

function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const len = 12 + body.length + ((4 - (body.length % 4)) % 4);
  return new Out(le).u32(type).u32(len).bytes(body, true).u32(len).done();
}

/** An option list (code, value) with opt_endofopt. */
function options(le: boolean, opts: [number, Uint8Array][]): Uint8Array {
  const w = new Out(le);
  for (const [code, v] of opts) w.u16(code).u16(v.length).bytes(v, true);
  if (opts.length) w.u16(0).u16(0);
  return w.done();
}

export interface NgInterface {
  linktype?: number;
  snaplen?: number;
  /** if_tsresol's byte (6: µs, the default; 9: ns; 0x80 | k: 2^-k). */
  tsresol?: number;
  name?: string;
}

/**
 * A pcapng file: a section of `le` byte order with these interfaces, packets on them (EPB, or
 * SPB when `spb`), and a name resolution block and a custom block (to be skipped) between.
 */
export function pcapngFile(
  pkts: (Pkt & { iface?: number })[],
  o: { le?: boolean; interfaces?: NgInterface[]; spb?: boolean; extraBlocks?: boolean } = {},
): Uint8Array {
  const le = o.le ?? true;
  const parts: Uint8Array[] = [];
  parts.push(block(le, 0x0a0d0d0a, new Out(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).done()));
  const ifs = o.interfaces ?? [{}];
  for (const itf of ifs) {
    const opts: [number, Uint8Array][] = [];
    if (itf.name) opts.push([2, new TextEncoder().encode(itf.name)]);
    if (itf.tsresol !== undefined) opts.push([9, Uint8Array.of(itf.tsresol)]);
    const body = new Out(le)
      .u16(itf.linktype ?? 1)
      .u16(0)
      .u32(itf.snaplen ?? 0)
      .bytes(options(le, opts))
      .done();
    parts.push(block(le, 1, body));
  }
  if (o.extraBlocks) {
    parts.push(
      block(
        le,
        4,
        new Out(le)
          .u16(1)
          .u16(6)
          .bytes(Uint8Array.of(10, 0, 0, 1, 0x61, 0), true)
          .u16(0)
          .u16(0)
          .done(),
      ),
    ); // NRB
    parts.push(
      block(
        le,
        0x00000bad,
        new Out(le)
          .u32(32473)
          .bytes(Uint8Array.of(1, 2, 3))
          .done(),
      ),
    ); // custom
  }
  for (const p of pkts) {
    const itf = ifs[p.iface ?? 0];
    const r = itf.tsresol ?? 6;
    const units = r & 0x80 ? (p.ts_ns << BigInt(r & 0x7f)) / 1_000_000_000n : p.ts_ns / 10n ** BigInt(9 - r);
    if (o.spb) {
      parts.push(
        block(
          le,
          3,
          new Out(le)
            .u32(p.origlen ?? p.frame.length)
            .bytes(p.frame, true)
            .done(),
        ),
      );
    } else {
      const body = new Out(le)
        .u32(p.iface ?? 0)
        .u32(Number(units >> 32n))
        .u32(Number(units & 0xffffffffn))
        .u32(p.frame.length)
        .u32(p.origlen ?? p.frame.length)
        .bytes(p.frame, true)
        .done();
      parts.push(block(le, 6, body));
    }
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Flow i of the mixed test traffic: IPv4 and IPv6, UDP and TCP. */
export const MIXED_FLOWS: FlowSpec[] = [
  { saddr: 0x0a000001, daddr: 0xc0a80001, sport: 40000, dport: 5001, proto: 17 },
  { saddr: 0x0a000002, daddr: 0xc0a80001, sport: 40001, dport: 80, proto: 6, isn: 1000 },
  { saddr: 0, daddr: 0, sport: 40002, dport: 5001, proto: 17, family: 6, saddr6: [0x20010db8, 0, 0, 1], daddr6: [0x20010db8, 0, 0, 2] },
  {
    saddr: 0,
    daddr: 0,
    sport: 40003,
    dport: 443,
    proto: 6,
    family: 6,
    saddr6: [0x20010db8, 0, 0, 3],
    daddr6: [0x20010db8, 0, 0, 2],
    isn: 7,
  },
  { saddr: 0x0a000003, daddr: 0xc0a80002, sport: 40004, dport: 5001, proto: 17 },
];

/** An ARP request (42 bytes, unpadded, as a sender's capture shows it). */
export function arpFrame(): Uint8Array {
  const f = new Uint8Array(42);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
  return f;
}

/**
 * `n` frames round-robin over the flows of MIXED_FLOWS (each stamped with its per-flow index)
 * and, every `arpEvery`th, an ARP frame; `gap_ns` apart from `t0`.
 */
export function mixedTraffic(
  n: number,
  o: { len?: number; arpEvery?: number; gap_ns?: bigint; t0?: bigint; flows?: FlowSpec[] } = {},
): Pkt[] {
  const flows = o.flows ?? MIXED_FLOWS;
  const idx = new Array<number>(flows.length).fill(0);
  const out: Pkt[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    const t = (o.t0 ?? 1_700_000_000_000_000_000n) + BigInt(i) * (o.gap_ns ?? 10_000n);
    if (o.arpEvery && i % o.arpEvery === o.arpEvery - 1) {
      out.push({ frame: arpFrame(), ts_ns: t });
      continue;
    }
    const f = k++ % flows.length;
    const frame = new Uint8Array(o.len ?? 200);
    buildFrameTemplate(frame, 0, flows[f], frame.length, 1, 2);
    stampPacket(frame, 0, idx[f]++, flows[f].isn ?? 0, false);
    out.push({ frame, ts_ns: t });
  }
  return out;
}

/** An IPv6 address in text (with ::) as four u32 words. */
export function v6(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  return [0, 1, 2, 3].map((w) => ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0);
}

/** An ICMP echo request over IPv4 (a valid header checksum): ip_rcv takes it, no socket does. */
export function icmpFrame(): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 32);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = [0x45, 0, 0, 60, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip[10] = (~sum >> 8) & 0xff;
  ip[11] = ~sum & 0xff;
  f.set(ip, 14);
  f.set([8, 0, 0, 0, 0, 1, 0, 1], 34);
  return f;
}

/**
 * The four kinds of capture with no UDP/TCP flow: only ARP, only ICMP, every frame cut by its
 * snaplen, and zero-length records (`n` frames each).
 */
export function noFlowCaptures(n: number): Record<'arp' | 'icmp' | 'snaplen' | 'zero_length', Uint8Array> {
  const at = (i: number) => 1_700_000_000_000_000_000n + BigInt(i) * 10_000n;
  const many = (frame: () => Uint8Array, origlen?: number): Pkt[] =>
    Array.from({ length: n }, (_, i) => ({ frame: frame(), ts_ns: at(i), ...(origlen === undefined ? {} : { origlen }) }));
  const udp = mixedTraffic(1)[0].frame;
  return {
    arp: pcapFile(many(arpFrame)),
    icmp: pcapFile(many(icmpFrame)),
    snaplen: pcapFile(
      many(() => udp.slice(0, 40), udp.length),
      { snaplen: 40 },
    ),
    zero_length: pcapFile(many(() => new Uint8Array(0))),
  };
}
