// Sockets: the established-socket hash table (inet_hashtables.c), delivery to a bounded
// receive queue with the per-flow order check (sock_queue_rcv_skb), recvmsg by application
// tasks, and RFS's record of where the application runs (sock_rps_record_flow).
//
// A socket's receive queue is a list of skbs under the socket's spinlock (the kernel's
// sk_receive_queue.lock); its bound is sk_rcvbuf bytes of truesize (rxSkbTruesize: what the
// driver allocated), tested before the skb is charged, and overflow is a counted drop
// (sk_drops). TCP sockets advertise a receive window (wnd_end) that the generator's TCP
// senders honour, so in-window data always fits. When a socket goes from empty to non-empty it is linked on its
// task's ready list (sk_data_ready → wake_up), and the task's CPU gets a reschedule IPI.
// Lock order: socket, then task.

import { LATENCY_BATCH, type KCpu } from './percpu.js';
import type { Shm } from '../shm/memory.js';
import { spin_lock, spin_unlock } from '../shm/spinlock.js';
import { jhash_3words } from '../uapi/jhash.js';
import { kfree_skb, rxSkbTruesize, skbTruesize } from './skbuff.js';
import { sk_busy_loop, sk_mark_napi_id } from './busy_poll.js';
import {
  ETH_HLEN,
  ETH_P_IP,
  ETH_P_IPV6,
  IPH_DADDR_OFF,
  IPH_PROTOCOL_OFF,
  IPH_SADDR_OFF,
  IPV6H_DADDR_OFF,
  IPV6H_LEN,
  IPV6H_NEXTHDR_OFF,
  IPV6H_SADDR_OFF,
  JUMBO_FRAME_LEN,
  get32i,
  IPPROTO_TCP,
  ip_header_len,
  l4_header_len_of,
  payload_offset,
} from '../uapi/inet.js';
import { SKB_FLAG_TSTAMP } from '../shm/layout.js';
import type { Config } from '../config/schema.js';

// inet_ehash_secret: the kernel draws it at boot; any fixed value serves a hash table.
const INET_EHASH_SECRET = 0x5bd1e995;

// inet6_ehash_secret and ipv6_hash_secret (inet6_ehashfn draws them once).
const INET6_EHASH_SECRET = 0x1b873593;
const IPV6_HASH_SECRET = 0x27d4eb2f;

/** net.core.rmem_default and SOCK_MIN_RCVBUF (2 * (2048 + SKB_TRUESIZE(256))), include/net/sock.h. */
export const RMEM_DEFAULT = 212_992;
const SOCK_MIN_RCVBUF = 2 * (2048 + skbTruesize(256));
/** net.ipv4.tcp_rmem: min, default (a new TCP socket's sk_rcvbuf, tcp_init_sock), max. */
export const TCP_RMEM = [4096, 131_072, 6_291_456] as const;

/**
 * A socket's sk_rcvbuf. --sk-rcvbuf N is the application's setsockopt(SO_RCVBUF, N): the kernel
 * doubles it (sock_setsockopt → __sock_set_rcvbuf: max(2N, SOCK_MIN_RCVBUF)), taken as
 * SO_RCVBUFFORCE would (no net.core.rmem_max cap). Not set (0): UDP keeps rmem_default
 * (sock_init_data), TCP tcp_rmem[1] (tcp_init_sock).
 */
export function skRcvbuf(cfg: Config, tcp: boolean): number {
  if (cfg.sk_rcvbuf > 0) return Math.max(2 * cfg.sk_rcvbuf, SOCK_MIN_RCVBUF);
  return tcp ? TCP_RMEM[1] : RMEM_DEFAULT;
}

/**
 * The receive window, in the flow's segments, a TCP socket with an empty queue advertises:
 * as many segments as sk_rcvbuf holds at their truesize. For full-size frames this is what
 * tcp_select_window / tcp_win_from_space give (half the space with tcp_adv_win_scale 1, and a
 * 2 KB buffer's truesize is about twice its payload); for small segments it is the bound
 * tcp_grow_window keeps rcv_ssthresh under (it grows the window only as far as truesize
 * allows). Every segment of a flow has the same length, so every one has this truesize.
 */
export function tcpWindowSegments(cfg: Config, rcvbuf: number): number {
  return windowSegments(rcvbuf, rxSkbTruesize(cfg, cfg.pkt_size - 4));
}

