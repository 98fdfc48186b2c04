// virtio-net end to end: the guest driver and QEMU's receive side over the split virtqueue,
// in threads mode (invariants only: conservation, order, where packets went) and in sim mode
// (deterministic: exact relations). Issue 11's "what it must show", items 1 to 4.

import { describe, expect, it } from 'vitest';
import { cli, run, sum } from './e2e.js';
import { config, Machine } from './harness.js';
import { runSim, simulate, SimStuckError } from '../dist/src/engine/sim_run.js';
import { collectResult, conserves, unread, type RunOutcome, type RunResult } from '../dist/src/engine/result.js';
import { boot } from '../dist/src/engine/boot.js';
import { VirtioNetBackend } from '../dist/src/devices/virtio_net_backend.js';

const NO_OUTCOME: RunOutcome = { elapsed_s: 1, latencies: [], hot_path: [], knobs_applied: [], host_threads: [] };

const sim = (flags: Record<string, string | number>): RunResult => {
  const r = simulate(config({ mode: 'sim', nic: 'virtio', ...flags })).result;
  expect(conserves(r)).toBe(true);
  expect(unread(r)).toBe(0);
  return r;
};
const irqs = (r: RunResult) => sum(r.queues.map((q) => q.interrupts));

describe('virtio: options', () => {
  it('defaults to one queue pair and a 256-entry ring, as QEMU', () => {
    const cfg = config({ nic: 'virtio' });
    expect(cfg.queues).toBe(1);
    expect(cfg.ring_size).toBe(256);
    expect(cfg.virtio_mrg_rxbuf).toBe(true);
    expect(cfg.virtio_event_idx).toBe(true);
  });
  it('rejects bad values with one line naming the option, before anything starts', () => {
    const bad = (args: string[], re: RegExp) => {
      const p = cli(['run', ...args]);
      expect(p.status).toBe(2);
      expect(p.stderr).toMatch(re);
      expect(p.stderr.trim().split('\n')).toHaveLength(1);
    };
    bad(
      ['--nic', 'virtio', '--ring-size', '128'],
      /--ring-size: 128 is not valid for --nic virtio; expected a power of two from 256 to 1024.*--unsafe-small-virtqueue/,
    );
    bad(['--nic', 'virtio', '--ring-size', '384'], /--ring-size: 384 is not valid for --nic virtio/);
    bad(['--nic', 'virtio', '--ring-size', '2048'], /--ring-size: 2048 is not valid for --nic virtio/);
    bad(
      ['--nic', 'ixgbe', '--pkt-size', '9000'],
      /--pkt-size: 9000 is more than 1518 for --nic ixgbe \(frames up to 9018, MTU 9000, only with --nic virtio\)/,
    );
    bad(['--nic', 'virtio', '--pkt-size', '9019'], /--pkt-size: '9019' is not valid/);
    bad(['--nic', 'virtio', '--rx-usecs', '20'], /--rx-usecs: virtio-net in Linux 5.10 has no RX interrupt coalescing/);
  });
  it('keeps the test-only fault switch out of --help', () => {
    const p = cli(['run', '--help']);
    expect(p.stdout).toMatch(/--virtio-mrg-rxbuf/);
    expect(p.stdout).not.toMatch(/--fault/);
    expect(config({ nic: 'virtio', 'fault-virtio-no-poll-recheck': 'on' }).fault_virtio_no_poll_recheck).toBe(true);
  });
});

