/**
 * hash.test.ts: the emulated NIC's and kernel's hash functions against published vectors.
 *
 * - Toeplitz: Microsoft "Verifying the RSS Hash Calculation" IPv4 table (same as the Intel
 *   82599 datasheet table), bit-serial and table forms; table form == bit-serial form for
 *   random keys and inputs.
 * - SipHash-2-4: the 64 vectors of the SipHash paper (vectors.h), full 64-bit output; and a
 *   BigInt reference (tests only) for random keys and messages.
 * - jhash: lookup3.c's driver5 vectors and driver3 ("This is the time for all good men ...",
 *   initval 13, as reproduced in the Rust jhash crate's tests); DPDK's test_hash_functions.c
 *   rte_jhash table (key bytes 0, 1, 2, ..., initvals 0 and 0xdeadbeef). jhash2 = hashword:
 *   lookup3 ("hashword() is identical to hashlittle() on little-endian machines") and DPDK
 *   (verify_jhash_32bits) state it equals the byte hash on word multiples, so the same
 *   published values check it.
 * - Flow dissector (Linux 5.10 __skb_get_hash): properties on real frames.
 */
import { describe, expect, it } from 'vitest';
import { gcsDuring } from './gc.js';
import fc from 'fast-check';
import { MS_RSS_KEY, ToeplitzTable, toeplitzHash } from '../src/uapi/toeplitz.js';
import { siphash, siphash64, siphashOut, siphash_2_4 } from '../src/uapi/siphash.js';
import { JHASH_INITVAL, jhash, jhash2, jhash2_i32, jhash_1word, jhash_2words, jhash_3words, jhash_i32 } from '../src/uapi/jhash.js';
import {
  ___skb_get_hash,
  FLOW_DIS_FIRST_FRAG,
  FLOW_DIS_IS_FRAGMENT,
  FLOW_KEYS_ADDRS,
  FLOW_KEYS_FLAGS,
  FLOW_KEYS_IP_PROTO,
  FLOW_KEYS_N_PROTO,
  FLOW_KEYS_PORTS,
  FLOW_KEYS_THOFF,
  FLOW_KEYS_VLAN,
  FLOW_KEYS_VLAN_TPID,
  flow_hash_from_keys,
  flow_hash_init,
  flow_keys,
  reciprocal_scale,
  skb_flow_dissect_flow_keys,
  skb_flow_dissect_hash,
} from '../src/kernel/hash/flow_dissector.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i & 0xff);
const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

// ---------------------------------------------------------------------------------------------
// Toeplitz
// ---------------------------------------------------------------------------------------------

/** Microsoft's table: destination, source, IPv4-only hash, IPv4-with-TCP hash. */
const MS_IPV4_TABLE: ReadonlyArray<[string, number, string, number, number, number]> = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
];

const ip4 = (s: string): number[] => s.split('.').map(Number);

/** RSS input as the NIC builds it: saddr, daddr, sport, dport (network byte order). */
function rssInput(dst: string, dport: number, src: string, sport: number): Uint8Array {
  return Uint8Array.from([...ip4(src), ...ip4(dst), sport >> 8, sport & 0xff, dport >> 8, dport & 0xff]);
}

