// bpf_trace_printk's formatting (kernel/trace/bpf_trace.c, 5.10), into bytes, allocating
// nothing: the format is checked as 5.10 checks it (printable ASCII, NUL-terminated within
// fmt_size, at most three conversions among %d %i %u %x with l or ll, %p, %pB, %pks, %pus and
// one %s; anything else, %% included, is -EINVAL), then written with the arguments. Two
// differences from the kernel's trace_pipe line, said in docs/xdp.md: %p prints the raw value
// (%px; the kernel hashes pointers), and %pB prints it in hex (there are no kernel symbols).

import { E2BIG, EINVAL } from './maps.js';

const PCT = 0x25;
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPrint = (c: number) => c >= 0x20 && c < 0x7f;
const isPunct = (c: number) => isPrint(c) && c !== 0x20 && !(c >= 0x30 && c <= 0x39) && !((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
/** A conversion may be followed by the end, a space or punctuation only. */
const endsConversion = (c: number) => c === 0 || isSpace(c) || isPunct(c);

/** Where a %s argument's string is read from (XdpEnv.readString: bounds-checked, -1 on a fault). */
export interface StringSource {
  readString(h: number, l: number, out: Uint8Array, at: number, max: number): number;
}

// Conversions found by the check pass: the letter and the length modifier count, per argument.
const convKind = new Uint8Array(3);
const convMod = new Uint8Array(3);
const digits = new Uint8Array(24);
const STR_MAX = 63; // strncpy_from_kernel_nofault into buf[64]

/** Check the format (5.10's loop): the number of conversions, or -EINVAL. */
function checkFormat(fmt: Uint8Array, size: number): number {
  if (fmt[size - 1] !== 0) return -EINVAL;
  const n = size - 1;
  let cnt = 0;
  let strSeen = false;
  for (let i = 0; i < n; i++) {
    const c = fmt[i];
    if ((!isPrint(c) && !isSpace(c)) || c > 0x7f) return -EINVAL;
    if (c !== PCT) continue;
    if (cnt >= 3) return -EINVAL;
    i++;
    let mod = 0;
    let kind = fmt[i];
    if (kind === 0x6c /* l */) {
      mod++;
      i++;
      kind = fmt[i];
    } else if (kind === 0x70 /* p */) {
      mod++;
      const n1 = fmt[i + 1];
      if ((n1 === 0x6b || n1 === 0x75) && fmt[i + 2] === 0x73 /* ks, us */) {
        if (strSeen || !endsConversion(fmt[i + 3])) return -EINVAL;
        strSeen = true;
        i += 2;
        kind = 0x73;
      } else if (n1 === 0x42 /* B */) i++;
      else if (!endsConversion(n1)) return -EINVAL;
      convKind[cnt] = kind;
      convMod[cnt++] = mod;
      continue;
    } else if (kind === 0x73 /* s */) {
      if (strSeen || !endsConversion(fmt[i + 1])) return -EINVAL;
      strSeen = true;
      convKind[cnt] = kind;
      convMod[cnt++] = 1;
      continue;
    }
    if (kind === 0x6c) {
      mod++;
      i++;
      kind = fmt[i];
    }
    if (kind !== 0x69 && kind !== 0x64 && kind !== 0x75 && kind !== 0x78) return -EINVAL;
    convKind[cnt] = kind;
    convMod[cnt++] = mod;
  }
  return cnt;
}

/** Write (lo, hi) as decimal (signed when `signed`) into out at `at`; the length, or -1 without room. */
function writeDec(lo: number, hi: number, signed: boolean, out: Uint8Array, at: number, end: number): number {
  let neg = false;
  if (signed && hi < 0) {
    neg = true;
    lo = -lo | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  let a3 = hi >>> 16;
  let a2 = hi & 0xffff;
  let a1 = lo >>> 16;
  let a0 = lo & 0xffff;
  let n = 0;
  do {
    let r = a3 % 10;
    a3 = (a3 / 10) | 0;
    let t = r * 65536 + a2;
    a2 = (t / 10) | 0;
    r = t % 10;
    t = r * 65536 + a1;
    a1 = (t / 10) | 0;
    r = t % 10;
    t = r * 65536 + a0;
    a0 = (t / 10) | 0;
    digits[n++] = 0x30 + (t % 10);
  } while ((a3 | a2 | a1 | a0) !== 0);
  const len = n + (neg ? 1 : 0);
  if (at + len > end) return -1;
  if (neg) out[at++] = 0x2d;
  for (let i = 0; i < n; i++) out[at + i] = digits[n - 1 - i];
  return len;
}

function writeHex(lo: number, hi: number, prefix: boolean, out: Uint8Array, at: number, end: number): number {
  let n = 0;
  for (let s = 0; s < 32; s += 4) digits[n++] = (lo >>> s) & 0xf;
  for (let s = 0; s < 32; s += 4) digits[n++] = (hi >>> s) & 0xf;
  while (n > 1 && digits[n - 1] === 0) n--;
  const len = n + (prefix ? 2 : 0);
  if (at + len > end) return -1;
  if (prefix) {
    out[at++] = 0x30;
    out[at++] = 0x78;
  }
  for (let i = 0; i < n; i++) {
    const d = digits[n - 1 - i];
    out[at + i] = d < 10 ? 0x30 + d : 0x57 + d;
  }
  return len;
}

/**
 * Format `fmt[0..size)` with args (lo, hi pairs in `args[0..6)`) into `out[at..at+room)`.
 * Returns the line's length, -EINVAL for a format 5.10 refuses, or -E2BIG when it does not fit.
 */
export function traceFormat(
  fmt: Uint8Array,
  size: number,
  args: Uint32Array,
  src: StringSource,
  out: Uint8Array,
  at: number,
  room: number,
): number {
  const cnt = checkFormat(fmt, size);
  if (cnt < 0) return cnt;
  const end = at + room;
  let w = at;
  let arg = 0;
  for (let i = 0; i < size - 1; i++) {
    const c = fmt[i];
    if (c !== PCT) {
      if (w >= end) return -E2BIG;
      out[w++] = c;
      continue;
    }
    // Skip the conversion's letters as checkFormat read them.
    i++;
    while (fmt[i] === 0x6c) i++;
    const kind = convKind[arg];
    const mod = convMod[arg];
    let lo = args[2 * arg] | 0;
    let hi = args[2 * arg + 1] | 0;
    arg++;
    let len: number;
    if (fmt[i] === 0x70 /* p */) {
      if (kind === 0x73) {
        i += 2;
        len = src.readString(hi, lo, out, w, Math.min(STR_MAX, end - w));
        if (len < 0) len = 0;
      } else {
        if (fmt[i + 1] === 0x42) i++;
        len = writeHex(lo, hi, true, out, w, end);
      }
    } else if (kind === 0x73) {
      len = src.readString(hi, lo, out, w, Math.min(STR_MAX, end - w));
      if (len < 0) len = 0;
    } else {
      // No modifier: an int (the low 32 bits, sign-extended for %d/%i).
      if (mod === 0) hi = kind === 0x64 || kind === 0x69 ? lo >> 31 : 0;
      if (mod === 0 && kind !== 0x64 && kind !== 0x69) lo = lo | 0;
      len = kind === 0x78 ? writeHex(lo, hi, false, out, w, end) : writeDec(lo, hi, kind !== 0x75, out, w, end);
    }
    if (len < 0) return -E2BIG;
    w += len;
  }
  if (w - at > 0xffff) return -E2BIG;
  return w - at;
}
