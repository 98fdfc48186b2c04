/**
 * frames.ts: the wire format the traffic generator writes and the checksum helpers the kernel
 * side uses (`ip_fast_csum`, `csum_fold`, `csum_replace2/4` keep the kernel's names).
 *
 * Every frame is Ethernet II / IPv4 or IPv6 / UDP or TCP, exactly `frameLen` bytes in the buffer
 * (the 4-byte FCS is not stored), laid out big-endian as on the wire:
 *
 *   frame offset  size  field
 *   0             6     h_dest     02:00 + dstMac (low 32 bits), locally administered unicast
 *   6             6     h_source   02:00 + srcMac
 *   12            2     h_proto    ETH_P_IP (0x0800)
 *   14            20    IPv4       version 4, IHL 5, tos 0, tot_len = frameLen - 14, id = packet
 *                                  index & 0xffff, DF, TTL 64, protocol, check, saddr, daddr
 *   34            8     UDP        source, dest, len, check (over the pseudo-header)
 *            or   20    TCP        source, dest, seq, ack_seq, doff 5, ACK, window, check,
 *                                  urg_ptr
 *   34 + 8/20     rest  payload    bytes 0..3: per-flow packet index (u32 BE), then a filler
 *
 * An IPv6 frame (`--ip 6`) has h_proto ETH_P_IPV6 (0x86dd) and, in place of the IPv4 header,
 * the 40-byte IPv6 header: version 6, traffic class 0, the flow's flow label (as a Linux sender
 * with net.ipv6.auto_flowlabels sets one: ip6_make_flowlabel), payload_len, next header UDP or
 * TCP, hop limit 64, the 128-bit addresses. No extension headers; no IP id and no header
 * checksum, so only the payload index and the TCP seq are stamped (and `--bad-csum-rate`,
 * an IPv4 header checksum fault, does not apply).
 *
 * Checksums are computed over 16-bit big-endian words; a "partial sum" here is a non-negative
 * number below 2^32 that `csum_fold` folds with end-around carry (the kernel's `__wsum`).
 *
 * Hot path: `ip_fast_csum`, `csum_*`, `stampPacket`, the `frame_*` readers and
 * `verify_l4_csum` allocate nothing (byte arithmetic on a Uint8Array plus offsets, numbers
 * out). `makeFlows` and `buildFrameTemplate` are setup-time and check their arguments.
 * Readers assume a well-formed IPv4 frame at `offset`; `ip_rcv` validates before they run.
 * A V8 caveat for "nothing": a number >= 2^31 (a u32 seq, say) crossing a call that is not
 * inlined is boxed. Internals pass only 16-bit halves across calls; 32-bit inputs are taken
 * mod 2^32, so callers can hand them over as int32 (from an Int32Array) and stay box-free.
 */
import type { Prng } from '../lib/prng.js';
import type { ReplayData } from './replay.js';
import {
  ETH_HLEN,
  JUMBO_FRAME_LEN,
  ETH_P_IPV6,
  IPV6H_LEN,
  IPV6H_PAYLOAD_LEN_OFF,
  IPV6H_NEXTHDR_OFF,
  IPV6H_HOP_LIMIT_OFF,
  IPV6H_SADDR_OFF,
  IPV6H_DADDR_OFF,
  IPV6_DEFAULT_HOPLIMIT,
  IPV6_FLOWLABEL_MASK,
  frame_is_ipv6,
  frame_l4_proto,
  frame_len_min,
  ip_header_len,
  l4_header_len_of,
  ETH_DEST_OFF,
  ETH_SOURCE_OFF,
  ETH_PROTO_OFF,
  ETH_P_IP,
  ETH_ZLEN,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPH_VERSION_IHL_OFF,
  IPH_TOS_OFF,
  IPH_TOT_LEN_OFF,
  IPH_ID_OFF,
  IPH_FRAG_OFF_OFF,
  IPH_TTL_OFF,
  IPH_PROTOCOL_OFF,
  IPH_CHECK_OFF,
  IPH_SADDR_OFF,
  IPH_DADDR_OFF,
  IPH_LEN,
  IP_DF,
  IP_DEFAULT_TTL,
  UDPH_SOURCE_OFF,
  UDPH_DEST_OFF,
  UDPH_LEN_OFF,
  UDPH_CHECK_OFF,
  TCPH_SEQ_OFF,
  TCPH_ACK_SEQ_OFF,
  TCPH_DOFF_OFF,
  TCPH_FLAGS_OFF,
  TCPH_WINDOW_OFF,
  TCPH_CHECK_OFF,
  TCPH_URG_PTR_OFF,
  TCP_HLEN,
  TCP_FLAG_ACK,
  TCPOPT_NOP,
  TCPOPT_TIMESTAMP,
  TCPOLEN_TIMESTAMP,
  TCPOLEN_TSTAMP_ALIGNED,
  PAYLOAD_INDEX_LEN,
  get16,
  put16,
  put32,
  csum_fold,
  csum_partial,
  ip_fast_csum,
  csum_replace2,
  l4_offset,
  l4_header_len,
  frame_l4_payload_len,
  pseudo_header_sum,
} from '../uapi/inet.js';
// The wire format is the kernel's; re-exported for callers of the generator.
export * from '../uapi/inet.js';

