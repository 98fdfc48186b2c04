/**
 * prng.test.ts: reproducibility, rough uniformity (chi-square with fixed seeds) and fork
 * independence of the seeded generator.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Prng, seedFromString, u32mod } from '../src/lib/prng.js';

function draws(p: Prng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(p.nextU32());
  return out;
}

/** Pearson chi-square of bucket counts against a uniform expectation. */
function chiSquare(counts: ArrayLike<number>, total: number): number {
  const expected = total / counts.length;
  let chi = 0;
  for (let i = 0; i < counts.length; i++) chi += (counts[i] - expected) ** 2 / expected;
  return chi;
}

/** A loose upper bound for chi-square with `df` degrees of freedom (mean + 6 sd). */
function chiBound(df: number): number {
  return df + 6 * Math.sqrt(2 * df);
}

describe('Prng', () => {
  it('is reproducible from its seed', () => {
    expect(draws(new Prng(42), 1000)).toEqual(draws(new Prng(42), 1000));
    expect(draws(new Prng(42), 100)).not.toEqual(draws(new Prng(43), 100));
    // High bits of large seeds matter.
    expect(draws(new Prng(2 ** 40 + 7), 10)).not.toEqual(draws(new Prng(7), 10));
  });

  it('returns 32-bit unsigned integers, floats in [0,1) and ints in [0,n)', () => {
    const p = new Prng(1);
    for (let i = 0; i < 10_000; i++) {
      const u = p.nextU32();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
      const f = p.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      const k = p.nextInt(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
    expect(p.nextInt(1)).toBe(0);
    expect(() => p.nextInt(0)).toThrow(RangeError);
    expect(() => p.nextInt(2.5)).toThrow(RangeError);
    expect(() => new Prng(Number.NaN)).toThrow(RangeError);
  });

  it('is roughly uniform (chi-square, fixed seeds)', () => {
    for (const seed of [1, 2, 12345, 0xdeadbeef]) {
      const p = new Prng(seed);
      const n = 200_000;
      const byInt = new Float64Array(100);
      const byFloat = new Float64Array(64);
      const byTopByte = new Float64Array(256);
      const byLowByte = new Float64Array(256);
      for (let i = 0; i < n; i++) {
        byInt[p.nextInt(100)]++;
        byFloat[Math.floor(p.nextFloat() * 64)]++;
        const u = p.nextU32();
        byTopByte[u >>> 24]++;
        byLowByte[u & 0xff]++;
      }
      expect(chiSquare(byInt, n)).toBeLessThan(chiBound(99));
      expect(chiSquare(byFloat, n)).toBeLessThan(chiBound(63));
      expect(chiSquare(byTopByte, n)).toBeLessThan(chiBound(255));
      expect(chiSquare(byLowByte, n)).toBeLessThan(chiBound(255));
    }
  });

  it('nextInt is unbiased for a range that does not divide 2^32', () => {
    // n = 3 * 2^30: plain modulo would favour [0, 2^30) twice as much as the rest.
    const p = new Prng(7);
    const n = 3 * 2 ** 30;
    const thirds = new Float64Array(3);
    const total = 60_000;
    for (let i = 0; i < total; i++) thirds[Math.floor(p.nextInt(n) / 2 ** 30)]++;
    expect(chiSquare(thirds, total)).toBeLessThan(chiBound(2));
  });

  it('forks deterministically without advancing the parent', () => {
    const a = new Prng(99);
    const b = new Prng(99);
    const fa = a.fork(3);
    const fb = b.fork(3);
    expect(draws(fa, 100)).toEqual(draws(fb, 100));
    expect(draws(a, 100)).toEqual(draws(new Prng(99), 100));
    expect(() => a.fork(-1)).toThrow(RangeError);
  });

  it('gives independent streams per fork', () => {
    const parent = new Prng(2024);
    const streams = [parent, parent.fork(0), parent.fork(1), parent.fork(2), parent.fork(1000)];
    const seqs = streams.map((s) => draws(s, 5000));
    // No two streams share a value in their first 5000 draws (collision odds ~1e-4 in total).
    const all = new Set<number>();
    for (const seq of seqs) for (const v of seq) all.add(v);
    expect(all.size).toBe(seqs.length * 5000);
    // Pairwise correlation of the float sequences is near zero (sd ~ 1 / sqrt(5000) = 0.014).
    for (let i = 0; i < seqs.length; i++) {
      for (let j = i + 1; j < seqs.length; j++) {
        expect(Math.abs(correlation(seqs[i], seqs[j]))).toBeLessThan(0.08);
      }
    }
    // A fork is itself uniform.
    const f = parent.fork(5);
    const counts = new Float64Array(16);
    for (let i = 0; i < 32_000; i++) counts[f.nextU32() >>> 28]++;
    expect(chiSquare(counts, 32_000)).toBeLessThan(chiBound(15));
  });
});

function correlation(x: number[], y: number[]): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('seedFromString', () => {
  it('is deterministic, 32-bit, and sensitive to every character', () => {
    expect(seedFromString('run-a')).toBe(seedFromString('run-a'));
    expect(seedFromString('run-a')).not.toBe(seedFromString('run-b'));
    expect(seedFromString('')).not.toBe(seedFromString(' '));
    const s = seedFromString('hello');
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    expect(draws(new Prng(seedFromString('x')), 5)).toEqual(draws(new Prng(seedFromString('x')), 5));
  });
});

describe('u32mod (nextInt without a float modulo)', () => {
  it('equals x % n for every uint32 x and n, at the 2^15 edge and past it', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 1 << 20 }), (x, n) => u32mod(x, n) === x % n),
      { numRuns: 20_000 },
    );
    for (const n of [1, 2, 3, 0x7fff, 0x8000, 0x8001])
      for (const x of [0, 0x7fffffff, 0x80000000, 0xffffffff]) expect(u32mod(x, n)).toBe(x % n);
  });

  it('nextInt draws the same sequence as before the change (one draw per call, x % n)', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    for (let i = 0; i < 1000; i++) {
      const n = 1 + (i % 97) * 400;
      const limit = 2 ** 32 - (2 ** 32 % n);
      let x = b.nextU32();
      while (x >= limit) x = b.nextU32();
      expect(a.nextInt(n)).toBe(x % n);
    }
  });
});
