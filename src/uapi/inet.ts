// Protocol wire formats and Internet checksums, as the kernel's headers define them
// (include/uapi/linux/if_ether.h, ip.h, udp.h, tcp.h; lib/checksum.c, include/net/checksum.h).
// The kernel (ip_rcv, GRO, socket lookup) reads frames with these; the traffic generator
// (devices/frame_template.ts, devices/frames.ts) writes them. Everything here is allocation-free byte arithmetic on a
// Uint8Array plus offsets.
//
// A V8 caveat for "allocation-free": a number >= 2^31 (a u32 seq, say) crossing a call that is
// not inlined is boxed. Internals pass only 16-bit halves across calls; 32-bit inputs are taken
// mod 2^32, so callers can hand them over as int32 (from an Int32Array) and stay box-free.
// --- Ethernet -----------------------------------------------------------------------------
export const ETH_ALEN = 6;
/** The largest frame without FCS: MTU 9000 (--nic virtio); the physical NICs stop at 1514 (config/schema.ts). */
export const JUMBO_FRAME_LEN = 9014;
export const ETH_HLEN = 14;
export const ETH_DEST_OFF = 0;
export const ETH_SOURCE_OFF = 6;
export const ETH_PROTO_OFF = 12;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
/** Frame size bounds in the buffer, FCS excluded (64..1518 on the wire). */
export const ETH_ZLEN = 60;
export const ETH_FRAME_LEN = 1514;

// --- IPv4 (offsets from the start of the IP header) ---------------------------------------
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPH_VERSION_IHL_OFF = 0;
export const IPH_TOS_OFF = 1;
export const IPH_TOT_LEN_OFF = 2;
export const IPH_ID_OFF = 4;
export const IPH_FRAG_OFF_OFF = 6;
export const IPH_TTL_OFF = 8;
export const IPH_PROTOCOL_OFF = 9;
export const IPH_CHECK_OFF = 10;
export const IPH_SADDR_OFF = 12;
export const IPH_DADDR_OFF = 16;
/** Header length without options (IHL 5). */
export const IPH_LEN = 20;
/** The first byte of an IPv4 header without options: version 4, IHL 5 (inet_gro_receive's 0x45). */
export const IPH_VERSION_IHL_5 = 0x45;
/** frag_off flags and offset (include/net/ip.h). IP_CE is the reserved bit. */
export const IP_CE = 0x8000;
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;
export const IP_DEFAULT_TTL = 64;

// --- IPv6 (include/uapi/linux/ipv6.h; offsets from the start of the IPv6 header) ----------
/** The first word: version 4 bits, traffic class 8, flow label 20. */
export const IPV6H_FIRST_WORD_OFF = 0;
export const IPV6H_PAYLOAD_LEN_OFF = 4;
export const IPV6H_NEXTHDR_OFF = 6;
export const IPV6H_HOP_LIMIT_OFF = 7;
export const IPV6H_SADDR_OFF = 8;
export const IPV6H_DADDR_OFF = 24;
/** sizeof(struct ipv6hdr): the fixed header; extension headers follow it. */
export const IPV6H_LEN = 40;
export const IPV6_FLOWLABEL_MASK = 0x000fffff;
/** The traffic class bits of the first word (include/uapi/linux/in6.h). */
export const IPV6_TCLASS_MASK = 0x0ff00000;
/** Extension headers (include/net/ipv6.h NEXTHDR_*) that ipv6_rcv's handlers walk. */
export const NEXTHDR_HOP = 0;
export const NEXTHDR_ROUTING = 43;
export const NEXTHDR_FRAGMENT = 44;
export const NEXTHDR_DEST = 60;
export const NEXTHDR_NONE = 59;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_ICMP = 1;
/** Linux's default hop limit (net.ipv6.conf.all.hop_limit). */
export const IPV6_DEFAULT_HOPLIMIT = 64;

/** ipv6_optlen (include/net/ipv6.h): the length of the extension header at bytes[hdr], (hdrlen + 1) * 8. */
export function ipv6_optlen(bytes: Uint8Array, hdr: number): number {
  return (bytes[hdr + 1] + 1) << 3;
}

// --- UDP (offsets from the start of the UDP header) ---------------------------------------
export const UDPH_SOURCE_OFF = 0;
export const UDPH_DEST_OFF = 2;
export const UDPH_LEN_OFF = 4;
export const UDPH_CHECK_OFF = 6;
export const UDP_HLEN = 8;

