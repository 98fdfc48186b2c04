/**
 * frame_template.ts: the wire format the traffic generator writes: a flow's frame built whole
 * (buildFrameTemplate, setup time) and packet `index` of it stamped into a copy (stampPacket,
 * the reference FlowFrames.stamp in frames.ts is held to). Offsets, constants and checksums
 * (`ip_fast_csum`, `csum_fold`, `csum_replace2/4`, the kernel's names) are in uapi/inet.ts.
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
 * Hot path: `stampPacket` allocates nothing (byte arithmetic on a Uint8Array plus offsets,
 * numbers out). `buildFrameTemplate` is setup-time and checks its arguments (as `makeFlows`,
 * flows.ts). uapi/inet.ts's readers assume a well-formed frame at `offset`; `ip_rcv`
 * validates before they run.
 * A V8 caveat for "nothing": a number >= 2^31 (a u32 seq, say) crossing a call that is not
 * inlined is boxed. Internals pass only 16-bit halves across calls; 32-bit inputs are taken
 * mod 2^32, so callers can hand them over as int32 (from an Int32Array) and stay box-free.
 */
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
  IPH_VERSION_IHL_5,
} from '../uapi/inet.js';
import { flow_label_of, type FlowSpec } from './flows.js';

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

/**
 * The timestamp option's values. The sender's clock is not modelled: TSval is fixed per flow
 * (as for the segments a sender sends within one tick of its timestamp clock), TSecr a fixed
 * echo. GRO merges segments whose options are equal byte for byte (tcp_gro_receive).
 */
function tsval_of(isn: number): number {
  return (isn ^ 0x5a5a5a5a) >>> 0;
}
const TSECR = 0x00c0ffee;

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
      for (let w = 0; w < 4; w++) assertU32(`flow.${name}[${w}]`, a[w]);
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
  out[ip + IPH_VERSION_IHL_OFF] = IPH_VERSION_IHL_5;
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
  put32(out, ip, (0x60000000 | flow_label_of(s6[3], d6[3], flow.sport, flow.dport, flow.proto)) >>> 0);
  put16(out, ip + IPV6H_PAYLOAD_LEN_OFF, payloadLen);
  out[ip + IPV6H_NEXTHDR_OFF] = flow.proto;
  out[ip + IPV6H_HOP_LIMIT_OFF] = IPV6_DEFAULT_HOPLIMIT;
  for (let w = 0; w < 4; w++) {
    put32(out, ip + IPV6H_SADDR_OFF + 4 * w, s6[w]);
    put32(out, ip + IPV6H_DADDR_OFF + 4 * w, d6[w]);
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