/** tcpWindowSegments of a segment truesize already known (a read: the CPU's table). */
function windowSegments(rcvbuf: number, seg_truesize: number): number {
  const w = Math.floor(rcvbuf / seg_truesize);
  return w > 1 ? w : 1;
}

/** The sockets' identities, one entry per flow, as parallel arrays (a million flows are no objects). */
export interface SockIdents {
  count: number;
  saddr: ArrayLike<number>;
  daddr: ArrayLike<number>;
  sport: ArrayLike<number>;
  dport: ArrayLike<number>;
  proto: ArrayLike<number>;
  /** 4 or 6 per flow; IPv6 flows' addresses in saddr6/daddr6, four words per flow. */
  family: ArrayLike<number>;
  saddr6: ArrayLike<number>;
  daddr6: ArrayLike<number>;
}

function inet_ehashfn(daddr: number, saddr: number, ports: number): number {
  // __inet_ehashfn(laddr, lport, faddr, fport): the local side is the receiver (daddr, dport).
  return jhash_3words(daddr, saddr, ((ports & 0xffff) << 16) | (ports >>> 16), INET_EHASH_SECRET) | 0;
}

/**
 * inet6_ehashfn(net, laddr, lport, faddr, fport): lhash is the local address's last word,
 * fhash __ipv6_addr_jhash of the peer's (jhash_3words of a[0] ^ a[1], a[2], a[3]).
 */
function inet6_ehashfn(d3: number, s0: number, s1: number, s2: number, s3: number, ports: number): number {
  const fhash = jhash_3words(s0 ^ s1, s2, s3, IPV6_HASH_SECRET);
  return jhash_3words(d3, fhash, ((ports & 0xffff) << 16) | (ports >>> 16), INET6_EHASH_SECRET) | 0;
}

/**
 * Create one socket per flow (start-up): identity, the task that reads it (`task_of[s]`),
 * empty queue, hash table entry.
 */
export function sock_table_init(shm: Shm, flows: SockIdents, task_of: ArrayLike<number>): void {
  const SOCK = shm.layout.SOCK;
  const mask = shm.layout.skHashSize - 1;
  const i32 = shm.i32;
  shm.skHash.fill(-1);
  for (let s = 0; s < flows.count; s++) {
    const ports = (flows.sport[s] << 16) | flows.dport[s] | 0;
    const b = shm.skIdx(s, 0);
    i32[b + SOCK.saddr] = flows.saddr[s] | 0;
    i32[b + SOCK.daddr] = flows.daddr[s] | 0;
    i32[b + SOCK.ports] = ports;
    i32[b + SOCK.proto] = flows.proto[s];
    i32[b + SOCK.task] = task_of[s];
    i32[b + SOCK.flow] = s;
    // The payload (the packet index) follows the headers, fixed per flow: Ethernet, IP, L4.
    const family = flows.family[s] === 6 ? 6 : 4;
    i32[b + SOCK.index_off] = ETH_HLEN + ip_header_len(family) + l4_header_len_of(flows.proto[s], shm.cfg.tcp_timestamps);
    i32[b + SOCK.rx_head] = -1;
    i32[b + SOCK.rx_tail] = -1;
    i32[b + SOCK.reader_head] = -1;
    i32[b + SOCK.ready_next] = -1;
    i32[b + SOCK.last_cpu] = -1;
    const tcp = flows.proto[s] === IPPROTO_TCP;
    i32[b + SOCK.rcvbuf] = skRcvbuf(shm.cfg, tcp);
    // The window of the SYN-ACK: the whole (empty) buffer (tcp_select_initial_window).
    i32[b + SOCK.wnd_end] = tcp ? tcp_window_segments(shm, b) : 0;
    const v6 = flows.family[s] === 6;
    i32[b + SOCK.family] = v6 ? 6 : 4;
    let h: number;
    if (v6) {
      const a = s * 4;
      for (let w = 0; w < 4; w++) {
        i32[b + SOCK.saddr6_0 + w] = flows.saddr6[a + w] | 0;
        i32[b + SOCK.daddr6_0 + w] = flows.daddr6[a + w] | 0;
      }
      const sa = flows.saddr6;
      h = inet6_ehashfn(flows.daddr6[a + 3] | 0, sa[a] | 0, sa[a + 1] | 0, sa[a + 2] | 0, sa[a + 3] | 0, ports) & mask;
    } else {
      h = inet_ehashfn(flows.daddr[s] | 0, flows.saddr[s] | 0, ports) & mask;
    }
    i32[b + SOCK.hash_next] = shm.skHash[h];
    shm.skHash[h] = s;
  }
  for (let t = 0; t < shm.layout.taskCount; t++) {
    shm.i32[shm.taskI[t] + shm.layout.TASK.ready_head] = -1;
    shm.i32[shm.taskI[t] + shm.layout.TASK.ready_tail] = -1;
  }
}

