// The reference engine: one instruction at a time, as kernel/bpf/core.c's ___bpf_prog_run
// does, with registers as BigInts reduced to 64 bits after every operation. It is slow and
// plain on purpose: the translated function (jit.ts) is tested against it, and the two share
// nothing but the memory accesses and helpers of XdpEnv. Arithmetic follows the BPF ISA
// (Documentation/bpf/instruction-set.rst): division by zero gives 0, modulo by zero leaves the
// destination (its upper half zeroed for 32-bit operations), shifts take the amount modulo the
// width, signed division (off 1) truncates toward zero and LLONG_MIN / -1 wraps.

import type { XdpProgram } from './check.js';
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_FETCH,
  BPF_H,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_LD,
  BPF_LDX,
  BPF_LSH,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TO_BE,
  BPF_W,
  BPF_X,
  BPF_XOR,
  MAX_BPF_STACK,
} from './insn.js';
import { CTX_HI, FAULT_CALL, FAULT_LOOP, FAULT_NONE, HELPER_CALLS, LOOP_BUDGET, MAP_HI, STACK_HI, VAL_HI, type XdpEnv } from './vm.js';

const u64 = (x: bigint) => BigInt.asUintN(64, x);
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const u32 = (x: bigint) => BigInt.asUintN(32, x);
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const hiOf = (x: bigint) => Number(BigInt.asIntN(32, x >> 32n));
const loOf = (x: bigint) => Number(BigInt.asIntN(32, x));
const pair = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

function bswap(x: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits / 8; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
}

function alu(op: number, is64: boolean, signed: boolean, d: bigint, s: bigint): bigint {
  const w = is64 ? u64 : u32;
  const sw = is64 ? s64 : s32;
  const mask = is64 ? 63n : 31n;
  if (!is64) {
    d = u32(d);
    s = u32(s);
  }
  switch (op) {
    case BPF_ADD:
      return w(d + s);
    case BPF_SUB:
      return w(d - s);
    case BPF_MUL:
      return w(d * s);
    case BPF_DIV:
      if (s === 0n) return 0n;
      return signed ? w(sw(d) / sw(s)) : d / s;
    case BPF_MOD:
      if (s === 0n) return d;
      return signed ? w(sw(d) % sw(s)) : d % s;
    case BPF_OR:
      return d | s;
    case BPF_AND:
      return d & s;
    case BPF_XOR:
      return d ^ s;
    case BPF_LSH:
      return w(d << (s & mask));
    case BPF_RSH:
      return d >> (s & mask);
    case BPF_ARSH:
      return w(sw(d) >> (s & mask));
    case BPF_NEG:
      return w(-d);
    case BPF_MOV:
      return s;
  }
  throw new Error(`interp: ALU op 0x${op.toString(16)}`); // check.ts refused it at load
}

function cond(op: number, is64: boolean, d: bigint, s: bigint): boolean {
  if (!is64) {
    d = u32(d);
    s = u32(s);
  }
  const sd = is64 ? s64(d) : s32(d);
  const ss = is64 ? s64(s) : s32(s);
  switch (op) {
    case BPF_JEQ:
      return d === s;
    case BPF_JNE:
      return d !== s;
    case BPF_JGT:
      return d > s;
    case BPF_JGE:
      return d >= s;
    case BPF_JLT:
      return d < s;
    case BPF_JLE:
      return d <= s;
    case BPF_JSET:
      return (d & s) !== 0n;
    case BPF_JSGT:
      return sd > ss;
    case BPF_JSGE:
      return sd >= ss;
    case BPF_JSLT:
      return sd < ss;
    case BPF_JSLE:
      return sd <= ss;
  }
  throw new Error(`interp: jump op 0x${op.toString(16)}`);
}

/** Call helper `id` with r1..r5 as HELPER_CALLS says; the 64-bit result (env.fault set when the call faulted). */
function callHelper(env: XdpEnv, id: number, r: bigint[]): bigint {
  const h = HELPER_CALLS.get(id);
  if (h === undefined) {
    env.fault = FAULT_CALL;
    return 0n;
  }
  const args = h.args.map((a) => (a[0] === 'h' ? hiOf(r[Number(a.slice(1))]) : loOf(r[Number(a.slice(1))])));
  const f = (env as unknown as Record<string, (...a: number[]) => number>)[h.method];
  return pair(f.apply(env, args), env.rh);
}

/**
 * Run `p` once on env's current frame. Returns r0's low 32 bits (0 after a fault: env.fault
 * says why). `regs`, when given, receives the final r0..r10.
 */
