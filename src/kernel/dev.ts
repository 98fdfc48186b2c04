// net/core/dev.c: the receive path between the driver and the protocols, Linux 5.10.
//
//   net_rx_action → napi_poll → n->poll (driver poll, or process_backlog)
//   driver poll → napi_gro_receive (gro.ts) → netif_receive_skb_list_internal
//     → get_rps_cpu → enqueue_to_backlog (RPS/RFS)     or → __netif_receive_skb
//   netif_rx (non-NAPI drivers) → enqueue_to_backlog
//   process_backlog → __netif_receive_skb → ip_rcv (ip.ts)
//
// Names are the kernel's so this file reads beside net/core/dev.c. Every function runs on the
// CPU `c` stands for; "irqs off" in a comment means the emulated CPU takes no interrupt there
// (it only takes them at env.irq_window()).

import type { KCpu } from './percpu.js';
import { NET_RX_SOFTIRQ } from './percpu.js';
import {
  LIST_LOCAL,
  LIST_POLL,
  LIST_REPOLL,
  NAPI_STATE_IN_BUSY_POLL,
  NAPI_STATE_MISSED,
  NAPI_STATE_SCHED,
  ____napi_schedule,
  list_add_tail,
  list_empty,
  list_pop,
  list_splice_tail_init,
  napi_poll_fn,
  napi_register_poll,
  POLL_BACKLOG,
} from './napi.js';
import { gro_normal_list, napi_gro_flush, napi_gro_held } from './gro.js';
import { napi_timer_start } from './napi_timer.js';
import { ip_rcv, ipv6_rcv } from './ip.js';
import { packet_rcv_tap } from './af_packet.js';
import { sock_account_flow_limit_drop } from './sock.js';
import { kfree_skb } from './skbuff.js';
import { do_xdp_generic } from './xdp.js';
import { skb_get_hash } from './flow.js';
import { reciprocal_scale } from './hash/flow_dissector.js';
import { spin_lock, spin_lock_sleeps, spin_unlock } from '../shm/spinlock.js';
import { assertion_failed } from '../shm/assert.js';
import { FLOW_LIMIT_HISTORY } from '../shm/layout.js';
import { ETH_P_IP, ETH_P_IPV6 } from '../uapi/inet.js';
import type { Shm } from '../shm/memory.js';

export const NET_RX_SUCCESS = 0;
export const NET_RX_DROP = 1;
export const RPS_NO_CPU = 0xffff;

// ---------------------------------------------------------------------------------------------
// softirq handler

/**
 * net_rx_action: the NET_RX_SOFTIRQ handler. Softirq context, on this CPU.
 * Budget netdev_budget, time limit netdev_budget_usecs counted in jiffies as the kernel does.
 */
export function net_rx_action(c: KCpu): void {
  const SD = c.SD;
  const time_limit = c.jiffies() + usecs_to_jiffies(c, c.i32[c.ctlI + c.layout.CTL.netdev_budget_usecs]);
  let budget = c.i32[c.ctlI + c.layout.CTL.netdev_budget];
  c.count(SD.net_rx_softirqs);

  // irqs off: take the poll list private
  list_splice_tail_init(c, LIST_POLL, LIST_LOCAL);
  for (;;) {
    if (list_empty(c, LIST_LOCAL)) {
      if (!sd_has_rps_ipi_waiting(c) && list_empty(c, LIST_REPOLL)) return;
      break;
    }
    const n = c.lists[LIST_LOCAL];
    budget -= napi_poll(c, n);
    // An interrupt window between polls: new napis land on sd->poll_list, not on ours.
    c.env.irq_window();
    if (budget <= 0 || c.jiffies() - time_limit >= 0) {
      c.count(SD.time_squeeze);
      break;
    }
  }
  // irqs off: what is left, then what must be polled again, goes back on sd->poll_list
  // after whatever hardirqs queued meanwhile.
  list_splice_tail_init(c, LIST_POLL, LIST_LOCAL);
  list_splice_tail_init(c, LIST_REPOLL, LIST_LOCAL);
  list_splice_tail_init(c, LIST_LOCAL, LIST_POLL);
  if (!list_empty(c, LIST_POLL)) c.softirq_pending |= NET_RX_SOFTIRQ;
  net_rps_action_and_irq_enable(c);
}

