// Busy polling (include/net/busy_poll.h, net/core/dev.c's napi_busy_loop, Linux 5.10): a
// reader that finds its socket empty polls the socket's napi itself, from its own CPU, for up
// to sk_ll_usec (net.core.busy_read, or SO_BUSY_POLL), before it sleeps.
//
//   recvmsg (__skb_recv_udp, tcp_recvmsg) → sk_busy_loop → napi_busy_loop(sk->sk_napi_id)
//
// The poller takes the napi (NAPI_STATE_SCHED | NAPI_STATE_IN_BUSY_POLL) when nobody owns it
// and calls the driver's poll with BUSY_POLL_BUDGET; while it owns the napi, the driver's
// napi_complete_done returns false (dev.ts), so the device's interrupt stays masked and the
// hardirqs a packet would cost do not happen; a vector that fires meanwhile only sets MISSED.
// busy_poll_stop hands the napi back with one more poll, whose napi_complete_done re-enables
// the interrupt (with napi_defer_hard_irqs and gro_flush_timeout applied there, as 5.10 does
// for any completion). The time is the task's: it runs in process context.
//
// rxsmp's task reads through a ready list (sock.ts task_recvmsg): it busy-polls the napi of
// the last socket it read when the list runs empty, and stops when a socket is ready again,
// when sk_ll_usec has passed (busy_loop_timeout) or when the CPU is wanted (need_resched: the
// kernel would cond_resched and go on; here the task then sleeps until its next wake-up).

import type { KCpu } from './percpu.js';
import {
  NAPI_STATE_DISABLE,
  NAPI_STATE_IN_BUSY_POLL,
  NAPI_STATE_MISSED,
  NAPI_STATE_SCHED,
  ____napi_schedule,
  napi_poll_fn,
} from './napi.js';
import { gro_normal_list } from './gro.js';
import { task_runnable } from './sock.js';

/** BUSY_POLL_BUDGET (net/core/dev.c): packets per busy poll of the napi. */
export const BUSY_POLL_BUDGET = 8;

/**
 * sk_mark_napi_id: the socket remembers the napi of the skb it received (skb->napi_id, which
 * napi_gro_receive set: the device napi of the skb's queue). netif_rx's skbs (the legacy
 * driver: KCpu.busy_poll is off) and cpumap-built ones carry none.
 */
export function sk_mark_napi_id(c: KCpu, b: number, skb: number): void {
  const id = c.x !== null && c.x.in_kthread ? 0 : c.ncpus + c.skb_queue[skb] + 1;
  if (c.i32[b + c.SOCK.napi_id] !== id) c.i32[b + c.SOCK.napi_id] = id;
}

/**
 * sk_busy_loop from task t's recvmsg on socket sk, which it found empty: busy-poll the
 * socket's napi. True if some socket of the task has data now (the read goes on).
 */
export function sk_busy_loop(c: KCpu, t: number, sk: number): boolean {
  const id = c.i32[c.skI + sk * c.skStrideI + c.SOCK.napi_id];
  if (id === 0) return false; // napi_id_valid: no napi recorded
  return napi_busy_loop(c, id - 1, t);
}

/** napi_busy_loop(napi_id, sk_busy_loop_end, sk): see the file's header. */
function napi_busy_loop(c: KCpu, n: number, t: number): boolean {
  const i32 = c.i32;
  const ni = c.napiI(n);
  const at = ni + c.NAPI.state;
  const poll = napi_poll_fn(i32[ni + c.NAPI.poll_fn]);
  const end = c.env.now_ns() + c.busy_read_us * 1000;
  const SD = c.SD;
  let own = false;
  c.in_busy_poll = true;
  for (;;) {
    if (!own) {
      // Take the napi unless someone has it (softirq on its CPU, another busy poller).
      const val = Atomics.load(i32, at);
      if ((val & (NAPI_STATE_DISABLE | NAPI_STATE_SCHED | NAPI_STATE_IN_BUSY_POLL)) === 0)
        own = Atomics.compareExchange(i32, at, val, val | NAPI_STATE_IN_BUSY_POLL | NAPI_STATE_SCHED) === val;
    }
    if (own) {
      c.env.busy_poll_sync();
      const work = poll(c, n, BUSY_POLL_BUDGET);
      gro_normal_list(c, n);
      if (work > 0) c.count(SD.busy_poll_packets, work);
    }
    c.count(SD.busy_poll_passes);
    c.env.do_softirq(); // local_bh_enable: what the poll raised (an RPS IPI's backlog, a rescheduled napi) runs
    if (task_runnable(c.shm, t)) break; // sk_busy_loop_end: data to read
    if (c.env.now_ns() >= end) break; // busy_loop_timeout
    c.env.irq_window(); // preempt_disable, not irqs: interrupts are taken between passes
    if (c.env.need_resched()) break;
  }
  if (own) busy_poll_stop(c, n);
  c.in_busy_poll = false;
  c.env.do_softirq();
  return task_runnable(c.shm, t);
}

/**
 * busy_poll_stop: clear MISSED and IN_BUSY_POLL, poll once more so the driver completes the
 * napi and re-enables its interrupt; if that poll used its whole budget the napi is still
 * ours: hand rx_list up and schedule it on this CPU (__napi_schedule).
 */
function busy_poll_stop(c: KCpu, n: number): void {
  const at = c.napiI(n) + c.NAPI.state;
  Atomics.and(c.i32, at, ~(NAPI_STATE_MISSED | NAPI_STATE_IN_BUSY_POLL));
  const rc = napi_poll_fn(c.i32[c.napiI(n) + c.NAPI.poll_fn])(c, n, BUSY_POLL_BUDGET);
  if (rc > 0) c.count(c.SD.busy_poll_packets, rc);
  if (rc === BUSY_POLL_BUDGET) {
    gro_normal_list(c, n);
    ____napi_schedule(c, n);
  }
}
