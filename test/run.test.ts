// Real emulations (worker threads, shared memory): what a user of `rxsmp run` relies on.

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cli, run, sum } from './e2e.js';
import type { RunResult } from '../dist/src/engine/result.js';
import { allowedCores } from '../dist/src/shm/host.js';

describe('rxsmp run', () => {
  it('2 CPUs, 2 queues: one JSON document that conserves, each queue processed on its vector\'s CPU', () => {
    const r = cli(['run', '--cpus', '2', '--queues', '2', '--packets', '2000000', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as RunResult; // exactly one document: parse fails on anything else
    expect(doc.schema).toBe('rxsmp.run/1');
    const drops = sum(Object.values(doc.packets.dropped));
    expect(doc.packets.generated).toBe(2_000_000);
    expect(doc.packets.delivered + drops).toBe(doc.packets.generated);
    for (const cpu of [0, 1]) {
      const mine = doc.queues.filter((q) => q.cpu === cpu);
      expect(mine.length).toBe(1);
      // No RPS, UDP (no GRO merging): a CPU processes exactly its queue's packets...
      expect(doc.percpu[cpu]!.processed).toBe(sum(mine.map((q) => q.rx_packets)));
      // ...and takes exactly its vector's interrupts.
      expect(doc.percpu[cpu]!.hardirqs).toBe(sum(mine.map((q) => q.interrupts)));
      expect(doc.percpu[cpu]!.processed).toBeGreaterThan(0);
    }
    expect(doc.ordering.out_of_order).toBe(0);
    expect(doc.skb_pool.unaccounted).toBe(0);
    // Each ring holds its 511 posted buffers less those ixgbe re-posts only 16 at a time.
    expect(doc.skb_pool.in_rings).toBeGreaterThanOrEqual(2 * (511 - 15));
    expect(doc.skb_pool.in_rings).toBeLessThanOrEqual(2 * 511);
    expect(doc.pps).toBeGreaterThan(0);
    expect(doc.config.netdev_budget).toBe(300);
    // What the host gave each worker: every CPU and the device, over its whole loop.
    expect(doc.host.cores).toBe(availableParallelism());
    expect(doc.host.busy_threads).toBe(3);
    expect(doc.host.oversubscribed).toBe(3 > availableParallelism());
    if (process.platform === 'linux') {
      expect(doc.host.threads.map((t) => t.thread)).toEqual(['cpu0', 'cpu1', 'device', 'coordinator']);
      // Each CPU cleaned a million packets: far more than the 10 ms resolution of /proc.
      for (const t of doc.host.threads.slice(0, 2)) expect(t.cpu_s, t.thread).toBeGreaterThan(0.05);
      for (const t of doc.host.threads) expect(t.cpu_s, t.thread).toBeLessThan(doc.elapsed_s + 5);
    }
  });

  it('--host-cpus pins each CPU thread and the device to the host core given; without it they may run anywhere', async () => {
    if (process.platform !== 'linux') return; // taskset and /proc are Linux's
    const cores = allowedCores(); // the same core twice on a 1-core host
    const [first, last] = [cores[0]!, cores[cores.length - 1]!];
    const pinned = await run({ cpus: 2, queues: 1, packets: 100_000, 'host-cpus': `${first},${last},${last}` });
    const allowed = Object.fromEntries(pinned.host.threads.map((t) => [t.thread, t.cpus_allowed]));
    expect(allowed).toMatchObject({ cpu0: String(first), cpu1: String(last), device: String(last) });
    expect(pinned.config.host_cpus).toEqual([first, last, last]);
    const free = await run({ cpus: 2, queues: 1, packets: 100_000 });
    const all = free.host.threads.find((t) => t.thread === 'coordinator')!.cpus_allowed;
    for (const t of free.host.threads) expect(t.cpus_allowed, t.thread).toBe(all);
  });

  it('prints a softnet_stat block in the human summary', () => {
    const r = cli(['run', '--cpus', '2', '--queues', '2', '--packets', '50000']);
    expect(r.status).toBe(0);
    const block = r.stdout.split('/proc/net/softnet_stat\n')[1]!.split('\n').slice(0, 2);
    for (const [cpu, line] of block.entries()) {
      const cols = line.split(' ');
      expect(cols).toHaveLength(13);
      expect(cols.every((c) => /^[0-9a-f]{8}$/.test(c))).toBe(true);
      expect(parseInt(cols[12]!, 16)).toBe(cpu);
    }
    expect(r.stdout).toMatch(/conserved/);
  });
});

describe('NAPI interrupt mitigation', () => {
  it('takes far fewer interrupts than packets at high rate', async () => {
    const r = await run({ cpus: 1, queues: 1, packets: 500_000 });
    expect(r.percpu[0]!.hardirqs).toBeLessThan(r.packets.generated / 20);
  });

  it('takes about one interrupt per packet at a low open-loop rate', async () => {
    const r = await run({ cpus: 1, queues: 1, rate: 1000, packets: 300 });
    expect(r.packets.delivered).toBe(300);
    expect(r.percpu[0]!.hardirqs).toBeGreaterThanOrEqual(0.8 * 300);
    expect(r.percpu[0]!.hardirqs).toBeLessThanOrEqual(300);
    // Never sustained: softirq on irq exit suffices (a runnable application can still end a
    // __do_softirq early through need_resched now and then).
    expect(r.percpu[0]!.ksoftirqd_wakeups).toBeLessThan(0.05 * 300);
  });

  it('hands sustained load to ksoftirqd', async () => {
    const r = await run({ cpus: 1, queues: 1, packets: 1_000_000 });
    expect(r.percpu[0]!.ksoftirqd_wakeups).toBeGreaterThan(0);
    expect(r.percpu[0]!.busy.ksoftirqd_ns).toBeGreaterThan(0);
  });
});

describe('drops, each counted once', () => {
  it('counts rx_missed when open-loop traffic overloads the ring, and still conserves', async () => {
    const r = await run({ cpus: 1, queues: 1, rate: 5_000_000, 'stack-cost-ns': 2000, packets: 100_000 });
    expect(r.packets.dropped.rx_missed).toBeGreaterThan(0);
    expect(r.queues[0]!.rx_missed).toBe(r.packets.dropped.rx_missed);
  });

  it('drops frames with a corrupted IPv4 header checksum in ip_rcv, exactly those', async () => {
    const r = await run({ cpus: 2, queues: 2, 'bad-csum-rate': 0.05, packets: 100_000 });
    expect(r.packets.generated_bad_ip_csum).toBeGreaterThan(4000);
    expect(r.packets.generated_bad_ip_csum).toBeLessThan(6000);
    expect(r.packets.dropped.ip_csum).toBe(r.packets.generated_bad_ip_csum);
    expect(r.packets.delivered).toBe(100_000 - r.packets.generated_bad_ip_csum);
  });

  it('verifies L4 checksums in software when asked, and passes good ones', async () => {
    const r = await run({ cpus: 1, queues: 1, proto: 'mix', 'l4-csum-verify': 'on', packets: 50_000 });
    expect(r.packets.dropped.l4_csum).toBe(0);
    expect(r.packets.delivered).toBe(50_000);
  });
});

describe('the hot path allocates nothing per packet', () => {
  // A late JIT recompilation in some thread can allocate enough for one GC in a window now
  // and then (about one run in ten here); an allocation per packet would fail every attempt
  // (megabytes per window, many GCs), so one retry keeps the test exact about what it guards.
  it('shows no GC and no heap growth in any thread over millions of packets', { retry: 1 }, async () => {
    const r = await run({ cpus: 2, queues: 2, packets: 3_000_000, 'latency-sample': 0 });
    for (const t of r.hot_path) {
      expect(t.window_packets, t.thread).toBeGreaterThan(500_000);
      expect(t.gc_events, t.thread).toBe(0);
      // Code and feedback from late JIT work count in used_heap_size: allow under 1 MiB in all,
      // where one 16-byte object per packet would be 8 MB or more (and would have forced
      // scavenges).
      expect(t.heap_growth_bytes, t.thread).toBeLessThan(1 << 20);
    }
  });

  it('with latency sampling on (1 in 64), allocates only per sample: well under 16 bytes per packet', async () => {
    // Each sample reads Node's clock (device and socket), and a read boxes a number: about
    // 0.5 byte per packet here, 2.3-2.5 seen when a loaded host starves V8's background
    // compiler and the sampled path stays unoptimized longer. One object (or one boxed
    // number) per packet would be 16 bytes or more: the limit keeps 4x below that.
    const r = await run({ cpus: 2, queues: 2, packets: 3_000_000 });
    expect(r.latency_ns.samples).toBeGreaterThan(10_000);
    for (const t of r.hot_path) {
      expect(t.window_packets, t.thread).toBeGreaterThan(500_000);
      expect(t.heap_growth_bytes / t.window_packets, t.thread).toBeLessThan(4);
    }
  });
});

describe('the closed-loop wire', () => {
  it('naps while the CPU re-posts descriptors, so the driver almost never pays a futex wake', async () => {
    // A slow stack: the wire fills the ring and waits for every re-post. It must nap (timed,
    // nobody wakes it) rather than sleep until the driver's Atomics.notify, which costs the
    // emulated CPU 10-60 µs a call here. Without naps it would sleep and be woken about once
    // per half ring, 1 in 16 of the driver's refills; allow 1 in 1,600.
    const r = await run({ cpus: 1, queues: 1, 'stack-cost-ns': 3000, packets: 200_000 });
    const q = r.queues[0]!;
    expect(q.rx_packets).toBe(200_000);
    expect(q.wire_naps).toBeGreaterThan(0);
    expect(q.wire_wakes).toBeLessThan(q.rx_packets / 16 / 100);
  });

  it('is kicked out of a nap when the driver drains the ring, instead of leaving the CPU idle', async () => {
    // A 64-descriptor ring: the CPU cleans half of it (32 frames, ~10 µs) faster than the
    // shortest nap (50 µs), so most naps see the ring drained and the driver kick the wire.
    // The wire counts a kick only when its nap ended early on it (not on its timeout): a kick
    // that never reached it, or came too late, would leave wire_kicks at 0.
    for (const nic of ['ixgbe', 'legacy']) {
      const r = await run({ cpus: 1, queues: 1, nic, 'ring-size': 64, packets: 200_000 });
      const q = r.queues[0]!;
      expect(q.rx_packets, nic).toBe(200_000);
      expect(q.wire_naps, nic).toBeGreaterThan(20);
      expect(q.wire_kicks, nic).toBeGreaterThan(q.wire_naps / 4);
      expect(q.wire_kicks, nic).toBeLessThanOrEqual(q.wire_naps); // at most one kick ends each nap
      expect(r.packets.generated, nic).toBe(r.packets.delivered + sum(Object.values(r.packets.dropped)));
    }
  });
});

describe('interrupt coalescing and affinity', () => {
  it('rx-usecs caps the interrupt rate of a vector', async () => {
    const base = await run({ cpus: 1, queues: 1, rate: 20_000, packets: 4000 });
    const itr = await run({ cpus: 1, queues: 1, rate: 20_000, packets: 4000, 'rx-usecs': 1000 });
    // At most one interrupt per millisecond over the ~0.2 s of traffic (plus the drain).
    expect(itr.queues[0]!.interrupts).toBeLessThanOrEqual(Math.ceil(itr.elapsed_s * 1000) + 5);
    expect(itr.queues[0]!.interrupts).toBeLessThan(base.queues[0]!.interrupts / 2);
    expect(itr.percpu[0]!.processed).toBe(4000 - itr.packets.dropped.rx_missed);
  });

  it('moves a vector to another CPU when its smp_affinity changes under traffic', async () => {
    const r = await run({ cpus: 2, queues: 1, rate: 50_000, packets: 10_000, 'knob-at': '60:irq-affinity=1' });
    expect(r.percpu[0]!.hardirqs).toBeGreaterThan(0);
    expect(r.percpu[1]!.hardirqs).toBeGreaterThan(0);
    expect(r.queues[0]!.cpu).toBe(1);
    // A host that deschedules the device makes it catch up in bursts: some may be rx_missed.
    expect(r.percpu[0]!.processed + r.percpu[1]!.processed).toBe(10_000 - r.packets.dropped.rx_missed);
  });
});

describe('the run contract', () => {
  it('echoes every effective knob in config', async () => {
    const { DEFAULTS } = await import('../dist/src/config.js');
    const r = await run({ cpus: 1, queues: 1, packets: 1000, 'cacheline-pad': 'off' });
    for (const key of Object.keys(DEFAULTS)) expect(r.config, key).toHaveProperty(key);
    for (const key of ['irq_affinity', 'rss_reta', 'rps_cpus', 'rps_flow_cnt', 'app_cpus', 'knob_at']) expect(r.config).toHaveProperty(key);
    expect(r.config.rate).toBe('max');
    expect(r.config.cacheline_pad).toBe(false);
  });
});

describe('application placement', () => {
  it("by default reads each flow on the CPU of its RSS queue's vector; 'spread' deals flows round the tasks", async () => {
    const rss = await run({ cpus: 2, queues: 2, packets: 200_000 });
    for (const p of rss.percpu) expect(p.recvmsg_packets, `cpu ${p.cpu}`).toBe(p.delivered);
    const spread = await run({ cpus: 2, queues: 2, packets: 200_000, 'app-placement': 'spread' });
    expect(spread.percpu.some((p) => p.recvmsg_packets !== p.delivered)).toBe(true);
  });
});
