// The CPU's scheduler, as both runtimes (runtime.ts, sim/machine.ts) run it: CFS (kernel/sched/fair.c,
// 5.10) over what shares a CPU here, ksoftirqd and the application tasks pinned to it, all
// nice 0 (weight 1024, so virtual runtime advances as the time they run). How each runtime
// switches context and measures time stays its own; which thread runs next, and when the one
// running must yield (need_resched), is decided here, once.
//
// What is modelled: per CPU a min_vruntime, moved up to the smaller of the running entity's
// and the leftmost queued one's vruntime at every update_curr (update_min_vruntime) and at
// every pick; each entity's vruntime; pick_next_entity takes the smallest; a woken entity is
// placed at no less than min_vruntime - sched_latency / 2 (place_entity, GENTLE_FAIR_SLEEPERS);
// need_resched is set by a wake-up that beats the running entity by more than
// sched_wakeup_granularity (check_preempt_wakeup) and by the tick when the running entity has
// had its slice (check_preempt_tick). The three tunables are the 1-CPU defaults scaled by
// 1 + ilog2(min(CPUs, 8)) (update_sysctl, SCHED_TUNABLESCALING_LOG, the default): x2 on 2
// CPUs, x3 on 4, x4 from 8. The running entity's time
// is its own context's (busy.ksoftirqd_ns or busy.task_ns): interrupts and softirqs run from
// irq_exit are not charged to it (as with CONFIG_IRQ_TIME_ACCOUNTING). Wake-ups are noticed
// where the kernel would act on them, at the running CPU's check points (need_resched) and
// scheduling points, not at the waker's store: a task woken while another runs is checked at
// the next interrupt window.
//
// Per-entity state is per runtime (a threads-mode CPU sees its own copy): a task migrated to
// another CPU meets that CPU's min_vruntime through place_entity, as CFS renormalises it.

import type { Shm } from '../shm/memory.js';
import { task_runnable } from '../kernel/sock.js';
import { cpumap_kthread_runnable } from '../kernel/xdp.js';

/** pick_next found nothing to run. */
export const PICK_NONE = -1;
/** pick_next picked ksoftirqd; a task index (>= 0) otherwise. */
export const PICK_KSOFTIRQD = -2;

/** sysctl_sched_latency, sched_min_granularity, sched_wakeup_granularity (ns, 1 CPU's base values). */
export const SCHED_LATENCY_NS = 6_000_000;
export const SCHED_MIN_GRANULARITY_NS = 750_000;
export const SCHED_WAKEUP_GRANULARITY_NS = 1_000_000;
/** sched_nr_latency: above this many runnable, the period grows by min_granularity each (latency / min_granularity, scaled alike). */
const SCHED_NR_LATENCY = 8;

/**
 * get_update_sysctl_factor (kernel/sched/fair.c), SCHED_TUNABLESCALING_LOG: 1 + ilog2 of the
 * online CPUs, at most 8.
 */
export function sched_tunable_factor(cpus: number): number {
  return 1 + Math.floor(Math.log2(Math.min(cpus, 8)));
}

/**
 * The runqueues of `cpus` CPUs (threads mode: one, index 0; sim: all). Entity slot 0 is a
 * CPU's ksoftirqd, slot t + 1 application task t, and with --xdp slot tasks + 1 + j the
 * kthread of cpumap j's entry for that CPU (pinned there, as cpumap.c binds it): schedule()
 * returns tasks + j for it. Its time is the task context's (process context).
 */
export class CfsRq {
  private readonly slots: number;
  private readonly tasks: number;
  readonly min_vruntime: Float64Array;
  /** Per CPU × slot: vruntime, and whether it was runnable when last looked at (wake-up detection). */
  private readonly vruntime: Float64Array;
  private readonly seen: Uint8Array;
  /** Per CPU: the running slot (-1 none), its exec clock at the last update, its time since picked. */
  readonly curr: Int32Array;
  private readonly exec_start: Float64Array;
  private readonly ran_ns: Float64Array;
  /** Per CPU: TIF_NEED_RESCHED of the running entity, and the jiffy the tick last checked. */
  readonly resched: Uint8Array;
  private readonly tick: Int32Array;
  /** Per CPU: ksoftirqd awake (woken by wakeup_softirqd, asleep once it finds nothing pending). */
  readonly ksoftirqd: Uint8Array;
  /**
   * Per CPU, the exec clocks (busy ns so far) of ksoftirqd's context [2i] and the tasks'
   * [2i + 1], written by the runtime before each call: slots, not arguments (a double passed
   * to a call that is not inlined is boxed, and need_resched runs on the hot path).
   */
  readonly exec: Float64Array;
  /** Preemptions by check_preempt_wakeup and by check_preempt_tick (statistics). */
  wakeup_preempts = 0;
  tick_preempts = 0;
  /** The machine's tunables (update_sysctl): the base values × sched_tunable_factor(CPUs online). */
  readonly sched_latency_ns: number;
  readonly sched_min_granularity_ns: number;
  readonly sched_wakeup_granularity_ns: number;

