// The capture reader (src/uapi/pcap.ts): every variant of pcap and pcapng it takes, from files
// written here byte by byte; and, with fast-check, that truncated and corrupted files give a
// CaptureError or frames inside the file, never another exception, never a hang.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CaptureError, readCapture } from '../dist/src/uapi/pcap.js';
import { buildReplay } from '../dist/src/devices/replay.js';
import { mixedTraffic, pcapFile, pcapngFile, type Pkt } from './capture_files.js';

const T0 = 1_700_000_000_123_456_000n;
const pkts = (): Pkt[] => mixedTraffic(12, { arpEvery: 4, gap_ns: 1_500n * 1000n, t0: T0 });

function expectFrames(bytes: Uint8Array, want: Pkt[], o: { timed?: boolean; tsUnit?: bigint } = {}): void {
  const c = readCapture(bytes);
  expect(c.count).toBe(want.length);
  expect(c.timed).toBe(o.timed ?? true);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    expect(c.caplen[i]).toBe(w.frame.length);
    expect(c.origlen[i]).toBe(w.origlen ?? w.frame.length);
    expect(Array.from(c.bytes.subarray(c.data_off[i], c.data_off[i] + c.caplen[i]))).toEqual(Array.from(w.frame));
    if (o.timed !== false) {
      const unit = o.tsUnit ?? 1n;
      const want_ns = Number(((w.ts_ns - T0) / unit) * unit);
      expect(c.ts_ns[i]).toBe(want_ns);
    }
  }
}

describe('pcap', () => {
  for (const le of [true, false]) {
    for (const ns of [false, true]) {
      it(`${le ? 'little' : 'big'}-endian, ${ns ? 'nanosecond' : 'microsecond'} timestamps`, () => {
        expectFrames(pcapFile(pkts(), { le, ns }), pkts(), { tsUnit: ns ? 1n : 1000n });
      });
    }
  }

  it('frames with their FCS (the link type F bit) lose it', () => {
    const p = pkts().map((x) => ({ ...x, frame: Uint8Array.from([...x.frame, 0xde, 0xad, 0xbe, 0xef]) }));
    const c = readCapture(pcapFile(p, { linktype: 1 | 0x10000000 | (2 << 29) }));
    expect(Array.from(c.caplen)).toEqual(pkts().map((x) => x.frame.length));
  });

  it('a snaplen-truncated record keeps both lengths', () => {
    const p = pkts();
    p[2] = { ...p[2], frame: p[2].frame.subarray(0, 60), origlen: p[2].frame.length };
    const c = readCapture(pcapFile(p));
    expect(c.caplen[2]).toBe(60);
    expect(c.origlen[2]).toBe(200);
    expect(buildReplay(c).summary.truncated).toBe(1);
  });
});

describe('pcapng', () => {
  for (const le of [true, false]) {
    it(`${le ? 'little' : 'big'}-endian section, EPBs, with blocks to skip`, () => {
      const c = readCapture(pcapngFile(pkts(), { le, extraBlocks: true }));
      expect(c.skipped_blocks).toBe(2);
      expectFrames(pcapngFile(pkts(), { le, extraBlocks: true }), pkts(), { tsUnit: 1000n });
    });
  }

  it('if_tsresol: nanoseconds, and a power of two', () => {
    expectFrames(pcapngFile(pkts(), { interfaces: [{ tsresol: 9 }] }), pkts());
    const c = readCapture(pcapngFile(pkts(), { interfaces: [{ tsresol: 0x80 | 20 }] }));
    // 2^-20 s units: within a unit (954 ns) of the truth.
    for (const [i, p] of pkts().entries()) expect(Math.abs(c.ts_ns[i] - Number(p.ts_ns - T0))).toBeLessThan(954 * 2);
  });

  it('several interfaces: frames from each, and a non-Ethernet one is named', () => {
    const p = pkts().map((x, i) => ({ ...x, iface: i % 2 }));
    expect(readCapture(pcapngFile(p, { interfaces: [{ name: 'eth0' }, { name: 'eth1', tsresol: 9 }] })).count).toBe(12);
    expect(() => readCapture(pcapngFile(p, { interfaces: [{}, { linktype: 105 }] }))).toThrow(
      new CaptureError('interface 1 has link type 105 (IEEE 802.11); only Ethernet (1) replays'),
    );
  });

  it('simple packet blocks: no timestamps, captured length min(original, snaplen)', () => {
    const p = pkts();
    expectFrames(pcapngFile(p, { spb: true }), p, { timed: false });
    const c = readCapture(pcapngFile(p, { spb: true, interfaces: [{ snaplen: 64 }] }));
    expect(c.caplen[0]).toBe(64);
    expect(c.origlen[0]).toBe(200);
  });
});

