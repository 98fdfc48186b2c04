// net/ipv4/ip_input.c (ip_rcv, ip_local_deliver), net/ipv6/ip6_input.c (ipv6_rcv,
// ip6_protocol_deliver_rcu) and the L4 entry points udp_rcv / tcp_v4_rcv / udpv6_rcv /
// tcp_v6_rcv, reduced to what the receive path measures: header validation with its drop
// counters, the socket lookup over the real header bytes, and delivery (sock.ts).
//
// Fragments are counted (drop_ip_frag) and freed: reassembly (ip_defrag, ipv6_frag_rcv) is not
// modelled. Neither is ICMP: a datagram for no UDP/TCP socket is a no_socket drop, and where
// the kernel answers a bad header with an ICMPv6 parameter problem rxsmp only drops and counts.
// IPv6 extension headers (hop-by-hop, routing, destination options) are handled out of line
// (ip6_exthdrs_rcv), reached only by packets that have them.

import type { KCpu } from './percpu.js';
import { kfree_skb } from './skbuff.js';
import { __inet6_lookup, __inet_lookup, sock_queue_rcv_skb } from './sock.js';
import {
  IPH_DADDR_OFF,
  IPH_FRAG_OFF_OFF,
  IPH_LEN,
  IPH_PROTOCOL_OFF,
  IPH_SADDR_OFF,
  IPH_TOT_LEN_OFF,
  IPH_VERSION_IHL_OFF,
  IP_MF,
  IP_OFFSET,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV6H_DADDR_OFF,
  IPV6H_FIRST_WORD_OFF,
  IPV6H_LEN,
  IPV6H_NEXTHDR_OFF,
  IPV6H_PAYLOAD_LEN_OFF,
  NEXTHDR_DEST,
  NEXTHDR_FRAGMENT,
  NEXTHDR_HOP,
  NEXTHDR_ROUTING,
  get16,
  get32i,
  ip_fast_csum,
  ipv6_optlen,
} from '../uapi/inet.js';

/**
 * ip_rcv: validate version, IHL, header checksum and total length (ip_rcv_core), trim,
 * then ip_local_deliver → the L4 handler. Softirq context.
 */
export function ip_rcv(c: KCpu, skb: number): void {
  const u8 = c.u8;
  const nh = c.skb_nh[skb];
  const frame = c.skb_data(skb);
  const ip = frame + nh;
  const len = c.skb_len[skb] - nh;
  if (len < IPH_LEN) return ip_drop(c, skb, c.SD.drop_ip_hdr);
  const vihl = u8[ip + IPH_VERSION_IHL_OFF];
  const ihl = vihl & 15;
  if (vihl >> 4 !== 4 || ihl < 5 || len < ihl * 4) return ip_drop(c, skb, c.SD.drop_ip_hdr);
  if (ip_fast_csum(u8, ip, ihl) !== 0) return ip_drop(c, skb, c.SD.drop_ip_csum);
  const tot_len = get16(u8, ip + IPH_TOT_LEN_OFF);
  if (len < tot_len || tot_len < ihl * 4) return ip_drop(c, skb, c.SD.drop_ip_hdr);
  // The rest of the stack, per skb: a GRO-merged train costs what one packet costs, which is
  // what GRO is for.
  if (c.stack_cost_ns !== 0) c.env.burn_ns(c.stack_cost_ns);
  // ip_local_deliver: ip_is_fragment → ip_defrag (not modelled).
  if ((get16(u8, ip + IPH_FRAG_OFF_OFF) & (IP_MF | IP_OFFSET)) !== 0) return ip_drop(c, skb, c.SD.drop_ip_frag);
  const proto = u8[ip + IPH_PROTOCOL_OFF];
  if (proto !== IPPROTO_UDP && proto !== IPPROTO_TCP) return ip_drop(c, skb, c.SD.drop_no_socket);
  const l4 = ip + ihl * 4;
  if (l4 + 4 > ip + tot_len) return ip_drop(c, skb, c.SD.drop_ip_hdr); // udp_rcv / tcp_v4_rcv: pskb_may_pull of the header
  const saddr = get32i(u8, ip + IPH_SADDR_OFF);
  const daddr = get32i(u8, ip + IPH_DADDR_OFF);
  const ports = get32i(u8, l4);
  const sk = __inet_lookup(c, saddr, daddr, ports, proto);
  if (sk < 0) return ip_drop(c, skb, c.SD.drop_no_socket);
  sock_queue_rcv_skb(c, sk, skb);
}

