// Capture files: a reader of pcap and pcapng, the formats tcpdump, tshark and Wireshark write
// (the pcap and pcapng drafts of the IETF OPSAWG, draft-ietf-opsawg-pcap and
// draft-ietf-opsawg-pcapng), for replaying Ethernet captures (--pcap).
//
//   pcap    magic a1b2c3d4 (µs timestamps) or a1b23c4d (ns), in either byte order; the link
//           type's FCS bits (F, and the FCS length in 16-bit words) say whether frames carry
//           their FCS, which is stripped.
//   pcapng  sections (SHB, each with its own byte order), interfaces (IDB: link type, snaplen,
//           if_tsresol in both forms, if_tsoffset, if_fcslen), Enhanced Packet Blocks, Simple
//           Packet Blocks (no timestamp; captured length min(original, interface 0's snaplen))
//           and the obsolete Packet Block; every other block (name resolution, statistics,
//           decryption secrets, custom...) is skipped by its length.
//
// Every frame must come from an Ethernet interface (LINKTYPE_ETHERNET, 1). A capture with no
// packet is an error, so is any block or record that claims more bytes than the file holds.
// Errors are CaptureError, one line that says what is wrong and at which byte; nothing else is
// thrown for any input (test/pcap.test.ts checks this with fast-check on truncated and
// corrupted files). Frames are returned as typed arrays over the file's bytes: a capture of
// millions of frames is a few arrays, no object per frame.

/** A capture that cannot be replayed: one line, naming what is wrong and where. */
export class CaptureError extends Error {
  override name = 'CaptureError';
}

export const LINKTYPE_ETHERNET = 1;

/** Names of link types a user may meet, for the error message. */
const LINKTYPE_NAMES: Record<number, string> = {
  0: 'BSD loopback',
  101: 'raw IP',
  105: 'IEEE 802.11',
  113: 'Linux cooked (SLL)',
  127: 'IEEE 802.11 radiotap',
  228: 'raw IPv4',
  229: 'raw IPv6',
  276: 'Linux cooked v2 (SLL2)',
};

export interface Capture {
  format: 'pcap' | 'pcapng';
  /** The file's bytes; frame i is bytes[data_off[i] .. data_off[i] + caplen[i]). */
  bytes: Uint8Array;
  count: number;
  data_off: Uint32Array;
  /** Bytes captured (FCS stripped). */
  caplen: Uint32Array;
  /** Bytes on the wire (FCS excluded). */
  origlen: Uint32Array;
  /** ns after the first frame's timestamp (0 for frames without one). */
  ts_ns: Float64Array;
  /** Every frame has a timestamp (no Simple Packet Block). */
  timed: boolean;
  /** pcapng: interfaces declared (pcap: 1). */
  interfaces: number;
  /** pcapng: blocks skipped (not packets, sections or interfaces). */
  skipped_blocks: number;
}

/** Collects frames as the reader finds them; grows its arrays by doubling. */
class Frames {
  count = 0;
  data_off = new Uint32Array(64);
  caplen = new Uint32Array(64);
  origlen = new Uint32Array(64);
  ts = new Float64Array(64);
  /** The first timestamp, as a BigInt of ns, and whether any frame had none. */
  t0: bigint | null = null;
  untimed = false;

  add(off: number, caplen: number, origlen: number, ts: bigint | null): void {
    if (this.count === this.data_off.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.data_off = grow(this.data_off);
      this.caplen = grow(this.caplen);
      this.origlen = grow(this.origlen);
      this.ts = grow(this.ts);
    }
    const i = this.count++;
    this.data_off[i] = off;
    this.caplen[i] = caplen;
    this.origlen[i] = origlen;
    if (ts === null) {
      this.untimed = true;
      this.ts[i] = 0;
      return;
    }
    if (this.t0 === null) this.t0 = ts;
    this.ts[i] = Number(ts - this.t0);
  }
}

function linktypeName(lt: number): string {
  const name = LINKTYPE_NAMES[lt];
  return name === undefined ? `link type ${lt}` : `link type ${lt} (${name})`;
}

function notEthernet(where: string, lt: number): CaptureError {
  return new CaptureError(`${where} has ${linktypeName(lt)}; only Ethernet (1) replays`);
}

