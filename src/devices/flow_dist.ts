/**
 * flow_dist.ts: which flow the traffic generator sends next.
 *
 * `uniform`: every flow equally likely. `zipf`: flow k (0-based) has weight 1 / (k + 1)^s, so
 * flow 0 is the most popular (share 1 / H(n, s), H the generalised harmonic number).
 *
 * Zipf draws use Vose's alias method: at setup the weights become two tables of `n` entries,
 *
 *   prob[i]   Float64Array  probability of keeping column i (else take its alias)
 *   alias[i]  Int32Array    the flow that fills the rest of column i
 *
 * so `next()` is one uniform column, one uniform float and one comparison: O(1), and it
 * allocates nothing (the hot path of the generator). Setup is O(n) and allocates.
 *
 * The draws come from a 32-bit xorshift (Marsaglia's 13, 17, 5) in an int32, seeded once from
 * the run's Prng stream: a pick is a few integer operations and one multiply, where sfc32 with
 * its exact rejection cost the device 12 ns a packet (issue 21). A column is the high part of
 * draw × n (for n below 2^21, where the product is exact in a double; the remainder above):
 * its bias, under n / 2^32 per column, is far below anything a traffic mix shows.
 */
import type { Prng } from '../lib/prng.js';

export type FlowDist = 'uniform' | 'zipf';

export const FLOW_PICKER_FLOW_COUNT_MAX = 1 << 24;
const TWO_POW_32 = 4294967296;
/** Below this n, a 32-bit draw times n is exact in a double. */
const EXACT_PRODUCT = 1 << 21;

/** Zipf weights 1 / (k + 1)^s for k in [0, n). */
export function zipfWeights(flowCount: number, zipfS: number): Float64Array {
  const w = new Float64Array(flowCount);
  for (let k = 0; k < flowCount; k++) w[k] = 1 / (k + 1) ** zipfS;
  return w;
}

/**
 * Vose's alias tables for `weights` (non-negative, positive sum). Columns with scaled weight
 * below 1 ("small") are topped up by a column above 1 ("large"), which becomes their alias.
 */
export function buildAliasTable(weights: Float64Array): { prob: Float64Array; alias: Int32Array } {
  const n = weights.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  if (n === 0 || !(total > 0) || !Number.isFinite(total)) {
    throw new RangeError('buildAliasTable: weights must be non-empty with a finite positive sum');
  }
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = new Float64Array(n);
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let smallLen = 0;
  let largeLen = 0;
  for (let i = 0; i < n; i++) {
    scaled[i] = (weights[i] * n) / total;
    if (scaled[i] < 1) small[smallLen++] = i;
    else large[largeLen++] = i;
  }
  while (smallLen > 0 && largeLen > 0) {
    const s = small[--smallLen];
    const l = large[--largeLen];
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) small[smallLen++] = l;
    else large[largeLen++] = l;
  }
  // Whatever is left is 1 up to rounding error: those columns keep themselves.
  while (largeLen > 0) {
    const l = large[--largeLen];
    prob[l] = 1;
    alias[l] = l;
  }
  while (smallLen > 0) {
    const s = small[--smallLen];
    prob[s] = 1;
    alias[s] = s;
  }
  return { prob, alias };
}

export class FlowPicker {
  private readonly flowCount: number;
  private readonly uniform: boolean;
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  /** The xorshift32 state (never 0). */
  private x: number;

  constructor(flowCount: number, dist: FlowDist, zipfS: number, prng: Prng) {
    if (!Number.isInteger(flowCount) || flowCount < 1 || flowCount > FLOW_PICKER_FLOW_COUNT_MAX) {
      throw new RangeError(`FlowPicker: flowCount must be an integer in [1, ${FLOW_PICKER_FLOW_COUNT_MAX}], got ${flowCount}`);
    }
    if (dist !== 'uniform' && dist !== 'zipf') {
      throw new RangeError(`FlowPicker: dist must be 'uniform' or 'zipf', got ${String(dist)}`);
    }
    if (dist === 'zipf' && !(Number.isFinite(zipfS) && zipfS >= 0)) {
      throw new RangeError(`FlowPicker: zipfS must be a finite number >= 0, got ${zipfS}`);
    }
    this.flowCount = flowCount;
    this.uniform = dist === 'uniform';
    this.x = prng.nextI32() | 1;
    if (this.uniform) {
      this.prob = new Float64Array(0);
      this.alias = new Int32Array(0);
    } else {
      const t = buildAliasTable(zipfWeights(flowCount, zipfS));
      this.prob = t.prob;
      this.alias = t.alias;
    }
  }

  /** Index of the next flow to send, in [0, flowCount). Hot path: allocates nothing. */
  next(): number {
    const column = this.below(this.flowCount);
    if (this.uniform) return column;
    return (this.draw() >>> 0) / TWO_POW_32 < this.prob[column] ? column : this.alias[column];
  }

  /** The next xorshift32 output (int32 bits). */
  private draw(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x;
    return x;
  }

  /** A draw reduced to [0, n). */
  private below(n: number): number {
    const u = this.draw() >>> 0;
    return n < EXACT_PRODUCT ? Math.floor((u * n) / TWO_POW_32) : u % n;
  }
}
