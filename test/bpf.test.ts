/**
 * bpf.test.ts: the BPF engine (src/bpf/) on real objects built by clang from test/xdp/*.c.
 *
 * - Loading: each program's maps as its source declares them (BTF-defined and legacy), the
 *   relocations, global data (bpf_printk's format in .rodata).
 * - The translated function against the interpreter (must-show 2): every test program, built
 *   for the default CPU and for -mcpu=v3 (JMP32, atomics with fetch), and a few hundred
 *   generated programs (random ALU, load, store and jump sequences over packet bytes, some
 *   with a loop, some with map calls), over thousands of real frames on two CPUs: the same
 *   action, fault, registers, stack, xdp_buff, redirect choice after every frame, and the
 *   same bytes of maps, counters, trace log and frames at the end.
 * - Behaviour: drop-by-port drops exactly the chosen port and counts it, count_cpu counts per
 *   CPU, tx_swap swaps the MACs, cpumap keeps a flow on one CPU, a read past data_end is
 *   XDP_ABORTED and counted, helpers as 5.10 defines them, ALU edge cases of the ISA.
 * - Maps in shared memory: hash, LRU, percpu, array, cpumap and devmap updates and their
 *   errors; no allocation per packet (no GC while the translated function runs).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gcsDuring } from './gc.js';
import { readBpfObject, type BpfMapDef, type BpfObject } from '../src/bpf/object.js';
import { BpfLoadError } from '../src/bpf/errors.js';
import { checkProgram, type XdpProgram } from '../src/bpf/check.js';
import { BpfMaps, E2BIG, EEXIST, ENODEV, ENOENT, EOVERFLOW } from '../src/bpf/maps.js';
import {
  csum_partial_words,
  CTR_ACTION,
  CTR_FAULT,
  CTR_RUNS,
  FAULT_LOOP,
  FAULT_NONE,
  FAULT_READ,
  HELPER_CALLS,
  RI_NONE,
  traceLines,
  XdpEnv,
} from '../src/bpf/vm.js';
import { interpret } from '../src/bpf/interp.js';
import { xdpReport } from '../src/bpf/report.js';
import { bpf_prog_run_xdp, MAX_NESTED_LABELS, translate, translateSource, type XdpRun } from '../src/bpf/jit.js';
import { encodeInsn, HELPERS } from '../src/bpf/insn.js';
import { fieldBytes, parseXdpMapEntries, resolveXdp, xdpMapsFor } from '../src/host/xdp_object.js';
import {
  __cpu_map_flush,
  CPUMAP_BATCH,
  CpuMap,
  cpu_map_enqueue,
  cpu_map_kthread_run,
  XdpBulkQueues,
  type CpuMapOps,
} from '../src/kernel/cpumap.js';
import { Prng } from '../src/lib/prng.js';
import { buildXdp, XDP_PROGRAMS } from './xdp_build.js';
import { BUF_SIZE, makeFrames, XDP_PACKET_HEADROOM, type FrameSet } from './xdp_frames.js';

const NCPUS = 2;
const EXTRA = ['legacy_maps', 'helpers', 'loop', 'oob'] as const;

function load(name: string, flags: string[] = [], suffix = ''): XdpProgram {
  const file = buildXdp(name, flags, suffix);
  return checkProgram(readBpfObject(readFileSync(file), file, 'xdp'));
}

/** Map contents each program runs with (as --xdp-map gives them). */
const ENTRIES: Record<string, string[]> = {
  drop_port: ['drop_ports=8080:0'],
  cpumap: ['cpu_map=0:64,1:64', 'cpus_available=0:0,1:1', 'cpus_count=0:2'],
  helpers: ['tx_port=0:1'],
};

/** One engine's world: maps, one env per CPU, its own copy of the frames. */
interface Side {
  maps: BpfMaps;
  envs: XdpEnv[];
  mem: Uint8Array;
}

function side(p: XdpProgram, fr: FrameSet, entries: string[]): Side {
  const maps = BpfMaps.create(p.obj.maps, NCPUS, 7);
  for (const e of parseXdpMapEntries(p, entries, NCPUS)) maps.userUpdate(e.map, e.key, e.value);
  let tick = 0;
  const clock = () => 5e9 + 1000 * tick++; // the same sequence on both sides
  const envs = Array.from({ length: NCPUS }, (_, cpu) => new XdpEnv(maps, cpu, { clock, seed: 3 }));
  return { maps, envs, mem: fr.mem.slice() };
}

const frameAt = (env: XdpEnv, mem: Uint8Array, fr: FrameSet, i: number) =>
  env.setFrame(mem, i * BUF_SIZE, i * BUF_SIZE + XDP_PACKET_HEADROOM, i * BUF_SIZE + XDP_PACKET_HEADROOM + fr.len[i], BUF_SIZE, i % 4);

const u64 = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

function regsDiffer(jit: Int32Array, ref: BigUint64Array): boolean {
  for (let r = 0; r <= 10; r++) if (u64(jit[2 * r], jit[2 * r + 1]) !== ref[r]) return true;
  return false;
}
const fmtRegs = (jit: Int32Array) => Array.from({ length: 11 }, (_, r) => u64(jit[2 * r], jit[2 * r + 1]).toString(16)).join(' ');

/**
 * Run every frame through the interpreter on one side and the translated function on the
 * other, frame i on CPU i % NCPUS; compare after each frame and at the end. Returns the
 * interpreter's side and the actions.
 */
function agree(p: XdpProgram, fr: FrameSet, entries: string[] = []): { a: Side; b: Side; acts: number[]; insns: number } {
  const a = side(p, fr, entries);
  const b = side(p, fr, entries);
  const jitRegs = new Int32Array(22);
  const run = translate(p, b.maps.layout, { regs: jitRegs, count: true });
  const ref = new BigUint64Array(11);
  const acts: number[] = [];
  for (let i = 0; i < fr.count; i++) {
    const ea = a.envs[i % NCPUS];
    const eb = b.envs[i % NCPUS];
    frameAt(ea, a.mem, fr, i);
    frameAt(eb, b.mem, fr, i);
    const insnsA = ea.insns;
    const insnsB = eb.insns;
    const actA = bpf_prog_run_xdp((env) => interpret(p, env, ref), ea);
    const actB = bpf_prog_run_xdp(run, eb);
    // Plain comparisons (an expect per field and frame would cost more than the runs); the first difference fails.
    const diff =
      actB !== actA
        ? `action ${actB} != ${actA}`
        : eb.fault !== ea.fault
          ? `fault ${eb.fault} != ${ea.fault}`
          : regsDiffer(jitRegs, ref)
            ? `registers ${fmtRegs(jitRegs)} != ${[...ref].map((x) => x.toString(16)).join(' ')}`
            : eb.data !== ea.data || eb.data_end !== ea.data_end || eb.data_meta !== ea.data_meta
              ? 'xdp_buff'
              : eb.ri_map !== ea.ri_map || eb.ri_tgt_index !== ea.ri_tgt_index || eb.ri_flags !== ea.ri_flags
                ? 'redirect info'
                : Buffer.compare(eb.stack, ea.stack) !== 0
                  ? 'stack'
                  : ea.fault === FAULT_NONE && eb.insns - insnsB !== ea.insns - insnsA
                    ? `instructions counted ${eb.insns - insnsB} != ${ea.insns - insnsA}`
                    : '';
    if (diff !== '') expect.fail(`${p.obj.name}, frame ${i}: translated vs interpreted: ${diff}`);
    acts.push(actA);
  }
  expect(Buffer.compare(b.maps.u8, a.maps.u8), `${p.obj.name}: maps, counters and trace log`).toBe(0);
  expect(Buffer.compare(b.mem, a.mem), `${p.obj.name}: frames`).toBe(0);
  return { a, b, acts, insns: a.envs.reduce((s, e) => s + e.insns, 0) };
}