function usecs_to_jiffies(c: KCpu, usecs: number): number {
  return Math.ceil((usecs * c.cfg.hz) / 1e6);
}

/**
 * napi_poll: poll one napi taken off the head of net_rx_action's list. If it used its whole
 * weight it stays scheduled: GRO packets older than a jiffy are flushed (all of them when
 * HZ < 1000), the rx_list is handed up, and it goes on the repoll list.
 */
function napi_poll(c: KCpu, n: number): number {
  list_pop(c, LIST_LOCAL);
  const ni = c.napiI(n);
  const weight = c.i32[ni + c.NAPI.weight];
  let work = 0;
  if (Atomics.load(c.i32, ni + c.NAPI.state) & NAPI_STATE_SCHED) {
    work = napi_poll_fn(c.i32[ni + c.NAPI.poll_fn])(c, n, weight);
    c.f64[c.shm.napiF[n] + c.NAPI.polls] += 1;
  }
  if (work > weight) throw new Error(`napi ${n}: poll returned ${work} > weight ${weight}`);
  if (work < weight) return work;
  // The driver used its whole weight: we still own the napi and may requeue it.
  napi_gro_flush(c, n, c.cfg.hz >= 1000);
  gro_normal_list(c, n);
  list_add_tail(c, LIST_REPOLL, n);
  return work;
}

/**
 * napi_complete_done: the driver is done with this napi (work < budget). Flush GRO, hand
 * rx_list up, clear SCHED unless MISSED was set meanwhile, in which case it is rescheduled.
 * Returns false when the napi stays scheduled (the driver must not re-enable its interrupt),
 * or, as 5.10, while napi_defer_hard_irqs defers the interrupt to gro_flush_timeout's timer:
 * work done reloads the deferral count and, with GRO packets held, arms the timer; each
 * completion with the count above zero spends one and keeps the interrupt off.
 */
export function napi_complete_done(c: KCpu, n: number, work_done: number): boolean {
  const ni = c.napiI(n);
  // A busy poller owns the napi (NAPIF_STATE_IN_BUSY_POLL): it will call us later (busy_poll_stop).
  if (c.busy_poll && (Atomics.load(c.i32, ni + c.NAPI.state) & NAPI_STATE_IN_BUSY_POLL) !== 0) return false;
  const flush_timeout = c.i32[c.ctlI + c.layout.CTL.gro_flush_timeout];
  let timeout = 0;
  let ret = true;
  if (work_done !== 0) {
    if (napi_gro_held(c, n)) timeout = flush_timeout; // n->gro_bitmask
    c.i32[ni + c.NAPI.defer_hard_irqs_count] = c.i32[c.ctlI + c.layout.CTL.napi_defer_hard_irqs];
  }
  if (c.i32[ni + c.NAPI.defer_hard_irqs_count] > 0) {
    c.i32[ni + c.NAPI.defer_hard_irqs_count] -= 1;
    timeout = flush_timeout;
    if (timeout !== 0) ret = false;
  }
  // With a timeout, keep what GRO held during this jiffy: the timer's poll flushes it.
  napi_gro_flush(c, n, timeout !== 0);
  gro_normal_list(c, n);
  const at = c.napiI(n) + c.NAPI.state;
  let val = Atomics.load(c.i32, at);
  for (;;) {
    let next = val & ~(NAPI_STATE_MISSED | NAPI_STATE_SCHED);
    // If MISSED was set, keep SCHED: we reschedule below.
    if (val & NAPI_STATE_MISSED) next |= NAPI_STATE_SCHED;
    const seen = Atomics.compareExchange(c.i32, at, val, next);
    if (seen === val) break;
    val = seen;
  }
  if (val & NAPI_STATE_MISSED) {
    ____napi_schedule(c, n);
    return false;
  }
  if (timeout !== 0) napi_timer_start(c, n, timeout);
  return ret;
}

// ---------------------------------------------------------------------------------------------
// Handing packets up

/**
 * netif_receive_skb_list_internal: for a list of skbs linked by skb_next (napi->rx_list),
 * steer each with RPS when it is configured, and deliver the rest here, in order.
 */
