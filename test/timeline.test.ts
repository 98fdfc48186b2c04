/**
 * timeline.test.ts: the coordinator's timeline (engine/timeline.ts). Threads mode, so only
 * invariants: the series are cumulative and end at the run's own counters, the times rise,
 * the --knob-at change and migrations are marked; the sampler keeps at most MAX_POINTS
 * samples, evenly thinned.
 */
import { describe, expect, it } from 'vitest';
import { runEmulation } from '../dist/src/engine/run.js';
import { conserves, type RunResult } from '../dist/src/engine/result.js';
import { boot } from '../dist/src/engine/boot.js';
import { CPU_TIMES, MAX_POINTS, TimelineSampler } from '../dist/src/engine/timeline.js';
import { config } from './harness.js';
import { existsSync } from 'node:fs';
import { allowedCores } from '../dist/src/host/host.js';

const schedstat = existsSync('/proc/thread-self/schedstat');

/**
 * CPU time as mpstat reads it: in every interval each CPU's contexts and steal add up to the
 * interval (the sampler charges the running context its time so far), never less than zero;
 * over the run they add up to the traffic window; steal is the thread's run-queue wait, no
 * more; the run's split (util_pct) sums to 100%, and busy_ns is the timeline's last busy.
 */
function expectCpuTime(r: RunResult): void {
  const t = r.timeline!;
  const window_ms = t.t_ms.at(-1)! - t.t_ms[0];
  t.percpu.forEach((p, cpu) => {
    let sum = 0;
    for (let k = 1; k < t.t_ms.length; k++) {
      for (const name of CPU_TIMES) {
        const d = p[name]![k] - p[name]![k - 1];
        expect(d).toBeGreaterThanOrEqual(0);
        sum += d;
      }
    }
    // The clock the CPUs charge (the tick's) and the sample's time are read a few µs apart at
    // each sample, the last one included (CI once saw 2.3 ms when the last sample took the
    // monitor's earlier time).
    expect(Math.abs(sum / 1e6 - window_ms)).toBeLessThan(2);
    const steal_ms = (p.steal_ns!.at(-1)! - p.steal_ns![0]) / 1e6;
    const waited = r.host.threads.find((h) => h.thread === `cpu${cpu}`)?.runqueue_wait_s;
    // Steal is the host's measure: busy the thread could not have run (more than it ran) is taken
    // ahead of the wait's report and repaid from it, which the clock's 1 ms ticks can overdraw a
    // little (up to a tick per sample interval on a host this busy).
    if (waited !== null && waited !== undefined) expect(steal_ms).toBeLessThanOrEqual(waited * 1100 + 0.03 * window_ms + 5);
    const u = r.percpu[cpu].util_pct;
    const shares = [u.usr, u.irq, u.soft, u.ksoftirqd, u.steal, u.idle];
    for (const x of shares) expect(x).toBeGreaterThanOrEqual(0);
    expect(Math.abs(shares.reduce((a, b) => a + b, 0) - 100)).toBeLessThanOrEqual(0.5);
    expect(r.percpu[cpu].busy.steal_ns).toBe(p.steal_ns!.at(-1));
  });
}

describe('timeline', () => {
  it('a threads run carries per-CPU cumulative series that end at its counters, with its changes marked', async () => {
    const r = await runEmulation(config({ cpus: 2, packets: 200_000, 'knob-at': '1:netdev-budget=64', 'migrate-every-ms': 2 }));
    expect(conserves(r)).toBe(true);
    const t = r.timeline!;
    expect(t.t_ms.length).toBeGreaterThan(0);
    expect(t.t_ms.length).toBeLessThanOrEqual(MAX_POINTS);
    for (let i = 1; i < t.t_ms.length; i++) expect(t.t_ms[i]).toBeGreaterThan(t.t_ms[i - 1]);
    t.percpu.forEach((p, cpu) => {
      for (const s of [p.processed, p.dropped, p.time_squeeze, p.busy_ns]) {
        expect(s.length).toBe(t.t_ms.length);
        for (let i = 1; i < s.length; i++) expect(s[i]).toBeGreaterThanOrEqual(s[i - 1]);
      }
      expect(p.processed.at(-1)).toBe(r.percpu[cpu].processed);
      expect(p.dropped.at(-1)).toBe(r.percpu[cpu].dropped);
      expect(p.busy_ns.at(-1)).toBe(r.percpu[cpu].busy_ns);
    });
    expect(t.events.some((e) => e.what === 'netdev_budget=64')).toBe(true);
    expectCpuTime(r);
  });

  it.skipIf(!schedstat)(
    'steal is the host’s: with both CPUs and the device on one host core, busy stays near the threads’ CPU time',
    async () => {
      const c = allowedCores()[0] ?? 0;
      const r = await runEmulation(
        config({
          cpus: 2,
          queues: 1,
          'irq-affinity': 0,
          'app-cpus': 1,
          'rps-cpus': 3,
          'stack-cost-ns': 2000,
          'host-cpus': `${c},${c},${c}`,
          device: 'thread',
          packets: 100_000,
        }),
      );
      expect(conserves(r)).toBe(true);
      expectCpuTime(r);
      for (const p of r.percpu) {
        const thread = r.host.threads.find((h) => h.thread === `cpu${p.cpu}`)!;
        // Three threads on one core: each waited for it a good part of the run, and the steal
        // holds most of that wait (the rest came before traffic or after the drain).
        expect(thread.runqueue_wait_s!).toBeGreaterThan(0.1 * thread.wall_s);
        expect(p.busy.steal_ns / 1e9).toBeGreaterThan(0.5 * thread.runqueue_wait_s!);
        // Busy time is what the emulated CPU did, which its thread did on a core: not the wall
        // time its contexts lasted (cpu_s is in 10 ms ticks; the clock's 1 ms ticks blur busy).
        expect(p.busy_ns / 1e9).toBeLessThan(1.25 * thread.cpu_s + 0.03);
      }
    },
  );

  it('keeps at most MAX_POINTS samples, every other one dropped and the interval doubled when full', () => {
    const shm = boot(config({ cpus: 1, packets: 1 }));
    const s = new TimelineSampler(shm);
    const processed = shm.sdF[0] + shm.layout.SD.processed;
    for (let ms = 0; ms < 3 * MAX_POINTS * 2; ms += 2) {
      shm.f64[processed] = ms;
      s.poll(ms);
    }
    const t = s.toJSON();
    expect(t.t_ms.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(t.interval_ms).toBe(8);
    const gaps = new Set(t.t_ms.slice(1).map((x, i) => x - t.t_ms[i]));
    expect([...gaps].every((g) => g >= 4 && g <= 8)).toBe(true);
    expect(t.percpu[0].processed).toEqual(t.t_ms);
  });

  it('a forced last sample within the same µs as the last one replaces it (times stay strictly increasing)', () => {
    // CI once printed 502.492 twice: a periodic sample and the forced last one 0.3 µs apart.
    const shm = boot(config({ cpus: 1, packets: 1 }));
    const s = new TimelineSampler(shm);
    const processed = shm.sdF[0] + shm.layout.SD.processed;
    s.poll(0);
    shm.f64[processed] = 10;
    s.poll(502.4918);
    shm.f64[processed] = 11;
    s.poll(502.4921, true);
    const t = s.toJSON();
    expect(t.t_ms).toEqual([0, 502.492]);
    expect(t.percpu[0].processed).toEqual([0, 11]); // the later sample's counters
  });
});