describe('virtio: threads mode (invariants)', () => {
  it('must-show 1: 2 CPUs, 2 queues conserve and deliver in order; every queue used, every skb back', async () => {
    const r = await run({ nic: 'virtio', cpus: 2, queues: 2, packets: 300_000 });
    expect(r.packets.delivered + sum(Object.values(r.packets.dropped))).toBe(300_000);
    expect(r.ordering.out_of_order).toBe(0);
    expect(r.skb_pool.unaccounted).toBe(0);
    for (const q of r.queues) {
      expect(q.rx_packets).toBeGreaterThan(0);
      expect(q.virtio!.irq_raised).toBe(q.interrupts);
      expect(q.virtio!.irq_raised + q.virtio!.irq_suppressed).toBe(q.rx_packets);
    }
    expect(sum(r.queues.map((q) => q.rx_packets))).toBe(r.packets.generated - (r.packets.dropped.tun ?? 0));
  });

  it('must-show 2: one queue, RPS to both CPUs: both process, every packet dissected once, in order', async () => {
    const r = await run({ nic: 'virtio', cpus: 2, queues: 1, 'rps-cpus': 3, packets: 200_000 });
    expect(r.ordering.out_of_order).toBe(0);
    expect(r.percpu.every((p) => p.processed > 0)).toBe(true);
    // No hash from the device: get_rps_cpu ran the flow dissector on every packet.
    expect(sum(r.percpu.map((p) => p.flow_dissected))).toBe(r.packets.generated);
    // ... and every one went to a backlog, or was dropped at one.
    const backlogged = sum(r.percpu.map((p) => p.enqueue_local + p.enqueue_remote));
    expect(backlogged + r.packets.dropped.backlog + r.packets.dropped.flow_limit).toBe(r.packets.generated);
  });

  it('must-show 3 (threads): tiny rings at many rates drain and conserve', async () => {
    for (const [ring, rate, seed] of [
      [8, 'max', 1],
      [16, 'max', 2],
      [8, 2_000_000, 3],
      [16, 500_000, 4],
    ] as const) {
      const r = await run({
        nic: 'virtio',
        cpus: 2,
        queues: 2,
        'ring-size': ring,
        'unsafe-small-virtqueue': 'on',
        rate,
        seed,
        packets: 40_000,
        'watchdog-s': 15,
      });
      expect(r.packets.generated).toBe(40_000);
      expect(r.skb_pool.unaccounted).toBe(0);
      expect(r.ordering.out_of_order).toBe(0);
    }
  });

  it('must-show 4 (threads): jumbo frames over mergeable buffers and big packets arrive whole', async () => {
    const m = await run({ nic: 'virtio', cpus: 2, queues: 2, 'pkt-size': 9000, proto: 'tcp', 'l4-csum-verify': 'on', packets: 20_000 });
    expect(m.packets.dropped.l4_csum).toBe(0);
    expect(m.packets.delivered).toBe(20_000);
    expect(Math.max(...m.queues.map((q) => q.virtio!.buffers_per_packet_max))).toBeGreaterThan(1);
    const b = await run({
      nic: 'virtio',
      cpus: 2,
      queues: 1,
      'pkt-size': 9000,
      'virtio-mrg-rxbuf': 'off',
      'l4-csum-verify': 'on',
      packets: 10_000,
    });
    expect(b.packets.delivered).toBe(10_000);
    expect(b.queues[0].virtio!.buffers_per_packet_max).toBe(3); // 9014 bytes over 4 KiB pages
    expect(b.skb_pool.unaccounted).toBe(0);
  });
});

