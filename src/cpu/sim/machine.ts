// The deterministic runtime (--mode sim): every CPU and the device in one thread, in virtual
// time, interleaved by a seeded scheduler. It runs the same kernel/ and drivers/ code as the
// threads runtime (runtime.ts), through the same CpuEnv; nothing of the kernel is copied here.
//
// Entities. Each CPU has a virtual clock clk[cpu] (ns); the device (TrafficGenerator + Nic,
// driven with burst(n, false), never Atomics.wait) has dev_t; the run's control schedule
// (task migrations, RSS table change: the engine's business, handed in as a hook) has ctl_t.
// The scheduler repeatedly runs one step of the entity with the smallest virtual time; the
// seed breaks ties. Before an entity runs, the shared clock slot and jiffies (what the kernel
// reads: KCpu.clock, KCpu.jiffies()) are set from its clock, so the kernel's time limits
// (netdev_budget_usecs, MAX_SOFTIRQ_TIME) and the ITR throttle run in virtual time.
//
// Steps. A CPU step is one turn of the CPU loop, as in runtime.ts: take due interrupts (and on
// irq exit run softirqs), or run pending softirqs, or one task slice (ksoftirqd or an
// application's recvmsg). A device step is one burst of at most 64 packets (or, open loop,
// what is due by its clock): device_step.ts. A step's cost is charged to the CPU's clock from
// the cost model (cost_model.ts): deltas of its own softnet counters, descriptors cleaned and
// env.burn_ns (the --stack-cost-ns stand-in), times a seeded jitter: cost.ts.
//
// Interleaving granularity, honestly: JavaScript cannot preempt, so code between two check
// points runs atomically. The check points are the step boundaries and the kernel's own
// interrupt windows (env.irq_window(): between napi polls and every 32 packets in the driver
// and in process_backlog), plus two race points where no lock is held: after each IPI sent
// (env.send_ipi) and, when the seed's adversary picks it, per skb in the stack (env.burn_ns
// in ip_rcv, with --stack-cost-ns). At an interrupt window the running CPU charges what it has done,
// then *yields*: every other entity whose clock is behind it (or, adversarially, a little
// ahead) runs steps, nested on the JavaScript stack, until all are level with it; then the
// window delivers this CPU's due interrupts and IPIs (or, by the seed, holds them back for a
// bounded number of windows). So CPUs interleave at packet-batch granularity inside
// net_rx_action, not at each instruction: a lock is never seen held by another CPU (no kernel
// code holds one across an interrupt window), so rps_lock_spins stay 0 in sim mode, and the
// cost of a contended lock appears only as lock_handoff_ns per remote enqueue. Races that
// need an interleaving inside a critical section are out of reach; races between steps and
// windows (RFS last_qtail, napi SCHED/MISSED, IPI and interrupt delivery order, the ring's
// publish vs the driver's refill) are what the seed explores. An entity that is suspended on
// the stack cannot run until the nested ones return: a nested step may run past the clock of
// a suspended one by at most one step (causality is approximate at that bound).
//
// Delivery. Device vectors land in shared memory as in threads mode (msix_deliver sets the
// pending bit and rings the doorbell); after every charge the scheduler notices newly rung
// doorbells and stamps their delivery time: the ringer's clock + irq_latency_ns (+ seeded
// spread). RPS IPIs and reschedule wake-ups never touch shared memory here: they are due
// times per target CPU (ipi_latency_ns + spread). A CPU takes what is due at its step start
// and at its interrupt windows. An idle CPU sleeps until its earliest due time.
//
// Adversary. The seed draws a level (calm … hostile) that sets the jitter on step costs, the
// spread of interrupt and IPI latencies, how often a window holds interrupts back, how far
// ahead a preempting entity may run, how often a CPU is preempted inside the stack and how
// often the device publishes RDH after a short burst: the fault injector, adversary.ts.
//
// Files: this one is the machine (the entities, the scheduler, a CPU's step, the CpuEnv the
// kernel calls); cost.ts charges steps, device_step.ts steps the device, adversary.ts
// injects the seed's faults, clock.ts holds the clocks' origin. cost.ts and device_step.ts are
// functions over the machine's state, each declaring the part it uses (ChargeState,
// DeviceState): SimMachine's public fields are that state, not an API.
//
// Hot path: per step, no objects, closures or arrays; all state is in typed arrays allocated
// here; the PRNG draws integers/floats from a Uint32Array state.