/**
 * ipv6_rcv (ipv6_rcv → ip6_rcv_core): version 6 (else InHdrErrors) and payload_len within the
 * skb (else InTruncatedPkts), then, for a packet with extension headers, ip6_exthdrs_rcv; then
 * the L4 handler: udpv6_rcv / tcp_v6_rcv's socket lookup and delivery. Softirq context.
 */
export function ipv6_rcv(c: KCpu, skb: number): void {
  const u8 = c.u8;
  const ip = c.skb_data(skb) + c.skb_nh[skb];
  const len = c.skb_len[skb] - c.skb_nh[skb];
  if (len < IPV6H_LEN || u8[ip + IPV6H_FIRST_WORD_OFF] >> 4 !== 6) return ip6_drop(c, skb, c.SD.drop_ip_hdr, c.SD.ip6_in_hdr_errors);
  const payload_len = get16(u8, ip + IPV6H_PAYLOAD_LEN_OFF);
  let nexthdr = u8[ip + IPV6H_NEXTHDR_OFF];
  // pkt_len may be zero if a Jumbo payload option is present: no trim then.
  const end = payload_len === 0 && nexthdr === NEXTHDR_HOP ? ip + len : ip + IPV6H_LEN + payload_len;
  if (end > ip + len) return ip6_drop(c, skb, c.SD.drop_ip_hdr, c.SD.ip6_in_truncated_pkts);
  if (c.stack_cost_ns !== 0) c.env.burn_ns(c.stack_cost_ns);
  let off = ip + IPV6H_LEN;
  if (nexthdr !== IPPROTO_UDP && nexthdr !== IPPROTO_TCP) {
    off = ip6_exthdrs_rcv(c, skb, ip, end, payload_len === 0);
    if (off < 0) return; // dropped and counted
    nexthdr = ip6_upper_proto;
  }
  if (nexthdr !== IPPROTO_UDP && nexthdr !== IPPROTO_TCP) return ip_drop(c, skb, c.SD.drop_no_socket);
  if (off + 4 > end) return ip_drop(c, skb, c.SD.drop_ip_hdr);
  const sk = __inet6_lookup(c, ip, get32i(u8, off), nexthdr);
  if (sk < 0) return ip_drop(c, skb, c.SD.drop_no_socket);
  sock_queue_rcv_skb(c, sk, skb);
}

export function ip_drop(c: KCpu, skb: number, reason: number): void {
  c.count(reason, c.skb_segs[skb]);
  kfree_skb(c, skb);
}

/** An IPv6 drop that 5.10 also counts in an Ip6 MIB counter (`mib`, a softnet field). */
function ip6_drop(c: KCpu, skb: number, reason: number, mib: number): void {
  c.count(mib, c.skb_segs[skb]);
  ip_drop(c, skb, reason);
}

// ------------------------------------------------------------------ IPv6 extension headers

/** ip6_exthdrs_rcv's second result: the upper-layer protocol at the offset it returned. */
let ip6_upper_proto = 0;

/** IPv6 TLV option types (include/uapi/linux/in6.h, ipv6.h). */
const IPV6_TLV_PAD1 = 0;
const IPV6_TLV_PADN = 1;
const IPV6_TLV_ROUTERALERT = 5;
const IPV6_TLV_JUMBO = 0xc2;
/** IP6_DEFAULT_MAX_HBH_OPTS_CNT, IP6_DEFAULT_MAX_DST_OPTS_CNT: net.ipv6.max_{hbh,dst}_opts_number. */
const IP6_MAX_OPTS_CNT = 8;
const IPV6_MAXPLEN = 65535;
/** Routing header types (include/uapi/linux/ipv6.h IPV6_SRCRT_*). */
const IPV6_SRCRT_TYPE_2 = 2;
const IPV6_SRCRT_TYPE_3 = 3; // RPL
const IPV6_SRCRT_TYPE_4 = 4; // SRv6
/** struct ipv6_rt_hdr: nexthdr, hdrlen, type, segments_left. */
const RT_HDRLEN_OFF = 1;
const RT_TYPE_OFF = 2;
const RT_SEGMENTS_LEFT_OFF = 3;

