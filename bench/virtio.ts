// virtio-net against ixgbe (`npm run build && node dist/bench/virtio.js [--quick]`): delivered
// packets per second of the whole receive path, 64-byte UDP frames, closed loop (--rate max),
// no latency stamping, in two shapes: 1 queue on 1 CPU, and 2 queues on 2 CPUs (each queue's
// vector on its own CPU). Same knobs on both sides; the runs alternate (ixgbe, virtio,
// ixgbe, ...) in one process so machine noise hits both alike; every figure is a median of
// RUNS. Every run must conserve packets or the bench aborts.
//
// What differs is the device model and driver: ixgbe DMAs into posted descriptors, writes
// back an RSS hash and auto-masks its vector; virtio goes through QEMU's receive path (pop,
// header, copy, fill/flush, virtio_should_notify per packet), the guest's mergeable buffers,
// refills in batches of half the ring and notification suppression through the ring.

import os from 'node:os';
import { parseRunArgs } from '../src/cli/run.js';
import { median } from './stats.js';
import { runEmulation } from '../src/engine/run.js';
import { conserves, type RunResult } from '../src/engine/result.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;
const PACKETS = quick ? 200_000 : 2_000_000;
const COMMON = ['--pkt-size', '64', '--rate', 'max', '--latency-sample', '0', '--packets', String(PACKETS)];
const SHAPES = [
  { key: 'q1c1', label: '1 queue, 1 CPU', flags: ['--cpus', '1', '--queues', '1'] },
  { key: 'q2c2', label: '2 queues, 2 CPUs', flags: ['--cpus', '2', '--queues', '2', '--irq-affinity', '0,1'] },
];

async function emulate(flags: string[]): Promise<RunResult> {
  const r = await runEmulation(parseRunArgs(flags).cfg);
  if (!conserves(r)) throw new Error(`run does not conserve (rxsmp run ${flags.join(' ')}): ${JSON.stringify(r.packets)}`);
  return r;
}

const mpps = (x: number) => `${(x / 1e6).toFixed(3)} Mpps`;

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  console.log(
    `machine: ${cpu}, ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, node ${process.version}${quick ? ' (quick)' : ''}`,
  );
  const summary: Record<string, unknown> = { bench: 'virtio_vs_ixgbe', runs: RUNS, packets: PACKETS, cpu };
  for (const s of SHAPES) {
    const ixgbe = [...COMMON, ...s.flags, '--nic', 'ixgbe'];
    const virtio = [...COMMON, ...s.flags, '--nic', 'virtio'];
    console.log(`${s.label}: rxsmp run ${ixgbe.join(' ')}  vs  --nic virtio`);
    const a: number[] = [];
    const b: number[] = [];
    const irqs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      a.push((await emulate(ixgbe)).pps);
      const v = await emulate(virtio);
      b.push(v.pps);
      irqs.push(v.queues.reduce((n, q) => n + q.interrupts, 0) / v.packets.delivered);
    }
    const ma = median(a);
    const mb = median(b);
    console.log(`  ixgbe  median ${mpps(ma)} of [${a.map((x) => (x / 1e6).toFixed(3)).join(', ')}]`);
    console.log(
      `  virtio median ${mpps(mb)} of [${b.map((x) => (x / 1e6).toFixed(3)).join(', ')}]; interrupts per packet median ${median(irqs).toFixed(4)}`,
    );
    console.log(`  virtio / ixgbe: ${(mb / ma).toFixed(2)}x`);
    Object.assign(summary, {
      [`${s.key}_ixgbe_pps`]: Math.round(ma),
      [`${s.key}_virtio_pps`]: Math.round(mb),
      [`${s.key}_virtio_over_ixgbe`]: +(mb / ma).toFixed(2),
    });
  }
  console.log(JSON.stringify(summary));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
