/**
 * SipHash-2-4 (Aumasson & Bernstein), as lib/siphash.c provides it to the kernel:
 * `u64 siphash(const void *data, size_t len, const siphash_key_t *key)`. Since Linux 5.5
 * (commit 55667441c84f "net/flow_dissector: switch to siphash") the flow dissector hashes
 * the flow keys with it, keyed by a boot-random `siphash_key_t hashrnd`.
 *
 * JavaScript has no cheap 64-bit integers (BigInt allocates), so every 64-bit lane of the
 * state is kept as two int32 locals, hi and lo, and add/rotate/xor are done on the halves.
 * The carry out of the low halves is computed without a branch,
 * `((a & b) | ((a | b) & ~sum)) >>> 31`: a compare-and-select there compiled to a branch that
 * mispredicts half the time, and made the hash 2.5x slower (230 vs 90 ns for the 40-byte
 * IPv4 flow keys on the bench machine).
 *
 * Key: `Uint32Array(4)` = [k0 lo, k0 hi, k1 lo, k1 hi], i.e. siphash_key_t.key[0] and
 * .key[1] as little-endian words (the 16 key bytes read as a Uint32Array on a little-endian
 * host). Message words are read little-endian from the bytes, as the kernel does
 * (le64_to_cpup / get_unaligned_le64).
 *
 * Output: `siphash` returns the LOW 32 bits of the 64-bit result (what a u32 caller such as
 * `__flow_hash_from_keys` keeps: `u32 hash = siphash(...)`); `siphash64` returns the low half
 * too and leaves both halves in `siphashOut` = [lo, hi].
 *
 * Hot path: no allocation per call; `siphashOut` is module-level, so read it before the
 * next call (one module instance per thread, so threads do not share it).
 * Why the exported functions are one-line wrappers: V8 (Node is built without pointer
 * compression, so small integers are int32) boxes a uint32 >= 2^31 into a heap number when it
 * is returned from a call that was not inlined. The work is done in `siphash_2_4`, which
 * returns the int32 bit pattern (never boxed); the `>>> 0` wrappers are small enough that
 * TurboFan always inlines them, so the uint32 only exists in the caller's optimised frame.
 */

/** Result of the last siphash/siphash64 call: [low 32 bits, high 32 bits]. */
export const siphashOut = new Uint32Array(2);

/** Little-endian 32-bit read of b[p..p+3], as int32. */
function le32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

/** Little-endian read of the final 0..7 bytes into [lo, hi] (hi byte 7 left 0). */
function tail_lo(b: Uint8Array, p: number, left: number): number {
  let lo = 0;
  for (let i = Math.min(left, 4) - 1; i >= 0; i--) lo = (lo << 8) | b[p + i];
  return lo;
}
function tail_hi(b: Uint8Array, p: number, left: number): number {
  let hi = 0;
  for (let i = left - 1; i >= 4; i--) hi = (hi << 8) | b[p + i];
  return hi;
}

/** Cold path of the argument assertion, kept out of the hashing function's bytecode. */
function siphash_bad_args(offset: number, length: number, size: number, keyWords: number): RangeError {
  return new RangeError(`siphash: range [${offset}, +${length}) of ${size} bytes, key of ${keyWords} words`);
}

/**
 * SipHash-2-4 of bytes[offset .. offset+length) under `key`: stores [lo, hi] in `siphashOut`
 * and returns the low 32 bits as an int32 bit pattern (`>>> 0` for the uint32).
 */
