// Stress: many random configurations and seeds (the fuzz campaign's generator, in threads
// mode), each a real threaded emulation bounded in time. Every run must conserve, account for
// every skb, and finish (a hang fails through the watchdog with the state of every CPU and
// queue); every run without RFS or a knob change that moves flows must keep every flow in
// order. RFS keeps order only where the kernel's does: a flow whose rps_dev_flow entry is
// still unset switches at once (overtaking packets the RPS map queued elsewhere), and flows
// that collide in the socket or device flow tables fall back to the map; `rxsmp fuzz` (sim
// mode) checks those shapes too, where it can read the tables.
// The generator draws virtio-net in a quarter of its non-legacy configurations (tiny unsafe
// rings 8-128 among them, mergeable or big buffers, jumbo frames), so virtio runs here too.
// RXSMP_STRESS_RUNS sets the number of runs (default 24); each test name is its reproduction.

import { describe, expect, it } from 'vitest';
import { run } from './e2e.js';
import { randomFlags, reproCommand } from '../dist/src/engine/fuzz.js';
import { runEmulation, WatchdogError, hangReport } from '../dist/src/engine/run.js';
import { boot } from '../dist/src/engine/boot.js';
import { config } from './harness.js';

// The fuzz campaign's generator, drawn for real threads (at most 4 CPUs on this 2-core host).
const randomThreadFlags = (seed: number): Record<string, string | number> => ({
  ...randomFlags(seed, { mode: 'threads', maxCpus: 4 }),
  'watchdog-s': 15,
});
/** Knobs that may reorder a flow on Linux: RFS (see the header), a new RPS map, RSS table, affinity. */
const mayReorder = (f: Record<string, string | number>) =>
  'rps-flow-cnt' in f || /rps-cpus|rss-reta|irq-affinity|rps-flow-cnt|rps-sock-flow-entries/.test(String(f['knob-at'] ?? ''));
const RUNS = Number(process.env.RXSMP_STRESS_RUNS ?? 24);

describe('stress: random configurations', () => {
  for (let i = 0; i < RUNS; i++) {
    const flags = randomThreadFlags(0x5eed + i);
    it(reproCommand(flags), async () => {
      const r = await run(flags); // throws unless generated == delivered + every drop
      expect(r.packets.generated).toBe(flags.packets);
      expect(r.skb_pool.unaccounted).toBe(0); // no skb leaked or freed twice
      if (!mayReorder(flags)) expect(r.ordering.out_of_order).toBe(0);
      expect(r.ordering.out_of_order === 0).toBe(r.ordering.first === null);
      expect(r.percpu.reduce((a, p) => a + p.processed, 0)).toBeGreaterThan(0);
    });
  }
});

describe('watchdog', () => {
  it('turns a hang into a failure naming every CPU and its state', async () => {
    // CPU 1's rps_lock is taken and never released: CPU 0 spins in enqueue_to_backlog forever.
    let held = false;
    const hang = runEmulation(config({ cpus: 2, queues: 1, 'rps-cpus': 2, packets: 1_000_000, 'watchdog-s': 1 }), {
      onTick: (shm) => {
        if (held) return;
        held = true;
        Atomics.store(shm.i32, shm.sdI[1]! + shm.layout.sd.rps_lock, 2);
      },
    });
    const err = await hang.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WatchdogError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^watchdog: no packet moved for 1 s/);
    expect(msg).toMatch(/cpu 0: context (softirq|ksoftirqd)/);
    expect(msg).toMatch(/cpu 1: .*rps_lock 2/);
    expect(msg).toMatch(/queue 0: RDH \d+ RDT \d+/);
  });

  it('reports the skb pool and what is in flight', () => {
    const shm = boot(config({ cpus: 1, queues: 1 }));
    const text = hangReport(shm, { generated: 100, done: 40, read: 26, unread: 7 }, 5);
    expect(text).toMatch(/generated 100, accounted 40, 60 in flight, 7 delivered and not yet read by their applications/);
    expect(text).toMatch(/skb pool free \d+ of \d+/);
  });
});
