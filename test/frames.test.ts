/**
 * frames.test.ts: the generator's wire format and the kernel's checksum helpers.
 * Known vectors from RFC 1071, RFC 1624 and the Wikipedia IPv4 header checksum example; the
 * L4 checksums are cross-checked against an independent reference sum written here.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Prng } from '../src/lib/prng.js';
import { type FlowSpec, flow_isn, makeFlows } from '../src/devices/flows.js';
import { buildFrameTemplate, stampPacket } from '../src/devices/frame_template.js';
import {
  ETH_HLEN,
  ETH_P_IP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  csum_fold,
  csum_partial,
  csum_replace2,
  csum_replace4,
  frame_l4_payload_len,
  frame_payload_index,
  frame_tcp_seq,
  ip_fast_csum,
  verify_l4_csum,
} from '../src/uapi/inet.js';

const SIZES = [60, 64, 65, 590, 1514];

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const be32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** Independent reference: RFC 1071 sum over an explicit word list, no shared helpers. */
function refL4Checksum(b: Uint8Array, off: number): number {
  const ip = off + ETH_HLEN;
  const ihl = (b[ip] & 0xf) * 4;
  const len = be16(b, ip + 2) - ihl;
  const l4 = ip + ihl;
  const proto = b[ip + 9];
  const checkOff = proto === IPPROTO_UDP ? 6 : 16;
  const words: number[] = [be16(b, ip + 12), be16(b, ip + 14), be16(b, ip + 16), be16(b, ip + 18), proto, len];
  for (let i = 0; i < len; i += 2) {
    const hi = b[l4 + i];
    const lo = i + 1 < len ? b[l4 + i + 1] : 0;
    words.push(i === checkOff ? 0 : (hi << 8) | lo);
  }
  let sum = words.reduce((a, w) => a + w, 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function flowOf(proto: 6 | 17, i = 0): FlowSpec {
  return { saddr: 0x0a010203 + i, daddr: 0xc0a80001, sport: 40000 + i, dport: 5001, proto, isn: flow_isn(i) };
}

function template(proto: 6 | 17, size: number, offset = 0, bufLen = size): Uint8Array {
  const buf = new Uint8Array(bufLen);
  buildFrameTemplate(buf, offset, flowOf(proto), size, 0x11223344, 0x55667788);
  return buf;
}

describe('checksum helpers', () => {
  it('ip_fast_csum accepts the Wikipedia example header and recomputes its checksum', () => {
    const h = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
    expect(ip_fast_csum(h, 0, 5)).toBe(0);
    h[10] = 0;
    h[11] = 0;
    expect(ip_fast_csum(h, 0, 5)).toBe(0xb861);
    // At an offset inside a larger buffer.
    const big = new Uint8Array(40);
    big.set(hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7'), 7);
    expect(ip_fast_csum(big, 7, 5)).toBe(0);
    big[7 + 19] ^= 1;
    expect(ip_fast_csum(big, 7, 5)).not.toBe(0);
  });

  it('csum_partial and csum_fold follow the RFC 1071 worked example', () => {
    // Words 0001 f203 f4f5 f6f7 sum (with end-around carry) to ddf2.
    const b = hex('0001 f203 f4f5 f6f7');
    const sum = csum_partial(b, 0, 8, 0);
    expect(csum_fold(sum)).toBe(~0xddf2 & 0xffff);
    // Odd length pads with a zero byte.
    expect(csum_fold(csum_partial(hex('0102 03'), 0, 3, 0))).toBe(~(0x0102 + 0x0300) & 0xffff);
  });

  it('csum_replace2 follows the RFC 1624 example (eqn. 3)', () => {
    // Other words sum to 0xcd7a; m = 0x5555 -> m' = 0x3285; HC = 0xdd2f; HC' = 0x0000.
    expect(csum_replace2(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });

  it('csum_replace2/4 agree with recomputation (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (raw, word32, value) => {
          const h = new Uint8Array(raw);
          h[10] = 0;
          h[11] = 0;
          const check = ip_fast_csum(h, 0, 5);
          h[10] = check >> 8;
          h[11] = check & 0xff;
          expect(ip_fast_csum(h, 0, 5)).toBe(0);
          const o = word32 === 2 ? 12 : word32 * 4; // skip the check field's word
          // 16-bit replacement.
          const old16 = be16(h, o);
          const new16 = value & 0xffff;
          h[o] = new16 >> 8;
          h[o + 1] = new16 & 0xff;
          const c2 = csum_replace2(be16(h, 10), old16, new16);
          h[10] = c2 >> 8;
          h[11] = c2 & 0xff;
          expect(ip_fast_csum(h, 0, 5)).toBe(0);
          // 32-bit replacement on another aligned word.
          const o4 = o === 16 ? 12 : 16;
          const old32 = be32(h, o4);
          h[o4] = value >>> 24;
          h[o4 + 1] = value >>> 16;
          h[o4 + 2] = value >>> 8;
          h[o4 + 3] = value;
          const c4 = csum_replace4(be16(h, 10), old32, value);
          h[10] = c4 >> 8;
          h[11] = c4 & 0xff;
          expect(ip_fast_csum(h, 0, 5)).toBe(0);
        },
      ),
      { seed: 1071, numRuns: 500 },
    );
  });
});

describe('buildFrameTemplate', () => {
  for (const proto of [IPPROTO_UDP, IPPROTO_TCP] as const) {
    for (const size of SIZES) {
      it(`${proto === IPPROTO_UDP ? 'UDP' : 'TCP'} ${size} bytes is a valid frame`, () => {
        const off = 3;
        const buf = template(proto, size, off, size + 10);
        expect(buf[0] | buf[1] | buf[2]).toBe(0); // nothing written before the frame
        expect(buf.subarray(off + size).every((x) => x === 0)).toBe(true); // nor after it
        const ip = off + ETH_HLEN;
        expect(Array.from(buf.subarray(off, off + 6))).toEqual([2, 0, 0x55, 0x66, 0x77, 0x88]);
        expect(Array.from(buf.subarray(off + 6, off + 12))).toEqual([2, 0, 0x11, 0x22, 0x33, 0x44]);
        expect(be16(buf, off + 12)).toBe(ETH_P_IP);
        expect(buf[ip]).toBe(0x45);
        expect(be16(buf, ip + 2)).toBe(size - ETH_HLEN);
        expect(be16(buf, ip + 4)).toBe(0);
        expect(be16(buf, ip + 6)).toBe(0x4000);
        expect(buf[ip + 8]).toBe(64);
        expect(buf[ip + 9]).toBe(proto);
        expect(ip_fast_csum(buf, ip, 5)).toBe(0);
        expect(verify_l4_csum(buf, off)).toBe(true);
        const l4check = be16(buf, ip + 20 + (proto === IPPROTO_UDP ? 6 : 16));
        const ref = refL4Checksum(buf, off);
        expect(l4check === ref || (proto === IPPROTO_UDP && ref === 0 && l4check === 0xffff)).toBe(true);
        const hlen = proto === IPPROTO_UDP ? 8 : 20;
        expect(frame_l4_payload_len(buf, off)).toBe(size - 34 - hlen);
        expect(frame_payload_index(buf, off)).toBe(0);
        if (proto === IPPROTO_UDP) {
          expect(be16(buf, ip + 24)).toBe(size - 34);
        } else {
          expect(frame_tcp_seq(buf, off)).toBe(flow_isn(0));
          expect(buf[ip + 32]).toBe(0x50);
          expect(buf[ip + 33]).toBe(0x10); // ACK only: PSH would make GRO flush
        }
      });
    }
  }

  it('leaves at least 4 payload bytes at the minimum size (6 for TCP, 18 for UDP)', () => {
    expect(frame_l4_payload_len(template(IPPROTO_TCP, 60), 0)).toBe(6);
    expect(frame_l4_payload_len(template(IPPROTO_UDP, 60), 0)).toBe(18);
  });

  it('detects a damaged payload', () => {
    for (const proto of [IPPROTO_UDP, IPPROTO_TCP] as const) {
      const buf = template(proto, 590);
      buf[300] ^= 0x40;
      expect(verify_l4_csum(buf, 0)).toBe(false);
    }
  });

  it('rejects bad arguments', () => {
    const buf = new Uint8Array(2000);
    const f = flowOf(IPPROTO_UDP);
    expect(() => buildFrameTemplate(buf, 0, f, 59, 0, 0)).toThrow(RangeError);
    // Jumbo frames (virtio, MTU 9000) end at 9014 bytes without the FCS.
    expect(() => buildFrameTemplate(new Uint8Array(10_000), 0, f, 9015, 0, 0)).toThrow(RangeError);
    expect(() => buildFrameTemplate(new Uint8Array(10_000), 0, f, 9014, 0, 0)).not.toThrow();
    expect(() => buildFrameTemplate(buf, 1000, f, 1514, 0, 0)).toThrow(RangeError);
    expect(() => buildFrameTemplate(buf, 0, { ...f, sport: 70000 }, 60, 0, 0)).toThrow(RangeError);
    expect(() => buildFrameTemplate(buf, 0, { ...f, proto: 1 as 6 }, 60, 0, 0)).toThrow(RangeError);
    expect(() => buildFrameTemplate(buf, 0, f, 60, -1, 0)).toThrow(RangeError);
  });
});

describe('stampPacket', () => {
  const arbCase = fc.record({
    proto: fc.constantFrom(IPPROTO_UDP, IPPROTO_TCP),
    size: fc.oneof(fc.constantFrom(...SIZES), fc.integer({ min: 60, max: 1514 })),
    isn: fc.integer({ min: 0, max: 0xffffffff }),
    indices: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 20 }),
  });

  it('keeps both checksums valid and the index/seq readable (property)', () => {
    fc.assert(
      fc.property(arbCase, ({ proto, size, isn, indices }) => {
        const off = 5;
        const buf = new Uint8Array(size + 16);
        buildFrameTemplate(buf, off, { ...flowOf(proto), isn }, size, 1, 2);
        const tpl = buf.slice();
        const payloadLen = frame_l4_payload_len(buf, off);
        for (const idx of indices) {
          // A fresh copy of the template, as the generator does...
          const fresh = tpl.slice();
          stampPacket(fresh, off, idx, isn, false);
          // ...and repeated stamping of the same bytes.
          stampPacket(buf, off, idx, isn, false);
          expect(Array.from(buf)).toEqual(Array.from(fresh));
          expect(ip_fast_csum(buf, off + ETH_HLEN, 5)).toBe(0);
          expect(verify_l4_csum(buf, off)).toBe(true);
          expect(frame_payload_index(buf, off)).toBe(idx);
          expect(be16(buf, off + ETH_HLEN + 4)).toBe(idx & 0xffff);
          if (proto === IPPROTO_TCP) {
            expect(frame_tcp_seq(buf, off)).toBe((isn + idx * payloadLen) % 2 ** 32);
          }
          // Only the frame is touched.
          expect(buf.subarray(0, off).every((x) => x === 0)).toBe(true);
          expect(buf.subarray(off + size).every((x) => x === 0)).toBe(true);
        }
      }),
      { seed: 1624, numRuns: 300 },
    );
  });

  it('corruptIpCsum breaks only the IP header checksum', () => {
    fc.assert(
      fc.property(arbCase, ({ proto, size, isn, indices }) => {
        for (const idx of indices) {
          const buf = new Uint8Array(size);
          buildFrameTemplate(buf, 0, { ...flowOf(proto), isn }, size, 1, 2);
          stampPacket(buf, 0, idx, isn, true);
          expect(ip_fast_csum(buf, ETH_HLEN, 5)).not.toBe(0);
          expect(verify_l4_csum(buf, 0)).toBe(true);
          expect(frame_payload_index(buf, 0)).toBe(idx);
        }
      }),
      { seed: 791, numRuns: 200 },
    );
  });

  it('takes index and tcpIsn mod 2^32 (int32 and uint32 spellings agree)', () => {
    const isn = 0xfedcba98;
    const a = template(IPPROTO_TCP, 590);
    const b = template(IPPROTO_TCP, 590);
    stampPacket(a, 0, 0x80000001, isn, false);
    stampPacket(b, 0, 0x80000001 | 0, isn | 0, false);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(frame_payload_index(a, 0)).toBe(0x80000001);
    expect(frame_tcp_seq(a, 0)).toBe((isn + 0x80000001 * 536) % 2 ** 32);
    expect(verify_l4_csum(b, 0)).toBe(true);
  });

  it('writes a computed UDP checksum of 0 as 0xffff (0 would mean "no checksum")', () => {
    const tpl = template(IPPROTO_UDP, 128);
    let found = -1;
    for (let idx = 1; idx < 1 << 22 && found < 0; idx++) {
      const buf = tpl.slice();
      stampPacket(buf, 0, idx, 0, false);
      const check = be16(buf, 34 + 6);
      expect(check).not.toBe(0);
      if (check === 0xffff) found = idx;
    }
    expect(found).toBeGreaterThan(0);
    const buf = tpl.slice();
    stampPacket(buf, 0, found, 0, false);
    expect(verify_l4_csum(buf, 0)).toBe(true);
    expect(refL4Checksum(buf, 0)).toBe(0); // the plain sum says 0; the field says 0xffff
  });

  it('agrees with the reference L4 checksum on stamped frames', () => {
    const prng = new Prng(5);
    for (const proto of [IPPROTO_UDP, IPPROTO_TCP] as const) {
      for (const size of SIZES) {
        const buf = template(proto, size);
        for (let i = 0; i < 200; i++) {
          stampPacket(buf, 0, prng.nextU32(), flow_isn(0), false);
          const check = be16(buf, 34 + (proto === IPPROTO_UDP ? 6 : 16));
          const ref = refL4Checksum(buf, 0);
          // 0x0000 and 0xffff are the two zeros of one's complement: both are correct.
          expect(check === ref || ((check ^ ref) === 0xffff && (ref === 0 || ref === 0xffff))).toBe(true);
          if (proto === IPPROTO_UDP) expect(check).not.toBe(0);
        }
      }
    }
  });
});