import type { CpuEnv } from '../../kernel/env.js';
import { KCpu } from '../../kernel/percpu.js';
import { do_IRQ_pending } from '../../kernel/irq.js';
import { rps_trigger_softirq } from '../../kernel/dev.js';
import { invoke_softirq, softirq_due, run_ksoftirqd } from '../../kernel/softirq.js';
import { task_recvmsg } from '../../kernel/sock.js';
import { cpu_map_kthread_slice } from '../../kernel/xdp.js';
import { delayed_work_due, run_delayed_work, work_queued_here } from '../../kernel/workqueue.js';
import { CfsRq, PICK_KSOFTIRQD, PICK_NONE } from '../sched.js';
import { napi_timer_next_ns, napi_timers_armed, napi_timers_run } from '../../kernel/napi_timer.js';
import type { Shm } from '../../shm/memory.js';
import { nicModel } from '../../config/nics.js';
import { spin_single_threaded } from '../../shm/spinlock.js';
import { CTX_HARDIRQ, CTX_IDLE, CTX_IDLE_POLL, CTX_KSOFTIRQD, CTX_SOFTIRQ, CTX_TASK } from '../../shm/layout.js';
import { TrafficGenerator } from '../../devices/generator.js';
import type { FlowFrames } from '../../devices/frames.js';
import { Prng } from '../../lib/prng.js';
import type { CostModel } from '../cost_model.js';
import { kernel_boot, latencySink, newLatencyHistogram } from '../worker_main.js';
import type * as hdr from 'hdr-histogram-js';
import {
  adversary_draw,
  adversary_holds_irqs,
  adversary_latency,
  adversary_lookahead_ns,
  adversary_midyield_gap,
  type Adversary,
} from './adversary.js';
import { SIM_T0_NS } from './clock.js';
import { charge, priced_counters } from './cost.js';
import { DEV_RUN, device_describe, device_next_ns, device_notice, device_stop, run_device } from './device_step.js';

/** Entities suspended on the stack at once, at most (each nested step is a few frames). */
const MAX_DEPTH = 80;

export const SIM_DRAINED = 0;
export const SIM_STUCK = 1; // packets in flight, nothing can run (a lost interrupt, a dry ring)
export const SIM_NO_PROGRESS = 2; // virtual time runs on, no packet moves (watchdog_s of virtual time)
export const SIM_INTERRUPTED = 3; // interrupt()'s drain bound hit with packets in flight
export const SIM_RUNNING = 4; // run()'s turn budget used up: call it again

/** The run's control schedule (engine side): called at its due time, returns the next one. */
export type ControlHook = (shm: Shm, t_ns: number) => number;

/** One CPU's environment: a thin handle the kernel calls into; the machine does the work. */
class SimEnv implements CpuEnv {
  constructor(
    private readonly m: SimMachine,
    private readonly cpu: number,
  ) {}
  now_ns(): number {
    return this.m.clk[this.cpu];
  }
  irq_window(): void {
    this.m.irq_window(this.cpu);
  }
  send_ipi(cpu: number): void {
    this.m.post_ipi(this.cpu, cpu);
    this.m.race_point(this.cpu, 1);
  }
  wake_cpu(cpu: number): void {
    this.m.post_resched(this.cpu, cpu);
  }
  wakeup_softirqd(): void {
    this.m.wakeup_softirqd(this.cpu);
  }
  ksoftirqd_running(): boolean {
    return this.m.ksoftirqd[this.cpu] !== 0;
  }
  /** As the threads runtime: CFS's need_resched (sched.ts). */
  need_resched(): boolean {
    return this.m.need_resched(this.cpu);
  }
  burn_ns(ns: number): void {
    this.m.acc[this.cpu] += ns;
    this.m.stack_point(this.cpu);
  }
  do_softirq(): void {
    this.m.do_softirq(this.cpu);
  }
  busy_poll_sync(): void {
    this.m.busy_poll_sync(this.cpu);
  }
}