/** __inet_lookup_established by the real 4-tuple and protocol; -1 when no socket matches. */
export function __inet_lookup(c: KCpu, saddr: number, daddr: number, ports: number, proto: number): number {
  const shm = c.shm;
  const SOCK = c.SOCK;
  const i32 = c.i32;
  let s = shm.skHash[inet_ehashfn(daddr, saddr, ports) & (c.layout.skHashSize - 1)];
  while (s !== -1) {
    const b = c.skI + s * c.skStrideI;
    if (
      i32[b + SOCK.saddr] === saddr &&
      i32[b + SOCK.daddr] === daddr &&
      i32[b + SOCK.ports] === ports &&
      i32[b + SOCK.proto] === proto &&
      i32[b + SOCK.family] === 4
    ) {
      return s;
    }
    s = i32[b + SOCK.hash_next];
  }
  return -1;
}

/**
 * __inet6_lookup_established by the addresses of the IPv6 header at u8[ip], the ports word
 * and the protocol; -1 when no socket matches. Reads the address words from the frame.
 */
export function __inet6_lookup(c: KCpu, ip: number, ports: number, proto: number): number {
  const SOCK = c.SOCK;
  const i32 = c.i32;
  const u8 = c.u8;
  const s0 = get32i(u8, ip + IPV6H_SADDR_OFF);
  const s1 = get32i(u8, ip + IPV6H_SADDR_OFF + 4);
  const s2 = get32i(u8, ip + IPV6H_SADDR_OFF + 8);
  const s3 = get32i(u8, ip + IPV6H_SADDR_OFF + 12);
  const d0 = get32i(u8, ip + IPV6H_DADDR_OFF);
  const d1 = get32i(u8, ip + IPV6H_DADDR_OFF + 4);
  const d2 = get32i(u8, ip + IPV6H_DADDR_OFF + 8);
  const d3 = get32i(u8, ip + IPV6H_DADDR_OFF + 12);
  let s = c.shm.skHash[inet6_ehashfn(d3, s0, s1, s2, s3, ports) & (c.layout.skHashSize - 1)];
  while (s !== -1) {
    const b = c.skI + s * c.skStrideI;
    if (
      i32[b + SOCK.ports] === ports &&
      i32[b + SOCK.family] === 6 &&
      i32[b + SOCK.proto] === proto &&
      i32[b + SOCK.saddr6_3] === s3 &&
      i32[b + SOCK.daddr6_3] === d3 &&
      i32[b + SOCK.saddr6_0] === s0 &&
      i32[b + SOCK.saddr6_1] === s1 &&
      i32[b + SOCK.saddr6_2] === s2 &&
      i32[b + SOCK.daddr6_0] === d0 &&
      i32[b + SOCK.daddr6_1] === d1 &&
      i32[b + SOCK.daddr6_2] === d2
    ) {
      return s;
    }
    s = i32[b + SOCK.hash_next];
  }
  return -1;
}

/** The full window of the TCP socket at i32 index b (tcpWindowSegments of its sk_rcvbuf). */
export function tcp_window_segments(shm: Shm, b: number): number {
  return tcpWindowSegments(shm.cfg, shm.i32[b + shm.layout.SOCK.rcvbuf]);
}

/**
 * The window update a read sends (tcp_cleanup_rbuf → tcp_select_window), under the socket's
 * lock: the right edge is the next segment expected plus the free space in segments, and never
 * moves left. With the queue empty it is tcp_window_segments past the next segment expected.
 */
