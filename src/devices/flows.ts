/**
 * flows.ts: the run's flows, drawn once at setup from the seed: `count` distinct 5-tuples
 * (10.x.y.z:ephemeral -> 192.168.0.1-4:service, UDP, TCP or both, IPv4, IPv6 or both) as a
 * structure of typed arrays on SharedArrayBuffers (FlowTable), each flow's TCP initial
 * sequence number and IPv6 flow label. frame_template.ts writes a flow's frame; frames.ts
 * holds every flow's frames as the device copies them. Setup time: nothing here runs per
 * packet.
 */
import type { Prng } from '../lib/prng.js';
import { IPV6_FLOWLABEL_MASK, IPPROTO_TCP, IPPROTO_UDP } from '../uapi/inet.js';

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
    const dport = SERVICE_PORTS[prng.nextInt(SERVICE_PORTS.length)];
    const p = pickProto(prng, proto);
    const family = ip === '4' ? 4 : ip === '6' ? 6 : prng.nextU32() & 1 ? 6 : 4;
    let h = tupleHash(saddr, daddr, sport, dport, p | (family << 8)) & mask;
    let dup = false;
    for (let s = seen[h]; s !== -1; h = (h + 1) & mask, s = seen[h]) {
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
        t.saddr6[n * 4 + w] = IPV6_SOURCE_PREFIX[w];
        t.daddr6[n * 4 + w] = IPV6_DEST_PREFIX[w];
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
    saddr: t.saddr[i],
    daddr: t.daddr[i],
    sport: t.sport[i],
    dport: t.dport[i],
    proto: t.proto[i] as 6 | 17,
    isn: t.isn[i] >>> 0,
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