export class SimMachine {
  readonly cfg: Shm['cfg'];
  readonly ncpu: number;
  readonly kc: KCpu[];
  readonly gen: TrafficGenerator;
  readonly hist: hdr.Histogram;
  readonly adversary: Adversary;
  readonly prng: Prng;
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  // Per CPU (typed arrays, allocated once).
  readonly clk: Float64Array;
  readonly acc: Float64Array; // burn_ns not yet charged
  readonly ksoftirqd: Uint8Array;
  private readonly due_irq: Float64Array;
  private readonly due_ipi: Float64Array;
  private readonly due_resched: Float64Array;
  private readonly idle: Uint8Array;
  readonly ctx: Int32Array;
  /** The CPUs' CFS runqueues (index = CPU). */
  readonly rq: CfsRq;
  private readonly skips: Int32Array;
  private readonly midyield_left: Int32Array; // skbs until the next stack race point, per CPU
  readonly snap: Float64Array; // per CPU × cost field: counter value at the last charge
  private readonly doorbell_at: Int32Array;
  private readonly context_at: Int32Array;
  readonly busy_field: Int32Array;
  // The priced counters: softnet_data f64 field indices and their ns each.
  readonly fld: Int32Array;
  readonly w: Float64Array;
  readonly K: number;
  // Per queue: next_to_clean at the last charge (whoever charged), RDT when the device blocked.
  readonly last_ntc: Int32Array;
  readonly ntc_at: Int32Array;
  readonly rdt_at: Int32Array;
  readonly dev_rdt: Int32Array;

  // Entities: 0..ncpu-1 CPUs, ncpu the device, ncpu+1 the control schedule.
  private readonly on_stack: Uint8Array;
  private depth = 0;
  dev_t = SIM_T0_NS;
  /** The device's clock at its last burst that wrote frames (a busy poller syncs to it: busy_poll_sync). */
  dev_write_t = SIM_T0_NS;
  dev_state = DEV_RUN;
  private ctl_t = Infinity;
  private readonly clock_at: number;
  private readonly jiffies_at: number;
  readonly generated_at: number;
  readonly gen_done_at: number;
  readonly itr_ns: number;
  /** The device's cost per packet: the wire, and with virtio QEMU's receive path. */
  readonly device_ns: number;
  /** virtio: each queue's notify register at the last charge (the guest's kicks are priced). */
  readonly kicks_at: Int32Array;
  readonly last_kicks: Int32Array;
  /** Steps run (all entities, nested included). */
  steps = 0;
  /** Turns of run()'s loop so far, and the virtual watchdog's last progress and its time. */
  private turn = 0;
  private progress_last = -1;
  private progress_t = SIM_T0_NS;
  /** interrupt(): the virtual time at which the drain stops. */
  private drain_deadline_ns = Infinity;
  /** Virtual time at which the run drained. */
  end_ns = 0;