const TCP_TEMPLATE_WINDOW = 0xffff;
const TCP_TEMPLATE_ACK_SEQ = 1;

/**
 * Overwrite the covered 16-bit word at `o` with `new16` and return checksum `check` updated
 * for the change (RFC 1624). Every value crossing this call is below 2^16, so a call that is
 * not inlined still passes small integers and boxes nothing.
 */
function replace_word16(bytes: Uint8Array, o: number, new16: number, check: number): number {
  const old16 = get16(bytes, o);
  put16(bytes, o, new16);
  return csum_replace2(check, old16, new16);
}

/**
 * Stamp packet `index` of its flow into a copy of a template already placed at `offset`:
 * payload index, IP id = index & 0xffff, TCP seq = (tcpIsn + index * payloadLen) mod 2^32,
 * with both the IPv4 header checksum and the L4 checksum updated incrementally (RFC 1624) so
 * they stay valid. If `corruptIpCsum`, the IP check field is then damaged so `ip_fast_csum`
 * no longer returns 0. An IPv6 frame has neither: only its L4 fields are stamped. Reads protocol, IHL and lengths from the bytes (templates are UDP or
 * TCP; for another protocol only the IP id would change).
 *
 * Called per generated packet: allocates nothing. `index` and `tcpIsn` are taken mod 2^32,
 * so callers may pass them as int32 (e.g. read from an Int32Array): V8 boxes a number
 * >= 2^31 passed to a call that is not inlined, an int32 it passes as is.
 */
export function stampPacket(bytes: Uint8Array, offset: number, index: number, tcpIsn: number, corruptIpCsum: boolean): void {
  const ip = offset + ETH_HLEN;
  const v6 = frame_is_ipv6(bytes, offset);
  const proto = frame_l4_proto(bytes, offset);
  const l4 = l4_offset(bytes, offset);
  const payloadLen = frame_l4_payload_len(bytes, offset);
  const payload = l4 + l4_header_len(bytes, offset, l4);
  // Work in 16-bit halves: each is one covered word of its checksum.
  const indexHi = (index >>> 16) & 0xffff;
  const indexLo = index & 0xffff;

  // IPv6 has no identification field and no header checksum: only the L4 fields change.
  let ipCheck = v6 ? 0 : replace_word16(bytes, ip + IPH_ID_OFF, indexLo, get16(bytes, ip + IPH_CHECK_OFF));

  // Payload and seq are covered by the L4 checksum only; both fields sit at even offsets
  // from the L4 header, so their halves are whole 16-bit words of the checksummed segment.
  if (proto === IPPROTO_TCP) {
    const seq = (tcpIsn + (index >>> 0) * payloadLen) >>> 0; // exact: < 2^32 * 2^16 < 2^53
    let check = get16(bytes, l4 + TCPH_CHECK_OFF);
    check = replace_word16(bytes, payload, indexHi, check);
    check = replace_word16(bytes, payload + 2, indexLo, check);
    check = replace_word16(bytes, l4 + TCPH_SEQ_OFF, seq >>> 16, check);
    check = replace_word16(bytes, l4 + TCPH_SEQ_OFF + 2, seq & 0xffff, check);
    put16(bytes, l4 + TCPH_CHECK_OFF, check);
  } else if (proto === IPPROTO_UDP) {
    let check = get16(bytes, l4 + UDPH_CHECK_OFF);
    const checked = check !== 0; // 0 means "no checksum" (RFC 768): leave it so
    check = replace_word16(bytes, payload, indexHi, check);
    check = replace_word16(bytes, payload + 2, indexLo, check);
    if (checked) put16(bytes, l4 + UDPH_CHECK_OFF, check === 0 ? 0xffff : check);
  } // other protocols: no payload layout is known, only the IP id is stamped

  if (v6) return;
  // Any change other than 0x0000 <-> 0xffff (the two zeros of one's complement) breaks the
  // sum; flipping the low bit never is that change.
  if (corruptIpCsum) ipCheck ^= 0x0001;
  put16(bytes, ip + IPH_CHECK_OFF, ipCheck);
}