describe('captures that cannot replay: one line each', () => {
  const good = pcapFile(pkts());
  const cases: [string, Uint8Array, string][] = [
    ['empty file', new Uint8Array(0), 'the file is empty'],
    ['wrong magic', new TextEncoder().encode('{"a": 1}\n'), 'not a pcap or pcapng file (magic 0x7b226122)'],
    ['header cut', good.subarray(0, 20), 'truncated: the pcap file header needs 24 bytes, the file has 20'],
    ['record cut', good.subarray(0, 24 + 16 + 100), 'truncated: the record at byte 24 claims 200 bytes, 100 remain'],
    ['no records', good.subarray(0, 24), 'empty: no packet records'],
    [
      'wrong link type',
      pcapFile(pkts(), { linktype: 113 }),
      'the capture has link type 113 (Linux cooked (SLL)); only Ethernet (1) replays',
    ],
    ['raw IP', pcapFile(pkts(), { linktype: 101 }), 'the capture has link type 101 (raw IP); only Ethernet (1) replays'],
  ];
  for (const [name, bytes, msg] of cases) {
    it(name, () => {
      expect(() => readCapture(bytes)).toThrow(new CaptureError(msg));
    });
  }

  it('a pcapng block cut short, or a packet before its interface', () => {
    const ng = pcapngFile(pkts());
    expect(() => readCapture(ng.subarray(0, ng.length - 10))).toThrow(/^truncated: the block at byte \d+ claims \d+ bytes, \d+ remain$/);
    const shb = ng.subarray(0, 28);
    const rest = pcapngFile(pkts()).subarray(28 + 20); // drop the IDB (20 bytes, no options)
    const noIdb = new Uint8Array([...shb, ...rest]);
    expect(() => readCapture(noIdb)).toThrow(/names interface 0, which its section does not declare/);
  });
});

describe('the reader on damaged files (property)', () => {
  const files = [
    pcapFile(pkts()),
    pcapFile(pkts(), { le: false, ns: true }),
    pcapngFile(pkts(), { extraBlocks: true }),
    pcapngFile(pkts(), { le: false, spb: true }),
  ];

  /** Either a CaptureError, or frames that all lie inside the file. */
  function checked(bytes: Uint8Array): void {
    try {
      const c = readCapture(bytes);
      for (let i = 0; i < c.count; i++) {
        expect(c.data_off[i] + c.caplen[i]).toBeLessThanOrEqual(bytes.length);
        expect(Number.isFinite(c.ts_ns[i])).toBe(true);
      }
      buildReplay(c); // and classifying the frames never throws either
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      expect(e.message).not.toMatch(/\n/);
    }
  }

  it('truncated anywhere', () => {
    fc.assert(
      fc.property(fc.nat(files.length - 1), fc.nat(), (f, cut) => {
        const b = files[f];
        checked(b.subarray(0, cut % (b.length + 1)));
      }),
      { numRuns: 400 },
    );
  });

  it('bytes flipped, lengths rewritten, garbage appended', () => {
    fc.assert(
      fc.property(
        fc.nat(files.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }),
        fc.uint8Array({ maxLength: 64 }),
        (f, flips, tail) => {
          const b = Uint8Array.from([...files[f], ...tail]);
          for (const [at, v] of flips) b[at % b.length] = v;
          checked(b);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('random bytes after a valid magic', () => {
    fc.assert(
      fc.property(fc.constantFrom(0xa1b2c3d4, 0xd4c3b2a1, 0x0a0d0d0a), fc.uint8Array({ maxLength: 300 }), (magic, rest) => {
        const b = new Uint8Array(4 + rest.length);
        new DataView(b.buffer).setUint32(0, magic, false);
        b.set(rest, 4);
        checked(b);
      }),
      { numRuns: 600 },
    );
  });
});
