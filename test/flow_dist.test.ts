/**
 * flow_dist.test.ts: the generator's flow picker (uniform, and Zipf through Vose's alias
 * tables) against analytic frequencies, with fixed seeds.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../src/lib/prng.js';
import { FlowPicker, buildAliasTable, zipfWeights } from '../src/devices/flow_dist.js';

function histogram(p: FlowPicker, flowCount: number, draws: number): Float64Array {
  const h = new Float64Array(flowCount);
  for (let i = 0; i < draws; i++) h[p.next()]++;
  return h;
}

/** Generalised harmonic number H(n, s) = sum_{k=1..n} k^-s. */
function harmonic(n: number, s: number): number {
  let h = 0;
  for (let k = n; k >= 1; k--) h += k ** -s; // smallest terms first
  return h;
}

describe('buildAliasTable', () => {
  it('reproduces the weights exactly (column mass accounting)', () => {
    const w = new Float64Array([5, 1, 0, 3, 1, 10, 0.5]);
    const { prob, alias } = buildAliasTable(w);
    const n = w.length;
    const total = w.reduce((a, b) => a + b, 0);
    const mass = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      expect(prob[i]).toBeGreaterThanOrEqual(0);
      expect(prob[i]).toBeLessThanOrEqual(1);
      mass[i] += prob[i] / n;
      mass[alias[i]] += (1 - prob[i]) / n;
    }
    for (let i = 0; i < n; i++) expect(mass[i]).toBeCloseTo(w[i] / total, 12);
  });

  it('rejects empty or zero weights', () => {
    expect(() => buildAliasTable(new Float64Array(0))).toThrow(RangeError);
    expect(() => buildAliasTable(new Float64Array(3))).toThrow(RangeError);
  });
});

describe('FlowPicker', () => {
  it('uniform: every flow within tolerance (chi-square, fixed seed)', () => {
    const n = 64;
    const draws = 128_000;
    const h = histogram(new FlowPicker(n, 'uniform', 0, new Prng(11)), n, draws);
    const e = draws / n;
    let chi = 0;
    for (let i = 0; i < n; i++) chi += (h[i] - e) ** 2 / e;
    expect(chi).toBeLessThan(63 + 6 * Math.sqrt(126));
  });

  it('zipf s=1.2 over 1000 flows gives flow 0 its analytic share 1/H(1000, 1.2)', () => {
    const n = 1000;
    const s = 1.2;
    const draws = 400_000;
    const h = histogram(new FlowPicker(n, 'zipf', s, new Prng(12)), n, draws);
    const H = harmonic(n, s);
    const share0 = 1 / H; // about 0.2307
    expect(share0).toBeGreaterThan(0.22);
    expect(share0).toBeLessThan(0.24);
    // sd of the observed share is sqrt(p(1-p)/draws) ~ 0.00067; allow ~6 sd.
    expect(Math.abs(h[0] / draws - share0)).toBeLessThan(0.004);
    // The next few flows, and a tail bucket, also match.
    for (let k = 1; k < 5; k++) {
      expect(Math.abs(h[k] / draws - (k + 1) ** -s / H)).toBeLessThan(0.003);
    }
    let tail = 0;
    let tailExpected = 0;
    for (let k = 100; k < n; k++) {
      tail += h[k];
      tailExpected += (k + 1) ** -s / H;
    }
    expect(Math.abs(tail / draws - tailExpected)).toBeLessThan(0.005);
    // Flow 0 is the most popular.
    expect(Math.max(...h)).toBe(h[0]);
  });

  it('zipf s=0 degenerates to uniform; is deterministic for a seed', () => {
    const a = new FlowPicker(100, 'zipf', 1.0, new Prng(3));
    const b = new FlowPicker(100, 'zipf', 1.0, new Prng(3));
    for (let i = 0; i < 1000; i++) expect(a.next()).toBe(b.next());
    const w = zipfWeights(10, 0);
    expect(Array.from(w)).toEqual(new Array(10).fill(1));
    const h = histogram(new FlowPicker(10, 'zipf', 0, new Prng(4)), 10, 100_000);
    for (let i = 0; i < 10; i++) expect(Math.abs(h[i] / 100_000 - 0.1)).toBeLessThan(0.006);
  });

  it('a single flow always picks flow 0', () => {
    const p = new FlowPicker(1, 'zipf', 1.2, new Prng(5));
    for (let i = 0; i < 100; i++) expect(p.next()).toBe(0);
  });

  it('rejects bad arguments', () => {
    const prng = new Prng(1);
    expect(() => new FlowPicker(0, 'uniform', 0, prng)).toThrow(RangeError);
    expect(() => new FlowPicker(10, 'zipf', -1, prng)).toThrow(RangeError);
    expect(() => new FlowPicker(10, 'zipf', Number.NaN, prng)).toThrow(RangeError);
    expect(() => new FlowPicker(10, 'pareto' as 'zipf', 1, prng)).toThrow(RangeError);
  });
});