function tcp_window_update(c: KCpu, b: number, rmem: number): void {
  const i32 = c.i32;
  const SOCK = c.SOCK;
  const seg_truesize = skb_truesize(c, c.cfg.pkt_size - 4);
  const free = Math.floor((i32[b + SOCK.rcvbuf] - rmem) / seg_truesize);
  const full = windowSegments(i32[b + SOCK.rcvbuf], seg_truesize);
  const end = (i32[b + SOCK.next_index] + (rmem === 0 ? full : Math.min(free, full))) | 0;
  if (((end - Atomics.load(i32, b + SOCK.wnd_end)) | 0) > 0) Atomics.store(i32, b + SOCK.wnd_end, end);
}

/**
 * Socket delivery, softirq context, on whichever CPU processes the packet: UDP's
 * __udp_queue_rcv_skb → __udp_enqueue_schedule_skb, TCP's tcp_data_queue →
 * tcp_try_rmem_schedule (no pruning: in-window data fits by construction). Both test
 * sk_rmem_alloc > sk_rcvbuf *before* charging ("always allow at least a packet"), so one skb
 * may take the queue past sk_rcvbuf. Then the order check per segment, queue, wake the task.
 * A connected UDP socket (inet_daddr set) and TCP save the skb's hash (sock_rps_save_rxhash).
 */
export function sock_queue_rcv_skb(c: KCpu, sk: number, skb: number): void {
  const SOCK = c.SOCK;
  const i32 = c.i32;
  const b = c.skI + sk * c.skStrideI;
  const segs = c.skb_segs[skb];
  const truesize = segs === 1 ? skb_truesize(c, c.skb_len[skb]) : skb_rmem_truesize(c, skb);

  spin_lock(i32, b + SOCK.lock);
  if (i32[b + SOCK.rmem_alloc] > i32[b + SOCK.rcvbuf]) return sock_drop(c, sk, b, skb, segs);
  if (segs === 1) sock_check_order_one(c, sk, b, skb);
  else sock_check_order(c, sk, b, skb);
  c.skb_next[skb] = -1;
  const tail = i32[b + SOCK.rx_tail];
  if (tail === -1) i32[b + SOCK.rx_head] = skb;
  else c.skb_next[tail] = skb;
  i32[b + SOCK.rx_tail] = skb;
  i32[b + SOCK.rx_qlen] += 1;
  Atomics.add(i32, b + SOCK.rmem_alloc, truesize); // atomic_add_return: the reader uncharges without this lock
  c.f64[c.skF + sk * c.skStrideF + SOCK.delivered] += segs;
  if (c.busy_poll) sk_mark_napi_id(c, b, skb); // --busy-read (kernel/busy_poll.ts)
  // sock_rps_save_rxhash: tcp_v4_rcv for TCP; __udp_queue_rcv_skb for a connected UDP socket.
  if (c.udp_connected || i32[b + SOCK.proto] === IPPROTO_TCP) i32[b + SOCK.rxhash] = c.skb_hash[skb];
  if (i32[b + SOCK.last_cpu] !== c.cpu) sock_moved(c, b);
  let wake = -1;
  if (i32[b + SOCK.on_ready] === 0) {
    i32[b + SOCK.on_ready] = 1;
    wake = task_ready_add(c, i32[b + SOCK.task], sk);
  }
  spin_unlock(i32, b + SOCK.lock);
  c.count(c.SD.delivered, segs);
  if (wake >= 0 && wake !== c.cpu) c.env.wake_cpu(wake);
}

/** The socket is full (sk_rmem_alloc past sk_rcvbuf): count the drop (sk_drops), unlock, free. Under the socket's lock. */
function sock_drop(c: KCpu, sk: number, b: number, skb: number, segs: number): void {
  c.f64[c.skF + sk * c.skStrideF + c.SOCK.drops] += segs;
  spin_unlock(c.i32, b + c.SOCK.lock);
  c.count(c.SD.drop_socket, segs);
  kfree_skb(c, skb);
}

/** Beyond Linux: the socket now gets its packets from this CPU (which CPUs delivered a flow). */
function sock_moved(c: KCpu, b: number): void {
  const SOCK = c.SOCK;
  if (c.i32[b + SOCK.last_cpu] !== -1) c.i32[b + SOCK.cpu_moves] += 1;
  c.i32[b + SOCK.last_cpu] = c.cpu;
}