  constructor(
    private readonly shm: Shm,
    cpus: number,
  ) {
    // The factor counts the machine's CPUs, not this runqueue set's (threads mode has one each).
    const factor = sched_tunable_factor(shm.cfg.cpus);
    this.sched_latency_ns = SCHED_LATENCY_NS * factor;
    this.sched_min_granularity_ns = SCHED_MIN_GRANULARITY_NS * factor;
    this.sched_wakeup_granularity_ns = SCHED_WAKEUP_GRANULARITY_NS * factor;
    this.tasks = shm.layout.taskCount;
    // --xdp: after the tasks, one slot per cpumap for its kthread on each CPU (kernel/xdp.ts).
    this.slots = this.tasks + 1 + (shm.xdp?.cpumapIds.length ?? 0);
    this.min_vruntime = new Float64Array(cpus);
    this.vruntime = new Float64Array(cpus * this.slots);
    this.seen = new Uint8Array(cpus * this.slots);
    this.curr = new Int32Array(cpus).fill(-1);
    this.exec_start = new Float64Array(cpus);
    this.ran_ns = new Float64Array(cpus);
    this.resched = new Uint8Array(cpus);
    this.tick = new Int32Array(cpus);
    this.ksoftirqd = new Uint8Array(cpus);
    this.exec = new Float64Array(2 * cpus);
  }

  /** Is slot `s` runnable on `cpu` (runqueue index i)? ksoftirqd: awake with softirqs pending. */
  private runnable(i: number, cpu: number, s: number, softirq_pending: number): boolean {
    if (s === 0) return this.ksoftirqd[i] !== 0 && softirq_pending !== 0;
    const t = s - 1;
    if (t >= this.tasks) return cpumap_kthread_runnable(this.shm, t - this.tasks, cpu);
    return this.shm.i32[this.shm.taskI[t] + this.shm.layout.TASK.cpu] === cpu && task_runnable(this.shm, t);
  }

  /** update_curr: charge the running entity the exec time since the last update, then update_min_vruntime. */
  private update_curr(i: number, cpu: number, softirq_pending: number): void {
    const s = this.curr[i];
    if (s < 0) return;
    const exec_now = this.exec[2 * i + (s === 0 ? 0 : 1)];
    const d = exec_now - this.exec_start[i];
    this.exec_start[i] = exec_now;
    if (d <= 0) return;
    this.vruntime[i * this.slots + s] += d;
    this.ran_ns[i] += d;
    this.update_min_vruntime(i, cpu, softirq_pending, s);
  }

  /**
   * update_min_vruntime: the smaller of the running entity's vruntime and the leftmost queued
   * entity's (queued: runnable and already seen; one woken since is not in the tree yet),
   * never moving back.
   */
  private update_min_vruntime(i: number, cpu: number, softirq_pending: number, cur: number): void {
    const base = i * this.slots;
    let v = this.vruntime[base + cur];
    for (let s = 0; s < this.slots; s++) {
      if (s === cur || this.seen[base + s] === 0 || this.vruntime[base + s] >= v) continue;
      if (this.runnable(i, cpu, s, softirq_pending)) v = this.vruntime[base + s];
    }
    if (v > this.min_vruntime[i]) this.min_vruntime[i] = v;
  }

  /** place_entity for a waking entity: no further back than half a latency period. */
  private place(i: number, s: number): number {
    const at = i * this.slots + s;
    const floor = this.min_vruntime[i] - this.sched_latency_ns / 2;
    if (this.vruntime[at] < floor) this.vruntime[at] = floor;
    return this.vruntime[at];
  }

