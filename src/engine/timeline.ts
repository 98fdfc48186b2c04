// The run's timeline: the coordinator samples every CPU's softnet counters and busy time on its
// poll, every 2 ms of traffic, into arrays allocated once. When they fill, every
// other sample is dropped and the interval doubles, so a long run keeps at most MAX_POINTS
// samples at an even spacing. The run document carries it as `timeline` (cumulative values, as
// /proc/net/softnet_stat and the busy counters are), with the --knob-at changes and migrations
// as events so a report can mark them.

import type { Shm } from '../shm/memory.js';

/** Most samples a timeline keeps (a chart's worth). */
export const MAX_POINTS = 2048;
/** The first sampling interval. */
export const INTERVAL_MS = 2;

/** The per-CPU series, in the order they are stored. */
const SERIES = ['processed', 'dropped', 'time_squeeze', 'busy_ns'] as const;

export interface Timeline {
  interval_ms: number;
  t_ms: number[];
  percpu: { processed: number[]; dropped: number[]; time_squeeze: number[]; busy_ns: number[] }[];
  events: { t_ms: number; what: string }[];
}

export class TimelineSampler {
  private readonly cpus: number;
  private readonly t = new Float64Array(MAX_POINTS);
  /** [cpu][series][point], flattened. */
  private readonly v: Float64Array;
  private readonly fields: number[];
  private n = 0;
  private interval = INTERVAL_MS;
  private next_ms = 0;
  private readonly events: { t_ms: number; what: string }[] = [];

  constructor(private readonly shm: Shm) {
    this.cpus = shm.cfg.cpus;
    this.v = new Float64Array(this.cpus * SERIES.length * MAX_POINTS);
    const sd = shm.layout.sd;
    this.fields = [sd.processed, sd.dropped, sd.time_squeeze];
  }

  /** Called on the coordinator's poll with ms since traffic started; samples when an interval has passed (or `force`: the last sample). */
  poll(elapsed_ms: number, force = false): void {
    if (elapsed_ms < this.next_ms && !force) return;
    const f = this.shm.f64;
    const sd = this.shm.layout.sd;
    // The last sample taken again at the same time replaces it.
    const again = this.n > 0 && elapsed_ms <= this.t[this.n - 1]!;
    if (!again && this.n === MAX_POINTS) this.halve();
    const at = again ? this.n - 1 : this.n++;
    this.t[at] = elapsed_ms;
    for (let c = 0; c < this.cpus; c++) {
      const b = this.shm.sdF[c]!;
      const row = c * SERIES.length * MAX_POINTS;
      for (let s = 0; s < 3; s++) this.v[row + s * MAX_POINTS + at] = f[b + this.fields[s]!]!;
      this.v[row + 3 * MAX_POINTS + at] =
        f[b + sd.busy_hardirq_ns]! + f[b + sd.busy_softirq_ns]! + f[b + sd.busy_ksoftirqd_ns]! + f[b + sd.busy_task_ns]!;
    }
    this.next_ms = elapsed_ms + this.interval;
  }

  /** A control change (a --knob-at change, a migration, the RSS table rotation) at this time. */
  event(t_ms: number, what: string): void {
    if (this.events.length < MAX_POINTS) this.events.push({ t_ms: Math.round(t_ms * 1000) / 1000, what });
  }

  /** Keep every other sample and sample half as often from now on. */
  private halve(): void {
    const half = this.n >> 1;
    for (let i = 0; i < half; i++) this.t[i] = this.t[2 * i + 1]!;
    for (let r = 0; r < this.cpus * SERIES.length; r++) {
      const base = r * MAX_POINTS;
      for (let i = 0; i < half; i++) this.v[base + i] = this.v[base + 2 * i + 1]!;
    }
    this.n = half;
    this.interval *= 2;
  }

  toJSON(): Timeline {
    const n = this.n;
    const series = (c: number, s: number) =>
      Array.from(this.v.subarray((c * SERIES.length + s) * MAX_POINTS, (c * SERIES.length + s) * MAX_POINTS + n));
    return {
      interval_ms: this.interval,
      t_ms: Array.from(this.t.subarray(0, n), (x) => Math.round(x * 1000) / 1000),
      percpu: Array.from({ length: this.cpus }, (_, c) => ({
        processed: series(c, 0),
        dropped: series(c, 1),
        time_squeeze: series(c, 2),
        busy_ns: series(c, 3).map(Math.round),
      })),
      events: this.events,
    };
  }
}