/** skb->truesize of a received frame of `len` bytes (rxSkbTruesize, from the CPU's table). */
function skb_truesize(c: KCpu, len: number): number {
  return len <= JUMBO_FRAME_LEN ? c.truesize_by_len[len] : rxSkbTruesize(c.cfg, len);
}

/**
 * The order check of a one-segment skb, under the socket lock: its per-flow index (the
 * payload's, at the socket's fixed offset, or a replayed frame's position in its capture
 * flow) must be past the last one delivered, else it is out of order; gaps are drops
 * upstream, not disorder. Also records the sampled DMA→socket latency.
 */
function sock_check_order_one(c: KCpu, sk: number, b: number, skb: number): void {
  const SOCK = c.SOCK;
  const i32 = c.i32;
  const index = c.replay ? c.skb_replay_pos[skb] : get32i(c.u8, c.skb_data(skb) + i32[b + SOCK.index_off]);
  const expected = i32[b + SOCK.next_index];
  if (((index - expected) | 0) < 0) sock_out_of_order(c, sk, expected, index);
  else i32[b + SOCK.next_index] = (index + 1) | 0;
  // Only sampled frames carry a timestamp: others never touch skb_tstamp's cache lines.
  if (c.skb_flags[skb] & SKB_FLAG_TSTAMP) sock_latency_sample(c, skb);
}

/** sock_check_order_one for each segment of a GRO train. */
function sock_check_order(c: KCpu, sk: number, b: number, skb: number): void {
  for (let seg = skb; seg !== -1; seg = c.skb_frag_next[seg]) sock_check_order_one(c, sk, b, seg);
}

function sock_out_of_order(c: KCpu, sk: number, expected: number, got: number): void {
  c.f64[c.skF + sk * c.skStrideF + c.SOCK.out_of_order] += 1;
  record_first_ooo(c, sk, expected, got);
}

function sock_latency_sample(c: KCpu, skb: number): void {
  c.lat_buf[c.lat_n++] = c.env.now_ns() - c.skb_tstamp[skb];
  if (c.lat_n === LATENCY_BATCH) c.flush_latency();
}

function record_first_ooo(c: KCpu, sk: number, expected: number, got: number): void {
  const shm = c.shm;
  const CTL = shm.layout.CTL;
  const base = shm.ctlI;
  if (Atomics.load(c.i32, base + CTL.ooo_set) !== 0) return;
  spin_lock(c.i32, base + CTL.ooo_lock);
  if (c.i32[base + CTL.ooo_set] === 0) {
    c.i32[base + CTL.ooo_flow] = c.i32[shm.skIdx(sk, shm.layout.SOCK.flow)];
    c.i32[base + CTL.ooo_expected] = expected;
    c.i32[base + CTL.ooo_got] = got;
    c.i32[base + CTL.ooo_cpu] = c.cpu;
    Atomics.store(c.i32, base + CTL.ooo_set, 1);
  }
  spin_unlock(c.i32, base + CTL.ooo_lock);
}

/** Link socket sk on task t's ready list. Returns the task's CPU if the list was empty, else -1. */
function task_ready_add(c: KCpu, t: number, sk: number): number {
  const TASK = c.TASK;
  const i32 = c.i32;
  const ti = c.shm.taskI[t];
  spin_lock(i32, ti + TASK.lock);
  i32[c.skI + sk * c.skStrideI + c.SOCK.ready_next] = -1;
  const tail = i32[ti + TASK.ready_tail];
  if (tail === -1) i32[ti + TASK.ready_head] = sk;
  else i32[c.skI + tail * c.skStrideI + c.SOCK.ready_next] = sk;
  i32[ti + TASK.ready_tail] = sk;
  const cpu = tail === -1 ? Atomics.load(i32, ti + TASK.cpu) : -1;
  spin_unlock(i32, ti + TASK.lock);
  return cpu;
}

/** Put socket sk, taken off the ready list with unread skbs in its reader queue, back on it. */
function sock_ready_relink(c: KCpu, t: number, sk: number): void {
  const i32 = c.i32;
  const b = c.skI + sk * c.skStrideI;
  spin_lock(i32, b + c.SOCK.lock);
  if (i32[b + c.SOCK.on_ready] === 0) {
    i32[b + c.SOCK.on_ready] = 1;
    task_ready_add(c, t, sk);
  }
  spin_unlock(i32, b + c.SOCK.lock);
}

