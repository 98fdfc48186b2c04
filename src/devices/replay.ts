// Replay (--pcap FILE): a capture's frames as the wire's input instead of generated flows.
//
// Setup time (the engine, before any worker starts): the capture's frames are copied onto a
// SharedArrayBuffer, back to back, and each frame is classified as the stack will see it:
//   - its one-way 5-tuple (Ethernet II, then IPv4 that is not a fragment, or IPv6 with its
//     hop-by-hop / routing / destination options headers walked as ipv6_rcv walks them, then
//     UDP or TCP with the ports inside the frame): one flow, one socket, per distinct tuple;
//   - its position among its flow's frames, kept beside the frame (the device writes it into
//     the skb's replay_pos; the order check reads it: captured payloads carry no index);
//   - everything else (ARP, LLDP, VLAN-tagged frames, ICMP, fragments) is no flow: it takes
//     the kernel's path for it and is counted there (not_ip, no_socket, ip_frag).
// A frame shorter than ETH_ZLEN (a capture taken on the sending host, before padding) is
// padded with zeros to 60 bytes, as the wire carries it. A snaplen-truncated frame (caplen <
// origlen) is one the NIC would not see whole: counted as generated and dropped at the wire
// (packets.dropped.snaplen). A frame's wire size is its length plus the 4-byte FCS.
//
// On the device thread the frames go out in capture order, looping with --packets /
// --duration; loop k gives a frame position pos + k * (its flow's frames per pass), so order
// holds across loops. Replayed TCP flows keep the capture's timing: no receive window slows
// them (the generator's window checks are for its own senders).

import type { FlowTable } from './flows.js';
import {
  ETH_HLEN,
  ETH_P_IP,
  ETH_P_IPV6,
  ETH_ZLEN,
  IPPROTO_TCP,
  IPPROTO_UDP,
  NEXTHDR_DEST,
  NEXTHDR_FRAGMENT,
  NEXTHDR_HOP,
  NEXTHDR_ROUTING,
  ETH_PROTO_OFF,
  IP_MF,
  IP_OFFSET,
  IPH_DADDR_OFF,
  IPH_FRAG_OFF_OFF,
  IPH_LEN,
  IPH_PROTOCOL_OFF,
  IPH_SADDR_OFF,
  get16,
  get32,
} from '../uapi/inet.js';

/** A parsed capture, as the reader (src/uapi/pcap.ts) gives it: frames as typed arrays, no object per frame. */
export interface Capture {
  bytes: Uint8Array;
  count: number;
  data_off: ArrayLike<number>;
  caplen: ArrayLike<number>;
  origlen: ArrayLike<number>;
  /** ns after the first frame's timestamp. */
  ts_ns: ArrayLike<number>;
  /** Every frame has a timestamp (no Simple Packet Block). */
  timed: boolean;
}

/** What the device thread replays: on SharedArrayBuffers, so the engine hands it over without a copy. */
export interface ReplayData {
  /** Frames in one pass of the capture (truncated ones included). */
  count: number;
  /** The frames, back to back (each padded to ETH_ZLEN), each at a multiple of 4 bytes. */
  bytes: Uint8Array;
  /** Frame i at bytes[off[i]]. */
  off: Uint32Array;
  /** Frame i's length as DMA'd (FCS excluded); 0 for a snaplen-truncated frame. */
  len: Uint16Array;
  /** The flow (socket) of frame i, or -1 (not a UDP/TCP 5-tuple the stack will look up). */
  flow: Int32Array;
  /** Frame i's position among its flow's frames in one pass. */
  pos: Int32Array;
  /** Per flow: its frames in one pass. */
  flow_frames: Int32Array;
  /** Frame i's capture time, ns after the first frame's (0 for all when untimed). */
  ts_ns: Float64Array;
  /** Every frame has a timestamp (no SPB): --pcap-timing can use them. */
  timed: boolean;
  /** One pass's length for --pcap-timing: the last frame's time plus the mean gap. */
  period_ns: number;
  /** Mean wire size of a frame (length + FCS), for the line rate. */
  wire_bytes_mean: number;
}

/** What a run's configuration needs of a capture before anything is allocated. */
export interface ReplaySummary {
  frames: number;
  /**
   * The run's flows (sockets): one per distinct UDP/TCP tuple, or, for a capture with none
   * (only ARP, ICMP, cut frames), the one socket no frame finds (flowTable): a run has at
   * least one flow, so the device's flow picker and the socket table are never empty.
   */
  flows: number;
  /** Distinct UDP/TCP one-way 5-tuples in the capture (0: every frame takes a non-flow path). */
  tuples: number;
  /** The longest frame as DMA'd (FCS excluded, padded to 60). */
  max_len: number;
  truncated: number;
  timed: boolean;
  wire_bytes_mean: number;
  /** Frames by what the stack does with them. */
  ipv4: number;
  ipv6: number;
  other: number;
}

