// Real emulations (worker threads, shared memory): what a user of `rxsmp run` relies on.
// Only what the host's speed cannot change is asserted here (docs/testing.md); the exact
// figures behind each behaviour are asserted in sim mode (test/sim.test.ts, "sim mode: the
// figures behind the threads tests"), and the host-dependent ones measured by bench/claims.ts.

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cli, expectVectorsTaken, run, sum } from './e2e.js';
import type { RunResult } from '../dist/src/engine/result.js';
import { allowedCores } from '../dist/src/host/host.js';
import { simulate } from '../dist/src/engine/sim_run.js';
import { config } from './harness.js';
import {
  AFFINITY_CHANGE,
  BAD_CSUM,
  ITR_1000,
  NAPI_CLOSED_LOOP,
  HOT_PATH,
  HOT_PATH_ALLOC_MAX,
  NAPI_LOW_RATE,
  RX_MISSED,
  WIRE_SLOW_STACK,
  wireSmallRing,
} from '../dist/bench/scenarios.js';

describe('rxsmp run', () => {
  it("2 CPUs, 2 queues: one JSON document that conserves, each queue processed on its vector's CPU", () => {
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
      expect(doc.percpu[cpu].processed).toBe(sum(mine.map((q) => q.rx_packets)));
      // (RSS spreads the default 16 flows over both queues: which flows go where is the seed's.)
      expect(doc.percpu[cpu].processed).toBeGreaterThan(0);
    }
    // ...and takes its vector's interrupts (all of them, but one the stop may leave pending).
    expectVectorsTaken(doc);
    // The closed-loop wire waits for a free descriptor: it never misses one.
    expect(doc.packets.dropped.rx_missed).toBe(0);
    expect(doc.ordering.out_of_order).toBe(0);
    expect(doc.skb_pool.unaccounted).toBe(0);
    // Each ring holds its 511 posted buffers less those ixgbe re-posts only 16 at a time.
    expect(doc.skb_pool.in_rings).toBeGreaterThanOrEqual(2 * (511 - 15));
    expect(doc.skb_pool.in_rings).toBeLessThanOrEqual(2 * 511);
    expect(doc.pps).toBeGreaterThan(0);
    expect(doc.config.netdev_budget).toBe(300);
    // What the host gave each worker: every CPU and the device, over its whole loop. On a host
    // with fewer than 3 cores --device auto runs the device inline, on CPU 0's thread.
    expect(doc.host.cores).toBe(availableParallelism());
    const inline = availableParallelism() < 3;
    expect(doc.host.device).toBe(inline ? 'inline' : 'thread');
    expect(doc.host.busy_threads).toBe(inline ? 2 : 3);
    expect(doc.host.oversubscribed).toBe(doc.host.busy_threads > availableParallelism());
    if (process.platform === 'linux') {
      expect(doc.host.threads.map((t) => t.thread)).toEqual(
        inline ? ['cpu0', 'cpu1', 'coordinator'] : ['cpu0', 'cpu1', 'device', 'coordinator'],
      );
      // Each CPU cleaned a million packets: its thread was charged some of the host's time
      // (/proc counts in 10 ms ticks; how many is the host's speed)...
      for (const t of doc.host.threads.slice(0, 2)) expect(t.cpu_s, t.thread).toBeGreaterThan(0);
      // ...and no thread more than it existed: the run, plus start-up and collection.
      for (const t of doc.host.threads) expect(t.cpu_s, t.thread).toBeLessThan(doc.elapsed_s + 5);
    }
  });

  it('--host-cpus pins each CPU thread and the device to the host core given; without it they may run anywhere', async () => {
    if (process.platform !== 'linux') return; // taskset and /proc are Linux's
    const cores = allowedCores(); // the same core twice on a 1-core host
    const [first, last] = [cores[0], cores[cores.length - 1]];
    const pinned = await run({ cpus: 2, queues: 1, packets: 100_000, 'host-cpus': `${first},${last},${last}`, device: 'thread' });
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
    const block = r.stdout.split('/proc/net/softnet_stat\n')[1].split('\n').slice(0, 2);
    for (const [cpu, line] of block.entries()) {
      const cols = line.split(' ');
      expect(cols).toHaveLength(13);
      expect(cols.every((c) => /^[0-9a-f]{8}$/.test(c))).toBe(true);
      expect(parseInt(cols[12], 16)).toBe(cpu);
    }
    expect(r.stdout).toMatch(/conserved/);
  });
});