export function netif_receive_skb_list_internal(c: KCpu, head: number): void {
  if (rps_needed(c)) {
    // Steer what RPS steers; keep the rest on the list, in order, for the pass below.
    let keep_head = -1;
    let keep_tail = -1;
    let skb = head;
    while (skb !== -1) {
      const next = c.skb_next[skb];
      c.skb_next[skb] = -1;
      const cpu = get_rps_cpu(c, skb);
      if (cpu >= 0) {
        enqueue_to_backlog(c, skb, cpu);
      } else {
        if (keep_tail === -1) keep_head = skb;
        else c.skb_next[keep_tail] = skb;
        keep_tail = skb;
      }
      skb = next;
    }
    head = keep_head;
  }
  // __netif_receive_skb_list
  let skb = head;
  while (skb !== -1) {
    const next = c.skb_next[skb];
    c.skb_next[skb] = -1;
    __netif_receive_skb(c, skb);
    skb = next;
  }
}

/**
 * __netif_receive_skb → __netif_receive_skb_core: count, hand a clone to each ptype_all
 * handler (--tap's packet socket: deliver_skb), then to the protocol (ptype_base).
 */
export function __netif_receive_skb(c: KCpu, skb: number): void {
  c.count(c.SD.processed);
  if (c.xdp_generic && !do_xdp_generic(c, skb)) return; // generic XDP, before the taps (kernel/xdp.ts)
  if (c.tap) packet_rcv_tap(c, skb);
  const type = c.skb_protocol[skb];
  if (type === ETH_P_IP) {
    ip_rcv(c, skb);
    return;
  }
  if (type === ETH_P_IPV6) {
    ipv6_rcv(c, skb);
    return;
  }
  c.count(c.SD.drop_not_ip, c.skb_segs[skb]);
  kfree_skb(c, skb);
}

// ---------------------------------------------------------------------------------------------
// RPS / RFS

/** static_branch(rps_needed): some RX queue has an RPS map or an RFS flow table. */
export function rps_needed(c: KCpu): boolean {
  return c.i32[c.ctlI + c.layout.CTL.rps_needed] !== 0;
}

/**
 * get_rps_cpu: the CPU whose backlog this skb goes to, or -1 to process it here.
 * Sets c.rflow to &rflow->last_qtail of the rps_dev_flow entry used (enqueue_to_backlog
 * saves the queue tail there).
 * Follows 5.10: no short-cut for a one-CPU map.
 */
export function get_rps_cpu(c: KCpu, skb: number): number {
  const shm = c.shm;
  const layout = shm.layout;
  const q = c.skb_queue[skb];
  c.rflow = -1;
  const flowSize = Atomics.load(c.i32, layout.rpsFlowSizeBase / 4 + q);
  const mapBase = rps_map(c, q);
  const mapLen = c.i32[mapBase + RPS_MAP_LEN];
  if (flowSize === 0 && mapLen === 0) return -1;
  const hash = skb_get_hash(c, skb);
  if (hash === 0) return -1;

  const sockSize = Atomics.load(c.i32, c.ctlI + layout.CTL.rps_sock_flow_size);
  if (flowSize !== 0 && sockSize !== 0) {
    const ident = c.i32[layout.rpsSockFlowBase / 4 + (hash & (sockSize - 1))];
    if (((ident ^ hash) & ~c.rps_cpu_mask) === 0) {
      const next_cpu = ident & c.rps_cpu_mask;
      // rflow = &flow_table->flows[hash & flow_table->mask]
      const rflow = rps_dev_flow(layout.rpsDevFlowBase[q] / 4, hash & (flowSize - 1));
      const last_qtail = rflow_last_qtail(rflow, flowSize);
      let tcpu = c.i32[rflow + RFLOW_CPU];
      // Switch to the CPU of the last recvmsg only when every packet this table entry sent
      // to the old CPU has left that CPU's backlog: in-order delivery.
      if (
        tcpu !== next_cpu &&
        (tcpu >= c.cfg.cpus ||
          c.cfg.unsafe_rfs_no_qtail_check ||
          ((c.i32[shm.sd[tcpu] + c.SD.input_queue_head] - c.i32[last_qtail]) | 0) >= 0)
      ) {
        tcpu = next_cpu;
        set_rps_cpu(c, rflow, last_qtail, next_cpu);
      }
      if (tcpu < c.cfg.cpus) {
        c.rflow = last_qtail;
        return tcpu;
      }
    }
  }
  if (mapLen !== 0) return c.i32[mapBase + RPS_MAP_CPUS + reciprocal_scale(hash, mapLen)];
  return -1;
}