/** A replay's flows (one per distinct one-way 5-tuple) and its frames. */
export interface Replay {
  flows: FlowTable;
  data: ReplayData;
  summary: ReplaySummary;
}

const sab = (bytes: number) => new SharedArrayBuffer(Math.max(bytes, 8));

/** A one-way 5-tuple being read from a frame (addresses as four words; IPv4 in word 3). */
class IpTuple {
  family = 4;
  proto = 0;
  sport = 0;
  dport = 0;
  readonly saddr = new Uint32Array(4);
  readonly daddr = new Uint32Array(4);
}

/** The distinct tuples of a capture, in order of first appearance: open addressing, no key strings. */
class TupleTable {
  count = 0;
  readonly frames: Int32Array;
  private readonly family: Uint8Array;
  private readonly proto: Uint8Array;
  private readonly sport: Uint16Array;
  private readonly dport: Uint16Array;
  private readonly saddr: Uint32Array;
  private readonly daddr: Uint32Array;
  private readonly slots: Int32Array;

  constructor(cap: number) {
    this.frames = new Int32Array(cap);
    this.family = new Uint8Array(cap);
    this.proto = new Uint8Array(cap);
    this.sport = new Uint16Array(cap);
    this.dport = new Uint16Array(cap);
    this.saddr = new Uint32Array(cap * 4);
    this.daddr = new Uint32Array(cap * 4);
    let size = 16;
    while (size < 2 * cap) size <<= 1;
    this.slots = new Int32Array(size).fill(-1);
  }

  /** The flow of tuple t (a new one if unseen); counts one more frame for it. */
  intern(t: IpTuple): number {
    let h = Math.imul(t.proto ^ (t.family << 8) ^ ((t.sport << 16) | t.dport), 0x9e3779b1);
    for (let w = 0; w < 4; w++) h = Math.imul(h ^ t.saddr[w] ^ Math.imul(t.daddr[w], 0x85ebca6b), 0xc2b2ae35) ^ (h >>> 15);
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const f = this.slots[i];
      if (f === -1) {
        const n = this.count++;
        this.slots[i] = n;
        this.family[n] = t.family;
        this.proto[n] = t.proto;
        this.sport[n] = t.sport;
        this.dport[n] = t.dport;
        this.saddr.set(t.saddr, n * 4);
        this.daddr.set(t.daddr, n * 4);
        this.frames[n] = 1;
        return n;
      }
      if (this.same(f, t)) {
        this.frames[f] += 1;
        return f;
      }
    }
  }

  private same(f: number, t: IpTuple): boolean {
    if (this.family[f] !== t.family || this.proto[f] !== t.proto || this.sport[f] !== t.sport || this.dport[f] !== t.dport) return false;
    for (let w = 0; w < 4; w++) if (this.saddr[f * 4 + w] !== t.saddr[w] || this.daddr[f * 4 + w] !== t.daddr[w]) return false;
    return true;
  }

  /**
   * The flows as a run's FlowTable (at least one: a capture with no UDP/TCP flow still gets a
   * socket, 0.0.0.0:0 -> 0.0.0.0:0, that no frame finds).
   */
  flowTable(): FlowTable {
    const n = Math.max(1, this.count);
    let v6 = false;
    for (let f = 0; f < this.count; f++) if (this.family[f] === 6) v6 = true;
    const t: FlowTable = {
      count: n,
      saddr: new Uint32Array(sab(n * 4)),
      daddr: new Uint32Array(sab(n * 4)),
      sport: new Uint16Array(sab(n * 2)),
      dport: new Uint16Array(sab(n * 2)),
      proto: new Uint8Array(sab(n)),
      isn: new Int32Array(sab(n * 4)),
      family: new Uint8Array(sab(n)),
      saddr6: new Uint32Array(v6 ? sab(n * 16) : new SharedArrayBuffer(0)),
      daddr6: new Uint32Array(v6 ? sab(n * 16) : new SharedArrayBuffer(0)),
    };
    t.proto[0] = IPPROTO_UDP;
    t.family[0] = 4;
    for (let f = 0; f < this.count; f++) {
      t.family[f] = this.family[f];
      t.proto[f] = this.proto[f];
      t.sport[f] = this.sport[f];
      t.dport[f] = this.dport[f];
      t.saddr[f] = this.saddr[f * 4 + 3];
      t.daddr[f] = this.daddr[f * 4 + 3];
      if (v6) {
        t.saddr6.set(this.saddr.subarray(f * 4, f * 4 + 4), f * 4);
        t.daddr6.set(this.daddr.subarray(f * 4, f * 4 + 4), f * 4);
      }
    }
    return t;
  }
}

/**
 * The one-way 5-tuple of the frame bytes[o .. o+len), as ip_rcv / ipv6_rcv would find its
 * socket, into `t`; false when the frame is no UDP/TCP flow (non-IP, a fragment, another
 * protocol, headers cut short).
 */