/** Put a chain of ready sockets (linked by ready_next, each with on_ready set) back at the head of task t's list. */
function task_ready_prepend(c: KCpu, t: number, first: number): void {
  if (first === -1) return;
  const i32 = c.i32;
  const next = c.SOCK.ready_next;
  let last = first;
  for (let s = i32[c.skI + first * c.skStrideI + next]; s !== -1; s = i32[c.skI + s * c.skStrideI + next]) last = s;
  const ti = c.shm.taskI[t];
  spin_lock(i32, ti + c.TASK.lock);
  const head = i32[ti + c.TASK.ready_head];
  i32[c.skI + last * c.skStrideI + next] = head;
  if (head === -1) i32[ti + c.TASK.ready_tail] = last;
  i32[ti + c.TASK.ready_head] = first;
  spin_unlock(i32, ti + c.TASK.lock);
}

/**
 * Beyond Linux: charge a flow-limit drop to the socket of its flow (found by the same real
 * lookup ip_rcv does), so a run shows which flows flow limit hit. Drop path only.
 */
export function sock_account_flow_limit_drop(c: KCpu, skb: number): void {
  const u8 = c.u8;
  const ip = c.skb_data(skb) + c.skb_nh[skb];
  let sk = -1;
  if (c.skb_protocol[skb] === ETH_P_IP && u8[ip] >> 4 === 4) {
    const l4 = ip + (u8[ip] & 15) * 4;
    sk = __inet_lookup(c, get32i(u8, ip + IPH_SADDR_OFF), get32i(u8, ip + IPH_DADDR_OFF), get32i(u8, l4), u8[ip + IPH_PROTOCOL_OFF]);
  } else if (c.skb_protocol[skb] === ETH_P_IPV6 && u8[ip] >> 4 === 6) {
    sk = __inet6_lookup(c, ip, get32i(u8, ip + IPV6H_LEN), u8[ip + IPV6H_NEXTHDR_OFF]);
  }
  if (sk < 0) return;
  // Under the socket's lock: flows can reach a socket from two CPUs while they move.
  const lock = c.skI + sk * c.skStrideI + c.SOCK.lock;
  spin_lock(c.i32, lock);
  c.f64[c.skF + sk * c.skStrideF + c.SOCK.flow_limit_drops] += c.skb_segs[skb];
  spin_unlock(c.i32, lock);
}

/** Does task t have sockets with data? (a plain read: the scheduler's hint, not a claim) */
export function task_runnable(shm: Shm, t: number): boolean {
  return shm.i32[shm.taskI[t] + shm.layout.TASK.ready_head] !== -1;
}

/**
 * Is some task pinned to `cpu` runnable? Atomic loads: a CPU going idle asks this after it
 * published CTX_IDLE, and the tasks' CPUs and ready lists are written from other threads.
 */
export function cpu_task_runnable(shm: Shm, cpu: number): boolean {
  const TASK = shm.layout.TASK;
  for (let t = 0; t < shm.layout.taskCount; t++) {
    const ti = shm.taskI[t];
    if (Atomics.load(shm.i32, ti + TASK.cpu) === cpu && Atomics.load(shm.i32, ti + TASK.ready_head) !== -1) return true;
  }
  return false;
}

/** The truesize an skb (with its GRO segments) charges to sk_rmem_alloc: one rule for charge and uncharge. */
function skb_rmem_truesize(c: KCpu, skb: number): number {
  // skb_gro_receive adds each chained segment's truesize to the head's. The head's skb_len
  // grew by the chained payloads: its own frame is what remains.
  let truesize = 0;
  let head_len = c.skb_len[skb];
  for (let seg = c.skb_frag_next[skb]; seg !== -1; seg = c.skb_frag_next[seg]) {
    const len = c.skb_len[seg];
    truesize += skb_truesize(c, len);
    head_len -= len - (payload_offset(c.u8, c.skb_data(seg)) - c.skb_data(seg));
  }
  return truesize + skb_truesize(c, head_len);
}

/** Packets recvmsg reads between two interrupt windows (as the driver's 32). */
const RECVMSG_WINDOW = 32;

