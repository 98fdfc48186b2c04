// The hot-path bench (issue 12): the 1-CPU rate of this build against a baseline commit and
// against the one-thread floor loop, all in one sitting, plus the per-stage table and the RPS
// comparison at 2000 ns beside what the kernel model predicts.
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
    if (s[i]! - s[i - 1]! > gap) {
      gap = s[i]! - s[i - 1]!;
      at = s[i]!;
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

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pairs = positiveInt(args, '--pairs', 5);
  const packets = positiveInt(args, '--packets', 3_000_000);
  const ref = option(args, '--baseline', undefined);
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, node ${process.version}, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  const base = ref === undefined ? undefined : buildBaseline(ref);
  try {
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
      const ratios = cur.map((x, i) => x / old[i]!);
      console.log(
        `this build / baseline: median ${median(ratios).toFixed(2)}x over ${pairs} pairs, min..max ${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}x (target 2x)`,
      );
    }
    console.log(`floor loop (one thread, no rings): ${spread(floor)}`);
    console.log(`this build / floor: ${((median(cur) / median(floor)) * 100).toFixed(1)}% (target 25%)`);

    console.log(stageTable(await stageCosts(3_000_000)));

    const rpsBase = [...RPS_FLAGS, '--stack-cost-ns', '2000'];
    const rps = [...rpsBase, '--packets', '1000000'];
    const off: number[] = [];
    const on: number[] = [];
    for (let i = 0; i < Math.min(pairs, 3); i++) {
      const seed = ['--seed', String(i + 1)];
      off.push(runPps(ROOT, [...rps, ...seed, '--rps-cpus', '0']));
      on.push(runPps(ROOT, [...rps, ...seed, '--rps-cpus', '3']));
    }
    const sim = (mask: string) => runPps(ROOT, [...rpsBase, '--mode', 'sim', '--packets', '200000', '--rps-cpus', mask]);
    console.log(`RPS at 2000 ns (rxsmp run ${rps.join(' ')} --rps-cpus 0|3): off ${spread(off)}; on ${spread(on)}`);
    console.log(
      `RPS on/off: ${(median(on) / median(off)).toFixed(2)}x in threads mode; the kernel model (sim mode, built-in costs) predicts ${(sim('3') / sim('0')).toFixed(2)}x`,
    );
  } finally {
    if (base !== undefined) rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:hotpath: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(e instanceof Usage ? 2 : 1);
});
