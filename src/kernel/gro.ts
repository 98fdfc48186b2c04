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
  IPV6H_FIRST_WORD_OFF,
  IPV6H_NEXTHDR_OFF,
  IPV6_TCLASS_MASK,
  IPH_LEN,
  IPH_SADDR_OFF,
  IPH_VERSION_IHL_OFF,
  IPH_VERSION_IHL_5,
  IPH_TOT_LEN_OFF,
  IPH_CHECK_OFF,
  IPH_FRAG_OFF_OFF,
  IPH_ID_OFF,
  IPH_PROTOCOL_OFF,
  IPH_TOS_OFF,
  IPH_TTL_OFF,
  IP_CE,
  IP_DF,
  IP_MF,
  IP_OFFSET,
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
  ipv6_optlen,
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

/**
 * gro_result_t (include/linux/netdevice.h, 5.10): what dev_gro_receive did with an skb.
 * GRO_MERGED_FREE and GRO_CONSUMED have no case here (no skb is freed on a merge: the
 * segment joins the head's frag_list; no tunnel offload).
 */
const GRO_MERGED = 0;
const GRO_HELD = 2;
const GRO_NORMAL = 3;

/** napi_gro_receive: called by drivers for each received skb, softirq context. */
export function napi_gro_receive(c: KCpu, n: number, skb: number): void {
  // Without rx checksum offload the stack validates the L4 checksum here, before merging
  // (tcp4_gro_receive's skb_gro_checksum_validate); a bad one is dropped as tcp_v4_rcv would.
  const type = c.skb_protocol[skb];
  if (c.l4_csum_verify && (type === ETH_P_IP || type === ETH_P_IPV6) && !skb_verify_l4_csum(c, skb)) {
    ip_drop(c, skb, c.SD.drop_l4_csum);
    return;
  }
  // dev_gro_receive's first two tests, made before the call: netif_elide_gro (GRO off) and
  // the offload lookup (a gro_receive for the type; only TCP merges, so IPv4 carrying another
  // protocol goes up without the call).
  const ret = c.gro && gro_may_merge(c, skb, type) ? dev_gro_receive(c, n, skb) : GRO_NORMAL;
  napi_skb_finish(c, n, skb, ret);
}

/** False when dev_gro_receive would surely return GRO_NORMAL: not IP, or IPv4 carrying no TCP. */
function gro_may_merge(c: KCpu, skb: number, type: number): boolean {
  if (type === ETH_P_IP) return c.u8[c.skb_data(skb) + c.skb_nh[skb] + IPH_PROTOCOL_OFF] === IPPROTO_TCP;
  return type === ETH_P_IPV6;
}

/** napi_skb_finish: an skb GRO neither merged nor held goes on napi->rx_list. */
function napi_skb_finish(c: KCpu, n: number, skb: number, ret: number): void {
  if (ret === GRO_NORMAL) gro_normal_one(c, n, skb);
}

/** NAPI_GRO_CB(p)->is_atomic: p is a DF datagram, its IP ID not (yet) seen to increment. */
const GRO_IS_ATOMIC = 1;

/** IPV6_TCLASS_MASK in the first 16 bits of the header (get16 of the first word's high half). */
const IPV6_TCLASS_MASK_HI16 = IPV6_TCLASS_MASK >>> 16;

/**
 * dev_gro_receive with the protocol callbacks it reaches, inline: inet_gro_receive or
 * ipv6_gro_receive, then tcp4_gro_receive / tcp6_gro_receive → tcp_gro_receive (5.10).
 * Returns GRO_MERGED (the segment joined a held train), GRO_HELD (it starts a new train) or
 * GRO_NORMAL (it goes up as it is: a packet GRO flushes, i.e. a fragment, a bad header
 * checksum, a length not the skb's, no payload, URG/PSH/RST/SYN/FIN).
 *
 * A held train p of the same flow takes the segment only if every check passes; else p goes up
 * (pp = p) and the segment may start a new train:
 * - inet_gro_receive: TTL, TOS and DF equal; the IP ID, for a DF datagram, either fixed
 *   (atomic) or incrementing by one per segment (decided at p's second segment), and for a
 *   datagram without DF incrementing;
 * - tcp_gro_receive: no CWR; tcp_flag_word equal but CWR/FIN/PSH (doff, the other flags, the
 *   window); ack_seq equal; the options equal byte for byte (timestamps merge when equal);
 *   payload 1..gso_size bytes; seq the next expected; the train under 64 KB (skb_gro_receive).
 */