describe('toeplitz', () => {
  it('MS_RSS_KEY is the published 40-byte key', () => {
    expect(Buffer.from(MS_RSS_KEY).toString('hex')).toBe(
      '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa',
    );
  });

  it.each(MS_IPV4_TABLE)('bit-serial: dst %s:%i src %s:%i', (dst, dport, src, sport, v4, v4tcp) => {
    const input = rssInput(dst, dport, src, sport);
    expect(hex(toeplitzHash(MS_RSS_KEY, input, 0, 8))).toBe(hex(v4));
    expect(hex(toeplitzHash(MS_RSS_KEY, input))).toBe(hex(v4tcp));
  });

  it.each(MS_IPV4_TABLE)('table: dst %s:%i src %s:%i', (dst, dport, src, sport, v4, v4tcp) => {
    const table = new ToeplitzTable(MS_RSS_KEY);
    const input = rssInput(dst, dport, src, sport);
    expect(hex(table.hash(input, 0, 8))).toBe(hex(v4));
    expect(hex(table.hash(input, 0, 12))).toBe(hex(v4tcp));
  });

  it.each(MS_IPV4_TABLE)('hashIpv4 on a real IPv4+TCP header: dst %s:%i src %s:%i', (dst, dport, src, sport, v4, v4tcp) => {
    const table = new ToeplitzTable(MS_RSS_KEY);
    for (const ihl of [5, 6, 15]) {
      const frame = buildFrame({ src: ip4(src), dst: ip4(dst), sport, dport, ihl });
      expect(hex(table.hashIpv4(frame, 14, false))).toBe(hex(v4));
      expect(hex(table.hashIpv4(frame, 14, true))).toBe(hex(v4tcp));
    }
  });

  it('table form equals the bit-serial form for random keys and inputs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.uint8Array({ minLength: 44, maxLength: 52 }),
        fc.uint8Array({ minLength: 0, maxLength: 60 }),
        fc.nat(),
        fc.nat(),
        (maxInputBytes, key, bytes, o, l) => {
          const table = new ToeplitzTable(key, maxInputBytes);
          const offset = bytes.length === 0 ? 0 : o % (bytes.length + 1);
          const length = Math.min(l % (maxInputBytes + 1), bytes.length - offset);
          expect(table.hash(bytes, offset, length)).toBe(toeplitzHash(key, bytes, offset, length));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hashIpv4 equals the bit-serial hash of the gathered input, any IHL', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 40, maxLength: 40 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 5, max: 15 }),
        (key, addrs, sport, dport, ihl) => {
          const table = new ToeplitzTable(key);
          const frame = buildFrame({
            src: [...addrs.slice(0, 4)],
            dst: [...addrs.slice(4)],
            sport,
            dport,
            ihl,
          });
          const input = Uint8Array.from([...addrs, sport >> 8, sport & 0xff, dport >> 8, dport & 0xff]);
          expect(table.hashIpv4(frame, 14, false)).toBe(toeplitzHash(key, input, 0, 8));
          expect(table.hashIpv4(frame, 14, true)).toBe(toeplitzHash(key, input, 0, 12));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('setKey re-keys in place: equals a table built with the new key', () => {
    const table = new ToeplitzTable(MS_RSS_KEY);
    const key = seq(40).map((x) => (x * 37 + 11) & 0xff);
    const input = rssInput('10.0.0.1', 80, '10.0.0.2', 12345);
    const before = table.hash(input, 0, 12);
    table.setKey(key);
    expect(table.hash(input, 0, 12)).toBe(new ToeplitzTable(key).hash(input, 0, 12));
    expect(table.hash(input, 0, 12)).toBe(toeplitzHash(key, input));
    expect(table.hash(input, 0, 12)).not.toBe(before);
  });

  it('asserts its arguments', () => {
    const table = new ToeplitzTable(MS_RSS_KEY);
    expect(() => new ToeplitzTable(MS_RSS_KEY, 37)).toThrow(RangeError); // key too short
    expect(() => table.hash(new Uint8Array(40), 0, 37)).toThrow(RangeError);
    expect(() => table.hash(new Uint8Array(8), 4, 8)).toThrow(RangeError);
    expect(() => toeplitzHash(MS_RSS_KEY, new Uint8Array(37))).toThrow(RangeError);
    expect(() => table.hashIpv4(new Uint8Array(30), 14, false)).toThrow(RangeError);
    const frame = buildFrame({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], sport: 1, dport: 2 });
    frame[14] = 0x44; // IHL 4
    expect(() => table.hashIpv4(frame, 14, true)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// SipHash-2-4
// ---------------------------------------------------------------------------------------------

/** vectors.h of the SipHash reference code: SipHash-2-4, key 00..0f, message 00..n-1. */
const SIPHASH_VECTORS = [
  '310e0edd47db6f72',
  'fd67dc93c539f874',
  '5a4fa9d909806c0d',
  '2d7efbd796666785',
  'b7877127e09427cf',
  '8da699cd64557618',
  'cee3fe586e46c9cb',
  '37d1018bf50002ab',
  '6224939a79f5f593',
  'b0e4a90bdf82009e',
  'f3b9dd94c5bb5d7a',
  'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75',
  '903d84c02756ea14',
  'eef27a8e90ca23f7',
  'e545be4961ca29a1',
  'db9bc2577fcc2a3f',
  '9447be2cf5e99a69',
  '9cd38d96f0b3c14b',
  'bd6179a71dc96dbb',
  '98eea21af25cd6be',
  'c7673b2eb0cbf2d0',
  '883ea3e395675393',
  'c8ce5ccd8c030ca8',
  '94af49f6c650adb8',
  'eab8858ade92e1bc',
  'f315bb5bb835d817',
  'adcf6b0763612e2f',
  'a5c91da7acaa4dde',
  '716595876650a2a6',
  '28ef495c53a387ad',
  '42c341d8fa92d832',
  'ce7cf2722f512771',
  'e37859f94623f3a7',
  '381205bb1ab0e012',
  'ae97a10fd434e015',
  'b4a31508beff4d31',
  '81396229f0907902',
  '4d0cf49ee5d4dcca',
  '5c73336a76d8bf9a',
  'd0a704536ba93e0e',
  '925958fcd6420cad',
  'a915c29bc8067318',
  '952b79f3bc0aa6d4',
  'f21df2e41d4535f9',
  '87577519048f53a9',
  '10a56cf5dfcd9adb',
  'eb75095ccd986cd0',
  '51a9cb9ecba312e6',
  '96afadfc2ce666c7',
  '72fe52975a4364ee',
  '5a1645b276d592a1',
  'b274cb8ebf87870a',
  '6f9bb4203de7b381',
  'eaecb2a30b22a87f',
  '9924a43cc1315724',
  'bd838d3aafbf8db7',
  '0b1a2a3265d51aea',
  '135079a3231ce660',
  '932b2846e4d70666',
  'e1915f5cb1eca46c',
  'f325965ca16d629f',
  '575ff28e60381be5',
  '724506eb4c328a95',
];

/** The 16 key bytes as the kernel's siphash_key_t: two little-endian u64 = four LE u32. */
function sipKey(key16: Uint8Array): Uint32Array {
  const dv = new DataView(key16.buffer, key16.byteOffset, 16);
  return Uint32Array.from([0, 4, 8, 12], (o) => dv.getUint32(o, true));
}

/** Straightforward BigInt SipHash-2-4 (tests only), to check random keys and lengths. */
function siphashRef(msg: Uint8Array, key16: Uint8Array): bigint {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & M;
  const dv = new DataView(key16.buffer, key16.byteOffset, 16);
  const k0 = dv.getBigUint64(0, true),
    k1 = dv.getBigUint64(8, true);
  const v = [k0 ^ 0x736f6d6570736575n, k1 ^ 0x646f72616e646f6dn, k0 ^ 0x6c7967656e657261n, k1 ^ 0x7465646279746573n];
  const round = (): void => {
    v[0] = (v[0] + v[1]) & M;
    v[1] = rotl(v[1], 13n) ^ v[0];
    v[0] = rotl(v[0], 32n);
    v[2] = (v[2] + v[3]) & M;
    v[3] = rotl(v[3], 16n) ^ v[2];
    v[0] = (v[0] + v[3]) & M;
    v[3] = rotl(v[3], 21n) ^ v[0];
    v[2] = (v[2] + v[1]) & M;
    v[1] = rotl(v[1], 17n) ^ v[2];
    v[2] = rotl(v[2], 32n);
  };
  const words: bigint[] = [];
  for (let i = 0; i + 8 <= msg.length; i += 8) {
    words.push(new DataView(msg.buffer, msg.byteOffset + i, 8).getBigUint64(0, true));
  }
  let last = BigInt(msg.length & 0xff) << 56n;
  for (let i = msg.length & ~7, s = 0n; i < msg.length; i++, s += 8n) last |= BigInt(msg[i]) << s;
  words.push(last);
  for (const m of words) {
    v[3] ^= m;
    round();
    round();
    v[0] ^= m;
  }
  v[2] ^= 0xffn;
  round();
  round();
  round();
  round();
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

describe('siphash', () => {
  const key = sipKey(seq(16));

  it('key words are k0 = 0x0706050403020100, k1 = 0x0f0e0d0c0b0a0908', () => {
    expect([...key].map(hex)).toEqual(['0x03020100', '0x07060504', '0x0b0a0908', '0x0f0e0d0c']);
  });

  it.each(SIPHASH_VECTORS.map((v, n) => [n, v] as const))('paper vector %i', (n, v) => {
    const want = Buffer.from(v, 'hex'); // output bytes, little-endian
    const lo = want.readUInt32LE(0),
      hi = want.readUInt32LE(4);
    const msg = seq(n);
    expect(hex(siphash64(msg, 0, n, key))).toBe(hex(lo));
    expect([hex(siphashOut[0]), hex(siphashOut[1])]).toEqual([hex(lo), hex(hi)]);
    expect(hex(siphash(msg, 0, n, key))).toBe(hex(lo)); // u32 truncation keeps the low half
    // Same message at an unaligned offset inside a larger buffer.
    const buf = new Uint8Array(n + 7).fill(0xa5);
    buf.set(msg, 3);
    expect(hex(siphash64(buf, 3, n, key))).toBe(hex(lo));
    expect(hex(siphashOut[1])).toBe(hex(hi));
  });

  it('matches a BigInt reference for random keys and messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 0, maxLength: 300 }), (k, msg) => {
        const want = siphashRef(msg, k);
        siphash64(msg, 0, msg.length, sipKey(k));
        expect((BigInt(siphashOut[1]) << 32n) | BigInt(siphashOut[0])).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('asserts its arguments', () => {
    expect(() => siphash(new Uint8Array(4), 2, 3, key)).toThrow(RangeError);
    expect(() => siphash(new Uint8Array(4), 0, 4, new Uint32Array(2))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// jhash
// ---------------------------------------------------------------------------------------------

const FOUR_SCORE = ascii('Four score and seven years ago');
const GOOD_MEN = ascii('This is the time for all good men to come to the aid of their country...');
/** hashlittle(GOOD_MEN, 72 - i, 13) for i = 0..11 (lookup3 driver3). */
const GOOD_MEN_13 = [
  0x499ae8fa, 0xb9bef31c, 0x8efefdfd, 0xa56b7aab, 0xb1946734, 0x9f31c5ce, 0x0826585d, 0x55b69dea, 0xf4688dd0, 0xe87eb146, 0xb202fb17,
  0x711fe56a,
];
/** DPDK test_hash_functions.c: rte_jhash(key 00 01 02 ..., len, initval). */
const DPDK_LENS = [1, 2, 4, 8, 16, 32, 48, 64, 9, 13, 37, 40];
const DPDK_JHASH: Record<number, number[]> = {
  0: [
    0x8ba9414b, 0xdf0d39c9, 0xe4cf1d42, 0xd4ccb93c, 0x5e84eafc, 0x21362cfe, 0x2f4775ab, 0x9ff036cc, 0xeca51474, 0xbc9d6816, 0x12926a31,
    0x1c9fa888,
  ],
  3735928559: [
    0x5c62c303, 0x1b8cf784, 0x8270ac65, 0x05fa6668, 0x762df861, 0xda088f2f, 0x59614cd4, 0x7a94f690, 0xdc1e4993, 0x30825494, 0x91d0e462,
    0x768087fc,
  ],
};

/** Little-endian u32 words of bytes (what a u32 array holding those bytes reads on x86). */
function leWords(bytes: Uint8Array, nWords: number): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return Uint32Array.from({ length: nWords }, (_, i) => dv.getUint32(i * 4, true));
}

describe('jhash', () => {
  it('lookup3 driver5: empty and "Four score and seven years ago"', () => {
    expect(hex(jhash(new Uint8Array(0), 0, 0, 0))).toBe(hex(JHASH_INITVAL));
    expect(hex(jhash(FOUR_SCORE, 0, 30, 0))).toBe('0x17770551');
    expect(hex(jhash(FOUR_SCORE, 0, 30, 1))).toBe('0xcd628161');
  });

  it('lookup3 driver3: "This is the time ..." at every length 72..61, initval 13', () => {
    expect(GOOD_MEN.length).toBe(72);
    GOOD_MEN_13.forEach((want, i) => {
      expect(hex(jhash(GOOD_MEN, 0, 72 - i, 13))).toBe(hex(want));
    });
    // Unaligned copies of the string hash the same (driver3 checks offsets 1, 2, 3).
    const buf = new Uint8Array(80);
    buf.set(GOOD_MEN, 3);
    expect(hex(jhash(buf, 3, 72, 13))).toBe(hex(GOOD_MEN_13[0]));
  });

  it.each(Object.entries(DPDK_JHASH))('DPDK rte_jhash table, initval %s', (iv, wants) => {
    DPDK_LENS.forEach((len, i) => {
      expect(hex(jhash(seq(64), 0, len, Number(iv)))).toBe(hex(wants[i]));
    });
  });

  it('jhash2 (hashword) on the same published vectors, word lengths', () => {
    // lookup3 driver3: hashword(q, 18/17/16 words, 13) == hashlittle(q, 72/68/64, 13)
    const words = leWords(GOOD_MEN, 18);
    expect(hex(jhash2(words, 0, 18, 13))).toBe(hex(GOOD_MEN_13[0]));
    expect(hex(jhash2(words, 0, 17, 13))).toBe(hex(GOOD_MEN_13[4]));
    expect(hex(jhash2(words, 0, 16, 13))).toBe(hex(GOOD_MEN_13[8]));
    // DPDK verify_jhash_32bits: rte_jhash_32b(key, len / 4) == rte_jhash(key, len)
    const key = leWords(seq(64), 16);
    for (const [iv, wants] of Object.entries(DPDK_JHASH)) {
      DPDK_LENS.forEach((len, i) => {
        if (len % 4 === 0) expect(hex(jhash2(key, 0, len / 4, Number(iv)))).toBe(hex(wants[i]));
      });
    }
    // empty: the initial c
    expect(hex(jhash2(new Uint32Array(0), 0, 0, 0))).toBe(hex(JHASH_INITVAL));
  });

  it('jhash2 honours a word offset', () => {
    const words = leWords(GOOD_MEN, 18);
    const shifted = new Uint32Array(20);
    shifted.set(words, 2);
    expect(jhash2(shifted, 2, 18, 13)).toBe(GOOD_MEN_13[0]);
  });

  it('jhash_3words/2words/1word equal jhash2 and jhash of the same words (DPDK verify_jhash_words)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        ([a, b, c], iv) => {
          const w = Uint32Array.of(a, b, c);
          const bytes = new Uint8Array(w.buffer);
          expect(jhash_3words(a, b, c, iv)).toBe(jhash2(w, 0, 3, iv));
          expect(jhash_3words(a, b, c, iv)).toBe(jhash(bytes, 0, 12, iv));
          expect(jhash_2words(a, b, iv)).toBe(jhash2(w, 0, 2, iv));
          expect(jhash_2words(a, b, iv)).toBe(jhash(bytes, 0, 8, iv));
          expect(jhash_1word(a, iv)).toBe(jhash2(w, 0, 1, iv));
          expect(jhash_1word(a, iv)).toBe(jhash(bytes, 0, 4, iv));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('asserts its arguments', () => {
    expect(() => jhash(new Uint8Array(4), 1, 4, 0)).toThrow(RangeError);
    expect(() => jhash2(new Uint32Array(4), 2, 3, 0)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Flow dissector
// ---------------------------------------------------------------------------------------------

interface FrameSpec {
  src: number[];
  dst: number[];
  sport: number;
  dport: number;
  proto?: number; // IPv4 protocol, default TCP
  ihl?: number; // default 5
  fragOff?: number; // raw frag_off field (flags << 13 | offset), default 0x4000 (DF)
  vlans?: Array<{ tpid: number; tci: number }>; // outermost first
  ethertype?: number; // default 0x0800
  l4Len?: number; // bytes of L4 header present, default 20
}

/** Ethernet [+ VLAN tags] + IPv4 [+ options] + L4 header, real byte layout. */
function buildFrame(f: FrameSpec): Uint8Array {
  const ihl = f.ihl ?? 5;
  const l4Len = f.l4Len ?? 20;
  const vlans = f.vlans ?? [];
  const bytes: number[] = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
  const ethertype = f.ethertype ?? 0x0800;
  for (const v of vlans) bytes.push(v.tpid >> 8, v.tpid & 0xff, v.tci >> 8, v.tci & 0xff);
  bytes.push(ethertype >> 8, ethertype & 0xff);
  const l2 = bytes.length;
  const fragOff = f.fragOff ?? 0x4000;
  const totLen = ihl * 4 + l4Len;
  bytes.push(
    0x40 | ihl,
    0,
    totLen >> 8,
    totLen & 0xff,
    0x12,
    0x34,
    fragOff >> 8,
    fragOff & 0xff,
    64,
    f.proto ?? 6,
    0,
    0,
    ...f.src,
    ...f.dst,
  );
  for (let i = 20; i < ihl * 4; i++) bytes.push(1); // IPOPT_NOOP
  const l4 = [f.sport >> 8, f.sport & 0xff, f.dport >> 8, f.dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0];
  for (let i = 0; i < l4Len; i++) bytes.push(l4[i] ?? 0);
  expect(l2).toBe(14 + 4 * vlans.length);
  return Uint8Array.from(bytes);
}

const hashOf = (f: FrameSpec): number => {
  const frame = buildFrame(f);
  return skb_flow_dissect_hash(frame, 0, frame.length);
};
const reverse = (f: FrameSpec): FrameSpec => ({ ...f, src: f.dst, dst: f.src, sport: f.dport, dport: f.sport });
/** Host-order (little-endian) u32 of an address, as __flow_hash_consistentify compares it. */
const hostU32 = (a: number[]): number => (a[0] | (a[1] << 8) | (a[2] << 16) | (a[3] << 24)) >>> 0;

const A: FrameSpec = { src: [10, 0, 0, 1], dst: [10, 0, 1, 2], sport: 40000, dport: 80 };

const arbFrame = fc
  .record({
    src: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
    dst: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
    sport: fc.integer({ min: 0, max: 0xffff }),
    dport: fc.integer({ min: 0, max: 0xffff }),
    proto: fc.constantFrom(6, 17),
  })
  .filter((f) => (hostU32(f.dst) - hostU32(f.src)) >>> 0 !== 0x80000000); // 5.10 quirk, below

describe('flow dissector (5.10 __skb_get_hash)', () => {
  it('refuses to hash before flow_hash_init (runs first in this file)', () => {
    const frame = buildFrame(A);
    expect(() => skb_flow_dissect_hash(frame, 0, frame.length)).toThrow(/flow_hash_init/);
  });

  it('dissects Ethernet/IPv4/TCP into the 5.10 struct flow_keys layout', () => {
    const frame = buildFrame({ ...A, ihl: 6 });
    expect(skb_flow_dissect_flow_keys(frame, 0, frame.length)).toBe(true);
    expect([flow_keys[FLOW_KEYS_N_PROTO], flow_keys[FLOW_KEYS_N_PROTO + 1]]).toEqual([0x08, 0x00]);
    expect(flow_keys[FLOW_KEYS_IP_PROTO]).toBe(6);
    expect([...flow_keys.subarray(FLOW_KEYS_ADDRS, FLOW_KEYS_ADDRS + 8)]).toEqual([...A.src, ...A.dst]);
    expect([...flow_keys.subarray(FLOW_KEYS_PORTS, FLOW_KEYS_PORTS + 4)]).toEqual([40000 >> 8, 40000 & 0xff, 0, 80]);
    expect(flow_keys[FLOW_KEYS_THOFF]).toBe(24); // thoff = nhoff past the IP header + options
    expect(flow_keys[FLOW_KEYS_FLAGS]).toBe(0);
  });

  for (const alg of ['siphash', 'jhash'] as const) {
    describe(alg, () => {
      it('both directions of a flow hash the same', () => {
        flow_hash_init(alg, 1);
        fc.assert(
          fc.property(arbFrame, (f) => {
            expect(hashOf(reverse(f))).toBe(hashOf(f));
          }),
          { numRuns: 500 },
        );
        // equal addresses: the ports decide the order
        const same: FrameSpec = { src: [10, 1, 1, 1], dst: [10, 1, 1, 1], sport: 1000, dport: 2000 };
        expect(hashOf(reverse(same))).toBe(hashOf(same));
      });

      it('different 5-tuples hash differently', () => {
        flow_hash_init(alg, 1);
        const h = hashOf(A);
        expect(hashOf({ ...A, src: [10, 0, 0, 3] })).not.toBe(h);
        expect(hashOf({ ...A, dst: [10, 0, 1, 3] })).not.toBe(h);
        expect(hashOf({ ...A, sport: 40001 })).not.toBe(h);
        expect(hashOf({ ...A, dport: 81 })).not.toBe(h);
        expect(hashOf({ ...A, proto: 17 })).not.toBe(h);
        const seen = new Set<number>();
        for (let p = 0; p < 1000; p++) seen.add(hashOf({ ...A, sport: 30000 + p }));
        expect(seen.size).toBe(1000);
      });

      it('never returns 0, and is a uint32', () => {
        flow_hash_init(alg, 7);
        fc.assert(
          fc.property(arbFrame, (f) => {
            const h = hashOf(f);
            expect(h).toBeGreaterThan(0);
            expect(h).toBeLessThanOrEqual(0xffffffff);
            expect(Number.isInteger(h)).toBe(true);
          }),
          { numRuns: 300 },
        );
      });

      it('fragments hash without ports (first and later fragments alike)', () => {
        flow_hash_init(alg, 3);
        for (const fragOff of [0x2000 /* MF, offset 0 */, 0x00b9 /* last, offset 185 */, 0x2010]) {
          const h = hashOf({ ...A, fragOff });
          expect(hashOf({ ...A, fragOff, sport: 1, dport: 2 })).toBe(h);
          expect(hashOf({ ...A, fragOff, l4Len: 0 })).toBe(h);
          expect(hashOf(reverse({ ...A, fragOff }))).toBe(h);
          expect(h).not.toBe(hashOf(A));
          expect(h).toBe(hashOf({ ...A, sport: 0, dport: 0 })); // ports key left 0
        }
        const frame = buildFrame({ ...A, fragOff: 0x2000 });
        skb_flow_dissect_flow_keys(frame, 0, frame.length);
        expect(flow_keys[FLOW_KEYS_FLAGS]).toBe(FLOW_DIS_IS_FRAGMENT | FLOW_DIS_FIRST_FRAG);
        const later = buildFrame({ ...A, fragOff: 0x00b9 });
        skb_flow_dissect_flow_keys(later, 0, later.length);
        expect(flow_keys[FLOW_KEYS_FLAGS]).toBe(FLOW_DIS_IS_FRAGMENT);
        // DF alone is not a fragment
        expect(hashOf({ ...A, fragOff: 0x4000 })).toBe(hashOf({ ...A, fragOff: 0 }));
      });
    });
  }

  it('flow_hash_from_keys hashes the dissected block; ___skb_get_hash gives the same bits', () => {
    flow_hash_init('siphash', 13);
    const frame = buildFrame(reverse(A)); // dst < src in host order: consistentify swaps
    const h = skb_flow_dissect_hash(frame, 0, frame.length);
    expect(___skb_get_hash(frame, 0, frame.length) >>> 0).toBe(h);
    skb_flow_dissect_flow_keys(frame, 0, frame.length);
    expect([...flow_keys.subarray(FLOW_KEYS_ADDRS, FLOW_KEYS_ADDRS + 8)]).toEqual([...A.dst, ...A.src]);
    expect(flow_hash_from_keys()).toBe(h);
    // __flow_hash_consistentify ran in place: addresses and ports now in A's order
    expect([...flow_keys.subarray(FLOW_KEYS_ADDRS, FLOW_KEYS_ADDRS + 8)]).toEqual([...A.src, ...A.dst]);
    expect([...flow_keys.subarray(FLOW_KEYS_PORTS, FLOW_KEYS_PORTS + 4)]).toEqual([40000 >> 8, 40000 & 0xff, 0, 80]);
  });

  it('jhash and siphash modes give different hashes for the same frames', () => {
    const frames = [A, reverse(A), { ...A, proto: 17 }, { ...A, sport: 1 }];
    flow_hash_init('siphash', 5);
    const sip = frames.map(hashOf);
    flow_hash_init('jhash', 5);
    const jh = frames.map(hashOf);
    frames.forEach((_, i) => {
      expect(jh[i]).not.toBe(sip[i]);
    });
  });

  it('keys come from the seed: same seed same hash, other seed other hash', () => {
    flow_hash_init('siphash', 11);
    const h11 = hashOf(A);
    flow_hash_init('siphash', 12);
    expect(hashOf(A)).not.toBe(h11);
    flow_hash_init('siphash', 11);
    expect(hashOf(A)).toBe(h11);
    flow_hash_init('siphash', 11 + 2 ** 40); // the high bits of a 53-bit seed count too
    expect(hashOf(A)).not.toBe(h11);
    expect(() => flow_hash_init('siphash', 1.5)).toThrow(RangeError);
    expect(() => flow_hash_init('md5' as 'jhash', 1)).toThrow(RangeError);
  });

  it('VLAN-tagged frame: same keys as untagged plus the vlan key (hashes differ, as in 5.10)', () => {
    flow_hash_init('siphash', 9);
    const plain = buildFrame(A);
    skb_flow_dissect_flow_keys(plain, 0, plain.length);
    const untaggedKeys = Uint8Array.from(flow_keys);
    const tagged = buildFrame({ ...A, vlans: [{ tpid: 0x8100, tci: (5 << 13) | 100 }] });
    expect(skb_flow_dissect_flow_keys(tagged, 0, tagged.length)).toBe(true);
    // vlan_id 100, vlan_priority 5 (bits 13..15), vlan_tpid 0x8100 big-endian
    expect(flow_keys[FLOW_KEYS_VLAN] | (flow_keys[FLOW_KEYS_VLAN + 1] << 8)).toBe((5 << 13) | 100);
    expect([flow_keys[FLOW_KEYS_VLAN_TPID], flow_keys[FLOW_KEYS_VLAN_TPID + 1]]).toEqual([0x81, 0x00]);
    // Everything else equal except thoff (4 bytes further into the frame).
    const keys = Uint8Array.from(flow_keys);
    for (let i = 0; i < 4; i++) keys[FLOW_KEYS_VLAN + i] = 0;
    keys[FLOW_KEYS_THOFF] = untaggedKeys[FLOW_KEYS_THOFF];
    expect([...keys]).toEqual([...untaggedKeys]);
    expect(flow_keys[FLOW_KEYS_THOFF]).toBe(untaggedKeys[FLOW_KEYS_THOFF] + 4);
    // The hash: symmetric within the VLAN, sensitive to the VID, different from untagged.
    const v100 = { ...A, vlans: [{ tpid: 0x8100, tci: 100 }] };
    expect(hashOf(reverse(v100))).toBe(hashOf(v100));
    expect(hashOf({ ...A, vlans: [{ tpid: 0x8100, tci: 101 }] })).not.toBe(hashOf(v100));
    expect(hashOf(v100)).not.toBe(hashOf(A));
    // The DEI bit is not part of the key (the 5.10 dissector sets vlan_id and priority only).
    expect(hashOf({ ...A, vlans: [{ tpid: 0x8100, tci: 0x1000 | 100 }] })).toBe(hashOf(v100));
    // QinQ: only the outer tag is recorded (the inner one would be CVLAN, not in this dissector).
    const qinq = {
      ...A,
      vlans: [
        { tpid: 0x88a8, tci: 7 },
        { tpid: 0x8100, tci: 100 },
      ],
    };
    const qinq2 = {
      ...A,
      vlans: [
        { tpid: 0x88a8, tci: 7 },
        { tpid: 0x8100, tci: 200 },
      ],
    };
    expect(hashOf(qinq)).toBe(hashOf(qinq2));
    expect(hashOf(reverse(qinq))).toBe(hashOf(qinq));
  });

  it('non-IPv4 frames hash what was dissected (the ethertype), never 0', () => {
    flow_hash_init('siphash', 2);
    const arp = buildFrame({ ...A, ethertype: 0x0806 });
    const arp2 = buildFrame({ ...A, src: [1, 1, 1, 1], ethertype: 0x0806 });
    expect(skb_flow_dissect_flow_keys(arp, 0, arp.length)).toBe(false);
    expect([flow_keys[FLOW_KEYS_N_PROTO], flow_keys[FLOW_KEYS_N_PROTO + 1]]).toEqual([0x08, 0x06]);
    const h = skb_flow_dissect_hash(arp, 0, arp.length);
    expect(h).toBeGreaterThan(0);
    expect(skb_flow_dissect_hash(arp2, 0, arp2.length)).toBe(h);
    const v6 = buildFrame({ ...A, ethertype: 0x86dd });
    expect(skb_flow_dissect_hash(v6, 0, v6.length)).not.toBe(h);
    expect(skb_flow_dissect_hash(v6, 0, v6.length)).toBeGreaterThan(0);
  });

  it('truncated and malformed headers: bad IPv4 header → n_proto only; short L4 → no ports', () => {
    flow_hash_init('siphash', 4);
    const frame = buildFrame(A);
    // IPv4 header cut short: out_bad before the addresses are read
    expect(skb_flow_dissect_flow_keys(frame, 0, 14 + 19)).toBe(false);
    expect([...flow_keys.subarray(FLOW_KEYS_ADDRS, FLOW_KEYS_ADDRS + 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const other = buildFrame({ ...A, ethertype: 0x0800, src: [9, 9, 9, 9] });
    expect(skb_flow_dissect_hash(frame, 0, 14 + 19)).toBe(skb_flow_dissect_hash(other, 0, 14 + 19));
    // IHL < 5
    const badIhl = buildFrame(A);
    badIhl[14] = 0x44;
    expect(skb_flow_dissect_flow_keys(badIhl, 0, badIhl.length)).toBe(false);
    // L4 header shorter than the 4 port bytes: hash without ports
    expect(hashOf({ ...A, l4Len: 3 })).toBe(hashOf({ ...A, sport: 0, dport: 0 }));
    expect(hashOf({ ...A, l4Len: 4 })).toBe(hashOf(A));
    // a protocol without ports (ICMP) ignores the L4 bytes
    expect(hashOf({ ...A, proto: 1 })).toBe(hashOf({ ...A, proto: 1, sport: 7, dport: 9 }));
  });

  it('hashes the frame where it lies in the buffer (frameOffset)', () => {
    flow_hash_init('jhash', 6);
    const frame = buildFrame(A);
    const buf = new Uint8Array(frame.length + 100).fill(0xee);
    buf.set(frame, 37);
    expect(skb_flow_dissect_hash(buf, 37, frame.length)).toBe(skb_flow_dissect_hash(frame, 0, frame.length));
    expect(() => skb_flow_dissect_hash(buf, buf.length - frame.length + 1, frame.length)).toThrow(RangeError);
    expect(() => skb_flow_dissect_hash(buf, 0, 13)).toThrow(RangeError);
  });

  it('5.10 quirk kept: addresses whose host-order words differ by 2^31 hash asymmetrically', () => {
    // 192.168.37.50 <-> 192.168.37.178: the example of 64ae13ed4784 ("net: core: fix flow
    // symmetric hash"), which 5.10 as released does not have.
    flow_hash_init('siphash', 1);
    const f: FrameSpec = { src: [192, 168, 37, 50], dst: [192, 168, 37, 178], sport: 1000, dport: 2000 };
    expect((hostU32(f.dst) - hostU32(f.src)) >>> 0).toBe(0x80000000);
    expect(hashOf(reverse(f))).not.toBe(hashOf(f));
  });
});

describe('reciprocal_scale', () => {
  it('edge values', () => {
    expect(reciprocal_scale(0, 16)).toBe(0);
    expect(reciprocal_scale(0xffffffff, 16)).toBe(15);
    expect(reciprocal_scale(0xffffffff, 1)).toBe(0);
    expect(reciprocal_scale(0xffffffff, 0)).toBe(0);
    expect(reciprocal_scale(0x80000000, 2)).toBe(1);
    expect(reciprocal_scale(0x7fffffff, 2)).toBe(0);
    expect(reciprocal_scale(0x10000000, 16)).toBe(1);
    expect(reciprocal_scale(0x0fffffff, 16)).toBe(0);
    expect(reciprocal_scale(0xffffffff, 2 ** 21 - 1)).toBe(2 ** 21 - 2);
    expect(reciprocal_scale(-1, 3)).toBe(2); // int32 -1 is the uint32 0xffffffff
    expect(() => reciprocal_scale(1, 2 ** 21)).toThrow(RangeError);
    expect(() => reciprocal_scale(1, -1)).toThrow(RangeError);
    expect(() => reciprocal_scale(1, 1.5)).toThrow(RangeError);
    expect(() => reciprocal_scale(1, Number.NaN)).toThrow(RangeError);
  });

  it('equals ((u64)val * ep_ro) >> 32 computed in BigInt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 2 ** 21 - 1 }), (val, n) => {
        expect(reciprocal_scale(val, n)).toBe(Number((BigInt(val) * BigInt(n)) >> 32n));
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Hot path: no allocation
// ---------------------------------------------------------------------------------------------

describe('hot path allocates nothing', () => {
  /** Every hash once per iteration, results kept as int32 or stored into a Uint32Array. */
  function hotLoop(n: number, frame: Uint8Array, table: ToeplitzTable, key: Uint32Array, words: Uint32Array, sink: Uint32Array): number {
    let x = 0;
    for (let i = 0; i < n; i++) {
      frame[37] = i; // vary the destination port
      x ^= table.hash_ipv4_i32(frame, 14, true);
      sink[0] = table.hashIpv4(frame, 14, true);
      x ^= siphash_2_4(frame, 14, 40, key);
      sink[1] = siphash(frame, 14, 40, key);
      x ^= jhash_i32(frame, 14, 40, 0x12345678);
      sink[2] = jhash2(words, 0, 10, i);
      x ^= jhash2_i32(words, 0, 10, i);
      x ^= ___skb_get_hash(frame, 0, frame.length);
      sink[3] = skb_flow_dissect_hash(frame, 0, frame.length);
      x ^= reciprocal_scale(sink[3], 16) + reciprocal_scale(x, 1000);
    }
    return x;
  }

  for (const alg of ['siphash', 'jhash'] as const) {
    it(`no GC while hashing 300k frames (flow hash: ${alg})`, async () => {
      flow_hash_init(alg, 8);
      const frame = buildFrame(A);
      const table = new ToeplitzTable(MS_RSS_KEY);
      const key = sipKey(seq(16));
      const words = leWords(seq(40), 10);
      const sink = new Uint32Array(4);
      hotLoop(200_000, frame, table, key, words, sink); // warm up: reach optimised code
      await new Promise((r) => setTimeout(r, 100)); // let concurrent compile jobs install
      // A late (re)compilation can allocate and trigger one GC in a window; an allocation per
      // hash would trigger GCs in every window (300k iterations allocate megabytes). So the
      // best of three windows must be clean.
      const gcs: number[] = [];
      for (let k = 0; k < 3; k++) gcs.push(await gcsDuring(() => hotLoop(300_000, frame, table, key, words, sink)));
      expect(Math.min(...gcs)).toBe(0);
    });
  }
});
