// The translator: the program turned once, at load, into one JavaScript function that V8
// optimises, as the kernel JITs BPF into machine code (arch/x86/net/bpf_jit_comp.c). Each
// register is two int32 locals (l0/h0 .. l10/h10), so 64-bit arithmetic is exact without
// BigInt and nothing is allocated per run; the complicated operations (64-bit multiply,
// division, variable shifts) are small functions V8 inlines. Control flow:
//   - a program whose jumps all go forward (clang's usual output) becomes nested labelled
//     blocks, one per jump target, closed just before the target: a jump is `break L<t>`,
//     so V8 sees straight-line code with forward branches;
//   - a program with a loop (a jump backwards, allowed since 5.3) becomes a `for (;;) switch
//     (pc)` with a case per jump target; each backward jump spends from LOOP_BUDGET.
// Memory accesses and helpers are XdpEnv's (vm.ts), shared with the interpreter; a fault
// (out of bounds, a bad pointer) returns at once with env.fault set.

import type { XdpProgram } from './check.js';
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
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
import type { MapsLayout } from './maps.js';
import { CTX_HI, FAULT_LOOP, HELPER_CALLS, LOOP_BUDGET, MAP_HI, STACK_HI, VAL_HI, type XdpEnv } from './vm.js';

/** The most jump targets a program may have for the labelled-block form. */
export const MAX_NESTED_LABELS = 1000;

/** A translated program: runs once on env's current frame; r0's low 32 bits, or 0 after a fault. */
export type XdpRun = (env: XdpEnv) => number;

export interface TranslateOptions {
  /** Write r0..r10 (lo, hi) into `regs` at every exit (tests compare them with the interpreter's). */
  regs?: Int32Array;
  /**
   * Add each basic block's instruction count to env.insns when the block starts (what sim
   * mode charges per instruction). Equal to the interpreter's count for a run that ends at an
   * exit; a run that faults is charged its whole block.
   */
  count?: boolean;
}

// ---------------------------------------------------------------------- 64-bit arithmetic on int32 pairs
// Each returns the low half and leaves the high half in RH[0].

const RH = new Int32Array(1);

/** The high 32 bits of the unsigned 32 x 32 product. */
function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

function mul64(al: number, ah: number, bl: number, bh: number): number {
  RH[0] = (mulhu32(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
  return Math.imul(al, bl);
}

/** Unsigned 64-bit division or remainder (b != 0): shift and subtract, or one double division when both fit 32 bits. */
function divmodu64(al: number, ah: number, bl: number, bh: number, rem: boolean): number {
  if (ah === 0 && bh === 0) {
    RH[0] = 0;
    return (rem ? (al >>> 0) % (bl >>> 0) : (al >>> 0) / (bl >>> 0)) | 0;
  }
  let ql = 0;
  let qh = 0;
  let rl = 0;
  let rh = 0;
  for (let i = 63; i >= 0; i--) {
    const bit = i >= 32 ? (ah >>> (i - 32)) & 1 : (al >>> i) & 1;
    rh = (rh << 1) | (rl >>> 31);
    rl = (rl << 1) | bit;
    if (rh >>> 0 > bh >>> 0 || (rh === bh && rl >>> 0 >= bl >>> 0)) {
      const t = (rl >>> 0) - (bl >>> 0);
      rh = (rh - bh - (t < 0 ? 1 : 0)) | 0;
      rl = t | 0;
      if (i >= 32) qh |= 1 << (i - 32);
      else ql |= 1 << i;
    }
  }
  RH[0] = rem ? rh : qh;
  return rem ? rl : ql;
}

/** BPF_DIV (unsigned): division by zero gives 0. */
function div64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    RH[0] = 0;
    return 0;
  }
  return divmodu64(al, ah, bl, bh, false);
}

/** BPF_MOD (unsigned): modulo by zero leaves the dividend. */
function mod64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    RH[0] = ah;
    return al;
  }
  return divmodu64(al, ah, bl, bh, true);
}

/** BPF_SDIV (off 1): truncates toward zero; by zero gives 0; LLONG_MIN / -1 wraps to LLONG_MIN. */
function sdiv64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    RH[0] = 0;
    return 0;
  }
  const neg = ah < 0 !== bh < 0;
  const nal = ah < 0 ? -al | 0 : al;
  const nah = ah < 0 ? (~ah + (al === 0 ? 1 : 0)) | 0 : ah;
  const nbl = bh < 0 ? -bl | 0 : bl;
  const nbh = bh < 0 ? (~bh + (bl === 0 ? 1 : 0)) | 0 : bh;
  const ql = divmodu64(nal, nah, nbl, nbh, false);
  const qh = RH[0];
  if (!neg) return ql;
  RH[0] = (~qh + (ql === 0 ? 1 : 0)) | 0;
  return -ql | 0;
}

