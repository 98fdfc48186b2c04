// A run's progress while it runs: what the live progress line shows (cli/live.ts renders
// it). The coordinator reads shared counters the CPUs and the device already keep: nothing
// is added to their hot paths.

import type { Shm } from '../shm/memory.js';
import { accounted } from './result.js';

export interface Progress {
  /** ms since traffic started (0 before), wall time in threads mode, virtual in sim mode. */
  elapsed_ms: number;
  generated: number;
  delivered: number;
  /** Every drop so far (rx_missed included). */
  dropped: number;
  /** Per CPU: busy ns so far (hardirq + softirq + ksoftirqd + task). */
  busy_ns: number[];
  /** Sim mode: times are virtual. */
  virtual?: boolean;
}

/**
 * The counters now, from shared memory (allocates: the coordinator's, not a CPU's). `dropped`
 * sums the drop counters themselves, each of which only grows, so it never goes down from one
 * sample to the next (done − delivered, read at two moments, could). Busy time in whole ns.
 */
export function progressSample(shm: Shm, elapsed_ms: number): Progress {
  const a = accounted(shm);
  const layout = shm.layout;
  const SD = layout.SD;
  const f = shm.f64;
  const delivered = a.read + a.unread; // the count accounted() summed with the drops
  const dropped = shm.packetsDropped();
  const busy_ns: number[] = [];
  for (let c = 0; c < shm.cfg.cpus; c++) {
    const b = shm.sdF[c];
    busy_ns.push(Math.round(f[b + SD.busy_hardirq_ns] + f[b + SD.busy_softirq_ns] + f[b + SD.busy_ksoftirqd_ns] + f[b + SD.busy_task_ns]));
  }
  return { elapsed_ms, generated: a.generated, delivered, dropped, busy_ns };
}

/**
 * What a progress callback is given: samples from the first packet on (none while the
 * workers start and nothing has been generated: all zeros say nothing).
 */
export function progressFeed(cb: (p: Progress) => void): (p: Progress) => void {
  return (p) => {
    if (p.generated > 0) cb(p);
  };
}

/**
 * The progress line: elapsed, generated, delivered pps over the last interval, drops so far,
 * and each CPU's busy share over the last interval. `prev` is the sample before (or null).
 */
export function progressLine(p: Progress, prev: Progress | null): string {
  const dt_ms = prev ? p.elapsed_ms - prev.elapsed_ms : p.elapsed_ms;
  const pps = dt_ms > 0 ? ((p.delivered - (prev?.delivered ?? 0)) * 1000) / dt_ms : 0;
  const busy = p.busy_ns.map((ns, c) => {
    const share = dt_ms > 0 ? (ns - (prev?.busy_ns[c] ?? 0)) / (dt_ms * 1e6) : 0;
    return `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`;
  });
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  return (
    `${(p.elapsed_ms / 1000).toFixed(p.virtual ? 4 : 1)} s${p.virtual ? ' virtual' : ''}: generated ${fmt(p.generated)}, delivered ${fmt(pps)} pps, ` +
    `dropped ${fmt(p.dropped)}, cpu busy ${busy.join(' ')}`
  );
}
