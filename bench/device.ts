// The device alone: on-CPU ns per packet of the traffic generator and the NIC (ixgbe's 82599,
// the legacy 3c59x, QEMU's virtio-net backend), with nothing else in the thread. One queue,
// 64-byte frames (or --pkt-size), closed loop, no latency sampling. After each burst of 64 a
// stand-in driver gives every buffer back (ixgbe/legacy: RDT one behind RDH; virtio: the used
// buffers re-posted by the driver's own virtqueue_get_buf and try_fill_recv), outside the
// timed part: only gen.burst() is timed, so the figure is the device's own work (issue 21:
// what hardware does, write a descriptor and a frame from a per-flow template, stamp it, bump
// the tail once per burst).
//   node dist/bench/device.js [packets] [--pkt-size N]

import { performance } from 'node:perf_hooks';
import { configFromFlags } from '../src/engine/configure.js';
import { boot } from '../src/engine/boot.js';
import { TrafficGenerator } from '../src/devices/generator.js';
import { KCpu } from '../src/kernel/percpu.js';
import type { CpuEnv } from '../src/kernel/env.js';
import { more_used, virtqueue_get_buf } from '../src/drivers/virtio_ring.js';
import { try_fill_recv } from '../src/drivers/virtio_net/virtio_net.js';
import type { Shm } from '../src/shm/memory.js';
import { median } from './stats.js';

export const DEVICE_NICS = ['ixgbe', 'legacy', 'virtio'] as const;
const BURST = 64;

const env: CpuEnv = {
  now_ns: () => 0,
  irq_window: () => {},
  send_ipi: () => {},
  wake_cpu: () => {},
  wakeup_softirqd: () => {},
  ksoftirqd_running: () => false,
  need_resched: () => false,
  burn_ns: () => {},
  busy_poll_sync: () => {},
  do_softirq: () => {},
};

/** The stand-in driver: give queue 0's buffers back to the device. */
function recycler(shm: Shm): () => void {
  const RXQ = shm.layout.RXQ;
  const qi = shm.rxqI[0];
  const size = shm.cfg.ring_size;
  if (shm.cfg.nic !== 'virtio') {
    return () => {
      const rdh = Atomics.load(shm.i32, qi + RXQ.rdh);
      Atomics.store(shm.i32, qi + RXQ.rdt, rdh === 0 ? size - 1 : rdh - 1);
    };
  }
  const c = new KCpu(0, shm, env, { recordMany: () => {} });
  return () => {
    while (more_used(shm, 0)) c.cache.free(virtqueue_get_buf(shm, 0));
    try_fill_recv(c, 0);
  };
}

/** On-CPU ns per packet of the device for `nic`, over `packets` packets after a warm-up. */
export function deviceNs(nic: (typeof DEVICE_NICS)[number], packets: number, pkt_size = 64): number {
  const cfg = configFromFlags({
    mode: 'sim',
    cpus: 1,
    queues: 1,
    nic,
    packets: packets + 200_000,
    'pkt-size': pkt_size,
    'latency-sample': 0,
  });
  const shm = boot(cfg);
  const gen = new TrafficGenerator(shm, () => performance.now() * 1e6);
  const recycle = recycler(shm);
  gen.start();
  let spent = 0;
  let done = 0;
  let timed = 0;
  while (done < cfg.packets) {
    const t0 = performance.now();
    const got = gen.burst(BURST, false);
    const t1 = performance.now();
    done += got;
    if (done > 200_000) {
      spent += t1 - t0;
      timed += got;
    }
    recycle();
    if (got === 0 && done < cfg.packets) throw new Error(`device bench (${nic}): a burst generated nothing after ${done} packets`);
  }
  return (spent * 1e6) / timed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const packets = Number(args[0] ?? 3_000_000);
  const at = args.indexOf('--pkt-size');
  const size = at >= 0 ? Number(args[at + 1]) : 64;
  for (const nic of DEVICE_NICS) {
    const xs = [1, 2, 3].map(() => deviceNs(nic, packets, size));
    console.log(
      `device ${nic}: ${median(xs).toFixed(1)} ns per ${size}-byte packet on-CPU (median of 3: ${xs.map((x) => x.toFixed(1)).join(', ')})`,
    );
  }
}
