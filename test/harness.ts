// A deterministic, single-threaded machine for kernel tests: the real boot, the real device
// model and the real kernel code, driven step by step from the test. CPUs are KCpu objects
// with a TestEnv: IPIs and wake-ups are recorded, jiffies move only when the test says so.

import type { Config } from '../dist/src/config/schema.js';
import { configFromFlags } from '../dist/src/engine/configure.js';
import { boot } from '../dist/src/engine/boot.js';
import { kernel_boot } from '../dist/src/cpu/worker_main.js';
import { KCpu } from '../dist/src/kernel/percpu.js';
import type { CpuEnv } from '../dist/src/kernel/env.js';
import { do_IRQ_pending } from '../dist/src/kernel/irq.js';
import { rps_trigger_softirq } from '../dist/src/kernel/dev.js';
import { invoke_softirq, run_ksoftirqd, softirq_due } from '../dist/src/kernel/softirq.js';
import { TrafficGenerator } from '../dist/src/devices/generator.js';
import type { Shm } from '../dist/src/shm/memory.js';
import { IPI_RPS } from '../dist/src/cpu/runtime.js';
import { SD_DEF } from '../dist/src/shm/layout.js';
import { accounted } from '../dist/src/engine/result.js';

/** A Config from command-line option names (the project's own configFromFlags). */
export const config = configFromFlags;

export class TestEnv implements CpuEnv {
  ipis: number[] = [];
  wakes: number[] = [];
  ksoftirqd = false;
  /** jiffies added at every interrupt window (0: time stands still). */
  jiffies_per_window = 0;

  constructor(
    private readonly m: () => Machine,
    readonly cpu: number,
  ) {}

  now_ns(): number {
    return this.m().clock[0];
  }
  irq_window(): void {
    if (this.jiffies_per_window !== 0) this.m().tick(this.jiffies_per_window);
  }
  send_ipi(cpu: number): void {
    this.ipis.push(cpu);
    const shm = this.m().shm;
    Atomics.or(shm.i32, shm.sd[cpu] + shm.layout.SD.ipi_pending, IPI_RPS);
    Atomics.store(shm.i32, shm.sd[cpu] + shm.layout.SD.doorbell, 1);
  }
  wake_cpu(cpu: number): void {
    this.wakes.push(cpu);
  }
  wakeup_softirqd(): void {
    this.ksoftirqd = true;
  }
  ksoftirqd_running(): boolean {
    return this.ksoftirqd;
  }
  need_resched(): boolean {
    return false;
  }
  burn_ns(): void {}
  busy_poll_sync(): void {}
  do_softirq(): void {}
}

export class Machine {
  readonly shm: Shm;
  readonly cpus: KCpu[];
  readonly envs: TestEnv[];
  readonly gen: TrafficGenerator;
  readonly clock: Float64Array;
  readonly cfg: Config;

  /**
   * The machine has no wall clock: the device reads the machine's clock, which moves only with
   * tick(), so every outcome is the same on any host. Adaptive ITR (ixgbe's default
   * `--rx-usecs 1`) is off here, as `--rx-usecs 0`, so a test takes its interrupts without
   * ticking; ITR has its own sim-mode tests (itr_sched.test.ts).
   */
  constructor(cfg: Config) {
    this.cfg = cfg = cfg.rx_usecs === 1 ? { ...cfg, rx_usecs: 0 } : cfg;
    this.shm = boot(cfg);
    kernel_boot(this.shm);
    const L = this.shm.layout;
    this.clock = new Float64Array(this.shm.sab, L.CTL.base + L.CTL.clock_ns * 8, 1);
    this.envs = Array.from({ length: cfg.cpus }, (_, i) => new TestEnv(() => this, i));
    this.cpus = this.envs.map((env, i) => new KCpu(i, this.shm, env, { recordMany() {} }));
    this.gen = new TrafficGenerator(this.shm, () => this.clock[0]);
    this.gen.start();
  }

  /** Advance jiffies (and the clock) by n ticks. */
  tick(n = 1): void {
    const L = this.shm.layout;
    this.shm.i32[this.shm.ctlI + L.CTL.jiffies] += n;
    this.clock[0] += (n * 1e9) / this.cfg.hz;
  }

  /** Put up to n packets on the wire (stops early when a ring is full). */
  send(n: number): number {
    return this.gen.burst(n, false);
  }

  /** A softnet_data field of CPU `cpu` (counters are f64, the rest i32). */
  sd(cpu: number, field: Exclude<keyof Shm['layout']['SD'], 'stride'>): number {
    const idx = this.shm.layout.SD[field];
    return F64_SD_FIELDS.has(field) ? this.shm.f64[this.shm.sdF[cpu] + idx] : this.shm.i32[this.shm.sd[cpu] + idx];
  }

  /** Take CPU c's pending interrupts and IPIs (hardirq context), without running softirqs. */
  take_irqs(cpu: number): void {
    const c = this.cpus[cpu];
    const shm = this.shm;
    const sd = shm.layout.SD;
    Atomics.store(shm.i32, c.sd + sd.doorbell, 0);
    do_IRQ_pending(c, Atomics.exchange(shm.i32, c.sd + sd.vec_pending0, 0), 0);
    do_IRQ_pending(c, Atomics.exchange(shm.i32, c.sd + sd.vec_pending1, 0), 32);
    if (Atomics.exchange(shm.i32, c.sd + sd.ipi_pending, 0) & IPI_RPS) rps_trigger_softirq(c);
  }

  /**
   * Interrupts on CPU c, then its softirqs: on irq exit by the kernel's rule (softirq_due), or
   * else in ksoftirqd's turn, which the test machine gives at once.
   */
  run(cpu: number): void {
    this.take_irqs(cpu);
    const c = this.cpus[cpu];
    if (softirq_due(c)) invoke_softirq(c);
    else run_ksoftirqd(c);
  }

  /** Every generated packet delivered or counted in a drop? */
  conserved(): boolean {
    const a = accounted(this.shm);
    return a.generated === a.done;
  }

  /** Run every CPU until nothing is pending anywhere (bounded). */
  settle(rounds = 10_000): void {
    for (let r = 0; r < rounds; r++) {
      let busy = false;
      for (let cpu = 0; cpu < this.cfg.cpus; cpu++) {
        const c = this.cpus[cpu];
        const bell = Atomics.load(this.shm.i32, c.sd + this.shm.layout.SD.doorbell);
        if (bell !== 0 || c.softirq_pending !== 0) {
          busy = true;
          this.run(cpu);
        }
      }
      if (!busy) return;
    }
    throw new Error(`machine did not settle in ${rounds} rounds`);
  }
}

/** The f64 fields of softnet_data (the counters), from the layout definition. */
const F64_SD_FIELDS = new Set<string>(
  Object.values(SD_DEF).flatMap((group) => group.filter(([, kind]) => kind === 'f64').map(([name]) => name)),
);
