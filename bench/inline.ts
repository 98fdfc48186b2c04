// One emulated CPU and the device in one thread, with no waiting: the cost of the receive
// path per packet without any cross-thread effects. A profiling aid (node --cpu-prof), and
// the lower bound of what threads mode can reach on one CPU.
//   node dist/bench/inline.js [packets] [extra rxsmp run options...]

import { performance } from 'node:perf_hooks';
import { parseRunArgs } from '../src/cli/run.js';
import { boot } from '../src/engine/boot.js';
import { kernel_boot, newLatencyHistogram, latencySink } from '../src/cpu/worker_main.js';
import { CpuRuntime } from '../src/cpu/runtime.js';
import { TrafficGenerator } from '../src/devices/generator.js';
import { accounted } from '../src/engine/result.js';
import { timer_tick } from '../src/engine/run.js';

export function inlineRun(packets: number, extra: string[] = []): { pps: number; ns_per_packet: number } {
  const { cfg } = parseRunArgs(['--cpus', '1', '--queues', '1', '--packets', String(packets), ...extra]);
  const shm = boot(cfg);
  kernel_boot(shm);
  const now = () => performance.now() * 1e6;
  const rt = new CpuRuntime(shm, 0, latencySink(newLatencyHistogram()), performance.timeOrigin);
  const gen = new TrafficGenerator(shm, now);
  rt.online();
  gen.start();
  const t0 = performance.now();
  for (;;) {
    timer_tick(shm);
    gen.burst(64, false);
    while (rt.step()) {
      /* run the CPU until it has nothing to do */
    }
    const a = accounted(shm);
    if (Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.gen_done) !== 0 && a.done === a.generated) break;
  }
  const secs = (performance.now() - t0) / 1000;
  return { pps: packets / secs, ns_per_packet: (secs * 1e9) / packets };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packets = Number(process.argv[2] ?? 3_000_000);
  const r = inlineRun(packets, process.argv.slice(3));
  console.log(`inline: ${(r.pps / 1e6).toFixed(2)} Mpps, ${r.ns_per_packet.toFixed(0)} ns per packet (device + CPU in one thread)`);
}
