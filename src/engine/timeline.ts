// The run's timeline: the coordinator samples every CPU's softnet counters and its time per
// context on its poll, every 2 ms of traffic, into arrays allocated once. When they fill, every
// other sample is dropped and the interval doubles, so a long run keeps at most MAX_POINTS
// samples at an even spacing. The run document carries it as `timeline` (cumulative values, as
// /proc/net/softnet_stat and /proc/stat are), with the --knob-at changes and migrations as
// events so a report can mark them.
//
// CPU time, as mpstat reads /proc/stat. Each CPU charges the time since its last context
// switch to the context it leaves (cpu/runtime.ts switch_ctx, on the clock the coordinator's
// tick advances), so a context that runs across a sample would land in the next interval whole
// and an interval could hold more time than it lasted. The sampler charges the context running
// at the sample its time so far instead: every ns since the CPU came online is in some
// context, so what the counters do not hold yet (clock - online_ns - their sum) is the running
// context's. Each CPU's times per interval then add up to the interval's length.
//
// Steal: while the host keeps a CPU's thread off its core, the clock runs on and the context
// the thread was in is charged for it. The thread's run-queue wait over the interval (schedstat's
// run_delay, which KVM reports to a guest as steal time) is taken off the interval's contexts
// and shown as steal. Which contexts it came from, schedstat does not say; the thread could
// wait only while runnable, so it is split between busy and idle in proportion to their share
// of the thread's runnable time, which schedstat does give: on a core + waiting (idle's
// runnable part is its polling and a wake-up's wait, its sleep is not). The kernel adds a wait
// to run_delay only when the thread gets its core back, so a wait can show up intervals after
// the busy time it stretched: busy beyond what the thread ran in its interval is taken as steal
// at once and repaid from the wait when it is reported; a wait the interval cannot hold is
// carried. Within busy and within idle, each context gives in proportion to its time, as a
// guest's tick accounting takes steal off whatever it charges next (kernel/sched/cputime.c,
// account_process_tick, steal_account_process_time). The run's totals (percpu[].busy) are the
// timeline's last sample, steal taken off: busy time is the emulated CPU's.

import type { Shm } from '../shm/memory.js';
import { CTX_HARDIRQ, CTX_IDLE, CTX_IDLE_POLL, CTX_KSOFTIRQD, CTX_SOFTIRQ, CTX_TASK } from '../shm/layout.js';
import { SchedstatReader } from '../host/host.js';

/** Most samples a timeline keeps (a chart's worth). */
export const MAX_POINTS = 2048;
/** The first sampling interval. */
export const INTERVAL_MS = 2;

/** A CPU's time by context (ns), as percpu[].busy and the timeline's series name them. */
export const CPU_TIMES = ['hardirq_ns', 'softirq_ns', 'ksoftirqd_ns', 'task_ns', 'idle_ns', 'steal_ns'] as const;
export type CpuTimeName = (typeof CPU_TIMES)[number];
export type CpuTimes = Record<CpuTimeName, number>;
/** The contexts a CPU charges itself (all of CPU_TIMES but steal). */
const CONTEXTS = 5;
const IDLE = 4;
const STEAL = 5;

/** The counter series, in the order they are stored (CPU time follows them). */
const COUNTERS = ['processed', 'dropped', 'time_squeeze'] as const;
const SERIES = COUNTERS.length + CPU_TIMES.length;

/** One CPU's series; the CPU time series (hardirq_ns … steal_ns) in documents from this version on. */
export type TimelineCpu = {
  processed: number[];
  dropped: number[];
  time_squeeze: number[];
  /** hardirq + softirq + ksoftirqd + task, steal taken off. */
  busy_ns: number[];
} & Partial<Record<CpuTimeName, number[]>>;

export interface Timeline {
  interval_ms: number;
  t_ms: number[];
  /** Per CPU, cumulative. */
  percpu: TimelineCpu[];
  events: { t_ms: number; what: string }[];
}

