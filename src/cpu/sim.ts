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
// what is due by its clock). A step's cost is charged to the CPU's clock from the cost model
// (cost_model.ts): deltas of its own softnet counters (hardirqs, net_rx_softirqs, gro_merged,
// flow_dissected, enqueues, processed, delivered, recvmsg_packets, IPIs), descriptors cleaned
// (next_to_clean deltas) and env.burn_ns (the --stack-cost-ns stand-in), times a seeded jitter.
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
// spread of interrupt and IPI latencies, the probability that a window holds interrupts back
// (at most MAX_WINDOW_SKIPS in a row), how far ahead a preempting entity may run, how often
// a CPU is preempted inside the stack, and how often the device publishes RDH after a short
// burst (1..63 packets) instead of 64.
//
// Hot path: per step, no objects, closures or arrays; all state is in typed arrays allocated
// here; the PRNG draws integers/floats from a Uint32Array state.

import type { CpuEnv } from '../kernel/env.js';
import { KCpu } from '../kernel/percpu.js';
import { do_IRQ_pending } from '../kernel/irq.js';
import { rps_trigger_softirq } from '../kernel/dev.js';
import { invoke_softirq, softirq_due, run_ksoftirqd } from '../kernel/softirq.js';
import { task_recvmsg } from '../kernel/sock.js';
import { cpu_map_kthread_slice } from '../kernel/xdp.js';
import { delayed_work_due, run_delayed_work, work_queued_here } from '../kernel/workqueue.js';
import { CfsRq, PICK_KSOFTIRQD, PICK_NONE } from './sched.js';
import { napi_timer_next_ns, napi_timers_armed, napi_timers_run } from '../kernel/napi_timer.js';
import type { Shm } from '../shm/memory.js';
import { nicModel } from '../config/nics.js';
import { msix_throttled } from '../shm/msix.js';
import { spin_single_threaded } from '../shm/spinlock.js';
import { CTX_HARDIRQ, CTX_IDLE, CTX_IDLE_POLL, CTX_KSOFTIRQD, CTX_SOFTIRQ, CTX_TASK } from '../shm/layout.js';
import { TCP_STALL_WAIT_NS, TrafficGenerator } from '../devices/generator.js';
import type { FlowFrames } from '../devices/frames.js';
import { Prng } from '../lib/prng.js';
import type { CostModel } from './cost_model.js';
import { kernel_boot, latencySink, newLatencyHistogram } from './worker_main.js';
import type * as hdr from 'hdr-histogram-js';

/** Virtual time of the first step: ns 0 stands for "no timestamp" in the skb. */
export const SIM_T0_NS = 1_000_000;
const DEVICE_BURST = 64;
const MAX_WINDOW_SKIPS = 4;
/** Entities suspended on the stack at once, at most (each nested step is a few frames). */
const MAX_DEPTH = 80;

const DEV_RUN = 0; // generating: runs at dev_t
const DEV_WAIT = 1; // closed loop, no free descriptor: waits for an RDT move
const DEV_DONE = 2; // generation over, nothing to service
const DEV_ITR = 3; // generation over, a vector held back by the ITR throttle: services at dev_t

export const SIM_DRAINED = 0;
export const SIM_STUCK = 1; // packets in flight, nothing can run (a lost interrupt, a dry ring)
export const SIM_NO_PROGRESS = 2; // virtual time runs on, no packet moves (watchdog_s of virtual time)
export const SIM_INTERRUPTED = 3; // interrupt()'s drain bound hit with packets in flight
export const SIM_RUNNING = 4; // run()'s turn budget used up: call it again

/** The seed's adversary: how hard the scheduler pushes on the interleavings. */
export interface Adversary {
  level: number;
  jitter: number; // step cost × (1 + jitter·u)
  spread: number; // delivery latency × (1 + spread·u)
  p_hold: number; // probability an interrupt window holds due interrupts back
  p_preempt: number; // probability a window lets an entity up to lookahead_ns ahead run first
  lookahead_ns: number;
  p_midyield: number; // probability the host "preempts" this CPU inside the stack (per env.burn_ns)
  p_short_burst: number; // probability a device burst is cut short (RDH published after 1..63 packets)
}