export function interpret(p: XdpProgram, env: XdpEnv, regs?: BigUint64Array): number {
  const { code, dst, src, off, imm } = p.insns;
  const r: bigint[] = new Array<bigint>(11).fill(0n);
  r[1] = BigInt(CTX_HI) << 32n;
  r[10] = (BigInt(STACK_HI) << 32n) | BigInt(MAX_BPF_STACK);
  let budget = LOOP_BUDGET;
  let pc = 0;
  const done = (v: number) => {
    if (regs) for (let i = 0; i <= 10; i++) regs[i] = r[i];
    return v;
  };
  for (;;) {
    env.insns++;
    const c = code[pc];
    const cls = c & 7;
    const d = dst[pc];
    const sr = src[pc];
    switch (cls) {
      case BPF_ALU:
      case BPF_ALU64: {
        const is64 = cls === BPF_ALU64;
        const op = c & 0xf0;
        if (op === BPF_END) {
          const bits = imm[pc];
          const v = r[d] & ((1n << BigInt(bits)) - 1n);
          r[d] = (c & BPF_TO_BE) !== 0 ? bswap(v, bits) : v;
          break;
        }
        const s = (c & BPF_X) !== 0 ? r[sr] : is64 ? u64(BigInt(imm[pc])) : u32(BigInt(imm[pc]));
        r[d] = alu(op, is64, off[pc] === 1, r[d], s);
        break;
      }
      case BPF_JMP:
      case BPF_JMP32: {
        const op = c & 0xf0;
        if (op === 0x90 /* EXIT */) return done(loOf(r[0]) >>> 0);
        if (op === 0x80 /* CALL */) {
          const v = callHelper(env, imm[pc], r);
          if (env.fault !== FAULT_NONE) return done(0);
          r[0] = v;
          break;
        }
        const is64 = cls === BPF_JMP;
        const taken = op === BPF_JA || cond(op, is64, r[d], (c & BPF_X) !== 0 ? r[sr] : is64 ? u64(BigInt(imm[pc])) : u32(BigInt(imm[pc])));
        if (taken) {
          const t = pc + off[pc] + 1;
          if (t <= pc && --budget < 0) {
            env.fault = FAULT_LOOP;
            return done(0);
          }
          pc = t;
          continue;
        }
        break;
      }
      case BPF_LD: {
        // ld_imm64 (check.ts allows no other BPF_LD)
        if (sr === BPF_PSEUDO_MAP_FD) r[d] = BigInt(MAP_HI + imm[pc]) << 32n;
        else if (sr === BPF_PSEUDO_MAP_VALUE) r[d] = (BigInt(VAL_HI + imm[pc]) << 32n) | BigInt(env.vbase[imm[pc]] + imm[pc + 1]);
        else r[d] = pair(imm[pc], imm[pc + 1]);
        pc += 2;
        continue;
      }
      case BPF_LDX: {
        const h = hiOf(r[sr]);
        const l = loOf(r[sr]);
        const size = c & 0x18;
        let v: bigint;
        if (size === BPF_DW) v = BigInt(env.ld8(h, l, off[pc]) >>> 0);
        else if (size === BPF_W) v = BigInt(env.ld4(h, l, off[pc]) >>> 0);
        else if (size === BPF_H) v = BigInt(env.ld2(h, l, off[pc]));
        else v = BigInt(env.ld1(h, l, off[pc]));
        if (env.fault !== FAULT_NONE) return done(0);
        if (size === BPF_DW || size === BPF_W) v |= BigInt(env.rh >>> 0) << 32n;
        r[d] = v;
        break;
      }
      case BPF_ST:
      case BPF_STX: {
        const h = hiOf(r[d]);
        const l = loOf(r[d]);
        const size = c & 0x18;
        if (cls === BPF_STX && (c & 0xe0) === BPF_ATOMIC) {
          const op = imm[pc];
          const v = r[sr];
          const old = env.atomic(h, l, off[pc], size === BPF_DW ? 8 : 4, op, loOf(v), hiOf(v), loOf(r[0]), hiOf(r[0]));
          if (env.fault !== FAULT_NONE) return done(0);
          if ((op & BPF_FETCH) !== 0) {
            const o = size === BPF_DW ? pair(old, env.rh) : BigInt(old >>> 0);
            if (op === BPF_CMPXCHG) r[0] = o;
            else r[sr] = o;
          }
          break;
        }
        const v = cls === BPF_STX ? r[sr] : u64(BigInt(imm[pc]));
        if (size === BPF_DW) env.st8(h, l, off[pc], loOf(v), hiOf(v));
        else if (size === BPF_W) env.st4(h, l, off[pc], loOf(v));
        else if (size === BPF_H) env.st2(h, l, off[pc], loOf(v));
        else env.st1(h, l, off[pc], loOf(v));
        if (env.fault !== FAULT_NONE) return done(0);
        break;
      }
    }
    pc++;
  }
}