  constructor(
    readonly shm: Shm,
    readonly cost: CostModel,
    private readonly control: ControlHook | null = null,
    first_control_ns = Infinity,
    /** The scheduler's seed: the config's seed unless given (same traffic, another interleaving). */
    sched_seed = shm.cfg.seed,
    /** The flows' frames, if the caller built them for boot() already (else built here). */
    frames?: FlowFrames,
  ) {
    const cfg = (this.cfg = shm.cfg);
    const n = (this.ncpu = cfg.cpus);
    const layout = shm.layout;
    const SD = layout.SD;
    this.i32 = shm.i32;
    this.f64 = shm.f64;
    kernel_boot(shm);
    this.prng = new Prng(sched_seed).fork(0x5151);
    this.adversary = adversary_draw(this.prng);
    this.hist = newLatencyHistogram();
    const sink = latencySink(this.hist);
    this.kc = [];
    for (let cpu = 0; cpu < n; cpu++) this.kc.push(new KCpu(cpu, shm, new SimEnv(this, cpu), sink));
    this.clk = new Float64Array(n).fill(SIM_T0_NS);
    this.acc = new Float64Array(n);
    this.rq = new CfsRq(shm, n);
    this.ksoftirqd = this.rq.ksoftirqd;
    this.due_irq = new Float64Array(n).fill(Infinity);
    this.due_ipi = new Float64Array(n).fill(Infinity);
    this.due_resched = new Float64Array(n).fill(Infinity);
    this.idle = new Uint8Array(n);
    this.ctx = new Int32Array(n).fill(CTX_IDLE);
    this.skips = new Int32Array(n);
    this.midyield_left = new Int32Array(n); // 0: drawn at the first skb
    this.doorbell_at = Int32Array.from({ length: n }, (_, c) => shm.sd[c] + SD.doorbell);
    this.context_at = Int32Array.from({ length: n }, (_, c) => shm.sd[c] + SD.context);
    this.busy_field = Int32Array.of(SD.idle_ns, SD.busy_hardirq_ns, SD.busy_softirq_ns, SD.busy_ksoftirqd_ns, SD.busy_task_ns, SD.idle_ns);
    const priced = priced_counters(SD, cost);
    this.K = priced.length;
    this.fld = Int32Array.from(priced, (p) => p[0]);
    this.w = Float64Array.from(priced, (p) => p[1]);
    this.snap = new Float64Array(n * this.K);
    const Q = cfg.queues;
    const RXQ = layout.RXQ;
    this.ntc_at = Int32Array.from({ length: Q }, (_, q) => shm.rxqI[q] + RXQ.next_to_clean);
    // What a waiting device watches: RDT, or (virtio) the queue's notify register, the kick.
    const virtio = nicModel(cfg.nic).rx_queue === 'virtqueue';
    this.rdt_at = Int32Array.from({ length: Q }, (_, q) => (virtio ? shm.vq[q].notify : shm.rxqI[q] + RXQ.rdt));
    this.last_ntc = Int32Array.from(this.ntc_at, (at) => shm.i32[at]);
    this.dev_rdt = new Int32Array(Q);
    this.on_stack = new Uint8Array(n + 2);
    this.clock_at = layout.CTL.base / 8 + layout.CTL.clock_ns;
    this.jiffies_at = shm.ctlI + layout.CTL.jiffies;
    this.generated_at = shm.ctlF + layout.CTL.generated;
    this.gen_done_at = shm.ctlI + layout.CTL.gen_done;
    // The ITR timer's step: a fixed interval's, or under adaptive ITR (rx-usecs 1, whose EITR
    // moves from 10 to 126 µs) EITR's 2 µs granularity.
    this.itr_ns = cfg.rx_usecs === 1 ? 2000 : cfg.rx_usecs * 1000;
    this.device_ns = cost.device_ns + (virtio ? cost.virtio_device_ns : 0);
    this.kicks_at = virtio ? Int32Array.from({ length: Q }, (_, q) => shm.vq[q].notify) : new Int32Array(0);
    this.last_kicks = Int32Array.from(this.kicks_at, (at) => shm.i32[at]);
    this.ctl_t = control === null ? Infinity : first_control_ns;
    for (let cpu = 0; cpu < n; cpu++) this.i32[this.context_at[cpu]] = CTX_IDLE_POLL;
    this.set_clock(SIM_T0_NS);
    this.gen = new TrafficGenerator(shm, () => this.dev_t, frames);
    this.gen.start();
  }

  // ------------------------------------------------------------------ the scheduler

  /**
   * Run until every generated packet is accounted for, or for `max_turns` turns of the
   * scheduler at most (then SIM_RUNNING: call again to go on; slicing a run changes nothing
   * in it). Returns SIM_DRAINED, SIM_STUCK, SIM_NO_PROGRESS, SIM_INTERRUPTED (interrupt()'s
   * drain bound hit) or SIM_RUNNING; end_ns is the virtual time it ended at.
   */
  run(max_turns = Infinity): number {
    // One thread runs every CPU: no lock is ever contended (spinlock.ts's single_threaded).
    spin_single_threaded(true);
    try {
      return this.run_turns(max_turns);
    } finally {
      spin_single_threaded(false);
    }
  }