describe('makeFlows', () => {
  it('draws distinct, deterministic 5-tuples in the documented ranges', () => {
    const a = makeFlows(5000, new Prng(1), 'mix');
    const b = makeFlows(5000, new Prng(1), 'mix');
    expect(a).toEqual(b);
    const keys = new Set(a.map((f) => `${f.saddr}:${f.sport}>${f.daddr}:${f.dport}/${f.proto}`));
    expect(keys.size).toBe(5000);
    for (const [i, f] of a.entries()) {
      expect(f.saddr >>> 24).toBe(10);
      expect(f.daddr >>> 8).toBe(0xc0a800);
      expect(f.daddr & 0xff).toBeGreaterThanOrEqual(1);
      expect(f.sport).toBeGreaterThanOrEqual(32768);
      expect(f.sport).toBeLessThanOrEqual(60999);
      expect([5001, 8080, 11211, 9000]).toContain(f.dport);
      expect(f.isn).toBe(flow_isn(i));
    }
    const tcp = a.filter((f) => f.proto === IPPROTO_TCP).length;
    expect(tcp).toBeGreaterThan(2000);
    expect(tcp).toBeLessThan(3000);
    expect(makeFlows(10, new Prng(2), 'udp').every((f) => f.proto === IPPROTO_UDP)).toBe(true);
    expect(makeFlows(10, new Prng(2), 'tcp').every((f) => f.proto === IPPROTO_TCP)).toBe(true);
    expect(makeFlows(10, new Prng(2), 'tcp')).not.toEqual(makeFlows(10, new Prng(3), 'tcp'));
  });

  it('builds valid templates for every flow', () => {
    const flows = makeFlows(200, new Prng(3), 'mix');
    const buf = new Uint8Array(200 * 128);
    flows.forEach((f, i) => {
      buildFrameTemplate(buf, i * 128, f, 60 + (i % 68), i, 0xffffffff);
    });
    flows.forEach((_, i) => {
      expect(ip_fast_csum(buf, i * 128 + ETH_HLEN, 5)).toBe(0);
      expect(verify_l4_csum(buf, i * 128)).toBe(true);
    });
  });

  it('rejects bad arguments', () => {
    expect(() => makeFlows(0, new Prng(1), 'udp')).toThrow(RangeError);
    expect(() => makeFlows(1.5, new Prng(1), 'udp')).toThrow(RangeError);
    expect(() => makeFlows(1, new Prng(1), 'icmp' as 'udp')).toThrow(RangeError);
  });
});
