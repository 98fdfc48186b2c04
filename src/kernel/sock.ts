// Sockets: the established-socket hash table (inet_hashtables.c), delivery to a bounded
// receive queue with the per-flow order check (sock_queue_rcv_skb), recvmsg by application
// tasks, and RFS's record of where the application runs (sock_rps_record_flow).
//
// A socket's receive queue is a list of skbs under the socket's spinlock (the kernel's
// sk_receive_queue.lock); its bound is sk_rcvbuf bytes of truesize, and overflow is a
// counted drop (sk_drops). When a socket goes from empty to non-empty it is linked on its
// task's ready list (sk_data_ready → wake_up), and the task's CPU gets a reschedule IPI.
// Lock order: socket, then task.

import { LATENCY_BATCH, type KCpu } from './percpu.js';
import type { Shm } from '../shm/memory.js';
import { spin_lock, spin_unlock } from '../shm/spinlock.js';
import { jhash_3words } from './hash/jhash.js';
import { kfree_skb } from './skbuff.js';
import { ETH_P_IP, frame_payload_index, get32i, IPPROTO_TCP } from './inet.js';
import { SKB_FLAG_TSTAMP, skbTruesize } from '../shm/layout.js';

// inet_ehash_secret: the kernel draws it at boot; any fixed value serves a hash table.
const INET_EHASH_SECRET = 0x5bd1e995;

/** The sockets' identities, one entry per flow, as parallel arrays (a million flows are no objects). */
export interface SockIdents {
  count: number;
  saddr: ArrayLike<number>;
  daddr: ArrayLike<number>;
  sport: ArrayLike<number>;
  dport: ArrayLike<number>;
  proto: ArrayLike<number>;
}

function inet_ehashfn(daddr: number, saddr: number, ports: number): number {
  // __inet_ehashfn(laddr, lport, faddr, fport): the local side is the receiver (daddr, dport).
  return jhash_3words(daddr, saddr, ((ports & 0xffff) << 16) | (ports >>> 16), INET_EHASH_SECRET) | 0;
}

/**
 * Create one socket per flow (start-up): identity, the task that reads it (`task_of[s]`),
 * empty queue, hash table entry.
 */
export function sock_table_init(shm: Shm, flows: SockIdents, task_of: ArrayLike<number>): void {
  const S = shm.layout.sk;
  const mask = shm.layout.skHashSize - 1;
  const i32 = shm.i32;
  shm.skHash.fill(-1);
  for (let s = 0; s < flows.count; s++) {
    const ports = (flows.sport[s]! << 16) | flows.dport[s]! | 0;
    const b = shm.skIdx(s, 0);
    i32[b + S.saddr] = flows.saddr[s]! | 0;
    i32[b + S.daddr] = flows.daddr[s]! | 0;
    i32[b + S.ports] = ports;
    i32[b + S.proto] = flows.proto[s]!;
    i32[b + S.task] = task_of[s]!;
    i32[b + S.flow] = s;
    i32[b + S.rx_head] = -1;
    i32[b + S.rx_tail] = -1;
    i32[b + S.ready_next] = -1;
    i32[b + S.last_cpu] = -1;
    const h = inet_ehashfn(flows.daddr[s]! | 0, flows.saddr[s]! | 0, ports) & mask;
    i32[b + S.hash_next] = shm.skHash[h]!;
    shm.skHash[h] = s;
  }
  for (let t = 0; t < shm.layout.taskCount; t++) {
    shm.i32[shm.taskI[t]! + shm.layout.task.ready_head] = -1;
    shm.i32[shm.taskI[t]! + shm.layout.task.ready_tail] = -1;
  }
}

