// The load-time checks: what of the kernel's verifier (kernel/bpf/verifier.c) an engine
// without a verifier still needs before it runs a program. Each refusal is one line naming the
// instruction, as the verifier's log would:
//   - every opcode is one the instruction set defines for its class, with valid registers,
//     and r10 (the frame pointer) is never written (check_reg_arg: "frame pointer is read only");
//   - every jump lands inside the program and not on the second half of an ld_imm64
//     (check_cfg: "jump out of range from insn N to M");
//   - the last instruction is an exit or a jump ("last insn is not an exit or jmp");
//   - BPF_LD_ABS/IND are refused for XDP (check_ld_abs: not allowed for this program type);
//   - every call is to a helper rxsmp runs (check_helper_call: "invalid func unknown#N");
//     bpf-to-bpf calls and kfuncs are refused;
//   - the map a map helper is given is a map on every path, and one that helper may take
//     (check_map_func_compatibility: a cpumap only with bpf_redirect_map).
// What the verifier proves about memory (packet bounds, stack and map value bounds) is checked
// at run time instead: an access out of bounds ends the run as XDP_ABORTED (vm.ts).

import { BpfLoadError, loadCheck } from './errors.js';
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_LSH,
  BPF_RSH,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_FUNC_map_delete_elem,
  BPF_FUNC_map_lookup_elem,
  BPF_FUNC_map_update_elem,
  BPF_FUNC_MAX_ID_5_10,
  BPF_FUNC_redirect_map,
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MAP_TYPE_CPUMAP,
  BPF_MAP_TYPE_DEVMAP,
  BPF_MEM,
  BPF_MOD,
  BPF_MOV,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_XCHG,
  BPF_XOR,
  decodeInsns,
  HELPERS,
  HELPERS_NOT_MODELLED,
  MAX_BPF_STACK,
  type Insns,
} from './insn.js';
import { mapTypeName, type BpfObject } from './object.js';

/** A program that passed the checks, ready for the interpreter or the translator. */
export interface XdpProgram {
  obj: BpfObject;
  insns: Insns;
  /** 1 where an instruction is the target of a jump. */
  leaders: Uint8Array;
  /** Some jump goes backwards (a loop): the translator then dispatches by pc. */
  backEdges: boolean;
}

const MAP_HELPERS = new Set([BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_map_delete_elem, BPF_FUNC_redirect_map]);
const JMP_OPS = new Set([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0]);
const ATOMIC_OPS = new Set([
  BPF_ADD,
  BPF_OR,
  BPF_AND,
  BPF_XOR,
  BPF_ADD | BPF_FETCH,
  BPF_OR | BPF_FETCH,
  BPF_AND | BPF_FETCH,
  BPF_XOR | BPF_FETCH,
  BPF_XCHG,
  BPF_CMPXCHG,
]);

const at = (i: number) => `instruction ${i}`;
/** Where a refusal of a helper points: the list is longer than a message may be. */
const HELPERS_RUN = `docs/xdp.md lists the ${HELPERS.size} helpers rxsmp runs`;

/** check_map_func_compatibility (5.10), for the map types rxsmp has: undefined when allowed, else why not. */
function mapFuncRefusal(mapType: number, func: number): string | undefined {
  if (mapType === BPF_MAP_TYPE_CPUMAP && func !== BPF_FUNC_redirect_map) return 'which takes only bpf_redirect_map';
  if (mapType === BPF_MAP_TYPE_DEVMAP && func !== BPF_FUNC_redirect_map && func !== BPF_FUNC_map_lookup_elem)
    return 'which takes only bpf_redirect_map and bpf_map_lookup_elem';
  if (func === BPF_FUNC_redirect_map && mapType !== BPF_MAP_TYPE_CPUMAP && mapType !== BPF_MAP_TYPE_DEVMAP)
    return 'not a devmap or a cpumap';
  return undefined;
}

