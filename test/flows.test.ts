// The run's flows at scale: makeFlowTable (typed arrays, no key strings) and FlowFrames (one
// header table plus one payload per protocol instead of a frame per flow) must give exactly
// the frames buildFrameTemplate gives flow by flow, and distinct 5-tuples.
import { describe, expect, it } from 'vitest';
import { Prng } from '../src/lib/prng.js';
import { FlowFrames } from '../src/devices/frames.js';
import { flowSpec, makeFlowTable } from '../src/devices/flows.js';
import { buildFrameTemplate, stampPacket } from '../src/devices/frame_template.js';
import { ETH_HLEN, ip_fast_csum, verify_l4_csum } from '../src/uapi/inet.js';

describe('flow table and frames', () => {
  for (const frameLen of [60, 61, 333, 1514]) {
    it(`FlowFrames.write is buildFrameTemplate, byte for byte (${frameLen}-byte frames, udp and tcp)`, () => {
      const t = makeFlowTable(300, new Prng(7).fork(1), 'mix');
      const frames = new FlowFrames(t, frameLen, 0x0a000000, 0x0b000001);
      const got = new Uint8Array(frameLen);
      const want = new Uint8Array(frameLen);
      const protos = new Set<number>();
      for (let i = 0; i < t.count; i++) {
        protos.add(t.proto[i]);
        frames.write(got, 0, i);
        buildFrameTemplate(want, 0, flowSpec(t, i), frameLen, 0x0a000000 + i, 0x0b000001);
        expect(got).toEqual(want);
        expect(ip_fast_csum(got, ETH_HLEN, 5)).toBe(0);
        expect(verify_l4_csum(got, 0)).toBe(true);
      }
      expect([...protos].sort((a, b) => a - b)).toEqual([6, 17]);
    });
  }

  for (const [frameLen, tsopt] of [
    [78, false],
    [90, true],
    [1514, true],
  ] as const) {
    it(`FlowFrames.write is buildFrameTemplate for IPv4 and IPv6 flows together (${frameLen}-byte frames, timestamps ${tsopt})`, () => {
      const t = makeFlowTable(300, new Prng(8).fork(1), 'mix', 'mix');
      const frames = new FlowFrames(t, frameLen, 0x0a000000, 0x0b000001, tsopt);
      const got = new Uint8Array(frameLen);
      const want = new Uint8Array(frameLen);
      const kinds = new Set<string>();
      for (let i = 0; i < t.count; i++) {
        kinds.add(`${t.family[i]}/${t.proto[i]}`);
        frames.write(got, 0, i);
        buildFrameTemplate(want, 0, { ...flowSpec(t, i), tsopt: tsopt && t.proto[i] === 6 }, frameLen, 0x0a000000 + i, 0x0b000001);
        expect(got).toEqual(want);
        expect(verify_l4_csum(got, 0)).toBe(true);
      }
      expect([...kinds].sort()).toEqual(['4/17', '4/6', '6/17', '6/6']);
    });
  }

  it('draws distinct 5-tuples (a quarter of the largest flow count a run takes)', () => {
    const n = 1 << 18;
    const t = makeFlowTable(n, new Prng(1).fork(1), 'mix');
    const keys = new Set<bigint>();
    for (let i = 0; i < n; i++) {
      keys.add(
        (BigInt(t.saddr[i]) << 53n) |
          (BigInt(t.daddr[i]) << 21n) |
          (BigInt(t.sport[i]) << 5n) |
          BigInt(t.dport[i] % 16) |
          (BigInt(t.proto[i]) << 100n),
      );
    }
    // dport is one of 4 services; the key packs it as its value mod 16 (5001, 8080, 11211 and 9000 differ there).
    expect(new Set([5001 % 16, 8080 % 16, 11211 % 16, 9000 % 16]).size).toBe(4);
    expect(keys.size).toBe(n);
  });

  // The device's per-packet path (FlowFrames.copy and stamp: words from the flow's template,
  // the per-packet fields written with checksums completed from precomputed sums) against the
  // reference: the flow's template with stampPacket's incremental checksum updates.
  for (const [frameLen, tsopt] of [
    [60, false],
    [61, false],
    [90, true],
    [333, false],
    [1514, true],
  ] as const) {
    it(`copy + stamp is buildFrameTemplate + stampPacket (${frameLen}-byte frames, every family and protocol)`, () => {
      const t = makeFlowTable(64, new Prng(9).fork(1), 'mix', frameLen >= 90 ? 'mix' : '4');
      const frames = new FlowFrames(t, frameLen, 0x0a000000, 0x0b000001, tsopt);
      const words = (frameLen + 3) >> 2;
      const got32 = new Int32Array(words + 2);
      const got = new Uint8Array(got32.buffer);
      const want = new Uint8Array(frameLen);
      const prng = new Prng(frameLen);
      for (let i = 0; i < t.count; i++) {
        for (const index of [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, prng.nextU32(), prng.nextU32()]) {
          const corrupt = (index & 3) === 1;
          got.fill(0xaa);
          frames.copy(got32, 1, i);
          frames.stamp(got, 4, i, index | 0, corrupt);
          buildFrameTemplate(want, 0, { ...flowSpec(t, i), tsopt: tsopt && t.proto[i] === 6 }, frameLen, 0x0a000000 + i, 0x0b000001);
          stampPacket(want, 0, index, t.isn[i], corrupt);
          expect(got.subarray(4, 4 + frameLen)).toEqual(want);
          expect(verify_l4_csum(got, 4)).toBe(true);
          expect(got[0]).toBe(0xaa); // nothing before the buffer
        }
      }
    });
  }
});