describe('NAPI interrupt mitigation', () => {
  // How many interrupts a load takes is the host's timing here; the figures (1 interrupt for
  // 500,000 closed-loop packets, 300 for 300 packets at 1 kpps) are sim mode's.
  it("takes at most one interrupt per packet, each on its vector's CPU, at high and low rate", async () => {
    for (const flags of [NAPI_CLOSED_LOOP, NAPI_LOW_RATE]) {
      const r = await run(flags);
      expect(r.percpu[0].processed, `rate ${flags.rate}`).toBe(r.packets.generated - r.packets.dropped.rx_missed);
      expect(r.percpu[0].hardirqs, `rate ${flags.rate}`).toBeGreaterThan(0); // the first packet's
      expectVectorsTaken(r);
    }
  });

  it("ksoftirqd runs only once woken (whether sustained load wakes it is the host's timing)", async () => {
    const r = await run({ ...NAPI_CLOSED_LOOP, packets: 1_000_000 });
    const p = r.percpu[0];
    if (p.ksoftirqd_wakeups === 0) expect(p.busy.ksoftirqd_ns).toBe(0);
    expect(p.processed).toBe(1_000_000);
  });
});

describe('drops, each counted once', () => {
  it('counts rx_missed when open-loop traffic overloads the ring, the same per queue and per run, and still conserves', async () => {
    // How many are missed is the host's (sim mode: 91,249 of 100,000); that the ring, the
    // queue's counter and the run's agree, and that the rest is processed, is not.
    const r = await run(RX_MISSED);
    expect(r.queues[0].rx_missed).toBe(r.packets.dropped.rx_missed);
    expect(r.queues[0].rx_packets + r.queues[0].rx_missed).toBe(100_000);
    expect(r.percpu[0].processed).toBe(r.queues[0].rx_packets);
  });

  it("drops frames with a corrupted IPv4 header checksum in ip_rcv, exactly those; which frames is the seed's", async () => {
    const r = await run(BAD_CSUM);
    // The generator draws corruption per frame from the seed: the same frames as in sim mode.
    const s = simulate(config({ ...BAD_CSUM, mode: 'sim' })).result;
    expect(r.packets.generated_bad_ip_csum).toBe(s.packets.generated_bad_ip_csum);
    expect(r.packets.generated_bad_ip_csum).toBeGreaterThan(0);
    expect(r.packets.dropped.ip_csum).toBe(r.packets.generated_bad_ip_csum);
    // Every other frame reaches its socket (which may overflow if its reader falls behind).
    expect(r.packets.delivered + r.packets.dropped.socket).toBe(100_000 - r.packets.generated_bad_ip_csum);
  });

  it('verifies L4 checksums in software when asked, and passes good ones', async () => {
    const r = await run({ cpus: 1, queues: 1, proto: 'mix', 'l4-csum-verify': 'on', packets: 50_000 });
    expect(r.packets.dropped.l4_csum).toBe(0);
    expect(r.packets.delivered + r.packets.dropped.socket).toBe(50_000);
  });
});