/** Read a capture from its bytes. Throws CaptureError, and nothing else. */
export function readCapture(bytes: Uint8Array): Capture {
  if (bytes.length < 4)
    throw new CaptureError(bytes.length === 0 ? 'the file is empty' : `truncated: ${bytes.length} bytes, not even a file header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  if (be === 0x0a0d0d0a) return readPcapng(bytes, dv);
  for (const [magic, ns] of [
    [0xa1b2c3d4, false],
    [0xa1b23c4d, true],
  ] as const) {
    if (be === magic) return readPcap(bytes, dv, false, ns);
    if (le === magic) return readPcap(bytes, dv, true, ns);
  }
  throw new CaptureError(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`);
}

function readPcap(bytes: Uint8Array, dv: DataView, le: boolean, ns: boolean): Capture {
  if (bytes.length < 24) throw new CaptureError(`truncated: the pcap file header needs 24 bytes, the file has ${bytes.length}`);
  const lt_field = dv.getUint32(20, le);
  const lt = lt_field & 0x0fffffff;
  if ((lt & 0xffff) !== LINKTYPE_ETHERNET || lt >>> 16 !== 0) throw notEthernet('the capture', lt);
  // The F bit: frames carry an FCS of (bits 29..31) 16-bit words.
  const fcs = lt_field & 0x10000000 ? ((lt_field >>> 29) & 7) * 2 : 0;
  const frames = new Frames();
  const unit = ns ? 1n : 1000n;
  let o = 24;
  while (o < bytes.length) {
    if (o + 16 > bytes.length)
      throw new CaptureError(`truncated: the record header at byte ${o} needs 16 bytes, ${bytes.length - o} remain`);
    const sec = dv.getUint32(o, le);
    const frac = dv.getUint32(o + 4, le);
    const incl = dv.getUint32(o + 8, le);
    const orig = dv.getUint32(o + 12, le);
    if (incl > bytes.length - o - 16) {
      throw new CaptureError(`truncated: the record at byte ${o} claims ${incl} bytes, ${bytes.length - o - 16} remain`);
    }
    addFrame(frames, o + 16, incl, orig, fcs, BigInt(sec) * 1_000_000_000n + BigInt(frac) * unit);
    o += 16 + incl;
  }
  return finish(frames, bytes, 'pcap', 1, 0);
}

/** A frame with its FCS stripped when the interface says frames carry one. */
function addFrame(frames: Frames, off: number, caplen: number, origlen: number, fcs: number, ts: bigint | null): void {
  let c = caplen;
  let w = origlen;
  if (fcs > 0) {
    w = Math.max(0, w - fcs);
    if (c > w) c = w; // the captured FCS (or part of it) goes
  }
  frames.add(off, c, w, ts);
}

function finish(frames: Frames, bytes: Uint8Array, format: 'pcap' | 'pcapng', interfaces: number, skipped: number): Capture {
  if (frames.count === 0) throw new CaptureError('empty: no packet records');
  const n = frames.count;
  return {
    format,
    bytes,
    count: n,
    data_off: frames.data_off.slice(0, n),
    caplen: frames.caplen.slice(0, n),
    origlen: frames.origlen.slice(0, n),
    ts_ns: frames.ts.slice(0, n),
    timed: !frames.untimed,
    interfaces,
    skipped_blocks: skipped,
  };
}

interface Interface {
  linktype: number;
  snaplen: number;
  /** ts (in if_tsresol units) to ns: multiply by mul, then shift right by shr or divide by div. */
  mul: bigint;
  div: bigint;
  shr: bigint;
  offset_ns: bigint;
  fcs: number;
}

const SHB = 0x0a0d0d0a;
const IDB = 1;
const PB = 2;
const SPB = 3;
const EPB = 6;