// --- flows and templates (setup time) ---------------------------------------------------------

export interface FlowSpec {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  proto: 6 | 17;
  /** TCP initial sequence number (u32, or the same bits as int32); `makeFlows` sets it to
   * `flow_isn(flowIndex)`. Absent: 0. */
  isn?: number;
  /** TCP: carry the timestamp option (NOP, NOP, TS: 12 bytes, doff 8), as Linux senders do. */
  tsopt?: boolean;
  /** 6: an IPv6 flow, whose addresses are saddr6/daddr6 (four u32 words each, big-endian order). Absent: 4. */
  family?: 4 | 6;
  saddr6?: ArrayLike<number>;
  daddr6?: ArrayLike<number>;
}

/**
 * The IPv6 addresses of generated flows: the IPv4 draw's host id under a documentation prefix,
 * 2001:db8:a::<saddr> -> fd00::<daddr> (so `--ip 6` draws the same tuples as `--ip 4`).
 */
export const IPV6_SOURCE_PREFIX: readonly number[] = [0x20010db8, 0x000a0000, 0];
export const IPV6_DEST_PREFIX: readonly number[] = [0xfd000000, 0, 0];

/**
 * The flow label a Linux sender puts on a flow (net.ipv6.auto_flowlabels = 1:
 * ip6_make_flowlabel hashes the flow, keeps 20 bits, never 0). Fixed per flow.
 */
export function flow_label_of(saddr: number, daddr: number, sport: number, dport: number, proto: number): number {
  return tupleHash(saddr, daddr, sport, dport, proto ^ 0x600) & IPV6_FLOWLABEL_MASK || 1;
}

/**
 * The timestamp option's values. The sender's clock is not modelled: TSval is fixed per flow
 * (as for the segments a sender sends within one tick of its timestamp clock), TSecr a fixed
 * echo. GRO merges segments whose options are equal byte for byte (tcp_gro_receive).
 */
function tsval_of(isn: number): number {
  return (isn ^ 0x5a5a5a5a) >>> 0;
}
const TSECR = 0x00c0ffee;

/** Linux's default ip_local_port_range: 32768..60999. */
const EPHEMERAL_PORT_MIN = 32768;
const EPHEMERAL_PORT_COUNT = 60999 - 32768 + 1;
/** Services the flows go to: iperf, http-alt, memcached, a generic sink. */
const SERVICE_PORTS: readonly number[] = [5001, 8080, 11211, 9000];
/** Destination hosts 192.168.0.1 .. 192.168.0.DEST_HOST_COUNT. */
const DEST_NET = 0xc0a80000;
const DEST_HOST_COUNT = 4;
const SOURCE_NET = 0x0a000000; // 10.0.0.0/8
export const FLOW_COUNT_MAX = 1 << 22;