function checkHelper(i: number, id: number): void {
  if (HELPERS.has(id)) return;
  const name = HELPERS_NOT_MODELLED.get(id);
  if (name !== undefined) throw new BpfLoadError(`${at(i)} calls ${name} (helper ${id}), which rxsmp does not model (${HELPERS_RUN})`);
  throw new BpfLoadError(
    id > 0 && id <= BPF_FUNC_MAX_ID_5_10
      ? `${at(i)} calls helper ${id}, which an XDP program may not call (invalid func #${id}; ${HELPERS_RUN})`
      : `${at(i)} calls unknown helper ${id} (no such helper in Linux 5.10: "invalid func unknown#${id}")`,
  );
}

/** The opcode checks of one instruction (not ld_imm64's second slot). */
function checkInsn(p: Insns, i: number, nmaps: number, maps: BpfObject['maps']): void {
  const code = p.code[i];
  const cls = code & 7;
  const dst = p.dst[i];
  const src = p.src[i];
  const bad = (what: string) => new BpfLoadError(`${at(i)}: ${what} (code 0x${code.toString(16).padStart(2, '0')})`);
  if (dst > 10 || src > 10) throw bad(`register r${Math.max(dst, src)} does not exist (r0 to r10)`);
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      const op = code & 0xf0;
      if (op > BPF_END) throw bad('unknown ALU operation');
      if (dst === 10) throw bad('the frame pointer r10 is read only');
      if (op === BPF_END) {
        if (cls === BPF_ALU64) throw bad('BPF_ALU64 | BPF_END (cpu v4 bswap) is not in Linux 5.10');
        if (p.imm[i] !== 16 && p.imm[i] !== 32 && p.imm[i] !== 64) throw bad(`byte swap of ${p.imm[i]} bits (16, 32 or 64)`);
        return;
      }
      if (op === BPF_NEG && (code & 8) !== 0) throw bad('BPF_NEG takes no source register');
      if ((code & 8) === 0 && (op === BPF_DIV || op === BPF_MOD) && p.imm[i] === 0) throw bad('division by zero'); // check_alu_op
      const width = cls === BPF_ALU64 ? 64 : 32;
      if ((code & 8) === 0 && (op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && (p.imm[i] < 0 || p.imm[i] >= width))
        throw bad(`invalid shift ${p.imm[i]} (a ${width}-bit shift takes 0 to ${width - 1})`);
      const offOk = p.off[i] === 0 || ((op === BPF_DIV || op === BPF_MOD) && p.off[i] === 1);
      if (!offOk) throw bad(op === BPF_MOV ? 'sign-extending moves (cpu v4 movsx) are not in Linux 5.10' : `a nonzero offset ${p.off[i]}`);
      return;
    }
    case BPF_JMP:
    case BPF_JMP32: {
      const op = code & 0xf0;
      if (!JMP_OPS.has(op)) throw bad('unknown jump operation');
      if (op === BPF_CALL) {
        if (cls !== BPF_JMP) throw bad('BPF_JMP32 | BPF_CALL');
        if (src === BPF_PSEUDO_CALL) throw bad('a bpf-to-bpf call (mark the function __always_inline: rxsmp runs one function)');
        if (src === BPF_PSEUDO_KFUNC_CALL) throw bad('a kfunc call (not in Linux 5.10)');
        checkHelper(i, p.imm[i]);
        return;
      }
      if (op === BPF_EXIT || op === BPF_JA) {
        if (cls !== BPF_JMP) throw bad(op === BPF_JA ? 'BPF_JMP32 | BPF_JA (cpu v4 gotol) is not in Linux 5.10' : 'BPF_JMP32 | BPF_EXIT');
        return;
      }
      return;
    }
    case BPF_LD: {
      const mode = code & 0xe0;
      if (mode === BPF_ABS || mode === BPF_IND) throw bad('BPF_LD_[ABS|IND] are not allowed in XDP programs');
      if (code !== (BPF_LD | BPF_IMM | BPF_DW)) throw bad('unknown BPF_LD instruction');
      if (dst === 10) throw bad('the frame pointer r10 is read only');
      if (i + 1 >= p.length || p.code[i + 1] !== 0 || p.dst[i + 1] !== 0 || p.src[i + 1] !== 0 || p.off[i + 1] !== 0)
        throw bad('an ld_imm64 without its second slot');
      if (src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_VALUE) {
        const m = p.imm[i];
        if (m < 0 || m >= nmaps) throw bad(`map ${m} does not exist (no relocation for this ld_imm64?)`);
        if (src === BPF_PSEUDO_MAP_VALUE) {
          const off = p.imm[i + 1];
          if (off < 0 || off >= maps[m].value_size) throw bad(`offset ${off} is outside ${maps[m].name} (${maps[m].value_size} bytes)`);
        }
      } else if (src !== 0) throw bad(`ld_imm64 with src_reg ${src}`);
      return;
    }
    case BPF_LDX:
      if ((code & 0xe0) !== BPF_MEM) throw bad('BPF_LDX other than BPF_MEM (cpu v4 sign-extending loads are not in Linux 5.10)');
      if (dst === 10) throw bad('the frame pointer r10 is read only');
      return;
    case BPF_ST:
      if ((code & 0xe0) !== BPF_MEM) throw bad('BPF_ST other than BPF_MEM');
      return;
    case BPF_STX: {
      const mode = code & 0xe0;
      if (mode === BPF_ATOMIC) {
        const size = code & 0x18;
        if (size !== BPF_W && size !== BPF_DW) throw bad('atomic operations are on 32 or 64 bits');
        if (!ATOMIC_OPS.has(p.imm[i])) throw bad(`unknown atomic operation 0x${(p.imm[i] >>> 0).toString(16)}`);
        if ((p.imm[i] & BPF_FETCH) !== 0 && src === 10) throw bad('a fetching atomic would write r10');
        return;
      }
      if (mode !== BPF_MEM) throw bad('BPF_STX other than BPF_MEM and BPF_ATOMIC');
      return;
    }
  }
}