/**
 * The extension headers of the IPv6 packet at u8[ip] (its end at `end`), as 5.10 handles
 * them: a hop-by-hop header only right after the fixed header (ip6_rcv_core →
 * ipv6_parse_hopopts; a bad one is InHdrErrors), then ip6_protocol_deliver_rcu's resubmit loop
 * over the extension-header protocols: destination options (ipv6_destopt_rcv), routing
 * (ipv6_rthdr_rcv), a fragment (ipv6_frag_rcv: not modelled, ip_frag), a hop-by-hop header
 * anywhere else (inet6_protos[0] is NULL: InUnknownProtos; the ICMPv6 parameter problem is not
 * sent). Returns the upper-layer header's offset (its protocol in ip6_upper_proto), or -1 when
 * the packet was dropped and counted. Cold: packets without extension headers never come here.
 */
function ip6_exthdrs_rcv(c: KCpu, skb: number, ip: number, end: number, jumbo_ok: boolean): number {
  const u8 = c.u8;
  const SD = c.SD;
  let nexthdr = u8[ip + IPV6H_NEXTHDR_OFF];
  let off = ip + IPV6H_LEN;
  if (nexthdr === NEXTHDR_HOP) {
    // ipv6_parse_hopopts: pskb_may_pull of 8 bytes, then of the header's length; the options.
    const hl = off + 8 <= end ? ipv6_optlen(u8, off) : 0;
    if (hl === 0 || off + hl > end || !ip6_parse_tlv(c, ip, off, hl, true, end, jumbo_ok)) {
      ip6_drop(c, skb, SD.drop_ip_hdr, SD.ip6_in_hdr_errors);
      return -1;
    }
    nexthdr = u8[off];
    off += hl;
  }
  for (;;) {
    if (nexthdr === NEXTHDR_DEST || nexthdr === NEXTHDR_ROUTING) {
      // ipv6_destopt_rcv / ipv6_rthdr_rcv: pskb_may_pull of 8 bytes and of the header.
      const hl = off + 8 <= end ? ipv6_optlen(u8, off) : 0;
      if (hl === 0 || off + hl > end) {
        ip6_drop(c, skb, SD.drop_ip_hdr, SD.ip6_in_hdr_errors);
        return -1;
      }
      if (nexthdr === NEXTHDR_DEST) {
        if (!ip6_parse_tlv(c, ip, off, hl, false, end, false)) {
          ip6_drop(c, skb, SD.drop_ip_hdr, SD.ip6_in_hdr_errors);
          return -1;
        }
      } else if (!ipv6_rthdr_rcv(c, skb, ip, off)) {
        return -1;
      }
      nexthdr = u8[off];
      off += hl;
    } else if (nexthdr === NEXTHDR_HOP) {
      ip_drop(c, skb, SD.drop_ip_unknown_proto);
      return -1;
    } else if (nexthdr === NEXTHDR_FRAGMENT) {
      ip_drop(c, skb, SD.drop_ip_frag); // ipv6_frag_rcv
      return -1;
    } else {
      ip6_upper_proto = nexthdr;
      return off;
    }
  }
}

/**
 * ipv6_rthdr_rcv (5.10), for the routing header at u8[off], already pulled: a multicast
 * destination, or a frame not for this host (a multicast or broadcast Ethernet destination:
 * pkt_type; PACKET_OTHERHOST is not modelled), is InAddrErrors; a segment routing header (SRv6,
 * RPL) is freed uncounted (ipv6_srh_rcv / ipv6_rpl_srh_rcv: seg6_enabled and rpl_seg_enabled
 * are 0 by default). With segments_left 0 the header is done (a type 2 header not processed
 * here is InAddrErrors, as with CONFIG_IPV6_MIP6). Otherwise a type 2 header needs hdrlen 2 and
 * segments_left 1 (else InHdrErrors), and then no Mobile IPv6 state takes it
 * (xfrm6_input_addr fails: InAddrErrors); type 0 and unknown types are InHdrErrors (unknown_rh,
 * with a parameter problem). True when the packet goes on.
 */