function readPcapng(bytes: Uint8Array, dv: DataView): Capture {
  const frames = new Frames();
  let ifs: Interface[] = [];
  let interfaces = 0;
  let skipped = 0;
  let le = true;
  let o = 0;
  while (o < bytes.length) {
    if (o + 12 > bytes.length) throw new CaptureError(`truncated: the block at byte ${o} needs 12 bytes, ${bytes.length - o} remain`);
    const type = dv.getUint32(o, le);
    if (dv.getUint32(o, false) === SHB) {
      if (o + 12 > bytes.length) throw new CaptureError(`truncated: the section header at byte ${o}`);
      const bom = dv.getUint32(o + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new CaptureError(`the section header at byte ${o} has no byte-order magic (0x${bom.toString(16)})`);
      ifs = [];
    }
    const len = dv.getUint32(o + 4, le);
    if (len < 12 || len % 4 !== 0) throw new CaptureError(`the block at byte ${o} has a length of ${len}, not a multiple of 4 from 12 up`);
    if (len > bytes.length - o) throw new CaptureError(`truncated: the block at byte ${o} claims ${len} bytes, ${bytes.length - o} remain`);
    if (dv.getUint32(o + len - 4, le) !== len)
      throw new CaptureError(`the block at byte ${o}: its trailing length is not its length (${len})`);
    const body = o + 8;
    const end = o + len - 4;
    const need = (n: number, what: string) => {
      if (body + n > end) throw new CaptureError(`the ${what} at byte ${o} is ${len} bytes, too short for its fields`);
    };
    if (dv.getUint32(o, false) === SHB) {
      need(16, 'section header');
    } else if (type === IDB) {
      need(8, 'interface description');
      ifs.push(readIdb(dv, body + 8, end, le, dv.getUint16(body, le), dv.getUint32(body + 4, le)));
      interfaces++;
    } else if (type === EPB || type === PB) {
      need(20, type === EPB ? 'enhanced packet block' : 'packet block');
      const id = type === EPB ? dv.getUint32(body, le) : dv.getUint16(body, le);
      const itf = ifs[id];
      if (itf === undefined) throw new CaptureError(`the packet at byte ${o} names interface ${id}, which its section does not declare`);
      if (itf.linktype !== LINKTYPE_ETHERNET) throw notEthernet(`interface ${id}`, itf.linktype);
      const ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const caplen = dv.getUint32(body + 12, le);
      const origlen = dv.getUint32(body + 16, le);
      if (caplen > end - (body + 20))
        throw new CaptureError(`truncated: the packet at byte ${o} claims ${caplen} bytes, its block holds ${end - body - 20}`);
      addFrame(frames, body + 20, caplen, origlen, itf.fcs, tsToNs(itf, ts));
    } else if (type === SPB) {
      need(4, 'simple packet block');
      const itf = ifs[0];
      if (itf === undefined) throw new CaptureError(`the simple packet at byte ${o} comes before any interface description`);
      if (itf.linktype !== LINKTYPE_ETHERNET) throw notEthernet('interface 0', itf.linktype);
      const origlen = dv.getUint32(body, le);
      let caplen = Math.min(origlen, end - (body + 4));
      if (itf.snaplen > 0) caplen = Math.min(caplen, itf.snaplen);
      addFrame(frames, body + 4, caplen, origlen, itf.fcs, null);
    } else {
      skipped++;
    }
    o += len;
  }
  return finish(frames, bytes, 'pcapng', interfaces, skipped);
}

/** An IDB's fields and the options that matter here: if_tsresol (9), if_fcslen (13), if_tsoffset (14). */
function readIdb(dv: DataView, o: number, end: number, le: boolean, linktype: number, snaplen: number): Interface {
  const itf: Interface = { linktype, snaplen, mul: 1000n, div: 1n, shr: 0n, offset_ns: 0n, fcs: 0 };
  while (o + 4 <= end) {
    const code = dv.getUint16(o, le);
    const len = dv.getUint16(o + 2, le);
    if (code === 0) break; // opt_endofopt
    const v = o + 4;
    if (v + len > end) throw new CaptureError(`an interface option at byte ${o} claims ${len} bytes past its block`);
    if (code === 9 && len >= 1) {
      const r = dv.getUint8(v);
      if (r & 0x80) {
        itf.mul = 1_000_000_000n;
        itf.div = 1n;
        itf.shr = BigInt(r & 0x7f);
      } else if (r <= 9) {
        itf.mul = 10n ** BigInt(9 - r);
        itf.div = 1n;
      } else {
        itf.mul = 1n;
        itf.div = 10n ** BigInt(Math.min(r, 30) - 9);
      }
    } else if (code === 13 && len >= 1) {
      itf.fcs = dv.getUint8(v);
    } else if (code === 14 && len >= 8) {
      const hi = BigInt.asIntN(32, BigInt(dv.getUint32(v + (le ? 4 : 0), le)));
      const lo = BigInt(dv.getUint32(v + (le ? 0 : 4), le));
      itf.offset_ns = ((hi << 32n) | lo) * 1_000_000_000n;
    }
    o = v + ((len + 3) & ~3);
  }
  return itf;
}

function tsToNs(itf: Interface, ts: bigint): bigint {
  return ((ts * itf.mul) >> itf.shr) / itf.div + itf.offset_ns;
}
