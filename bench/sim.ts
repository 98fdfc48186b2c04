// Sim mode's own speed: simulated packets per second of host (wall) time, 16 CPUs, median of 5.
//   node dist/bench/sim.js [packets] [extra rxsmp run options...]
// Default load: 16 CPUs, 16 queues (RSS), 1024 UDP flows of 64 B, closed loop, 2 µs of
// virtual stack cost per packet (a stack-bound load: the kernel path is interleaved across
// all 16 CPUs at full napi batches). The virtual-time PPS of the run is printed too; the
// stack cost is virtual, so it costs the host nothing. Every run must conserve. One warm-up
// run first (JIT). Wall time includes boot. Also printed: packets per CPU second of this
// process (process.cpuUsage), which other load on a shared host does not inflate.

import { configFromFlags } from '../src/engine/configure.js';
import { median } from './stats.js';
import { simulate } from '../src/engine/sim_run.js';
import { conserves } from '../src/engine/result.js';

const RUNS = 5;

export function simBench(packets: number, extra: string[]): { wall_pps: number[]; cpu_pps: number[]; virtual_pps: number } {
  const flags: [string, string][] = [
    ['mode', 'sim'],
    ['cpus', '16'],
    ['queues', '16'],
    ['flows', '1024'],
    ['stack-cost-ns', '2000'],
    ['latency-sample', '0'],
    ['packets', String(packets)],
  ];
  for (let i = 0; i < extra.length; i += 2) flags.push([extra[i].replace(/^--/, ''), extra[i + 1]]);
  const cfg = configFromFlags(Object.fromEntries(flags));
  const wall_pps: number[] = [];
  const cpu_pps: number[] = [];
  let virtual_pps = 0;
  simulate(cfg); // warm the JIT
  for (let k = 0; k < RUNS; k++) {
    const cpu0 = process.cpuUsage();
    const { result } = simulate(cfg);
    const cpu = process.cpuUsage(cpu0);
    if (!conserves(result)) throw new Error(`sim bench run ${k} does not conserve: ${JSON.stringify(result.packets)}`);
    wall_pps.push(result.packets.generated / result.sim.wall_s);
    cpu_pps.push(result.packets.generated / ((cpu.user + cpu.system) / 1e6));
    virtual_pps = result.pps;
  }
  return { wall_pps, cpu_pps, virtual_pps };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packets = Number(process.argv[2] ?? 3_000_000);
  const r = simBench(packets, process.argv.slice(3));
  console.log(
    `sim bench: 16 CPUs, ${packets} packets per run: ${(median(r.wall_pps) / 1e6).toFixed(2)} M simulated packets per wall second ` +
      `(median of ${RUNS}: ${r.wall_pps.map((x) => (x / 1e6).toFixed(2)).join(', ')}); per CPU second of this process ${(median(r.cpu_pps) / 1e6).toFixed(2)} M ` +
      `(other load on the host inflates wall time, not CPU time); virtual ${(r.virtual_pps / 1e6).toFixed(2)} Mpps`,
  );
}
