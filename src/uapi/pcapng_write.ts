// Writing pcapng (draft-ietf-opsawg-pcapng), little-endian: a Section Header Block, Interface
// Description Blocks (link type Ethernet, if_name, if_tsresol 9: nanoseconds), Enhanced
// Packet Blocks and Interface Statistics Blocks. What --tap writes; tshark and Wireshark read it.

export const LINKTYPE_ETHERNET = 1;

const pad4 = (n: number) => (n + 3) & ~3;

/** The Section Header Block: byte-order magic, version 1.0, unknown section length, shb_userappl. */
export function pcapng_shb(userappl: string): Uint8Array {
  const app = new TextEncoder().encode(userappl);
  const len = 28 + 4 + pad4(app.length) + 4;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0a0d0d0a, true);
  v.setUint32(4, len, true);
  v.setUint32(8, 0x1a2b3c4d, true);
  v.setUint16(12, 1, true);
  v.setUint16(14, 0, true);
  v.setInt32(16, -1, true); // section length: not given
  v.setInt32(20, -1, true);
  v.setUint16(24, 4, true); // shb_userappl
  v.setUint16(26, app.length, true);
  b.set(app, 28);
  // opt_endofopt (4 zero bytes) then the trailing length
  v.setUint32(len - 4, len, true);
  return b;
}

/** An Interface Description Block: Ethernet, `snaplen`, if_name `name`, if_tsresol 9 (ns). */
export function pcapng_idb(name: string, snaplen: number): Uint8Array {
  const nm = new TextEncoder().encode(name);
  const opts = 4 + pad4(nm.length) + 4 + 4 + 4; // if_name, if_tsresol (1 byte padded), opt_endofopt
  const len = 16 + opts + 4;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, 1, true);
  v.setUint32(4, len, true);
  v.setUint16(8, LINKTYPE_ETHERNET, true);
  v.setUint32(12, snaplen, true);
  let o = 16;
  v.setUint16(o, 2, true); // if_name
  v.setUint16(o + 2, nm.length, true);
  b.set(nm, o + 4);
  o += 4 + pad4(nm.length);
  v.setUint16(o, 9, true); // if_tsresol
  v.setUint16(o + 2, 1, true);
  b[o + 4] = 9; // 10^-9 s
  v.setUint32(len - 4, len, true);
  return b;
}

/** Bytes an Enhanced Packet Block of `caplen` captured bytes takes. */
export function pcapng_epb_len(caplen: number): number {
  return 32 + pad4(caplen);
}

/**
 * Write an Enhanced Packet Block at out[o]: interface `iface`, timestamp `ts_ns` (ns since the
 * epoch, the interface's if_tsresol), the packet's `caplen` bytes from src[from], its length
 * on the wire `origlen`. Returns the offset after it.
 */
export function pcapng_epb(
  out: Uint8Array,
  o: number,
  iface: number,
  ts_ns: bigint,
  src: Uint8Array,
  from: number,
  caplen: number,
  origlen: number,
): number {
  const len = pcapng_epb_len(caplen);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(o, 6, true);
  v.setUint32(o + 4, len, true);
  v.setUint32(o + 8, iface, true);
  v.setUint32(o + 12, Number(ts_ns >> 32n), true);
  v.setUint32(o + 16, Number(ts_ns & 0xffffffffn), true);
  v.setUint32(o + 20, caplen, true);
  v.setUint32(o + 24, origlen, true);
  out.set(src.subarray(from, from + caplen), o + 28);
  out.fill(0, o + 28 + caplen, o + len - 4);
  v.setUint32(o + len - 4, len, true);
  return o + len;
}

/** An ISB option holding a pcapng timestamp (upper 32 bits, then lower, in the interface's units). */
function put_ts(v: DataView, o: number, ts_ns: bigint): void {
  v.setUint32(o, Number(ts_ns >> 32n), true);
  v.setUint32(o + 4, Number(ts_ns & 0xffffffffn), true);
}

/**
 * An Interface Statistics Block for interface `iface`, as dumpcap writes one per interface at
 * the end of a capture (capture_loop_close_output): timestamp the end, opt_comment, then
 * isb_starttime, isb_endtime, isb_ifrecv (packets the capture received) and isb_ifdrop
 * (packets dropped for want of room).
 */
export function pcapng_isb(iface: number, comment: string, start_ns: bigint, end_ns: bigint, ifrecv: number, ifdrop: number): Uint8Array {
  const cm = new TextEncoder().encode(comment);
  const opts = 4 + pad4(cm.length) + 4 * (4 + 8) + 4; // comment, 4 eight-byte options, opt_endofopt
  const len = 20 + opts + 4;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, 5, true);
  v.setUint32(4, len, true);
  v.setUint32(8, iface, true);
  put_ts(v, 12, end_ns);
  let o = 20;
  v.setUint16(o, 1, true); // opt_comment
  v.setUint16(o + 2, cm.length, true);
  b.set(cm, o + 4);
  o += 4 + pad4(cm.length);
  for (const [code, put] of [
    [2, (at: number) => put_ts(v, at, start_ns)],
    [3, (at: number) => put_ts(v, at, end_ns)],
    [4, (at: number) => v.setBigUint64(at, BigInt(ifrecv), true)],
    [5, (at: number) => v.setBigUint64(at, BigInt(ifdrop), true)],
  ] as const) {
    v.setUint16(o, code, true);
    v.setUint16(o + 2, 8, true);
    put(o + 4);
    o += 12;
  }
  v.setUint32(len - 4, len, true); // opt_endofopt is the 4 zero bytes before
  return b;
}
