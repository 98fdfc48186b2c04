// net/ipv4/ip_input.c (ip_rcv, ip_local_deliver), net/ipv6/ip6_input.c (ipv6_rcv,
// ip6_protocol_deliver_rcu) and the L4 entry points udp_rcv / tcp_v4_rcv / udpv6_rcv /
// tcp_v6_rcv, reduced to what the receive path measures: header validation with its drop
// counters, the socket lookup over the real header bytes, and delivery (sock.ts).
//
// Fragments are counted (drop_ip_frag) and freed: reassembly (ip_defrag, ipv6_frag_rcv) is not
// modelled. Neither is ICMP: a datagram for no UDP/TCP socket is a no_socket drop.

import type { KCpu } from './percpu.js';
import { kfree_skb } from './skbuff.js';
import { __inet6_lookup, __inet_lookup, sock_queue_rcv_skb } from './sock.js';
import {
  IPH_FRAG_OFF_OFF,
  IPH_LEN,
  IPH_TOT_LEN_OFF,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV6H_LEN,
  IPV6H_PAYLOAD_LEN_OFF,
  NEXTHDR_DEST,
  NEXTHDR_FRAGMENT,
  NEXTHDR_HOP,
  NEXTHDR_ROUTING,
  get16,
  get32i,
  ip_fast_csum,
} from '../uapi/inet.js';

/**
 * ip_rcv: validate version, IHL, header checksum and total length (ip_rcv_core), trim,
 * then ip_local_deliver → the L4 handler. Softirq context.
 */
export function ip_rcv(c: KCpu, skb: number): void {
  const u8 = c.u8;
  const nh = c.skb_nh[skb]!;
  const frame = c.skb_data(skb);
  const ip = frame + nh;
  const len = c.skb_len[skb]! - nh;
  if (len < IPH_LEN) return ip_drop(c, skb, c.sd.drop_ip_hdr);
  const vihl = u8[ip]!;
  const ihl = vihl & 15;
  if (vihl >> 4 !== 4 || ihl < 5 || len < ihl * 4) return ip_drop(c, skb, c.sd.drop_ip_hdr);
  if (ip_fast_csum(u8, ip, ihl) !== 0) return ip_drop(c, skb, c.sd.drop_ip_csum);
  const tot_len = get16(u8, ip + IPH_TOT_LEN_OFF);
  if (len < tot_len || tot_len < ihl * 4) return ip_drop(c, skb, c.sd.drop_ip_hdr);
  // The rest of the stack, per skb: a GRO-merged train costs what one packet costs, which is
  // what GRO is for.
  if (c.stack_cost_ns !== 0) c.env.burn_ns(c.stack_cost_ns);
  // ip_local_deliver: ip_is_fragment → ip_defrag (not modelled).
  if ((get16(u8, ip + IPH_FRAG_OFF_OFF) & 0x3fff) !== 0) return ip_drop(c, skb, c.sd.drop_ip_frag);
  const proto = u8[ip + 9]!;
  if (proto !== IPPROTO_UDP && proto !== IPPROTO_TCP) return ip_drop(c, skb, c.sd.drop_no_socket);
  const l4 = ip + ihl * 4;
  if (l4 + 4 > ip + tot_len) return ip_drop(c, skb, c.sd.drop_ip_hdr); // udp_rcv / tcp_v4_rcv: pskb_may_pull of the header
  const saddr = get32i(u8, ip + 12);
  const daddr = get32i(u8, ip + 16);
  const ports = get32i(u8, l4);
  const sk = __inet_lookup(c, saddr, daddr, ports, proto);
  if (sk < 0) return ip_drop(c, skb, c.sd.drop_no_socket);
  sock_queue_rcv_skb(c, sk, skb);
}

/**
 * ipv6_rcv (ipv6_rcv → ip6_rcv_core): version 6 and payload_len within the skb, then
 * ip6_protocol_deliver_rcu's walk of the extension headers (hop-by-hop, routing and
 * destination options are skipped by their length; a fragment header is a fragment), then the
 * L4 handler: udpv6_rcv / tcp_v6_rcv's socket lookup and delivery. Softirq context.
 */
export function ipv6_rcv(c: KCpu, skb: number): void {
  const u8 = c.u8;
  const ip = c.skb_data(skb) + c.skb_nh[skb]!;
  const len = c.skb_len[skb]! - c.skb_nh[skb]!;
  if (len < IPV6H_LEN || u8[ip]! >> 4 !== 6) return ip_drop(c, skb, c.sd.drop_ip_hdr);
  const end = ip + IPV6H_LEN + get16(u8, ip + IPV6H_PAYLOAD_LEN_OFF);
  // IPSTATS_MIB_INTRUNCATEDPKTS: payload_len past the skb (a jumbogram's 0 is not modelled).
  if (end > ip + len) return ip_drop(c, skb, c.sd.drop_ip_hdr);
  if (c.stack_cost_ns !== 0) c.env.burn_ns(c.stack_cost_ns);
  let nexthdr = u8[ip + 6]!;
  let off = ip + IPV6H_LEN;
  while (nexthdr === NEXTHDR_HOP || nexthdr === NEXTHDR_ROUTING || nexthdr === NEXTHDR_DEST || nexthdr === NEXTHDR_FRAGMENT) {
    if (nexthdr === NEXTHDR_FRAGMENT) return ip_drop(c, skb, c.sd.drop_ip_frag); // ipv6_frag_rcv
    if (off + 2 > end) return ip_drop(c, skb, c.sd.drop_ip_hdr);
    nexthdr = u8[off]!;
    off += (u8[off + 1]! + 1) * 8;
  }
  if (nexthdr !== IPPROTO_UDP && nexthdr !== IPPROTO_TCP) return ip_drop(c, skb, c.sd.drop_no_socket);
  if (off + 4 > end) return ip_drop(c, skb, c.sd.drop_ip_hdr);
  const sk = __inet6_lookup(c, ip, get32i(u8, off), nexthdr);
  if (sk < 0) return ip_drop(c, skb, c.sd.drop_no_socket);
  sock_queue_rcv_skb(c, sk, skb);
}

export function ip_drop(c: KCpu, skb: number, reason: number): void {
  c.count(reason, c.skb_segs[skb]!);
  kfree_skb(c, skb);
}