  private run_turns(max_turns: number): number {
    const watchdog_ns = this.cfg.watchdog_s * 1e9;
    for (let turn = 0; turn < max_turns; turn++, this.turn++) {
      const e = this.pick(Infinity);
      if (e < 0) {
        this.end_ns = this.max_clock();
        // Interrupted: what cannot move any more is in flight (dropped.interrupted), as at the bound.
        return this.drained() ? SIM_DRAINED : Number.isFinite(this.drain_deadline_ns) ? SIM_INTERRUPTED : SIM_STUCK;
      }
      const now = this.eff(e);
      if (now > this.drain_deadline_ns) {
        this.end_ns = this.max_clock();
        return SIM_INTERRUPTED;
      }
      this.run_entity(e);
      if (this.i32[this.gen_done_at] !== 0 && this.drained()) {
        this.end_ns = e < this.ncpu ? this.clk[e] : this.max_clock();
        return SIM_DRAINED;
      }
      if ((this.turn & 1023) === 0) {
        // The virtual watchdog: packets must keep moving while virtual time advances.
        const p = this.progress();
        if (p !== this.progress_last) {
          this.progress_last = p;
          this.progress_t = now;
        } else if (now - this.progress_t > watchdog_ns) {
          this.end_ns = now;
          return SIM_NO_PROGRESS;
        }
      }
    }
    return SIM_RUNNING;
  }

  /**
   * An interrupted run: the device stops generating now (its generation ends as if --packets
   * were reached) and the CPUs drain what is in flight, for `drain_ns` of virtual time at
   * most; run() then returns SIM_INTERRUPTED with packets still in flight.
   */
  interrupt(drain_ns: number): void {
    Atomics.store(this.i32, this.shm.ctlI + this.shm.layout.CTL.gen_stop, 1);
    device_stop(this);
    this.drain_deadline_ns = this.max_clock() + drain_ns;
  }

  /** Virtual ns since the first step (the furthest clock). */
  elapsed_ns(): number {
    return this.max_clock() - SIM_T0_NS;
  }

  /** The entity to run next: the smallest effective time below `limit`, ties by the seed. */
  private pick(limit: number): number {
    let best = -1;
    let bt = limit;
    let ties = 0;
    const E = this.ncpu + 2;
    for (let e = 0; e < E; e++) {
      if (this.on_stack[e] !== 0) continue;
      const t = this.eff(e);
      if (t < bt) {
        best = e;
        bt = t;
        ties = 1;
      } else if (t === bt && best >= 0) {
        ties++;
        if ((this.prng.nextI32() >>> 0) % ties === 0) best = e;
      }
    }
    return bt === Infinity ? -1 : best;
  }

  /** When entity e can next run (Infinity: not until someone wakes it). */
  private eff(e: number): number {
    if (e < this.ncpu) {
      const t = this.clk[e];
      if (this.idle[e] === 0) return t;
      let d = this.due_irq[e];
      if (this.due_ipi[e] < d) d = this.due_ipi[e];
      if (this.due_resched[e] < d) d = this.due_resched[e];
      const nt = napi_timer_next_ns(this.shm, e);
      if (nt < d) d = nt;
      const w = delayed_work_due(this.shm, e);
      if (w >= 0) {
        const wt = Math.ceil((w * 1e9) / this.cfg.hz);
        if (wt < d) d = wt;
      }
      return d > t ? d : t;
    }
    if (e === this.ncpu) return device_next_ns(this);
    return this.ctl_t;
  }

  private run_entity(e: number): void {
    this.on_stack[e] = 1;
    this.depth++;
    this.steps++;
    if (e < this.ncpu) this.run_cpu(e);
    else if (e === this.ncpu) run_device(this);
    else this.run_control();
    this.depth--;
    this.on_stack[e] = 0;
  }

  /**
   * An interrupt window of CPU `cpu` (called by the kernel through env.irq_window, in softirq
   * context): charge, let the entities behind this CPU catch up, then take due interrupts
   * unless the adversary holds them back.
   */
  irq_window(cpu: number): void {
    charge(this, cpu);
    this.scan(this.clk[cpu]);
    this.yield_from(cpu);
    this.set_clock(this.clk[cpu]);
    if (!this.irq_due(cpu)) return;
    if (adversary_holds_irqs(this.adversary, this.prng, this.skips[cpu])) {
      this.skips[cpu] += 1;
      return;
    }
    this.skips[cpu] = 0;
    this.handle_irqs(cpu, this.ctx[cpu]);
  }

