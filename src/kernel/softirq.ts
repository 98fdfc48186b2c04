// kernel/softirq.c: __do_softirq, invoke_softirq, and what ksoftirqd runs. Only NET_RX
// exists here. Scheduling ksoftirqd is the CPU runtime's business (env.wakeup_softirqd).

import type { KCpu } from './percpu.js';
import { NET_RX_SOFTIRQ } from './percpu.js';
import { net_rx_action } from './dev.js';

export const MAX_SOFTIRQ_RESTART = 10;
export const MAX_SOFTIRQ_TIME_MS = 2;

/**
 * __do_softirq: run pending softirqs; while new ones are raised, go round again, at most
 * MAX_SOFTIRQ_RESTART passes in all, within MAX_SOFTIRQ_TIME (in jiffies) and while no
 * reschedule is needed; whatever is still pending then wakes ksoftirqd.
 */
export function __do_softirq(c: KCpu): void {
  const end = c.jiffies() + Math.ceil((MAX_SOFTIRQ_TIME_MS * c.cfg.hz) / 1000);
  let max_restart = MAX_SOFTIRQ_RESTART;
  c.in_softirq = true;
  for (;;) {
    const pending = c.softirq_pending;
    c.softirq_pending = 0;
    if (pending & NET_RX_SOFTIRQ) net_rx_action(c);
    if (c.softirq_pending === 0) break;
    if (c.jiffies() - end < 0 && !c.env.need_resched() && --max_restart !== 0) continue;
    c.env.wakeup_softirqd();
    break;
  }
  c.in_softirq = false;
}

/**
 * invoke_softirq, on irq exit: 5.10 leaves pending softirqs to ksoftirqd when it is already
 * runnable (ksoftirqd_running), else runs them here.
 */
export function invoke_softirq(c: KCpu): void {
  if (softirq_due(c)) __do_softirq(c);
}

/**
 * irq_exit's rule (5.10 kernel/softirq.c: __irq_exit_rcu → invoke_softirq): leaving hardirq
 * context, pending softirqs run here unless the interrupt came during softirq processing
 * (in_interrupt()) or ksoftirqd owns them (ksoftirqd_running). The one copy of the rule: both
 * runtimes ask it before entering softirq context on the way out of an interrupt (a device
 * vector, an IPI, the napi timer) or after raising one outside any.
 */
export function softirq_due(c: KCpu): boolean {
  return c.softirq_pending !== 0 && !c.in_softirq && !c.env.ksoftirqd_running();
}

/** run_ksoftirqd: one pass of ksoftirqd's loop. Task context (the ksoftirqd thread). */
export function run_ksoftirqd(c: KCpu): void {
  if (c.softirq_pending !== 0) __do_softirq(c);
}
