// XDP on the receive path (issue 25, phase 2): the programs of test/xdp/ attached to the
// drivers (ixgbe's and virtio's hooks, generic XDP), the cpumap as the other RPS, busy
// polling. Exact counts in sim mode; threads mode asserts what the host's speed cannot
// change (conservation, order, counters that must agree, no allocation per packet).

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../dist/src/engine/sim_run.js';
import { conserves, type RunResult } from '../dist/src/engine/result.js';
import { readCapture } from '../dist/src/uapi/pcap.js';
import { checkRun, randomFlags, randomSimFlags, reproCommand } from '../dist/src/engine/fuzz.js';
import { configFromFlags } from '../dist/src/engine/configure.js';
import { HOT_PATH, HOT_PATH_ALLOC_MAX } from '../dist/bench/scenarios.js';
import { config } from './harness.js';
import { run, sum } from './e2e.js';
import { buildXdp } from './xdp_build.js';

type Flags = Record<string, string | number>;
const dir = mkdtempSync(join(tmpdir(), 'rxsmp-xdp-run-'));
const obj: Record<string, string> = {};

beforeAll(() => {
  for (const n of ['pass', 'drop', 'drop_port', 'tx_swap', 'cpumap', 'oob', 'count_cpu']) obj[n] = buildXdp(n);
});

/** A sim run's result; fails unless it conserves. */
function sim(flags: Flags): RunResult {
  const r = simulate(config({ mode: 'sim', ...flags })).result;
  expect(conserves(r), JSON.stringify(r.packets)).toBe(true);
  return r;
}

/** Frames per UDP destination port in a capture (IPv4 and IPv6, no extension headers). */
function udpPorts(file: string): Map<number, number> {
  const c = readCapture(readFileSync(file));
  const out = new Map<number, number>();
  for (let i = 0; i < c.count; i++) {
    const b = c.bytes.subarray(c.data_off[i], c.data_off[i] + c.caplen[i]);
    const type = (b[12] << 8) | b[13];
    let l4 = -1;
    if (type === 0x0800 && b[23] === 17) l4 = 14 + (b[14] & 15) * 4;
    else if (type === 0x86dd && b[20] === 17) l4 = 54;
    if (l4 < 0) continue;
    const port = (b[l4 + 2] << 8) | b[l4 + 3];
    out.set(port, (out.get(port) ?? 0) + 1);
  }
  return out;
}

const frames = (m: Map<number, number>) => sum([...m.values()]);
const xdpActions = (r: RunResult, a: 'drop' | 'pass' | 'tx' | 'redirect' | 'aborted') => sum(r.xdp!.percpu.map((p) => p.actions[a]));

