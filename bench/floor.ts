// The one-thread floor loop: the per-packet work of the receive path with nothing else, the
// ceiling the emulator is measured against (issue 12). Over 64-byte frames in a
// SharedArrayBuffer, per packet: read the ethertype, verify the IPv4 header checksum, Toeplitz
// over the 12-byte 4-tuple by table, look the socket up in an open-addressed table by the
// 4-tuple, check and advance the flow's sequence number (carried in the UDP payload). No
// threads, no rings, no skbs.
//   node dist/bench/floor.js [packets]

import { performance } from 'node:perf_hooks';

const FRAME = 64;
const FRAMES = 4096; // 256 KiB of frames: as many as a 512-slot ring's buffers and more
const FLOWS = 1024;
const SOCK_SLOTS = 4096; // open addressing, load factor 1/4
// The Microsoft RSS verification key, as ixgbe's default.
const RSS_KEY = [
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30,
  0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/** Toeplitz by table: for input byte i and value v, the XOR of the key windows of v's set bits. */
function toeplitzTable(): Int32Array {
  const t = new Int32Array(12 * 256);
  for (let i = 0; i < 12; i++) {
    for (let v = 0; v < 256; v++) {
      let h = 0;
      for (let b = 0; b < 8; b++) {
        if ((v & (0x80 >> b)) === 0) continue;
        const bit = i * 8 + b; // the 32-bit key window starting at this bit
        const byte = bit >> 3;
        const sh = bit & 7;
        const w = ((RSS_KEY[byte] << 24) | (RSS_KEY[byte + 1] << 16) | (RSS_KEY[byte + 2] << 8) | RSS_KEY[byte + 3]) >>> 0;
        const next = RSS_KEY[byte + 4];
        h ^= sh === 0 ? w : (w << sh) | (next >>> (8 - sh));
      }
      t[i * 256 + v] = h;
    }
  }
  return t;
}

interface FloorState {
  u8: Uint8Array;
  tab: Int32Array;
  sockKey: Int32Array; // per slot: saddr, daddr, ports, sk + 1 (0: empty)
  seq: Int32Array; // per socket: the next expected sequence number
}

function ipCsum(u8: Uint8Array, o: number): number {
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (u8[o + i] << 8) | u8[o + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function hash4(tab: Int32Array, u8: Uint8Array, o: number): number {
  let h = 0;
  for (let i = 0; i < 12; i++) h ^= tab[i * 256 + u8[o + i]];
  return h;
}

function setup(): FloorState {
  const u8 = new Uint8Array(new SharedArrayBuffer(FRAMES * FRAME));
  const dv = new DataView(u8.buffer);
  const tab = toeplitzTable();
  const sockKey = new Int32Array(SOCK_SLOTS * 4);
  const seq = new Int32Array(FLOWS);
  const flowSeq = new Int32Array(FLOWS);
  // Integer xorshift flow choice, so every flow's frames stay in order.
  let x = 0x9e3779b9 | 0;
  for (let f = 0; f < FRAMES; f++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const flow = (x >>> 0) % FLOWS;
    const o = f * FRAME;
    dv.setUint16(o + 12, 0x0800);
    const ip = o + 14;
    dv.setUint8(ip, 0x45);
    dv.setUint16(ip + 2, 50);
    dv.setUint8(ip + 8, 64);
    dv.setUint8(ip + 9, 17);
    dv.setUint32(ip + 12, 0x0a000001 + flow);
    dv.setUint32(ip + 16, 0x0a100001);
    dv.setUint16(ip + 10, ~ipCsum(u8, ip) & 0xffff);
    dv.setUint16(ip + 20, 1024 + flow);
    dv.setUint16(ip + 22, 9000);
    dv.setUint32(ip + 28, flowSeq[flow]++);
  }
  for (let flow = 0; flow < FLOWS; flow++) {
    const ports = ((1024 + flow) << 16) | 9000;
    const tuple = new Uint8Array(12);
    const tv = new DataView(tuple.buffer);
    tv.setUint32(0, 0x0a000001 + flow);
    tv.setUint32(4, 0x0a100001);
    tv.setUint32(8, ports);
    let s = hash4(tab, tuple, 0) & (SOCK_SLOTS - 1);
    while (sockKey[s * 4 + 3] !== 0) s = (s + 1) & (SOCK_SLOTS - 1);
    sockKey.set([0x0a000001 + flow, 0x0a100001, ports, flow + 1], s * 4);
  }
  return { u8, tab, sockKey, seq };
}

/** Runs `packets` packets over the frame buffer (wrapping); returns the sockets' hits as a check. */
function loop(st: FloorState, packets: number): number {
  const { u8, tab, sockKey, seq } = st;
  let hits = 0;
  let f = 0;
  for (let n = 0; n < packets; n++) {
    const o = f * FRAME;
    f = (f + 1) & (FRAMES - 1);
    if (((u8[o + 12] << 8) | u8[o + 13]) !== 0x0800) continue;
    const ip = o + 14;
    if (ipCsum(u8, ip) !== 0xffff) continue;
    const h = hash4(tab, u8, ip + 12);
    const saddr = (u8[ip + 12] << 24) | (u8[ip + 13] << 16) | (u8[ip + 14] << 8) | u8[ip + 15];
    const daddr = (u8[ip + 16] << 24) | (u8[ip + 17] << 16) | (u8[ip + 18] << 8) | u8[ip + 19];
    const ports = (u8[ip + 20] << 24) | (u8[ip + 21] << 16) | (u8[ip + 22] << 8) | u8[ip + 23];
    let s = h & (SOCK_SLOTS - 1);
    let sk = -1;
    for (;;) {
      const k = s * 4;
      const id = sockKey[k + 3];
      if (id === 0) break;
      if (sockKey[k] === saddr && sockKey[k + 1] === daddr && sockKey[k + 2] === ports) {
        sk = id - 1;
        break;
      }
      s = (s + 1) & (SOCK_SLOTS - 1);
    }
    if (sk < 0) continue;
    const got = (u8[ip + 28] << 24) | (u8[ip + 29] << 16) | (u8[ip + 30] << 8) | u8[ip + 31];
    // In order, or the buffer wrapped and the flow starts over (once per lap and flow).
    if (got === seq[sk] || got === 0) hits++;
    seq[sk] = got + 1;
  }
  return hits;
}

/** The floor rate (packets/s) of `packets` packets, after a warm-up of a tenth as many. */
export function floorRate(packets = 20_000_000): number {
  const st = setup();
  loop(st, Math.max(1_000_000, packets / 10));
  const t0 = performance.now();
  const hits = loop(st, packets);
  const s = (performance.now() - t0) / 1000;
  if (hits !== packets) throw new Error(`floor loop: ${packets - hits} of ${packets} packets failed a check`);
  return packets / s;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packets = Number(process.argv[2] ?? 20_000_000);
  console.log(`floor: ${(floorRate(packets) / 1e6).toFixed(2)} Mpps (one thread, no rings, ${packets} packets)`);
}