/**
 * The application's loop of recvmsg calls on task t, from the head of its ready list: one
 * skb at a time (skb_recv_udp / tcp_recvmsg) from the reader's own queue, refilled by one
 * splice of sk_receive_queue (UDP's reader_queue), sk_rmem_alloc uncharged in batches
 * (udp_rmem_release),
 * RFS recorded per socket visited (sock_rps_record_flow, from inet_recvmsg), the
 * application's own work per packet (--app-cost-ns). Every RECVMSG_WINDOW packets the task
 * takes interrupts and yields the CPU if need_resched (a preempted task stays runnable).
 * The ready list is taken whole, as epoll_wait's ep_send_events does; a socket leaves it when
 * its receive queue is spliced, and a delivery after that puts it back.
 * Task context on CPU c. Returns packets read.
 */
export function task_recvmsg(c: KCpu, t: number): number {
  const shm = c.shm;
  const TASK = c.TASK;
  const SOCK = c.SOCK;
  const i32 = c.i32;
  const ti = shm.taskI[t];
  const app_cost_ns = c.app_cost_ns;
  // Still running on the CPU it migrated from: not here until it is switched out there.
  if (Atomics.compareExchange(i32, ti + TASK.on_cpu, 0, 1) !== 0) return 0;
  let packets = 0;
  let window = RECVMSG_WINDOW;
  let preempted = false;
  let last = -1; // the socket read last: the one recvmsg would busy-poll on
  while (!preempted) {
    // ep_send_events: take the whole ready list in one lock (list_splice_init of rdllist).
    // Sockets on it keep on_ready set, so no deliverer touches their ready_next meanwhile.
    spin_lock(i32, ti + TASK.lock);
    let sk = i32[ti + TASK.ready_head];
    i32[ti + TASK.ready_head] = -1;
    i32[ti + TASK.ready_tail] = -1;
    spin_unlock(i32, ti + TASK.lock);
    if (sk === -1) {
      // Nothing to read: sk_busy_loop before sleeping (--busy-read, kernel/busy_poll.ts). If it
      // found data the task stays runnable and reads it in its next slice: one busy loop per
      // slice, so a CPU that keeps finding data still passes through its scheduling point.
      if (c.busy_poll && last >= 0) sk_busy_loop(c, t, last);
      break;
    }
    while (sk !== -1) {
      last = sk;
      const b = c.skI + sk * c.skStrideI;
      const next = i32[b + SOCK.ready_next];
      sock_rps_record_flow(c, sk);
      // The reader's own queue and forward_deficit are the reader's alone: kept in locals
      // for this visit, written back when it ends.
      let head = i32[b + SOCK.reader_head];
      let deficit = i32[b + SOCK.forward_deficit];
      const quarter = i32[b + SOCK.rcvbuf] >> 2;
      const tcp = i32[b + SOCK.proto] === IPPROTO_TCP;
      let read = 0; // packets read and not yet counted in recvmsg_packets
      let off = false;
      for (;;) {
        let skb = head;
        if (skb === -1) {
          if (off) break;
          // __skb_recv_udp: the reader's own queue is empty: splice sk_receive_queue into it
          // in one lock (skb_queue_splice_tail_init), and take the socket off the ready
          // list there too: a delivery after this relinks it (lock order socket, then task).
          spin_lock(i32, b + SOCK.lock);
          skb = i32[b + SOCK.rx_head];
          i32[b + SOCK.reader_tail] = i32[b + SOCK.rx_tail];
          i32[b + SOCK.rx_head] = -1;
          i32[b + SOCK.rx_tail] = -1;
          i32[b + SOCK.rx_qlen] = 0;
          i32[b + SOCK.on_ready] = 0;
          spin_unlock(i32, b + SOCK.lock);
          off = true;
          if (skb === -1) break;
        }
        const nx = c.skb_next[skb];
        head = nx;
        const segs = c.skb_segs[skb];
        const truesize = segs === 1 ? skb_truesize(c, c.skb_len[skb]) : skb_rmem_truesize(c, skb);
        if (tcp) {
          // tcp_recvmsg → sk_eat_skb → sock_rfree: each skb's truesize off sk_rmem_alloc as it
          // is freed; tcp_cleanup_rbuf then puts the space back into the advertised window,
          // whose right edge never moves left (tcp_select_window). The device reads wnd_end
          // before each segment of the flow it sends.
          tcp_window_update(c, b, Atomics.sub(i32, b + SOCK.rmem_alloc, truesize) - truesize);
        } else {
          // udp_rmem_release: the read skb's truesize joins forward_deficit, given back to
          // sk_rmem_alloc (one atomic_sub) once it reaches a quarter of sk_rcvbuf or the reader
          // queue is empty, and under sk_receive_queue's lock what arrived meanwhile is spliced
          // onto the reader queue (skb_queue_splice_tail_init).
          deficit += truesize;
          if (nx === -1 || deficit >= quarter) {
            head = udp_rmem_release(c, b, deficit, nx);
            deficit = 0;
          }
        }
        kfree_skb(c, skb);
        packets += segs;
        read += segs;
        window -= segs;
        if (app_cost_ns > 0) {
          c.count(c.SD.recvmsg_packets, read);
          read = 0;
          c.env.burn_ns(app_cost_ns * segs);
        }
        if (window <= 0) {
          window = RECVMSG_WINDOW;
          c.count(c.SD.recvmsg_packets, read);
          read = 0;
          c.env.irq_window();
          if (c.env.need_resched()) {
            preempted = true;
            break;
          }
        }
      }
      if (read !== 0) c.count(c.SD.recvmsg_packets, read);
      i32[b + SOCK.reader_head] = head;
      i32[b + SOCK.forward_deficit] = deficit;
      if (preempted) {
        // ep_send_events puts what it did not deliver back on rdllist: this socket (if it
        // is still on the list, or holds unread skbs off it) and the rest of the batch.
        let rest = next;
        if (!off) rest = sk;
        else if (head !== -1) sock_ready_relink(c, t, sk);
        task_ready_prepend(c, t, rest);
        break;
      }
      sk = next;
    }
  }
  Atomics.store(i32, ti + TASK.on_cpu, 0);
  c.f64[shm.taskF[t] + TASK.recvmsg_calls] += 1;
  c.f64[shm.taskF[t] + TASK.packets] += packets;
  return packets;
}

