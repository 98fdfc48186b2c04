// The false-sharing comparison (issue 14): the same RPS run with the per-CPU blocks and ring
// indices padded to 128 bytes (--cacheline-pad on, the default) and packed (off, so CPUs
// write lines their neighbours read), interleaved in pairs with paired seeds.
//   npm run bench:false-sharing -- [--pairs N] [--packets N]

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FLAGS = ['--cpus', '2', '--queues', '2', '--rps-cpus', '3', '--flows', '1024', '--rss-udp4', 'sdfn', '--latency-sample', '0'];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? dflt : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench:false-sharing: ${name} needs a positive integer`);
    process.exit(2);
  }
  return v;
}

function pps(flags: string[]): { pps: number } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'run', ...flags, '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`rxsmp run ${flags.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
  return { pps: (JSON.parse(r.stdout) as { pps: number }).pps };
}

const pairs = arg('--pairs', 5);
const packets = arg('--packets', 2_000_000);
const base = [...FLAGS, '--packets', String(packets)];
console.log(`rxsmp run ${base.join(' ')} --seed i --cacheline-pad on|off (pairs interleaved, order alternating)`);
const on: number[] = [];
const off: number[] = [];
const ratio: number[] = [];
for (let i = 0; i < pairs; i++) {
  const seed = ['--seed', String(i + 1)];
  const run = (pad: string) => pps([...base, ...seed, '--cacheline-pad', pad]).pps;
  const [a, b] = i % 2 === 0 ? [run('on'), run('off')] : [run('off'), run('on')].reverse();
  on.push(a);
  off.push(b);
  ratio.push(b / a);
}
const m = (xs: number[]) => `median ${(median(xs) / 1e6).toFixed(2)} Mpps of [${xs.map((x) => (x / 1e6).toFixed(2)).join(', ')}]`;
console.log(`padded (on):  ${m(on)}`);
console.log(`packed (off): ${m(off)}`);
console.log(
  `off/on: median ${median(ratio).toFixed(2)}x, min..max ${Math.min(...ratio).toFixed(2)}..${Math.max(...ratio).toFixed(2)}x over ${pairs} pairs`,
);