// struct rps_dev_flow_table, as layout.ts lays it out (rpsDevFlowBase): every entry's cpu,
// then every entry's last_qtail (two i32 arrays of the table's size). An rflow is the i32
// index of its entry's cpu.

/** rflow->cpu: the field's offset from the rflow index. */
const RFLOW_CPU = 0;

/** &table->flows[i]: the rflow of entry i of the table at i32 index `table`. */
function rps_dev_flow(table: number, i: number): number {
  return table + i;
}

/** &rflow->last_qtail: its i32 index, the table holding `size` entries. */
function rflow_last_qtail(rflow: number, size: number): number {
  return rflow + size;
}

/** set_rps_cpu (no accelerated RFS): point the flow at next_cpu from its current queue head. */
function set_rps_cpu(c: KCpu, rflow: number, last_qtail: number, next_cpu: number): void {
  if (next_cpu < c.cfg.cpus) {
    c.i32[last_qtail] = c.i32[c.shm.sd[next_cpu] + c.SD.input_queue_head];
    c.count(c.SD.rfs_flow_moves);
  }
  c.i32[rflow + RFLOW_CPU] = next_cpu;
}

/** struct rps_map: map->len, then map->cpus[len] (i32 offsets). */
const RPS_MAP_LEN = 0;
const RPS_MAP_CPUS = 1;

/** rcu_dereference(rxqueue->rps_map): i32 index of the active map {len, cpus[]}. */
export function rps_map(c: KCpu, q: number): number {
  const layout = c.shm.layout;
  const active = Atomics.load(c.i32, layout.rpsActiveBase / 4 + q);
  return layout.rpsMapBase / 4 + (q * 2 + active) * layout.rpsMapStride;
}

/**
 * enqueue_to_backlog: queue skb on `cpu`'s input_pkt_queue under its rps_lock, scheduling its
 * backlog napi if the queue was empty (by IPI when remote). Drops past netdev_max_backlog and
 * by skb_flow_limit, counted in the target's softnet `dropped`.
 */
export function enqueue_to_backlog(c: KCpu, skb: number, cpu: number): number {
  const shm = c.shm;
  const SD = c.SD;
  const sd = shm.sd[cpu];
  const tF = shm.sdF[cpu];
  const i32 = c.i32;
  const f64 = c.f64;
  const lock = sd + SD.rps_lock;
  rps_lock(c, cpu);
  const qlen = i32[sd + SD.input_pkt_qlen];
  let drop_reason = 0;
  if (qlen > i32[c.ctlI + c.layout.CTL.netdev_max_backlog]) drop_reason = SD.drop_backlog;
  else if (skb_flow_limit(c, skb, qlen)) drop_reason = SD.drop_flow_limit;
  if (drop_reason !== 0) {
    f64[tF + SD.dropped] += 1;
    spin_unlock(i32, lock);
    c.count(drop_reason, c.skb_segs[skb]);
    if (drop_reason === SD.drop_flow_limit) sock_account_flow_limit_drop(c, skb);
    kfree_skb(c, skb);
    return NET_RX_DROP;
  }
  if (qlen === 0) {
    // Schedule NAPI for the backlog device. A plain test-and-set would do (we own the queue
    // lock); Atomics because process_backlog clears it under the same lock from its CPU.
    const st = shm.napiI[cpu] + c.NAPI.state;
    if ((Atomics.or(i32, st, NAPI_STATE_SCHED) & NAPI_STATE_SCHED) === 0) {
      if (!rps_ipi_queued(c, cpu)) ____napi_schedule(c, cpu);
    }
  }
  // __skb_queue_tail(&sd->input_pkt_queue, skb)
  c.skb_next[skb] = -1;
  const tail = i32[sd + SD.input_pkt_tail];
  if ((tail === -1) !== (qlen === 0)) backlog_qlen_mismatch(c, cpu, 'enqueue_to_backlog', qlen, tail);
  if (c.debug_asserts) backlog_debug_enqueue(c, cpu, skb, tail);
  if (tail === -1) i32[sd + SD.input_pkt_head] = skb;
  else c.skb_next[tail] = skb;
  i32[sd + SD.input_pkt_tail] = skb;
  i32[sd + SD.input_pkt_qlen] = qlen + 1;
  // input_queue_tail_incr_save(sd, qtail)
  const qtail = (i32[sd + SD.input_queue_tail] + 1) | 0;
  i32[sd + SD.input_queue_tail] = qtail;
  if (c.rflow >= 0) i32[c.rflow] = qtail;
  spin_unlock(i32, lock);
  c.count(cpu === c.cpu ? SD.enqueue_local : SD.enqueue_remote);
  return NET_RX_SUCCESS;
}

