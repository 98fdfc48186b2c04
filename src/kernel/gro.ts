// net/core/dev.c GRO (dev_gro_receive, napi_gro_flush, gro_normal_*) with the rules of
// net/ipv4/af_inet.c (inet_gro_receive), net/ipv6/ip6_offload.c (ipv6_gro_receive) and
// net/ipv4/tcp_offload.c (tcp_gro_receive): TCP segments of one flow, over IPv4 or IPv6, with
// consecutive sequence numbers merge into one skb (a frag_list chain here: no bytes move), up
// to 64 KB.
//
// Per napi: GRO_HASH_BUCKETS lists of held skbs, oldest first, at most MAX_GRO_SKBS each
// (the oldest is flushed to make room). Packets leaving GRO, and every packet when GRO is
// off or cannot apply, are batched on napi->rx_list up to gro_normal_batch.
// GRO state is private to the CPU polling the napi: a napi leaves a CPU only after
// napi_complete_done, which empties it.

import type { KCpu } from './percpu.js';
import { GRO_HASH_BUCKETS } from './percpu.js';
import { netif_receive_skb_list_internal } from './dev.js';
import {
  ETH_P_IP,
  ETH_P_IPV6,
  IPV6H_LEN,
  IPV6H_PAYLOAD_LEN_OFF,
  IPPROTO_TCP,
  IPH_LEN,
  IPH_TOT_LEN_OFF,
  IPH_CHECK_OFF,
  IPH_FRAG_OFF_OFF,
  IPH_ID_OFF,
  IPH_PROTOCOL_OFF,
  IPH_TOS_OFF,
  IPH_TTL_OFF,
  IP_DF,
  TCPH_ACK_SEQ_OFF,
  TCPH_CHECK_OFF,
  TCPH_DOFF_OFF,
  TCPH_FLAGS_OFF,
  TCPH_SEQ_OFF,
  TCPH_WINDOW_OFF,
  TCP_HLEN,
  TCP_FLAG_CWR,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
  NEXTHDR_DEST,
  NEXTHDR_HOP,
  NEXTHDR_ROUTING,
  csum_fold,
  csum_replace2,
  pseudo_header_sum,
  get16,
  get32i,
  put16,
  ip_fast_csum,
} from '../uapi/inet.js';
import { skb_verify_l4_csum } from './skbuff.js';
import { ip_drop } from './ip.js';

export const MAX_GRO_SKBS = 8;
/** skb_gro_receive refuses a merge when p->len + len >= 65536 (len from the network header). */
export const GRO_MAX_SIZE = 65536;

/** tcp_gro_receive's out_check_final: these flags send the packet (and its train) up. */
const TCP_FLUSH_FINAL = TCP_FLAG_URG | TCP_FLAG_PSH | TCP_FLAG_RST | TCP_FLAG_SYN | TCP_FLAG_FIN;

// Per held skb (NAPI_GRO_CB): age, last segment, next sequence number and gso_size live in
// the skb pool (c.gro_*), written only by the CPU whose GRO holds the skb.

/** napi_gro_receive: called by drivers for each received skb, softirq context. */
export function napi_gro_receive(c: KCpu, n: number, skb: number): void {
  // Without rx checksum offload the stack validates the L4 checksum here, before merging
  // (tcp4_gro_receive's skb_gro_checksum_validate); a bad one is dropped as tcp_v4_rcv would.
  const type = c.skb_protocol[skb];
  if (c.l4_csum_verify && (type === ETH_P_IP || type === ETH_P_IPV6) && !skb_verify_l4_csum(c, skb)) {
    ip_drop(c, skb, c.sd.drop_l4_csum);
    return;
  }
  // dev_gro_receive only merges TCP: a datagram of another IPv4 protocol goes up without the call.
  if (c.gro && gro_may_merge(c, skb, type) && dev_gro_receive(c, n, skb)) return;
  gro_normal_one(c, n, skb);
}

/** False when dev_gro_receive would surely return false: not IP, or IPv4 carrying no TCP. */
function gro_may_merge(c: KCpu, skb: number, type: number): boolean {
  if (type === ETH_P_IP) return c.u8[c.skb_data(skb) + c.skb_nh[skb]! + IPH_PROTOCOL_OFF] === IPPROTO_TCP;
  return type === ETH_P_IPV6;
}