describe('virtio: sim mode (exact)', () => {
  // A guest far slower than the wire (16-entry ring, 3 µs of stack per packet, 2 Mpps open loop):
  // QEMU holds a packet and the tun queue fills behind it when generation ends.
  const lagging = { cpus: 1, 'ring-size': 16, 'unsafe-small-virtqueue': 'on', rate: 2_000_000, 'stack-cost-ns': 3000 };

  it('--duration ends generation: held packets still reach the guest as it kicks, nothing new is generated', () => {
    const r = sim({ ...lagging, duration: 0.005, packets: 1_000_000 });
    expect(r.queues[0].virtio!.held).toBeGreaterThan(0);
    // At most what 5 ms of a 2 Mpps wire carries (a kick after the end once generated the rest of --packets).
    expect(r.packets.generated).toBeLessThanOrEqual(2_000_000 * 0.005);
  });

  it('an interrupted run flushes what QEMU holds while it drains and ends interrupted, not stuck', async () => {
    const ac = new AbortController();
    const cfg = config({ mode: 'sim', nic: 'virtio', ...lagging, packets: 5_000_000 });
    const r = await runSim(cfg, { signal: ac.signal, progress: () => ac.abort() }); // abort at the first progress report
    expect(r.interrupted).toBe(true);
    expect(conserves(r)).toBe(true);
    expect(r.queues[0].virtio!.held).toBeGreaterThan(0);
  });

  it('must-show 1 (sim): in order, and fewer interrupts than a quarter of the packets delivered', () => {
    const r = sim({ cpus: 2, queues: 2, packets: 200_000 });
    expect(r.packets.delivered).toBe(200_000);
    expect(r.ordering.out_of_order).toBe(0);
    expect(irqs(r)).toBeLessThan(r.packets.delivered / 4);
  });

  it('is deterministic: the same seed gives the same counters', () => {
    const a = sim({ cpus: 2, queues: 2, packets: 20_000, seed: 7, rate: 2_000_000, 'ring-size': 16, 'unsafe-small-virtqueue': 'on' });
    const b = sim({ cpus: 2, queues: 2, packets: 20_000, seed: 7, rate: 2_000_000, 'ring-size': 16, 'unsafe-small-virtqueue': 'on' });
    expect(b.queues).toEqual(a.queues);
    expect(b.percpu).toEqual(a.percpu);
  });

  it('must-show 2 (sim): RPS steers to both CPUs, flow_dissected equals the packets through get_rps_cpu', () => {
    const r = sim({ cpus: 2, queues: 1, 'rps-cpus': 3, packets: 50_000 });
    expect(r.ordering.out_of_order).toBe(0);
    expect(r.percpu.every((p) => p.processed > 0)).toBe(true);
    expect(sum(r.percpu.map((p) => p.flow_dissected))).toBe(50_000);
  });

  it('must-show 3: tiny rings, many seeds and rates: nothing stuck; with the recheck removed some run strands packets', () => {
    const runs = (fault: 'on' | 'off') => {
      let stuck = 0;
      for (let seed = 1; seed <= 24; seed++) {
        const flags = {
          mode: 'sim',
          nic: 'virtio',
          cpus: 2,
          queues: 2,
          seed,
          packets: 3000,
          'ring-size': seed % 2 ? 8 : 16,
          'unsafe-small-virtqueue': 'on',
          rate: ['max', 300_000, 1_000_000][seed % 3],
          'fault-virtio-no-poll-recheck': fault,
          'watchdog-s': 1,
        };
        try {
          const r = simulate(config(flags)).result;
          expect(conserves(r)).toBe(true);
          expect(r.packets.generated).toBe(3000);
        } catch (e) {
          if (!(e instanceof SimStuckError)) throw e;
          // The drain (nothing can run) or the watchdog says so, with the virtqueue's state.
          expect(e.message).toMatch(/^sim: (stuck at virtual|no packet moved)/);
          expect(e.message).toMatch(/virtqueue \d: avail idx \d+ used idx \d+ last_used_idx \d+/);
          stuck++;
        }
      }
      return stuck;
    };
    expect(runs('off')).toBe(0);
    expect(runs('on')).toBeGreaterThan(0);
  });

  it('must-show 4 (sim): a 9000-byte frame takes several mergeable buffers, num_buffers > 1, delivered whole', () => {
    const r = sim({ cpus: 2, queues: 2, 'pkt-size': 9000, proto: 'tcp', 'l4-csum-verify': 'on', packets: 10_000 });
    expect(r.packets.delivered).toBe(10_000);
    expect(r.packets.dropped.l4_csum).toBe(0);
    expect(r.ordering.out_of_order).toBe(0);
    // get_mergeable_buf_len grows to 4 KiB with the packet-length average; the first frames take 1536-byte buffers.
    expect(Math.max(...r.queues.map((q) => q.virtio!.buffers_per_packet_max))).toBe(6);
    expect(r.skb_pool.unaccounted).toBe(0);
    const big = sim({ cpus: 2, queues: 2, 'pkt-size': 9000, 'virtio-mrg-rxbuf': 'off', packets: 5_000 });
    expect(big.packets.delivered).toBe(5_000);
    expect(big.queues.map((q) => q.virtio!.buffers_per_packet_max)).toEqual([3, 3]);
  });

  it('open loop past the ring: QEMU holds a packet, the tun queue the rest; past txqueuelen, tun drops (tap_send, tun_net_xmit)', () => {
    const r = sim({
      cpus: 1,
      queues: 1,
      packets: 30_000,
      rate: 50_000_000,
      'ring-size': 8,
      'unsafe-small-virtqueue': 'on',
      'stack-cost-ns': 3000,
    });
    const v = r.queues[0].virtio!;
    expect(v.held).toBeGreaterThan(0);
    expect(v.tun_queued).toBeGreaterThan(0);
    expect(v.tun_dropped).toBeGreaterThan(0);
    expect(r.packets.dropped.tun).toBe(v.tun_dropped);
    expect(r.packets.delivered + sum(Object.values(r.packets.dropped))).toBe(30_000);
    expect(r.ordering.out_of_order).toBe(0);
  });
});