/**
 * rps_lock(sd): take CPU `cpu`'s backlog lock and count the acquisition, its spins and any
 * sleeps, under the lock (the counters share its cache line and need no atomics).
 */
function rps_lock(c: KCpu, cpu: number): void {
  const SD = c.SD;
  const spins = spin_lock(c.i32, c.shm.sd[cpu] + SD.rps_lock);
  const tF = c.shm.sdF[cpu];
  c.f64[tF + SD.rps_lock_acquisitions] += 1;
  if (spins !== 0) {
    c.f64[tF + SD.rps_lock_spins] += spins;
    c.f64[tF + SD.rps_lock_sleeps] += spin_lock_sleeps;
  }
}

// struct sd_flow_limit as layout.ts lays it out (flowLimitBase), i32 offsets: history_head,
// a count, history[FLOW_LIMIT_HISTORY], then buckets[flow_limit_table_len].
const FL_HISTORY_HEAD = 0;
const FL_HISTORY = 2;
const FL_BUCKETS = FL_HISTORY + FLOW_LIMIT_HISTORY;

/**
 * skb_flow_limit: once the target backlog is half full, drop packets of a flow that holds
 * more than half of *this* CPU's last FLOW_LIMIT_HISTORY enqueues. Called under the target's
 * rps_lock; the table is this CPU's own.
 */
function skb_flow_limit(c: KCpu, skb: number, qlen: number): boolean {
  if (qlen < c.i32[c.ctlI + c.layout.CTL.netdev_max_backlog] >> 1) return false;
  const fl = c.flow_limit;
  if (fl < 0) return false;
  const i32 = c.i32;
  const buckets = fl + FL_BUCKETS;
  const new_flow = skb_get_hash(c, skb) & c.flow_limit_mask;
  const head = i32[fl + FL_HISTORY_HEAD];
  const old_flow = i32[fl + FL_HISTORY + head];
  i32[fl + FL_HISTORY + head] = new_flow;
  i32[fl + FL_HISTORY_HEAD] = (head + 1) & (FLOW_LIMIT_HISTORY - 1);
  if (i32[buckets + old_flow] > 0) i32[buckets + old_flow] -= 1;
  i32[buckets + new_flow] += 1;
  if (i32[buckets + new_flow] > FLOW_LIMIT_HISTORY >> 1) {
    c.count(c.SD.flow_limit_count);
    return true;
  }
  return false;
}

/**
 * rps_ipi_queued: if the target is remote, queue its sd on this CPU's rps_ipi_list (the IPI
 * goes out at the end of net_rx_action) and raise NET_RX here. The target's rps_ipi_next is
 * ours to write: we won its backlog's SCHED bit.
 */
function rps_ipi_queued(c: KCpu, cpu: number): boolean {
  if (cpu === c.cpu) return false;
  const SD = c.SD;
  c.i32[c.shm.sd[cpu] + SD.rps_ipi_next] = c.i32[c.sd + SD.rps_ipi_list];
  c.i32[c.sd + SD.rps_ipi_list] = cpu;
  c.softirq_pending |= NET_RX_SOFTIRQ;
  return true;
}