const ADVERSARIES: readonly Omit<Adversary, 'level'>[] = [
  { jitter: 0.02, spread: 0, p_hold: 0, p_preempt: 0, lookahead_ns: 0, p_midyield: 0, p_short_burst: 0 },
  { jitter: 0.1, spread: 1, p_hold: 0.1, p_preempt: 0.05, lookahead_ns: 2_000, p_midyield: 0.02, p_short_burst: 0.1 },
  { jitter: 0.3, spread: 4, p_hold: 0.3, p_preempt: 0.2, lookahead_ns: 10_000, p_midyield: 0.1, p_short_burst: 0.3 },
  { jitter: 0.5, spread: 10, p_hold: 0.6, p_preempt: 0.4, lookahead_ns: 50_000, p_midyield: 0.3, p_short_burst: 0.5 },
];

/** The run's control schedule (engine side): called at its due time, returns the next one. */
export type ControlHook = (shm: Shm, t_ns: number) => number;

/** One CPU's environment: a thin handle the kernel calls into; the machine does the work. */
class SimEnv implements CpuEnv {
  constructor(
    private readonly m: SimMachine,
    private readonly cpu: number,
  ) {}
  now_ns(): number {
    return this.m.clk[this.cpu]!;
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
    this.m.acc[this.cpu]! += ns;
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
  private readonly prng: Prng;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  // Per CPU (typed arrays, allocated once).
  readonly clk: Float64Array;
  readonly acc: Float64Array; // burn_ns not yet charged
  readonly ksoftirqd: Uint8Array;
  private readonly due_irq: Float64Array;
  private readonly due_ipi: Float64Array;
  private readonly due_resched: Float64Array;
  private readonly idle: Uint8Array;
  private readonly ctx: Int32Array;
  /** The CPUs' CFS runqueues (index = CPU). */
  readonly rq: CfsRq;
  private readonly skips: Int32Array;
  private readonly midyield_left: Int32Array; // skbs until the next stack race point, per CPU
  private readonly snap: Float64Array; // per CPU × cost field: counter value at the last charge
  private readonly doorbell_at: Int32Array;
  private readonly context_at: Int32Array;
  private readonly busy_field: Int32Array;
  // The priced counters: softnet_data f64 field indices and their ns each.
  private readonly fld: Int32Array;
  private readonly w: Float64Array;
  private readonly K: number;
  // Per queue: next_to_clean at the last charge (whoever charged), RDT when the device blocked.
  private readonly last_ntc: Int32Array;
  private readonly ntc_at: Int32Array;
  private readonly rdt_at: Int32Array;
  private readonly dev_rdt: Int32Array;

  // Entities: 0..ncpu-1 CPUs, ncpu the device, ncpu+1 the control schedule.
  private readonly on_stack: Uint8Array;
  private depth = 0;
  private dev_t = SIM_T0_NS;
  /** The device's clock at its last burst that wrote frames (a busy poller syncs to it: busy_poll_sync). */
  dev_write_t = SIM_T0_NS;
  private dev_state = DEV_RUN;
  private ctl_t = Infinity;
  private readonly clock_at: number;
  private readonly jiffies_at: number;
  private readonly generated_at: number;
  private readonly gen_done_at: number;
  private readonly itr_ns: number;
  /** The device's cost per packet: the wire, and with virtio QEMU's receive path. */
  private readonly device_ns: number;
  /** virtio: each queue's notify register at the last charge (the guest's kicks are priced). */
  private readonly kicks_at: Int32Array;
  private readonly last_kicks: Int32Array;
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
    const L = shm.layout;
    const sd = L.sd;
    this.i32 = shm.i32;
    this.f64 = shm.f64;
    kernel_boot(shm);
    this.prng = new Prng(sched_seed).fork(0x5151);
    const level = this.prng.nextInt(ADVERSARIES.length);
    this.adversary = { level, ...ADVERSARIES[level]! };
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
    this.doorbell_at = Int32Array.from({ length: n }, (_, c) => shm.sdI[c]! + sd.doorbell);
    this.context_at = Int32Array.from({ length: n }, (_, c) => shm.sdI[c]! + sd.context);
    this.busy_field = Int32Array.of(sd.idle_ns, sd.busy_hardirq_ns, sd.busy_softirq_ns, sd.busy_ksoftirqd_ns, sd.busy_task_ns, sd.idle_ns);
    const priced: [number, number][] = [
      [sd.hardirqs, cost.hardirq_ns],
      [sd.ipis_received, cost.hardirq_ns],
      [sd.net_rx_softirqs, cost.softirq_ns],
      [sd.gro_merged, cost.gro_merge_ns],
      [sd.flow_dissected, cost.flow_dissect_ns],
      [sd.enqueue_local, cost.hash_ns + cost.enqueue_ns],
      [sd.enqueue_remote, cost.hash_ns + cost.enqueue_ns + cost.lock_handoff_ns],
      [sd.drop_backlog, cost.hash_ns + cost.enqueue_ns],
      [sd.drop_flow_limit, cost.hash_ns + cost.enqueue_ns],
      [sd.processed, cost.process_ns],
      [sd.delivered, cost.delivery_ns],
      [sd.recvmsg_packets, cost.recvmsg_ns],
      [sd.ipis_sent, cost.ipi_send_ns],
      [sd.tap_packets, cost.tap_ns],
      // --xdp and busy polling (all 0 without them: a field that never moves costs nothing)
      [sd.xdp_runs, cost.xdp_run_ns],
      [sd.xdp_insns, cost.xdp_insn_ns],
      [sd.xdp_redirect, cost.cpumap_enqueue_ns],
      [sd.cpumap_kthread_packets, cost.cpumap_kthread_ns],
      [sd.busy_poll_passes, cost.busy_poll_ns],
    ];
    this.K = priced.length;
    this.fld = Int32Array.from(priced, (p) => p[0]);
    this.w = Float64Array.from(priced, (p) => p[1]);
    this.snap = new Float64Array(n * this.K);
    const Q = cfg.queues;
    const R = L.rxq;
    this.ntc_at = Int32Array.from({ length: Q }, (_, q) => shm.rxqI[q]! + R.next_to_clean);
    // What a waiting device watches: RDT, or (virtio) the queue's notify register, the kick.
    const virtio = nicModel(cfg.nic).rx_queue === 'virtqueue';
    this.rdt_at = Int32Array.from({ length: Q }, (_, q) => (virtio ? shm.vq[q]!.notify : shm.rxqI[q]! + R.rdt));
    this.last_ntc = Int32Array.from(this.ntc_at, (at) => shm.i32[at]!);
    this.dev_rdt = new Int32Array(Q);
    this.on_stack = new Uint8Array(n + 2);
    this.clock_at = L.ctl.base / 8 + L.ctl.clock_ns;
    this.jiffies_at = shm.ctlI + L.ctl.jiffies;
    this.generated_at = shm.ctlF + L.ctl.generated;
    this.gen_done_at = shm.ctlI + L.ctl.gen_done;
    // The ITR timer's step: a fixed interval's, or under adaptive ITR (rx-usecs 1, whose EITR
    // moves from 10 to 126 µs) EITR's 2 µs granularity.
    this.itr_ns = cfg.rx_usecs === 1 ? 2000 : cfg.rx_usecs * 1000;
    this.device_ns = cost.device_ns + (virtio ? cost.virtio_device_ns : 0);
    this.kicks_at = virtio ? Int32Array.from({ length: Q }, (_, q) => shm.vq[q]!.notify) : new Int32Array(0);
    this.last_kicks = Int32Array.from(this.kicks_at, (at) => shm.i32[at]!);
    this.ctl_t = control === null ? Infinity : first_control_ns;
    for (let cpu = 0; cpu < n; cpu++) this.i32[this.context_at[cpu]!] = CTX_IDLE_POLL;
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
        this.end_ns = e < this.ncpu ? this.clk[e]! : this.max_clock();
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
    Atomics.store(this.i32, this.shm.ctlI + this.shm.layout.ctl.gen_stop, 1);
    if (this.dev_state === DEV_RUN || this.dev_state === DEV_WAIT) {
      this.set_clock(this.dev_t);
      this.gen.burst(0, false); // sees gen_stop: sets gen_done
      this.dev_state = this.itr_ns > 0 && this.any_throttled() ? DEV_ITR : DEV_DONE;
      // virtio: packets held in QEMU's net queues still go to the guest as it kicks.
      if (this.dev_state === DEV_DONE && this.gen.virtio?.any_held()) this.wait_kick();
    }
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
      const t = this.clk[e]!;
      if (this.idle[e] === 0) return t;
      let d = this.due_irq[e]!;
      if (this.due_ipi[e]! < d) d = this.due_ipi[e]!;
      if (this.due_resched[e]! < d) d = this.due_resched[e]!;
      const nt = napi_timer_next_ns(this.shm, e);
      if (nt < d) d = nt;
      const w = delayed_work_due(this.shm, e);
      if (w >= 0) {
        const wt = Math.ceil((w * 1e9) / this.cfg.hz);
        if (wt < d) d = wt;
      }
      return d > t ? d : t;
    }
    if (e === this.ncpu) return this.dev_state === DEV_RUN || this.dev_state === DEV_ITR ? this.dev_t : Infinity;
    return this.ctl_t;
  }

  private run_entity(e: number): void {
    this.on_stack[e] = 1;
    this.depth++;
    this.steps++;
    if (e < this.ncpu) this.run_cpu(e);
    else if (e === this.ncpu) this.run_device();
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
    this.charge(cpu);
    this.scan(this.clk[cpu]!);
    this.yield_from(cpu);
    this.set_clock(this.clk[cpu]!);
    if (!this.irq_due(cpu)) return;
    const a = this.adversary;
    if (a.p_hold > 0 && this.skips[cpu]! < MAX_WINDOW_SKIPS && this.prng.nextFloat() < a.p_hold) {
      this.skips[cpu]! += 1;
      return;
    }
    this.skips[cpu] = 0;
    this.handle_irqs(cpu, this.ctx[cpu]!);
  }

  /** Run the entities whose clocks are behind CPU `cpu`'s (nested), so the CPUs stay level. */
  private yield_from(cpu: number): void {
    if (this.depth >= MAX_DEPTH) return;
    const a = this.adversary;
    let limit = this.clk[cpu]!;
    if (a.p_preempt > 0 && this.prng.nextFloat() < a.p_preempt) limit += a.lookahead_ns * this.prng.nextFloat();
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
    const left = this.midyield_left[cpu]! - 1;
    if (left > 0) {
      this.midyield_left[cpu] = left;
      return;
    }
    this.midyield_left[cpu] = this.geometric(this.adversary.p_midyield);
    if (left === 0) this.race_point(cpu, 1);
  }

  /** Trials up to the first success, success probability p (a huge count when p is 0). */
  private geometric(p: number): number {
    if (p <= 0) return 0x3fffffff;
    const u = 1 - this.prng.nextFloat(); // (0, 1]
    const n = 1 + Math.floor(Math.log(u) / Math.log(1 - p));
    return n < 0x3fffffff ? n : 0x3fffffff;
  }

  race_point(cpu: number, p: number): void {
    if (p === 0 || (p < 1 && this.prng.nextFloat() >= p)) return;
    this.charge(cpu);
    this.scan(this.clk[cpu]!);
    this.yield_from(cpu);
    this.set_clock(this.clk[cpu]!);
  }

  // ------------------------------------------------------------------ a CPU

  private run_cpu(cpu: number): void {
    if (this.idle[cpu] !== 0) {
      // Wake: the time asleep is idle time.
      const t = this.eff(cpu);
      this.f64[this.kc[cpu]!.sdF + this.busy_field[CTX_IDLE]!]! += t - this.clk[cpu]!;
      this.clk[cpu] = t;
      this.idle[cpu] = 0;
    }
    const t = this.clk[cpu]!;
    this.set_clock(t);
    if (this.due_resched[cpu]! <= t) this.due_resched[cpu] = Infinity;
    const did = this.cpu_step(cpu);
    this.charge(cpu);
    this.scan(this.clk[cpu]!);
    if (!did) {
      this.idle[cpu] = 1;
      this.i32[this.context_at[cpu]!] = CTX_IDLE_POLL;
    }
  }

  /** One turn of the CPU loop (runtime.ts's step): interrupts, softirqs, one task slice. */
  private cpu_step(cpu: number): boolean {
    const c = this.kc[cpu]!;
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
    if (napi_timers_armed(this.shm, cpu) && napi_timer_next_ns(this.shm, cpu) <= this.clk[cpu]!) {
      // The napi timer's interrupt (gro_flush_timeout): napi_watchdog, softirqs on irq exit.
      this.switch_ctx(cpu, CTX_HARDIRQ);
      napi_timers_run(c, this.clk[cpu]!);
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
    const t = this.clk[cpu]!;
    return this.due_irq[cpu]! <= t || this.due_ipi[cpu]! <= t;
  }

  /**
   * Take the due interrupts (hardirq context): device vectors, then the RPS IPI; on irq exit
   * run softirqs unless we interrupted softirq processing or ksoftirqd owns them (5.10).
   */
  private handle_irqs(cpu: number, prev: number): void {
    const c = this.kc[cpu]!;
    const sd = c.sd;
    const i32 = this.i32;
    const t = this.clk[cpu]!;
    this.switch_ctx(cpu, CTX_HARDIRQ);
    if (this.due_irq[cpu]! <= t) {
      this.due_irq[cpu] = Infinity;
      i32[this.doorbell_at[cpu]!] = 0;
      do_IRQ_pending(c, Atomics.exchange(i32, c.sdI + sd.vec_pending0, 0), 0);
      do_IRQ_pending(c, Atomics.exchange(i32, c.sdI + sd.vec_pending1, 0), 32);
    }
    if (this.due_ipi[cpu]! <= t) {
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
    this.charge(cpu);
    const behind = this.dev_write_t - this.clk[cpu]!;
    if (behind <= 0) return;
    this.clk[cpu]! += behind;
    this.f64[this.kc[cpu]!.sdF + this.busy_field[this.ctx[cpu]!]!]! += behind;
  }

  /** local_bh_enable in process context: pending softirqs run now, in softirq context. */
  do_softirq(cpu: number): void {
    const c = this.kc[cpu]!;
    if (!softirq_due(c)) return;
    const prev = this.ctx[cpu]!;
    this.switch_ctx(cpu, CTX_SOFTIRQ);
    invoke_softirq(c);
    this.switch_ctx(cpu, prev);
  }

  /** One scheduling decision (runtime.ts's schedule): one slice of the next runnable task. */
  private schedule(cpu: number): boolean {
    const c = this.kc[cpu]!;
    this.charge(cpu);
    this.rq.exec[2 * cpu] = this.f64[c.sdF + c.sd.busy_ksoftirqd_ns]!;
    this.rq.exec[2 * cpu + 1] = this.f64[c.sdF + c.sd.busy_task_ns]!;
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
    this.charge(cpu);
    // A step's first context pays the turn of the loop (so every step advances time).
    if (this.ctx[cpu] === CTX_IDLE && next !== CTX_IDLE) this.acc[cpu]! += this.cost.step_ns;
    this.ctx[cpu] = next;
    this.i32[this.context_at[cpu]!] = next;
  }

  /**
   * Advance CPU `cpu`'s clock by the cost of what it did since its last charge (counter
   * deltas × the cost model, descriptors cleaned, burn_ns), charged to its current context.
   * The caller then scan()s (at interrupt windows and step ends, not at every context
   * switch: an interrupt raised mid-step is stamped at most one step late).
   */
  private charge(cpu: number): void {
    const f64 = this.f64;
    const i32 = this.i32;
    const b = this.kc[cpu]!.sdF;
    let ns = this.acc[cpu]!;
    this.acc[cpu] = 0;
    const K = this.K;
    const base = cpu * K;
    for (let k = 0; k < K; k++) {
      const v = f64[b + this.fld[k]!]!;
      const d = v - this.snap[base + k]!;
      if (d !== 0) {
        ns += d * this.w[k]!;
        this.snap[base + k] = v;
      }
    }
    // Descriptors are cleaned only in driver code (softirq, or hardirq for netif_rx drivers).
    // (and a busy-polling task's napi_busy_loop, which runs the driver's poll in task context)
    const Q = this.ctx[cpu] === CTX_TASK && !this.kc[cpu]!.in_busy_poll ? 0 : this.ntc_at.length;
    const size = this.cfg.ring_size;
    for (let q = 0; q < Q; q++) {
      const ntc = i32[this.ntc_at[q]!]!;
      let d = ntc - this.last_ntc[q]!;
      if (d !== 0) {
        if (d < 0) d += size;
        ns += d * this.cost.desc_clean_ns;
        this.last_ntc[q] = ntc;
      }
    }
    // virtio: kicks since the last charge (only driver code kicks, as it cleans).
    for (let q = 0; q < this.kicks_at.length; q++) {
      const k = i32[this.kicks_at[q]!]!;
      if (k !== this.last_kicks[q]) {
        ns += (k - this.last_kicks[q]!) * this.cost.virtio_kick_ns;
        this.last_kicks[q] = k;
      }
    }
    if (ns > 0) {
      ns *= 1 + this.adversary.jitter * this.prng.nextFloat();
      this.clk[cpu]! += ns;
      f64[b + this.busy_field[this.ctx[cpu]!]!]! += ns;
    }
  }

  /** Notice what the last actor did to others: rung doorbells, a refilled ring, a held vector. */
  private scan(now: number): void {
    const i32 = this.i32;
    const n = this.ncpu;
    for (let cpu = 0; cpu < n; cpu++) {
      if (this.due_irq[cpu] === Infinity && i32[this.doorbell_at[cpu]!] !== 0) {
        this.due_irq[cpu] = now + this.latency(this.cost.irq_latency_ns);
      }
    }
    if (this.dev_state === DEV_WAIT) {
      // A vector the driver re-enabled inside its ITR interval: the device's timer fires it.
      if (this.itr_ns > 0 && this.any_throttled()) {
        this.dev_state = DEV_RUN;
        if (this.dev_t < now) this.dev_t = now;
        return;
      }
      const Q = this.rdt_at.length;
      for (let q = 0; q < Q; q++) {
        if (i32[this.rdt_at[q]!] !== this.dev_rdt[q]) {
          this.dev_state = DEV_RUN;
          if (this.dev_t < now) this.dev_t = now;
          break;
        }
      }
    } else if (this.dev_state === DEV_DONE && this.itr_ns > 0 && this.any_throttled()) {
      this.dev_state = DEV_ITR;
      if (this.dev_t < now) this.dev_t = now;
    }
  }

  private latency(ns: number): number {
    const s = this.adversary.spread;
    return s > 0 ? ns * (1 + s * this.prng.nextFloat()) : ns;
  }

  /** smp_call_function_single_async from `from` to `to`: due after the IPI latency. */
  post_ipi(from: number, to: number): void {
    const t = this.clk[from]! + this.latency(this.cost.ipi_latency_ns);
    if (t < this.due_ipi[to]!) this.due_ipi[to] = t;
  }

  /** The reschedule IPI: only an idle CPU needs it (a busy one schedules at its next step). */
  post_resched(from: number, to: number): void {
    if (this.idle[to] === 0) return;
    const t = this.clk[from]! + this.latency(this.cost.ipi_latency_ns);
    if (t < this.due_resched[to]!) this.due_resched[to] = t;
  }

  /** CFS's need_resched for what runs on `cpu`, on its exec clock charged up to now. */
  need_resched(cpu: number): boolean {
    this.charge(cpu);
    const c = this.kc[cpu]!;
    this.rq.exec[2 * cpu] = this.f64[c.sdF + c.sd.busy_ksoftirqd_ns]!;
    this.rq.exec[2 * cpu + 1] = this.f64[c.sdF + c.sd.busy_task_ns]!;
    return this.rq.need_resched(cpu, cpu, c.softirq_pending, this.cpu_jiffies(cpu));
  }

  /** The tick as CPU `cpu`'s own clock has it (the shared slot is set only at step starts). */
  private cpu_jiffies(cpu: number): number {
    return Math.floor((this.clk[cpu]! * this.cfg.hz) / 1e9);
  }

  wakeup_softirqd(cpu: number): void {
    if (this.ksoftirqd[cpu] !== 0) return;
    this.ksoftirqd[cpu] = 1;
    this.kc[cpu]!.count(this.kc[cpu]!.sd.ksoftirqd_wakeups);
  }

  // ------------------------------------------------------------------ the device

  private run_device(): void {
    this.set_clock(this.dev_t);
    if (this.dev_state === DEV_ITR) {
      // Generation is over; the ITR timer fires held-back vectors (burst(0) only services).
      this.gen.burst(0, false);
      if (this.any_throttled()) this.dev_t += this.itr_ns > 4000 ? this.itr_ns / 4 : 1000;
      else this.dev_state = DEV_DONE;
      this.scan(this.dev_t);
      return;
    }
    const cfg = this.cfg;
    const generated = this.f64[this.generated_at]!;
    // The ring publish (RDH) happens once per burst: the adversary varies where it falls.
    let n = DEVICE_BURST;
    const a = this.adversary;
    if (a.p_short_burst > 0 && this.prng.nextFloat() < a.p_short_burst) n = 1 + this.prng.nextInt(DEVICE_BURST - 1);
    if (cfg.packets - generated < n) n = cfg.packets - generated;
    const pps = this.gen.pace_pps;
    if (cfg.pcap_timing && n > 0) {
      // --pcap-timing: the capture's times (the generator's schedule, as threads mode keeps it).
      const due = this.gen.timed_count(this.dev_t - SIM_T0_NS, n);
      if (due === 0) {
        this.dev_t = SIM_T0_NS + Math.ceil(this.gen.replay_due_ns());
        if (this.itr_ns > 0) this.gen.burst(0, false);
        this.scan(this.dev_t);
        return;
      }
      n = due;
    } else if (pps !== 0) {
      const due = Math.floor(((this.dev_t - SIM_T0_NS) * pps) / 1e9) + 1 - generated;
      if (due <= 0) {
        this.dev_t = SIM_T0_NS + Math.ceil(((generated + 0.5) * 1e9) / pps);
        if (this.itr_ns > 0) this.gen.burst(0, false);
        this.scan(this.dev_t);
        return;
      }
      if (due < n) n = due;
    } else if (this.gen.wire.frame_ns !== 0) {
      // Closed loop behind a line rate: only what the wire has brought (devices/wire.ts).
      const avail = this.gen.wire.available(this.dev_t, generated);
      if (avail <= 0) {
        this.dev_t = this.gen.wire.next_ns();
        if (this.itr_ns > 0) this.gen.burst(0, false);
        this.scan(this.dev_t);
        return;
      }
      if (avail < n) n = avail;
    }
    // After generation (virtio: flushing held packets on a kick) the burst generates nothing.
    const got = this.gen.burst(n, false);
    if (got > 0) this.dev_write_t = this.dev_t;
    this.dev_t += (got > 0 ? got : 1) * this.device_ns;
    if (this.i32[this.gen_done_at] !== 0) {
      this.dev_state = this.itr_ns > 0 && this.any_throttled() ? DEV_ITR : DEV_DONE;
      // virtio: packets held in QEMU's net queues wait for the guest's kick.
      if (this.dev_state === DEV_DONE && this.gen.virtio?.any_held()) this.wait_kick();
    } else if (this.gen.stalled) {
      // Every TCP sender waits for its window (generator.ts): the wire idles until a reader runs.
      this.dev_t += TCP_STALL_WAIT_NS;
    } else if (got < n && cfg.rate === 0) {
      // Closed loop and the ring is full: wait for the driver to re-post (an RDT move).
      // With a vector held by its ITR throttle the device also polls, as its timer must fire.
      if (this.itr_ns > 0 && this.any_throttled()) {
        this.dev_t += this.itr_ns;
      } else {
        this.wait_kick();
      }
    }
    this.scan(this.dev_t);
  }

  /** Wait for the driver: an RDT move, or (virtio) a kick. */
  private wait_kick(): void {
    this.dev_state = DEV_WAIT;
    for (let q = 0; q < this.rdt_at.length; q++) this.dev_rdt[q] = this.i32[this.rdt_at[q]!]!;
  }

  private any_throttled(): boolean {
    for (let q = 0; q < this.cfg.queues; q++) if (msix_throttled(this.shm, q)) return true;
    return false;
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
  private set_clock(t: number): void {
    this.f64[this.clock_at] = t;
    this.i32[this.jiffies_at] = Math.floor((t * this.cfg.hz) / 1e9);
  }

  private max_clock(): number {
    let t = this.dev_t;
    for (let c = 0; c < this.ncpu; c++) if (this.clk[c]! > t) t = this.clk[c]!;
    return t;
  }

  /**
   * Drained, as engine/result.ts accounted() has it (without the object): every generated
   * packet delivered or dropped, and every delivered packet read by its application.
   */
  private drained(): boolean {
    return this.shm.packetsDone() === this.f64[this.generated_at]! && this.unread() === 0;
  }

  /** Delivered to sockets and not yet taken by recvmsg. */
  private unread(): number {
    return this.shm.sdSum(this.shm.layout.sd.delivered) - this.read();
  }

  /** Taken by the applications' recvmsg. */
  private read(): number {
    return this.shm.sdSum(this.shm.layout.sd.recvmsg_packets);
  }

  private progress(): number {
    return this.f64[this.generated_at]! + this.shm.packetsDone() + this.read();
  }

  /** After the run: idle time up to the end, skb caches back to the pool (as offline()). */
  finish(): void {
    const end = this.end_ns;
    for (let cpu = 0; cpu < this.ncpu; cpu++) {
      const c = this.kc[cpu]!;
      if (this.idle[cpu] !== 0 && end > this.clk[cpu]!) {
        this.f64[c.sdF + this.busy_field[CTX_IDLE]!]! += end - this.clk[cpu]!;
        this.clk[cpu] = end;
      }
      this.i32[this.context_at[cpu]!] = CTX_IDLE;
      c.cache.drain();
    }
  }

  /** Per CPU, what the scheduler knows (for a stuck run's report). */
  describe(): string {
    const lines: string[] = [
      `sim: adversary level ${this.adversary.level}, ${this.steps} steps, device ${['running', 'waiting for descriptors', 'done', 'servicing ITR'][this.dev_state]} at ${this.dev_t} ns`,
    ];
    for (let c = 0; c < this.ncpu; c++) {
      lines.push(
        `  cpu ${c}: clock ${Math.round(this.clk[c]!)} ns, ${this.idle[c] ? 'idle' : 'running'}, irq due ${this.due_irq[c]}, ipi due ${this.due_ipi[c]}, ` +
          `softirq pending ${this.kc[c]!.softirq_pending}, ksoftirqd ${this.ksoftirqd[c]}`,
      );
    }
    return lines.join('\n');
  }
}
