// The BPF engine's cost: ns per BPF instruction of the translated function (what runs in the
// hook) and of the reference interpreter, on the drop-by-port program (test/xdp/drop_port.c,
// built with clang as the tests build it) over real frames (UDP and TCP, IPv4 and IPv6, a
// quarter of them to the dropped port), and the same for the pass and cpumap programs; then
// the 64-bit arithmetic the translator uses (int32 pairs) against BigInt. Instructions are
// counted by the interpreter over the same frames. Figures from a shared or loaded machine
// are indicative only: compare them with each other, in one sitting.
//   npm run bench:bpf [-- --quick]

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { checkProgram } from '../src/bpf/check.js';
import { interpret } from '../src/bpf/interp.js';
import { bpf_prog_run_xdp, translate } from '../src/bpf/jit.js';
import { readBpfObject } from '../src/bpf/object.js';
import { XdpEnv } from '../src/bpf/vm.js';
import { parseXdpMapEntries, xdpMapsFor } from '../src/host/xdp_object.js';
import { buildXdp } from '../src/engine/xdp_programs.js';
import { BUF_SIZE, makeFrames, XDP_PACKET_HEADROOM } from '../test/xdp_frames.js';

const quick = process.argv.includes('--quick');
const FRAMES = 4096;
const fr = makeFrames(FRAMES, 64, 1, 'mix', 'mix', 60);

interface Row {
  program: string;
  insns_per_frame: number;
  jit_ns_per_frame: number;
  jit_ns_per_insn: number;
  interp_ns_per_insn: number;
}

function bench(name: string, entries: string[]): Row {
  const file = buildXdp(name);
  const prog = checkProgram(readBpfObject(readFileSync(file), file, 'xdp'));
  const x = { prog, entries: parseXdpMapEntries(prog, entries, 2) };
  const maps = xdpMapsFor(x, 2, 1);
  const env = new XdpEnv(maps, 0);
  const mem = fr.mem.slice();
  const at = (i: number) =>
    env.setFrame(mem, i * BUF_SIZE, i * BUF_SIZE + XDP_PACKET_HEADROOM, i * BUF_SIZE + XDP_PACKET_HEADROOM + fr.len[i], BUF_SIZE, 0);
  const interp = (e: XdpEnv) => interpret(prog, e);
  // Instructions per frame, as the interpreter executes them.
  env.insns = 0;
  for (let i = 0; i < FRAMES; i++) {
    at(i);
    bpf_prog_run_xdp(interp, env);
  }
  const insns = env.insns / FRAMES;
  const time = (run: (e: XdpEnv) => number, laps: number): number => {
    const t0 = performance.now();
    for (let l = 0; l < laps; l++) {
      for (let i = 0; i < FRAMES; i++) {
        at(i);
        bpf_prog_run_xdp(run, env);
      }
    }
    return ((performance.now() - t0) * 1e6) / (laps * FRAMES);
  };
  const jit = translate(prog, maps.layout);
  time(jit, quick ? 10 : 100); // warm up: optimised code
  const jitNs = Math.min(...[0, 1, 2].map(() => time(jit, quick ? 20 : 250)));
  time(interp, 2);
  const interpNs = time(interp, quick ? 1 : 5);
  return {
    program: name,
    insns_per_frame: +insns.toFixed(1),
    jit_ns_per_frame: +jitNs.toFixed(1),
    jit_ns_per_insn: +(jitNs / insns).toFixed(2),
    interp_ns_per_insn: +(interpNs / insns).toFixed(1),
  };
}

/** 64-bit add, xor, shift and compare on int32 pairs (the translator's scheme) and on BigInt. */
function arith(): { pairs_ns: number; bigint_ns: number } {
  const n = quick ? 1e6 : 1e7;
  let al = 0x12345678 | 0;
  let ah = 0x9abcdef | 0;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = (al >>> 0) + (i >>> 0);
    ah = (ah + (t > 4294967295 ? 1 : 0)) | 0;
    al = t | 0;
    al ^= ah;
    ah = (ah << 3) | (al >>> 29);
    if (ah === 0 && al === 1) break;
  }
  const pairs = ((performance.now() - t0) * 1e6) / n;
  let b = 0x09abcdef12345678n;
  const M = (1n << 64n) - 1n;
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    b = BigInt.asUintN(64, b + BigInt(i));
    b ^= b >> 32n;
    b = (b << 3n) & M;
    if (b === 1n) break;
  }
  const big = ((performance.now() - t0) * 1e6) / n;
  if (al === 42 && b === 42n) console.log(); // keep the loops' results alive
  return { pairs_ns: +pairs.toFixed(2), bigint_ns: +big.toFixed(1) };
}

const rows = [
  bench('drop_port', ['drop_ports=8080:0']),
  bench('pass', []),
  bench('cpumap', ['cpu_map=0:64,1:64', 'cpus_available=0:0,1:1', 'cpus_count=0:2']),
];
console.table(rows);
const a = arith();
console.log(`64-bit add+xor+shift+compare: int32 pairs ${a.pairs_ns} ns, BigInt ${a.bigint_ns} ns`);
console.log(
  'Figures from a shared or loaded machine are indicative only; the translated function is what the XDP hook runs, the interpreter is the reference it is tested against.',
);
