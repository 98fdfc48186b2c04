// RPS, RFS, flow limit and ordering, in real emulations (worker threads).

import { describe, expect, it } from 'vitest';
import { cli, run, sum } from './e2e.js';
import type { RunResult } from '../dist/src/engine/result.js';

describe('RPS', () => {
  it('1 queue steered to CPU 1: CPU 0 takes the interrupts and sends IPIs, CPU 1 processes everything', () => {
    const r = cli(['run', '--cpus', '2', '--queues', '1', '--rps-cpus', '2', '--packets', '2000000', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as RunResult;
    expect(doc.packets.delivered + sum(Object.values(doc.packets.dropped))).toBe(doc.packets.generated);
    expect(doc.queues[0]!.cpu).toBe(0);
    expect(doc.percpu[0]!.hardirqs).toBeGreaterThan(0);
    expect(doc.percpu[1]!.hardirqs).toBe(0);
    expect(doc.percpu[0]!.ipis_sent).toBeGreaterThan(0);
    expect(doc.percpu[1]!.ipis_received).toBe(doc.percpu[0]!.ipis_sent);
    expect(doc.percpu[1]!.received_rps).toBeGreaterThan(0);
    expect(doc.percpu[1]!.processed).toBeGreaterThanOrEqual(0.99 * doc.packets.delivered);
    expect(doc.percpu[0]!.enqueue_remote).toBeGreaterThan(0);
    expect(doc.percpu[1]!.rps_lock_acquisitions).toBeGreaterThan(0);
    expect(doc.ordering.out_of_order).toBe(0);
    // ixgbe hashes UDP by addresses only (no L4 hash), so skb_get_hash dissects every skb,
    // once, on the CPU that steers it; the target reuses the software hash in the skb.
    expect(doc.percpu[0]!.flow_dissected).toBe(doc.packets.generated);
    expect(doc.percpu[1]!.flow_dissected).toBe(0);
  });

  it('with rps_cpus 0 nothing is steered', async () => {
    const r = await run({ cpus: 2, queues: 1, 'rps-cpus': 0, packets: 200_000 });
    expect(r.percpu.map((p) => p.received_rps)).toEqual([0, 0]);
    expect(r.percpu.map((p) => p.ipis_sent)).toEqual([0, 0]);
    expect(r.percpu[0]!.processed).toBe(r.packets.generated); // all of it, on the IRQ CPU (some may then overflow a socket)
    expect(r.percpu.map((p) => p.flow_dissected)).toEqual([0, 0]); // nobody asked for the hash
  });

  it('with the NIC hashing UDP ports (rx-flow-hash udp4 sdfn) steers by its L4 hash: the flow dissector never runs', async () => {
    const r = await run({ cpus: 2, queues: 1, 'rps-cpus': 2, 'rss-udp4': 'sdfn', packets: 100_000 });
    expect(r.percpu[1]!.received_rps).toBeGreaterThan(0);
    expect(r.percpu[1]!.processed).toBeGreaterThan(0);
    expect(r.percpu.map((p) => p.flow_dissected)).toEqual([0, 0]);
  });

  it('keeps every flow in order when spreading many flows over CPUs (legacy netif_rx driver too)', async () => {
    for (const nic of ['ixgbe', 'legacy']) {
      const r = await run({ cpus: 3, queues: 1, nic, 'rps-cpus': 7, flows: 512, proto: 'mix', packets: 300_000 });
      expect(r.ordering.out_of_order, nic).toBe(0);
      expect(r.percpu.filter((p) => p.processed > 0).length, nic).toBe(3);
    }
  });
});

describe('RFS under application migration', () => {
  // Closed loop (rate max) keeps both backlogs full, so the safe rule rarely lets a flow move
  // (as on Linux); open loop below capacity lets backlogs drain between migrations.
  const rfs = (unsafe: boolean, rate: string | number) =>
    run({
      cpus: 2,
      queues: 1,
      proto: 'tcp',
      flows: 8,
      'rps-flow-cnt': 256,
      'rps-sock-flow-entries': 4096,
      'app-cpus': '0,1',
      'app-placement': 'spread', // flows on both tasks, so every migration moves some
      gro: 'off', // every packet an skb with its stack cost: backlogs long enough to overtake
      'migrate-every-ms': 3,
      'stack-cost-ns': 3000,
      'unsafe-rfs-no-qtail-check': unsafe ? 'on' : 'off',
      rate,
      packets: rate === 'max' ? 150_000 : 60_000,
      seed: 7,
    });

  it('moves flows with their application and never delivers out of order', async () => {
    const r = await rfs(false, 150_000);
    expect(r.tasks.every((t) => t.migrations > 2)).toBe(true);
    // Each of the 8 flows is placed once, then follows its application again and again.
    expect(sum(r.percpu.map((p) => p.rfs_flow_moves))).toBeGreaterThan(3 * 8);
    expect(r.ordering.flows_moved_cpu).toBeGreaterThan(0);
    expect(r.ordering.out_of_order).toBe(0);
  });

  it('with the unsafe knob (no last_qtail check) reports out-of-order deliveries and the first offender', async () => {
    const r = await rfs(true, 'max');
    expect(r.ordering.out_of_order).toBeGreaterThan(0);
    const first = r.ordering.first!;
    expect(first).not.toBeNull();
    expect(first.got_index).toBeLessThan(first.expected_index);
    expect(first.flow).toBeGreaterThanOrEqual(0);
    expect(first.flow).toBeLessThan(8);
  });
});

describe('RSS indirection table changed under traffic', () => {
  it('moves flows between queues mid-run; the run conserves and shows any disorder it caused', async () => {
    const r = await run({ cpus: 2, queues: 2, flows: 64, 'reta-change-at-ms': 30, 'stack-cost-ns': 2000, packets: 200_000, 'rx-usecs': 0 });
    expect(r.queues.every((q) => q.rx_packets > 0)).toBe(true);
    expect(r.ordering.flows_moved_cpu).toBeGreaterThan(0);
    // Disorder is possible here, as on real hardware; whatever happened is reported consistently.
    expect(r.ordering.out_of_order === 0).toBe(r.ordering.first === null);
  });
});

describe('flow limit', () => {
  it('drops an elephant flow on the enqueuing CPU before the backlog overflows for everyone', async () => {
    const r = await run({
      cpus: 2,
      queues: 1,
      'rps-cpus': 2,
      'flow-dist': 'zipf',
      'zipf-s': 2,
      flows: 1000,
      'flow-limit-cpu-bitmap': 1,
      'stack-cost-ns': 1000,
      packets: 200_000,
    });
    expect(r.percpu[0]!.flow_limit_count).toBeGreaterThan(0);
    expect(r.packets.dropped.flow_limit).toBe(r.percpu[0]!.flow_limit_count);
    // softnet_stat counts a flow-limit drop twice (flow_limit_count and the target's dropped);
    // the run contract counts each packet once.
    expect(r.percpu[1]!.dropped).toBe(r.packets.dropped.flow_limit + r.packets.dropped.backlog);
    const top = r.flow_limit_top[0]!;
    expect(top.flow).toBe(0); // the most popular flow under zipf
    expect(top.drops).toBeGreaterThan(0.9 * r.packets.dropped.flow_limit);
  });
});

describe('knobs changed while traffic flows', () => {
  it('turns RPS on mid-run: CPU 0 processes before, CPU 1 after, in order', async () => {
    const r = await run({ cpus: 2, queues: 1, rate: 100_000, packets: 40_000, 'knob-at': '150:rps-cpus=2' });
    expect(r.percpu[0]!.processed).toBeGreaterThan(0); // the first 150 ms
    expect(r.percpu[1]!.processed).toBeGreaterThan(0); // the rest
    const received = r.packets.generated - r.packets.dropped.rx_missed;
    expect(r.percpu[0]!.processed + r.percpu[1]!.processed + r.packets.dropped.backlog).toBe(received);
    expect(r.percpu[1]!.received_rps).toBeGreaterThan(0);
    expect(r.percpu[0]!.ipis_sent).toBe(r.percpu[1]!.received_rps);
    expect(r.ordering.out_of_order).toBe(0);
  });

  it('enables RFS tables mid-run: flows start following their application', async () => {
    const r = await run({
      cpus: 2,
      queues: 1,
      proto: 'tcp',
      flows: 8,
      'app-cpus': 1,
      rate: 300_000,
      packets: 60_000,
      'knob-at': '80:rps-flow-cnt=256;80:rps-sock-flow-entries=4096',
    });
    expect(r.percpu[0]!.processed).toBeGreaterThan(0);
    expect(r.percpu[0]!.rfs_flow_moves).toBeGreaterThan(0);
    expect(r.percpu[1]!.processed).toBeGreaterThan(0); // steered to the application's CPU
  });

  it('applies sysctl changes in time order and reports when', async () => {
    const r = await run({ cpus: 2, queues: 1, 'rps-cpus': 2, rate: 100_000, packets: 30_000, 'knob-at': '120:dev-weight=17;60:netdev-max-backlog=300' });
    expect(r.knobs_applied.map((k) => [k.key, k.value])).toEqual([
      ['netdev_max_backlog', 300],
      ['dev_weight', 17],
    ]);
    expect(r.knobs_applied[0]!.applied_at_ms).toBeGreaterThanOrEqual(60);
    expect(r.knobs_applied[1]!.applied_at_ms).toBeGreaterThanOrEqual(120);
    // That the kernel reads them at each use is the kernel test 'sysctls read at each use'.
  });

  it('rejects a change the machine cannot take, before starting', () => {
    const r = cli(['run', '--cpus', '2', '--knob-at', '10:rps-cpus=4']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--knob-at 10:rps-cpus=4: --rps-cpus: mask 4 names CPU 2/);
  });
});