let frames: FrameSet;
beforeAll(() => {
  // Frames of 60 to 159 bytes over 64 flows, UDP and TCP, IPv4 and IPv6.
  frames = makeFrames(4000, 64, 25, 'mix', 'mix', (i) => 60 + ((i * 37) % 100));
});

describe('loading', () => {
  it('reads each test program with the maps its source declares', () => {
    const maps = (n: string) => load(n).obj.maps.map((m) => [m.name, m.type, m.key_size, m.value_size, m.max_entries]);
    expect(maps('pass')).toEqual([]);
    expect(maps('drop')).toEqual([]);
    expect(maps('drop_port')).toEqual([['drop_ports', 1, 4, 8, 64]]);
    expect(maps('count_cpu')).toEqual([['rx_count', 6, 4, 16, 1]]);
    expect(maps('tx_swap')).toEqual([]);
    expect(maps('cpumap')).toEqual([
      ['cpus_count', 2, 4, 4, 1],
      ['cpus_available', 2, 4, 4, 64],
      ['cpu_map', 16, 4, 8, 64],
    ]);
    // The legacy "maps" section and global data: bpf_printk's format is a .rodata map.
    expect(maps('legacy_maps')).toEqual([
      ['seen', 9, 4, 8, 16],
      ['per_proto', 5, 4, 8, 8],
    ]);
    const h = load('helpers').obj;
    expect(h.maps.map((m) => m.name).sort()).toEqual(['.rodata', 'stats', 'tx_port']); // .maps in BTF's order, then global data
    expect(new TextDecoder().decode(h.maps.find((m) => m.name === '.rodata')!.initial)).toContain('csum %x cpu %u rnd %u');
    expect(h.license).toBe('GPL');
  });

  it('relocates each map reference to an ld_imm64 of that map', () => {
    const p = load('drop_port');
    const { code, src, imm } = p.insns;
    const refs = [...code.keys()].filter((i) => code[i] === 0x18 && src[i] === 1).map((i) => imm[i]);
    expect(refs).toEqual([0]);
  });

  it('a damaged object (cut short, bytes changed) is a BpfLoadError or loads, never another exception', () => {
    const objects = [...XDP_PROGRAMS, 'legacy_maps', 'helpers'].map((n) => readFileSync(buildXdp(n)));
    let refused = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: objects.length - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (which, cut, flips) => {
          const src = objects[which];
          const bytes = src.slice(0, flips.length > 0 ? src.length : Math.floor(cut * src.length));
          for (const [at, v] of flips) bytes[Math.floor(at * (bytes.length - 1))] = v;
          try {
            checkProgram(readBpfObject(bytes, 'damaged.o', 'xdp'));
          } catch (e) {
            if (!(e instanceof BpfLoadError)) throw e;
            expect(e.message).not.toContain('\n');
            refused++;
          }
        },
      ),
      { numRuns: 3000, seed: 11 },
    );
    expect(refused).toBeGreaterThan(100);
  });

  it('names a missing section with the sections there are', () => {
    const file = buildXdp('pass');
    expect(() => readBpfObject(readFileSync(file), file, 'xdp_drop')).toThrow("no program section 'xdp_drop' (its program sections: xdp)");
  });
});

describe('the translated function agrees with the interpreter', () => {
  for (const name of [...XDP_PROGRAMS, ...EXTRA]) {
    for (const cpu of ['', 'v3']) {
      it(`${name}${cpu ? ` (-mcpu=${cpu})` : ''}: 4000 frames on ${NCPUS} CPUs`, () => {
        const p = cpu ? load(name, [`-mcpu=${cpu}`], `-${cpu}`) : load(name);
        const { acts } = agree(p, frames, ENTRIES[name] ?? []);
        expect(acts).toHaveLength(frames.count);
      });
    }
  }

  it('a program with more jump targets than MAX_NESTED_LABELS takes the pc dispatch, and agrees', () => {
    // 3000 forward jumps: r0 += 1 unless the packet byte at (i % 40) is odd.
    const prog: Insn[] = [
      [0x61, 9, 1, 0, 0],
      [0x61, 8, 1, 4, 0],
      [0xbf, 7, 9, 0, 0],
      [0x07, 7, 0, 0, 48],
      [0x2d, 7, 8, 0, 0],
      [0xb7, 0, 0, 0, 0],
    ];
    for (let i = 0; i < 3000; i++) prog.push([0x71, 2, 9, i % 40, 0], [0x45, 2, 0, 1, 1], [0x07, 0, 0, 0, 1]);
    prog.push([0x57, 0, 0, 0, 3], [0x95, 0, 0, 0, 0], [0xb7, 0, 0, 0, 2], [0x95, 0, 0, 0, 0]);
    prog[4][3] = prog.length - 2 - 5;
    const p = checkProgram({
      file: 't',
      section: 'xdp',
      name: 'many',
      insns: assemble(prog),
      maps: [],
      programSections: ['xdp'],
      license: '',
    });
    expect(p.leaders.reduce((a, b) => a + b, 0)).toBeGreaterThan(MAX_NESTED_LABELS);
    expect(translateSource(p, BpfMaps.create([], 1, 0).layout)).toContain('switch (pc)');
    agree(p, makeFrames(200, 8, 3, 'mix', 'mix', 60));
  });

  it('a loop compiles to a pc dispatch, straight-line code to labelled blocks', () => {
    const layout = BpfMaps.create([], 1, 0).layout;
    expect(load('loop').backEdges).toBe(true);
    expect(translateSource(load('loop'), layout)).toContain('switch (pc)');
    const dp = translateSource(load('drop_port'), layout);
    expect(dp).not.toContain('switch');
    expect(dp).toMatch(/break L\d+;/);
  });

  it('generated programs: random ALU, loads, stores, jumps, loops and map calls over packet bytes', () => {
    const fr = makeFrames(300, 16, 9, 'mix', 'mix', (i) => 60 + ((i * 13) % 80));
    let programs = 0;
    let runs = 0;
    let faults = 0;
    let loops = 0;
    let calls = 0;
    const seen = new Set<number>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
        const p = fuzzProgram(seed);
        const { a, acts } = agree(p, fr);
        programs++;
        runs += acts.length;
        for (const x of acts) seen.add(x);
        faults += a.envs.reduce((n, e) => n + e.ctr[CTR_FAULT] + e.ctr[CTR_FAULT + 1] + e.ctr[CTR_FAULT + 2] + e.ctr[CTR_FAULT + 3], 0);
        if (p.backEdges) loops++;
        if (p.obj.insns.some((_, k) => k % 8 === 0 && p.obj.insns[k] === 0x85)) calls++;
      }),
      { numRuns: 300, seed: 2025 },
    );
    expect(programs).toBe(300);
    expect(runs).toBe(300 * fr.count);
    expect(seen.size).toBeGreaterThan(2); // not every run ends the same way
    // Most runs reach their exit; some fault (loads past the checked bytes of short frames).
    expect(faults).toBeGreaterThan(0);
    expect(faults).toBeLessThan(runs / 2);
    expect(loops).toBeGreaterThan(30);
    expect(calls).toBeGreaterThan(30);
  });
});