describe('drop by port (drop_port.o): exactly the chosen port dropped, counted in the map and the driver', () => {
  const DROP = { 'xdp-map': 'drop_ports=8080:0' };

  /** The run without the program and with it, both tapped: the port's frames recounted from the first tap. */
  function pair(flags: Flags, name: string): { want: number; base: RunResult; r: RunResult; tapped: Map<number, number> } {
    const t0 = join(dir, `${name}-base.pcapng`);
    const t1 = join(dir, `${name}-xdp.pcapng`);
    const base = sim({ ...flags, tap: t0 });
    const r = sim({ ...flags, tap: t1, xdp: obj.drop_port, ...DROP });
    const seen = udpPorts(t0);
    const want = seen.get(8080)!;
    expect(want).toBeGreaterThan(1000); // a quarter of the flows' frames go to 8080
    expect(frames(seen)).toBe(base.packets.generated);
    return { want, base, r, tapped: udpPorts(t1) };
  }

  it("ixgbe (native): the drops are the tap's recount; the rest reach the stack; the ring counters count every frame", () => {
    const { want, r, tapped } = pair({ cpus: 2, packets: 30_000 }, 'ixgbe');
    expect(r.packets.dropped.xdp_drop).toBe(want);
    expect(r.xdp!.maps.drop_ports.entries).toEqual([{ key: 8080, value: want }]);
    expect(xdpActions(r, 'drop')).toBe(want);
    expect(xdpActions(r, 'pass')).toBe(30_000 - want);
    expect(tapped.get(8080)).toBeUndefined(); // nothing of the port reached __netif_receive_skb_core
    expect(frames(tapped)).toBe(30_000 - want);
    expect(r.packets.delivered + r.packets.dropped.socket).toBe(30_000 - want);
    // 5.10's ixgbe counts a frame its program consumed in the ring's packets (ethtool -S).
    expect(r.nic_stats.rx_queue_0_packets + r.nic_stats.rx_queue_1_packets).toBe(30_000);
  });

  it("virtio (native, receive_mergeable): the same, and ethtool -S's rx_queue_N_xdp_* counters", () => {
    const { want, r } = pair({ cpus: 2, queues: 2, nic: 'virtio', 'virtio-max-queue-pairs': 4, packets: 30_000 }, 'virtio');
    expect(r.packets.dropped.xdp_drop).toBe(want);
    expect(r.xdp!.maps.drop_ports.entries).toEqual([{ key: 8080, value: want }]);
    const q = (k: string) => r.nic_stats[`rx_queue_0_${k}`] + r.nic_stats[`rx_queue_1_${k}`];
    expect(q('xdp_packets')).toBe(30_000);
    expect(q('xdp_drops')).toBe(want);
    expect(q('drops')).toBe(want);
    expect(q('xdp_tx') + q('xdp_redirects')).toBe(0);
  });

  it('generic XDP (the legacy driver; --xdp-mode generic on ixgbe): the same drops, after the backlog, before the taps', () => {
    for (const [name, flags] of [
      ['legacy', { cpus: 2, nic: 'legacy', 'netdev-max-backlog': 40_000, packets: 30_000 }],
      ['generic', { cpus: 2, 'xdp-mode': 'generic', packets: 30_000 }],
    ] as const) {
      const { want, base, r, tapped } = pair(flags, name);
      expect(base.packets.dropped.backlog).toBe(0);
      expect(r.xdp!.mode).toBe('generic');
      expect(r.packets.dropped.xdp_drop).toBe(want);
      expect(r.xdp!.maps.drop_ports.entries).toEqual([{ key: 8080, value: want }]);
      expect(tapped.get(8080)).toBeUndefined();
      // __netif_receive_skb_core counted every skb, the program's too; ip_rcv only what it passed.
      expect(sum(r.percpu.map((p) => p.processed))).toBe(30_000);
      expect(r.snmp.Ip.InReceives).toBe(30_000 - want);
    }
  });

  it('threads mode: the map, the drop reason and the actions agree; the tap never sees the port', async () => {
    const tap = join(dir, 'threads.pcapng');
    const r = await run({ cpus: 2, packets: 200_000, xdp: obj.drop_port, ...DROP, tap });
    const dropped = r.packets.dropped.xdp_drop;
    expect(dropped).toBeGreaterThan(0);
    expect(r.xdp!.maps.drop_ports.entries).toEqual([{ key: 8080, value: dropped }]);
    expect(xdpActions(r, 'drop')).toBe(dropped);
    expect(udpPorts(tap).get(8080)).toBeUndefined();
    expect(r.skb_pool.unaccounted).toBe(0);
  });
});

describe('the other actions', () => {
  it('XDP_TX (tx_swap.o): every frame transmitted, its buffer returned; nothing reaches the stack', () => {
    const r = sim({ cpus: 2, packets: 10_000, xdp: obj.tx_swap });
    expect(r.packets.dropped.xdp_tx).toBe(10_000);
    expect(xdpActions(r, 'tx')).toBe(10_000);
    expect(sum(r.percpu.map((p) => p.processed))).toBe(0);
    expect(r.skb_pool.unaccounted).toBe(0);
  });

  it('a percpu_array counter (count_cpu.o): each CPU counts the frames its hook ran on', () => {
    const r = sim({ cpus: 2, packets: 10_000, xdp: obj.count_cpu });
    const runs = r.xdp!.percpu.map((p) => p.runs);
    expect(sum(runs)).toBe(10_000);
    const v = r.xdp!.maps.rx_count.entries[0].values!;
    // struct counters { packets, bytes }: 16 bytes, printed as 0x and its bytes; packets is the first u64.
    const packets = v.map((e) => Number(BigInt.asUintN(64, BigInt(`0x${String(e.value).slice(2, 18).match(/../g)!.reverse().join('')}`))));
    expect(packets).toEqual(runs);
  });

  it('a program reading past data_end (oob.o): XDP_ABORTED, counted as a read fault, never a crash', () => {
    const r = sim({ cpus: 2, packets: 5_000, xdp: obj.oob });
    expect(r.packets.dropped.xdp_aborted).toBe(5_000); // 60-byte frames: data[100] is past data_end
    expect(sum(r.xdp!.percpu.map((p) => p.faults.read))).toBe(5_000);
    const long = sim({ cpus: 2, packets: 5_000, 'pkt-size': 128, xdp: obj.oob });
    expect(long.packets.dropped.xdp_aborted).toBe(0); // 124-byte frames have a data[100]
    expect(xdpActions(long, 'pass')).toBe(5_000);
  });
});

// rxsmp compare of RPS against the cpumap program, on one interrupt CPU with a heavy stack.
const ONE_IRQ: Flags = { cpus: 2, queues: 1, 'irq-affinity': 0, 'stack-cost-ns': 2000 };
const CPUMAP: Flags = { xdp: '', 'xdp-map': 'cpu_map=0:192,1:192;cpus_available=0:0,1:1;cpus_count=0:2' };