/** Which of CPU_TIMES each CTX_* value is charged to. */
const CTX_TIME = (() => {
  const m = new Int32Array(6);
  m[CTX_HARDIRQ] = 0;
  m[CTX_SOFTIRQ] = 1;
  m[CTX_KSOFTIRQD] = 2;
  m[CTX_TASK] = 3;
  m[CTX_IDLE] = 4;
  m[CTX_IDLE_POLL] = 4;
  return m;
})();

/** A time in ms as the document prints it: to the µs. */
const toUs = (ms: number): number => Math.round(ms * 1000) / 1000;

export class TimelineSampler {
  private readonly cpus: number;
  private readonly t = new Float64Array(MAX_POINTS);
  /** [cpu][series][point], flattened. */
  private readonly v: Float64Array;
  private readonly counters: number[];
  /** The shared-memory fields of the five contexts, in CPU_TIMES order. */
  private readonly ctxFields: number[];
  private n = 0;
  private interval = INTERVAL_MS;
  private next_ms = 0;
  private readonly events: { t_ms: number; what: string }[] = [];
  /**
   * Per CPU, at the last sample (top) and the one before it (base), which a sample taken again
   * at the same time is recomputed from: the contexts' raw times (5), the corrected times with
   * steal (6), the thread's schedstat and the steal not yet charged. `first`: the corrected
   * times at the first sample (the run's window starts there).
   */
  private readonly baseRaw: Float64Array;
  private readonly topRaw: Float64Array;
  private readonly baseCorr: Float64Array;
  private readonly topCorr: Float64Array;
  private readonly first: Float64Array;
  /** The thread's schedstat at the two samples: [cpu][on a core ns, waited ns]. */
  private readonly baseSched: Float64Array;
  private readonly topSched: Float64Array;
  private readonly sched = new Float64Array(2);
  private readonly baseCarry: Float64Array;
  private readonly topCarry: Float64Array;
  private readonly cur = new Float64Array(CONTEXTS);
  private readonly schedstats: (SchedstatReader | null)[];

  constructor(private readonly shm: Shm) {
    const n = (this.cpus = shm.cfg.cpus);
    this.v = new Float64Array(n * SERIES * MAX_POINTS);
    const SD = shm.layout.SD;
    this.counters = [SD.processed, SD.dropped, SD.time_squeeze];
    this.ctxFields = [SD.busy_hardirq_ns, SD.busy_softirq_ns, SD.busy_ksoftirqd_ns, SD.busy_task_ns, SD.idle_ns];
    this.baseRaw = new Float64Array(n * CONTEXTS);
    this.topRaw = new Float64Array(n * CONTEXTS);
    this.baseCorr = new Float64Array(n * CPU_TIMES.length);
    this.topCorr = new Float64Array(n * CPU_TIMES.length);
    this.first = new Float64Array(n * CPU_TIMES.length);
    this.baseSched = new Float64Array(2 * n).fill(NaN);
    this.topSched = new Float64Array(2 * n).fill(NaN);
    this.baseCarry = new Float64Array(n);
    this.topCarry = new Float64Array(n);
    this.schedstats = new Array(n).fill(null);
  }