/** __inet_lookup_established by the real 4-tuple and protocol; -1 when no socket matches. */
export function __inet_lookup(c: KCpu, saddr: number, daddr: number, ports: number, proto: number): number {
  const shm = c.shm;
  const S = c.sk;
  const i32 = c.i32;
  let s = shm.skHash[inet_ehashfn(daddr, saddr, ports) & (c.L.skHashSize - 1)]!;
  while (s !== -1) {
    const b = c.skI + s * c.skStrideI;
    if (i32[b + S.saddr] === saddr && i32[b + S.daddr] === daddr && i32[b + S.ports] === ports && i32[b + S.proto] === proto) {
      return s;
    }
    s = i32[b + S.hash_next]!;
  }
  return -1;
}

/**
 * sock_queue_rcv_skb (+ sock_rps_save_rxhash): check each segment's per-flow index against
 * the last one delivered (ordering), charge truesize against sk_rcvbuf, queue, wake the task.
 * Softirq context, on whichever CPU processes the packet.
 */
export function sock_queue_rcv_skb(c: KCpu, sk: number, skb: number): void {
  const S = c.sk;
  const i32 = c.i32;
  const b = c.skI + sk * c.skStrideI;
  const bf = c.skF + sk * c.skStrideF;
  const segs = c.skb_segs[skb]!;
  const truesize = skb_rmem_truesize(c, skb);

  spin_lock(i32, b + S.lock);
  if (i32[b + S.rmem_alloc]! + truesize > c.cfg.sk_rcvbuf) {
    c.f64[bf + S.drops]! += segs;
    spin_unlock(i32, b + S.lock);
    c.count(c.sd.drop_socket, segs);
    kfree_skb(c, skb);
    return;
  }
  sock_check_order(c, sk, b, bf, skb);
  c.skb_next[skb] = -1;
  const tail = i32[b + S.rx_tail]!;
  if (tail === -1) i32[b + S.rx_head] = skb;
  else c.skb_next[tail] = skb;
  i32[b + S.rx_tail] = skb;
  i32[b + S.rx_qlen]! += 1;
  i32[b + S.rmem_alloc]! += truesize;
  c.f64[bf + S.delivered]! += segs;
  if (i32[b + S.proto] === IPPROTO_TCP) i32[b + S.rxhash] = c.skb_hash[skb]!; // sock_rps_save_rxhash
  if (i32[b + S.last_cpu] !== c.cpu) {
    if (i32[b + S.last_cpu] !== -1) i32[b + S.cpu_moves]! += 1;
    i32[b + S.last_cpu] = c.cpu;
  }
  let wake = -1;
  if (i32[b + S.on_ready] === 0) {
    i32[b + S.on_ready] = 1;
    wake = task_ready_add(c, i32[b + S.task]!, sk);
  }
  spin_unlock(i32, b + S.lock);
  c.count(c.sd.delivered, segs);
  if (wake >= 0 && wake !== c.cpu) c.env.wake_cpu(wake);
}

/**
 * The order check, per segment, under the socket lock: a segment whose per-flow index is not
 * past the last one delivered is out of order. Gaps are drops upstream, not disorder.
 * Also records the sampled DMA→socket latency.
 */
function sock_check_order(c: KCpu, sk: number, b: number, bf: number, skb: number): void {
  const S = c.sk;
  const i32 = c.i32;
  for (let seg = skb; seg !== -1; seg = c.skb_frag_next[seg]!) {
    const index = frame_payload_index(c.u8, c.skb_data(seg)) | 0;
    const expected = i32[b + S.next_index]!;
    if (((index - expected) | 0) < 0) {
      c.f64[bf + S.out_of_order]! += 1;
      record_first_ooo(c, sk, expected, index);
    } else {
      i32[b + S.next_index] = (index + 1) | 0;
    }
    // Only sampled frames carry a timestamp: others never touch skb_tstamp's cache lines.
    if (c.skb_flags[seg]! & SKB_FLAG_TSTAMP) {
      c.lat_buf[c.lat_n++] = c.env.now_ns() - c.skb_tstamp[seg]!;
      if (c.lat_n === LATENCY_BATCH) c.flush_latency();
    }
  }
}