describe('cpumap, the other RPS (cpumap.o, as samples/bpf/xdp_redirect_cpu)', () => {
  it('sim: both conserve and keep every flow in order and on one CPU; the kthreads do the stack work', () => {
    const rps = sim({ ...ONE_IRQ, 'rps-cpus': 3, packets: 60_000 });
    const cm = sim({ ...ONE_IRQ, ...CPUMAP, xdp: obj.cpumap, packets: 60_000 });
    for (const r of [rps, cm]) {
      expect(r.ordering.out_of_order).toBe(0);
      expect(r.ordering.flows_moved_cpu).toBe(0);
    }
    // RPS: the backlogs; cpumap: the kthreads, one skb at a time to netif_receive_skb_core.
    expect(sum(rps.percpu.map((p) => p.enqueue_remote))).toBeGreaterThan(0);
    expect(sum(cm.percpu.map((p) => p.enqueue_local + p.enqueue_remote))).toBe(0);
    const kt = cm.xdp!.percpu_path.map((p) => p.cpumap_kthread_packets);
    expect(kt.every((n) => n > 0)).toBe(true);
    expect(sum(cm.percpu.map((p) => p.processed))).toBe(sum(kt));
    expect(cm.xdp!.percpu_path[0].redirected).toBe(60_000); // every frame through CPU 0's bulk queue
    const e = cm.xdp!.cpumaps.cpu_map;
    expect(sum(e.map((x) => x.enqueue_drops))).toBe(cm.packets.dropped.cpumap);
    expect(sum(e.map((x) => x.enqueued))).toBe(60_000);
  });

  it('sim: a full ring drops, counted as the xdp_cpumap_enqueue tracepoint counts; order holds', () => {
    const r = sim({ ...ONE_IRQ, xdp: obj.cpumap, 'xdp-map': 'cpu_map=1:8;cpus_available=0:1;cpus_count=0:1', packets: 30_000 });
    expect(r.packets.dropped.cpumap).toBeGreaterThan(0);
    expect(r.xdp!.cpumaps.cpu_map[0].enqueue_drops).toBe(r.packets.dropped.cpumap);
    expect(r.ordering.out_of_order).toBe(0);
  });

  it('threads mode: RPS and the cpumap both conserve and keep every flow in order', async () => {
    const rps = await run({ ...ONE_IRQ, 'rps-cpus': 3, packets: 150_000 });
    const cm = await run({ ...ONE_IRQ, ...CPUMAP, xdp: obj.cpumap, packets: 150_000 });
    for (const r of [rps, cm]) {
      expect(r.ordering.out_of_order).toBe(0);
      expect(r.skb_pool.unaccounted).toBe(0);
    }
    const e = cm.xdp!.cpumaps.cpu_map;
    expect(sum(e.map((x) => x.kthread_processed)) + cm.packets.dropped.cpumap).toBe(150_000);
  });
});

describe('drop all on one CPU: the point of XDP', () => {
  it("sim: the rate with XDP_DROP is more than twice the full stack's", () => {
    const stack = sim({ cpus: 1, packets: 100_000 });
    const drop = sim({ cpus: 1, packets: 100_000, xdp: obj.drop });
    expect(drop.packets.dropped.xdp_drop).toBe(100_000);
    const rate = (r: RunResult) => r.packets.generated / r.elapsed_s;
    expect(rate(drop) / rate(stack)).toBeGreaterThan(2);
    // The engine's instructions are counted (sim mode charges them): drop.o runs 2 per frame.
    expect(drop.xdp!.percpu_path[0].insns).toBe(200_000);
  });

  it('threads mode: every frame dropped in the driver, none processed', async () => {
    const r = await run({ cpus: 1, packets: 200_000, xdp: obj.drop });
    expect(r.packets.dropped.xdp_drop).toBe(200_000);
    expect(r.percpu[0].processed).toBe(0);
  });
});

