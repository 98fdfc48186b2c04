/**
 * frames.ts: every flow's frames as the device writes them (FlowFrames): copied as 32-bit
 * words and stamped per packet from per-flow checksum sums, built once per run from
 * buildFrameTemplate (frame_template.ts) over the flow table (flows.ts).
 *
 * Hot path: `copy`, `copy_replay` and `stamp` allocate nothing (byte arithmetic on typed
 * arrays plus offsets, numbers out); the constructor and `set_rss` are setup time.
 */
import type { ReplayData } from './replay.js';
import {
  ETH_HLEN,
  ip_header_len,
  l4_header_len_of,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPH_ID_OFF,
  IPH_CHECK_OFF,
  IPH_LEN,
  UDPH_CHECK_OFF,
  TCPH_SEQ_OFF,
  TCPH_CHECK_OFF,
  PAYLOAD_INDEX_LEN,
  put16,
  put32,
  csum_partial,
  pseudo_header_sum,
} from '../uapi/inet.js';
import { buildFrameTemplate } from './frame_template.js';
import type { FlowSpec, FlowTable } from './flows.js';

/**
 * Every flow's frames as the device writes them (issue 21: a device at the cost of hardware).
 * Built once per run, on SharedArrayBuffers so the device thread attaches without a copy:
 *
 *   hdr / head32   per flow, the first `stride` bytes of its packet-0 frame (buildFrameTemplate's
 *                  bytes: every header, the packet index and the start of the payload), `stride`
 *                  a multiple of 4 and at least a cache line where the frame is that long
 *   tail32         per payload kind (IPv6 ? 2 : 0) + (TCP ? 1 : 0), the rest of the frame, which
 *                  depends on the kind alone (tail_at[kind], tail_words[kind] words)
 *   ipsum, l4sum   per flow, the 16-bit folded one's-complement sums of its IPv4 header and of
 *                  its L4 pseudo-header and segment with every per-packet field zero (IP id, IP
 *                  check, TCP seq, L4 check, packet index)
 *   rss_hash/type  per flow, the 82599's Toeplitz hash of its headers and its RSS type (set_rss):
 *                  a flow's hash never changes, so the NIC does not recompute it per packet
 *
 * Per packet the device copies the head and tail as 32-bit words into the buffer (copy) and
 * writes the five per-packet fields with their checksums completed from the sums (stamp): a
 * few stores, no parse of the headers. stampPacket (frame_template.ts) stays the reference the
 * tests hold stamp to.
 */
/** What a FlowFrames is made of (all on SharedArrayBuffers): a thread hands it to another. */
export interface FlowFramesData {
  flows: FlowTable;
  frameLen: number;
  /** TCP frames carry the timestamp option. */
  tsopt: boolean;
  stride: number;
  hdr: Uint8Array;
  tail32: Int32Array;
  ipsum: Int32Array;
  l4sum: Int32Array;
  rss_hash: Int32Array;
  rss_type: Uint8Array;
  /** --pcap: the capture's frames, which the wire sends instead of these flows' frames. */
  replay: ReplayData | null;
  /** --pcap: each capture frame's RSS hash and type (set_rss). */
  replay_rss_hash: Int32Array;
  replay_rss_type: Uint8Array;
}

/** The payload kind of a flow: (IPv6 ? 2 : 0) + (TCP ? 1 : 0). */
function payloadKind(family: number, proto: number): number {
  return (family === 6 ? 2 : 0) + (proto === IPPROTO_TCP ? 1 : 0);
}

/** The smallest head: one cache line of the frame, or the whole of a shorter frame. */
const HEAD_MIN = 64;

const shared32 = (words: number) => new Int32Array(new SharedArrayBuffer(Math.max(words, 1) * 4));

/** An RSS engine as frames need it: the hash of a frame's headers and the type it leaves (devices/nic.ts's RssEngine). */
export interface FrameHasher {
  hash_i32(bytes: Uint8Array, offset: number, len: number): number;
  readonly type: number;
}