  /** Run the entities whose clocks are behind CPU `cpu`'s (nested), so the CPUs stay level. */
  private yield_from(cpu: number): void {
    if (this.depth >= MAX_DEPTH) return;
    const limit = this.clk[cpu] + adversary_lookahead_ns(this.adversary, this.prng);
    for (;;) {
      const e = this.pick(limit);
      if (e < 0) return;
      this.run_entity(e);
    }
  }

  /**
   * A point where a real CPU thread could lose its core without holding a lock: right after
   * sending an IPI (always), and per skb inside the stack (env.burn_ns, ip_rcv, before the
   * socket lookup) when the adversary chooses. The entities behind this CPU run; unlike an
   * interrupt window, no interrupt is delivered here (the emulated CPU takes them only at
   * its check points, as in threads mode).
   */
  /** Per skb in the stack: a race point every geometric(p_midyield) skbs (one decrement each). */
  stack_point(cpu: number): void {
    const left = this.midyield_left[cpu] - 1;
    if (left > 0) {
      this.midyield_left[cpu] = left;
      return;
    }
    this.midyield_left[cpu] = adversary_midyield_gap(this.adversary, this.prng);
    if (left === 0) this.race_point(cpu, 1);
  }

  race_point(cpu: number, p: number): void {
    if (p === 0 || (p < 1 && this.prng.nextFloat() >= p)) return;
    charge(this, cpu);
    this.scan(this.clk[cpu]);
    this.yield_from(cpu);
    this.set_clock(this.clk[cpu]);
  }

  // ------------------------------------------------------------------ a CPU

  private run_cpu(cpu: number): void {
    if (this.idle[cpu] !== 0) {
      // Wake: the time asleep is idle time.
      const t = this.eff(cpu);
      this.f64[this.kc[cpu].sdF + this.busy_field[CTX_IDLE]] += t - this.clk[cpu];
      this.clk[cpu] = t;
      this.idle[cpu] = 0;
    }
    const t = this.clk[cpu];
    this.set_clock(t);
    if (this.due_resched[cpu] <= t) this.due_resched[cpu] = Infinity;
    const did = this.cpu_step(cpu);
    charge(this, cpu);
    this.scan(this.clk[cpu]);
    if (!did) {
      this.idle[cpu] = 1;
      this.i32[this.context_at[cpu]] = CTX_IDLE_POLL;
    }
  }

  /** One turn of the CPU loop (runtime.ts's step): interrupts, softirqs, one task slice. */
  private cpu_step(cpu: number): boolean {
    const c = this.kc[cpu];
    if (this.irq_due(cpu)) {
      this.handle_irqs(cpu, CTX_IDLE);
      return true;
    }
    if (softirq_due(c)) {
      // Raised outside an interrupt: run it as irq exit would.
      this.switch_ctx(cpu, CTX_SOFTIRQ);
      invoke_softirq(c);
      this.switch_ctx(cpu, CTX_IDLE);
      return true;
    }
    if (napi_timers_armed(this.shm, cpu) && napi_timer_next_ns(this.shm, cpu) <= this.clk[cpu]) {
      // The napi timer's interrupt (gro_flush_timeout): napi_watchdog, softirqs on irq exit.
      this.switch_ctx(cpu, CTX_HARDIRQ);
      napi_timers_run(c, this.clk[cpu]);
      if (softirq_due(c)) {
        this.switch_ctx(cpu, CTX_SOFTIRQ);
        invoke_softirq(c);
      }
      this.switch_ctx(cpu, CTX_IDLE);
      return true;
    }
    if (work_queued_here(c)) {
      // A delayed work item (virtio's refill) in a kworker: process context, task time.
      this.switch_ctx(cpu, CTX_TASK);
      const ran = run_delayed_work(c);
      this.switch_ctx(cpu, CTX_IDLE);
      if (ran) return true;
    }
    return this.schedule(cpu);
  }

  private irq_due(cpu: number): boolean {
    const t = this.clk[cpu];
    return this.due_irq[cpu] <= t || this.due_ipi[cpu] <= t;
  }

