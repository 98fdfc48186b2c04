// Interrupt moderation (ixgbe's adaptive ITR) and the CFS scheduler, in sim mode (exact,
// virtual figures). Issue 13, part B.

import { describe, expect, it } from 'vitest';
import { config } from './harness.js';
import { cli } from './e2e.js';
import { simulate, type SimRunResult } from '../dist/src/engine/sim_run.js';
import { conserves } from '../dist/src/engine/result.js';
import { boot } from '../dist/src/engine/boot.js';
import {
  CfsRq,
  PICK_KSOFTIRQD,
  SCHED_LATENCY_NS,
  SCHED_MIN_GRANULARITY_NS,
  SCHED_WAKEUP_GRANULARITY_NS,
  sched_tunable_factor,
} from '../dist/src/cpu/sched.js';

type Flags = Record<string, string | number>;
const sim = (flags: Flags): SimRunResult => simulate(config({ mode: 'sim', ...flags })).result;
const irqsPerPacket = (r: SimRunResult) => r.queues.reduce((a, q) => a + q.interrupts, 0) / r.packets.generated;

describe('ixgbe interrupt moderation (ixgbe_update_itr / ixgbe_set_itr, 5.10)', () => {
  const AT_100K: Flags = { cpus: 1, queues: 1, rate: 100_000, packets: 20_000 };

  it('rx-usecs 0: an interrupt per packet at 100 kpps; a fixed 20 µs EITR: one per two packets', () => {
    const off = sim({ ...AT_100K, 'rx-usecs': 0 });
    expect(irqsPerPacket(off)).toBeGreaterThanOrEqual(0.9);
    const fixed = sim({ ...AT_100K, 'rx-usecs': 20 });
    expect(fixed.queues[0].interrupts).toBe(10_001);
  });

  it('adaptive by default: bulk classes hold interrupts under 0.5 per packet below saturation', () => {
    // 1500-byte frames at 100 kpps: 4..48 packets per interrupt, so ixgbe_update_itr adds
    // 2 µs per update up to IXGBE_ITR_ADAPTIVE_MAX_USECS (126 µs).
    const big = sim({ ...AT_100K, 'pkt-size': 1500 });
    expect(conserves(big)).toBe(true);
    expect(irqsPerPacket(big)).toBeLessThanOrEqual(0.5);
    expect(big.queues[0].interrupts).toBe(1551);
    // 1 Mpps of 64-byte frames: the same climb.
    const fast = sim({ cpus: 1, queues: 1, rate: 1_000_000, packets: 200_000 });
    expect(irqsPerPacket(fast)).toBeLessThanOrEqual(0.05);
    const fastOff = sim({ cpus: 1, queues: 1, rate: 1_000_000, packets: 200_000, 'rx-usecs': 0 });
    expect(irqsPerPacket(fastOff)).toBeGreaterThan(4 * irqsPerPacket(fast));
  });

  it('adaptive, 64-byte frames at 100 kpps: the latency class (under 4 packets, 10 µs) keeps one interrupt per packet', () => {
    // avg_wire_size <= 60 → 5120, halved in latency mode → 10 µs: the packets' own spacing.
    const r = sim(AT_100K);
    expect(irqsPerPacket(r)).toBe(1);
  });

  it('adjust_by_size counts the Ethernet header (ixgbe_clean_rx_irq adds skb->len before eth_type_trans): 128-byte frames settle at 30 µs', () => {
    // 3 Mpps of 128-byte frames: 256+ packets per completion, the bulk class. avg_wire_size
    // 124 → 124 × 40 + 2720 = 7680 → DIV_ROUND_UP(7680, 512) × 2 = 30 µs (without the header,
    // 110 bytes: 28). A bulk RX value (no LATENCY bit) always beats the TX container's in min().
    const r = sim({ cpus: 1, queues: 1, rate: 3_000_000, 'pkt-size': 128, packets: 200_000 });
    expect(conserves(r)).toBe(true);
    expect(r.queues[0].eitr_usecs).toBe(30);
  });

  it('ixgbe_set_itr takes min() with the idle TX container: in latency mode the interval climbs 2 µs per update', () => {
    // One 1518-byte frame per interrupt: RX asks for 60 µs | LATENCY; the TX ring's container
    // (no packets) offers (q_vector->itr >> 2) + 2 | LATENCY, which wins while it is lower:
    // from the initial 20K_ITR (50 µs), 52, 54, 56, 58, then RX's 60.
    const eitr = (packets: number) => sim({ cpus: 1, queues: 1, rate: 10_000, 'pkt-size': 1518, packets }).queues[0].eitr_usecs;
    expect([1, 2, 3, 4, 5, 8].map(eitr)).toEqual([52, 54, 56, 58, 60, 60]);
  });

  it('--rx-usecs with a NIC that has no ITR is a one-line error (exit 2)', () => {
    for (const nic of ['legacy', 'virtio']) {
      const p = cli(['run', '--nic', nic, '--rx-usecs', '20']);
      expect(p.status).toBe(2);
      expect(p.stderr).toMatch(/^rxsmp: --rx-usecs: /);
      expect(p.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('CFS for ksoftirqd and the application (check_preempt_wakeup, check_preempt_tick)', () => {
  // CPU 1 takes every packet by RPS and runs the reading task, which works 2 µs per packet:
  // ksoftirqd and the task, both nice 0, compete for it.
  const SHARED: Flags = {
    cpus: 2,
    queues: 1,
    'rps-cpus': 2,
    'app-cpus': 1,
    'app-cost-ns': 2000,
    'stack-cost-ns': 2000,
    packets: 200_000,
  };

  it('ksoftirqd and the reading task each get half of the CPU they compete for, within 10%', () => {
    const r = sim(SHARED);
    expect(conserves(r)).toBe(true);
    const b = r.percpu[1].busy;
    const share = b.ksoftirqd_ns / (b.ksoftirqd_ns + b.task_ns);
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
    // Softirqs run from irq_exit are counted apart from ksoftirqd's.
    expect(b.softirq_ns).toBeGreaterThan(0);
    expect(r.percpu[1].ksoftirqd_wakeups).toBeGreaterThan(0);
  });

  it('on 2 CPUs the tunables are twice the 1-CPU values (update_sysctl), and the share still holds', () => {
    const { result, machine } = simulate(config({ mode: 'sim', ...SHARED }));
    expect(machine.rq.sched_latency_ns).toBe(2 * SCHED_LATENCY_NS);
    expect(machine.rq.sched_min_granularity_ns).toBe(2 * SCHED_MIN_GRANULARITY_NS);
    expect(machine.rq.sched_wakeup_granularity_ns).toBe(2 * SCHED_WAKEUP_GRANULARITY_NS);
    const b = result.percpu[1].busy;
    expect(Math.abs(b.ksoftirqd_ns / (b.ksoftirqd_ns + b.task_ns) - 0.5)).toBeLessThan(0.05);
  });

  it('app-cost-ns is the task’s own time: more work per packet, more task time', () => {
    const cheap = sim({ ...SHARED, 'app-cost-ns': 0 });
    const dear = sim(SHARED);
    expect(dear.percpu[1].busy.task_ns).toBeGreaterThan(5 * cheap.percpu[1].busy.task_ns);
  });
});

describe('net.core.dev_weight_rx_bias (proc_do_dev_weight, process_backlog)', () => {
  it('the backlog napi polls with dev_weight × dev_weight_rx_bias', () => {
    const flags = { cpus: 2, queues: 1, 'rps-cpus': 2, 'dev-weight': 16, packets: 20_000 };
    const plain = simulate(config({ mode: 'sim', ...flags }));
    const biased = simulate(config({ mode: 'sim', ...flags, 'dev-weight-rx-bias': 4 }));
    const L = biased.shm.layout;
    expect(biased.shm.i32[biased.shm.ctlI + L.CTL.dev_rx_weight]).toBe(64);
    expect(biased.shm.i32[biased.shm.napiI[1] + L.NAPI.weight]).toBe(64);
    expect(plain.shm.i32[plain.shm.napiI[1] + L.NAPI.weight]).toBe(16);
    // Four times the weight: fewer polls of CPU 1's backlog for the same packets.
    const polls = (r: typeof plain) => r.shm.f64[r.shm.napiF[1] + L.NAPI.polls];
    expect(polls(biased)).toBeLessThan(polls(plain));
  });
});

describe('napi_defer_hard_irqs and gro_flush_timeout (napi_complete_done, napi_watchdog, 5.10)', () => {
  const TCP: Flags = { cpus: 1, queues: 1, rate: 300_000, packets: 30_000, proto: 'tcp', flows: 4, 'rx-usecs': 0 };
  const fires = (r: ReturnType<typeof simulate>) => r.shm.f64[r.shm.napiF[1] + r.shm.layout.NAPI.watchdog_fires];

  it('deferral keeps the interrupt off while the timer’s polls find work', () => {
    // UDP: TCP senders stall on closed receive windows, and a timer poll in such a gap finds
    // no work and gives the interrupt back (101 interrupts for 400 stalls with TCP).
    const UDP = { ...TCP, proto: 'udp' };
    const plain = simulate(config({ mode: 'sim', ...UDP }));
    const deferred = simulate(config({ mode: 'sim', ...UDP, 'gro-flush-timeout': 20_000, 'napi-defer-hard-irqs': 2 }));
    for (const r of [plain, deferred]) {
      expect(conserves(r.result)).toBe(true);
      expect(r.result.packets.delivered).toBe(30_000);
      expect(r.result.ordering.out_of_order).toBe(0);
    }
    expect(fires(plain)).toBe(0);
    expect(plain.result.queues[0].interrupts).toBeGreaterThan(1000);
    // Every timer poll does work, so the count is reloaded and the interrupt never comes back.
    expect(deferred.result.queues[0].interrupts).toBe(1);
    expect(fires(deferred)).toBeGreaterThan(1000);
  });

  it('gro_flush_timeout alone: the timer polls again after each completion that left GRO packets held, the interrupt stays on', () => {
    // 20 kpps: the 20 µs timer expires before the next packet re-arms it (each completion with
    // work and GRO packets held pushes its expiry on, so at high rates it never fires).
    const slow = { ...TCP, rate: 20_000, packets: 2000 };
    const r = simulate(config({ mode: 'sim', ...slow, 'gro-flush-timeout': 20_000 }));
    expect(conserves(r.result)).toBe(true);
    expect(r.result.packets.delivered).toBe(2000);
    expect(fires(r)).toBeGreaterThan(1000);
    expect(r.result.queues[0].interrupts).toBe(2000);
  });
});

describe('CFS tunables and min_vruntime (update_sysctl, update_curr → update_min_vruntime, place_entity)', () => {
  it('scales sched_latency, min and wakeup granularity by 1 + ilog2(min(CPUs, 8)): x2 on 2, x3 on 4, x4 from 8', () => {
    expect([1, 2, 3, 4, 7, 8, 16, 64].map(sched_tunable_factor)).toEqual([1, 2, 2, 3, 3, 4, 4, 4]);
    for (const [cpus, f] of [
      [1, 1],
      [4, 3],
      [16, 4],
    ] as const) {
      const rq = new CfsRq(boot(config({ cpus, queues: 1 })), cpus);
      expect([rq.sched_latency_ns, rq.sched_min_granularity_ns, rq.sched_wakeup_granularity_ns]).toEqual([
        f * SCHED_LATENCY_NS,
        f * SCHED_MIN_GRANULARITY_NS,
        f * SCHED_WAKEUP_GRANULARITY_NS,
      ]);
    }
  });

  it('min_vruntime follows a long-running entity at each update_curr: a task waking after 100 ms gets half a latency of credit', () => {
    // One CPU of a 2-CPU machine: ksoftirqd runs 100 ms alone, then the task pinned there wakes.
    const shm = boot(config({ cpus: 2, queues: 1, 'app-cpus': '0' }));
    const rq = new CfsRq(shm, 2);
    const T = shm.layout.TASK;
    shm.i32[shm.taskI[0] + T.cpu] = 0;
    rq.ksoftirqd[0] = 1;
    expect(rq.schedule(0, 0, 1, 0)).toBe(PICK_KSOFTIRQD);
    for (let ms = 1; ms <= 100; ms++) {
      rq.exec[0] = ms * 1e6; // ksoftirqd's exec clock
      rq.need_resched(0, 0, 1, 0); // the same jiffy: no tick check, only update_curr
    }
    expect(rq.min_vruntime[0]).toBe(100e6);
    // The task wakes (its socket has data): place_entity puts it at min_vruntime - latency / 2,
    // 6 ms behind ksoftirqd on 2 CPUs, more than the wakeup granularity (2 ms): it preempts.
    shm.i32[shm.taskI[0] + T.ready_head] = 0;
    expect(rq.need_resched(0, 0, 1, 0)).toBe(true);
    expect(rq.schedule(0, 0, 1, 0)).toBe(0);
    // The task has 6 ms of credit, not 100: after 6 ms (+ the granularity) ksoftirqd preempts it back.
    rq.exec[1] = 5e6;
    rq.resched[0] = 0;
    expect(rq.need_resched(0, 0, 1, 1)).toBe(false);
    rq.exec[1] = 12e6;
    expect(rq.need_resched(0, 0, 1, 2)).toBe(true);
  });
});
