// The threads runtime: one emulated CPU on one worker thread.
//
// JavaScript cannot preempt, so the CPU takes interrupts at check points, as a kernel with
// interrupts disabled takes them when it re-enables: between napi polls, every few dozen
// packets, between task slices. The loop:
//   1. doorbell rung?  run the pending vectors' handlers and IPIs (hardirq context), then, on
//      irq exit, pending softirqs (unless 5.10's ksoftirqd_running defers them)
//   2. the runnable thread CFS picks (sched.ts), one slice: ksoftirqd (while softirqs are
//      pending) or an application task on this CPU (recvmsg, which yields when need_resched)
//   3. nothing runnable: sleep on the doorbell (Atomics.wait) until an interrupt or IPI
// Time is charged to the context it was spent in: hardirq, softirq, ksoftirqd, task, idle.

import { performance } from 'node:perf_hooks';
import type { CpuEnv } from '../kernel/env.js';
import { KCpu, type LatencySink } from '../kernel/percpu.js';
import { do_IRQ_pending } from '../kernel/irq.js';
import { rps_trigger_softirq } from '../kernel/dev.js';
import { invoke_softirq, softirq_due, run_ksoftirqd } from '../kernel/softirq.js';
import { run_delayed_work, work_queued_here } from '../kernel/workqueue.js';
import { cpu_task_runnable, task_recvmsg } from '../kernel/sock.js';
import { cpu_kthread_runnable, cpu_map_kthread_slice } from '../kernel/xdp.js';
import { CfsRq, PICK_KSOFTIRQD, PICK_NONE } from './sched.js';
import { napi_timer_next_ns, napi_timers_armed, napi_timers_run } from '../kernel/napi_timer.js';
import type { Shm } from '../shm/memory.js';
import { doorbell_ring } from '../shm/msix.js';
import { HotPathWindow } from '../shm/hot_path.js';
import { busyThreads, deviceInline, spinLoads } from '../host/host.js';
import type { TrafficGenerator } from '../devices/generator.js';
import { CTX_HARDIRQ, CTX_IDLE, CTX_IDLE_POLL, CTX_KSOFTIRQD, CTX_SOFTIRQ, CTX_TASK } from '../shm/layout.js';

export const IPI_RPS = 1; // the RPS csd (rps_trigger_softirq)
export const IPI_RESCHED = 2; // reschedule: a task here has work
// About 200 µs of doorbell polling (an Atomics.load is ~10 ns here) before sleeping.
const IDLE_POLL_LOADS = 20_000;

/** ns → loop iterations of the stack-cost burner, measured once per thread. */
let burn_iters_per_ns = 0;
let burn_sink = 0;