function record_first_ooo(c: KCpu, sk: number, expected: number, got: number): void {
  const shm = c.shm;
  const C = shm.layout.ctl;
  const base = shm.ctlI;
  if (Atomics.load(c.i32, base + C.ooo_set) !== 0) return;
  spin_lock(c.i32, base + C.ooo_lock);
  if (c.i32[base + C.ooo_set] === 0) {
    c.i32[base + C.ooo_flow] = c.i32[shm.skIdx(sk, shm.layout.sk.flow)]!;
    c.i32[base + C.ooo_expected] = expected;
    c.i32[base + C.ooo_got] = got;
    c.i32[base + C.ooo_cpu] = c.cpu;
    Atomics.store(c.i32, base + C.ooo_set, 1);
  }
  spin_unlock(c.i32, base + C.ooo_lock);
}

/** Link socket sk on task t's ready list. Returns the task's CPU if the list was empty, else -1. */
function task_ready_add(c: KCpu, t: number, sk: number): number {
  const T = c.task;
  const i32 = c.i32;
  const ti = c.shm.taskI[t]!;
  spin_lock(i32, ti + T.lock);
  i32[c.skI + sk * c.skStrideI + c.sk.ready_next] = -1;
  const tail = i32[ti + T.ready_tail]!;
  if (tail === -1) i32[ti + T.ready_head] = sk;
  else i32[c.skI + tail * c.skStrideI + c.sk.ready_next] = sk;
  i32[ti + T.ready_tail] = sk;
  const cpu = tail === -1 ? Atomics.load(i32, ti + T.cpu) : -1;
  spin_unlock(i32, ti + T.lock);
  return cpu;
}

/**
 * Beyond Linux: charge a flow-limit drop to the socket of its flow (found by the same real
 * lookup ip_rcv does), so a run shows which flows flow limit hit. Drop path only.
 */
export function sock_account_flow_limit_drop(c: KCpu, skb: number): void {
  const u8 = c.u8;
  const ip = c.skb_data(skb) + c.skb_nh[skb]!;
  if (c.skb_protocol[skb] !== ETH_P_IP || u8[ip]! >> 4 !== 4) return;
  const l4 = ip + (u8[ip]! & 15) * 4;
  const sk = __inet_lookup(c, get32i(u8, ip + 12), get32i(u8, ip + 16), get32i(u8, l4), u8[ip + 9]!);
  if (sk < 0) return;
  // Under the socket's lock: flows can reach a socket from two CPUs while they move.
  const lock = c.skI + sk * c.skStrideI + c.sk.lock;
  spin_lock(c.i32, lock);
  c.f64[c.skF + sk * c.skStrideF + c.sk.flow_limit_drops]! += c.skb_segs[skb]!;
  spin_unlock(c.i32, lock);
}

/** Does task t have sockets with data? (a plain read: the scheduler's hint, not a claim) */
export function task_runnable(shm: Shm, t: number): boolean {
  return shm.i32[shm.taskI[t]! + shm.layout.task.ready_head] !== -1;
}

/**
 * Is some task pinned to `cpu` runnable? Atomic loads: a CPU going idle asks this after it
 * published CTX_IDLE, and the tasks' CPUs and ready lists are written from other threads.
 */
export function cpu_task_runnable(shm: Shm, cpu: number): boolean {
  const T = shm.layout.task;
  for (let t = 0; t < shm.layout.taskCount; t++) {
    const ti = shm.taskI[t]!;
    if (Atomics.load(shm.i32, ti + T.cpu) === cpu && Atomics.load(shm.i32, ti + T.ready_head) !== -1) return true;
  }
  return false;
}

/** The truesize an skb (with its GRO segments) charges to sk_rmem_alloc: one rule for charge and uncharge. */
function skb_rmem_truesize(c: KCpu, skb: number): number {
  let truesize = 0;
  for (let seg = skb; seg !== -1; seg = c.skb_frag_next[seg]!) truesize += skbTruesize(c.skb_len[seg]!);
  return truesize;
}

/** Packets recvmsg reads between two interrupt windows (as the driver's 32). */
const RECVMSG_WINDOW = 32;