/**
 * udp_rmem_release (5.10), at the reader's dequeue of a UDP skb with `deficit` bytes to give
 * back: sk_rmem_alloc lowered by all of them (the caller clears its forward_deficit), and
 * under the receive queue's lock its skbs moved to the tail of the reader queue (`next`: the
 * reader queue's head after the dequeue, -1 when empty). Returns the reader queue's head. The
 * socket stays where it is on the ready list: a delivery after this finds it linked, or links
 * it, as before.
 */
function udp_rmem_release(c: KCpu, b: number, deficit: number, next: number): number {
  const SOCK = c.SOCK;
  const i32 = c.i32;
  spin_lock(i32, b + SOCK.lock);
  Atomics.sub(i32, b + SOCK.rmem_alloc, deficit);
  const head = i32[b + SOCK.rx_head];
  let reader = next;
  if (head !== -1) {
    if (next === -1) reader = head;
    else c.skb_next[i32[b + SOCK.reader_tail]] = head;
    i32[b + SOCK.reader_tail] = i32[b + SOCK.rx_tail];
    i32[b + SOCK.rx_head] = -1;
    i32[b + SOCK.rx_tail] = -1;
    i32[b + SOCK.rx_qlen] = 0;
  }
  spin_unlock(i32, b + SOCK.lock);
  return reader;
}

/**
 * sock_rps_record_flow (from inet_recvmsg): any socket in TCP_ESTABLISHED, which TCP's are
 * and a connect()ed UDP socket is (--udp-sockets connected); an unconnected UDP socket never
 * steers RFS. Keyed by sk_rxhash: rps_sock_flow_table[hash & mask] = (hash & ~rps_cpu_mask) | CPU.
 */
export function sock_rps_record_flow(c: KCpu, sk: number): void {
  const layout = c.layout;
  const i32 = c.i32;
  const size = i32[c.ctlI + layout.CTL.rps_sock_flow_size];
  if (size === 0) return;
  const b = c.skI + sk * c.skStrideI;
  if (!c.udp_connected && i32[b + c.SOCK.proto] !== IPPROTO_TCP) return;
  const hash = i32[b + c.SOCK.rxhash];
  if (hash === 0) return;
  const at = layout.rpsSockFlowBase / 4 + (hash & (size - 1));
  const val = (hash & ~c.rps_cpu_mask) | c.cpu;
  if (i32[at] !== val) i32[at] = val;
}