// ---------------------------------------------------------------------- the fuzz programs

/** The maps generated programs use: a hash map (fills up) and a percpu array. */
const FUZZ_MAPS: BpfMapDef[] = [
  { name: 'h', type: 1, key_size: 4, value_size: 8, max_entries: 6, map_flags: 0 },
  { name: 'pc', type: 6, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0 },
];

type Insn = [code: number, dst: number, src: number, off: number, imm: number];
interface Unit {
  insns: Insn[];
  /** A forward jump (its last instruction) over this many units. */
  skip?: number;
}

/** Instruction tuples as bytes. */
function assemble(prog: Insn[]): Uint8Array {
  const raw = new Uint8Array(prog.length * 8);
  for (let i = 0; i < prog.length; i++) {
    const [c, d, s, o, k] = prog[i];
    encodeInsn(raw, i * 8, c, d, s, o, k);
  }
  return raw;
}

const EDGE = [0, 1, -1, 2, 7, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 0xffff, -0x10000, 0x12345678];

/**
 * A random program: load data/data_end, check 48 bytes, fill r0..r8 from the packet, then a
 * body of ALU (64 and 32 bit, every operation, signed division), byte swaps, packet loads
 * (some past the 48 checked bytes: faults on short frames), stack stores and loads, ld_imm64,
 * stack atomics and forward jumps (JMP and JMP32, every condition); sometimes the body is a
 * loop on r6; sometimes map calls follow; r0 is the action.
 */
