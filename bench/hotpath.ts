// The hot-path bench (issues 12 and 21), all in one sitting: the 1-CPU rate of this build
// against a baseline commit and the one-thread floor loop; the device alone (ns per packet,
// each NIC); the kernel against its straight-line prototype, by stage; the device on a thread
// of its own against inline, on 1 CPU and for RPS off/on at 2 µs, beside what the kernel model
// predicts; sim mode's simulated packets per CPU-second at 16 CPUs. --baseline REF for the
// rates and sim mode (a baseline has no device or kernel harness, nor --device).
//   npm run bench:hotpath -- [--baseline REF] [--pairs N] [--packets N]
//
// --baseline REF extracts REF with `git archive` into a temporary directory, links this
// checkout's node_modules and builds it with this checkout's tsc; then pair i runs the
// baseline and this build back to back (the order alternating between pairs), each a fresh
// `rxsmp run --cpus 1 --queues 1 --rate max --latency-sample 0 --json` process with flags
// every build since the CLI landed accepts. Medians, min..max, and the ratio per pair.
//
// Mode: on two shared cores the host places the device and CPU threads either on one core or
// on two, and a run's rate falls in one of two clusters. Each run is put in the 'fast' or
// 'slow' cluster by the widest gap in the sorted rates of its side (when that gap is over a
// fifth of the median; else every run is 'one mode'), and the counts are printed.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { floorRate } from './floor.js';
import { stageCosts, stageTable } from './stages.js';
import { DEVICE_NICS, deviceNs } from './device.js';
import { kernelTable } from './kernel.js';
import { median } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RX_FLAGS = ['--cpus', '1', '--queues', '1', '--pkt-size', '64', '--rate', 'max', '--latency-sample', '0'];
const RPS_FLAGS = ['--cpus', '2', '--queues', '1', '--irq-affinity', '0', '--app-cpus', '1', '--flows', '1024', '--rss-udp4', 'sdfn'];

class Usage extends Error {}

function option(args: string[], name: string, dflt: string | undefined): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Usage(`${name} needs a value`);
  return v;
}

function positiveInt(args: string[], name: string, dflt: number): number {
  const v = option(args, name, String(dflt))!;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Usage(`${name}: '${v}' is not a positive integer`);
  return n;
}