  /**
   * need_resched() for the entity running on `cpu` (exec clocks in `exec`, `jiffies`: the tick). Idle (or an interrupt on an idle CPU): any runnable task preempts
   * it. Else CFS's two checks: check_preempt_wakeup for each entity woken since last looked
   * at, check_preempt_tick once per jiffy.
   */
  need_resched(i: number, cpu: number, softirq_pending: number, jiffies: number): boolean {
    if (this.resched[i] !== 0) return true;
    const cur = this.curr[i];
    if (cur < 0) {
      for (let s = 1; s < this.slots; s++) if (this.runnable(i, cpu, s, softirq_pending)) return true;
      return false;
    }
    this.update_curr(i, cpu, softirq_pending);
    const base = i * this.slots;
    const vr_curr = this.vruntime[base + cur];
    let nr = 1;
    let left = Infinity;
    for (let s = 0; s < this.slots; s++) {
      if (s === cur) continue;
      if (!this.runnable(i, cpu, s, softirq_pending)) {
        this.seen[base + s] = 0;
        continue;
      }
      nr++;
      let vr = this.vruntime[base + s];
      if (this.seen[base + s] === 0) {
        this.seen[base + s] = 1;
        vr = this.place(i, s);
        // check_preempt_wakeup → wakeup_preempt_entity: ahead by more than the granularity.
        if (vr_curr - vr > this.sched_wakeup_granularity_ns && this.resched[i] === 0) {
          this.resched[i] = 1;
          this.wakeup_preempts++;
        }
      }
      if (vr < left) left = vr;
    }
    if (this.resched[i] === 0 && nr > 1 && jiffies !== this.tick[i]) {
      this.tick[i] = jiffies;
      // check_preempt_tick: the slice is sched_period / nr_running (all weights equal).
      const period = nr > SCHED_NR_LATENCY ? nr * this.sched_min_granularity_ns : this.sched_latency_ns;
      const ideal = period / nr;
      const ran = this.ran_ns[i];
      if (ran > ideal || (ran >= this.sched_min_granularity_ns && vr_curr - left > ideal)) {
        this.resched[i] = 1;
        this.tick_preempts++;
      }
    }
    return this.resched[i] !== 0;
  }

  /**
   * __schedule at a scheduling point: the running entity goes on while it is runnable and
   * not told to yield; otherwise put it back (update_curr, min_vruntime) and pick the
   * runnable entity with the smallest vruntime (ksoftirqd first on a tie). ksoftirqd found
   * awake with nothing pending goes to sleep.
   */
  schedule(i: number, cpu: number, softirq_pending: number, jiffies: number): number {
    if (this.ksoftirqd[i] !== 0 && softirq_pending === 0) this.ksoftirqd[i] = 0;
    const cur = this.curr[i];
    if (cur >= 0) {
      this.update_curr(i, cpu, softirq_pending);
      if (this.runnable(i, cpu, cur, softirq_pending) && !this.need_resched(i, cpu, softirq_pending, jiffies)) {
        return cur === 0 ? PICK_KSOFTIRQD : cur - 1;
      }
    }
    this.resched[i] = 0;
    const base = i * this.slots;
    let best = -1;
    let best_vr = Infinity;
    for (let s = 0; s < this.slots; s++) {
      if (!this.runnable(i, cpu, s, softirq_pending)) {
        this.seen[base + s] = 0;
        continue;
      }
      const vr = s === cur ? this.vruntime[base + s] : this.place(i, s);
      this.seen[base + s] = 1;
      if (vr < best_vr) {
        best_vr = vr;
        best = s;
      }
    }
    // update_min_vruntime: monotonic, up to the leftmost runnable (or the one that ran).
    const floor = best >= 0 ? best_vr : cur >= 0 ? this.vruntime[base + cur] : -Infinity;
    if (floor > this.min_vruntime[i]) this.min_vruntime[i] = floor;
    this.curr[i] = best;
    this.ran_ns[i] = 0;
    if (best < 0) return PICK_NONE;
    this.exec_start[i] = this.exec[2 * i + (best === 0 ? 0 : 1)];
    return best === 0 ? PICK_KSOFTIRQD : best - 1;
  }
}