  /** Called on the coordinator's poll with ms since traffic started; samples when an interval has passed (or `force`: the last sample). */
  poll(elapsed_ms: number, force = false): void {
    if (elapsed_ms < this.next_ms && !force) return;
    const f = this.shm.f64;
    // The last sample taken again at the same time, as the document prints times (to the µs),
    // replaces it: a forced last sample can come a few hundred ns after a periodic one.
    const again = this.n > 0 && toUs(elapsed_ms) <= toUs(this.t[this.n - 1]);
    if (!again && this.n === MAX_POINTS) this.halve();
    if (!again && this.n > 0) {
      this.baseRaw.set(this.topRaw);
      this.baseCorr.set(this.topCorr);
      this.baseSched.set(this.topSched);
      this.baseCarry.set(this.topCarry);
    }
    const isFirst = this.n === 0 || (again && this.n === 1);
    const at = again ? this.n - 1 : this.n++;
    this.t[at] = elapsed_ms;
    for (let c = 0; c < this.cpus; c++) {
      const b = this.shm.sdF[c];
      const row = c * SERIES * MAX_POINTS;
      for (let s = 0; s < COUNTERS.length; s++) this.v[row + s * MAX_POINTS + at] = f[b + this.counters[s]];
      this.cpuTimes(c, isFirst);
      const corr = c * CPU_TIMES.length;
      for (let k = 0; k < CPU_TIMES.length; k++) this.v[row + (COUNTERS.length + k) * MAX_POINTS + at] = this.topCorr[corr + k];
    }
    this.next_ms = elapsed_ms + this.interval;
  }

  /** CPU c's times now into topRaw, and (corrected, steal apart) into topCorr. */
  private cpuTimes(c: number, isFirst: boolean): void {
    const shm = this.shm;
    const f = shm.f64;
    const b = shm.sdF[c];
    const SD = shm.layout.SD;
    const cur = this.cur;
    // The context, its counters, the context again: a switch in between (the CPU charges the
    // context it leaves, then stores the next) would give the time it charged to the wrong
    // context, so read again. Runs of contexts that begin and end within this read are µs.
    const ctxAt = shm.sd[c] + SD.context;
    let ctx = 0;
    let sum = 0;
    for (let tries = 0; tries < 4; tries++) {
      ctx = Atomics.load(shm.i32, ctxAt);
      sum = 0;
      for (let k = 0; k < CONTEXTS; k++) sum += cur[k] = f[b + this.ctxFields[k]];
      if (Atomics.load(shm.i32, ctxAt) === ctx) break;
    }
    const online = f[b + SD.online_ns];
    if (online > 0) {
      // The running context's time since its switch: what the counters do not hold yet.
      const running = f[shm.ctlF + shm.layout.CTL.clock_ns] - online - sum;
      if (running > 0) cur[CTX_TIME[ctx]] += running;
    }
    if (this.schedstats[c] === null) {
      const tid = shm.i32[shm.sd[c] + SD.host_tid];
      if (tid > 0) this.schedstats[c] = new SchedstatReader(tid);
    }
    const sched = this.sched;
    const measured = this.schedstats[c]?.read(sched) ?? false;
    const raw = c * CONTEXTS;
    const corr = c * CPU_TIMES.length;
    if (isFirst) {
      for (let k = 0; k < CONTEXTS; k++) this.topRaw[raw + k] = this.topCorr[corr + k] = this.first[corr + k] = cur[k];
      this.topCorr[corr + STEAL] = this.first[corr + STEAL] = 0;
      this.topSched[2 * c] = measured ? sched[0] : NaN;
      this.topSched[2 * c + 1] = measured ? sched[1] : NaN;
      this.topCarry[c] = 0;
      return;
    }
    let busy = 0;
    for (let k = 0; k < CONTEXTS; k++) {
      // Should a context still have got time that was another's (a read that raced a switch),
      // it shows less now: it is kept at its last value, and the time it got too much is taken
      // from its own growth later.
      const d = Math.max(0, cur[k] - this.baseRaw[raw + k]);
      this.topRaw[raw + k] = this.baseRaw[raw + k] + d;
      cur[k] = d;
      if (k !== IDLE) busy += d;
    }
    const idle = cur[IDLE];
    const baseOn = this.baseSched[2 * c];
    const baseWait = this.baseSched[2 * c + 1];
    const known = measured && !Number.isNaN(baseWait);
    const ran = known ? Math.max(0, sched[0] - baseOn) : 0;
    // The wait reported since, with what earlier intervals left over (or took ahead: < 0).
    const waited = (known ? Math.max(0, sched[1] - baseWait) : 0) + this.baseCarry[c];
    // Busy's part of the wait: busy's share of the thread's runnable time (on a core + waiting).
    // And the thread cannot have done more busy work than it ran: busy beyond that is a wait
    // the kernel has not reported yet (it does when the thread gets its core back), taken now
    // and repaid from that report.
    const share = waited > 0 ? Math.min(waited, (waited * busy) / (ran + waited)) : 0;
    const fromBusy = known ? Math.min(busy, Math.max(share, busy - ran)) : Math.min(busy, share);
    const fromIdle = Math.min(idle, Math.max(0, waited - fromBusy));
    this.topCarry[c] = waited - fromBusy - fromIdle;
    this.topSched[2 * c] = measured ? sched[0] : baseOn;
    this.topSched[2 * c + 1] = measured ? sched[1] : baseWait;
    const keptBusy = busy > 0 ? 1 - fromBusy / busy : 1;
    const keptIdle = idle > 0 ? 1 - fromIdle / idle : 1;
    for (let k = 0; k < CONTEXTS; k++) this.topCorr[corr + k] = this.baseCorr[corr + k] + cur[k] * (k === IDLE ? keptIdle : keptBusy);
    this.topCorr[corr + STEAL] = this.baseCorr[corr + STEAL] + fromBusy + fromIdle;
  }

