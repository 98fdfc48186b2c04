// The watchdog counts from the moment traffic starts, and a paced wire waiting for its next
// send time is not a hang; a real hang (packets in flight, none moving) still fails the run
// with a report naming every CPU's state.
import { describe, expect, it } from 'vitest';
import { runEmulation, WatchdogError } from '../dist/src/engine/run.js';
import { runSim } from '../dist/src/engine/sim_run.js';
import { allowedCores } from '../dist/src/host/host.js';
import { config } from './harness.js';
import { run } from './e2e.js';

describe('watchdog', () => {
  it('does not fire while the workers start: 4 CPUs and the device on one host core, --watchdog-s 1', async () => {
    // Five threads loading their modules on one core take a second or more on a busy host;
    // the watchdog must not count that time (it used to: "no packet moved for 1 s").
    const core = allowedCores()[0] ?? 0;
    const r = await run({ cpus: 4, queues: 1, 'host-cpus': Array(5).fill(core).join(','), 'watchdog-s': 1, packets: 2000 });
    expect(r.packets.generated).toBe(2000);
  });

  it('does not fire at --rate 1 --packets 3 --watchdog-s 1: a wire waiting for its next send time is progress', async () => {
    const r = await run({ rate: 1, packets: 3, 'watchdog-s': 1 });
    expect(r.packets.generated).toBe(3);
    expect(r.packets.delivered).toBe(3);
    expect(r.elapsed_s).toBeGreaterThanOrEqual(2); // three packets one second apart
  });

  it('sim: does not fire at --rate 1 --packets 3 --watchdog-s 1 either (virtual time)', async () => {
    const r = await runSim(config({ mode: 'sim', rate: 1, packets: 3, 'watchdog-s': 1 }));
    expect(r.packets.delivered).toBe(3);
  });

  it('still fires on a real hang, naming every CPU and its state', async () => {
    // CPU 1's rps_lock is taken and never released: CPU 0 spins in enqueue_to_backlog forever.
    let held = false;
    const err = await runEmulation(config({ cpus: 2, queues: 1, 'rps-cpus': 2, packets: 1_000_000, 'watchdog-s': 1 }), {
      onTick: (shm) => {
        if (held) return;
        held = true;
        Atomics.store(shm.i32, shm.sd[1] + shm.layout.SD.rps_lock, 2);
      },
    }).then(
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
});
