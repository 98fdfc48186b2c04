/**
 * Jenkins hash, as include/linux/jhash.h defines it (Bob Jenkins' lookup3.c, 2006):
 * - `jhash(key, length, initval)`   = lookup3 `hashlittle()` over bytes (little-endian words),
 * - `jhash2(k, length, initval)`    = lookup3 `hashword()` over u32 words,
 * - `jhash_3words/2words/1word`     = `__jhash_nwords()`, equal to jhash2 of those words.
 * Kernels before 5.5 hashed the flow keys with `jhash2(words, n, hashrnd)` (seed 000's
 * `__flow_hash_words`); the flow dissector's 'jhash' mode models them.
 *
 * All arithmetic is int32 (`| 0`, `Math.imul` is not needed: jhash only adds, subtracts,
 * xors and rotates); results are returned as uint32 (`>>> 0`).
 * Hot path: no allocation per call. `__jhash_mix` keeps (a, b, c) in the module-level
 * `jhash_abc` scratch, so these functions are not re-entrant (one module per thread).
 * The work is done by `jhash_i32` / `jhash2_i32`, which return the int32 bit pattern: V8 boxes
 * a uint32 >= 2^31 into a heap number when it leaves a call that was not inlined, so the
 * exported uint32 functions are one-line `>>> 0` wrappers that TurboFan always inlines.
 */

/** An arbitrary initial parameter (include/linux/jhash.h). */
export const JHASH_INITVAL = 0xdeadbeef;

/** rol32(word, shift) for shift in 1..31. */
export function rol32(word: number, shift: number): number {
  return (word << shift) | (word >>> (32 - shift));
}

/** (a, b, c) of the hash in progress, shared by the mix step; [0]=a, [1]=b, [2]=c. */
const jhash_abc = new Int32Array(3);

/** __jhash_mix(a, b, c): mix 3 32-bit values reversibly, in place on jhash_abc. */
function __jhash_mix(s: Int32Array): void {
  let a = s[0],
    b = s[1],
    c = s[2];
  a = (a - c) | 0;
  a ^= rol32(c, 4);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rol32(a, 6);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rol32(b, 8);
  b = (b + a) | 0;
  a = (a - c) | 0;
  a ^= rol32(c, 16);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rol32(a, 19);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rol32(b, 4);
  b = (b + a) | 0;
  s[0] = a;
  s[1] = b;
  s[2] = c;
}

/** __jhash_final(a, b, c): final mixing of 3 32-bit values into c; returns c (int32 bits). */
function __jhash_final(a: number, b: number, c: number): number {
  c ^= b;
  c = (c - rol32(b, 14)) | 0;
  a ^= c;
  a = (a - rol32(c, 11)) | 0;
  b ^= a;
  b = (b - rol32(a, 25)) | 0;
  c ^= b;
  c = (c - rol32(b, 16)) | 0;
  a ^= c;
  a = (a - rol32(c, 4)) | 0;
  b ^= a;
  b = (b - rol32(a, 14)) | 0;
  c ^= b;
  c = (c - rol32(b, 24)) | 0;
  return c;
}

/** Cold path of the argument assertions, kept out of the hashing functions' bytecode. */
function jhash_bad_range(fn: string, offset: number, length: number, size: number): RangeError {
  return new RangeError(`${fn}: range [${offset}, +${length}) outside ${size}`);
}

/** Little-endian 32-bit read (get_unaligned_cpu32 on a little-endian CPU). */
function le32(k: Uint8Array, p: number): number {
  return k[p] | (k[p + 1] << 8) | (k[p + 2] << 16) | (k[p + 3] << 24);
}

/**
 * jhash(key, length, initval): hash `length` bytes of `bytes` from `offset`; uint32.
 * Equal to lookup3 hashlittle() (the kernel reads whole words with get_unaligned_cpu32).
 */
export function jhash(bytes: Uint8Array, offset: number, length: number, initval: number): number {
  return jhash_i32(bytes, offset, length, initval) >>> 0;
}