/** NAPI_GRO_CB(p)->is_atomic: p is a DF datagram, its IP ID not (yet) seen to increment. */
const GRO_IS_ATOMIC = 1;

/**
 * dev_gro_receive with inet_gro_receive and tcp4_gro_receive / tcp_gro_receive (5.10) for
 * TCPv4. Returns true if GRO consumed the skb (merged, or held as the start of a new train);
 * false if it goes up as it is (not TCPv4, or a packet GRO flushes: a fragment, a bad header
 * checksum, tot_len not the skb's length, no payload, URG/PSH/RST/SYN/FIN).
 *
 * A held train p of the same flow takes the segment only if every check passes; else p goes up
 * (pp = p) and the segment may start a new train:
 * - inet_gro_receive: TTL, TOS and DF equal; the IP ID, for a DF datagram, either fixed
 *   (atomic) or incrementing by one per segment (decided at p's second segment), and for a
 *   datagram without DF incrementing;
 * - tcp_gro_receive: no CWR; tcp_flag_word equal but CWR/FIN/PSH (doff, the other flags, the
 *   window); ack_seq equal; the options equal byte for byte (timestamps merge when equal);
 *   payload 1..gso_size bytes; seq the next expected; the train under 64 KB.
 */
function dev_gro_receive(c: KCpu, n: number, skb: number): boolean {
  const v6 = c.skb_protocol[skb] === ETH_P_IPV6;
  if (!v6 && c.skb_protocol[skb] !== ETH_P_IP) return false;
  const u8 = c.u8;
  const ip = c.skb_data(skb) + c.skb_nh[skb]!;
  const iplen = c.skb_len[skb]! - c.skb_nh[skb]!;
  let frag_off = 0;
  let inet_flush: boolean;
  let l4_len: number;
  let nlen = IPH_LEN; // skb_network_header_len: where TCP starts
  if (v6) {
    // ipv6_gro_receive: version 6, then TCP, right after the fixed header or behind
    // hop-by-hop, routing and destination options (ipv6_gso_pull_exthdrs); flush when
    // payload_len is not what the skb holds.
    if (iplen < IPV6H_LEN || u8[ip]! >> 4 !== 6) return false;
    nlen = u8[ip + 6] === IPPROTO_TCP ? IPV6H_LEN : ipv6_gso_pull_exthdrs(u8, ip, iplen);
    if (nlen < 0) return false;
    l4_len = get16(u8, ip + IPV6H_PAYLOAD_LEN_OFF);
    inet_flush = l4_len !== iplen - IPV6H_LEN;
    l4_len -= nlen - IPV6H_LEN;
  } else {
    // inet_gro_receive: IHL 5 only, a protocol with gro_receive (TCP here), not a fragment, a
    // valid header checksum (a bad one goes up to be dropped).
    if (u8[ip] !== 0x45 || u8[ip + IPH_PROTOCOL_OFF] !== IPPROTO_TCP) return false;
    frag_off = get16(u8, ip + IPH_FRAG_OFF_OFF);
    if ((frag_off & 0x3fff) !== 0) return false; // ip_is_fragment
    if (ip_fast_csum(u8, ip, 5) !== 0) return false;
    const tot_len = get16(u8, ip + IPH_TOT_LEN_OFF);
    // flush = (u16)((first word ^ skb_gro_len) | (id word & ~IP_DF)): tot_len is not what the
    // skb holds, or the reserved fragment bit.
    inet_flush = tot_len !== iplen || (frag_off & 0x8000) !== 0;
    l4_len = tot_len - IPH_LEN;
  }
  const th = ip + nlen;
  const thlen = (u8[th + TCPH_DOFF_OFF]! >> 4) * 4;
  if (thlen < TCP_HLEN) return false;
  const len = l4_len - thlen;
  const flags = u8[th + TCPH_FLAGS_OFF]!;
  const seq = get32i(u8, th + TCPH_SEQ_OFF);
  const bucket = n * GRO_HASH_BUCKETS + (c.skb_hash[skb]! & (GRO_HASH_BUCKETS - 1));

  let prev = -1;
  let p = c.gro_head[bucket]!;
  while (p !== -1 && !(v6 ? same_flow_v6(c, p, ip, nlen) : same_flow(c, p, ip))) {
    prev = p;
    p = c.skb_next[p]!;
  }
  if (p !== -1) {
    const pip = c.skb_data(p) + c.skb_nh[p]!;
    const pth = pip + nlen; // the same headers as this skb's (same_flow_v6 compared them)
    const count = c.skb_segs[p]!;
    let flush: boolean;
    let flush_id = 0;
    const p_atomic = (c.gro_flags[p]! & GRO_IS_ATOMIC) !== 0;
    if (v6) {
      // ipv6_gro_receive: the traffic class differs (first word & 0x0ff00000): flush. An
      // IPv6 skb is atomic (no ID): flush_id 0.
      flush = inet_flush || ((get16(u8, ip) ^ get16(u8, pip)) & 0x0ff0) !== 0;
    } else {
      // inet_gro_receive: all fields must match except length and checksum (and the ID, below).
      flush =
        inet_flush ||
        u8[ip + IPH_TTL_OFF] !== u8[pip + IPH_TTL_OFF] ||
        u8[ip + IPH_TOS_OFF] !== u8[pip + IPH_TOS_OFF] ||
        ((frag_off ^ get16(u8, pip + IPH_FRAG_OFF_OFF)) & IP_DF) !== 0;
      flush_id = (get16(u8, ip + IPH_ID_OFF) - get16(u8, pip + IPH_ID_OFF)) & 0xffff;
      if (!p_atomic || (frag_off & IP_DF) === 0) flush_id = (flush_id ^ (count & 0xffff)) !== 0 ? 0xffff : 0;
    }
    // tcp_gro_receive, found:
    flush ||= (flags & TCP_FLAG_CWR) !== 0;
    // tcp_flag_word (bytes 12..15: doff, flags, window) equal but CWR, FIN and PSH.
    flush ||=
      u8[th + TCPH_DOFF_OFF] !== u8[pth + TCPH_DOFF_OFF] ||
      ((flags ^ u8[pth + TCPH_FLAGS_OFF]!) & ~(TCP_FLAG_CWR | TCP_FLAG_FIN | TCP_FLAG_PSH) & 0xff) !== 0 ||
      get16(u8, th + TCPH_WINDOW_OFF) !== get16(u8, pth + TCPH_WINDOW_OFF);
    flush ||= get32i(u8, th + TCPH_ACK_SEQ_OFF) !== get32i(u8, pth + TCPH_ACK_SEQ_OFF);
    // The options, byte for byte (same doff, checked above).
    for (let i = TCP_HLEN; i < thlen && !flush; i++) flush = u8[th + i] !== u8[pth + i];
    // At p's second segment: an ID that went up by one makes the flow incrementing, not atomic.
    if (flush_id !== 1 || count !== 1 || !p_atomic) flush ||= flush_id !== 0;
    else c.gro_flags[p]! &= ~GRO_IS_ATOMIC;
    const mss = c.gro_gso_size[p]!;
    flush ||= len < 1 || len - 1 >= mss; // (len - 1) >= mss as unsigned: no payload, or more than gso_size
    flush ||= seq !== c.gro_next_seq[p];
    if (!flush && c.skb_len[p]! - c.skb_nh[p]! + len < GRO_MAX_SIZE) {
      // skb_gro_receive: chain the segment (frag_list); the head's length grows by the payload.
      c.skb_frag_next[c.gro_last[p]!] = skb;
      c.gro_last[p] = skb;
      c.skb_len[p]! += len;
      c.skb_segs[p]! += 1;
      c.gro_next_seq[p] = (seq + len) | 0;
      // tcp_flag_word(th2) |= flags & (TCP_FLAG_FIN | TCP_FLAG_PSH): the head carries them.
      u8[pth + TCPH_FLAGS_OFF] = u8[pth + TCPH_FLAGS_OFF]! | (flags & (TCP_FLAG_FIN | TCP_FLAG_PSH));
      c.count(c.sd.gro_merged);
      // out_check_final: a short segment (len < mss) or a flushing flag ends the train now.
      if (len < mss || (flags & TCP_FLUSH_FINAL) !== 0) gro_unlink_complete(c, n, bucket, prev, p);
      return true;
    }
    // Same flow, cannot merge (a check failed, or skb_gro_receive's -E2BIG): the held train
    // goes up (pp = p); this skb may start a new one.
    gro_unlink_complete(c, n, bucket, prev, p);
  }
  if (inet_flush || len < 1 || (flags & TCP_FLUSH_FINAL) !== 0) return false;
  if (c.gro_count[bucket]! >= MAX_GRO_SKBS) gro_unlink_complete(c, n, bucket, -1, c.gro_head[bucket]!);
  // Hold it, newest at the tail.
  c.skb_next[skb] = -1;
  const tail = c.gro_tail[bucket]!;
  if (tail === -1) c.gro_head[bucket] = skb;
  else c.skb_next[tail] = skb;
  c.gro_tail[bucket] = skb;
  c.gro_count[bucket]! += 1;
  c.gro_age[skb] = c.jiffies();
  c.gro_last[skb] = skb;
  c.gro_next_seq[skb] = (seq + len) | 0;
  c.gro_gso_size[skb] = len;
  c.gro_flags[skb] = v6 || (frag_off & IP_DF) !== 0 ? GRO_IS_ATOMIC : 0;
  return true;
}