function sd_has_rps_ipi_waiting(c: KCpu): boolean {
  return c.i32[c.sd + c.SD.rps_ipi_list] !== -1;
}

/** net_rps_action_and_irq_enable: send the IPIs queued on this CPU's rps_ipi_list. */
export function net_rps_action_and_irq_enable(c: KCpu): void {
  const SD = c.SD;
  let remsd = c.i32[c.sd + SD.rps_ipi_list];
  if (remsd === -1) return;
  c.i32[c.sd + SD.rps_ipi_list] = -1;
  while (remsd !== -1) {
    const next = c.i32[c.shm.sd[remsd] + SD.rps_ipi_next];
    c.count(SD.ipis_sent);
    c.env.send_ipi(remsd);
    remsd = next;
  }
}

/** rps_trigger_softirq: the IPI handler on the target. Hardirq context. */
export function rps_trigger_softirq(c: KCpu): void {
  c.count(c.SD.ipis_received); // ours: the IPIs this CPU took (the csd's handler ran)
  ____napi_schedule(c, c.cpu);
  c.count(c.SD.received_rps);
}

/**
 * process_backlog: the backlog napi's poll (weight dev_rx_weight: dev_weight × dev_weight_rx_bias). Delivers from process_queue;
 * when it runs dry, splices input_pkt_queue onto it under rps_lock, or, if that is empty
 * too, clears the napi state (a plain write in the kernel: only this CPU owns it now).
 */
function process_backlog(c: KCpu, n: number, quota: number): number {
  const SD = c.SD;
  const i32 = c.i32;
  const sd = c.sd;
  let work = 0;
  if (sd_has_rps_ipi_waiting(c)) net_rps_action_and_irq_enable(c);
  i32[c.napiI(n) + c.NAPI.weight] = i32[c.ctlI + c.layout.CTL.dev_rx_weight]; // napi->weight = dev_rx_weight
  for (;;) {
    let skb: number;
    while ((skb = i32[sd + SD.process_head]) !== -1) {
      const next = c.skb_next[skb];
      i32[sd + SD.process_head] = next;
      if (next === -1) i32[sd + SD.process_tail] = -1;
      i32[sd + SD.process_qlen] -= 1;
      c.skb_next[skb] = -1;
      __netif_receive_skb(c, skb);
      // input_queue_head_incr (5.10: per packet). Read by other CPUs in get_rps_cpu.
      i32[sd + SD.input_queue_head] = (i32[sd + SD.input_queue_head] + 1) | 0;
      if (++work >= quota) return work;
      if ((work & 31) === 0) c.env.irq_window();
    }
    if (i32[sd + SD.process_qlen] !== 0) backlog_qlen_mismatch(c, c.cpu, "process_backlog's process_queue", i32[sd + SD.process_qlen], -1);
    const lock = sd + SD.rps_lock;
    rps_lock(c, c.cpu);
    const head = i32[sd + SD.input_pkt_head];
    const qlen = i32[sd + SD.input_pkt_qlen];
    if ((head === -1) !== (qlen === 0)) backlog_qlen_mismatch(c, c.cpu, 'process_backlog', qlen, head);
    if (c.debug_asserts) backlog_debug_splice(c, head, qlen);
    if (head === -1) {
      Atomics.store(i32, c.napiI(n) + c.NAPI.state, 0);
      spin_unlock(i32, lock);
      return work;
    }
    // skb_queue_splice_tail_init(&sd->input_pkt_queue, &sd->process_queue)
    const ptail = i32[sd + SD.process_tail];
    if (ptail === -1) i32[sd + SD.process_head] = head;
    else c.skb_next[ptail] = head;
    i32[sd + SD.process_tail] = i32[sd + SD.input_pkt_tail];
    i32[sd + SD.process_qlen] += qlen;
    i32[sd + SD.input_pkt_head] = -1;
    i32[sd + SD.input_pkt_tail] = -1;
    i32[sd + SD.input_pkt_qlen] = 0;
    spin_unlock(i32, lock);
  }
}

napi_register_poll(POLL_BACKLOG, process_backlog);

/**
 * A backlog's list and its counter disagree (always on, under rps_lock: the values are loaded
 * anyway): an empty list with a nonzero qlen, or a list with a zero one. `end` is the list end
 * the caller loaded (-1: empty).
 */