/** Deterministic TCP initial sequence number of flow `flowIndex`. */
export function flow_isn(flowIndex: number): number {
  let h = Math.imul((flowIndex + 1) >>> 0, 0x9e3779b9) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function pickProto(prng: Prng, proto: 'udp' | 'tcp' | 'mix'): 6 | 17 {
  if (proto === 'udp') return IPPROTO_UDP;
  if (proto === 'tcp') return IPPROTO_TCP;
  return prng.nextU32() & 1 ? IPPROTO_TCP : IPPROTO_UDP;
}

/**
 * A run's flows as a structure of arrays: flow i is saddr[i]:sport[i] -> daddr[i]:dport[i],
 * protocol proto[i], TCP initial sequence number isn[i]. A million flows are six typed arrays
 * (about 17 MB), not a million objects; on SharedArrayBuffers, so the engine hands the table
 * it built to the device thread without a copy.
 */
export interface FlowTable {
  count: number;
  saddr: Uint32Array;
  daddr: Uint32Array;
  sport: Uint16Array;
  dport: Uint16Array;
  proto: Uint8Array;
  isn: Int32Array;
  /** 4 or 6 per flow. */
  family: Uint8Array;
  /** IPv6 flows' addresses, four words per flow (flow i at 4i); empty when every flow is IPv4. */
  saddr6: Uint32Array;
  daddr6: Uint32Array;
}

/** `--ip`: the generator's address families. */
export type IpFamilies = '4' | '6' | 'mix';

/**
 * `count` distinct 5-tuples (10.x.y.z:ephemeral -> 192.168.0.1-4:service), deterministic from
 * `prng`: per flow, source host, destination host, source port, service, protocol, and with
 * `--ip mix` the family (drawn in that order), a tuple seen before skipped. IPv6 flows put the
 * same host ids under IPV6_SOURCE_PREFIX / IPV6_DEST_PREFIX. Duplicates are found
 * in an open-addressing table of flow indices (a power of two at least twice `count`), by
 * comparing the typed arrays: no key strings. Setup time.
 */
export function makeFlowTable(count: number, prng: Prng, proto: 'udp' | 'tcp' | 'mix', ip: IpFamilies = '4'): FlowTable {
  if (!Number.isInteger(count) || count < 1 || count > FLOW_COUNT_MAX) {
    throw new RangeError(`makeFlows: count must be an integer in [1, ${FLOW_COUNT_MAX}], got ${count}`);
  }
  if (proto !== 'udp' && proto !== 'tcp' && proto !== 'mix') {
    throw new RangeError(`makeFlows: proto must be 'udp', 'tcp' or 'mix', got ${String(proto)}`);
  }
  if (ip !== '4' && ip !== '6' && ip !== 'mix') throw new RangeError(`makeFlows: ip must be '4', '6' or 'mix', got ${String(ip)}`);
  const words6 = ip === '4' ? 0 : count * 4;
  const t: FlowTable = {
    count,
    saddr: new Uint32Array(new SharedArrayBuffer(count * 4)),
    daddr: new Uint32Array(new SharedArrayBuffer(count * 4)),
    sport: new Uint16Array(new SharedArrayBuffer(count * 2)),
    dport: new Uint16Array(new SharedArrayBuffer(count * 2)),
    proto: new Uint8Array(new SharedArrayBuffer(count)),
    isn: new Int32Array(new SharedArrayBuffer(count * 4)),
    family: new Uint8Array(new SharedArrayBuffer(count)),
    saddr6: new Uint32Array(new SharedArrayBuffer(words6 * 4)),
    daddr6: new Uint32Array(new SharedArrayBuffer(words6 * 4)),
  };
  let size = 1;
  while (size < 2 * count) size <<= 1;
  const seen = new Int32Array(size).fill(-1);
  const mask = size - 1;
  // The tuple space is ~2^45, so collisions are rare; the bound only guards against a bug.
  const attemptsMax = count * 4 + 1024;
  let n = 0;
  for (let attempt = 0; n < count; attempt++) {
    if (attempt >= attemptsMax) throw new Error('makeFlows: could not draw distinct 5-tuples');
    // Host part 1..0xfffffe: avoids 10.0.0.0 and 10.255.255.255.
    const saddr = (SOURCE_NET | (1 + prng.nextInt(0xfffffe))) >>> 0;
    const daddr = (DEST_NET | (1 + prng.nextInt(DEST_HOST_COUNT))) >>> 0;
    const sport = EPHEMERAL_PORT_MIN + prng.nextInt(EPHEMERAL_PORT_COUNT);
    const dport = SERVICE_PORTS[prng.nextInt(SERVICE_PORTS.length)]!;
    const p = pickProto(prng, proto);
    const family = ip === '4' ? 4 : ip === '6' ? 6 : prng.nextU32() & 1 ? 6 : 4;
    let h = tupleHash(saddr, daddr, sport, dport, p | (family << 8)) & mask;
    let dup = false;
    for (let s = seen[h]!; s !== -1; h = (h + 1) & mask, s = seen[h]!) {
      if (
        t.saddr[s] === saddr &&
        t.daddr[s] === daddr &&
        t.sport[s] === sport &&
        t.dport[s] === dport &&
        t.proto[s] === p &&
        t.family[s] === family
      ) {
        dup = true;
        break;
      }
    }
    if (dup) continue;
    seen[h] = n;
    t.saddr[n] = saddr;
    t.daddr[n] = daddr;
    t.sport[n] = sport;
    t.dport[n] = dport;
    t.proto[n] = p;
    t.isn[n] = flow_isn(n);
    t.family[n] = family;
    if (family === 6) {
      for (let w = 0; w < 3; w++) {
        t.saddr6[n * 4 + w] = IPV6_SOURCE_PREFIX[w]!;
        t.daddr6[n * 4 + w] = IPV6_DEST_PREFIX[w]!;
      }
      t.saddr6[n * 4 + 3] = saddr;
      t.daddr6[n * 4 + 3] = daddr;
    }
    n++;
  }
  return t;
}

/** A 32-bit mix of a 5-tuple (murmur3's finaliser over the xor-rotated fields). */
function tupleHash(saddr: number, daddr: number, sport: number, dport: number, proto: number): number {
  let h = Math.imul(saddr ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ daddr, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ ((sport << 16) | dport), 0x85ebca6b);
  h ^= proto;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Flow i of a table as a FlowSpec (setup-time callers). */
export function flowSpec(t: FlowTable, i: number): FlowSpec {
  return {
    saddr: t.saddr[i]!,
    daddr: t.daddr[i]!,
    sport: t.sport[i]!,
    dport: t.dport[i]!,
    proto: t.proto[i] as 6 | 17,
    isn: t.isn[i]! >>> 0,
    ...(t.family[i] === 6
      ? {
          family: 6 as const,
          saddr6: Array.from(t.saddr6.subarray(i * 4, i * 4 + 4)),
          daddr6: Array.from(t.daddr6.subarray(i * 4, i * 4 + 4)),
        }
      : {}),
  };
}

/** makeFlowTable as an array of FlowSpec objects (for a few flows; the engine uses the table). */
export function makeFlows(count: number, prng: Prng, proto: 'udp' | 'tcp' | 'mix', ip: IpFamilies = '4'): FlowSpec[] {
  const t = makeFlowTable(count, prng, proto, ip);
  return Array.from({ length: count }, (_, i) => flowSpec(t, i));
}

function assertU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`buildFrameTemplate: ${name} must be an integer in [0, 2^32), got ${v}`);
  }
}