/** Build REF in a temporary directory; returns its path. */
function buildBaseline(ref: string): string {
  const sha = spawnSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' });
  if (sha.status !== 0) throw new Usage(`--baseline: '${ref}' is not a commit of this repository`);
  const dir = mkdtempSync(join(os.tmpdir(), 'rxsmp-baseline-'));
  execFileSync('sh', ['-c', `git -C '${ROOT}' archive '${sha.stdout.trim()}' | tar -x -C '${dir}'`]);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

/** One run of a build's CLI; its delivered pps. Aborts on a failed or non-conserving run. */
function runPps(dir: string, flags: string[]): number {
  const r = spawnSync(process.execPath, [join(dir, 'dist', 'src', 'cli.js'), 'run', ...flags, '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`rxsmp run ${flags.join(' ')} in ${dir} exited ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
  const doc = JSON.parse(r.stdout) as { pps: number };
  return doc.pps;
}

/** 'fast'/'slow' per run, split at the widest gap of the sorted rates if it is over a fifth of the median. */
function modes(xs: number[]): string[] {
  const s = [...xs].sort((a, b) => a - b);
  let gap = 0;
  let at = 0;
  for (let i = 1; i < s.length; i++) {
    if (s[i] - s[i - 1] > gap) {
      gap = s[i] - s[i - 1];
      at = s[i];
    }
  }
  if (gap <= median(xs) / 5) return xs.map(() => 'one mode');
  return xs.map((x) => (x >= at ? 'fast' : 'slow'));
}

const m = (x: number) => (x / 1e6).toFixed(2);
const spread = (xs: number[]) =>
  `median ${m(median(xs))} Mpps, min..max ${m(Math.min(...xs))}..${m(Math.max(...xs))} of [${xs.map(m).join(', ')}]`;
const modeCount = (xs: number[]) => {
  const ms = modes(xs);
  return [...new Set(ms)].map((k) => `${ms.filter((x) => x === k).length} ${k}`).join(', ');
};

/** A sim run of a build's CLI: simulated packets per CPU-second of its process (the CLI's own cpuUsage at exit). */
function simCpuPps(dir: string, flags: string[]): number {
  const cli = join(dir, 'dist', 'src', 'cli.js');
  const hook = `process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\ncpu_us ' + (u.user + u.system) + '\\n'); }); process.argv.splice(1, 0, ${JSON.stringify(cli)}); await import(${JSON.stringify(cli)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', hook, 'run', '--mode', 'sim', ...flags, '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`sim run in ${dir} exited ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
  const us = Number(/cpu_us (\d+)/.exec(r.stderr)![1]);
  return (JSON.parse(r.stdout) as { packets: { generated: number } }).packets.generated / (us / 1e6);
}

const SIM_FLAGS = ['--cpus', '16', '--queues', '16', '--flows', '1024', '--stack-cost-ns', '2000', '--latency-sample', '0'];
const ratio = (a: number[], b: number[]) => a.map((x, i) => x / b[i]);
const times = (xs: number[]) =>
  `median ${median(xs).toFixed(2)}x, min..max ${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}x over ${xs.length} pairs`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pairs = positiveInt(args, '--pairs', 5);
  const packets = positiveInt(args, '--packets', 3_000_000);
  const ref = option(args, '--baseline', undefined);
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, node ${process.version}, load ${os.loadavg()[0].toFixed(2)} at the start`,
  );
  const base = ref === undefined ? undefined : buildBaseline(ref);
  try {
    // 1. The 1-CPU rate against the baseline and the floor loop, interleaved.
    const rx = [...RX_FLAGS, '--packets', String(packets)];
    console.log(`1-CPU rate: rxsmp run ${rx.join(' ')}`);
    const cur: number[] = [];
    const old: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 === 0 ? ['base', 'cur'] : ['cur', 'base'];
      for (const side of order) {
        if (side === 'cur') cur.push(runPps(ROOT, rx));
        else if (base !== undefined) old.push(runPps(base, rx));
      }
      floor.push(floorRate(20_000_000));
    }
    console.log(`this build:  ${spread(cur)}; modes: ${modeCount(cur)}`);
    if (base !== undefined) {
      console.log(`baseline ${ref}: ${spread(old)}; modes: ${modeCount(old)}`);
      console.log(`this build / baseline: ${times(ratio(cur, old))} (target 2x, stretch 3x)`);
    }
    console.log(`floor loop (one thread, no rings): ${spread(floor)}`);
    console.log(`this build / floor: ${((median(cur) / median(floor)) * 100).toFixed(1)}% (target 25%, stretch 35%)`);

    // 2. The device alone, and the kernel against its straight-line prototype.
    for (const nic of DEVICE_NICS) {
      const xs = [1, 2, 3].map(() => deviceNs(nic, 2_000_000));
      console.log(
        `device ${nic}: ${median(xs).toFixed(1)} ns per 64-byte packet on-CPU (median of 3: ${xs.map((x) => x.toFixed(1)).join(', ')}; target 40)`,
      );
    }
    console.log((await kernelTable(1_500_000, pairs)).text);
    console.log(stageTable(await stageCosts(3_000_000)));

    // 3. Where the device runs: a thread of its own against inline, 1 CPU and RPS off/on at 2 µs.
    const rpsBase = [...RPS_FLAGS, '--stack-cost-ns', '2000'];
    const rps = [...rpsBase, '--packets', '1000000'];
    const device = (d: string) => ['--device', d];
    for (const d of ['thread', 'inline']) {
      const one: number[] = [];
      for (let i = 0; i < Math.min(pairs, 3); i++) one.push(runPps(ROOT, [...rx, ...device(d)]));
      console.log(`1 CPU, --device ${d}: ${spread(one)}`);
    }
    const rpsRuns: Record<string, number[]> = {};
    for (let i = 0; i < pairs; i++) {
      const seed = ['--seed', String(i + 1)];
      for (const d of ['thread', 'inline']) {
        for (const mask of ['0', '3'])
          (rpsRuns[`${d} ${mask}`] ??= []).push(runPps(ROOT, [...rps, ...seed, '--rps-cpus', mask, ...device(d)]));
      }
      if (base !== undefined)
        for (const mask of ['0', '3']) (rpsRuns[`base ${mask}`] ??= []).push(runPps(base, [...rps, ...seed, '--rps-cpus', mask]));
    }
    const sim = (mask: string) => runPps(ROOT, [...rpsBase, '--mode', 'sim', '--packets', '200000', '--rps-cpus', mask]);
    console.log(`RPS at 2000 ns (rxsmp run ${rps.join(' ')} --rps-cpus 0|3 --seed i, pairs interleaved):`);
    for (const d of ['thread', 'inline', ...(base !== undefined ? ['base'] : [])]) {
      const off = rpsRuns[`${d} 0`];
      const on = rpsRuns[`${d} 3`];
      const label = d === 'base' ? `baseline ${ref}` : `--device ${d}`;
      console.log(`  ${label}: off ${spread(off)}; on ${spread(on)}; on/off ${times(ratio(on, off))} (target 1.55x)`);
    }
    console.log(`  the kernel model (sim mode, built-in costs) predicts ${(sim('3') / sim('0')).toFixed(2)}x`);

    // 4. Sim mode's own speed: simulated packets per CPU-second at 16 CPUs.
    const simFlags = [...SIM_FLAGS, '--packets', '1000000'];
    const simCur: number[] = [];
    const simOld: number[] = [];
    for (let i = 0; i < pairs; i++) {
      simCur.push(simCpuPps(ROOT, simFlags));
      if (base !== undefined) simOld.push(simCpuPps(base, simFlags));
    }
    console.log(
      `sim mode (rxsmp run --mode sim ${simFlags.join(' ')}): this build ${spread(simCur).replace(/Mpps/g, 'M packets per CPU-second')} (target 3)`,
    );
    if (base !== undefined) {
      console.log(
        `  baseline ${ref}: ${spread(simOld).replace(/Mpps/g, 'M packets per CPU-second')}; this build / baseline ${times(ratio(simCur, simOld))}`,
      );
    }
    console.log(`load ${os.loadavg()[0].toFixed(2)} at the end`);
  } finally {
    if (base !== undefined) rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:hotpath: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(e instanceof Usage ? 2 : 1);
});