function fuzzProgram(seed: number): XdpProgram {
  const g = new Prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[g.nextInt(xs.length)]!;
  const imm = () => (g.nextInt(3) === 0 ? g.nextI32() : pick(EDGE) | 0);
  const looped = g.nextInt(4) === 0;
  const regs = looped ? [0, 1, 2, 3, 4, 5, 7, 8] : [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const reg = () => pick(regs);
  const units: Unit[] = [];
  const n = 8 + g.nextInt(40);
  for (let u = 0; u < n; u++) {
    const kind = g.nextInt(100);
    const cls = g.nextInt(2) === 0 ? 0x07 : 0x04; // ALU64 or ALU
    if (kind < 45) {
      const op = pick([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0]);
      const signed = (op === 0x30 || op === 0x90) && g.nextInt(2) === 0 ? 1 : 0;
      const width = cls === 0x07 ? 64 : 32;
      if (op === 0x80) units.push({ insns: [[cls | op, reg(), 0, 0, 0]] });
      else if (g.nextInt(2) === 0) units.push({ insns: [[cls | op | 0x08, reg(), reg(), signed, 0]] });
      else {
        let k = imm();
        if (op >= 0x60 && op <= 0x70) k = g.nextInt(width);
        if (op === 0xc0) k = g.nextInt(width);
        if ((op === 0x30 || op === 0x90) && k === 0) k = 3;
        units.push({ insns: [[cls | op, reg(), 0, signed, k]] });
      }
    } else if (kind < 50) units.push({ insns: [[0xd4 | (g.nextInt(2) ? 0x08 : 0), reg(), 0, 0, pick([16, 32, 64])]] });
    else if (kind < 60) {
      const size = pick([0x00, 0x08, 0x10, 0x18]);
      const bytes = [4, 2, 1, 8][size >> 3];
      units.push({ insns: [[0x61 | size, reg(), 9, 0, 0]] });
      units[units.length - 1].insns[0][3] = g.nextInt(100 - bytes);
    } else if (kind < 70) {
      const size = pick([0x00, 0x08, 0x10, 0x18]);
      const off = -8 * (1 + g.nextInt(8));
      if (g.nextInt(2) === 0) units.push({ insns: [[0x63 | size, 10, reg(), off, 0]] });
      else units.push({ insns: [[0x62 | size, 10, 0, off, imm()]] });
    } else if (kind < 75) units.push({ insns: [[0x61 | pick([0x00, 0x08, 0x10, 0x18]), reg(), 10, -8 * (1 + g.nextInt(8)), 0]] });
    else if (kind < 78)
      units.push({
        insns: [
          [0x18, reg(), 0, 0, g.nextI32()],
          [0, 0, 0, 0, g.nextI32()],
        ],
      });
    else if (kind < 80) {
      const op = pick([0x00, 0x01, 0x40, 0x41, 0x50, 0xa1, 0xe1, 0xf1]);
      const dw = g.nextInt(2) === 0;
      units.push({ insns: [[0xc3 | (dw ? 0x18 : 0), 10, reg(), -8 * (1 + g.nextInt(8)), op]] });
    } else {
      const op = pick([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);
      const jcls = g.nextInt(2) === 0 ? 0x05 : 0x06;
      const x = g.nextInt(2) === 0;
      if (op === 0x00 && jcls === 0x06) continue; // JMP32|JA is gotol (v4)
      units.push({ insns: [[jcls | op | (x ? 0x08 : 0), reg(), x ? reg() : 0, 0, x ? 0 : imm()]], skip: 1 + g.nextInt(4) });
    }
  }
  // Jumps land on a unit of the body or just past it.
  for (let u = 0; u < units.length; u++) if (units[u].skip !== undefined) units[u].skip = Math.min(units[u].skip!, units.length - u - 1);
  const prologue: Insn[] = [
    [0x61, 9, 1, 0, 0], // r9 = data
    [0x61, 8, 1, 4, 0], // r8 = data_end
    [0xbf, 7, 9, 0, 0], // r7 = r9
    [0x07, 7, 0, 0, 48], // r7 += 48
    [0x2d, 7, 8, 0, 0], // if r7 > r8 goto pass (patched)
  ];
  for (let r = 0; r <= 8; r++) prologue.push([0x79, r, 9, 8 * (r % 6), 0]);
  if (looped) prologue.push([0xb7, 6, 0, 0, 1 + g.nextInt(4)]);
  const body: Insn[] = [];
  const starts: number[] = [];
  for (const u of units) {
    starts.push(body.length);
    body.push(...u.insns.map((i) => [...i] as Insn));
  }
  starts.push(body.length);
  units.forEach((u, k) => {
    if (u.skip === undefined) return;
    const at = starts[k] + u.insns.length - 1;
    body[at][3] = starts[k + 1 + u.skip] - at - 1;
  });
  const tail: Insn[] = [];
  if (looped) tail.push([0x17, 6, 0, 0, 1], [0x55, 6, 0, -(body.length + 2), 0]); // r6 -= 1; if r6 != 0 goto body
  if (g.nextInt(3) === 0) {
    const kr = pick(regs);
    tail.push(
      [0xbf, 1, kr, 0, 0], // r1 = key source
      [0x57, 1, 0, 0, 7], // r1 &= 7
      [0x63, 10, 1, -4, 0], // *(u32 *)(r10 - 4) = r1
      [0xbf, 2, 10, 0, 0],
      [0x07, 2, 0, 0, -4],
      [0x18, 1, 1, 0, 0], // r1 = map h
      [0, 0, 0, 0, 0],
      [0x85, 0, 0, 0, 1], // lookup
      [0x15, 0, 0, 3, 0], // if r0 == 0 goto update
      [0xb7, 1, 0, 0, 1],
      [0xdb, 0, 1, 0, 0], // lock *(u64 *)(r0 + 0) += r1
      [0x05, 0, 0, 9, 0], // goto after the update
      [0x7b, 10, pick(regs.filter((r) => r > 5)), -16, 0], // *(u64 *)(r10 - 16) = value
      [0x18, 1, 1, 0, 0],
      [0, 0, 0, 0, 0],
      [0xbf, 2, 10, 0, 0],
      [0x07, 2, 0, 0, -4],
      [0xbf, 3, 10, 0, 0],
      [0x07, 3, 0, 0, -16],
      [0xb7, 4, 0, 0, 0],
      [0x85, 0, 0, 0, 2], // update (fails with -E2BIG once 6 keys are in)
      [0x63, 10, 0, -8, 0], // *(u32 *)(r10 - 8) = r0 (the result)
      [0x18, 1, 1, 0, 1], // r1 = map pc
      [0, 0, 0, 0, 0],
      [0x85, 0, 0, 0, 1], // lookup (key still at r10 - 4)
      [0x15, 0, 0, 2, 0],
      [0x79, 1, 0, 0, 0],
      [0x7b, 0, 8, 0, 0], // *(u64 *)(r0 + 0) = r8
    );
    // Fix the map lookup's key pointer for the second lookup: r2 = r10 - 4 again.
    tail.splice(tail.length - 4, 0, [0xbf, 2, 10, 0, 0], [0x07, 2, 0, 0, -4]);
  }
  tail.push([0xbf, 0, pick(regs), 0, 0]);
  if (g.nextInt(2) === 0) tail.push([0x57, 0, 0, 0, 3]); // r0 &= 3: a valid action
  tail.push([0x95, 0, 0, 0, 0]);
  const all = [...prologue, ...body, ...tail, [0xb7, 0, 0, 0, 2] as Insn, [0x95, 0, 0, 0, 0] as Insn];
  all[4][3] = all.length - 2 - 4 - 1; // the length check jumps to "r0 = 2; exit"
  const raw = assemble(all);
  const obj: BpfObject = {
    file: `fuzz-${seed}`,
    section: 'xdp',
    name: `fuzz_${seed}`,
    insns: raw,
    maps: FUZZ_MAPS,
    programSections: ['xdp'],
    license: 'GPL',
  };
  return checkProgram(obj);
}

// ---------------------------------------------------------------------- behaviour

/** Run a program with the translated function on one side; the side and actions. */
function runJit(p: XdpProgram, fr: FrameSet, entries: string[] = []): { s: Side; acts: number[]; run: XdpRun } {
  const s = side(p, fr, entries);
  const run = translate(p, s.maps.layout);
  const acts: number[] = [];
  for (let i = 0; i < fr.count; i++) {
    const env = s.envs[i % NCPUS];
    frameAt(env, s.mem, fr, i);
    acts.push(bpf_prog_run_xdp(run, env));
  }
  return { s, acts, run };
}

const udpDport = (fr: FrameSet, i: number) => {
  const f = fr.flows[fr.flowOf[i]];
  return f.proto === 17 ? f.dport : -1;
};

describe('the test programs do what their sources say', () => {
  it('drop_port drops exactly the UDP frames to the port in the map, counts them there, passes the rest', () => {
    const p = load('drop_port');
    const { s, acts } = runJit(p, frames, ['drop_ports=8080:0']);
    const want = frames.len.map((_, i) => (udpDport(frames, i) === 8080 ? 1 : 2));
    expect(acts).toEqual([...want]);
    const dropped = want.filter((a) => a === 1).length;
    expect(dropped).toBeGreaterThan(100);
    const e = s.maps.entries(0);
    expect(e).toHaveLength(1);
    expect(new DataView(e[0].key.buffer).getUint32(0, true)).toBe(8080);
    expect(Number(new DataView(e[0].value.buffer).getBigUint64(0, true))).toBe(dropped);
    const ctr = (k: number) => s.envs.reduce((a, env) => a + env.ctr[k], 0);
    expect(ctr(CTR_ACTION + 1)).toBe(dropped);
    expect(ctr(CTR_ACTION + 2)).toBe(frames.count - dropped);
    expect(ctr(CTR_RUNS)).toBe(frames.count);
    // What phase 2 prints under `xdp` in the run contract.
    const r = xdpReport(s.maps);
    expect(r.maps.drop_ports).toEqual({
      type: 'hash',
      key_size: 4,
      value_size: 8,
      max_entries: 64,
      entries: [{ key: 8080, value: dropped }],
    });
    expect(r.percpu.map((c) => c.runs)).toEqual([frames.count / 2, frames.count / 2]);
    expect(r.percpu.reduce((a, c) => a + c.actions.drop, 0)).toBe(dropped);
    expect(r.percpu.every((c) => c.faults.read === 0 && c.actions.aborted === 0)).toBe(true);
  });

  it('count_cpu counts frames and bytes per CPU in its percpu_array', () => {
    const { s, acts } = runJit(load('count_cpu'), frames);
    expect(acts.every((a) => a === 2)).toBe(true);
    const [e] = s.maps.entries(0);
    for (let cpu = 0; cpu < NCPUS; cpu++) {
      const v = new DataView(e.percpu![cpu].buffer);
      const mine = [...frames.len].filter((_, i) => i % NCPUS === cpu);
      expect(Number(v.getBigUint64(0, true))).toBe(mine.length);
      expect(Number(v.getBigUint64(8, true))).toBe(mine.reduce((a, b) => a + b, 0));
    }
    // A struct value of 16 bytes is reported as its bytes, per CPU as bpftool prints percpu maps.
    const rep = xdpReport(s.maps).maps.rx_count.entries[0];
    expect(rep.key).toBe(0);
    expect(rep.values!.map((x) => x.cpu)).toEqual([0, 1]);
    expect(rep.values![0].value).toMatch(/^0x[0-9a-f]{32}$/);
  });

  it('tx_swap returns XDP_TX with the source and destination MACs swapped', () => {
    const { s, acts } = runJit(load('tx_swap'), frames);
    expect(acts.every((a) => a === 3)).toBe(true);
    for (let i = 0; i < 50; i++) {
      const at = i * BUF_SIZE + XDP_PACKET_HEADROOM;
      expect([...s.mem.subarray(at, at + 6)]).toEqual([...frames.mem.subarray(at + 6, at + 12)]);
      expect([...s.mem.subarray(at + 6, at + 12)]).toEqual([...frames.mem.subarray(at, at + 6)]);
    }
  });

  it('cpumap redirects every frame to a CPU of cpus_available, one CPU per flow, and spreads the flows', () => {
    const { s, acts } = runJit(load('cpumap'), frames, ENTRIES.cpumap);
    expect(acts.every((a) => a === 4)).toBe(true);
    // Replay to read each frame's choice (the redirect info is per CPU and per run).
    const run = translate(load('cpumap'), s.maps.layout);
    const cpuOfFlow = new Map<number, number>();
    const used = new Set<number>();
    for (let i = 0; i < frames.count; i++) {
      const env = s.envs[i % NCPUS];
      frameAt(env, s.mem, frames, i);
      bpf_prog_run_xdp(run, env);
      expect(env.ri_map).toBe(2);
      const flow = frames.flowOf[i];
      if (!cpuOfFlow.has(flow)) cpuOfFlow.set(flow, env.ri_tgt_index);
      expect(env.ri_tgt_index).toBe(cpuOfFlow.get(flow));
      used.add(env.ri_tgt_index);
    }
    expect([...used].sort()).toEqual([0, 1]);
  });

  it('cpumap with cpus_count 0 aborts, and a redirect to a CPU without an entry returns the flags (XDP_ABORTED)', () => {
    const p = load('cpumap');
    expect(runJit(p, frames, []).acts.every((a) => a === 0)).toBe(true);
    const { acts } = runJit(p, frames, ['cpus_count=0:1', 'cpus_available=0:1']); // CPU 1 has no queue
    expect(acts.every((a) => a === 0)).toBe(true);
  });

  it('a read past data_end ends as XDP_ABORTED with the read fault counted, frames long enough pass', () => {
    const { s, acts } = runJit(load('oob'), frames);
    for (let i = 0; i < frames.count; i++) expect(acts[i], `frame ${i} of ${frames.len[i]} bytes`).toBe(frames.len[i] > 100 ? 2 : 0);
    const faults = s.envs.reduce((a, env) => a + env.ctr[CTR_FAULT + FAULT_READ - 1], 0);
    expect(faults).toBe([...frames.len].filter((l) => l <= 100).length);
  });

  it('the loop program sums 32 bytes: the same verdict as the sum computed here', () => {
    const { acts } = runJit(load('loop'), frames);
    for (let i = 0; i < 200; i++) {
      const at = i * BUF_SIZE + XDP_PACKET_HEADROOM;
      let sum = 0;
      for (let k = 0; k < Math.min(32, frames.len[i]); k++) sum = (sum + frames.mem[at + k] * (k + 1)) >>> 0;
      expect(acts[i]).toBe(sum & 1 ? 1 : 2);
    }
  });

  it('helpers: csum_diff of a valid IPv4 header folds to 0, bpf_printk logs per CPU, adjust_head/tail move the frame', () => {
    const v4 = makeFrames(400, 16, 4, 'udp', '4', 80);
    const { s, acts } = runJit(load('helpers'), v4, ['tx_port=0:1']);
    const m = s.maps.indexOf('stats');
    const stats = [0, 1, 2, 3].map((k) =>
      Number(s.maps.dv.getBigUint64(s.maps.lookup(m, fieldBytes(String(k), 4) as Uint8Array, 0, 0), true)),
    );
    expect(stats[1]).toBe(0); // the sum of ~csum over every header: each folds to 0
    expect(stats[2] + stats[3]).toBeGreaterThan(100); // adjust_head or adjust_tail on most frames
    const lines = [0, 1].flatMap((cpu) => traceLines(s.maps, cpu));
    expect(lines).toHaveLength(400);
    expect(lines[0]).toMatch(/^csum ffff cpu [01] rnd \d+$/);
    expect(new Set(acts)).toEqual(new Set([2, 4])); // pass, and redirects (bpf_redirect, the devmap)
  });
});

describe('the pieces phase 2 wires, in one thread', () => {
  it('a redirect into a cpumap reaches the entry kthread, which runs the second program on its own CPU', () => {
    const x = resolveXdp({ xdp: buildXdp('cpumap_prog'), xdp_map: ['cpu_map=1:0x4000000002000000'], cpus: 2 })!;
    const maps = xdpMapsFor(x, 2, 1);
    const first = translate(x.prog, maps.layout);
    const second = translate(x.cpumapProgs.get(2)!, maps.layout);
    const envs = [0, 1].map((cpu) => new XdpEnv(maps, cpu));
    // The cpumap's queues from its entries at start (qsize per key).
    const cm = maps.indexOf('cpu_map');
    const qsize = Array.from({ length: 4 }, (_, k) =>
      maps.redirectTarget(cm, k) ? maps.dv.getUint32(maps.layout.maps[cm].vbase + k * 8, true) : 0,
    );
    expect(qsize).toEqual([0, 64, 0, 0]);
    const q = CpuMap.create(qsize);
    const bq = new XdpBulkQueues(4);
    const delivered: number[] = [];
    const ops: CpuMapOps = {
      xdp_return_frame: () => expect.fail('no frame should come back'),
      run_prog: (f) => {
        frameAt(envs[1], frames.mem, frames, f); // the kthread's CPU runs the entry's program
        return bpf_prog_run_xdp(second, envs[1]);
      },
      receive: (f) => {
        delivered.push(f); // netif_receive_skb_core: NET_RX_SUCCESS
        return false;
      },
    };
    let woken = 0;
    for (let i = 0; i < 40; i++) {
      frameAt(envs[0], frames.mem, frames, i); // the driver's CPU
      expect(bpf_prog_run_xdp(first, envs[0])).toBe(4);
      expect([envs[0].ri_map, envs[0].ri_tgt_index]).toEqual([cm, 1]);
      cpu_map_enqueue(q, bq, envs[0].ri_tgt_index, i, ops); // xdp_do_redirect
      if (i % 16 === 15) __cpu_map_flush(q, bq, ops, () => woken++); // the end of a poll
    }
    __cpu_map_flush(q, bq, ops, () => woken++);
    const scratch = new Int32Array(CPUMAP_BATCH);
    while (cpu_map_kthread_run(q, 1, scratch, ops, false) > 0);
    expect(delivered).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(woken).toBe(3);
    const count = xdpReport(maps).maps.on_kthread.entries[0].values!;
    expect(count).toEqual([
      { cpu: 0, value: 0 },
      { cpu: 1, value: 40 },
    ]);
  });
});

describe('ISA edge cases, both engines', () => {
  /** Run a hand-written program (no maps) with both engines on one frame; r0 (64 bits) from each. */
  function r0Of(prog: Insn[]): bigint[] {
    const raw = assemble(prog);
    const p = checkProgram({ file: 't', section: 'xdp', name: 't', insns: raw, maps: [], programSections: ['xdp'], license: '' });
    const maps = BpfMaps.create([], 1, 0);
    const env = new XdpEnv(maps, 0);
    frameAt(env, frames.mem, frames, 0);
    const ref = new BigUint64Array(11);
    env.begin();
    interpret(p, env, ref);
    const regs = new Int32Array(22);
    env.begin();
    translate(p, maps.layout, { regs })(env);
    return [ref[0], u64(regs[0], regs[1])];
  }
  const mov64 = (r: number, k: number): Insn => [0xb7, r, 0, 0, k];
  const ld64 = (r: number, v: bigint): Insn[] => [
    [0x18, r, 0, 0, Number(BigInt.asIntN(32, v))],
    [0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))],
  ];
  const EXIT: Insn = [0x95, 0, 0, 0, 0];
  const M = (1n << 64n) - 1n;
  const cases: [string, Insn[], bigint][] = [
    ['div by zero gives 0 (64)', [mov64(0, 77), mov64(1, 0), [0x3f, 0, 1, 0, 0], EXIT], 0n],
    [
      'mod by zero leaves the dividend (64)',
      [...ld64(0, 0x1234_5678_9abc_def0n), mov64(1, 0), [0x9f, 0, 1, 0, 0], EXIT],
      0x1234_5678_9abc_def0n,
    ],
    ['mod32 by zero zeroes the upper half', [...ld64(0, 0x1234_5678_9abc_def0n), mov64(1, 0), [0x9c, 0, 1, 0, 0], EXIT], 0x9abc_def0n],
    ['div32 by zero gives 0', [mov64(0, -1), mov64(1, 0), [0x3c, 0, 1, 0, 0], EXIT], 0n],
    ['sdiv LLONG_MIN / -1 wraps', [...ld64(0, 1n << 63n), mov64(1, -1), [0x3f, 0, 1, 1, 0], EXIT], 1n << 63n],
    ['smod LLONG_MIN % -1 is 0', [...ld64(0, 1n << 63n), mov64(1, -1), [0x9f, 0, 1, 1, 0], EXIT], 0n],
    ['sdiv truncates toward zero', [mov64(0, -7), [0x37, 0, 0, 1, 2], EXIT], M - 2n],
    ['smod takes the sign of the dividend', [mov64(0, -7), [0x97, 0, 0, 1, 2], EXIT], M],
    ['unsigned 64-bit division', [...ld64(0, 0xffff_ffff_ffff_fff0n), ...ld64(1, 0x1_0000_0003n), [0x3f, 0, 1, 0, 0], EXIT], 0xffff_fffcn],
    [
      'unsigned 64-bit modulo',
      [...ld64(0, 0xffff_ffff_ffff_fff0n), ...ld64(1, 0x1_0000_0003n), [0x9f, 0, 1, 0, 0], EXIT],
      0xffff_ffff_ffff_fff0n % 0x1_0000_0003n,
    ],
    [
      '64-bit multiply keeps the low 64 bits',
      [...ld64(0, 0xdead_beef_1234_5678n), ...ld64(1, 0x9abc_def0_1357_9bdfn), [0x2f, 0, 1, 0, 0], EXIT],
      (0xdead_beef_1234_5678n * 0x9abc_def0_1357_9bdfn) & M,
    ],
    ['a register shift takes the amount mod 64', [mov64(0, 1), mov64(1, 65), [0x6f, 0, 1, 0, 0], EXIT], 2n],
    ['arsh 64', [mov64(0, -256), [0xc7, 0, 0, 0, 4], EXIT], M - 15n],
    ['arsh32 zero-extends', [mov64(0, -256), [0xc4, 0, 0, 0, 4], EXIT], 0xffff_fff0n],
    ['neg 64 of 0', [mov64(0, 0), [0x87, 0, 0, 0, 0], EXIT], 0n],
    ['be64', [...ld64(0, 0x0102_0304_0506_0708n), [0xdc, 0, 0, 0, 64], EXIT], 0x0807_0605_0403_0201n],
    ['be16 zero-extends', [...ld64(0, 0x0102_0304_0506_0708n), [0xdc, 0, 0, 0, 16], EXIT], 0x0807n],
    ['le32 truncates', [...ld64(0, 0x0102_0304_0506_0708n), [0xd4, 0, 0, 0, 32], EXIT], 0x0506_0708n],
    ['add with carry into the upper half', [...ld64(0, 0xffff_ffffn), [0x07, 0, 0, 0, 1], EXIT], 0x1_0000_0000n],
    ['sub with borrow', [mov64(0, 0), [0x17, 0, 0, 0, 1], EXIT], M],
    [
      'jsgt is signed, jgt unsigned',
      [mov64(0, 0), mov64(1, -1), [0x6d, 1, 0, 1, 0], [0x07, 0, 0, 0, 1], [0x2d, 1, 0, 1, 0], [0x07, 0, 0, 0, 2], EXIT],
      1n,
    ],
    ['jmp32 compares the low halves', [...ld64(1, 0x5_0000_0001n), mov64(0, 9), [0x16, 1, 0, 1, 1], mov64(0, 3), EXIT], 9n],
  ];
  for (const [name, prog, want] of cases) {
    it(name, () => {
      expect(r0Of(prog)).toEqual([want, want]);
    });
  }

  it('the context: data_end - data is the frame length, ingress_ifindex 1; egress_ifindex and writes are refused at run time', () => {
    expect(r0Of([[0x61, 2, 1, 0, 0], [0x61, 0, 1, 4, 0], [0x1f, 0, 2, 0, 0], EXIT])).toEqual([
      BigInt(frames.len[0]),
      BigInt(frames.len[0]),
    ]);
    expect(r0Of([[0x61, 0, 1, 12, 0], EXIT])).toEqual([1n, 1n]);
    const faultOf = (prog: Insn[]) => {
      const p = checkProgram({
        file: 't',
        section: 'xdp',
        name: 't',
        insns: assemble(prog),
        maps: [],
        programSections: ['xdp'],
        license: '',
      });
      const maps = BpfMaps.create([], 1, 0);
      const env = new XdpEnv(maps, 0);
      frameAt(env, frames.mem, frames, 0);
      const a = bpf_prog_run_xdp((e) => interpret(p, e), env);
      const fa = env.fault;
      const b = bpf_prog_run_xdp(translate(p, maps.layout), env);
      return [a, fa, b, env.fault];
    };
    expect(faultOf([[0x61, 0, 1, 20, 0], EXIT])).toEqual([0, FAULT_READ, 0, FAULT_READ]); // egress_ifindex
    expect(faultOf([[0x79, 0, 1, 0, 0], EXIT])).toEqual([0, FAULT_READ, 0, FAULT_READ]); // a u64 load of the context
    expect(faultOf([[0x62, 1, 0, 16, 5], mov64(0, 2), EXIT])).toEqual([0, 2, 0, 2]); // a store into the context: FAULT_WRITE
  });

  it('a loop that never ends stops at LOOP_BUDGET as XDP_ABORTED (loop fault) in both engines', () => {
    const raw = new Uint8Array(16);
    encodeInsn(raw, 0, 0x05, 0, 0, -1, 0); // goto self
    encodeInsn(raw, 8, 0x95, 0, 0, 0, 0);
    const p = checkProgram({ file: 't', section: 'xdp', name: 't', insns: raw, maps: [], programSections: ['xdp'], license: '' });
    const maps = BpfMaps.create([], 1, 0);
    const env = new XdpEnv(maps, 0);
    frameAt(env, frames.mem, frames, 0);
    expect(bpf_prog_run_xdp((e) => interpret(p, e), env)).toBe(0);
    expect(env.fault).toBe(FAULT_LOOP);
    expect(bpf_prog_run_xdp(translate(p, maps.layout), env)).toBe(0);
    expect(env.fault).toBe(FAULT_LOOP);
    expect(env.ctr[CTR_FAULT + FAULT_LOOP - 1]).toBe(2);
  });
});