/** jhash() returning the int32 bit pattern (for int32 hot paths: never boxed). */
export function jhash_i32(bytes: Uint8Array, offset: number, length: number, initval: number): number {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    throw jhash_bad_range('jhash', offset, length, bytes.length);
  }
  const s = jhash_abc;
  /* Set up the internal state */
  s[0] = s[1] = s[2] = (JHASH_INITVAL + length + initval) | 0;
  let k = offset;
  /* All but the last block: affect some 32 bits of (a,b,c) */
  while (length > 12) {
    s[0] += le32(bytes, k);
    s[1] += le32(bytes, k + 4);
    s[2] += le32(bytes, k + 8);
    __jhash_mix(s);
    length -= 12;
    k += 12;
  }
  if (length === 0) return s[2]; /* Nothing left to add */
  /* Last block: affect all 32 bits of (c); the kernel's switch falls through 12 → 1 */
  let a = s[0],
    b = s[1],
    c = s[2];
  if (length >= 12) c += bytes[k + 11] << 24;
  if (length >= 11) c += bytes[k + 10] << 16;
  if (length >= 10) c += bytes[k + 9] << 8;
  if (length >= 9) c += bytes[k + 8];
  if (length >= 8) b += bytes[k + 7] << 24;
  if (length >= 7) b += bytes[k + 6] << 16;
  if (length >= 6) b += bytes[k + 5] << 8;
  if (length >= 5) b += bytes[k + 4];
  if (length >= 4) a += bytes[k + 3] << 24;
  if (length >= 3) a += bytes[k + 2] << 16;
  if (length >= 2) a += bytes[k + 1] << 8;
  a += bytes[k];
  return __jhash_final(a | 0, b | 0, c | 0);
}

/**
 * jhash2(k, length, initval): hash `length` u32 words of `k` from word `offset`; uint32.
 * Equal to lookup3 hashword(); on a little-endian host also equal to jhash() of the same
 * 4 * length bytes.
 */
export function jhash2(k: Uint32Array, offset: number, length: number, initval: number): number {
  return jhash2_i32(k, offset, length, initval) >>> 0;
}

/** jhash2() returning the int32 bit pattern (for int32 hot paths: never boxed). */
export function jhash2_i32(k: Uint32Array, offset: number, length: number, initval: number): number {
  if (offset < 0 || length < 0 || offset + length > k.length) {
    throw jhash_bad_range('jhash2', offset, length, k.length);
  }
  const s = jhash_abc;
  /* Set up the internal state */
  s[0] = s[1] = s[2] = (JHASH_INITVAL + (length << 2) + initval) | 0;
  let o = offset;
  /* Handle most of the key */
  while (length > 3) {
    s[0] += k[o];
    s[1] += k[o + 1];
    s[2] += k[o + 2];
    __jhash_mix(s);
    length -= 3;
    o += 3;
  }
  if (length === 0) return s[2]; /* case 0: Nothing left to add */
  /* Handle the last 3 u32's: the kernel's switch falls through 3 → 1 */
  let b = s[1],
    c = s[2];
  if (length === 3) c += k[o + 2];
  if (length >= 2) b += k[o + 1];
  return __jhash_final((s[0] + k[o]) | 0, b | 0, c | 0);
}

/** __jhash_nwords(a, b, c, initval): a, b, c already hold the words; initval is complete. */
function __jhash_nwords(a: number, b: number, c: number, initval: number): number {
  return __jhash_final((a + initval) | 0, (b + initval) | 0, (c + initval) | 0) >>> 0;
}

/** jhash_3words(a, b, c, initval): specialised jhash2 of three words. */
export function jhash_3words(a: number, b: number, c: number, initval: number): number {
  return __jhash_nwords(a, b, c, (initval + JHASH_INITVAL + (3 << 2)) | 0);
}

/** jhash_2words(a, b, initval): specialised jhash2 of two words. */
export function jhash_2words(a: number, b: number, initval: number): number {
  return __jhash_nwords(a, b, 0, (initval + JHASH_INITVAL + (2 << 2)) | 0);
}

/** jhash_1word(a, initval): specialised jhash2 of one word. */
export function jhash_1word(a: number, initval: number): number {
  return __jhash_nwords(a, 0, 0, (initval + JHASH_INITVAL + (1 << 2)) | 0);
}