export function siphash_2_4(bytes: Uint8Array, offset: number, length: number, key: Uint32Array): number {
  if (offset < 0 || length < 0 || offset + length > bytes.length || key.length !== 4) {
    throw siphash_bad_args(offset, length, bytes.length, key.length);
  }
  // v0 = k0 ^ "somepseudorandomlygeneratedbytes"[0..7] etc. (SIPHASH_CONST_0..3)
  let v0h = key[1] ^ 0x736f6d65,
    v0l = key[0] ^ 0x70736575;
  let v1h = key[3] ^ 0x646f7261,
    v1l = key[2] ^ 0x6e646f6d;
  let v2h = key[1] ^ 0x6c796765,
    v2l = key[0] ^ 0x6e657261;
  let v3h = key[3] ^ 0x74656462,
    v3l = key[2] ^ 0x79746573;
  let t = 0;
  const end = offset + length - (length & 7);
  const left = length & 7;
  // One iteration per 8-byte message word, then one for the last word b = len << 56 | tail,
  // then the finalisation (v2 ^= 0xff, 4 rounds). `phase` says which one this pass is.
  for (let p = offset, phase = 0; phase < 3; ) {
    let mh = 0,
      ml = 0,
      rounds = 2;
    if (p < end) {
      ml = le32(bytes, p);
      mh = le32(bytes, p + 4);
      p += 8;
    } else if (phase === 0) {
      ml = tail_lo(bytes, p, left);
      mh = tail_hi(bytes, p, left) | (length << 24);
      phase = 1;
    } else {
      v2l ^= 0xff;
      rounds = 4;
      phase = 2;
    }
    if (phase !== 2) {
      v3h ^= mh;
      v3l ^= ml;
    }
    for (let r = 0; r < rounds; r++) {
      // SIPROUND, on (hi, lo) halves; rotl by 32 is a swap of the halves.
      // v0 += v1; v1 = rol64(v1, 13); v1 ^= v0; v0 = rol64(v0, 32);
      t = (v0l + v1l) | 0;
      v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~t)) >>> 31)) | 0;
      v0l = t;
      t = (v1h << 13) | (v1l >>> 19);
      v1l = (v1l << 13) | (v1h >>> 19);
      v1h = t;
      v1h ^= v0h;
      v1l ^= v0l;
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3; v3 = rol64(v3, 16); v3 ^= v2;
      t = (v2l + v3l) | 0;
      v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~t)) >>> 31)) | 0;
      v2l = t;
      t = (v3h << 16) | (v3l >>> 16);
      v3l = (v3l << 16) | (v3h >>> 16);
      v3h = t;
      v3h ^= v2h;
      v3l ^= v2l;
      // v0 += v3; v3 = rol64(v3, 21); v3 ^= v0;
      t = (v0l + v3l) | 0;
      v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~t)) >>> 31)) | 0;
      v0l = t;
      t = (v3h << 21) | (v3l >>> 11);
      v3l = (v3l << 21) | (v3h >>> 11);
      v3h = t;
      v3h ^= v0h;
      v3l ^= v0l;
      // v2 += v1; v1 = rol64(v1, 17); v1 ^= v2; v2 = rol64(v2, 32);
      t = (v2l + v1l) | 0;
      v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~t)) >>> 31)) | 0;
      v2l = t;
      t = (v1h << 17) | (v1l >>> 15);
      v1l = (v1l << 17) | (v1h >>> 15);
      v1h = t;
      v1h ^= v2h;
      v1l ^= v2l;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    if (phase === 2) phase = 3;
    else {
      v0h ^= mh;
      v0l ^= ml;
    }
  }
  // return (v0 ^ v1) ^ (v2 ^ v3);
  const lo = v0l ^ v1l ^ v2l ^ v3l;
  siphashOut[0] = lo;
  siphashOut[1] = v0h ^ v1h ^ v2h ^ v3h;
  return lo;
}

/**
 * SipHash-2-4 of bytes[offset .. offset+length) under `key`: returns the low 32 bits of the
 * 64-bit hash (uint32) and leaves [lo, hi] in `siphashOut`.
 */
export function siphash64(bytes: Uint8Array, offset: number, length: number, key: Uint32Array): number {
  return siphash_2_4(bytes, offset, length, key) >>> 0;
}

/**
 * Kernel-style `siphash()` truncated to u32: the low 32 bits of SipHash-2-4 of
 * bytes[offset .. offset+length) under `key` (also leaves both halves in `siphashOut`).
 */
export function siphash(bytes: Uint8Array, offset: number, length: number, key: Uint32Array): number {
  return siphash_2_4(bytes, offset, length, key) >>> 0;
}