describe('helpers as 5.10 defines them', () => {
  it('every helper the loader accepts has a calling convention and a method, for both engines', () => {
    const env = new XdpEnv(BpfMaps.create([], 1, 0), 0) as unknown as Record<string, unknown>;
    expect([...HELPER_CALLS.keys()].sort((a, b) => a - b)).toEqual([...HELPERS.keys()].sort((a, b) => a - b));
    for (const h of HELPER_CALLS.values()) expect(typeof env[h.method], h.method).toBe('function');
  });

  it('csum_partial (x86-64) of words: a valid IPv4 header sums to 0xffff once folded', () => {
    const hdr = [0x45000073, 0x00004000, 0x40110000, 0xc0a80001, 0xc0a800c7].map(
      (w) => ((w >>> 24) | ((w >>> 8) & 0xff00) | ((w << 8) & 0xff0000) | (w << 24)) >>> 0,
    );
    // Fill in the checksum (0xb861 for this header, RFC 1071's example style) in memory order.
    hdr[2] = (hdr[2] & 0x0000ffff) | (((0x61b8 & 0xffff) << 16) >>> 0);
    const s = csum_partial_words(Uint32Array.from(hdr), 5, 0);
    const fold = (x: number) => {
      x = (x & 0xffff) + (x >>> 16);
      return (x & 0xffff) + (x >>> 16);
    };
    expect(fold(s)).toBe(0xffff);
  });

  it('bpf_redirect_map: flags above XDP_TX abort; a missing entry returns the flags; an entry redirects', () => {
    const maps = BpfMaps.create([{ name: 'd', type: 14, key_size: 4, value_size: 4, max_entries: 4, map_flags: 0 }], 1, 0);
    maps.userUpdate(0, fieldBytes('1', 4) as Uint8Array, fieldBytes('1', 4) as Uint8Array);
    const env = new XdpEnv(maps, 0);
    const MAP = 0x40000;
    expect(env.h_redirect_map(MAP, 0, 1, 0, 4)).toBe(0); // flags > XDP_TX
    expect(env.h_redirect_map(MAP, 0, 2, 0, 2)).toBe(2); // no entry: XDP_PASS given as flags
    expect(env.ri_map).toBe(RI_NONE);
    expect(env.h_redirect_map(MAP, 0, 1, 0, 0)).toBe(4);
    expect([env.ri_map, env.ri_tgt_index]).toEqual([0, 1]);
    expect(env.h_redirect(7, 0, 1)).toBe(0); // any flag aborts
    expect(env.h_redirect(7, 0, 0)).toBe(4);
    expect([env.ri_map, env.ri_tgt_index]).toEqual([RI_NONE, 7]);
  });

  it('bpf_xdp_adjust_head keeps room for struct xdp_frame and 14 bytes of frame; adjust_tail stays inside the buffer', () => {
    const env = new XdpEnv(BpfMaps.create([], 1, 0), 0);
    const mem = new Uint8Array(4096);
    env.setFrame(mem, 0, 256, 256 + 60, 2048, 0);
    expect(env.h_xdp_adjust_head(0x10000, -224)).toBe(0); // data = 32: exactly sizeof(struct xdp_frame)
    expect(env.h_xdp_adjust_head(0x10000, -1)).toBe(-22);
    expect(env.h_xdp_adjust_head(0x10000, 60 + 224 - 14)).toBe(0); // data_end - ETH_HLEN
    expect(env.h_xdp_adjust_head(0x10000, 1)).toBe(-22);
    env.setFrame(mem, 0, 256, 256 + 60, 2048, 0);
    expect(env.h_xdp_adjust_tail(0x10000, 2048 - 320 - 316)).toBe(0); // up to the skb_shared_info tailroom
    expect(env.h_xdp_adjust_tail(0x10000, 1)).toBe(-22);
    expect(env.h_xdp_adjust_tail(0x10000, -(env.data_end - env.data - 14))).toBe(0);
    expect(env.h_xdp_adjust_tail(0x10000, -1)).toBe(-22);
    expect(env.fault).toBe(FAULT_NONE);
  });

  it('bpf_trace_printk refuses what 5.10 refuses (%%, four conversions, two %s, no NUL) and formats the rest', () => {
    const maps = BpfMaps.create([], 1, 0);
    const env = new XdpEnv(maps, 0);
    const STACK = 0x30000;
    const put = (s: string, nul = true) => {
      const b = new TextEncoder().encode(s);
      env.stack.fill(0);
      env.stack.set(b, 0);
      return b.length + (nul ? 1 : 0);
    };
    const call = (fmt: string, a: [number, number][] = [], nul = true) => {
      const n = put(fmt, nul);
      const [a1, a2, a3] = [a[0] ?? [0, 0], a[1] ?? [0, 0], a[2] ?? [0, 0]];
      return env.h_trace_printk(STACK, 0, n, a1[1], a1[0], a2[1], a2[0], a3[1], a3[0]);
    };
    expect(call('100%%')).toBe(-22);
    expect(call('%d %d %d %d')).toBe(-22);
    expect(call('%s %s')).toBe(-22);
    expect(call('abc', [], false)).toBe(-22);
    expect(call('%q')).toBe(-22);
    expect(
      call('x=%d u=%u h=%x', [
        [-5, -1],
        [-5, -1],
        [255, 0],
      ]),
    ).toBe('x=-5 u=4294967291 h=ff'.length);
    expect(
      call('%lld %llu %lx', [
        [0, -0x80000000],
        [-1, -1],
        [0x89abcdef, 0x1234567],
      ]),
    ).toBeGreaterThan(0);
    expect(traceLines(maps, 0)).toEqual(['x=-5 u=4294967291 h=ff', '-9223372036854775808 18446744073709551615 123456789abcdef']);
  });

  it('bpf_get_prandom_u32 is prandom_u32_state: deterministic per seed and CPU, different across CPUs', () => {
    const maps = BpfMaps.create([], 2, 0);
    const draw = (cpu: number, seed: number) => {
      const env = new XdpEnv(maps, cpu, { seed });
      return Array.from({ length: 5 }, () => env.h_get_prandom_u32() >>> 0);
    };
    expect(draw(0, 1)).toEqual(draw(0, 1));
    expect(draw(0, 1)).not.toEqual(draw(1, 1));
    expect(draw(0, 1)).not.toEqual(draw(0, 2));
  });
});