describe("virtio: QEMU's tap backlog (tap_send, qemu_net_queue_append, tun_net_xmit)", () => {
  // The run: a guest 2 µs per packet behind a 5 Mpps wire. QEMU holds one packet
  // (tap_send's read stop); the rest waits in the tun queue, tx_queue_len deep, or is dropped.
  const SLOW = { cpus: 1, rate: 5_000_000, packets: 100_000, 'stack-cost-ns': 2000 };

  it("one held packet and a 1000-packet tun queue: latency a tenth of a 10,000-packet backlog, drops counted as the tap's", () => {
    const r = sim(SLOW);
    const v = r.queues[0].virtio!;
    expect(r.packets.dropped.tun).toBe(v.tun_dropped);
    expect(r.packets.delivered + sum(Object.values(r.packets.dropped))).toBe(100_000);
    // Every packet waits behind at most 1 + 1000 others: ~1000 × 2.9 µs of guest time.
    expect(r.latency_ns.p50).toBeGreaterThan(2_000_000);
    expect(r.latency_ns.p50).toBeLessThan(3_500_000);
    expect(v.held).toBeGreaterThan(0);
    expect(v.tun_queued).toBeGreaterThan(v.held);
    // Generation ends with the queue full: what was left (1 held + 1000 queued) is delivered.
    expect(r.packets.dropped.tun).toBe(100_000 - r.packets.delivered);
    const deep = sim({ ...SLOW, 'tap-txqueuelen': 10_000 });
    expect(deep.latency_ns.p50 / r.latency_ns.p50).toBeGreaterThan(7);
    expect(deep.packets.delivered - r.packets.delivered).toBe(9000);
  });

  it('the summary names the tun drops; --tap-txqueuelen is checked', () => {
    const p = cli(['run', '--mode', 'sim', '--nic', 'virtio', ...Object.entries(SLOW).flatMap(([k, v]) => [`--${k}`, String(v)])]);
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/dropped [\d,]+ \(tun [\d,]+\)/);
    const bad = cli(['run', '--nic', 'virtio', '--tap-txqueuelen', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^rxsmp: --tap-txqueuelen: /);
  });
});

describe('virtio: errors counted, not thrown (virtio_net_receive_rcu, receive_buf, receive_mergeable)', () => {
  it('QEMU: a frame that does not fit a big-packets buffer is dropped (err = size) and the element given back', () => {
    const cfg = config({ nic: 'virtio', 'ring-size': 8, 'unsafe-small-virtqueue': 'on', 'pkt-size': 9018, flows: 1 });
    const shm = boot(cfg);
    // The guest posted 1536-byte mergeable buffers; a device without MRG_RXBUF must fit the
    // frame in one of them.
    shm.cfg.virtio_mrg_rxbuf = false;
    const dev = new VirtioNetBackend(shm, cfg.pkt_size - 4);
    const R = shm.layout.RXQ;
    expect(dev.virtio_net_receive_rcu(0, 0)).toBe(9014);
    expect(shm.f64[shm.rxqF[0] + R.virtio_oversize]).toBe(1);
    expect(shm.f64[shm.rxqF[0] + R.rx_packets]).toBe(0);
    expect(shm.u16[shm.vq[0].used_idx]).toBe(0); // nothing used: virtqueue_unpop
  });

  for (const [what, spoil] of [
    ['a used length shorter than the header and an Ethernet header', (m: Machine) => (m.shm.i32[m.shm.vq[0].used_ring + 1] = 20)],
    [
      'num_buffers past what the device used ("rx error: buffers missing")',
      (m: Machine) => (m.shm.u8[m.shm.skbData(m.shm.i32[m.shm.vq[0].used_ring]) - 12 + 10] = 3),
    ],
  ] as const) {
    it(`guest: ${what} is rx_length_errors, the packet dropped and its buffers freed`, () => {
      const m = new Machine(config({ nic: 'virtio', cpus: 1, queues: 1, flows: 1, rate: 1000 }));
      expect(m.send(1)).toBe(1);
      spoil(m);
      m.settle();
      const r = collectResult(m.shm, m.cfg, NO_OUTCOME);
      expect(r.queues[0].virtio!.rx_length_errors).toBe(1);
      expect(r.packets.dropped.virtio_length).toBe(1);
      expect(r.packets.delivered).toBe(0);
      expect(m.conserved()).toBe(true);
      // The next packet is received normally.
      expect(m.send(1)).toBe(1);
      m.settle();
      expect(collectResult(m.shm, m.cfg, NO_OUTCOME).packets.delivered).toBe(1);
    });
  }
});
