// The CPU environment: everything kernel/ and drivers/ may ask of the machine they run on.
//
// kernel/ declares it, cpu/ implements it (the threads runtime with real workers; a
// deterministic runtime can implement it with virtual time). The kernel never imports a
// runtime, never touches worker_threads, Atomics.wait or wall time directly.

export interface CpuEnv {
  /**
   * Precise monotonic nanoseconds, one origin for every CPU and device of the run. Node's
   * clocks allocate a heap number per read: for sampled measurements only. The hot path
   * reads the shared clock (KCpu.clock, KCpu.jiffies), which the timer tick advances.
   */
  now_ns(): number;
  /**
   * An interrupt window: the kernel re-enables interrupts here (between napi polls, every few
   * dozen packets). Pending hardirqs and IPIs run now; softirqs they raise wait for the
   * softirq loop already running.
   */
  irq_window(): void;
  /** smp_call_function_single_async(cpu, &sd->csd): the RPS IPI. */
  send_ipi(cpu: number): void;
  /** The reschedule IPI: wake an application task that sleeps on CPU `cpu`. */
  wake_cpu(cpu: number): void;
  /** wakeup_softirqd(): make this CPU's ksoftirqd runnable. */
  wakeup_softirqd(): void;
  /** ksoftirqd_running(pending): 5.10's test in invoke_softirq. */
  ksoftirqd_running(): boolean;
  /** need_resched(): another task wants this CPU. */
  need_resched(): boolean;
  /** Spend `ns` of CPU time standing in for work the emulator does not model. */
  burn_ns(ns: number): void;
  /**
   * A busy poller is about to look at a ring: it cannot see a frame before the device wrote
   * it. Threads mode: nothing (wall time orders them). Sim mode: a CPU whose clock is behind
   * the device's last write (another CPU ran the device while this one was suspended) spins
   * up to it, charged to its current context.
   */
  busy_poll_sync(): void;
  /**
   * local_bh_enable in process context (a busy poller, a cpumap kthread): softirqs raised
   * meanwhile run here, in softirq context (do_softirq), unless ksoftirqd owns them.
   */
  do_softirq(): void;
}