export class FlowFrames implements FlowFramesData {
  readonly hdr: Uint8Array;
  readonly head32: Int32Array;
  readonly tail32: Int32Array;
  readonly ipsum: Int32Array;
  readonly l4sum: Int32Array;
  readonly rss_hash: Int32Array;
  readonly rss_type: Uint8Array;
  /** Bytes of head per flow: a multiple of 4. */
  readonly stride: number;
  private readonly head_words: number;
  /** Per flow: its payload kind. */
  private readonly kind: Uint8Array;
  private readonly isn: Int32Array;
  /** Per kind: where its tail starts in tail32 and its words; header bytes (= the payload's offset), L4 offset, TCP payload bytes. */
  private readonly tail_at = new Int32Array(4);
  private readonly tail_words = new Int32Array(4);
  private readonly hdr_bytes = new Int32Array(4);
  private readonly l4_off = new Int32Array(4);
  private readonly l4_check_off = new Int32Array(4);
  private readonly payload_len = new Int32Array(4);
  /** --pcap: the capture's frames (the flows above are its one-way 5-tuples), as words too. */
  replay: ReplayData | null = null;
  replay32: Int32Array = new Int32Array(0);
  replay_rss_hash: Int32Array = new Int32Array(0);
  replay_rss_type: Uint8Array = new Uint8Array(0);

  /** The frames another thread built (FlowFramesData received in workerData). */
  static attach(d: FlowFramesData): FlowFrames {
    const f = new FlowFrames(d.flows, d.frameLen, 0, 0, d.tsopt, d);
    f.set_replay(d.replay);
    f.replay_rss_hash = d.replay_rss_hash;
    f.replay_rss_type = d.replay_rss_type;
    return f;
  }

  constructor(
    readonly flows: FlowTable,
    readonly frameLen: number,
    srcMacBase: number,
    dstMac: number,
    readonly tsopt = false,
    built?: FlowFramesData,
  ) {
    const n = flows.count;
    for (let k = 0; k < 4; k++) {
      const v6 = (k & 2) !== 0;
      const proto = k & 1 ? IPPROTO_TCP : IPPROTO_UDP;
      const l4 = ETH_HLEN + ip_header_len(v6 ? 6 : 4);
      this.l4_off[k] = l4;
      this.hdr_bytes[k] = l4 + l4_header_len_of(proto, tsopt);
      this.l4_check_off[k] = l4 + (proto === IPPROTO_TCP ? TCPH_CHECK_OFF : UDPH_CHECK_OFF);
      this.payload_len[k] = frameLen - this.hdr_bytes[k];
    }
    this.kind = new Uint8Array(n);
    let widest = 0;
    for (let i = 0; i < n; i++) {
      const k = payloadKind(flows.family[i], flows.proto[i]);
      this.kind[i] = k;
      if (this.hdr_bytes[k] > widest) widest = this.hdr_bytes[k];
    }
    this.isn = flows.isn;
    const frame_words = (frameLen + 3) >> 2;
    this.stride = Math.min(frame_words * 4, Math.max(HEAD_MIN, (widest + PAYLOAD_INDEX_LEN + 3) & ~3));
    this.head_words = this.stride >> 2;
    for (let k = 0, at = 0; k < 4; k++) {
      this.tail_at[k] = at;
      this.tail_words[k] = frame_words - this.head_words;
      at += this.tail_words[k];
    }
    if (built) {
      this.hdr = built.hdr;
      this.head32 = new Int32Array(built.hdr.buffer, built.hdr.byteOffset, built.hdr.byteLength >> 2);
      this.tail32 = built.tail32;
      this.ipsum = built.ipsum;
      this.l4sum = built.l4sum;
      this.rss_hash = built.rss_hash;
      this.rss_type = built.rss_type;
      return;
    }
    this.head32 = shared32(n * this.head_words);
    this.hdr = new Uint8Array(this.head32.buffer, 0, n * this.stride);
    this.tail32 = shared32(4 * (frame_words - this.head_words));
    this.ipsum = shared32(n);
    this.l4sum = shared32(n);
    this.rss_hash = shared32(n);
    this.rss_type = new Uint8Array(new SharedArrayBuffer(Math.max(n, 1)));
    const scratch = new Uint8Array(frame_words * 4);
    const a6 = new Uint32Array(4);
    const f: FlowSpec = { saddr: 0, daddr: 0, sport: 0, dport: 0, proto: IPPROTO_UDP, tsopt, saddr6: a6, daddr6: new Uint32Array(4) };
    const tail_done = new Uint8Array(4);
    for (let i = 0; i < n; i++) {
      f.saddr = flows.saddr[i];
      f.daddr = flows.daddr[i];
      f.sport = flows.sport[i];
      f.dport = flows.dport[i];
      f.proto = flows.proto[i] as 6 | 17;
      f.isn = flows.isn[i] >>> 0;
      f.family = flows.family[i] === 6 ? 6 : 4;
      if (f.family === 6) {
        (f.saddr6 as Uint32Array).set(flows.saddr6.subarray(i * 4, i * 4 + 4));
        (f.daddr6 as Uint32Array).set(flows.daddr6.subarray(i * 4, i * 4 + 4));
      }
      buildFrameTemplate(scratch, 0, f, frameLen, (srcMacBase + i) >>> 0, dstMac);
      this.hdr.set(scratch.subarray(0, this.stride), i * this.stride);
      const k = this.kind[i];
      if (tail_done[k] === 0) {
        tail_done[k] = 1;
        const words = new Int32Array(scratch.buffer, this.stride, this.tail_words[k]);
        this.tail32.set(words, this.tail_at[k]);
      }
      this.sums(scratch, i, k);
    }
  }