/** Same addresses and ports as held skb p (the kernel compares the dissected headers). */
function same_flow(c: KCpu, p: number, ip: number): boolean {
  const u8 = c.u8;
  const pip = c.skb_data(p) + c.skb_nh[p]!;
  for (let i = 12; i < 24; i++) if (u8[pip + i] !== u8[ip + i]) return false;
  return true;
}

/**
 * ipv6_gro_receive's flow match with held skb p, `nlen` bytes of network header: the first
 * word but the traffic class (version, flow label), the addresses, next header and hop limit,
 * the extension headers byte for byte (memcmp, when there are any); then tcp_gro_receive's ports.
 */
function same_flow_v6(c: KCpu, p: number, ip: number, nlen: number): boolean {
  const u8 = c.u8;
  const pip = c.skb_data(p) + c.skb_nh[p]!;
  if (((u8[ip]! ^ u8[pip]!) & 0xf0) !== 0 || ((u8[ip + 1]! ^ u8[pip + 1]!) & 0x0f) !== 0) return false;
  if (u8[ip + 2] !== u8[pip + 2] || u8[ip + 3] !== u8[pip + 3]) return false;
  for (let i = 6; i < nlen + 4; i++) if (u8[pip + i] !== u8[ip + i]) return false;
  return true;
}

