/**
 * The software flow hash of a received frame: net/core/flow_dissector.c of Linux 5.10.
 *
 * `skb_flow_dissect_hash()` stands for `__skb_get_hash()` → `___skb_get_hash()`:
 *   1. `skb_flow_dissect_flow_keys()` — memset the flow keys, then `__skb_flow_dissect()` with
 *      `flow_keys_dissector` and FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL, over the real header bytes
 *      of the frame (skb->protocol from the Ethernet header, as eth_type_trans() set it);
 *   2. `__flow_hash_from_keys()` — `__flow_hash_consistentify()` (both directions of a flow give
 *      the same keys), then siphash of the keys from `basic` on, with the boot key `hashrnd`,
 *      and 0 mapped to 1. `get_rps_cpu()` calls this through skb_get_hash() when the device did
 *      not supply an RSS hash.
 *
 * What is dissected (the part of __skb_flow_dissect this emulator's traffic exercises):
 * - ETH_P_8021Q / ETH_P_8021AD tags, any number up to MAX_FLOW_DISSECT_HDRS; the first tag's
 *   id, priority and TPID go into the `vlan` key, as flow_keys_dissector uses
 *   FLOW_DISSECTOR_KEY_VLAN (the second would be CVLAN, which it does not use). So a tagged
 *   frame hashes differently from the same packet untagged, as on a real 5.10 kernel.
 * - ETH_P_IP: IHL >= 5, saddr/daddr, protocol; fragments (MF or offset set) stop before L4
 *   (no FLOW_DISSECTOR_F_PARSE_1ST_FRAG), so they hash without ports.
 * - ETH_P_IPV6: nexthdr, saddr/daddr (the `v6addrs` key); a non-zero flow label goes into
 *   `tags` and, with FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL, ends dissection there (no ports: a
 *   Linux sender's auto flow label identifies the flow). Otherwise hop-by-hop, routing and
 *   destination options headers are skipped (ip_proto_again); a fragment header marks a
 *   fragment and stops before L4.
 * - L4 ports for the protocols of proto_ports_offset() (TCP, UDP, UDP-Lite, DCCP, SCTP, ESP at
 *   offset 0, AH at 4), if the 4 bytes are inside the frame.
 * - Every other ethertype (ARP, MPLS, PPPoE, ...) ends dissection: the keys hold n_proto only
 *   (not modelled). Tunnels (GRE, IPIP, ...) are not followed either.
 *
 * Keys (`hashrnd`): the kernel draws them once at boot with get_random_bytes
 * (net_get_random_once); the emulator derives them from the run seed in `flow_hash_init()`
 * so runs reproduce. Every CPU thread must call `flow_hash_init()` with the same arguments
 * (the kernel's hashrnd is one global), before the first hash.
 *
 * Algorithm: 'siphash' is 5.10 (and every kernel since 5.5); 'jhash' models the older kernels
 * of the seed documents, `jhash2(words, n, hashrnd)` over the same key block in u32 words.
 *
 * Hot path: no allocation per call. The flow keys live in the module-level `flow_keys` block
 * (one module instance per thread), valid until the next call. Hashes are computed as int32
 * bit patterns (`___skb_get_hash`), because V8 boxes a uint32 >= 2^31 into a heap number when
 * it leaves a call that was not inlined; the uint32 API (`skb_flow_dissect_hash`) is a
 * one-line `>>> 0` wrapper that TurboFan inlines into its caller.
 *
 * `struct flow_keys` layout (x86-64, Linux 5.10), offset → field; `basic` is
 * __aligned(SIPHASH_ALIGNMENT = 8), so sizeof = 72 with 4 bytes of tail padding:
 *   0  control.thoff u16        2  control.addr_type u16     4  control.flags u32
 *   8  basic.n_proto __be16     10 basic.ip_proto u8          11 basic.padding u8
 *   12 tags.flow_label u32
 *   16 vlan: u16 {vlan_id:12, vlan_dei:1, vlan_priority:3}   18 vlan.vlan_tpid __be16
 *   20 cvlan (same layout)      24 keyid.keyid __be32
 *   28 ports.src __be16         30 ports.dst __be16
 *   32 icmp.type u8  33 icmp.code u8  34 icmp.id u16
 *   36 addrs (union, 32 bytes): v4addrs.src __be32 @36, v4addrs.dst __be32 @40;
 *      v6addrs.src @36, v6addrs.dst @52 (16 bytes each)
 *   68 tail padding (4)
 * Hashed: FLOW_KEYS_HASH_OFFSET (8) up to sizeof(*flow) - diff, where diff =
 * FLOW_KEYS_HASH_OFFSET + sizeof(addrs) - sizeof(the addresses present) (flow_keys_hash_length):
 * 40 bytes for IPv4 (ending 4 zero bytes after v4addrs), 64 for IPv6, 32 with no addresses.
 */