// --- TCP (offsets from the start of the TCP header) ---------------------------------------
export const TCPH_SOURCE_OFF = 0;
export const TCPH_DEST_OFF = 2;
export const TCPH_SEQ_OFF = 4;
export const TCPH_ACK_SEQ_OFF = 8;
export const TCPH_DOFF_OFF = 12;
export const TCPH_FLAGS_OFF = 13;
export const TCPH_WINDOW_OFF = 14;
export const TCPH_CHECK_OFF = 16;
export const TCPH_URG_PTR_OFF = 18;
/** Header length without options (doff 5). */
export const TCP_HLEN = 20;
export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_CWR = 0x80;
/** TCP options (include/net/tcp.h): the timestamp option as Linux senders align it, NOP NOP TS. */
export const TCPOPT_NOP = 1;
export const TCPOPT_TIMESTAMP = 8;
export const TCPOLEN_TIMESTAMP = 10;
export const TCPOLEN_TSTAMP_ALIGNED = 12;

/** Payload bytes 0..3 carry the per-flow packet index: the payload can never be shorter. */
export const PAYLOAD_INDEX_LEN = 4;

/** The IP header length of a family: IPv4 without options, or IPv6's fixed header. */
export function ip_header_len(family: number): number {
  return family === 6 ? IPV6H_LEN : IPH_LEN;
}

/** The L4 header length of a flow's frames: UDP, TCP, or TCP with the timestamp option. */
export function l4_header_len_of(proto: number, tsopt: boolean): number {
  return proto === IPPROTO_UDP ? UDP_HLEN : TCP_HLEN + (tsopt ? TCPOLEN_TSTAMP_ALIGNED : 0);
}

/**
 * The shortest generated frame, FCS excluded: Ethernet, the IP header, the L4 header and the
 * 4-byte packet index, and never below ETH_ZLEN.
 */
export function frame_len_min(family: number, proto: number, tsopt: boolean): number {
  const len = ETH_HLEN + ip_header_len(family) + l4_header_len_of(proto, tsopt) + PAYLOAD_INDEX_LEN;
  return len > ETH_ZLEN ? len : ETH_ZLEN;
}

// --- byte helpers (big-endian, no views) ---------------------------------------------------
export function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

// --- checksums -----------------------------------------------------------------------------

/**
 * Fold a 32-bit partial sum to 16 bits with end-around carry and return its complement, as
 * the kernel's csum_fold does: the value to store in a checksum field, or 0 when the sum
 * covered a correct checksum.
 */
export function csum_fold(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** One's complement add of two partial sums (the kernel's csum_add), result below 2^32. */
export function csum_add(sum: number, addend: number): number {
  const s = (sum >>> 0) + (addend >>> 0);
  return s >= 0x100000000 ? s - 0xffffffff : s;
}

/**
 * Partial sum of `len` bytes from `offset` as big-endian 16-bit words (an odd last byte is
 * padded with zero), added to `sum`. Like the kernel's csum_partial, the result is unfolded.
 */
export function csum_partial(bytes: Uint8Array, offset: number, len: number, sum: number): number {
  let s = 0;
  const end = offset + (len & ~1);
  for (let o = offset; o < end; o += 2) s += (bytes[o] << 8) | bytes[o + 1];
  if (len & 1) s += bytes[offset + len - 1] << 8;
  // s is an exact double (< 2^53 for any buffer); two folds bring it below 2^23.
  s = (s % 0x10000) + Math.floor(s / 0x10000);
  s = (s % 0x10000) + Math.floor(s / 0x10000);
  return csum_add(sum, s);
}

/**
 * The kernel's ip_fast_csum: complement of the folded one's complement sum of `ihl` 32-bit
 * words from `offset`. Over a header whose check field is correct it returns 0; over a header
 * with a zeroed check field it returns the value to store there.
 */
export function ip_fast_csum(bytes: Uint8Array, offset: number, ihl: number): number {
  let s = 0;
  const end = offset + ihl * 4;
  for (let o = offset; o < end; o += 2) s += (bytes[o] << 8) | bytes[o + 1];
  return csum_fold((s & 0xffff) + (s >>> 16));
}

