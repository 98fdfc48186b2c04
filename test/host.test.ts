// host.disturbed: the host took a worker thread off its core long enough to explain drops
// or a rate. The measure: each emulated CPU's (and the device's) run-queue wait over its
// loop (/proc/thread-self/schedstat), against DISTURBED_WAIT_SHARE.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { allowedCores } from '../dist/src/host/host.js';
import { disturbance, DISTURBED_WAIT_SHARE } from '../dist/src/engine/result.js';
import { runSim } from '../dist/src/engine/sim_run.js';
import { humanSummary } from '../dist/src/report/human.js';
import { config } from './harness.js';
import { run } from './e2e.js';

const schedstat = existsSync('/proc/thread-self/schedstat');

describe('host.disturbed', () => {
  it.skipIf(!schedstat)('is set when two emulated CPUs and the device share one host core (--host-cpus C,C,C)', async () => {
    const c = allowedCores()[0] ?? 0;
    // Closed loop at 64 B: the CPUs and the wire all want the core the whole run.
    const r = await run({ cpus: 2, queues: 2, 'host-cpus': `${c},${c},${c}`, packets: 300_000 });
    expect(r.host.disturbed).toBe(true);
    const worst = r.host.disturbance.worst!;
    expect(worst.thread).toMatch(/^(cpu\d|device)$/);
    expect(worst.share).toBeGreaterThanOrEqual(DISTURBED_WAIT_SHARE);
    expect(humanSummary(r)).toMatch(/host: DISTURBED: (cpu\d|device)'s thread waited for a host core \d+% of the run \(threshold 10%\)/);
  });

  it('always carries its measure, and disturbed says whether the worst share reached the threshold', async () => {
    const r = await run({ packets: 100_000 });
    const d = r.host.disturbance;
    expect(d.measure).toBe('runqueue_wait_share');
    expect(d.threshold).toBe(DISTURBED_WAIT_SHARE);
    if (schedstat) {
      for (const t of r.host.threads) expect(t.runqueue_wait_s, t.thread).not.toBeNull();
      // The worst is the worker thread (not the coordinator) that waited the largest share of its
      // own loop, as the threads' figures in the same document say; a wait is part of the wall time.
      const workers = r.host.threads.filter((t) => t.thread !== 'coordinator');
      // (The device is a thread of its own unless it ran inline, on a host with fewer than 3 cores.)
      expect(workers.map((t) => t.thread).sort()).toEqual(r.host.device === 'inline' ? ['cpu0', 'cpu1'] : ['cpu0', 'cpu1', 'device']);
      const shares = workers.map((t) => Math.round((t.runqueue_wait_s! / t.wall_s) * 1000) / 1000);
      expect(d.worst!.share).toBe(Math.max(...shares));
      expect(
        workers[shares.indexOf(d.worst!.share)].thread === d.worst!.thread || shares.filter((x) => x === d.worst!.share).length > 1,
      ).toBe(true);
      for (const t of workers) expect(t.runqueue_wait_s!, t.thread).toBeLessThanOrEqual(t.wall_s * 1.01);
    }
    expect(r.host.disturbed).toBe(d.worst !== null && d.worst.share >= d.threshold);
  });

  it('sim mode is never disturbed (virtual time)', async () => {
    const r = await runSim(config({ mode: 'sim', packets: 1000 }));
    expect(r.host.disturbed).toBe(false);
    expect(r.host.disturbance.worst).toBeNull();
  });

  it('takes the worst worker thread, leaving out the coordinator and threads without the figure', () => {
    const t = (thread: string, wait: number | null, wall: number) => ({
      thread,
      cpu_s: 0,
      voluntary_switches: 0,
      involuntary_switches: 0,
      cpus_allowed: '0',
      wall_s: wall,
      runqueue_wait_s: wait,
    });
    const d = disturbance([t('cpu0', 0.05, 1), t('cpu1', 0.3, 2), t('device', null, 1), t('coordinator', 0.9, 1)]);
    expect(d.worst).toEqual({ thread: 'cpu1', share: 0.15 });
    expect(disturbance([t('coordinator', 0.9, 1)]).worst).toBeNull();
  });
});