/** BPF_SMOD (off 1): the sign of the dividend; by zero leaves the dividend. */
function smod64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    RH[0] = ah;
    return al;
  }
  const nal = ah < 0 ? -al | 0 : al;
  const nah = ah < 0 ? (~ah + (al === 0 ? 1 : 0)) | 0 : ah;
  const nbl = bh < 0 ? -bl | 0 : bl;
  const nbh = bh < 0 ? (~bh + (bl === 0 ? 1 : 0)) | 0 : bh;
  const rl = divmodu64(nal, nah, nbl, nbh, true);
  const rh = RH[0];
  if (ah >= 0) return rl;
  RH[0] = (~rh + (rl === 0 ? 1 : 0)) | 0;
  return -rl | 0;
}

function lsh64(l: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) RH[0] = h;
  else if (s < 32) {
    RH[0] = (h << s) | (l >>> (32 - s));
    return l << s;
  } else {
    RH[0] = l << (s - 32);
    return 0;
  }
  return l;
}

function rsh64(l: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) {
    RH[0] = h;
    return l;
  }
  if (s < 32) {
    RH[0] = (h >>> s) | 0;
    return (l >>> s) | (h << (32 - s));
  }
  RH[0] = 0;
  return (h >>> (s - 32)) | 0;
}

function arsh64(l: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) {
    RH[0] = h;
    return l;
  }
  if (s < 32) {
    RH[0] = h >> s;
    return (l >>> s) | (h << (32 - s));
  }
  RH[0] = h >> 31;
  return h >> (s - 32);
}

const bswap32 = (x: string) => `((((${x}) & 255) << 24) | (((${x}) & 65280) << 8) | (((${x}) >>> 8) & 65280) | ((${x}) >>> 24))`;

// ---------------------------------------------------------------------- code generation

const L = (r: number) => `l${r}`;
const H = (r: number) => `h${r}`;

/** Call of helper `id` with the registers it takes; the result's low half (high in env.rh). */
function helperCall(id: number): string {
  const h = HELPER_CALLS.get(id);
  if (h === undefined) throw new Error(`jit: helper ${id}`); // check.ts refused it at load
  return `env.${h.method}(${h.args.join(', ')})`;
}

/** One 64-bit ALU operation on register d with source (sl, sh) (expressions). */
function alu64(op: number, signed: boolean, d: number, sl: string, sh: string, k: number | undefined): string {
  const ld = L(d);
  const hd = H(d);
  switch (op) {
    case BPF_MOV:
      return `${ld} = ${sl}; ${hd} = ${sh};`;
    case BPF_ADD:
      return `t = (${ld} >>> 0) + (${sl} >>> 0); ${hd} = (${hd} + ${sh} + (t > 4294967295 ? 1 : 0)) | 0; ${ld} = t | 0;`;
    case BPF_SUB:
      return `t = (${ld} >>> 0) - (${sl} >>> 0); ${hd} = (${hd} - ${sh} - (t < 0 ? 1 : 0)) | 0; ${ld} = t | 0;`;
    case BPF_MUL:
      return `${ld} = mul64(${ld}, ${hd}, ${sl}, ${sh}); ${hd} = RH[0];`;
    case BPF_DIV:
      return `${ld} = ${signed ? 'sdiv64' : 'div64'}(${ld}, ${hd}, ${sl}, ${sh}); ${hd} = RH[0];`;
    case BPF_MOD:
      return `${ld} = ${signed ? 'smod64' : 'mod64'}(${ld}, ${hd}, ${sl}, ${sh}); ${hd} = RH[0];`;
    case BPF_OR:
      return `${ld} = ${ld} | ${sl}; ${hd} = ${hd} | ${sh};`;
    case BPF_AND:
      return `${ld} = ${ld} & ${sl}; ${hd} = ${hd} & ${sh};`;
    case BPF_XOR:
      return `${ld} = ${ld} ^ ${sl}; ${hd} = ${hd} ^ ${sh};`;
    case BPF_NEG:
      return `${ld} = -${ld} | 0; ${hd} = (~${hd} + (${ld} === 0 ? 1 : 0)) | 0;`;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH: {
      if (k === undefined) {
        const f = op === BPF_LSH ? 'lsh64' : op === BPF_RSH ? 'rsh64' : 'arsh64';
        return `${ld} = ${f}(${ld}, ${hd}, ${sl}); ${hd} = RH[0];`;
      }
      const s = k & 63;
      if (s === 0) return '';
      if (op === BPF_LSH) {
        if (s < 32) return `${hd} = (${hd} << ${s}) | (${ld} >>> ${32 - s}); ${ld} = ${ld} << ${s};`;
        return `${hd} = ${ld} << ${s - 32}; ${ld} = 0;`;
      }
      if (op === BPF_RSH) {
        if (s < 32) return `${ld} = (${ld} >>> ${s}) | (${hd} << ${32 - s}); ${hd} = (${hd} >>> ${s}) | 0;`;
        return `${ld} = (${hd} >>> ${s - 32}) | 0; ${hd} = 0;`;
      }
      if (s < 32) return `${ld} = (${ld} >>> ${s}) | (${hd} << ${32 - s}); ${hd} = ${hd} >> ${s};`;
      return `${ld} = ${hd} >> ${s - 32}; ${hd} = ${hd} >> 31;`;
    }
  }
  throw new Error(`jit: ALU64 op 0x${op.toString(16)}`);
}