/**
 * RFC 1624 eqn. 3 for one 16-bit word: HC' = ~(~HC + ~m + m'). Returns the new checksum
 * after the covered word `old16` became `new16` (the kernel's csum_replace2).
 */
export function csum_replace2(csum: number, old16: number, new16: number): number {
  const s = (~csum & 0xffff) + (~old16 & 0xffff) + (new16 & 0xffff);
  return csum_fold(s);
}

/**
 * RFC 1624 eqn. 3 for an aligned 32-bit field (two covered words): the new checksum after
 * `old32` became `new32` (the kernel's csum_replace4).
 */
export function csum_replace4(csum: number, old32: number, new32: number): number {
  const notOld = ~old32;
  const s = (~csum & 0xffff) + ((notOld >>> 16) & 0xffff) + (notOld & 0xffff) + (new32 >>> 16) + (new32 & 0xffff);
  return csum_fold(s);
}

// --- frame field access ---------------------------------------------------------------------

/**
 * Is the frame at `offset` IPv6 (EtherType 0x86dd)? The frame readers below serve both
 * families: what the generator writes, and what GRO and the order check read after ip_rcv /
 * ipv6_rcv validated them. IPv6 hop-by-hop, routing and destination options headers are
 * skipped (ipv6_skip_exthdrs, only for frames that have them).
 */
export function frame_is_ipv6(bytes: Uint8Array, offset: number): boolean {
  return bytes[offset + ETH_PROTO_OFF] === 0x86 && bytes[offset + ETH_PROTO_OFF + 1] === 0xdd;
}

/** ipv6_skip_exthdrs's second result: the protocol of the header at the offset it returned. */
let exthdr_proto = 0;

/**
 * Past the hop-by-hop, routing and destination options headers of the IPv6 header at
 * bytes[ip] (as ipv6_skip_exthdr, a fragment header not included): the upper-layer header's
 * offset, its protocol in exthdr_proto. At most 16 headers, within `bytes`.
 */
function ipv6_skip_exthdrs(bytes: Uint8Array, ip: number): number {
  let nh = bytes[ip + IPV6H_NEXTHDR_OFF];
  let off = ip + IPV6H_LEN;
  for (let k = 0; k < 16 && (nh === NEXTHDR_HOP || nh === NEXTHDR_ROUTING || nh === NEXTHDR_DEST) && off + 2 <= bytes.length; k++) {
    nh = bytes[off];
    off += ipv6_optlen(bytes, off);
  }
  exthdr_proto = nh;
  return off;
}

/** The L4 protocol of the frame at `offset`: IPv4's protocol, or IPv6's upper-layer next header. */
export function frame_l4_proto(bytes: Uint8Array, offset: number): number {
  const ip = offset + ETH_HLEN;
  if (!frame_is_ipv6(bytes, offset)) return bytes[ip + IPH_PROTOCOL_OFF];
  const nh = bytes[ip + IPV6H_NEXTHDR_OFF];
  if (nh === IPPROTO_UDP || nh === IPPROTO_TCP) return nh;
  ipv6_skip_exthdrs(bytes, ip);
  return exthdr_proto;
}

/** Offset of the L4 header of the frame at `offset` (IPv4: after IHL words; IPv6: after 40 bytes and any extension headers). */
export function l4_offset(bytes: Uint8Array, offset: number): number {
  const ip = offset + ETH_HLEN;
  if (frame_is_ipv6(bytes, offset)) {
    const nh = bytes[ip + IPV6H_NEXTHDR_OFF];
    return nh === IPPROTO_UDP || nh === IPPROTO_TCP ? ip + IPV6H_LEN : ipv6_skip_exthdrs(bytes, ip);
  }
  return ip + (bytes[ip + IPH_VERSION_IHL_OFF] & 0x0f) * 4;
}

/** L4 header length: 8 for UDP, doff * 4 for TCP, 0 for anything else. */
export function l4_header_len(bytes: Uint8Array, offset: number, l4: number): number {
  const proto = frame_l4_proto(bytes, offset);
  if (proto === IPPROTO_UDP) return UDP_HLEN;
  if (proto === IPPROTO_TCP) return (bytes[l4 + TCPH_DOFF_OFF] >>> 4) * 4;
  return 0;
}