  /**
   * Take the due interrupts (hardirq context): device vectors, then the RPS IPI; on irq exit
   * run softirqs unless we interrupted softirq processing or ksoftirqd owns them (5.10).
   */
  private handle_irqs(cpu: number, prev: number): void {
    const c = this.kc[cpu];
    const SD = c.SD;
    const i32 = this.i32;
    const t = this.clk[cpu];
    this.switch_ctx(cpu, CTX_HARDIRQ);
    if (this.due_irq[cpu] <= t) {
      this.due_irq[cpu] = Infinity;
      i32[this.doorbell_at[cpu]] = 0;
      do_IRQ_pending(c, Atomics.exchange(i32, c.sd + SD.vec_pending0, 0), 0);
      do_IRQ_pending(c, Atomics.exchange(i32, c.sd + SD.vec_pending1, 0), 32);
    }
    if (this.due_ipi[cpu] <= t) {
      this.due_ipi[cpu] = Infinity;
      rps_trigger_softirq(c);
    }
    // irq_exit: softirqs run here unless we interrupted softirq processing or ksoftirqd owns them.
    if (softirq_due(c)) {
      this.switch_ctx(cpu, CTX_SOFTIRQ);
      invoke_softirq(c);
    }
    this.switch_ctx(cpu, prev);
  }

  /**
   * A busy poller about to read a ring: charge what it did, then, if its clock is behind the
   * device's last write (the device ran nested under another CPU meanwhile), spin up to it:
   * a frame is not seen before it was written.
   */
  busy_poll_sync(cpu: number): void {
    charge(this, cpu);
    const behind = this.dev_write_t - this.clk[cpu];
    if (behind <= 0) return;
    this.clk[cpu] += behind;
    this.f64[this.kc[cpu].sdF + this.busy_field[this.ctx[cpu]]] += behind;
  }

  /** local_bh_enable in process context: pending softirqs run now, in softirq context. */
  do_softirq(cpu: number): void {
    const c = this.kc[cpu];
    if (!softirq_due(c)) return;
    const prev = this.ctx[cpu];
    this.switch_ctx(cpu, CTX_SOFTIRQ);
    invoke_softirq(c);
    this.switch_ctx(cpu, prev);
  }

  /** One scheduling decision (runtime.ts's schedule): one slice of the next runnable task. */
  private schedule(cpu: number): boolean {
    const c = this.kc[cpu];
    charge(this, cpu);
    this.rq.exec[2 * cpu] = this.f64[c.sdF + c.SD.busy_ksoftirqd_ns];
    this.rq.exec[2 * cpu + 1] = this.f64[c.sdF + c.SD.busy_task_ns];
    const t = this.rq.schedule(cpu, cpu, c.softirq_pending, this.cpu_jiffies(cpu));
    if (t === PICK_NONE) return false;
    if (t === PICK_KSOFTIRQD) {
      this.switch_ctx(cpu, CTX_KSOFTIRQD);
      run_ksoftirqd(c);
    } else {
      this.switch_ctx(cpu, CTX_TASK);
      if (t < this.shm.layout.taskCount) task_recvmsg(c, t);
      else cpu_map_kthread_slice(c, t - this.shm.layout.taskCount); // a cpumap kthread (kernel/xdp.ts)
    }
    this.switch_ctx(cpu, CTX_IDLE);
    return true;
  }

  /** Charge what was done so far to the context we leave, then enter `next`. */
  private switch_ctx(cpu: number, next: number): void {
    charge(this, cpu);
    // A step's first context pays the turn of the loop (so every step advances time).
    if (this.ctx[cpu] === CTX_IDLE && next !== CTX_IDLE) this.acc[cpu] += this.cost.step_ns;
    this.ctx[cpu] = next;
    this.i32[this.context_at[cpu]] = next;
  }

  /** Notice what the last actor did to others: rung doorbells, a refilled ring, a held vector. */
  scan(now: number): void {
    const i32 = this.i32;
    const n = this.ncpu;
    for (let cpu = 0; cpu < n; cpu++) {
      if (this.due_irq[cpu] === Infinity && i32[this.doorbell_at[cpu]] !== 0) {
        this.due_irq[cpu] = now + adversary_latency(this.adversary, this.prng, this.cost.irq_latency_ns);
      }
    }
    device_notice(this, now);
  }

  /** smp_call_function_single_async from `from` to `to`: due after the IPI latency. */
  post_ipi(from: number, to: number): void {
    const t = this.clk[from] + adversary_latency(this.adversary, this.prng, this.cost.ipi_latency_ns);
    if (t < this.due_ipi[to]) this.due_ipi[to] = t;
  }

