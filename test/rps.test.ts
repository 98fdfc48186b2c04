// RPS, RFS, flow limit and ordering, in real emulations (worker threads). Only what the
// host's speed cannot change is asserted here (docs/testing.md); how many flows move, how
// many packets a flow limit drops, which CPU works before a knob changes are sim mode's
// figures (test/sim.test.ts, "sim mode: the figures behind the threads tests").

import { describe, expect, it } from 'vitest';
import { FLOW_LIMIT, RFS_ON_MIDRUN, RPS_ON_MIDRUN, TCP_WINDOW, rfsMigration } from '../dist/bench/scenarios.js';
import { cli, expectIpisReceived, expectOrderingReport, expectVectorsTaken, run, sum } from './e2e.js';
import type { RunResult } from '../dist/src/engine/result.js';

describe('RPS', () => {
  it('1 queue steered to CPU 1: CPU 0 takes the interrupts and sends IPIs, CPU 1 processes everything', () => {
    const r = cli(['run', '--cpus', '2', '--queues', '1', '--rps-cpus', '2', '--packets', '2000000', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as RunResult;
    expect(doc.packets.delivered + sum(Object.values(doc.packets.dropped))).toBe(doc.packets.generated);
    expect(doc.queues[0].cpu).toBe(0);
    expect(doc.percpu[0].hardirqs).toBeGreaterThan(0);
    expect(doc.percpu[1].hardirqs).toBe(0);
    expect(doc.percpu[0].ipis_sent).toBeGreaterThan(0);
    expect(doc.percpu[1].ipis_received).toBe(doc.percpu[0].ipis_sent);
    expect(doc.percpu[1].received_rps).toBeGreaterThan(0);
    // Every packet is steered to CPU 1 and processed there, unless its backlog was full.
    expect(doc.percpu[0].processed).toBe(0);
    expect(doc.percpu[1].processed).toBe(doc.packets.generated - doc.packets.dropped.backlog);
    expectVectorsTaken(doc);
    expect(doc.percpu[0].enqueue_remote).toBeGreaterThan(0);
    expect(doc.percpu[1].rps_lock_acquisitions).toBeGreaterThan(0);
    expect(doc.ordering.out_of_order).toBe(0);
    // ixgbe hashes UDP by addresses only (no L4 hash), so skb_get_hash dissects every skb,
    // once, on the CPU that steers it; the target reuses the software hash in the skb.
    expect(doc.percpu[0].flow_dissected).toBe(doc.packets.generated);
    expect(doc.percpu[1].flow_dissected).toBe(0);
  });

  it('with rps_cpus 0 nothing is steered', async () => {
    const r = await run({ cpus: 2, queues: 1, 'rps-cpus': 0, packets: 200_000 });
    expect(r.percpu.map((p) => p.received_rps)).toEqual([0, 0]);
    expect(r.percpu.map((p) => p.ipis_sent)).toEqual([0, 0]);
    expect(r.percpu[0].processed).toBe(r.packets.generated); // all of it, on the IRQ CPU (some may then overflow a socket)
    expect(r.percpu.map((p) => p.flow_dissected)).toEqual([0, 0]); // nobody asked for the hash
  });

  it('with the NIC hashing UDP ports (rx-flow-hash udp4 sdfn) steers by its L4 hash: the flow dissector never runs', async () => {
    const r = await run({ cpus: 2, queues: 1, 'rps-cpus': 2, 'rss-udp4': 'sdfn', packets: 100_000 });
    expect(r.percpu[1].received_rps).toBeGreaterThan(0);
    expect(r.percpu[1].processed).toBeGreaterThan(0);
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
  // (as on Linux); open loop below capacity lets backlogs drain between migrations. How often
  // flows move, and whether the unsafe knob catches a packet overtaking, is the host's timing
  // here; sim mode asserts both on these same runs (1,072 moves; 281 out of order).
  const rfs = (unsafe: boolean, rate: string | number) => run(rfsMigration(unsafe, rate));

  it('never delivers out of order while flows follow migrating applications', async () => {
    const r = await rfs(false, 150_000);
    // 60,000 packets at 150 kpps take at least 400 ms: the 3 ms schedule migrates every task.
    expect(r.tasks.every((t) => t.migrations > 0)).toBe(true);
    expect(r.ordering.out_of_order).toBe(0);
    expect(r.ordering.first).toBeNull();
    // Only RFS moves a flow here (one queue, no RPS map): a flow that changed CPU was moved by it.
    if (r.ordering.flows_moved_cpu > 0) expect(sum(r.percpu.map((p) => p.rfs_flow_moves))).toBeGreaterThan(0);
    expect(r.ordering.flows_moved_cpu).toBeLessThanOrEqual(8);
  });

  it('with the unsafe knob (no last_qtail check) flows follow their application at once; any disorder is reported with its first offender', async () => {
    const r = await rfs(true, 'max');
    // 150,000 packets at 3 µs each take far longer than the 3 ms schedule: every task moved,
    // and without the check RFS moves a flow at its next packet after its reader did.
    expect(r.tasks.every((t) => t.migrations > 0)).toBe(true);
    expect(sum(r.percpu.map((p) => p.rfs_flow_moves))).toBeGreaterThan(0);
    expect(r.ordering.flows_moved_cpu).toBeGreaterThan(0);
    // Whether a packet overtook is the host's timing (sim.test.ts asserts it in virtual time).
    expectOrderingReport(r, 8);
  });
});

describe('RSS indirection table changed under traffic', () => {
  it('moves flows between queues mid-run; the run conserves and shows any disorder it caused', async () => {
    const r = await run({ cpus: 2, queues: 2, flows: 64, 'reta-change-at-ms': 30, 'stack-cost-ns': 2000, packets: 200_000, 'rx-usecs': 0 });
    expect(r.queues.every((q) => q.rx_packets > 0)).toBe(true);
    expect(r.ordering.flows_moved_cpu).toBeGreaterThan(0);
    // Disorder is possible here, as on real hardware; whatever happened is reported consistently.
    expectOrderingReport(r, 64);
  });
});

describe('flow limit', () => {
  it('counts flow-limit drops on the enqueuing CPU only: once in the run, twice in softnet_stat', async () => {
    const r = await run(FLOW_LIMIT);
    // Whether CPU 1's backlog reaches half of netdev_max_backlog, and so how many packets the
    // limit drops, is the host's timing (sim: 57,659, all of flow 0). Wherever it drops, only
    // CPU 0 (the bitmap) does, and each drop is counted as the kernel counts it.
    expect(r.percpu[1].flow_limit_count).toBe(0);
    expect(r.packets.dropped.flow_limit).toBe(r.percpu[0].flow_limit_count);
    // softnet_stat counts a flow-limit drop twice (flow_limit_count and the target's dropped);
    // the run contract counts each packet once.
    expect(r.percpu[1].dropped).toBe(r.packets.dropped.flow_limit + r.packets.dropped.backlog);
    expect(sum(r.flow_limit_top.map((t) => t.drops))).toBeLessThanOrEqual(r.packets.dropped.flow_limit);
    if (r.packets.dropped.flow_limit > 0) expect(r.flow_limit_top[0].drops).toBeGreaterThan(0);
  });
});

describe('TCP receive windows', () => {
  it('16 TCP flows steered to 4 CPUs deliver at least 99%: senders wait on closed windows, sockets do not drop', async () => {
    // Independent of host speed: a sender never has more segments out than its socket's
    // buffer holds (tcp_rmem[1] / truesize = 56), so a socket cannot overflow however slow its
    // reader, nor a backlog (16 x 56 < netdev_max_backlog), and the closed loop waits for
    // descriptors instead of missing. How often a window closes is the host's timing.
    const r = await run(TCP_WINDOW);
    expect(r.packets.generated).toBe(200_000);
    expect(r.packets.delivered).toBeGreaterThanOrEqual(0.99 * r.packets.generated);
    expect(r.ordering.out_of_order).toBe(0);
  });
});

describe('knobs changed while traffic flows', () => {
  it('turns RPS on mid-run: every packet processed once, on CPU 0 or CPU 1; IPIs only from CPU 0 to CPU 1', async () => {
    // Which packets fall before the change is the host's timing (sim: 14,999 on CPU 0, then
    // 25,001 on CPU 1, in order); that every packet is processed once, on one of the two, is
    // not. A map that changes while CPU 0 is inside a batch can reorder that batch's flows,
    // on Linux too (packets not steered are delivered after the steered ones): the report
    // says so consistently.
    const r = await run(RPS_ON_MIDRUN);
    expect(r.knobs_applied.map((k) => k.key)).toEqual(['rps_cpus']);
    const received = r.packets.generated - r.packets.dropped.rx_missed;
    expect(r.percpu[0].processed + r.percpu[1].processed + r.packets.dropped.backlog).toBe(received);
    expect(r.percpu[0].received_rps).toBe(0);
    expect(r.percpu[1].ipis_sent).toBe(0);
    expect(r.percpu[0].ipis_sent).toBe(r.percpu[1].received_rps);
    expectIpisReceived(r);
    expectOrderingReport(r, Number(r.config.flows));
  });

  it('enables RFS tables mid-run: the tables apply; only the IRQ CPU moves flows', async () => {
    const r = await run(RFS_ON_MIDRUN);
    // How much each CPU processes before and after is the host's timing (sim: 22,858 skbs on
    // CPU 0 and 30,767 on CPU 1, all 8 flows moved, in order); the tables apply, and only
    // CPU 0 (the IRQ CPU, where get_rps_cpu runs) moves flows.
    expect(r.knobs_applied.map((k) => k.key)).toEqual(['rps_flow_cnt', 'rps_sock_flow_entries']);
    expect(r.percpu[1].rfs_flow_moves).toBe(0);
    expect(r.percpu[0].processed + r.percpu[1].processed).toBeGreaterThan(0);
    if (r.ordering.flows_moved_cpu > 0) expect(r.percpu[0].rfs_flow_moves).toBeGreaterThan(0);
    expectOrderingReport(r, 8);
  });

  it('applies sysctl changes in time order and reports when', async () => {
    const r = await run({
      cpus: 2,
      queues: 1,
      'rps-cpus': 2,
      rate: 100_000,
      packets: 30_000,
      'knob-at': '120:dev-weight=17;60:netdev-max-backlog=300',
    });
    expect(r.knobs_applied.map((k) => [k.key, k.value])).toEqual([
      ['netdev_max_backlog', 300],
      ['dev_weight', 17],
    ]);
    expect(r.knobs_applied[0].applied_at_ms).toBeGreaterThanOrEqual(60);
    expect(r.knobs_applied[1].applied_at_ms).toBeGreaterThanOrEqual(120);
    // That the kernel reads them at each use is the kernel test 'sysctls read at each use'.
  });

  it('rejects a change the machine cannot take, before starting', () => {
    const r = cli(['run', '--cpus', '2', '--knob-at', '10:rps-cpus=4']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--knob-at 10:rps-cpus=4: --rps-cpus: mask 4 names CPU 2/);
  });
});