/** One 32-bit ALU operation: the result zero-extends into the register. */
function alu32(op: number, signed: boolean, d: number, sl: string): string {
  const ld = L(d);
  let e: string;
  switch (op) {
    case BPF_MOV:
      e = `${ld} = ${sl};`;
      break;
    case BPF_ADD:
      e = `${ld} = (${ld} + ${sl}) | 0;`;
      break;
    case BPF_SUB:
      e = `${ld} = (${ld} - ${sl}) | 0;`;
      break;
    case BPF_MUL:
      e = `${ld} = Math.imul(${ld}, ${sl});`;
      break;
    case BPF_DIV:
      e = signed
        ? `c = ${sl}; ${ld} = c === 0 ? 0 : (${ld} / c) | 0;`
        : `c = ${sl}; ${ld} = c === 0 ? 0 : ((${ld} >>> 0) / (c >>> 0)) | 0;`;
      break;
    case BPF_MOD:
      e = signed ? `c = ${sl}; if (c !== 0) ${ld} = (${ld} % c) | 0;` : `c = ${sl}; if (c !== 0) ${ld} = ((${ld} >>> 0) % (c >>> 0)) | 0;`;
      break;
    case BPF_OR:
      e = `${ld} = ${ld} | ${sl};`;
      break;
    case BPF_AND:
      e = `${ld} = ${ld} & ${sl};`;
      break;
    case BPF_XOR:
      e = `${ld} = ${ld} ^ ${sl};`;
      break;
    case BPF_LSH:
      e = `${ld} = ${ld} << ${sl};`;
      break;
    case BPF_RSH:
      e = `${ld} = (${ld} >>> ${sl}) | 0;`;
      break;
    case BPF_ARSH:
      e = `${ld} = ${ld} >> ${sl};`;
      break;
    case BPF_NEG:
      e = `${ld} = -${ld} | 0;`;
      break;
    default:
      throw new Error(`jit: ALU op 0x${op.toString(16)}`);
  }
  return `${e} ${H(d)} = 0;`;
}

/** The condition of a conditional jump on register d against (sl, sh). */
function condition(op: number, is64: boolean, d: number, sl: string, sh: string): string {
  const ld = L(d);
  const hd = H(d);
  const u = (x: string) => `(${x} >>> 0)`;
  if (!is64) {
    switch (op) {
      case BPF_JEQ:
        return `${ld} === ${sl}`;
      case BPF_JNE:
        return `${ld} !== ${sl}`;
      case BPF_JGT:
        return `${u(ld)} > ${u(sl)}`;
      case BPF_JGE:
        return `${u(ld)} >= ${u(sl)}`;
      case BPF_JLT:
        return `${u(ld)} < ${u(sl)}`;
      case BPF_JLE:
        return `${u(ld)} <= ${u(sl)}`;
      case BPF_JSET:
        return `(${ld} & ${sl}) !== 0`;
      case BPF_JSGT:
        return `${ld} > ${sl}`;
      case BPF_JSGE:
        return `${ld} >= ${sl}`;
      case BPF_JSLT:
        return `${ld} < ${sl}`;
      case BPF_JSLE:
        return `${ld} <= ${sl}`;
    }
  }
  const rel = (hiCmp: string, loCmp: string, signed: boolean) =>
    `(${signed ? hd : u(hd)} ${hiCmp} ${signed ? sh : u(sh)} || (${hd} === ${sh} && ${u(ld)} ${loCmp} ${u(sl)}))`;
  switch (op) {
    case BPF_JEQ:
      return `(${ld} === ${sl} && ${hd} === ${sh})`;
    case BPF_JNE:
      return `(${ld} !== ${sl} || ${hd} !== ${sh})`;
    case BPF_JGT:
      return rel('>', '>', false);
    case BPF_JGE:
      return rel('>', '>=', false);
    case BPF_JLT:
      return rel('<', '<', false);
    case BPF_JLE:
      return rel('<', '<=', false);
    case BPF_JSGT:
      return rel('>', '>', true);
    case BPF_JSGE:
      return rel('>', '>=', true);
    case BPF_JSLT:
      return rel('<', '<', true);
    case BPF_JSLE:
      return rel('<', '<=', true);
    case BPF_JSET:
      return `((${ld} & ${sl}) !== 0 || (${hd} & ${sh}) !== 0)`;
  }
  throw new Error(`jit: jump op 0x${op.toString(16)}`);
}