  /** The reschedule IPI: only an idle CPU needs it (a busy one schedules at its next step). */
  post_resched(from: number, to: number): void {
    if (this.idle[to] === 0) return;
    const t = this.clk[from] + adversary_latency(this.adversary, this.prng, this.cost.ipi_latency_ns);
    if (t < this.due_resched[to]) this.due_resched[to] = t;
  }

  /** CFS's need_resched for what runs on `cpu`, on its exec clock charged up to now. */
  need_resched(cpu: number): boolean {
    charge(this, cpu);
    const c = this.kc[cpu];
    this.rq.exec[2 * cpu] = this.f64[c.sdF + c.SD.busy_ksoftirqd_ns];
    this.rq.exec[2 * cpu + 1] = this.f64[c.sdF + c.SD.busy_task_ns];
    return this.rq.need_resched(cpu, cpu, c.softirq_pending, this.cpu_jiffies(cpu));
  }

  /** The tick as CPU `cpu`'s own clock has it (the shared slot is set only at step starts). */
  private cpu_jiffies(cpu: number): number {
    return Math.floor((this.clk[cpu] * this.cfg.hz) / 1e9);
  }

  wakeup_softirqd(cpu: number): void {
    if (this.ksoftirqd[cpu] !== 0) return;
    this.ksoftirqd[cpu] = 1;
    this.kc[cpu].count(this.kc[cpu].SD.ksoftirqd_wakeups);
  }

  // ------------------------------------------------------------------ control, time, state

  private run_control(): void {
    const t = this.ctl_t;
    this.set_clock(t);
    this.ctl_t = this.control!(this.shm, t);
    if (!(this.ctl_t > t)) this.ctl_t = Infinity;
    this.scan(t);
  }

  /** The timer tick's job, for the entity about to run: shared clock and jiffies. */
  set_clock(t: number): void {
    this.f64[this.clock_at] = t;
    this.i32[this.jiffies_at] = Math.floor((t * this.cfg.hz) / 1e9);
  }

  private max_clock(): number {
    let t = this.dev_t;
    for (let c = 0; c < this.ncpu; c++) if (this.clk[c] > t) t = this.clk[c];
    return t;
  }

  /**
   * Drained, as engine/result.ts accounted() has it (without the object): every generated
   * packet delivered or dropped, and every delivered packet read by its application.
   */
  private drained(): boolean {
    return this.shm.packetsDone() === this.f64[this.generated_at] && this.unread() === 0;
  }

  /** Delivered to sockets and not yet taken by recvmsg. */
  private unread(): number {
    return this.shm.sdSum(this.shm.layout.SD.delivered) - this.read();
  }

  /** Taken by the applications' recvmsg. */
  private read(): number {
    return this.shm.sdSum(this.shm.layout.SD.recvmsg_packets);
  }

  private progress(): number {
    return this.f64[this.generated_at] + this.shm.packetsDone() + this.read();
  }

  /** After the run: idle time up to the end, skb caches back to the pool (as offline()). */
  finish(): void {
    const end = this.end_ns;
    for (let cpu = 0; cpu < this.ncpu; cpu++) {
      const c = this.kc[cpu];
      if (this.idle[cpu] !== 0 && end > this.clk[cpu]) {
        this.f64[c.sdF + this.busy_field[CTX_IDLE]] += end - this.clk[cpu];
        this.clk[cpu] = end;
      }
      this.i32[this.context_at[cpu]] = CTX_IDLE;
      c.cache.drain();
    }
  }

  /** Per CPU, what the scheduler knows (for a stuck run's report). */
  describe(): string {
    const lines: string[] = [`sim: adversary level ${this.adversary.level}, ${this.steps} steps, ${device_describe(this)}`];
    for (let c = 0; c < this.ncpu; c++) {
      lines.push(
        `  cpu ${c}: clock ${Math.round(this.clk[c])} ns, ${this.idle[c] ? 'idle' : 'running'}, irq due ${this.due_irq[c]}, ipi due ${this.due_ipi[c]}, ` +
          `softirq pending ${this.kc[c].softirq_pending}, ksoftirqd ${this.ksoftirqd[c]}`,
      );
    }
    return lines.join('\n');
  }
}
