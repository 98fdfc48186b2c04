// Stress: many random configurations and seeds, each a real threaded emulation bounded in
// time. Every run must conserve and finish (a hang fails through the watchdog with the state
// of every CPU and queue), and every run without RFS must keep every flow in order. RFS keeps
// order only where the kernel's does: a flow whose rps_dev_flow entry is still unset switches
// at once (overtaking packets the RPS map queued elsewhere), and flows that collide in the
// socket or device flow tables fall back to the map. Those runs are checked for conservation.
// RXSMP_STRESS_RUNS sets the number of runs (default 24); each test name is its reproduction.

import { describe, expect, it } from 'vitest';
import { run } from './e2e.js';
import { Prng } from '../dist/src/lib/prng.js';
import { runEmulation, WatchdogError, hangReport } from '../dist/src/engine/run.js';
import { boot } from '../dist/src/engine/boot.js';
import { config } from './harness.js';

type Flags = Record<string, string | number>;

function randomFlags(seed: number): Flags {
  const p = new Prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[p.nextInt(xs.length)]!;
  const between = (lo: number, hi: number) => lo + p.nextInt(hi - lo + 1);
  const mask = (cpus: number) => (1 + p.nextInt((1 << cpus) - 1)).toString(16);
  const cpus = between(1, 4);
  const legacy = p.nextFloat() < 0.15;
  const queues = legacy ? 1 : between(1, Math.min(4, cpus + 1));
  const f: Flags = {
    seed,
    cpus,
    queues,
    nic: legacy ? 'legacy' : 'ixgbe',
    'irq-affinity': Array.from({ length: queues }, () => p.nextInt(cpus)).join(','),
    'ring-size': 8 * between(8, 128),
    'netdev-budget': between(8, 600),
    'netdev-budget-usecs': between(100, 4000),
    'dev-weight': between(4, 128),
    'netdev-max-backlog': between(16, 2000),
    gro: pick(['on', 'off']),
    proto: pick(['udp', 'tcp', 'mix']),
    flows: between(1, 300),
    'flow-dist': pick(['uniform', 'zipf']),
    rate: p.nextFloat() < 0.4 ? 'max' : between(100_000, 2_000_000),
    packets: between(20_000, 60_000),
    'stack-cost-ns': pick([0, 0, 200, 1000, 2000]),
    'rx-usecs': pick([0, 0, 20, 100]),
    'app-cpus': Array.from({ length: between(1, cpus) }, () => p.nextInt(cpus)).join(','),
    'migrate-every-ms': pick([0, 0, 2, 5]),
    'sk-rcvbuf': pick([4096, 65536, 212992]),
    'cacheline-pad': pick(['on', 'off']),
    hz: pick([100, 250, 1000]),
    'watchdog-s': 15,
  };
  if (p.nextFloat() < 0.6) f['rps-cpus'] = mask(cpus);
  if (p.nextFloat() < 0.3) {
    f['rps-flow-cnt'] = pick([64, 256, 1024]);
    f['rps-sock-flow-entries'] = 1024;
  }
  if (p.nextFloat() < 0.3) f['flow-limit-cpu-bitmap'] = mask(cpus);
  if (p.nextFloat() < 0.2) f['bad-csum-rate'] = 0.01;
  return f;
}

const reproduce = (f: Flags) => 'rxsmp run ' + Object.entries(f).map(([k, v]) => `--${k} ${v}`).join(' ');
const RUNS = Number(process.env.RXSMP_STRESS_RUNS ?? 24);

describe('stress: random configurations', () => {
  for (let i = 0; i < RUNS; i++) {
    const flags = randomFlags(0x5eed + i);
    it(reproduce(flags), async () => {
      const r = await run(flags); // throws unless generated == delivered + every drop
      expect(r.packets.generated).toBe(flags.packets);
      expect(r.skb_pool.unaccounted).toBe(0); // no skb leaked or freed twice
      if (!('rps-flow-cnt' in flags)) expect(r.ordering.out_of_order).toBe(0);
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
    const text = hangReport(shm, 100, 40, 5);
    expect(text).toMatch(/generated 100, accounted 40, 60 in flight/);
    expect(text).toMatch(/skb pool free \d+ of \d+/);
  });
});