  /** Flow i's ipsum and l4sum from its packet-0 frame in `frame` (the per-packet fields zeroed in a copy). */
  private sums(frame: Uint8Array, i: number, k: number): void {
    const v4 = (k & 2) === 0;
    const tcp = (k & 1) !== 0;
    const l4 = this.l4_off[k];
    put16(frame, this.l4_check_off[k], 0);
    put32(frame, this.hdr_bytes[k], 0);
    if (tcp) put32(frame, l4 + TCPH_SEQ_OFF, 0);
    const l4len = this.frameLen - l4;
    this.l4sum[i] = fold16(csum_partial(frame, l4, l4len, pseudo_header_sum(frame, 0, tcp ? IPPROTO_TCP : IPPROTO_UDP, l4len)));
    if (v4) {
      put16(frame, ETH_HLEN + IPH_ID_OFF, 0);
      put16(frame, ETH_HLEN + IPH_CHECK_OFF, 0);
      this.ipsum[i] = fold16(csum_partial(frame, ETH_HLEN, IPH_LEN, 0));
    }
  }

  /** Hash every flow's headers (and every replayed frame's) with the NIC's RSS engine. Setup time. */
  set_rss(rss: FrameHasher): void {
    for (let i = 0; i < this.flows.count; i++) {
      this.rss_hash[i] = rss.hash_i32(this.hdr, i * this.stride, this.stride);
      this.rss_type[i] = rss.type;
    }
    const r = this.replay;
    if (r === null) return;
    this.replay_rss_hash = shared32(r.count);
    this.replay_rss_type = new Uint8Array(new SharedArrayBuffer(Math.max(r.count, 1)));
    for (let i = 0; i < r.count; i++) {
      if (r.len[i] === 0) continue;
      this.replay_rss_hash[i] = rss.hash_i32(r.bytes, r.off[i], r.len[i]);
      this.replay_rss_type[i] = rss.type;
    }
  }