// ---- which map each register may hold, on every path (a forward dataflow to a fixed point)

const NOT_MAP = 1n << 63n;
const SLOTS = MAX_BPF_STACK / 8;
const STATE = 11 + SLOTS;

/** For each map helper call: the set of maps r1 may hold there (bit per map, NOT_MAP when it may be something else). */
function mapArgs(p: Insns, next: (i: number) => number[]): Map<number, bigint> {
  const n = p.length;
  const states: (bigint[] | undefined)[] = new Array(n);
  const init = new Array<bigint>(STATE).fill(NOT_MAP);
  states[0] = init;
  const work = [0];
  const out = new Map<number, bigint>();
  const slotOf = (off: number) => (off < -MAX_BPF_STACK || off > -8 || off % 8 !== 0 ? -1 : 11 + (MAX_BPF_STACK + off) / 8);
  while (work.length > 0) {
    const i = work.pop()!;
    const s = states[i]!.slice();
    const code = p.code[i];
    const cls = code & 7;
    const dst = p.dst[i];
    const src = p.src[i];
    if (cls === BPF_LD) s[dst] = src === BPF_PSEUDO_MAP_FD ? 1n << BigInt(Math.min(p.imm[i], 62)) : NOT_MAP;
    else if (cls === BPF_ALU64 && code === (BPF_ALU64 | BPF_MOV | 8)) s[dst] = s[src];
    else if (cls === BPF_ALU || cls === BPF_ALU64) s[dst] = NOT_MAP;
    else if (cls === BPF_LDX) {
      const slot = src === 10 && (code & 0x18) === BPF_DW ? slotOf(p.off[i]) : -1;
      s[dst] = slot >= 0 ? s[slot] : NOT_MAP;
    } else if (cls === BPF_STX || cls === BPF_ST) {
      if (dst === 10) {
        // A narrower store into a slot leaves it something other than a map.
        const slot = slotOf(p.off[i] - (p.off[i] & 7));
        if (slot >= 0) s[slot] = cls === BPF_STX && (code & 0xe0) === BPF_MEM && (code & 0x18) === BPF_DW ? s[src] : NOT_MAP;
      }
      if (cls === BPF_STX && (code & 0xe0) === BPF_ATOMIC && (p.imm[i] & BPF_FETCH) !== 0) s[p.imm[i] === BPF_CMPXCHG ? 0 : src] = NOT_MAP;
    } else if (cls === BPF_JMP && (code & 0xf0) === BPF_CALL) {
      if (MAP_HELPERS.has(p.imm[i])) out.set(i, (out.get(i) ?? 0n) | s[1]);
      for (let r = 0; r <= 5; r++) s[r] = NOT_MAP;
    }
    for (const j of next(i)) {
      const old = states[j];
      if (old === undefined) {
        states[j] = s;
        work.push(j);
        continue;
      }
      let changed = false;
      for (let k = 0; k < STATE; k++) {
        const v = old[k] | s[k];
        if (v !== old[k]) {
          old[k] = v;
          changed = true;
        }
      }
      if (changed) work.push(j);
    }
  }
  return out;
}