/**
 * ipv6_gso_pull_exthdrs for ipv6_gro_receive: past the hop-by-hop header (wherever it is) and
 * the routing and destination options headers (INET6_PROTO_GSO_EXTHDR), each within the skb's
 * `iplen` bytes from u8[ip]. Returns the TCP header's offset from ip (the network header's
 * length), or -1 when the chain does not end in TCP (no gro_receive: the skb goes up as it is).
 */
function ipv6_gso_pull_exthdrs(u8: Uint8Array, ip: number, iplen: number): number {
  let proto = u8[ip + 6]!;
  let off = IPV6H_LEN;
  while ((proto === NEXTHDR_HOP || proto === NEXTHDR_ROUTING || proto === NEXTHDR_DEST) && off + 8 <= iplen) {
    const len = (u8[ip + off + 1]! + 1) * 8;
    if (off + len > iplen) break;
    proto = u8[ip + off]!;
    off += len;
  }
  return proto === IPPROTO_TCP && off + TCP_HLEN <= iplen ? off : -1;
}

/** Take held skb p (after `prev`) out of its bucket and complete it. */
function gro_unlink_complete(c: KCpu, n: number, bucket: number, prev: number, p: number): void {
  const next = c.skb_next[p]!;
  if (prev === -1) c.gro_head[bucket] = next;
  else c.skb_next[prev] = next;
  if (c.gro_tail[bucket] === p) c.gro_tail[bucket] = prev;
  c.gro_count[bucket]! -= 1;
  c.skb_next[p] = -1;
  napi_gro_complete(c, n, p);
}