/** L4 segment length (header + payload): IPv4's total length less its header, or IPv6's payload length less its extension headers. */
export function l4_len(bytes: Uint8Array, offset: number): number {
  const ip = offset + ETH_HLEN;
  if (frame_is_ipv6(bytes, offset)) return get16(bytes, ip + IPV6H_PAYLOAD_LEN_OFF) - (l4_offset(bytes, offset) - ip - IPV6H_LEN);
  return get16(bytes, ip + IPH_TOT_LEN_OFF) - (bytes[ip + IPH_VERSION_IHL_OFF] & 0x0f) * 4;
}

/** Offset of the L4 payload of the frame at `offset`. */
export function payload_offset(bytes: Uint8Array, offset: number): number {
  const l4 = l4_offset(bytes, offset);
  return l4 + l4_header_len(bytes, offset, l4);
}

/** L4 payload length in bytes of the frame at `offset`. */
export function frame_l4_payload_len(bytes: Uint8Array, offset: number): number {
  const l4 = l4_offset(bytes, offset);
  return l4_len(bytes, offset) - l4_header_len(bytes, offset, l4);
}

/** The per-flow packet index (payload bytes 0..3, big-endian u32). */
export function frame_payload_index(bytes: Uint8Array, offset: number): number {
  return get32(bytes, payload_offset(bytes, offset));
}

/** TCP sequence number of the TCP frame at `offset`. */
export function frame_tcp_seq(bytes: Uint8Array, offset: number): number {
  return get32(bytes, l4_offset(bytes, offset) + TCPH_SEQ_OFF);
}

/**
 * Pseudo-header partial sum: saddr, daddr, protocol, L4 length. IPv4 (RFC 768/793) or IPv6
 * (RFC 8200 8.1: the 128-bit addresses, a 32-bit length, the next header), by the frame's
 * EtherType.
 */
export function pseudo_header_sum(bytes: Uint8Array, offset: number, proto: number, len: number): number {
  const ip = offset + ETH_HLEN;
  if (frame_is_ipv6(bytes, offset)) {
    let s = proto + (len & 0xffff) + (len >>> 16);
    for (let o = ip + IPV6H_SADDR_OFF; o < ip + IPV6H_SADDR_OFF + 32; o += 2) s += get16(bytes, o);
    return s;
  }
  const s =
    get16(bytes, ip + IPH_SADDR_OFF) +
    get16(bytes, ip + IPH_SADDR_OFF + 2) +
    get16(bytes, ip + IPH_DADDR_OFF) +
    get16(bytes, ip + IPH_DADDR_OFF + 2) +
    proto +
    len;
  return s;
}

export const L4_CSUM_OK = 1; // UDP without a checksum: nothing to verify
export const L4_CSUM_BAD = 0; // not UDP or TCP: no checksum layout known
export const L4_CSUM_SUM = 2; // sum it

/** Before summing an L4 checksum: UDP with check 0 verifies (RFC 768), non-UDP/TCP fails. */
export function l4_csum_precheck(bytes: Uint8Array, proto: number, l4: number): number {
  if (proto === IPPROTO_UDP) return get16(bytes, l4 + UDPH_CHECK_OFF) === 0 ? L4_CSUM_OK : L4_CSUM_SUM;
  return proto === IPPROTO_TCP ? L4_CSUM_SUM : L4_CSUM_BAD;
}

/**
 * Full UDP or TCP checksum verification over pseudo-header, header and payload of the IPv4 or
 * IPv6 frame at `offset` (the stand-in for the stack's real checksum cost). A UDP check field
 * of 0 means "no checksum" (RFC 768) and verifies (over IPv6 it is not allowed, RFC 8200, and
 * udp6 drops it; the generator never writes it); protocols other than UDP/TCP do not.
 */
export function verify_l4_csum(bytes: Uint8Array, offset: number): boolean {
  const proto = frame_l4_proto(bytes, offset);
  const l4 = l4_offset(bytes, offset);
  const pre = l4_csum_precheck(bytes, proto, l4);
  if (pre !== L4_CSUM_SUM) return pre === L4_CSUM_OK;
  const len = l4_len(bytes, offset);
  return csum_fold(csum_partial(bytes, l4, len, pseudo_header_sum(bytes, offset, proto, len))) === 0;
}

// --- per-packet stamping ----------------------------------------------------------------------

/** A big-endian 32-bit field as an int32 (addresses, ports pairs, sequence numbers). */
export function get32i(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}