function dev_gro_receive(c: KCpu, n: number, skb: number): number {
  const v6 = c.skb_protocol[skb] === ETH_P_IPV6;
  if (!v6 && c.skb_protocol[skb] !== ETH_P_IP) return GRO_NORMAL;
  const u8 = c.u8;
  const ip = c.skb_data(skb) + c.skb_nh[skb];
  const iplen = c.skb_len[skb] - c.skb_nh[skb];
  let frag_off = 0;
  let inet_flush: boolean;
  let l4_len: number;
  let nlen = IPH_LEN; // skb_network_header_len: where TCP starts
  if (v6) {
    // ipv6_gro_receive: version 6, then TCP, right after the fixed header or behind
    // hop-by-hop, routing and destination options (ipv6_gso_pull_exthdrs); flush when
    // payload_len is not what the skb holds.
    if (iplen < IPV6H_LEN || u8[ip + IPV6H_FIRST_WORD_OFF] >> 4 !== 6) return GRO_NORMAL;
    nlen = u8[ip + IPV6H_NEXTHDR_OFF] === IPPROTO_TCP ? IPV6H_LEN : ipv6_gso_pull_exthdrs(u8, ip, iplen);
    if (nlen < 0) return GRO_NORMAL;
    l4_len = get16(u8, ip + IPV6H_PAYLOAD_LEN_OFF);
    inet_flush = l4_len !== iplen - IPV6H_LEN;
    l4_len -= nlen - IPV6H_LEN;
  } else {
    // inet_gro_receive: IHL 5 only, a protocol with gro_receive (TCP here), not a fragment, a
    // valid header checksum (a bad one goes up to be dropped).
    if (u8[ip + IPH_VERSION_IHL_OFF] !== IPH_VERSION_IHL_5 || u8[ip + IPH_PROTOCOL_OFF] !== IPPROTO_TCP) return GRO_NORMAL;
    frag_off = get16(u8, ip + IPH_FRAG_OFF_OFF);
    if ((frag_off & (IP_MF | IP_OFFSET)) !== 0) return GRO_NORMAL; // ip_is_fragment
    if (ip_fast_csum(u8, ip, 5) !== 0) return GRO_NORMAL;
    const tot_len = get16(u8, ip + IPH_TOT_LEN_OFF);
    // flush = (u16)((first word ^ skb_gro_len) | (id word & ~IP_DF)): tot_len is not what the
    // skb holds, or the reserved fragment bit (MF and the offset are 0 here).
    inet_flush = tot_len !== iplen || (frag_off & IP_CE) !== 0;
    l4_len = tot_len - IPH_LEN;
  }
  const th = ip + nlen;
  const thlen = (u8[th + TCPH_DOFF_OFF] >> 4) * 4;
  if (thlen < TCP_HLEN) return GRO_NORMAL;
  const len = l4_len - thlen;
  const flags = u8[th + TCPH_FLAGS_OFF];
  const seq = get32i(u8, th + TCPH_SEQ_OFF);
  const bucket = gro_list_prepare(c, n, skb);

  // The held train of this flow, if any: inet_gro_receive's and tcp_gro_receive's walks
  // (addresses, then ports) in one.
  let prev = -1;
  let p = c.gro_head[bucket];
  while (p !== -1 && !(v6 ? same_flow_v6(c, p, ip, nlen) : same_flow(c, p, ip))) {
    prev = p;
    p = c.skb_next[p];
  }
  if (p !== -1) {
    const pip = c.skb_data(p) + c.skb_nh[p];
    const pth = pip + nlen; // the same headers as this skb's (same_flow_v6 compared them)
    const count = c.skb_segs[p];
    let flush: boolean;
    let flush_id = 0;
    const p_atomic = (c.gro_flags[p] & GRO_IS_ATOMIC) !== 0;
    if (v6) {
      // ipv6_gro_receive: the traffic class differs (first_word & IPV6_TCLASS_MASK): flush. An
      // IPv6 skb is atomic (no ID): flush_id 0.
      flush = inet_flush || ((get16(u8, ip) ^ get16(u8, pip)) & IPV6_TCLASS_MASK_HI16) !== 0;
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
      ((flags ^ u8[pth + TCPH_FLAGS_OFF]) & ~(TCP_FLAG_CWR | TCP_FLAG_FIN | TCP_FLAG_PSH) & 0xff) !== 0 ||
      get16(u8, th + TCPH_WINDOW_OFF) !== get16(u8, pth + TCPH_WINDOW_OFF);
    flush ||= get32i(u8, th + TCPH_ACK_SEQ_OFF) !== get32i(u8, pth + TCPH_ACK_SEQ_OFF);
    // The options, byte for byte (same doff, checked above).
    for (let i = TCP_HLEN; i < thlen && !flush; i++) flush = u8[th + i] !== u8[pth + i];
    // At p's second segment: an ID that went up by one makes the flow incrementing, not atomic.
    if (flush_id !== 1 || count !== 1 || !p_atomic) flush ||= flush_id !== 0;
    else c.gro_flags[p] &= ~GRO_IS_ATOMIC;
    const mss = c.gro_gso_size[p];
    flush ||= len < 1 || len - 1 >= mss; // (len - 1) >= mss as unsigned: no payload, or more than gso_size
    flush ||= seq !== c.gro_next_seq[p];
    if (!flush && skb_gro_receive(c, p, skb, len)) {
      c.gro_next_seq[p] = (seq + len) | 0;
      // tcp_flag_word(th2) |= flags & (TCP_FLAG_FIN | TCP_FLAG_PSH): the head carries them.
      u8[pth + TCPH_FLAGS_OFF] = u8[pth + TCPH_FLAGS_OFF] | (flags & (TCP_FLAG_FIN | TCP_FLAG_PSH));
      c.count(c.SD.gro_merged);
      // out_check_final: a short segment (len < mss) or a flushing flag ends the train now
      // (pp = p: dev_gro_receive completes it).
      if (len < mss || (flags & TCP_FLUSH_FINAL) !== 0) gro_unlink_complete(c, n, bucket, prev, p);
      return GRO_MERGED;
    }
    // Same flow, cannot merge (a check failed, or skb_gro_receive's -E2BIG): the held train
    // goes up (pp = p); this skb may start a new one.
    gro_unlink_complete(c, n, bucket, prev, p);
  }
  // NAPI_GRO_CB(skb)->flush: go up as it is.
  if (inet_flush || len < 1 || (flags & TCP_FLUSH_FINAL) !== 0) return GRO_NORMAL;
  if (c.gro_count[bucket] >= MAX_GRO_SKBS) gro_flush_oldest(c, n, bucket);
  // Hold it, newest at the tail; NAPI_GRO_CB(skb): age, last, and gso_size = skb_gro_len.
  c.skb_next[skb] = -1;
  const tail = c.gro_tail[bucket];
  if (tail === -1) c.gro_head[bucket] = skb;
  else c.skb_next[tail] = skb;
  c.gro_tail[bucket] = skb;
  c.gro_count[bucket] += 1;
  c.gro_age[skb] = c.jiffies();
  c.gro_last[skb] = skb;
  c.gro_next_seq[skb] = (seq + len) | 0;
  c.gro_gso_size[skb] = len;
  c.gro_flags[skb] = v6 || (frag_off & IP_DF) !== 0 ? GRO_IS_ATOMIC : 0;
  return GRO_HELD;
}

/**
 * gro_list_prepare: napi's hash bucket for skb (napi->gro_hash[hash & (GRO_HASH_BUCKETS - 1)]),
 * an index into c.gro_head/gro_tail/gro_count. 5.10 also marks each held skb's same_flow there
 * by hash and MAC header; with one device and one MAC header per run here, same_flow and
 * same_flow_v6 decide it in dev_gro_receive's walk, on addresses and ports.
 */
function gro_list_prepare(c: KCpu, n: number, skb: number): number {
  return n * GRO_HASH_BUCKETS + (c.skb_hash[skb] & (GRO_HASH_BUCKETS - 1));
}

/**
 * skb_gro_receive (net/core/skbuff.c): chain skb's `len` payload bytes onto held train p
 * (NAPI_GRO_CB(p)->last->next = skb: a frag_list, no bytes move), or false (-E2BIG) when p
 * would reach GRO_MAX_SIZE.
 */
function skb_gro_receive(c: KCpu, p: number, skb: number, len: number): boolean {
  if (c.skb_len[p] - c.skb_nh[p] + len >= GRO_MAX_SIZE) return false;
  c.skb_frag_next[c.gro_last[p]] = skb;
  c.gro_last[p] = skb;
  c.skb_len[p] += len;
  c.skb_segs[p] += 1;
  return true;
}

/**
 * gro_flush_oldest: the bucket is full (MAX_GRO_SKBS): complete its oldest skb to make room.
 * The oldest is the list's head here (5.10 adds at the head and takes list_last_entry).
 */
function gro_flush_oldest(c: KCpu, n: number, bucket: number): void {
  gro_unlink_complete(c, n, bucket, -1, c.gro_head[bucket]);
}

/** Same addresses and ports as held skb p (the kernel compares the dissected headers). */
function same_flow(c: KCpu, p: number, ip: number): boolean {
  const u8 = c.u8;
  const pip = c.skb_data(p) + c.skb_nh[p];
  // saddr, daddr, then (IHL 5) the TCP source and dest ports.
  for (let i = IPH_SADDR_OFF; i < IPH_LEN + TCPH_SEQ_OFF; i++) if (u8[pip + i] !== u8[ip + i]) return false;
  return true;
}

/**
 * ipv6_gro_receive's flow match with held skb p, `nlen` bytes of network header: the first
 * word but the traffic class (version, flow label), the addresses, next header and hop limit,
 * the extension headers byte for byte (memcmp, when there are any); then tcp_gro_receive's ports.
 */
function same_flow_v6(c: KCpu, p: number, ip: number, nlen: number): boolean {
  const u8 = c.u8;
  const pip = c.skb_data(p) + c.skb_nh[p];
  if (((u8[ip] ^ u8[pip]) & 0xf0) !== 0 || ((u8[ip + 1] ^ u8[pip + 1]) & 0x0f) !== 0) return false;
  if (u8[ip + 2] !== u8[pip + 2] || u8[ip + 3] !== u8[pip + 3]) return false;
  // From payload_len's end: nexthdr, hop_limit, the addresses, the extension headers, the ports.
  for (let i = IPV6H_NEXTHDR_OFF; i < nlen + TCPH_SEQ_OFF; i++) if (u8[pip + i] !== u8[ip + i]) return false;
  return true;
}

/**
 * ipv6_gso_pull_exthdrs for ipv6_gro_receive: past the hop-by-hop header (wherever it is) and
 * the routing and destination options headers (INET6_PROTO_GSO_EXTHDR), each within the skb's
 * `iplen` bytes from u8[ip]. Returns the TCP header's offset from ip (the network header's
 * length), or -1 when the chain does not end in TCP (no gro_receive: the skb goes up as it is).
 */
function ipv6_gso_pull_exthdrs(u8: Uint8Array, ip: number, iplen: number): number {
  let proto = u8[ip + IPV6H_NEXTHDR_OFF];
  let off = IPV6H_LEN;
  while ((proto === NEXTHDR_HOP || proto === NEXTHDR_ROUTING || proto === NEXTHDR_DEST) && off + 8 <= iplen) {
    const len = ipv6_optlen(u8, ip + off);
    if (off + len > iplen) break;
    proto = u8[ip + off];
    off += len;
  }
  return proto === IPPROTO_TCP && off + TCP_HLEN <= iplen ? off : -1;
}

/**
 * Take held skb p (after `prev`) out of its bucket and complete it: dev_gro_receive's and
 * __napi_gro_flush_chain's skb_list_del_init, napi_gro_complete, gro_hash[].count--.
 */
function gro_unlink_complete(c: KCpu, n: number, bucket: number, prev: number, p: number): void {
  const next = c.skb_next[p];
  if (prev === -1) c.gro_head[bucket] = next;
  else c.skb_next[prev] = next;
  if (c.gro_tail[bucket] === p) c.gro_tail[bucket] = prev;
  c.gro_count[bucket] -= 1;
  c.skb_next[p] = -1;
  napi_gro_complete(c, n, p);
}

/**
 * napi_gro_complete: a merged skb (NAPI_GRO_CB(skb)->count > 1) gets its headers rewritten for
 * the whole train by the type's gro_complete (inet_gro_complete or ipv6_gro_complete); then it
 * goes to rx_list with its segment count.
 */
function napi_gro_complete(c: KCpu, n: number, skb: number): void {
  if (c.skb_segs[skb] > 1) {
    const ip = c.skb_data(skb) + c.skb_nh[skb];
    const newlen = c.skb_len[skb] - c.skb_nh[skb];
    if (c.skb_protocol[skb] === ETH_P_IPV6) ipv6_gro_complete(c, skb, ip, newlen);
    else inet_gro_complete(c, skb, ip, newlen);
    c.count(c.SD.gro_flushed);
  }
  gro_normal_one(c, n, skb);
}

/** inet_gro_complete (af_inet.c): tot_len and the header checksum for the train, then tcp4_gro_complete. */
function inet_gro_complete(c: KCpu, skb: number, ip: number, newlen: number): void {
  const u8 = c.u8;
  const oldlen = get16(u8, ip + IPH_TOT_LEN_OFF);
  put16(u8, ip + IPH_CHECK_OFF, csum_replace2(get16(u8, ip + IPH_CHECK_OFF), oldlen, newlen));
  put16(u8, ip + IPH_TOT_LEN_OFF, newlen);
  tcp_gro_complete(c, skb, ip + IPH_LEN, newlen - IPH_LEN);
}

/** ipv6_gro_complete (ip6_offload.c): payload_len for the train, then tcp6_gro_complete. */
function ipv6_gro_complete(c: KCpu, skb: number, ip: number, newlen: number): void {
  const u8 = c.u8;
  put16(u8, ip + IPV6H_PAYLOAD_LEN_OFF, newlen - IPV6H_LEN);
  const thoff = u8[ip + IPV6H_NEXTHDR_OFF] === IPPROTO_TCP ? IPV6H_LEN : ipv6_gso_pull_exthdrs(u8, ip, newlen);
  tcp_gro_complete(c, skb, ip + thoff, newlen - thoff);
}

/**
 * tcp4_gro_complete / tcp6_gro_complete: th->check = ~tcp_v4_check / ~tcp_v6_check, the
 * pseudo-header sum for the train's TCP length (CHECKSUM_PARTIAL).
 */
function tcp_gro_complete(c: KCpu, skb: number, th: number, tcplen: number): void {
  put16(c.u8, th + TCPH_CHECK_OFF, ~csum_fold(pseudo_header_sum(c.u8, c.skb_data(skb), IPPROTO_TCP, tcplen)) & 0xffff);
}

/** napi->gro_bitmask != 0: does GRO hold skbs for napi n? */
export function napi_gro_held(c: KCpu, n: number): boolean {
  for (let b = n * GRO_HASH_BUCKETS; b < (n + 1) * GRO_HASH_BUCKETS; b++) if (c.gro_head[b] !== -1) return true;
  return false;
}

/**
 * napi_gro_flush: complete held skbs bucket by bucket; with flush_old, only those held before
 * the current jiffy.
 */
export function napi_gro_flush(c: KCpu, n: number, flush_old: boolean): void {
  const now = flush_old ? c.jiffies() : 0;
  for (let b = n * GRO_HASH_BUCKETS; b < (n + 1) * GRO_HASH_BUCKETS; b++) __napi_gro_flush_chain(c, n, b, flush_old, now);
}

/**
 * __napi_gro_flush_chain: complete bucket b's skbs, oldest first; with flush_old, stop at the
 * first one held during jiffy `now` (read once per napi_gro_flush).
 */
function __napi_gro_flush_chain(c: KCpu, n: number, b: number, flush_old: boolean, now: number): void {
  let p: number;
  while ((p = c.gro_head[b]) !== -1) {
    if (flush_old && c.gro_age[p] === now) break;
    gro_unlink_complete(c, n, b, -1, p);
  }
}

/**
 * gro_normal_one: queue on napi->rx_list; hand the batch up at gro_normal_batch. Counts
 * segments, as 5.10 stable does with 8dc1c444df19 ("net: gro: do not keep too many GRO
 * packets in napi->rx_list"); 5.10.0 counted skbs.
 */
export function gro_normal_one(c: KCpu, n: number, skb: number): void {
  c.skb_next[skb] = -1;
  const tail = c.rx_tail[n];
  if (tail === -1) c.rx_head[n] = skb;
  else c.skb_next[tail] = skb;
  c.rx_tail[n] = skb;
  c.rx_count[n] += c.skb_segs[skb];
  if (c.rx_count[n] >= c.gro_normal_batch) gro_normal_list(c, n);
}

/** gro_normal_list: pass napi->rx_list to netif_receive_skb_list_internal. */
export function gro_normal_list(c: KCpu, n: number): void {
  const head = c.rx_head[n];
  if (head === -1) return;
  c.rx_head[n] = -1;
  c.rx_tail[n] = -1;
  c.rx_count[n] = 0;
  netif_receive_skb_list_internal(c, head);
}