/**
 * napi_gro_complete → inet_gro_complete / ipv6_gro_complete: a merged skb gets its IPv4
 * tot_len and header checksum, or its IPv6 payload_len, rewritten for the whole train; then
 * tcp4_gro_complete / tcp6_gro_complete put the pseudo-header sum for the train's TCP length
 * in th->check (~tcp_v4_check / ~tcp_v6_check: CHECKSUM_PARTIAL); then it goes to rx_list
 * with its segment count.
 */
function napi_gro_complete(c: KCpu, n: number, skb: number): void {
  if (c.skb_segs[skb]! > 1) {
    const u8 = c.u8;
    const ip = c.skb_data(skb) + c.skb_nh[skb]!;
    const newlen = c.skb_len[skb]! - c.skb_nh[skb]!;
    let thoff = IPH_LEN;
    if (c.skb_protocol[skb] === ETH_P_IPV6) {
      put16(u8, ip + IPV6H_PAYLOAD_LEN_OFF, newlen - IPV6H_LEN);
      thoff = u8[ip + 6] === IPPROTO_TCP ? IPV6H_LEN : ipv6_gso_pull_exthdrs(u8, ip, newlen);
    } else {
      const oldlen = get16(u8, ip + IPH_TOT_LEN_OFF);
      put16(u8, ip + IPH_CHECK_OFF, csum_replace2(get16(u8, ip + IPH_CHECK_OFF), oldlen, newlen));
      put16(u8, ip + IPH_TOT_LEN_OFF, newlen);
    }
    put16(u8, ip + thoff + TCPH_CHECK_OFF, ~csum_fold(pseudo_header_sum(u8, c.skb_data(skb), IPPROTO_TCP, newlen - thoff)) & 0xffff);
    c.count(c.sd.gro_flushed);
  }
  gro_normal_one(c, n, skb);
}

/** napi->gro_bitmask != 0: does GRO hold skbs for napi n? */
export function napi_gro_held(c: KCpu, n: number): boolean {
  for (let b = n * GRO_HASH_BUCKETS; b < (n + 1) * GRO_HASH_BUCKETS; b++) if (c.gro_head[b] !== -1) return true;
  return false;
}

/**
 * napi_gro_flush: complete held skbs, oldest first; with flush_old, stop in each bucket at
 * the first one held during the current jiffy.
 */
export function napi_gro_flush(c: KCpu, n: number, flush_old: boolean): void {
  const now = flush_old ? c.jiffies() : 0;
  for (let b = n * GRO_HASH_BUCKETS; b < (n + 1) * GRO_HASH_BUCKETS; b++) {
    let p: number;
    while ((p = c.gro_head[b]!) !== -1) {
      if (flush_old && c.gro_age[p] === now) break;
      gro_unlink_complete(c, n, b, -1, p);
    }
  }
}

/**
 * gro_normal_one: queue on napi->rx_list; hand the batch up at gro_normal_batch. Counts
 * segments, as 5.10 stable does with 8dc1c444df19 ("net: gro: do not keep too many GRO
 * packets in napi->rx_list"); 5.10.0 counted skbs.
 */
export function gro_normal_one(c: KCpu, n: number, skb: number): void {
  c.skb_next[skb] = -1;
  const tail = c.rx_tail[n]!;
  if (tail === -1) c.rx_head[n] = skb;
  else c.skb_next[tail] = skb;
  c.rx_tail[n] = skb;
  c.rx_count[n]! += c.skb_segs[skb]!;
  if (c.rx_count[n]! >= c.gro_normal_batch) gro_normal_list(c, n);
}

/** gro_normal_list: pass napi->rx_list to netif_receive_skb_list_internal. */
export function gro_normal_list(c: KCpu, n: number): void {
  const head = c.rx_head[n]!;
  if (head === -1) return;
  c.rx_head[n] = -1;
  c.rx_tail[n] = -1;
  c.rx_count[n] = 0;
  netif_receive_skb_list_internal(c, head);
}