describe('the hot path allocates nothing per packet', () => {
  // What a thread allocated in its window (allocated_bytes) is the heap's growth plus what
  // any GC inside the window freed: the same figure whether or not V8 chose to collect. Whether
  // it did (gc_events) is V8's heuristics on the host's timing: a busy host once gave two GC
  // events in a window, so "no GC" is measured by `npm run bench:claims`, not asserted here.
  it('allocates under 2 MiB in any thread over millions of packets, counting what GCs collected', async () => {
    const r = await run(HOT_PATH);
    for (const t of r.hot_path) {
      expect(t.window_packets, t.thread).toBeGreaterThan(500_000);
      // Code and feedback from late JIT work count as allocation (HOT_PATH_ALLOC_MAX says how
      // much), where one 16-byte object per packet would be 19 MB.
      expect(t.allocated_bytes, t.thread).toBeLessThan(HOT_PATH_ALLOC_MAX);
      expect(t.allocated_bytes, t.thread).toBeGreaterThanOrEqual(t.heap_growth_bytes);
    }
  });

  it('with latency sampling on (1 in 64), allocates only per sample: well under 16 bytes per packet', async () => {
    // Each sample reads Node's clock (device and socket), and a read boxes a number: 0.4-0.85
    // byte per packet here, quiet or under busy loops. One object (or one boxed number) per
    // packet is 16 bytes or more, and that is what this test fails on. It does not hold the
    // typical figure: once in about a dozen suite runs (CI, quiet host) one thread's window allocated
    // 10.3 bytes per packet in one lump (V8's doing: a stretch of deoptimized code, which
    // depends on timing, not on our code), so `npm run bench:claims -- --only hot-path-sampled`
    // reports how often the window stays under 4.
    const r = await run({ ...HOT_PATH, 'latency-sample': 64 });
    expect(r.latency_ns.samples).toBeGreaterThan(10_000);
    for (const t of r.hot_path) {
      expect(t.window_packets, t.thread).toBeGreaterThan(500_000);
      expect(t.allocated_bytes / t.window_packets, t.thread).toBeLessThan(16);
    }
  });
});

describe('the closed-loop wire', () => {
  // Whether the wire naps rather than sleeps, and how often the driver's kick ends a nap, is
  // the host's scheduling: `npm run bench:claims` measures both (wakes under 1 in 1,600
  // packets with a 3 µs stack; kicks ending over a quarter of the naps on a 64-entry ring).
  // What holds on any host: every frame crosses the ring once, nothing is missed, and the
  // counters keep their meaning.
  it('carries every frame once on a full ring and on a small one, ixgbe and legacy; at most one kick ends each nap', async () => {
    for (const flags of [WIRE_SLOW_STACK, wireSmallRing('ixgbe'), wireSmallRing('legacy')]) {
      const r = await run(flags);
      const q = r.queues[0];
      const what = JSON.stringify(flags);
      expect(q.rx_packets, what).toBe(200_000);
      expect(q.rx_missed, what).toBe(0);
      expect(q.wire_kicks, what).toBeLessThanOrEqual(q.wire_naps);
      expect(q.wire_wakes, what).toBeLessThanOrEqual(q.rx_packets);
      for (const k of ['wire_naps', 'wire_sleeps', 'wire_wakes', 'wire_kicks'] as const)
        expect(Number.isInteger(q[k]) && q[k] >= 0, `${what} ${k}`).toBe(true);
    }
  });
});

describe('interrupt coalescing and affinity', () => {
  it('rx-usecs caps the interrupt rate of a vector', async () => {
    // The throttle runs on the device's clock: at most one interrupt per 1000 µs of the run
    // (traffic and drain), however the host schedules it. That this is far below one per
    // packet (sim: 201 against 4,000) is sim mode's figure.
    const itr = await run(ITR_1000);
    expect(itr.queues[0].interrupts).toBeLessThanOrEqual(Math.ceil(itr.elapsed_s * 1000) + 5);
    expect(itr.percpu[0].processed).toBe(4000 - itr.packets.dropped.rx_missed);
    expectVectorsTaken(itr);
  });

  it('moves a vector to another CPU when its smp_affinity changes under traffic', async () => {
    // 10,000 packets at 50 kpps last at least 200 ms: the change at 60 ms always happens.
    // How the interrupts split between the CPUs is the host's (sim: 3,000 and 7,000).
    const r = await run(AFFINITY_CHANGE);
    expect(r.knobs_applied.map((k) => k.key)).toEqual(['irq_affinity']);
    expect(r.queues[0].cpu).toBe(1);
    expect(r.percpu[0].hardirqs + r.percpu[1].hardirqs).toBeLessThanOrEqual(r.queues[0].interrupts);
    // A host that deschedules the device makes it catch up in bursts: some may be rx_missed.
    expect(r.percpu[0].processed + r.percpu[1].processed).toBe(10_000 - r.packets.dropped.rx_missed);
  });
});

describe('the run contract', () => {
  it('echoes every effective knob in config', async () => {
    const { DEFAULTS } = await import('../dist/src/config/schema.js');
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