function burn_loop(iters: number): void {
  let x = burn_sink | 1;
  for (let i = 0; i < iters; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  burn_sink = x;
}

/**
 * Calibrate the burner: iterations per ns. Interference (other threads, the host) only ever
 * slows a measurement down, so the fastest of many short ones is the machine's own speed.
 * The engine calibrates once, before any worker starts, and hands the figure to every CPU
 * (set_burn_rate), so all CPUs burn alike and none calibrates while the others boot.
 */
export function calibrate_burn(): number {
  if (burn_iters_per_ns > 0) return burn_iters_per_ns;
  burn_loop(2_000_000); // warm up the JIT
  let best = 0;
  for (let k = 0; k < 25; k++) {
    const iters = 200_000;
    const t0 = performance.now();
    burn_loop(iters);
    const rate = iters / ((performance.now() - t0) * 1e6);
    if (rate > best) best = rate;
  }
  burn_iters_per_ns = best;
  return best;
}

export function set_burn_rate(iters_per_ns: number): void {
  burn_iters_per_ns = iters_per_ns;
}

export class CpuRuntime implements CpuEnv {
  readonly c: KCpu;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly doorbell: number;
  private readonly stop_at: number;
  private readonly origin_ms: number;
  private ctx = CTX_IDLE;
  private ctx_start = 0;
  /** This CPU's CFS runqueue (index 0): ksoftirqd and the tasks pinned here. */
  private readonly rq: CfsRq;
  private readonly ksoftirqd: Uint8Array;
  private readonly busy_field: Int32Array;
  private readonly idle_poll_loads: number;
  /** Application tasks: schedule() picks above them are cpumap kthreads. */
  private readonly tasks: number;

  constructor(
    readonly shm: Shm,
    readonly cpu: number,
    latency: LatencySink,
    shared_origin_ms: number,
    /** --device inline: the device, when this CPU hosts it (else null). */
    private readonly dev: TrafficGenerator | null = null,
  ) {
    this.c = new KCpu(cpu, shm, this, latency);
    this.rq = new CfsRq(shm, 1);
    this.tasks = shm.layout.taskCount;
    this.ksoftirqd = this.rq.ksoftirqd;
    this.i32 = shm.i32;
    this.f64 = shm.f64;
    this.doorbell = shm.sd[cpu] + shm.layout.SD.doorbell;
    this.stop_at = shm.ctlI + shm.layout.CTL.stop;
    // performance.now() counts from this thread's own origin: convert to the run's.
    this.origin_ms = performance.timeOrigin - shared_origin_ms;
    const SD = shm.layout.SD;
    this.busy_field = Int32Array.of(SD.idle_ns, SD.busy_hardirq_ns, SD.busy_softirq_ns, SD.busy_ksoftirqd_ns, SD.busy_task_ns, SD.idle_ns);
    if (shm.cfg.stack_cost_ns > 0 && burn_iters_per_ns === 0) calibrate_burn();
    this.idle_poll_loads = spinLoads(busyThreads(shm.cfg.cpus, deviceInline(shm.cfg)), IDLE_POLL_LOADS);
    this.window = new HotPathWindow(shm, () => this.f64[this.c.sdF + this.c.SD.processed]);
  }

  // ------------------------------------------------------------------ CpuEnv

  now_ns(): number {
    return (performance.now() + this.origin_ms) * 1e6;
  }

  irq_window(): void {
    if (Atomics.load(this.i32, this.doorbell) !== 0) this.handle_irqs();
  }

  send_ipi(cpu: number): void {
    this.ipi(cpu, IPI_RPS);
  }

  /**
   * try_to_wake_up's remote half: only an idle CPU needs the reschedule IPI; a busy one finds
   * the task runnable at its next scheduling point (it re-checks after publishing CTX_IDLE).
   */
  wake_cpu(cpu: number): void {
    const ctx = Atomics.load(this.i32, this.shm.sd[cpu] + this.c.SD.context);
    if (ctx === CTX_IDLE || ctx === CTX_IDLE_POLL) this.ipi(cpu, IPI_RESCHED);
  }

  wakeup_softirqd(): void {
    if (this.ksoftirqd[0] !== 0) return;
    this.ksoftirqd[0] = 1;
    this.c.count(this.c.SD.ksoftirqd_wakeups);
  }

  ksoftirqd_running(): boolean {
    return this.ksoftirqd[0] !== 0;
  }

  /** CFS's need_resched for whatever runs here (sched.ts): wake-up and tick preemption. */
  need_resched(): boolean {
    this.load_exec();
    return this.rq.need_resched(0, this.cpu, this.c.softirq_pending, this.c.jiffies());
  }

  /** The exec clocks for the runqueue: each context's busy ns, with the running interval. */
  private load_exec(): void {
    const sdF = this.c.sdF;
    const run = this.c.clock[0] - this.ctx_start;
    const exec = this.rq.exec;
    exec[0] = this.f64[sdF + this.c.SD.busy_ksoftirqd_ns] + (this.ctx === CTX_KSOFTIRQD ? run : 0);
    exec[1] = this.f64[sdF + this.c.SD.busy_task_ns] + (this.ctx === CTX_TASK ? run : 0);
  }

  burn_ns(ns: number): void {
    burn_loop(Math.round(ns * burn_iters_per_ns));
  }

  /** Wall time already orders the device's writes and this CPU's reads. */
  busy_poll_sync(): void {}

  do_softirq(): void {
    if (!softirq_due(this.c)) return;
    const prev = this.switch_ctx(CTX_SOFTIRQ);
    invoke_softirq(this.c);
    this.switch_ctx(prev);
  }

  // ------------------------------------------------------------------ the CPU

  private ipi(cpu: number, kind: number): void {
    const at = this.shm.sd[cpu] + this.shm.layout.SD.ipi_pending;
    Atomics.or(this.i32, at, kind);
    doorbell_ring(this.shm, cpu);
  }

  /** Charge the time since the last switch to the context we leave (the tick's clock). */
  private switch_ctx(next: number): number {
    const prev = this.ctx;
    // Sequentially consistent: going idle must be visible before the CPU looks for work one
    // last time (see doorbell_ring and wake_cpu). The store and the clock's read are adjacent:
    // a thread the host stops anywhere else here shows the timeline (timeline.ts) the context
    // that time is charged to.
    Atomics.store(this.i32, this.c.sd + this.c.SD.context, next);
    const now = this.c.clock[0];
    this.f64[this.c.sdF + this.busy_field[prev]] += now - this.ctx_start;
    this.ctx = next;
    this.ctx_start = now;
    return prev;
  }

  /**
   * Take pending interrupts: clear the doorbell first, then claim the pending bits, so a
   * device that sets a bit after our claim also rings after our clear (no lost wake-up).
   */
  private handle_irqs(): void {
    const prev = this.switch_ctx(CTX_HARDIRQ);
    const c = this.c;
    const SD = c.SD;
    Atomics.store(this.i32, this.doorbell, 0);
    do_IRQ_pending(c, Atomics.exchange(this.i32, c.sd + SD.vec_pending0, 0), 0);
    do_IRQ_pending(c, Atomics.exchange(this.i32, c.sd + SD.vec_pending1, 0), 32);
    const ipi = Atomics.exchange(this.i32, c.sd + SD.ipi_pending, 0);
    if (ipi & IPI_RPS) {
      rps_trigger_softirq(c);
    }
    // irq_exit: softirqs run here unless we interrupted softirq processing or ksoftirqd owns them.
    if (softirq_due(c)) {
      this.switch_ctx(CTX_SOFTIRQ);
      invoke_softirq(c);
    }
    this.switch_ctx(prev);
  }

  /** Is an application task on this CPU runnable? (after publishing CTX_IDLE) */
  private task_ready(): boolean {
    return cpu_task_runnable(this.shm, this.cpu) || (this.c.x !== null && cpu_kthread_runnable(this.shm, this.cpu));
  }

  /** One scheduling decision: run one slice of the next runnable task. False if none. */
  private schedule(): boolean {
    this.load_exec();
    const t = this.rq.schedule(0, this.cpu, this.c.softirq_pending, this.c.jiffies());
    if (t === PICK_NONE) return false;
    if (t === PICK_KSOFTIRQD) {
      this.switch_ctx(CTX_KSOFTIRQD);
      run_ksoftirqd(this.c);
    } else {
      this.switch_ctx(CTX_TASK);
      if (t < this.tasks) task_recvmsg(this.c, t);
      else cpu_map_kthread_slice(this.c, t - this.tasks); // a cpumap kthread (kernel/xdp.ts)
    }
    return true;
  }

  /**
   * Idle: poll the doorbell for a while (as cpuidle's poll state does), then sleep on it.
   * A futex wake costs tens of microseconds; at high packet rates the next interrupt comes
   * sooner than that. The poll is short when the CPUs and the device outnumber the host's
   * cores (spinLoads): there a polling CPU takes the core another thread needs.
   *
   * Tried and left out: timed naps between the poll and the sleep (a shallow idle state
   * whose wakers need no futex call). In the RPS bench they did not beat this within the
   * host's noise (eight interleaved pairs, three times), and with many emulated CPUs on few
   * cores every napping CPU would wake ten thousand times a second.
   */
  private idle(): void {
    const i32 = this.i32;
    for (let k = 0; k < this.idle_poll_loads; k++) if (Atomics.load(i32, this.doorbell) !== 0) return;
    // From now on a waker must wake us with a futex call: say so, then look once more.
    Atomics.store(i32, this.c.sd + this.c.SD.context, CTX_IDLE);
    if (this.task_ready()) return;
    let ms = 100;
    if (this.dev !== null && this.dev.wake_at_ns !== Infinity) {
      // The device this CPU hosts needs a turn then (a line rate's frame, the ITR's interval).
      const left = (this.dev.wake_at_ns - this.now_ns()) / 1e6;
      if (left <= 0) return;
      if (left < ms) ms = left;
    }
    if (napi_timers_armed(this.shm, this.cpu)) {
      // Sleep no longer than the next napi timer (hrtimer expiry wakes an idle CPU).
      const left = (napi_timer_next_ns(this.shm, this.cpu) - this.now_ns()) / 1e6;
      if (left <= 0) return;
      if (left < ms) ms = left;
    }
    Atomics.wait(i32, this.doorbell, 0, ms);
  }

  /** Announce this CPU to the device (it starts generating once every CPU is up). */
  online(): void {
    this.ctx_start = this.c.clock[0];
    // From here every ns of the clock is charged to some context (timeline.ts reads this).
    this.f64[this.c.sdF + this.c.SD.online_ns] = this.ctx_start;
    Atomics.add(this.i32, this.shm.ctlI + this.shm.layout.CTL.cpus_ready, 1);
    Atomics.notify(this.i32, this.shm.ctlI + this.shm.layout.CTL.cpus_ready);
  }

  /**
   * One turn of the CPU loop: interrupts, softirqs outside interrupts, one task slice.
   * False when there is nothing to run (the caller idles).
   */
  step(): boolean {
    const c = this.c;
    this.f64[c.sdF + c.SD.heartbeat] += 1;
    if (this.dev !== null) this.dev.inline_turn();
    if (Atomics.load(this.i32, this.doorbell) !== 0) {
      this.handle_irqs();
      return true;
    }
    if (softirq_due(c)) {
      // Raised outside an interrupt (a task's netif_rx, say): run it as irq exit would.
      this.switch_ctx(CTX_SOFTIRQ);
      invoke_softirq(c);
      return true;
    }
    if (napi_timers_armed(this.shm, this.cpu) && this.run_timers()) return true;
    if (work_queued_here(c) && this.run_work()) return true;
    return this.schedule();
  }

  /**
   * The timer interrupt for expired napi timers (gro_flush_timeout): napi_watchdog in hardirq
   * context, then softirqs on irq exit as handle_irqs runs them. False if none has expired.
   */
  private run_timers(): boolean {
    const now = this.now_ns();
    if (napi_timer_next_ns(this.shm, this.cpu) > now) return false;
    const c = this.c;
    const prev = this.switch_ctx(CTX_HARDIRQ);
    napi_timers_run(c, now);
    if (softirq_due(c)) {
      this.switch_ctx(CTX_SOFTIRQ);
      invoke_softirq(c);
    }
    this.switch_ctx(prev);
    return true;
  }

  /** A delayed work item due on this CPU runs in a kworker (process context: task time). */
  private run_work(): boolean {
    const prev = this.switch_ctx(CTX_TASK);
    const ran = run_delayed_work(this.c);
    this.switch_ctx(prev);
    return ran;
  }

  /** The CPU's life: run until the engine sets stop. */
  run(): void {
    this.online();
    if (this.dev !== null) {
      this.dev.wait_for_cpus();
      this.dev.start();
    }
    const window = this.window;
    while (Atomics.load(this.i32, this.stop_at) === 0) {
      if (window.state !== 2) window.check();
      if (this.step()) continue;
      this.switch_ctx(CTX_IDLE_POLL);
      if (this.task_ready()) continue; // woken while going idle: the waker saw us busy
      this.idle();
    }
    if (window.state === 1) window.close();
    this.offline();
  }

  /** The steady-state window in which the hot path must not allocate (see HotPathWindow). */
  readonly window: HotPathWindow;

  /** Going down: charge the last interval, give cached skbs back. */
  offline(): void {
    this.switch_ctx(CTX_IDLE);
    this.c.flush_latency();
    this.c.cache.drain();
  }
}