function ipv6_rthdr_rcv(c: KCpu, skb: number, ip: number, off: number): boolean {
  const u8 = c.u8;
  const SD = c.SD;
  if (u8[ip + IPV6H_DADDR_OFF] === 0xff || (u8[c.skb_data(skb)] & 1) !== 0) {
    ip_drop(c, skb, SD.drop_ip_addr);
    return false;
  }
  const type = u8[off + RT_TYPE_OFF];
  const segments_left = u8[off + RT_SEGMENTS_LEFT_OFF];
  if (type === IPV6_SRCRT_TYPE_4 || type === IPV6_SRCRT_TYPE_3) {
    ip_drop(c, skb, SD.drop_srh_disabled);
    return false;
  }
  if (segments_left === 0) {
    if (type !== IPV6_SRCRT_TYPE_2) return true;
    ip_drop(c, skb, SD.drop_ip_addr);
    return false;
  }
  if (type === IPV6_SRCRT_TYPE_2 && u8[off + RT_HDRLEN_OFF] === 2 && segments_left === 1) ip_drop(c, skb, SD.drop_ip_addr);
  else ip6_drop(c, skb, SD.drop_ip_hdr, SD.ip6_in_hdr_errors);
  return false;
}

/**
 * ip6_parse_tlv (5.10) over the hop-by-hop (`hop`) or destination options header of `hl`
 * bytes at u8[off]: Pad1 and PadN (at most 7 bytes of padding in a row, PadN's bytes zero), at
 * most 8 other options, each within the header; Router Alert needs length 2; a Jumbo payload
 * option (hop-by-hop) is checked as ipv6_hop_jumbo does, and no frame here is long enough for
 * one to be valid; an unknown option is skipped if its type's top two bits are 00, else the
 * packet is dropped (ip6_tlvopt_unknown). CALIPSO and Home Address options are taken as
 * unknown. False: the packet is bad (the caller counts InHdrErrors).
 */
function ip6_parse_tlv(c: KCpu, ip: number, off: number, hl: number, hop: boolean, end: number, jumbo_ok: boolean): boolean {
  const u8 = c.u8;
  let at = off + 2;
  let len = hl - 2;
  let padlen = 0;
  let count = 0;
  while (len > 0) {
    const type = u8[at];
    let optlen = u8[at + 1] + 2;
    if (type === IPV6_TLV_PAD1) {
      optlen = 1;
      if (++padlen > 7) return false;
    } else if (type === IPV6_TLV_PADN) {
      padlen += optlen;
      if (padlen > 7) return false;
      for (let i = 2; i < optlen; i++) if (u8[at + i] !== 0) return false;
    } else {
      if (optlen > len || ++count > IP6_MAX_OPTS_CNT) return false;
      if (hop && type === IPV6_TLV_ROUTERALERT) {
        if (optlen !== 4) return false; // ipv6_hop_ra: nh[optoff + 1] == 2
      } else if (hop && type === IPV6_TLV_JUMBO) {
        // ipv6_hop_jumbo: length 4 at 4n + 2, a length over 65,535, payload_len 0, within the skb.
        if (optlen !== 6 || ((at - ip) & 3) !== 2) return false;
        const pkt_len = get32i(u8, at + 2) >>> 0;
        if (pkt_len <= IPV6_MAXPLEN || !jumbo_ok) return false;
        if (pkt_len > end - ip - IPV6H_LEN) c.count(c.SD.ip6_in_truncated_pkts);
        return false; // never valid here: no frame holds 64 KiB
      } else if (type >> 6 !== 0) {
        return false; // ip6_tlvopt_unknown: drop (with a parameter problem for 10 and 11)
      }
      padlen = 0;
    }
    at += optlen;
    len -= optlen;
  }
  return len === 0;
}