/** Check a loaded object's program; the result is what the engines run. Throws BpfLoadError. */
export function checkProgram(obj: BpfObject): XdpProgram {
  const p = decodeInsns(obj.insns);
  const n = p.length;
  loadCheck(n > 0, () => `section '${obj.section}' has no instructions`);
  loadCheck(n <= 1_000_000, () => `${n} instructions is more than BPF_COMPLEXITY_LIMIT_INSNS (1000000)`);
  const second = new Uint8Array(n); // 1 on the second slot of an ld_imm64
  for (let i = 0; i < n; i++) {
    if (second[i]) continue;
    checkInsn(p, i, obj.maps.length, obj.maps);
    if (p.code[i] === (BPF_LD | BPF_IMM | BPF_DW)) second[i + 1] = 1;
  }
  const leaders = new Uint8Array(n);
  let backEdges = false;
  const isJump = (i: number) => {
    const c = p.code[i];
    const cls = c & 7;
    const op = c & 0xf0;
    return (cls === BPF_JMP || cls === BPF_JMP32) && op !== BPF_CALL && op !== BPF_EXIT;
  };
  for (let i = 0; i < n; i++) {
    if (second[i] || !isJump(i)) continue;
    const t = i + p.off[i] + 1;
    loadCheck(
      t >= 0 && t < n,
      () => `${at(i)} jumps out of the program, to ${t} (${n} instructions: "jump out of range from insn ${i} to ${t}")`,
    );
    loadCheck(!second[t], () => `${at(i)} jumps into the middle of the ld_imm64 at ${t - 1}`);
    leaders[t] = 1;
    if (t <= i) backEdges = true;
  }
  const last = n - 1 - (second[n - 1] ? 1 : 0);
  const lastCode = p.code[second[n - 1] ? n - 2 : n - 1];
  loadCheck(
    !second[n - 1] && (lastCode === (BPF_JMP | BPF_EXIT) || lastCode === (BPF_JMP | BPF_JA)),
    () => `the last instruction (${last}) is not an exit or a jump: the program would run off its end ("last insn is not an exit or jmp")`,
  );
  const next = (i: number): number[] => {
    const c = p.code[i];
    const cls = c & 7;
    const op = c & 0xf0;
    if (cls === BPF_LD) return [i + 2];
    if ((cls === BPF_JMP || cls === BPF_JMP32) && op !== BPF_CALL) {
      if (op === BPF_EXIT) return [];
      if (op === BPF_JA) return [i + p.off[i] + 1];
      return [i + 1, i + p.off[i] + 1];
    }
    return [i + 1];
  };
  for (const [i, set] of mapArgs(p, next)) {
    const helper = HELPERS.get(p.imm[i])!;
    if (set & NOT_MAP) {
      throw new BpfLoadError(
        `${at(i)}: ${helper}'s first argument (r1) is not a map on every path to it (the verifier: "R1 type=inv expected=map_ptr")`,
      );
    }
    for (let m = 0; m < obj.maps.length && m < 63; m++) {
      if ((set & (1n << BigInt(m))) === 0n) continue;
      const map = obj.maps[m];
      const why = mapFuncRefusal(map.type, p.imm[i]);
      if (why !== undefined) {
        throw new BpfLoadError(
          `${at(i)}: ${helper} on ${mapTypeName(map.type)} '${map.name}', ${why} ("cannot pass map_type ${map.type} into func ${helper}#${p.imm[i]}")`,
        );
      }
      if (map.readonly && p.imm[i] !== BPF_FUNC_map_lookup_elem)
        throw new BpfLoadError(`${at(i)}: ${helper} on '${map.name}', which the program may only read (BPF_F_RDONLY_PROG)`);
    }
  }
  return { obj, insns: p, leaders, backEdges };
}