describe('maps in shared memory', () => {
  const key = (n: number) => fieldBytes(String(n), 4) as Uint8Array;
  const val8 = (n: number) => fieldBytes(String(n), 8) as Uint8Array;
  const def = (type: number, max: number, value = 8): BpfMapDef => ({
    name: 'm',
    type,
    key_size: 4,
    value_size: value,
    max_entries: max,
    map_flags: 0,
  });

  it('hash: insert, find, update flags, full at max_entries, delete frees a slot', () => {
    const m = BpfMaps.create([def(1, 4)], 1, 1);
    for (let k = 0; k < 4; k++) expect(m.userUpdate(0, key(k), val8(k * 10))).toBe(0);
    expect(m.userUpdate(0, key(9), val8(1))).toBe(-E2BIG);
    expect(m.userUpdate(0, key(2), val8(1), 1)).toBe(-EEXIST); // BPF_NOEXIST
    expect(m.userUpdate(0, key(7), val8(1), 2)).toBe(-ENOENT); // BPF_EXIST
    expect(m.lookup(0, key(3), 0, 0)).toBeGreaterThan(0);
    expect(m.lookup(0, key(5), 0, 0)).toBe(-1);
    expect(m.delete(0, key(3), 0)).toBe(0);
    expect(m.delete(0, key(3), 0)).toBe(-ENOENT);
    expect(m.lookup(0, key(3), 0, 0)).toBe(-1);
    expect(m.userUpdate(0, key(9), val8(99))).toBe(0);
    expect(m.count(0)).toBe(4);
    const got = m
      .entries(0)
      .map((e) => [new DataView(e.key.buffer).getUint32(0, true), Number(new DataView(e.value.buffer).getBigUint64(0, true))]);
    expect(got.sort((a, b) => a[0] - b[0])).toEqual([
      [0, 0],
      [1, 10],
      [2, 20],
      [9, 99],
    ]);
  });

  it('hash: many laps of inserts and deletes keep every present key findable (tombstones reused)', () => {
    const m = BpfMaps.create([def(1, 32)], 1, 1);
    const g = new Prng(5);
    const present = new Set<number>();
    for (let step = 0; step < 20_000; step++) {
      const k = g.nextInt(64);
      if (g.nextInt(2) === 0) {
        const r = m.userUpdate(0, key(k), val8(k));
        expect(r).toBe(present.has(k) || present.size < 32 ? 0 : -E2BIG);
        if (r === 0) present.add(k);
      } else {
        expect(m.delete(0, key(k), 0)).toBe(present.delete(k) ? 0 : -ENOENT);
      }
      if (step % 97 === 0)
        for (let q = 0; q < 64; q++) expect(m.lookup(0, key(q), 0, 0) >= 0, `key ${q} at step ${step}`).toBe(present.has(q));
    }
  });

  it('lru_hash: a full map evicts the element used least recently', () => {
    const m = BpfMaps.create([def(9, 3)], 1, 1);
    for (let k = 1; k <= 3; k++) m.userUpdate(0, key(k), val8(k));
    m.lookup(0, key(1), 0, 0); // 1 used after 2 and 3 were written? stamps: 1,2,3 by update; lookup marks 1 with the clock (3)
    expect(m.userUpdate(0, key(4), val8(4))).toBe(0);
    expect(m.lookup(0, key(2), 0, 0)).toBe(-1); // 2 was the oldest
    expect([1, 3, 4].every((k) => m.lookup(0, key(k), 0, 0) >= 0)).toBe(true);
  });

  it('percpu: a program writes its own CPU value, user space writes every CPU', () => {
    const m = BpfMaps.create([def(6, 2), def(5, 4)], 3, 1);
    expect(m.userUpdate(0, key(1), val8(5))).toBe(0);
    const cells = [0, 1, 2].map((cpu) => m.lookup(0, key(1), 0, cpu));
    expect(new Set(cells).size).toBe(3);
    for (const c of cells) expect(m.dv.getUint32(c, true)).toBe(5);
    expect(m.update(1, key(7), 0, val8(42), 0, 0, 1)).toBe(0); // from a program on CPU 1
    expect([0, 1, 2].map((cpu) => m.dv.getUint32(m.lookup(1, key(7), 0, cpu), true))).toEqual([0, 42, 0]);
    expect(m.userUpdate(0, key(2), val8(1))).toBe(-E2BIG); // array key beyond max_entries
  });

  it('cpumap and devmap: the kernel checks of cpu_map_update_elem and dev_map_update_elem', () => {
    const m = BpfMaps.create([def(16, 8), { ...def(14, 4), value_size: 8 }], 2, 1);
    expect(m.userUpdate(0, key(1), val8(192))).toBe(0);
    expect(m.redirectTarget(0, 1)).toBe(true);
    expect(m.redirectTarget(0, 0)).toBe(false);
    expect(m.userUpdate(0, key(2), val8(64))).toBe(-ENODEV); // CPU 2 does not exist with 2 CPUs
    expect(m.userUpdate(0, key(9), val8(64))).toBe(-E2BIG);
    expect(m.userUpdate(0, key(1), val8(16385))).toBe(-EOVERFLOW);
    expect(m.userUpdate(0, key(1), val8(0))).toBe(0); // qsize 0 deletes
    expect(m.redirectTarget(0, 1)).toBe(false);
    expect(m.userUpdate(1, key(0), val8(1))).toBe(0);
    expect(m.userUpdate(1, key(1), val8(2))).toBe(-ENODEV); // only ifindex 1 is a device here
  });

  it("--xdp-map: a devmap entry's program (bpf_devmap_val.bpf_prog) is refused, its ifindex alone taken", () => {
    const raw = assemble([
      [0xb7, 0, 0, 0, 2],
      [0x95, 0, 0, 0, 0],
    ]);
    const devmap: BpfMapDef = { name: 'tx', type: 14, key_size: 4, value_size: 8, max_entries: 2, map_flags: 0 };
    const p = checkProgram({ file: 't.o', section: 'xdp', name: 't', insns: raw, maps: [devmap], programSections: ['xdp'], license: '' });
    expect(() => parseXdpMapEntries(p, ['tx=0:0x0100000001000000'], 2)).toThrow(/a devmap entry's program .* is not modelled; give fd 0/);
    expect(parseXdpMapEntries(p, ['tx=0:1'], 2)).toHaveLength(1);
  });

  it('--xdp-map values: decimal little-endian, hex bytes in memory order, with the size checked', () => {
    expect([...(fieldBytes('53', 4) as Uint8Array)]).toEqual([53, 0, 0, 0]);
    expect([...(fieldBytes('-1', 2) as Uint8Array)]).toEqual([255, 255]);
    expect([...(fieldBytes('0x0035', 2) as Uint8Array)]).toEqual([0, 0x35]);
    expect(fieldBytes('0x35', 4)).toMatch(/gives 1 bytes; the field has 4/);
    expect(fieldBytes('65536', 2)).toMatch(/does not fit/);
    expect(fieldBytes('x', 2)).toMatch(/neither/);
  });
});

describe('no allocation per packet', () => {
  for (const name of ['drop_port', 'cpumap', 'count_cpu'] as const) {
    it(`no GC while the translated ${name} runs 300k frames`, async () => {
      const p = load(name);
      const s = side(p, frames, ENTRIES[name] ?? []);
      const run = translate(p, s.maps.layout);
      const env = s.envs[0];
      const loop = (n: number) => {
        for (let i = 0; i < n; i++) {
          const f = i % frames.count;
          frameAt(env, s.mem, frames, f);
          bpf_prog_run_xdp(run, env);
        }
      };
      loop(200_000);
      await new Promise((r) => setTimeout(r, 100));
      const gcs: number[] = [];
      for (let k = 0; k < 3; k++) gcs.push(await gcsDuring(() => loop(300_000)));
      expect(Math.min(...gcs)).toBe(0);
    });
  }
});