/** The JavaScript source of a program's function body (exported for tests and for reading). */
export function translateSource(p: XdpProgram, layout: MapsLayout, o: { regs?: boolean; count?: boolean } = {}): string {
  const { code, dst, src, off, imm, length: n } = p.insns;
  const targets = [...p.leaders.keys()].filter((i) => p.leaders[i] === 1);
  // Labelled blocks nest one per jump target, and V8's parser recurses per level (5000 levels
  // overflow its stack): a program with many targets takes the pc dispatch too.
  const loop = p.backEdges || targets.length > MAX_NESTED_LABELS;
  const regList = Array.from({ length: 11 }, (_, i) => i);
  const exportRegs = o.regs ? `${regList.map((i) => `regs[${2 * i}] = l${i}; regs[${2 * i + 1}] = h${i};`).join(' ')} ` : '';
  const fail = `{ ${exportRegs}return 0; }`;
  const checkFault = `if (env.fault !== 0) ${fail}`;
  const out: string[] = [];
  out.push(
    `let ${regList.map((i) => `l${i} = 0, h${i} = 0`).join(', ')};`,
    `h1 = ${CTX_HI}; l10 = ${MAX_BPF_STACK}; h10 = ${STACK_HI};`,
    'let t = 0, c = 0;',
  );
  if (loop) out.push(`let budget = ${LOOP_BUDGET}, pc = 0;`, 'for (;;) switch (pc) {', 'case 0:');
  else for (const t of [...targets].reverse()) out.push(`L${t}: {`);
  // A basic block runs from a jump target (or the instruction after a jump or exit) to the next jump or exit.
  const endsBlock = (i: number) => {
    const cls = code[i] & 7;
    return (cls === BPF_JMP || cls === BPF_JMP32) && (code[i] & 0xf0) !== BPF_CALL;
  };
  const blockLength = (start: number) => {
    let k = 0;
    for (let i = start; i < n; i += code[i] === 0x18 ? 2 : 1) {
      k++;
      if (endsBlock(i) || (i + 1 < n && p.leaders[i + (code[i] === 0x18 ? 2 : 1)])) break;
    }
    return k;
  };
  const jump = (from: number, to: number): string => {
    if (!loop) return `break L${to};`;
    if (to > from) return `{ pc = ${to}; continue; }`;
    return `{ if (--budget < 0) { env.fault = ${FAULT_LOOP}; ${exportRegs}return 0; } pc = ${to}; continue; }`;
  };
  for (let i = 0; i < n; i++) {
    if (p.leaders[i]) out.push(loop ? `case ${i}:` : `} // L${i}`);
    if (o.count && (i === 0 || p.leaders[i] || endsBlock(i - 1))) out.push(`env.insns += ${blockLength(i)};`);
    const c = code[i];
    const cls = c & 7;
    const d = dst[i];
    const s = src[i];
    const k = imm[i];
    const isX = (c & BPF_X) !== 0;
    let line: string;
    switch (cls) {
      case BPF_ALU64: {
        const op = c & 0xf0;
        line = isX ? alu64(op, off[i] === 1, d, L(s), H(s), undefined) : alu64(op, off[i] === 1, d, String(k), k < 0 ? '-1' : '0', k);
        break;
      }
      case BPF_ALU: {
        const op = c & 0xf0;
        if (op === BPF_END) {
          const toBe = (c & BPF_TO_BE) !== 0;
          const ld = L(d);
          if (k === 16)
            line = toBe ? `${ld} = ((${ld} & 255) << 8) | ((${ld} >>> 8) & 255); ${H(d)} = 0;` : `${ld} = ${ld} & 65535; ${H(d)} = 0;`;
          else if (k === 32) line = toBe ? `${ld} = ${bswap32(ld)}; ${H(d)} = 0;` : `${H(d)} = 0;`;
          else line = toBe ? `t = ${bswap32(ld)}; ${ld} = ${bswap32(H(d))}; ${H(d)} = t | 0;` : '';
          break;
        }
        line = alu32(op, off[i] === 1, d, isX ? L(s) : String(k));
        break;
      }
      case BPF_JMP:
      case BPF_JMP32: {
        const op = c & 0xf0;
        if (op === BPF_EXIT) line = `${exportRegs}return l0 >>> 0;`;
        else if (op === BPF_CALL) line = `t = ${helperCall(k)}; ${checkFault} l0 = t; h0 = env.rh;`;
        else if (op === BPF_JA) line = jump(i, i + off[i] + 1);
        else {
          const is64 = cls === BPF_JMP;
          const sl = isX ? L(s) : String(k);
          const sh = isX ? H(s) : k < 0 ? '-1' : '0';
          line = `if (${condition(op, is64, d, sl, sh)}) ${jump(i, i + off[i] + 1)}`;
        }
        break;
      }
      case BPF_LD: {
        const ld = L(d);
        const hd = H(d);
        if (s === BPF_PSEUDO_MAP_FD) line = `${ld} = 0; ${hd} = ${MAP_HI + k};`;
        else if (s === BPF_PSEUDO_MAP_VALUE) line = `${ld} = ${layout.maps[k].vbase + imm[i + 1]}; ${hd} = ${VAL_HI + k};`;
        else line = `${ld} = ${k}; ${hd} = ${imm[i + 1]};`;
        out.push(line);
        i++; // the second slot (never a jump target: check.ts)
        continue;
      }
      case BPF_LDX: {
        const size = c & 0x18;
        const f = size === BPF_DW ? 'ld8' : size === BPF_W ? 'ld4' : size === BPF_H ? 'ld2' : 'ld1';
        const hi = size === BPF_DW || size === BPF_W ? 'env.rh' : '0';
        line = `t = env.${f}(${H(s)}, ${L(s)}, ${off[i]}); ${checkFault} ${L(d)} = t; ${H(d)} = ${hi};`;
        break;
      }
      case BPF_ST:
      case BPF_STX: {
        const size = c & 0x18;
        if (cls === BPF_STX && (c & 0xe0) === BPF_ATOMIC) {
          const bytes = size === BPF_DW ? 8 : 4;
          line = `t = env.atomic(${H(d)}, ${L(d)}, ${off[i]}, ${bytes}, ${k}, ${L(s)}, ${H(s)}, l0, h0); ${checkFault}`;
          if ((k & BPF_FETCH) !== 0) {
            const r = k === BPF_CMPXCHG ? 0 : s;
            line += ` ${L(r)} = t; ${H(r)} = ${bytes === 8 ? 'env.rh' : '0'};`;
          }
          break;
        }
        const vl = cls === BPF_STX ? L(s) : String(k);
        const vh = cls === BPF_STX ? H(s) : k < 0 ? '-1' : '0';
        const f = size === BPF_DW ? 'st8' : size === BPF_W ? 'st4' : size === BPF_H ? 'st2' : 'st1';
        line = `env.${f}(${H(d)}, ${L(d)}, ${off[i]}, ${vl}${size === BPF_DW ? `, ${vh}` : ''}); ${checkFault}`;
        break;
      }
      default:
        throw new Error(`jit: class ${cls}`);
    }
    out.push(`${line} // ${i}`);
  }
  if (loop) out.push(`default: ${fail}`, '}');
  return out.join('\n');
}

/** Translate a checked program into a function for maps of `layout`. */
export function translate(p: XdpProgram, layout: MapsLayout, o: TranslateOptions = {}): XdpRun {
  const body = translateSource(p, layout, { regs: o.regs !== undefined, count: o.count === true });
  const name = `xdp_${p.obj.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const factory = new Function(
    'RH',
    'mul64',
    'div64',
    'mod64',
    'sdiv64',
    'smod64',
    'lsh64',
    'rsh64',
    'arsh64',
    'regs',
    `"use strict";\nreturn function ${name}(env) {\n${body}\n};`,
  ) as (...a: unknown[]) => XdpRun;
  return factory(RH, mul64, div64, mod64, sdiv64, smod64, lsh64, rsh64, arsh64, o.regs ?? null);
}

/** One run of a program the way the kernel's bpf_prog_run_xdp is called: the action (XDP_ABORTED after a fault or an invalid action). */
export function bpf_prog_run_xdp(run: XdpRun, env: XdpEnv): number {
  env.begin();
  return env.end(run(env));
}