import {
  ETH_HLEN,
  ETH_P_8021Q,
  ETH_P_IP,
  ETH_P_IPV6,
  IPH_FRAG_OFF_OFF,
  IPH_LEN,
  IPH_PROTOCOL_OFF,
  IPH_SADDR_OFF,
  IPH_VERSION_IHL_OFF,
  IPV6H_LEN,
  IPV6H_NEXTHDR_OFF,
  IPV6H_SADDR_OFF,
  IP_MF,
  IP_OFFSET,
  NEXTHDR_DEST,
  NEXTHDR_FRAGMENT,
  NEXTHDR_HOP,
  NEXTHDR_ROUTING,
  ipv6_optlen,
} from '../../uapi/inet.js';
import { jhash2_i32 } from '../../uapi/jhash.js';
import { siphash_2_4 } from '../../uapi/siphash.js';

/** sizeof(struct flow_keys) in Linux 5.10 on x86-64. */
export const FLOW_KEYS_SIZE = 72;
/** offsetof(struct flow_keys, basic): where hashing starts. */
export const FLOW_KEYS_HASH_OFFSET = 8;
export const FLOW_KEYS_THOFF = 0;
export const FLOW_KEYS_ADDR_TYPE = 2;
export const FLOW_KEYS_FLAGS = 4;
export const FLOW_KEYS_N_PROTO = 8;
export const FLOW_KEYS_IP_PROTO = 10;
export const FLOW_KEYS_FLOW_LABEL = 12;
export const FLOW_KEYS_VLAN = 16;
export const FLOW_KEYS_VLAN_TPID = 18;
export const FLOW_KEYS_PORTS = 28;
export const FLOW_KEYS_ADDRS = 36;
const FLOW_KEYS_ADDRS_SIZE = 32;
const FLOW_KEYS_V4ADDRS_SIZE = 8;
const FLOW_KEYS_V6ADDRS_SIZE = 32;

/** enum flow_dissector_key_id values stored in control.addr_type for IPv4 and IPv6. */
export const FLOW_DISSECTOR_KEY_IPV4_ADDRS = 2;
export const FLOW_DISSECTOR_KEY_IPV6_ADDRS = 3;
/** control.flags bits. */
export const FLOW_DIS_IS_FRAGMENT = 1 << 0;
export const FLOW_DIS_FIRST_FRAG = 1 << 1;

const ETH_P_8021AD = 0x88a8;
const IP6_OFFSET = 0xfff8;
const VLAN_HLEN = 4;
const MAX_FLOW_DISSECT_HDRS = 15;

/** enum flow_dissect_ret. */
const FLOW_DISSECT_RET_OUT_GOOD = 0;
const FLOW_DISSECT_RET_OUT_BAD = 1;
const FLOW_DISSECT_RET_CONTINUE = 4;

/** The flow keys of the last dissected frame (struct flow_keys, layout above). */
export const flow_keys = new Uint8Array(FLOW_KEYS_SIZE);
/* Host-order views of the same block: the kernel reads the keys as host (x86: LE) words. */
const flow_keys_u16 = new Uint16Array(flow_keys.buffer);
const flow_keys_u32 = new Uint32Array(flow_keys.buffer);
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
  throw new Error('flow_dissector: the key block layout assumes a little-endian host');
}

