// The latency summary: p50 <= p99 <= p99.9 <= max, and max is the largest value recorded,
// whatever the samples and however they are split over CPUs (each CPU's histogram crosses
// threads encoded, which keeps values only to their bucket).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mergeLatency } from '../dist/src/engine/latency.js';
import { latencyHistogram, latencySink, newLatencyHistogram, LATENCY_MAX_NS } from '../dist/src/cpu/worker_main.js';

/** Record each CPU's samples as a CPU does (through its sink) and merge as the engine does. */
function summarise(perCpu: number[][]) {
  return mergeLatency(
    perCpu.map((samples) => {
      const h = newLatencyHistogram();
      latencySink(h).recordMany(Float64Array.from(samples), samples.length);
      return latencyHistogram(h);
    }),
  );
}

/** What the sink records for a sample: clamped to [1, LATENCY_MAX_NS], rounded. */
const recorded = (ns: number) => (ns < 1 ? 1 : ns > LATENCY_MAX_NS ? LATENCY_MAX_NS : Math.round(ns));

describe('latency summary', () => {
  it('never reports a percentile above max, and max is the largest sample (property)', () => {
    const sample = fc.oneof(
      fc.integer({ min: 1, max: 5_000 }),
      fc.integer({ min: 1, max: 2e9 }),
      fc.double({ min: 0, max: 2e11, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(sample, { minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 4 }), (perCpu) => {
        const r = summarise(perCpu);
        const all = perCpu.flat();
        expect(r.samples).toBe(all.length);
        if (all.length === 0) return;
        expect(r.max).toBe(Math.max(...all.map(recorded)));
        expect(r.p50).toBeLessThanOrEqual(r.p99);
        expect(r.p99).toBeLessThanOrEqual(r.p999);
        expect(r.p999).toBeLessThanOrEqual(r.max);
      }),
      { numRuns: 300 },
    );
  });

  it('a single large sample: p99.9 is max, not the top of its bucket', () => {
    const r = summarise([[1000, 123_457], [5_000_001]]);
    expect(r.max).toBe(5_000_001);
    expect(r.p999).toBe(5_000_001);
  });
});