function frameTuple(b: Uint8Array, o: number, len: number, t: IpTuple): boolean {
  if (len < ETH_HLEN + IPH_LEN) return false;
  const end = o + len;
  const type = get16(b, o + ETH_PROTO_OFF);
  const ip = o + ETH_HLEN;
  let l4: number;
  if (type === ETH_P_IP) {
    const ihl = b[ip] & 15;
    if (b[ip] >> 4 !== 4 || ihl < 5 || (get16(b, ip + IPH_FRAG_OFF_OFF) & (IP_MF | IP_OFFSET)) !== 0) return false;
    t.proto = b[ip + IPH_PROTOCOL_OFF];
    t.family = 4;
    for (let w = 0; w < 4; w++) t.saddr[w] = t.daddr[w] = 0;
    t.saddr[3] = get32(b, ip + IPH_SADDR_OFF);
    t.daddr[3] = get32(b, ip + IPH_DADDR_OFF);
    l4 = ip + ihl * 4;
  } else if (type === ETH_P_IPV6) {
    if (ip + 40 > end || b[ip] >> 4 !== 6) return false;
    let nexthdr = b[ip + 6];
    l4 = ip + 40;
    while (nexthdr === NEXTHDR_HOP || nexthdr === NEXTHDR_ROUTING || nexthdr === NEXTHDR_DEST) {
      if (l4 + 2 > end) return false;
      nexthdr = b[l4];
      l4 += (b[l4 + 1] + 1) * 8;
    }
    if (nexthdr === NEXTHDR_FRAGMENT) return false;
    t.proto = nexthdr;
    t.family = 6;
    for (let w = 0; w < 4; w++) {
      t.saddr[w] = get32(b, ip + 8 + 4 * w);
      t.daddr[w] = get32(b, ip + 24 + 4 * w);
    }
  } else {
    return false;
  }
  if ((t.proto !== IPPROTO_UDP && t.proto !== IPPROTO_TCP) || l4 + 4 > end) return false;
  t.sport = get16(b, l4);
  t.dport = get16(b, l4 + 2);
  return true;
}

/**
 * The replay of a parsed capture: its frames on shared memory, its flows, each frame's flow
 * and position, and the summary resolveConfig checks (the longest frame against the NIC's).
 * Setup time.
 */
export function buildReplay(cap: Capture): Replay {
  const n = cap.count;
  let total = 0;
  // Each frame starts on a 4-byte boundary: the device copies frames as 32-bit words.
  for (let i = 0; i < n; i++) total += (Math.max(cap.caplen[i], ETH_ZLEN) + 3) & ~3;
  const bytes = new Uint8Array(sab(total));
  const off = new Uint32Array(sab(n * 4));
  const len = new Uint16Array(sab(n * 2));
  const flow = new Int32Array(sab(n * 4));
  const pos = new Int32Array(sab(n * 4));
  const ts_ns = new Float64Array(sab(n * 8));
  const keys = new TupleTable(Math.max(16, n));
  const t = new IpTuple();
  const summary: ReplaySummary = {
    frames: n,
    flows: 0,
    tuples: 0,
    max_len: ETH_ZLEN,
    truncated: 0,
    timed: cap.timed,
    wire_bytes_mean: 0,
    ipv4: 0,
    ipv6: 0,
    other: 0,
  };
  let at = 0;
  let wire = 0;
  for (let i = 0; i < n; i++) {
    const caplen = cap.caplen[i];
    const l = Math.max(caplen, ETH_ZLEN);
    bytes.set(cap.bytes.subarray(cap.data_off[i], cap.data_off[i] + caplen), at);
    off[i] = at;
    ts_ns[i] = cap.ts_ns[i];
    flow[i] = -1;
    if (caplen < cap.origlen[i]) {
      len[i] = 0;
      summary.truncated++;
    } else {
      len[i] = l;
      if (l > summary.max_len) summary.max_len = l;
      wire += l + 4;
      const type = caplen >= ETH_HLEN ? get16(bytes, at + ETH_PROTO_OFF) : 0;
      if (type === ETH_P_IP) summary.ipv4++;
      else if (type === ETH_P_IPV6) summary.ipv6++;
      else summary.other++;
      if (frameTuple(bytes, at, l, t)) {
        const f = keys.intern(t);
        flow[i] = f;
        pos[i] = keys.frames[f] - 1;
      }
    }
    at += (l + 3) & ~3;
  }
  const sent = n - summary.truncated;
  summary.wire_bytes_mean = sent > 0 ? wire / sent : ETH_ZLEN + 4;
  summary.tuples = keys.count;
  const flows = keys.flowTable();
  summary.flows = flows.count;
  const last = n > 0 ? ts_ns[n - 1] : 0;
  const data: ReplayData = {
    count: n,
    bytes,
    off,
    len,
    flow,
    pos,
    flow_frames: Int32Array.from(keys.frames.subarray(0, Math.max(1, keys.count))),
    ts_ns,
    timed: cap.timed,
    period_ns: last + (n > 1 ? last / (n - 1) : 0),
    wire_bytes_mean: summary.wire_bytes_mean,
  };
  return { flows, data, summary };
}