function assertU16(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new RangeError(`buildFrameTemplate: ${name} must be an integer in [0, 65535], got ${v}`);
  }
}

function checkTemplateArgs(out: Uint8Array, offset: number, flow: FlowSpec, frameLen: number): void {
  if (!Number.isInteger(frameLen) || frameLen < ETH_ZLEN || frameLen > JUMBO_FRAME_LEN) {
    throw new RangeError(`buildFrameTemplate: frameLen must be an integer in [${ETH_ZLEN}, ${JUMBO_FRAME_LEN}], got ${frameLen}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + frameLen > out.length) {
    throw new RangeError(`buildFrameTemplate: frame [${offset}, ${offset}+${frameLen}) does not fit a buffer of ${out.length}`);
  }
  if (flow.proto !== IPPROTO_TCP && flow.proto !== IPPROTO_UDP) {
    throw new RangeError(`buildFrameTemplate: flow.proto must be 6 or 17, got ${String(flow.proto)}`);
  }
  assertU32('flow.saddr', flow.saddr);
  assertU32('flow.daddr', flow.daddr);
  assertU16('flow.sport', flow.sport);
  assertU16('flow.dport', flow.dport);
  const isn = flow.isn ?? 0;
  if (!Number.isInteger(isn) || isn < -0x80000000 || isn > 0xffffffff) {
    throw new RangeError(`buildFrameTemplate: flow.isn must be a 32-bit integer (int32 or uint32), got ${isn}`);
  }
  if (flow.family === 6) {
    for (const [name, a] of [
      ['saddr6', flow.saddr6],
      ['daddr6', flow.daddr6],
    ] as const) {
      if (a === undefined || a.length !== 4) throw new RangeError(`buildFrameTemplate: an IPv6 flow needs ${name}, four u32 words`);
      for (let w = 0; w < 4; w++) assertU32(`flow.${name}[${w}]`, a[w]!);
    }
  }
  const min = frame_len_min(flow.family ?? 4, flow.proto, flow.tsopt === true);
  if (frameLen < min) throw new RangeError(`buildFrameTemplate: frameLen ${frameLen} is below ${min}, the headers and the packet index`);
}

/** 02:00:xx:xx:xx:xx, a locally administered unicast address from the low 32 bits. */
function writeMac(out: Uint8Array, o: number, mac32: number): void {
  out[o] = 0x02;
  out[o + 1] = 0x00;
  put32(out, o + 2, mac32);
}

function writeIpHeader(out: Uint8Array, ip: number, flow: FlowSpec, totLen: number): void {
  out[ip + IPH_VERSION_IHL_OFF] = 0x45;
  out[ip + IPH_TOS_OFF] = 0;
  put16(out, ip + IPH_TOT_LEN_OFF, totLen);
  put16(out, ip + IPH_ID_OFF, 0);
  put16(out, ip + IPH_FRAG_OFF_OFF, IP_DF);
  out[ip + IPH_TTL_OFF] = IP_DEFAULT_TTL;
  out[ip + IPH_PROTOCOL_OFF] = flow.proto;
  put16(out, ip + IPH_CHECK_OFF, 0);
  put32(out, ip + IPH_SADDR_OFF, flow.saddr);
  put32(out, ip + IPH_DADDR_OFF, flow.daddr);
  put16(out, ip + IPH_CHECK_OFF, ip_fast_csum(out, ip, 5));
}

/** The IPv6 header of a flow (no extension headers): the flow's label, payload_len, next header. */
function writeIpv6Header(out: Uint8Array, ip: number, flow: FlowSpec, payloadLen: number): void {
  const s6 = flow.saddr6!;
  const d6 = flow.daddr6!;
  put32(out, ip, (0x60000000 | flow_label_of(s6[3]!, d6[3]!, flow.sport, flow.dport, flow.proto)) >>> 0);
  put16(out, ip + IPV6H_PAYLOAD_LEN_OFF, payloadLen);
  out[ip + IPV6H_NEXTHDR_OFF] = flow.proto;
  out[ip + IPV6H_HOP_LIMIT_OFF] = IPV6_DEFAULT_HOPLIMIT;
  for (let w = 0; w < 4; w++) {
    put32(out, ip + IPV6H_SADDR_OFF + 4 * w, s6[w]!);
    put32(out, ip + IPV6H_DADDR_OFF + 4 * w, d6[w]!);
  }
}

/** Ethernet's type and the IP header of a flow's frame at `offset`, either family. */
function writeL3(out: Uint8Array, offset: number, flow: FlowSpec, frameLen: number): void {
  const ip = offset + ETH_HLEN;
  if (flow.family === 6) {
    put16(out, offset + ETH_PROTO_OFF, ETH_P_IPV6);
    writeIpv6Header(out, ip, flow, frameLen - ETH_HLEN - IPV6H_LEN);
  } else {
    put16(out, offset + ETH_PROTO_OFF, ETH_P_IP);
    writeIpHeader(out, ip, flow, frameLen - ETH_HLEN);
  }
}

function writeL4Header(out: Uint8Array, l4: number, flow: FlowSpec, l4Len: number): void {
  put16(out, l4 + UDPH_SOURCE_OFF, flow.sport); // same offsets in UDP and TCP
  put16(out, l4 + UDPH_DEST_OFF, flow.dport);
  if (flow.proto === IPPROTO_UDP) {
    put16(out, l4 + UDPH_LEN_OFF, l4Len);
    put16(out, l4 + UDPH_CHECK_OFF, 0);
    return;
  }
  put32(out, l4 + TCPH_SEQ_OFF, flow.isn ?? 0);
  put32(out, l4 + TCPH_ACK_SEQ_OFF, TCP_TEMPLATE_ACK_SEQ);
  const hlen = TCP_HLEN + (flow.tsopt ? TCPOLEN_TSTAMP_ALIGNED : 0);
  out[l4 + TCPH_DOFF_OFF] = (hlen / 4) << 4;
  if (flow.tsopt) {
    // tcp_options_write: NOP, NOP, TIMESTAMP, length 10, TSval, TSecr.
    out[l4 + TCP_HLEN] = TCPOPT_NOP;
    out[l4 + TCP_HLEN + 1] = TCPOPT_NOP;
    out[l4 + TCP_HLEN + 2] = TCPOPT_TIMESTAMP;
    out[l4 + TCP_HLEN + 3] = TCPOLEN_TIMESTAMP;
    put32(out, l4 + TCP_HLEN + 4, tsval_of(flow.isn ?? 0));
    put32(out, l4 + TCP_HLEN + 8, TSECR);
  }
  // ACK only: a bulk sender sets PSH at the end of a write, and PSH makes GRO flush.
  out[l4 + TCPH_FLAGS_OFF] = TCP_FLAG_ACK;
  put16(out, l4 + TCPH_WINDOW_OFF, TCP_TEMPLATE_WINDOW);
  put16(out, l4 + TCPH_CHECK_OFF, 0);
  put16(out, l4 + TCPH_URG_PTR_OFF, 0);
}

/** Payload: packet index 0, then a byte ramp so the checksum covers non-trivial data. */
function writePayload(out: Uint8Array, payload: number, len: number): void {
  put32(out, payload, 0);
  for (let i = PAYLOAD_INDEX_LEN; i < len; i++) out[payload + i] = i & 0xff;
}

/**
 * Write a complete, valid frame of exactly `frameLen` bytes (60..9014, FCS excluded; at least
 * frameLenMin) for `flow` at `out[offset]`: packet index 0, IP id 0, TCP seq = flow.isn (0 if
 * unset), the checksums correct. IPv4 or IPv6 by flow.family. Setup time.
 */
export function buildFrameTemplate(
  out: Uint8Array,
  offset: number,
  flow: FlowSpec,
  frameLen: number,
  srcMac: number,
  dstMac: number,
): void {
  checkTemplateArgs(out, offset, flow, frameLen);
  assertU32('srcMac', srcMac);
  assertU32('dstMac', dstMac);
  const l4 = offset + ETH_HLEN + ip_header_len(flow.family ?? 4);
  const l4Len = frameLen - (l4 - offset);
  const l4hl = l4_header_len_of(flow.proto, flow.tsopt === true);

  writeMac(out, offset + ETH_DEST_OFF, dstMac);
  writeMac(out, offset + ETH_SOURCE_OFF, srcMac);
  writeL3(out, offset, flow, frameLen);
  writeL4Header(out, l4, flow, l4Len);
  writePayload(out, l4 + l4hl, l4Len - l4hl);

  const sum = csum_partial(out, l4, l4Len, pseudo_header_sum(out, offset, flow.proto, l4Len));
  const check = csum_fold(sum);
  if (flow.proto === IPPROTO_UDP) put16(out, l4 + UDPH_CHECK_OFF, check === 0 ? 0xffff : check);
  else put16(out, l4 + TCPH_CHECK_OFF, check);
}

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
 * few stores, no parse of the headers. stampPacket above stays the reference the tests hold
 * stamp to.
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
      this.payload_len[k] = frameLen - this.hdr_bytes[k]!;
    }
    this.kind = new Uint8Array(n);
    let widest = 0;
    for (let i = 0; i < n; i++) {
      const k = payloadKind(flows.family[i]!, flows.proto[i]!);
      this.kind[i] = k;
      if (this.hdr_bytes[k]! > widest) widest = this.hdr_bytes[k]!;
    }
    this.isn = flows.isn;
    const frame_words = (frameLen + 3) >> 2;
    this.stride = Math.min(frame_words * 4, Math.max(HEAD_MIN, (widest + PAYLOAD_INDEX_LEN + 3) & ~3));
    this.head_words = this.stride >> 2;
    for (let k = 0, at = 0; k < 4; k++) {
      this.tail_at[k] = at;
      this.tail_words[k] = frame_words - this.head_words;
      at += this.tail_words[k]!;
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
      f.saddr = flows.saddr[i]!;
      f.daddr = flows.daddr[i]!;
      f.sport = flows.sport[i]!;
      f.dport = flows.dport[i]!;
      f.proto = flows.proto[i] as 6 | 17;
      f.isn = flows.isn[i]! >>> 0;
      f.family = flows.family[i] === 6 ? 6 : 4;
      if (f.family === 6) {
        (f.saddr6 as Uint32Array).set(flows.saddr6.subarray(i * 4, i * 4 + 4));
        (f.daddr6 as Uint32Array).set(flows.daddr6.subarray(i * 4, i * 4 + 4));
      }
      buildFrameTemplate(scratch, 0, f, frameLen, (srcMacBase + i) >>> 0, dstMac);
      this.hdr.set(scratch.subarray(0, this.stride), i * this.stride);
      const k = this.kind[i]!;
      if (tail_done[k] === 0) {
        tail_done[k] = 1;
        const words = new Int32Array(scratch.buffer, this.stride, this.tail_words[k]!);
        this.tail32.set(words, this.tail_at[k]!);
      }
      this.sums(scratch, i, k);
    }
  }

  /** Flow i's ipsum and l4sum from its packet-0 frame in `frame` (the per-packet fields zeroed in a copy). */
  private sums(frame: Uint8Array, i: number, k: number): void {
    const v4 = (k & 2) === 0;
    const tcp = (k & 1) !== 0;
    const l4 = this.l4_off[k]!;
    put16(frame, this.l4_check_off[k]!, 0);
    put32(frame, this.hdr_bytes[k]!, 0);
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
      this.replay_rss_hash[i] = rss.hash_i32(r.bytes, r.off[i]!, r.len[i]!);
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
    return this.hdr_bytes[this.kind[i]!]!;
  }

  /** Write flow i's packet-0 frame (frameLen bytes, rounded up to a word) at word w of i32. Allocates nothing. */
  copy(i32: Int32Array, w: number, i: number): void {
    const hw = this.head_words;
    const h = this.head32;
    const from = i * hw;
    for (let j = 0; j < hw; j++) i32[w + j] = h[from + j]!;
    const k = this.kind[i]!;
    const tw = this.tail_words[k]!;
    if (tw === 0) return;
    const t = this.tail32;
    const at = this.tail_at[k]!;
    const to = w + hw;
    for (let j = 0; j < tw; j++) i32[to + j] = t[at + j]!;
  }

  /**
   * Flow i's packet-0 frame (frameLen bytes) at out[offset], any buffer and alignment: what
   * copy() writes, for set-up and tests.
   */
  write(out: Uint8Array, offset: number, i: number): void {
    const head = Math.min(this.stride, this.frameLen);
    out.set(this.hdr.subarray(i * this.stride, i * this.stride + head), offset);
    if (head === this.frameLen) return;
    const k = this.kind[i]!;
    const tail = new Uint8Array(this.tail32.buffer, this.tail32.byteOffset + this.tail_at[k]! * 4, this.frameLen - head);
    out.set(tail, offset + head);
  }

  /** --pcap: copy capture frame i (its length rounded up to a word) to word w of i32. */
  copy_replay(i32: Int32Array, w: number, i: number): void {
    const r = this.replay!;
    const from = r.off[i]! >> 2;
    const words = (r.len[i]! + 3) >> 2;
    const src = this.replay32;
    for (let j = 0; j < words; j++) i32[w + j] = src[from + j]!;
  }

  /**
   * Stamp packet `index` of flow i into its copy at u8[at]: the packet index, the IPv4 id
   * (index & 0xffff) and header checksum, the TCP seq (isn + index × payload, mod 2^32) and the
   * L4 checksum, each checksum the fold of the flow's sum and the fields written; with
   * `corrupt`, the IPv4 checksum's low bit flipped. The same bytes as stampPacket. Allocates
   * nothing; `index` is taken mod 2^32.
   */
  stamp(u8: Uint8Array, at: number, i: number, index: number, corrupt: boolean): void {
    const k = this.kind[i]!;
    const hi = (index >>> 16) & 0xffff;
    const lo = index & 0xffff;
    const pay = at + this.hdr_bytes[k]!;
    u8[pay] = hi >> 8;
    u8[pay + 1] = hi & 0xff;
    u8[pay + 2] = lo >> 8;
    u8[pay + 3] = lo & 0xff;
    let s = this.l4sum[i]! + hi + lo;
    if ((k & 1) !== 0) {
      const seq = (this.isn[i]! + Math.imul(index, this.payload_len[k]!)) | 0;
      const sh = seq >>> 16;
      const sl = seq & 0xffff;
      const o = at + this.l4_off[k]! + TCPH_SEQ_OFF;
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
    const co = at + this.l4_check_off[k]!;
    u8[co] = check >> 8;
    u8[co + 1] = check & 0xff;
    if ((k & 2) !== 0) return; // IPv6: no id, no header checksum
    const ip = at + ETH_HLEN;
    u8[ip + IPH_ID_OFF] = lo >> 8;
    u8[ip + IPH_ID_OFF + 1] = lo & 0xff;
    let t = this.ipsum[i]! + lo;
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