  /** A control change (a --knob-at change, a migration, the RSS table rotation) at this time. */
  event(t_ms: number, what: string): void {
    if (this.events.length < MAX_POINTS) this.events.push({ t_ms: toUs(t_ms), what });
  }

  /** Keep every other sample and sample half as often from now on. */
  private halve(): void {
    const half = this.n >> 1;
    for (let i = 0; i < half; i++) this.t[i] = this.t[2 * i + 1];
    for (let r = 0; r < this.cpus * SERIES; r++) {
      const base = r * MAX_POINTS;
      for (let i = 0; i < half; i++) this.v[base + i] = this.v[base + 2 * i + 1];
    }
    this.n = half;
    this.interval *= 2;
  }

  /**
   * Per CPU, its time by context at the last sample (since it came online), and over the
   * run's window (the first sample to the last: the traffic), steal apart; null before any sample.
   */
  cpuTimesOfRun(): { total: CpuTimes[]; window: CpuTimes[] } | null {
    if (this.n === 0) return null;
    const of = (at: (k: number) => number): CpuTimes =>
      Object.fromEntries(CPU_TIMES.map((name, k) => [name, Math.round(at(k))])) as CpuTimes;
    const total: CpuTimes[] = [];
    const window: CpuTimes[] = [];
    for (let c = 0; c < this.cpus; c++) {
      const corr = c * CPU_TIMES.length;
      total.push(of((k) => this.topCorr[corr + k]));
      window.push(of((k) => this.topCorr[corr + k] - this.first[corr + k]));
    }
    return { total, window };
  }

  /** Close the schedstat files (after the last sample). */
  close(): void {
    for (const d of this.schedstats) d?.close();
  }

  toJSON(): Timeline {
    const n = this.n;
    const series = (c: number, s: number) => Array.from(this.v.subarray((c * SERIES + s) * MAX_POINTS, (c * SERIES + s) * MAX_POINTS + n));
    return {
      interval_ms: this.interval,
      t_ms: Array.from(this.t.subarray(0, n), toUs),
      percpu: Array.from({ length: this.cpus }, (_, c) => {
        const times = CPU_TIMES.map((_, k) => series(c, COUNTERS.length + k).map(Math.round));
        return {
          processed: series(c, 0),
          dropped: series(c, 1),
          time_squeeze: series(c, 2),
          busy_ns: times[0].map((_, i) => times[0][i] + times[1][i] + times[2][i] + times[3][i]),
          ...Object.fromEntries(CPU_TIMES.map((name, k) => [name, times[k]])),
        };
      }),
      events: this.events,
    };
  }
}