/* Boot-time keys: siphash_key_t hashrnd (5.10) or u32 hashrnd (older kernels). */
const hashrnd_siphash = new Uint32Array(4);
let hashrnd_jhash = 0;
let flow_hash_use_siphash = true;
let flow_hash_ready = false;

/* Dissection state of the frame in progress: the kernel's locals of __skb_flow_dissect. */
let nhoff = 0; // offset from skb->data (the network header) of the next header
let proto = 0; // current ethertype (host order)
let ip_proto = 0;

/** lowbias32 (C. Wellons): a well-mixing 32-bit permutation, for deriving keys from a seed. */
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Choose the flow hash and draw its keys from the run seed (the kernel: net_get_random_once
 * → get_random_bytes at the first hash after boot). Start-up only; call it on every CPU
 * thread with the same arguments so all CPUs hash alike.
 */
export function flow_hash_init(alg: 'siphash' | 'jhash', seed: number): void {
  if (alg !== 'siphash' && alg !== 'jhash') throw new RangeError(`flow_hash_init: alg ${String(alg)}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`flow_hash_init: seed ${seed} not a safe integer`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  // Counter-mode draws, one per key word; draw 4 is the jhash key.
  let state = lowbias32(lo ^ lowbias32(hi ^ 0x666c6f77)); // "flow"
  for (let i = 0; i < 4; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    hashrnd_siphash[i] = lowbias32(state);
  }
  hashrnd_jhash = lowbias32((state + 0x9e3779b9) >>> 0) | 0; // int32 bits: stays a small integer
  flow_hash_use_siphash = alg === 'siphash';
  flow_hash_ready = true;
}

/** Is the IPv4/L4 header range [nhoff, nhoff+len) inside the frame (__skb_header_pointer)? */
function header_ok(hlen: number, off: number, len: number): boolean {
  return off >= 0 && off + len <= hlen;
}

/** Big-endian 16-bit read. */
function be16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

/** case htons(ETH_P_8021Q) / htons(ETH_P_8021AD): skip one tag, record the first in `vlan`. */
function __skb_flow_dissect_vlan(b: Uint8Array, data: number, hlen: number, first: boolean): boolean {
  if (!header_ok(hlen, nhoff, VLAN_HLEN)) return false; // FLOW_DISSECT_RET_OUT_BAD
  const tci = be16(b, data + nhoff);
  const saved_vlan_tpid = proto;
  proto = be16(b, data + nhoff + 2); // vlan->h_vlan_encapsulated_proto
  nhoff += VLAN_HLEN;
  if (first) {
    // key_vlan->vlan_id = TCI & VLAN_VID_MASK; ->vlan_priority = (TCI & VLAN_PRIO_MASK) >> 13
    flow_keys_u16[FLOW_KEYS_VLAN >> 1] = (tci & 0x0fff) | (((tci >>> 13) & 7) << 13);
    flow_keys[FLOW_KEYS_VLAN_TPID] = saved_vlan_tpid >>> 8; // __be16 vlan_tpid
    flow_keys[FLOW_KEYS_VLAN_TPID + 1] = saved_vlan_tpid & 0xff;
  }
  return true;
}

/** case htons(ETH_P_IP): addresses, protocol and the fragment check. */
function __skb_flow_dissect_ipv4(b: Uint8Array, data: number, hlen: number): number {
  if (!header_ok(hlen, nhoff, IPH_LEN)) return FLOW_DISSECT_RET_OUT_BAD;
  const iph = data + nhoff;
  const ihl = b[iph + IPH_VERSION_IHL_OFF] & 0x0f;
  if (ihl < 5) return FLOW_DISSECT_RET_OUT_BAD;
  nhoff += ihl * 4;
  ip_proto = b[iph + IPH_PROTOCOL_OFF];
  // memcpy(&key_addrs->v4addrs, &iph->saddr, sizeof(key_addrs->v4addrs));
  for (let i = 0; i < FLOW_KEYS_V4ADDRS_SIZE; i++) flow_keys[FLOW_KEYS_ADDRS + i] = b[iph + IPH_SADDR_OFF + i];
  flow_keys_u16[FLOW_KEYS_ADDR_TYPE >> 1] = FLOW_DISSECTOR_KEY_IPV4_ADDRS;
  const frag_off = be16(b, iph + IPH_FRAG_OFF_OFF);
  if (frag_off & (IP_MF | IP_OFFSET)) {
    // ip_is_fragment(iph)
    let flags = FLOW_DIS_IS_FRAGMENT;
    if (!(frag_off & IP_OFFSET)) flags |= FLOW_DIS_FIRST_FRAG; // no F_PARSE_1ST_FRAG: stop
    flow_keys_u32[FLOW_KEYS_FLAGS >> 2] |= flags;
    return FLOW_DISSECT_RET_OUT_GOOD;
  }
  return FLOW_DISSECT_RET_CONTINUE;
}

/**
 * case htons(ETH_P_IPV6): nexthdr, the addresses, and the flow label: a non-zero one is kept in
 * `tags` and, as ___skb_get_hash passes FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL, ends dissection.
 */
function __skb_flow_dissect_ipv6(b: Uint8Array, data: number, hlen: number): number {
  if (!header_ok(hlen, nhoff, IPV6H_LEN)) return FLOW_DISSECT_RET_OUT_BAD;
  const iph = data + nhoff;
  ip_proto = b[iph + IPV6H_NEXTHDR_OFF];
  nhoff += IPV6H_LEN;
  // memcpy(&key_addrs->src, &iph->saddr, sizeof(key_addrs->src) + sizeof(key_addrs->dst));
  for (let i = 0; i < FLOW_KEYS_V6ADDRS_SIZE; i++) flow_keys[FLOW_KEYS_ADDRS + i] = b[iph + IPV6H_SADDR_OFF + i];
  flow_keys_u16[FLOW_KEYS_ADDR_TYPE >> 1] = FLOW_DISSECTOR_KEY_IPV6_ADDRS;
  const flow_label = ((b[iph + 1] & 0x0f) << 16) | (b[iph + 2] << 8) | b[iph + 3]; // ip6_flowlabel, ntohl'd
  if (flow_label !== 0) {
    flow_keys_u32[FLOW_KEYS_FLOW_LABEL >> 2] = flow_label; // key_tags->flow_label
    return FLOW_DISSECT_RET_OUT_GOOD; // FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL
  }
  return FLOW_DISSECT_RET_CONTINUE;
}

/**
 * ip_proto_again: IPv6's extension headers before L4 (hop-by-hop, routing, destination
 * options: skipped by their length; a fragment header: a fragment, the first one flagged, no
 * ports without F_PARSE_1ST_FRAG). Returns the fdret: CONTINUE to dissect the ports.
 */
function __skb_flow_dissect_ipproto(b: Uint8Array, data: number, hlen: number): number {
  for (let num_hdrs = 0; proto === ETH_P_IPV6; ) {
    if (ip_proto === NEXTHDR_HOP || ip_proto === NEXTHDR_ROUTING || ip_proto === NEXTHDR_DEST) {
      if (!header_ok(hlen, nhoff, 2)) return FLOW_DISSECT_RET_OUT_BAD;
      const opthdr = data + nhoff;
      ip_proto = b[opthdr];
      nhoff += ipv6_optlen(b, opthdr);
      // FLOW_DISSECT_RET_IPPROTO_AGAIN, bounded as skb_flow_dissect_allowed bounds it
      if (++num_hdrs > MAX_FLOW_DISSECT_HDRS) return FLOW_DISSECT_RET_OUT_GOOD;
      continue;
    }
    if (ip_proto === NEXTHDR_FRAGMENT) {
      if (!header_ok(hlen, nhoff, 8)) return FLOW_DISSECT_RET_OUT_BAD;
      const fh = data + nhoff;
      let flags = FLOW_DIS_IS_FRAGMENT;
      nhoff += 8;
      ip_proto = b[fh];
      if ((be16(b, fh + 2) & IP6_OFFSET) === 0) flags |= FLOW_DIS_FIRST_FRAG;
      flow_keys_u32[FLOW_KEYS_FLAGS >> 2] |= flags;
      return FLOW_DISSECT_RET_OUT_GOOD;
    }
    break;
  }
  return FLOW_DISSECT_RET_CONTINUE;
}

/** proto_ports_offset(proto): where the 16-bit port pair sits in the L4 header, or -1. */
function proto_ports_offset(proto: number): number {
  switch (proto) {
    case 6:
    case 17:
    case 33:
    case 50:
    case 132:
    case 136: // TCP UDP DCCP ESP SCTP UDPLITE
      return 0;
    case 51: // AH: SPI
      return 4;
    default:
      return -1;
  }
}

/** key_ports->ports = __skb_flow_get_ports(skb, nhoff, ip_proto, data, hlen). */
function __skb_flow_get_ports(b: Uint8Array, data: number, hlen: number): void {
  const poff = proto_ports_offset(ip_proto);
  if (poff < 0 || !header_ok(hlen, nhoff + poff, 4)) return; // ports stay 0
  const p = data + nhoff + poff;
  for (let i = 0; i < 4; i++) flow_keys[FLOW_KEYS_PORTS + i] = b[p + i];
}

/** The proto_again loop of __skb_flow_dissect over VLAN tags and L3; returns the fdret. */
function __skb_flow_dissect_l3(b: Uint8Array, data: number, hlen: number): number {
  for (let num_hdrs = 0; ; ) {
    if (proto === ETH_P_IP) return __skb_flow_dissect_ipv4(b, data, hlen);
    if (proto === ETH_P_IPV6) return __skb_flow_dissect_ipv6(b, data, hlen);
    if (proto !== ETH_P_8021Q && proto !== ETH_P_8021AD) return FLOW_DISSECT_RET_OUT_BAD;
    // Only tags loop back here, so the first pass is the first tag (dissector_vlan == MAX).
    if (!__skb_flow_dissect_vlan(b, data, hlen, num_hdrs === 0)) return FLOW_DISSECT_RET_OUT_BAD;
    // FLOW_DISSECT_RET_PROTO_AGAIN: skb_flow_dissect_allowed() bounds the loop, else out_good
    if (++num_hdrs > MAX_FLOW_DISSECT_HDRS) return FLOW_DISSECT_RET_OUT_GOOD;
  }
}

/** Cold path of the frame-range assertion. */
function skb_flow_dissect_bad_frame(frameOffset: number, frameLen: number, size: number): RangeError {
  return new RangeError(`skb_flow_dissect: frame [${frameOffset}, +${frameLen}) of ${size} bytes`);
}

/**
 * skb_flow_dissect_flow_keys(skb, &flow_keys, FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL) over the
 * frame bytes[frameOffset .. frameOffset+frameLen) (Ethernet header first). Fills `flow_keys`;
 * returns false where the kernel's __skb_flow_dissect returns false (out_bad).
 */
export function skb_flow_dissect_flow_keys(bytes: Uint8Array, frameOffset: number, frameLen: number): boolean {
  if (frameOffset < 0 || frameLen < ETH_HLEN || frameOffset + frameLen > bytes.length) {
    throw skb_flow_dissect_bad_frame(frameOffset, frameLen, bytes.length);
  }
  flow_keys.fill(0); // memset(flow, 0, sizeof(*flow))
  const data = frameOffset + ETH_HLEN; // skb->data after eth_type_trans
  const hlen = frameLen - ETH_HLEN; // skb_headlen(skb)
  nhoff = 0;
  proto = be16(bytes, frameOffset + 12); // skb->protocol (eth_type_trans)
  ip_proto = 0;
  let fdret = __skb_flow_dissect_l3(bytes, data, hlen);
  if (fdret === FLOW_DISSECT_RET_CONTINUE) fdret = __skb_flow_dissect_ipproto(bytes, data, hlen);
  if (fdret === FLOW_DISSECT_RET_CONTINUE) {
    __skb_flow_get_ports(bytes, data, hlen); // ip_proto_again: no encapsulation followed
    fdret = FLOW_DISSECT_RET_OUT_GOOD;
  }
  // out: key_control->thoff = min(nhoff, hlen); key_basic->n_proto/ip_proto
  flow_keys_u16[FLOW_KEYS_THOFF >> 1] = Math.min(nhoff, hlen);
  flow_keys[FLOW_KEYS_N_PROTO] = proto >>> 8; // __be16: network byte order in memory
  flow_keys[FLOW_KEYS_N_PROTO + 1] = proto & 0xff;
  flow_keys[FLOW_KEYS_IP_PROTO] = ip_proto;
  return fdret === FLOW_DISSECT_RET_OUT_GOOD;
}

/**
 * __flow_hash_consistentify(keys), Linux 5.10 as released: order the IPv4 addresses (and the
 * ports when the addresses are equal) so both directions of a flow hash the same. The kernel
 * compares `(int)((u32)dst - (u32)src)`, words read in host order: addresses whose host-order
 * values differ by exactly 2^31 swap in both directions, so their two directions hash
 * differently (fixed upstream by 64ae13ed4784 "net: core: fix flow symmetric hash", 2022).
 */
function __flow_hash_consistentify(): void {
  const addr_type = flow_keys_u16[FLOW_KEYS_ADDR_TYPE >> 1];
  if (addr_type === FLOW_DISSECTOR_KEY_IPV6_ADDRS) return __flow_hash_consistentify_v6();
  if (addr_type !== FLOW_DISSECTOR_KEY_IPV4_ADDRS) return;
  const s = FLOW_KEYS_ADDRS >> 2; // v4addrs.src word; dst is s + 1
  const p = FLOW_KEYS_PORTS >> 1; // ports.src u16; dst is p + 1
  const addr_diff = (flow_keys_u32[s + 1] - flow_keys_u32[s]) | 0;
  if (addr_diff < 0 || (addr_diff === 0 && flow_keys_u16[p + 1] < flow_keys_u16[p])) {
    const a = flow_keys_u32[s];
    flow_keys_u32[s] = flow_keys_u32[s + 1];
    flow_keys_u32[s + 1] = a;
    const q = flow_keys_u16[p];
    flow_keys_u16[p] = flow_keys_u16[p + 1];
    flow_keys_u16[p + 1] = q;
  }
}

/**
 * The IPv6 case: addr_diff = memcmp(&v6addrs.dst, &v6addrs.src, 16) (bytes, so network
 * order); swap the addresses and the ports when dst < src, or when they are equal and the
 * ports (compared as host-order u16 of the __be16 values) are out of order.
 */
function __flow_hash_consistentify_v6(): void {
  const src = FLOW_KEYS_ADDRS;
  const dst = FLOW_KEYS_ADDRS + 16;
  let addr_diff = 0;
  for (let i = 0; i < 16 && addr_diff === 0; i++) addr_diff = flow_keys[dst + i] - flow_keys[src + i];
  const p = FLOW_KEYS_PORTS >> 1;
  if (addr_diff < 0 || (addr_diff === 0 && flow_keys_u16[p + 1] < flow_keys_u16[p])) {
    for (let i = 0; i < 16; i++) {
      const a = flow_keys[src + i];
      flow_keys[src + i] = flow_keys[dst + i];
      flow_keys[dst + i] = a;
    }
    const q = flow_keys_u16[p];
    flow_keys_u16[p] = flow_keys_u16[p + 1];
    flow_keys_u16[p + 1] = q;
  }
}

/** flow_keys_hash_length(flow), in bytes (5.10: siphash takes bytes). */
function flow_keys_hash_length(): number {
  let diff = FLOW_KEYS_HASH_OFFSET + FLOW_KEYS_ADDRS_SIZE;
  const addr_type = flow_keys_u16[FLOW_KEYS_ADDR_TYPE >> 1];
  if (addr_type === FLOW_DISSECTOR_KEY_IPV4_ADDRS) {
    diff -= FLOW_KEYS_V4ADDRS_SIZE;
  } else if (addr_type === FLOW_DISSECTOR_KEY_IPV6_ADDRS) {
    diff -= FLOW_KEYS_V6ADDRS_SIZE;
  }
  return FLOW_KEYS_SIZE - diff;
}

/**
 * __flow_hash_from_keys(keys, &hashrnd) over the `flow_keys` block: consistentify, hash from
 * `basic` on, and never return 0 (0 means "no hash" to skb users). Returns the hash as an
 * int32 bit pattern (never boxed by V8); see flow_hash_from_keys() for the uint32.
 */
function __flow_hash_from_keys(): number {
  if (!flow_hash_ready) throw new Error('flow_hash_from_keys: flow_hash_init() not called');
  __flow_hash_consistentify();
  const length = flow_keys_hash_length();
  const hash = flow_hash_use_siphash
    ? siphash_2_4(flow_keys, FLOW_KEYS_HASH_OFFSET, length, hashrnd_siphash) // u32 = low half
    : jhash2_i32(flow_keys_u32, FLOW_KEYS_HASH_OFFSET >> 2, length >> 2, hashrnd_jhash);
  return hash === 0 ? 1 : hash;
}

/** flow_hash_from_keys(): the flow hash of the keys now in `flow_keys`; uint32, never 0. */
export function flow_hash_from_keys(): number {
  return __flow_hash_from_keys() >>> 0;
}

/**
 * ___skb_get_hash(): dissect, then hash; the hash as an int32 bit pattern, never 0. For hot
 * paths that keep hashes as int32 (`>>> 0` gives the uint32 of skb_flow_dissect_hash).
 */
export function ___skb_get_hash(bytes: Uint8Array, frameOffset: number, frameLen: number): number {
  skb_flow_dissect_flow_keys(bytes, frameOffset, frameLen); // result ignored, as the kernel does
  return __flow_hash_from_keys();
}

/**
 * __skb_get_hash() for a frame without a device RSS hash: dissect the real header bytes of
 * bytes[frameOffset .. frameOffset+frameLen) and hash the flow keys. Returns uint32, never 0.
 * Called from get_rps_cpu() (softirq or netif_rx context) on the hot path. A one-line wrapper
 * so that TurboFan inlines it: the uint32 then never crosses a call boundary (where V8 would
 * box a value >= 2^31 into a heap number).
 */
export function skb_flow_dissect_hash(bytes: Uint8Array, frameOffset: number, frameLen: number): number {
  return ___skb_get_hash(bytes, frameOffset, frameLen) >>> 0;
}

/**
 * reciprocal_scale(val, ep_ro): map a uint32 hash into [0, ep_ro) as `(u32)(((u64)val * ep_ro)
 * >> 32)` (include/linux/kernel.h; get_rps_cpu's `map->cpus[reciprocal_scale(hash, map->len)]`).
 * `val` may also be the int32 bit pattern of the hash (it is taken `>>> 0`). Exact in doubles
 * while the product stays below 2^53, i.e. ep_ro < 2^21 (asserted).
 */
export function reciprocal_scale(val: number, ep_ro: number): number {
  if (!(ep_ro >= 0 && ep_ro < 0x200000) || (ep_ro | 0) !== ep_ro) throw reciprocal_scale_bad(ep_ro);
  return Math.floor(((val >>> 0) * ep_ro) / 0x100000000);
}

/** Cold path of reciprocal_scale's assertion, kept out of its bytecode so it inlines. */
function reciprocal_scale_bad(ep_ro: number): RangeError {
  return new RangeError(`reciprocal_scale: ep_ro ${ep_ro} not an integer in [0, 2^21)`);
}