  /** --pcap: the capture's frames (their word view for copy_replay). */
  set_replay(r: ReplayData | null): void {
    this.replay = r;
    this.replay32 = r === null ? new Int32Array(0) : new Int32Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength >> 2);
  }

  /** Header bytes of flow i's frames. */
  hdr_len(i: number): number {
    return this.hdr_bytes[this.kind[i]];
  }

  /** Write flow i's packet-0 frame (frameLen bytes, rounded up to a word) at word w of i32. Allocates nothing. */
  copy(i32: Int32Array, w: number, i: number): void {
    const hw = this.head_words;
    const h = this.head32;
    const from = i * hw;
    for (let j = 0; j < hw; j++) i32[w + j] = h[from + j];
    const k = this.kind[i];
    const tw = this.tail_words[k];
    if (tw === 0) return;
    const t = this.tail32;
    const at = this.tail_at[k];
    const to = w + hw;
    for (let j = 0; j < tw; j++) i32[to + j] = t[at + j];
  }

  /**
   * Flow i's packet-0 frame (frameLen bytes) at out[offset], any buffer and alignment: what
   * copy() writes, for set-up and tests.
   */
  write(out: Uint8Array, offset: number, i: number): void {
    const head = Math.min(this.stride, this.frameLen);
    out.set(this.hdr.subarray(i * this.stride, i * this.stride + head), offset);
    if (head === this.frameLen) return;
    const k = this.kind[i];
    const tail = new Uint8Array(this.tail32.buffer, this.tail32.byteOffset + this.tail_at[k] * 4, this.frameLen - head);
    out.set(tail, offset + head);
  }

  /** --pcap: copy capture frame i (its length rounded up to a word) to word w of i32. */
  copy_replay(i32: Int32Array, w: number, i: number): void {
    const r = this.replay!;
    const from = r.off[i] >> 2;
    const words = (r.len[i] + 3) >> 2;
    const src = this.replay32;
    for (let j = 0; j < words; j++) i32[w + j] = src[from + j];
  }

  /**
   * Stamp packet `index` of flow i into its copy at u8[at]: the packet index, the IPv4 id
   * (index & 0xffff) and header checksum, the TCP seq (isn + index × payload, mod 2^32) and the
   * L4 checksum, each checksum the fold of the flow's sum and the fields written; with
   * `corrupt`, the IPv4 checksum's low bit flipped. The same bytes as stampPacket. Allocates
   * nothing; `index` is taken mod 2^32.
   */
  stamp(u8: Uint8Array, at: number, i: number, index: number, corrupt: boolean): void {
    const k = this.kind[i];
    const hi = (index >>> 16) & 0xffff;
    const lo = index & 0xffff;
    const pay = at + this.hdr_bytes[k];
    u8[pay] = hi >> 8;
    u8[pay + 1] = hi & 0xff;
    u8[pay + 2] = lo >> 8;
    u8[pay + 3] = lo & 0xff;
    let s = this.l4sum[i] + hi + lo;
    if ((k & 1) !== 0) {
      const seq = (this.isn[i] + Math.imul(index, this.payload_len[k])) | 0;
      const sh = seq >>> 16;
      const sl = seq & 0xffff;
      const o = at + this.l4_off[k] + TCPH_SEQ_OFF;
      u8[o] = sh >> 8;
      u8[o + 1] = sh & 0xff;
      u8[o + 2] = sl >> 8;
      u8[o + 3] = sl & 0xff;
      s += sh + sl;
    }
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    let check = ~s & 0xffff;
    if (check === 0 && (k & 1) === 0) check = 0xffff; // UDP: 0 would say "no checksum" (RFC 768)
    const co = at + this.l4_check_off[k];
    u8[co] = check >> 8;
    u8[co + 1] = check & 0xff;
    if ((k & 2) !== 0) return; // IPv6: no id, no header checksum
    const ip = at + ETH_HLEN;
    u8[ip + IPH_ID_OFF] = lo >> 8;
    u8[ip + IPH_ID_OFF + 1] = lo & 0xff;
    let t = this.ipsum[i] + lo;
    t = (t & 0xffff) + (t >>> 16);
    t = (t & 0xffff) + (t >>> 16);
    let ipcheck = ~t & 0xffff;
    if (corrupt) ipcheck ^= 0x0001;
    u8[ip + IPH_CHECK_OFF] = ipcheck >> 8;
    u8[ip + IPH_CHECK_OFF + 1] = ipcheck & 0xff;
  }
}

/** A partial sum folded to 16 bits, not complemented. */
function fold16(sum: number): number {
  let s = sum >>> 0;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
