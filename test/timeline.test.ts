/**
 * timeline.test.ts: the coordinator's timeline (engine/timeline.ts). Threads mode, so only
 * invariants: the series are cumulative and end at the run's own counters, the times rise,
 * the --knob-at change and migrations are marked; the sampler keeps at most MAX_POINTS
 * samples, evenly thinned.
 */
import { describe, expect, it } from 'vitest';
import { runEmulation } from '../dist/src/engine/run.js';
import { conserves } from '../dist/src/engine/result.js';
import { boot } from '../dist/src/engine/boot.js';
import { MAX_POINTS, TimelineSampler } from '../dist/src/engine/timeline.js';
import { config } from './harness.js';

describe('timeline', () => {
  it('a threads run carries per-CPU cumulative series that end at its counters, with its changes marked', async () => {
    const r = await runEmulation(config({ cpus: 2, packets: 200_000, 'knob-at': '1:netdev-budget=64', 'migrate-every-ms': 2 }));
    expect(conserves(r)).toBe(true);
    const t = r.timeline!;
    expect(t.t_ms.length).toBeGreaterThan(0);
    expect(t.t_ms.length).toBeLessThanOrEqual(MAX_POINTS);
    for (let i = 1; i < t.t_ms.length; i++) expect(t.t_ms[i]!).toBeGreaterThan(t.t_ms[i - 1]!);
    t.percpu.forEach((p, cpu) => {
      for (const s of [p.processed, p.dropped, p.time_squeeze, p.busy_ns]) {
        expect(s.length).toBe(t.t_ms.length);
        for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThanOrEqual(s[i - 1]!);
      }
      expect(p.processed.at(-1)).toBe(r.percpu[cpu]!.processed);
      expect(p.dropped.at(-1)).toBe(r.percpu[cpu]!.dropped);
      expect(p.busy_ns.at(-1)).toBe(r.percpu[cpu]!.busy_ns);
    });
    expect(t.events.some((e) => e.what === 'netdev_budget=64')).toBe(true);
  });

  it('keeps at most MAX_POINTS samples, every other one dropped and the interval doubled when full', () => {
    const shm = boot(config({ cpus: 1, packets: 1 }));
    const s = new TimelineSampler(shm);
    const processed = shm.sdF[0]! + shm.layout.sd.processed;
    for (let ms = 0; ms < 3 * MAX_POINTS * 2; ms += 2) {
      shm.f64[processed] = ms;
      s.poll(ms);
    }
    const t = s.toJSON();
    expect(t.t_ms.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(t.interval_ms).toBe(8);
    const gaps = new Set(t.t_ms.slice(1).map((x, i) => x - t.t_ms[i]!));
    expect([...gaps].every((g) => g >= 4 && g <= 8)).toBe(true);
    expect(t.percpu[0]!.processed).toEqual(t.t_ms);
  });
});
