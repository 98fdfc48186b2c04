// net/ipv4/ip_input.c (ip_rcv, ip_local_deliver) and the L4 entry points udp_rcv and
// tcp_v4_rcv, reduced to what the receive path measures: header validation with its drop
// counters, the socket lookup over the real header bytes, and delivery (sock.ts).

import type { KCpu } from './percpu.js';
import { kfree_skb } from './skbuff.js';
import { __inet_lookup, sock_queue_rcv_skb } from './sock.js';
import { IPH_LEN, IPH_TOT_LEN_OFF, IPPROTO_TCP, IPPROTO_UDP, get16, get32i, ip_fast_csum } from '../uapi/inet.js';

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
  const proto = u8[ip + 9]!;
  if (proto !== IPPROTO_UDP && proto !== IPPROTO_TCP) return ip_drop(c, skb, c.sd.drop_no_socket);
  const l4 = ip + ihl * 4;
  const saddr = get32i(u8, ip + 12);
  const daddr = get32i(u8, ip + 16);
  const ports = get32i(u8, l4);
  const sk = __inet_lookup(c, saddr, daddr, ports, proto);
  if (sk < 0) return ip_drop(c, skb, c.sd.drop_no_socket);
  sock_queue_rcv_skb(c, sk, skb);
}

export function ip_drop(c: KCpu, skb: number, reason: number): void {
  c.count(reason, c.skb_segs[skb]!);
  kfree_skb(c, skb);
}
