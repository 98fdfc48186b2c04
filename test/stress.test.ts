// Stress: many random configurations and seeds (the fuzz campaign's generator, in threads
// mode), each a real threaded emulation bounded in time. Every run must conserve, account for
// every skb, report its ordering consistently, and finish: a run with no progress for
// WATCHDOG_S fails through the watchdog with the state of every CPU and queue, and a run
// that has no result after DEADLINE_S at all (the watchdog did not fire either) fails with
// that said, not with vitest's timeout. Every run without RFS or a knob change that moves
// flows must keep every flow in order. RFS keeps order only where the kernel's does: a flow
// whose rps_dev_flow entry is still unset switches at once (overtaking packets the RPS map
// queued elsewhere), and flows that collide in the socket or device flow tables fall back to
// the map; `rxsmp fuzz` (sim mode) checks those shapes too, where it can read the tables.
// Nothing here depends on the host's speed: a run on a busy host is slower, not different.
// The generator draws virtio-net in a quarter of its non-legacy configurations (tiny unsafe
// rings 8-128 among them, mergeable or big buffers, jumbo frames), so virtio runs here too;
// the device runs inline in every other run that can (see randomThreadFlags).
// RXSMP_STRESS_RUNS sets the number of runs (default 24); each test name is its reproduction.

import { beforeAll, describe, expect, it } from 'vitest';
import { expectOrderingReport, run } from './e2e.js';
import { buildFuzzXdpPrograms, randomFlags, reproCommand } from '../dist/src/engine/fuzz.js';
import { hangReport } from '../dist/src/engine/run.js';
import { boot } from '../dist/src/engine/boot.js';
import { config } from './harness.js';

/** No packet moved for this long: a hang (a run here normally takes about a second). */
const WATCHDOG_S = 15;
/** No result at all after this long: fail, saying so. */
const DEADLINE_S = 90;

// The fuzz campaign's generator, drawn for real threads (at most 4 CPUs on this 2-core host),
// with the device on a thread of its own in even runs and inline (on the CPU of queue 0's
// interrupt) in odd ones wherever it can run inline (ixgbe or legacy, closed loop).
const randomThreadFlags = (seed: number): Record<string, string | number> => {
  const f: Record<string, string | number> = { ...randomFlags(seed, { mode: 'threads', maxCpus: 4 }), 'watchdog-s': WATCHDOG_S };
  const inlineable = f.nic !== 'virtio' && (f.rate === undefined || f.rate === 'max') && !('pcap-timing' in f);
  f.device = inlineable && seed % 2 === 1 ? 'inline' : 'thread';
  return f;
};
/** Knobs that may reorder a flow on Linux: RFS (see the header), a new RPS map, RSS table, affinity. */
const mayReorder = (f: Record<string, string | number>) =>
  'rps-flow-cnt' in f || /rps-cpus|rss-reta|irq-affinity|rps-flow-cnt|rps-sock-flow-entries/.test(String(f['knob-at'] ?? ''));
const RUNS = Number(process.env.RXSMP_STRESS_RUNS ?? 24);

describe('stress: random configurations', () => {
  beforeAll(() => buildFuzzXdpPrograms()); // the draws' XDP programs (clang)
  for (let i = 0; i < RUNS; i++) {
    const flags = randomThreadFlags(0x5eed + i);
    it(reproCommand(flags), { timeout: (DEADLINE_S + 10) * 1000 }, async () => {
      const r = await within(run(flags), DEADLINE_S); // throws unless generated == delivered + every drop
      expect(r.packets.generated).toBe(flags.packets);
      expect(r.skb_pool.unaccounted).toBe(0); // no skb leaked or freed twice
      if (!mayReorder(flags)) expect(r.ordering.out_of_order).toBe(0);
      expectOrderingReport(r, Number(flags.flows));
      // A native XDP program may consume every frame before the stack: then it ran on them.
      const ran = r.xdp?.percpu.reduce((a, p) => a + p.runs, 0) ?? 0;
      expect(r.percpu.reduce((a, p) => a + p.processed, 0) + ran).toBeGreaterThan(0);
    });
  }
});

/** The run's result, or a failure that says the run had none after `secs` (and the watchdog was silent). */
async function within<T>(p: Promise<T>, secs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `no result after ${secs} s, and the watchdog (${WATCHDOG_S} s without a packet moving) did not fire: the run is stuck outside the packet path (start-up, drain or collection)`,
          ),
        ),
      secs * 1000,
    );
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('stress: the bounds', () => {
  it('a run that never returns fails at the deadline with a message that says so', async () => {
    const err = await within(new Promise(() => undefined), 0.05).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/^no result after 0.05 s, and the watchdog \(15 s without a packet moving\) did not fire/);
  });
});

describe('watchdog', () => {
  it('reports the skb pool and what is in flight', () => {
    const shm = boot(config({ cpus: 1, queues: 1 }));
    const text = hangReport(shm, { generated: 100, done: 40, read: 26, unread: 7 }, 5);
    expect(text).toMatch(/generated 100, accounted 40, 60 in flight, 7 delivered and not yet read by their applications/);
    expect(text).toMatch(/skb pool free \d+ of \d+/);
  });
});