describe('busy polling (net.core.busy_read, SO_BUSY_POLL): sk_busy_loop from recvmsg', () => {
  const AT = { cpus: 2, rate: 100_000, packets: 20_000 };
  const irqsPerPacket = (r: RunResult) => sum(r.percpu.map((p) => p.hardirqs)) / r.packets.generated;
  const taskNs = (r: RunResult) => sum(r.percpu.map((p) => p.busy.task_ns));

  it('sim at 100k pps: --busy-read 50 cuts the p50 latency and the interrupts per packet, and the task spins', () => {
    for (const seed of [1, 7]) {
      const off = sim({ ...AT, seed });
      const on = sim({ ...AT, seed, 'busy-read': 50 });
      expect(on.latency_ns.p50).toBeLessThan(off.latency_ns.p50);
      expect(irqsPerPacket(on)).toBeLessThan(irqsPerPacket(off));
      expect(taskNs(on)).toBeGreaterThan(10 * taskNs(off));
      expect(sum(on.busy_poll!.map((b) => b.packets))).toBe(on.snmp.TcpExt.BusyPollRxPackets);
      expect(on.snmp.TcpExt.BusyPollRxPackets).toBeGreaterThan(0);
      expect(off.busy_poll).toBeUndefined();
    }
  });

  it("SO_BUSY_POLL sets the sockets' sk_ll_usec as busy_read does; the legacy driver's skbs carry no napi to poll", () => {
    const a = sim({ ...AT, 'busy-read': 50 });
    const b = sim({ ...AT, 'so-busy-poll': 50 });
    expect(b.busy_poll).toEqual(a.busy_poll);
    expect(b.latency_ns).toEqual(a.latency_ns);
    const legacy = sim({ ...AT, nic: 'legacy', 'busy-read': 50 });
    expect(sum(legacy.busy_poll!.map((x) => x.passes))).toBe(0);
  });

  it('threads mode: conserves, and what the busy polls took is counted', async () => {
    const r = await run({ ...AT, packets: 50_000, 'busy-read': 50 });
    expect(r.snmp.TcpExt.BusyPollRxPackets).toBe(sum(r.busy_poll!.map((b) => b.packets)));
    expect(r.skb_pool.unaccounted).toBe(0);
  });
});

describe('the fuzz campaign draws XDP', () => {
  it('XDP programs and cpumap sizes from a stream of their own; those runs conserve and keep order', () => {
    const seeds: number[] = [];
    for (let s = 1; seeds.length < 16; s++) if ('xdp' in randomFlags(s)) seeds.push(s);
    for (const s of seeds) {
      const f = randomFlags(s);
      const v = checkRun(f);
      expect(v.ok, `${reproCommand(f)}: ${v.check} ${v.detail}`).toBe(true);
    }
    // The draw is additive: a seed without XDP draws what it drew before (run 2's configuration).
    const plain = randomFlags(2);
    expect('xdp' in plain).toBe(false);
  });

  it('every draw is a configuration the CLI accepts (a jumbo virtio draw runs its program generic)', () => {
    // Seed 3042 drew virtio with 9018-byte frames and a native program, which virtnet_xdp_set refuses.
    expect(randomSimFlags(3042, false)).toMatchObject({ nic: 'virtio', 'pkt-size': 9018, 'xdp-mode': 'generic' });
    for (let s = 1; s <= 4000; s++) {
      const f = randomSimFlags(s, false);
      if (!('xdp' in f)) continue;
      expect(() => configFromFlags(f), reproCommand(f)).not.toThrow();
    }
  });
});

describe('the hot path with a program attached', () => {
  it('allocates under 2 MiB in any thread over millions of packets (drop_port.o, a hash lookup and an atomic add per frame)', async () => {
    const r = await run({ ...HOT_PATH, xdp: obj.drop_port, 'xdp-map': 'drop_ports=8080:0' });
    for (const t of r.hot_path) {
      expect(t.window_packets, t.thread).toBeGreaterThan(300_000);
      expect(t.allocated_bytes, t.thread).toBeLessThan(HOT_PATH_ALLOC_MAX);
    }
  });
});

describe('the helpers on the receive path (helpers.o)', () => {
  it('adjust_head, adjust_tail, bpf_redirect and a devmap redirect, csum_diff and bpf_printk: every frame accounted for', () => {
    const r = sim({ cpus: 2, packets: 20_000, xdp: buildXdp('helpers'), 'xdp-map': 'tx_port=0:1' });
    const stats = r.xdp!.maps.stats.entries;
    const stat = (k: number) => stats.find((e) => e.key === k)?.value ?? 0;
    expect(stat(2)).toBeGreaterThan(4000); // heads moved 16 bytes into the headroom (a quarter or more)
    expect(stat(3)).toBeGreaterThan(2000); // tails trimmed by 4
    expect(stat(1)).toBe(0); // every IPv4 header's checksum folds to 0
    // Every redirect goes out of our port (bpf_redirect(1), devmap entry 0); a missing devmap key passes.
    expect(r.packets.dropped.xdp_tx).toBe(xdpActions(r, 'redirect'));
    expect(r.packets.dropped.xdp_redirect_err).toBe(0);
    expect(r.xdp!.trace.length).toBeGreaterThan(0);
    expect(r.xdp!.trace[0]).toMatch(/^cpu \d: csum ffff cpu \d rnd \d+$/);
    // A passed frame whose head moved carries 16 bytes before its IP header: ip_rcv rejects it.
    expect(r.packets.dropped.ip_hdr + r.packets.dropped.ip_csum).toBeGreaterThan(0);
    expect(r.skb_pool.unaccounted).toBe(0);
  });
});