function backlog_qlen_mismatch(c: KCpu, cpu: number, where: string, qlen: number, end: number): never {
  const side = cpu === c.cpu ? `cpu ${cpu}` : `cpu ${c.cpu} enqueueing to cpu ${cpu}`;
  return assertion_failed(
    `backlog of cpu ${cpu}: qlen ${qlen} but the queue is ${end === -1 ? 'empty' : `not (skb ${end})`} in ${where} on ${side}`,
  );
}

/** --debug-asserts, enqueue_to_backlog under the target's rps_lock: the skb and the list's tail. */
function backlog_debug_enqueue(c: KCpu, cpu: number, skb: number, tail: number): void {
  const count = c.shm.layout.skbCount;
  if (skb >>> 0 >= count) assertion_failed(`backlog of cpu ${cpu}: cpu ${c.cpu} enqueues skb ${skb}, not a pool index (0..${count - 1})`);
  if (tail !== -1 && c.skb_next[tail] !== -1) {
    assertion_failed(`backlog of cpu ${cpu}: the tail skb ${tail} links to skb ${c.skb_next[tail]} (enqueue_to_backlog on cpu ${c.cpu})`);
  }
}

/** --debug-asserts, process_backlog under rps_lock: input_pkt_queue holds exactly qlen skbs. */
function backlog_debug_splice(c: KCpu, head: number, qlen: number): void {
  const count = c.shm.layout.skbCount;
  let n = 0;
  let last = -1;
  for (let skb = head; skb !== -1; skb = c.skb_next[skb]) {
    if (skb >>> 0 >= count || n > qlen) {
      assertion_failed(
        `backlog of cpu ${c.cpu}: input_pkt_queue holds more than its qlen ${qlen} (or skb ${skb} not in the pool) at process_backlog`,
      );
    }
    last = skb;
    n++;
  }
  if (n !== qlen) assertion_failed(`backlog of cpu ${c.cpu}: input_pkt_queue holds ${n} skbs but its qlen is ${qlen} at process_backlog`);
  if (last !== c.i32[c.sd + c.SD.input_pkt_tail]) {
    assertion_failed(
      `backlog of cpu ${c.cpu}: input_pkt_queue ends at skb ${last} but its tail is skb ${c.i32[c.sd + c.SD.input_pkt_tail]} at process_backlog`,
    );
  }
}

/**
 * netif_rx: a non-NAPI driver hands a received skb up from its interrupt handler.
 * Hardirq context. Steered by RPS when configured, else queued to this CPU's backlog.
 */
export function netif_rx(c: KCpu, skb: number): number {
  if (rps_needed(c)) {
    const cpu = get_rps_cpu(c, skb);
    if (cpu >= 0) return enqueue_to_backlog(c, skb, cpu);
  }
  c.rflow = -1;
  return enqueue_to_backlog(c, skb, c.cpu);
}

/**
 * net_dev_init's per-CPU part (start-up): every softnet_data's queues empty, and its backlog
 * napi (napi `cpu`) set up to run process_backlog with dev_rx_weight.
 */
export function net_dev_init(shm: Shm): void {
  const cfg = shm.cfg;
  const layout = shm.layout;
  for (let cpu = 0; cpu < cfg.cpus; cpu++) {
    const sd = shm.sd[cpu];
    for (const f of [
      layout.SD.input_pkt_head,
      layout.SD.input_pkt_tail,
      layout.SD.process_head,
      layout.SD.process_tail,
      layout.SD.rps_ipi_list,
      layout.SD.rps_ipi_next,
    ]) {
      shm.i32[sd + f] = -1;
    }
    // sd->backlog: the backlog napi of CPU `cpu` is napi `cpu`.
    const n = shm.napiI[cpu];
    shm.i32[n + layout.NAPI.weight] = cfg.dev_weight * cfg.dev_weight_rx_bias; // dev_rx_weight
    shm.i32[n + layout.NAPI.poll_fn] = POLL_BACKLOG;
    shm.i32[n + layout.NAPI.queue] = -1;
    shm.i32[n + layout.NAPI.cpu] = cpu;
  }
}