/**
 * The application's loop of recvmsg calls on task t, from the head of its ready list: one
 * skb at a time (skb_recv_datagram / tcp_recvmsg), sk_rmem_alloc uncharged as each is read,
 * RFS recorded per socket visited (sock_rps_record_flow, from inet_recvmsg), the
 * application's own work per packet (--app-cost-ns). Every RECVMSG_WINDOW packets the task
 * takes interrupts and yields the CPU if need_resched (a preempted task stays runnable).
 * A socket found empty is unlinked from the ready list (the task sleeps on it again).
 * Task context on CPU c. Returns packets read.
 */
export function task_recvmsg(c: KCpu, t: number): number {
  const shm = c.shm;
  const T = c.task;
  const S = c.sk;
  const i32 = c.i32;
  const ti = shm.taskI[t]!;
  const app_cost_ns = c.cfg.app_cost_ns;
  // Still running on the CPU it migrated from: not here until it is switched out there.
  if (Atomics.compareExchange(i32, ti + T.on_cpu, 0, 1) !== 0) return 0;
  let packets = 0;
  let window = RECVMSG_WINDOW;
  for (;;) {
    spin_lock(i32, ti + T.lock);
    const sk = i32[ti + T.ready_head]!;
    spin_unlock(i32, ti + T.lock);
    if (sk === -1) break;
    const b = c.skI + sk * c.skStrideI;
    sock_rps_record_flow(c, sk);
    let preempted = false;
    for (;;) {
      spin_lock(i32, b + S.lock);
      const skb = i32[b + S.rx_head]!;
      if (skb === -1) {
        // Empty: off the ready list (lock order socket, then task); a deliverer relinks it.
        i32[b + S.on_ready] = 0;
        spin_lock(i32, ti + T.lock);
        const next = i32[b + S.ready_next]!;
        i32[ti + T.ready_head] = next;
        if (next === -1) i32[ti + T.ready_tail] = -1;
        spin_unlock(i32, ti + T.lock);
        spin_unlock(i32, b + S.lock);
        break;
      }
      const nx = c.skb_next[skb]!;
      i32[b + S.rx_head] = nx;
      if (nx === -1) i32[b + S.rx_tail] = -1;
      i32[b + S.rx_qlen]! -= 1;
      i32[b + S.rmem_alloc]! -= skb_rmem_truesize(c, skb);
      spin_unlock(i32, b + S.lock);
      const segs = c.skb_segs[skb]!;
      kfree_skb(c, skb);
      packets += segs;
      c.count(c.sd.recvmsg_packets, segs);
      if (app_cost_ns > 0) c.env.burn_ns(app_cost_ns * segs);
      window -= segs;
      if (window <= 0) {
        window = RECVMSG_WINDOW;
        c.env.irq_window();
        if (c.env.need_resched()) {
          preempted = true;
          break;
        }
      }
    }
    if (preempted) break;
  }
  Atomics.store(i32, ti + T.on_cpu, 0);
  c.f64[shm.taskF[t]! + T.recvmsg_calls]! += 1;
  c.f64[shm.taskF[t]! + T.packets]! += packets;
  return packets;
}

/**
 * sock_rps_record_flow: only established TCP sockets (unconnected UDP never steers RFS),
 * keyed by sk_rxhash: rps_sock_flow_table[hash & mask] = (hash & ~rps_cpu_mask) | this CPU.
 */
export function sock_rps_record_flow(c: KCpu, sk: number): void {
  const L = c.L;
  const i32 = c.i32;
  const size = i32[c.ctlI + L.ctl.rps_sock_flow_size]!;
  if (size === 0) return;
  const b = c.skI + sk * c.skStrideI;
  if (i32[b + c.sk.proto] !== IPPROTO_TCP) return;
  const hash = i32[b + c.sk.rxhash]!;
  if (hash === 0) return;
  const at = L.rpsSockFlowBase / 4 + (hash & (size - 1));
  const val = (hash & ~c.rps_cpu_mask) | c.cpu;
  if (i32[at] !== val) i32[at] = val;
}
