/**
 * prng.ts: the seeded pseudo-random generator behind every deterministic run.
 *
 * One seed feeds one `Prng`; every consumer that needs its own sequence takes a `fork(stream)`
 * at setup, so adding a consumer never shifts the draws another one sees.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's "small fast counting" generator, from PractRand),
 * 128 bits of state in a `Uint32Array(4)`:
 *
 *   state[0] a   chaotic word
 *   state[1] b   chaotic word
 *   state[2] c   chaotic word
 *   state[3] d   counter, +1 per draw: guarantees a period of at least 2^32 from any state
 *
 * The state words are expanded from the seed with splitmix32 and the first outputs are
 * discarded, so nearby seeds (1, 2, 3...) give unrelated sequences.
 *
 * Hot path: `nextU32`, `nextFloat` and `nextInt` allocate nothing (locals and the state array
 * only). The constructor, `fork` and `seedFromString` are setup-time.
 */

/** Outputs thrown away after seeding so the state is well mixed before the first draw. */
const SEED_DISCARD_COUNT = 12;
const TWO_POW_32 = 4294967296;
/** 2^32 / golden ratio: the splitmix32 / Weyl-sequence increment. */
const GOLDEN_U32 = 0x9e3779b9;

/** murmur3's 32-bit finaliser: a bijective avalanche of one word. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Reduce a safe integer seed to two 32-bit words without dropping its high bits. */
function seedWords(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`Prng seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0; // negative seeds: floor keeps them distinct
  return [lo, hi];
}

/**
 * x mod n for a uint32 x, the same value as `x % n` but in int32 arithmetic for n up to 2^15:
 * (hi·2^16 + lo) mod n = ((hi mod n)·2^16 + lo) mod n, and (hi mod n)·2^16 + lo < 2^31. A
 * uint32 of 2^31 or more is a double to V8, whose `%` is a call to fmod.
 */
export function u32mod(x: number, n: number): number {
  if (n > 0x8000) return x % n;
  return ((((x >>> 16) % n) << 16) + (x & 0xffff)) % n;
}

export class Prng {
  /** sfc32 state: a, b, c, d (see the module header). */
  private readonly state = new Uint32Array(4);

  constructor(seed: number) {
    const [lo, hi] = seedWords(seed);
    // splitmix32: a Weyl sequence through the finaliser yields four unrelated words.
    let x = (lo ^ fmix32(hi ^ 0x5bd1e995)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + GOLDEN_U32) >>> 0;
      this.state[i] = fmix32(x);
    }
    this.discard();
  }

  /** Next 32-bit output, an integer in [0, 2^32). */
  nextU32(): number {
    return this.nextI32() >>> 0;
  }

  /**
   * Next 32-bit output as a signed int32 (the same bits as nextU32). The hot path uses this
   * form: an int32 is a small integer to V8, while a uint32 of 2^31 or more returned from a
   * call that is not inlined is boxed, an allocation per draw.
   */
  nextI32(): number {
    const s = this.state;
    const a = s[0];
    const b = s[1];
    const c = s[2];
    const d = s[3];
    const t = (((a + b) | 0) + d) | 0;
    s[3] = d + 1;
    s[0] = b ^ (b >>> 9);
    s[1] = c + (c << 3);
    s[2] = ((c << 21) | (c >>> 11)) + t;
    return t;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return (this.nextI32() >>> 0) / TWO_POW_32;
  }

  /**
   * Uniform integer in [0, n), exactly unbiased: outputs from the incomplete last block of
   * n values are rejected (probability < n / 2^32 per draw, so the loop ends almost at once).
   */
  nextInt(n: number): number {
    if (!(n >= 1 && n <= TWO_POW_32) || n !== Math.floor(n)) {
      throw new RangeError(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    // The rejection limit once per n, not a float modulo per draw (the generator asks for
    // the same n every packet).
    if (n !== this.limit_n) {
      this.limit_n = n;
      this.limit = TWO_POW_32 - (TWO_POW_32 % n);
    }
    const limit = this.limit;
    let x = this.nextI32() >>> 0;
    while (x >= limit) x = this.nextI32() >>> 0;
    return u32mod(x, n);
  }

  /** nextInt's rejection limit for the n it last saw. */
  private limit_n = 0;
  private limit = 0;

  /**
   * An independent generator derived from this one's current state and `stream` (a
   * non-negative integer). Does not advance this generator: forking the same state with the
   * same stream gives the same child; different streams give unrelated children.
   * Setup-time only (allocates).
   */
  fork(stream: number): Prng {
    if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
      throw new RangeError(`fork: stream must be an integer in [0, 2^32), got ${stream}`);
    }
    const child = new Prng(0);
    const key = fmix32(Math.imul(stream + 1, GOLDEN_U32) ^ 0x27d4eb2f);
    let x = key;
    for (let i = 0; i < 4; i++) {
      x = fmix32((x + GOLDEN_U32) ^ this.state[i]);
      child.state[i] = fmix32(x ^ key);
    }
    child.discard();
    return child;
  }

  private discard(): void {
    for (let i = 0; i < SEED_DISCARD_COUNT; i++) this.nextU32();
  }
}

/**
 * A 32-bit seed from a string (a run name, a test title): FNV-1a over the UTF-16 code units,
 * then an avalanche so short strings that differ in one character give unrelated seeds.
 */
export function seedFromString(s: string): number {
  if (typeof s !== 'string') throw new RangeError('seedFromString: expected a string');
  let h = 0x811c9dc5; // FNV-1a 32-bit offset basis
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193); // FNV prime
  }
  return fmix32(h);
}
