// rxsmp calibrate: measure the sim cost model (src/cpu/cost_model.ts) in threads mode on this
// machine and write it as an editable JSON file.
//
// Each figure comes from real threaded emulations (runEmulation), read from their per-CPU
// busy time split by context (hardirq + softirq + ksoftirqd: the receive path; task: recvmsg)
// and their counters. With GRO off, one UDP packet is one skb all the way:
//   A  1 CPU, no RPS                  per packet: clean + process
//   C  1 CPU, RPS to itself           per packet: clean + hash + enqueue + process
//   E  C with ixgbe's default UDP hash (addresses only): + the flow dissector, per skb it runs on
//   B  2 CPUs, RPS CPU 0 → CPU 1      CPU 0 per packet: clean + hash + enqueue + hand-off (+ IPIs)
//                                     CPU 1 per packet: process (backlog dequeue, IP, socket)
//   D  1 CPU, TCP, GRO on             per merged segment: what GRO saves of process
// C and B run with the NIC hashing UDP ports (`--rss-udp4 sdfn`), so get_rps_cpu finds an L4
// hash in the skb and the dissector runs only in E.
// so clean = A − B1', hash + enqueue = C − A, dissect = E − C, hand-off = B0 − clean − (C − A).
// Splits the runs cannot tell apart use fixed shares, said where they are made (process vs
// delivery 2:1, hash vs enqueue 1:1). Interrupt and IPI latency: a cross-thread hand-off
// measured by ping-pong between two workers, plus half the time between the kernel's check
// points (32 packets of receive work), which is when a busy CPU in threads mode takes them.
// The device's cost per packet is not the emulator's generator thread (a host artifact) but the
// wire: a 64-byte frame (+ 20 bytes of preamble and gap) at 10 Gb/s, 67 ns; edit it for
// other links. When run B's cross-CPU processing costs more than A's local one (cache misses
// on the other core), A − B1 cannot isolate the driver's share: a third of A is taken then.

import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import { configFromFlags } from './configure.js';
import { InterruptedError, runEmulation } from './run.js';
import type { RunResult } from './result.js';
import { COST_SCHEMA, DEFAULT_COST_MODEL, type CostModel } from '../cpu/cost_model.js';
import { boot } from './boot.js';
import { VirtioNetBackend } from '../devices/virtio_net_backend.js';
import { virtqueue_add_inbuf, virtqueue_get_buf, virtqueue_notify } from '../drivers/virtio_ring.js';
import { VIRTIO_NET_HDR_LEN } from '../shm/virtqueue.js';

type Flags = Record<string, string | number>;

/** Receive-path busy ns per unit on one CPU of a run. */
function rxBusy(r: RunResult, cpu: number): number {
  const b = r.percpu[cpu].busy;
  return b.hardirq_ns + b.softirq_ns + b.ksoftirqd_ns;
}

/** One-way latency of a cross-thread store seen by a spinning thread (ns): the least of 7 ping-pongs. */
async function handoffNs(): Promise<number> {
  const all: number[] = [];
  for (let k = 0; k < 7; k++) all.push(await pingPongNs(4000));
  return Math.min(...all);
}

async function pingPongNs(rounds: number): Promise<number> {
  const sab = new SharedArrayBuffer(8);
  const code = `
    const { workerData } = require('node:worker_threads');
    const a = new Int32Array(workerData);
    for (let i = 1; i <= ${rounds}; i++) {
      while (Atomics.load(a, 0) !== i) {}
      Atomics.store(a, 1, i);
    }`;
  const w = new Worker(code, { eval: true, workerData: sab });
  const a = new Int32Array(sab);
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  for (let i = 1; i <= rounds; i++) {
    Atomics.store(a, 0, i);
    while (Atomics.load(a, 1) !== i) {
      /* spin: the other side polls as a busy CPU does */
    }
  }
  const rtt = ((performance.now() - t0) * 1e6) / rounds;
  await w.terminate();
  return rtt / 2;
}

const REPS = 3;

/** One run of the measurement; a signal stops it, and the measurement with it. */
async function measured(cfg: Config, signal: AbortSignal | undefined): Promise<RunResult> {
  const r = await runEmulation(cfg, { signal });
  if (r.interrupted || signal?.aborted) throw new InterruptedError(`${signal?.reason ?? 'signal'} during a run`);
  return r;
}
const round = (x: number) => Math.max(1, Math.round(x));

export async function calibrate(packets: number, log: (s: string) => void, signal?: AbortSignal): Promise<CostModel> {
  // An unlimited wire: the runs measure the CPUs, never the line rate.
  const base: Flags = { queues: 1, gro: 'off', proto: 'udp', flows: 64, packets, 'latency-sample': 0, 'link-speed': 0 };
  log(`calibrate: threads mode, ${packets} packets per run, each figure the least of ${REPS} repetitions`);
  // Interference (other threads, the host: 2 cores run 3 to 4 threads here) only ever slows
  // a run down, so the least of a few repetitions is the closest to the machine's own cost.
  const perA = [],
    perC = [],
    perE = [],
    dissected = [],
    perB0 = [],
    perB1 = [],
    recv = [],
    hirq = [],
    perD = [];
  let D!: RunResult;
  const runs: RunResult[] = [];
  for (let k = 0; k < REPS; k++) {
    const A = await measured(configFromFlags({ ...base, cpus: 1 }), signal);
    const C = await measured(configFromFlags({ ...base, cpus: 1, 'rps-cpus': 1, 'rss-udp4': 'sdfn' }), signal);
    const E = await measured(configFromFlags({ ...base, cpus: 1, 'rps-cpus': 1 }), signal);
    const B = await measured(configFromFlags({ ...base, cpus: 2, 'rps-cpus': 2, 'app-cpus': 1, 'rss-udp4': 'sdfn' }), signal);
    D = await measured(configFromFlags({ ...base, cpus: 1, proto: 'tcp', flows: 8, gro: 'on' }), signal);
    runs.push(A, C, E, B, D);
    perA.push(rxBusy(A, 0) / A.packets.generated);
    perC.push(rxBusy(C, 0) / C.packets.generated);
    perE.push(rxBusy(E, 0) / E.packets.generated);
    dissected.push(E.percpu[0].flow_dissected / E.packets.generated);
    perB0.push(rxBusy(B, 0) / Math.max(1, B.percpu[0].enqueue_remote));
    perB1.push(rxBusy(B, 1) / Math.max(1, B.percpu[1].processed));
    recv.push(
      (A.percpu[0].busy.task_ns + B.percpu[1].busy.task_ns) / Math.max(1, A.percpu[0].recvmsg_packets + B.percpu[1].recvmsg_packets),
    );
    const irqs = A.percpu[0].hardirqs + B.percpu[0].hardirqs + B.percpu[1].ipis_received;
    hirq.push((A.percpu[0].busy.hardirq_ns + B.percpu[0].busy.hardirq_ns + B.percpu[1].busy.hardirq_ns) / Math.max(1, irqs));
    perD.push(rxBusy(D, 0));
  }
  const least = (xs: number[]) => Math.min(...xs);
  const [a, c, b0, b1, recvmsg, hardirq] = [least(perA), least(perC), least(perB0), least(perB1), least(recv), least(hirq)];
  // Per skb the dissector ran on (in E every packet's: one skb each, hashed once).
  const dissect = Math.max(10, (least(perE) - c) / Math.max(1e-9, least(dissected)));
  const process_all = Math.max(20, b1);
  const clean = Math.max(a / 3, a - process_all);
  const hash_enq = Math.max(10, c - a);
  const handoff = Math.max(0, b0 - clean - hash_enq);
  // D: per segment = clean, and process only for the skbs GRO lets through.
  const dSegs = D.packets.generated;
  const dSkbs = D.percpu[0].processed;
  const merged = Math.max(1, D.percpu[0].gro_merged);
  const gro = Math.max(5, (least(perD) - dSegs * clean - dSkbs * process_all) / merged);
  for (const [what, ns, per] of [
    ['A: receive path, 1 CPU, no RPS', a, 'packet'],
    ['C: receive path, 1 CPU, RPS to itself', c, 'packet'],
    ['E - C: the flow dissector', dissect, 'dissected skb'],
    ['B: RPS 0 -> 1, CPU 0 (clean, steer, hand off)', b0, 'packet steered'],
    ['B: RPS 0 -> 1, CPU 1 (backlog, IP, socket)', b1, 'packet'],
    ['recvmsg (the application task)', recvmsg, 'packet read'],
    ['hardirq (interrupt and IPI entry)', hardirq, 'interrupt'],
  ] as const) {
    log(`  ${`${what}:`.padEnd(48)} ${Math.round(ns).toLocaleString('en-US').padStart(7)} ns per ${per}`);
  }
  const handoff1 = await handoffNs();
  const checkpoint = 16 * (clean + process_all);
  log(`  ${'cross-thread hand-off (ping-pong):'.padEnd(48)} ${Math.round(handoff1).toLocaleString('en-US').padStart(7)} ns`);
  for (const w of calibrationWarnings(runs, { hardirq, recvmsg, clean, process_all })) log(`calibrate: warning: ${w}`);
  return {
    schema: COST_SCHEMA,
    source: `rxsmp calibrate on ${hostname()} at ${new Date().toISOString()} (threads mode, ${packets} packets per run)`,
    hardirq_ns: round(hardirq),
    softirq_ns: round(hardirq), // entry and exit cost like an interrupt's: not separable here
    desc_clean_ns: round(clean),
    gro_merge_ns: round(Math.min(gro, clean)),
    hash_ns: round(hash_enq / 2), // the 1:1 split (see above)
    flow_dissect_ns: round(dissect),
    enqueue_ns: round(hash_enq / 2),
    lock_handoff_ns: round(handoff),
    process_ns: round((process_all * 2) / 3), // the 2:1 split
    delivery_ns: round(process_all / 3),
    recvmsg_ns: round(recvmsg),
    ipi_send_ns: round(handoff1),
    ipi_latency_ns: round(handoff1 + checkpoint),
    irq_latency_ns: round(handoff1 + checkpoint),
    device_ns: 67, // the wire, not measured: see above
    step_ns: DEFAULT_COST_MODEL.step_ns,
    tap_ns: DEFAULT_COST_MODEL.tap_ns, // not measured: the built-in estimate
    // --xdp and busy polling: not measured here (the engine needs a BPF object, which
    // `npm run bench:bpf` builds with clang and times): the built-in figures
    xdp_run_ns: DEFAULT_COST_MODEL.xdp_run_ns,
    xdp_insn_ns: DEFAULT_COST_MODEL.xdp_insn_ns,
    cpumap_enqueue_ns: DEFAULT_COST_MODEL.cpumap_enqueue_ns,
    cpumap_kthread_ns: DEFAULT_COST_MODEL.cpumap_kthread_ns,
    busy_poll_ns: DEFAULT_COST_MODEL.busy_poll_ns,
    ...virtioCosts(log),
  };
}

/** Below this a per-packet or per-interrupt figure is not a measurement (a clock read costs more). */
const IMPLAUSIBLE_NS = 10;

/**
 * Why the figures may not be this machine's own: runs the host disturbed (a worker thread
 * waited for a core DISTURBED_WAIT_SHARE of its loop: host.disturbed), and figures too small
 * to be a cost (busy time lost to preemption inside a measured span shows as nearly nothing).
 */
export function calibrationWarnings(runs: RunResult[], figures: Record<string, number>): string[] {
  const out: string[] = [];
  const hit = runs.filter((r) => r.host.disturbed);
  if (hit.length > 0) {
    const worst = hit.map((r) => r.host.disturbance.worst!).reduce((x, y) => (y.share > x.share ? y : x));
    out.push(
      `the host disturbed ${hit.length} of ${runs.length} runs (worst: ${worst.thread}'s thread waited for a core ${Math.round(worst.share * 100)}% of its run): ` +
        'the figures carry the host scheduler; measure again on a quiet machine',
    );
  }
  for (const [name, ns] of Object.entries(figures)) {
    if (ns < IMPLAUSIBLE_NS)
      out.push(`${name} measured ${ns.toFixed(1)} ns, below anything it can cost: the host interfered; measure again on a quiet machine`);
  }
  return out;
}

/**
 * The virtio path's own figures, from the real code in a loop on this thread (a threaded run
 * cannot separate them: QEMU's side is the device thread, which also waits): QEMU's
 * virtio_net_receive_rcu for a 64-byte frame into a 256-entry ring whose buffers the loop
 * gives back between batches (untimed), and the guest's kick (virtqueue_notify). Least of 7.
 */
/** get_mergeable_buf_len's smallest buffer: header + GOOD_PACKET_LEN (1518), to a 64-byte line. */
const MRG_BUF_LEN_MIN = Math.ceil((VIRTIO_NET_HDR_LEN + 1518) / 64) * 64;

export function virtioCosts(log: (s: string) => void): Pick<CostModel, 'virtio_device_ns' | 'virtio_kick_ns'> {
  const shm = boot(configFromFlags({ nic: 'virtio', cpus: 1, 'pkt-size': 64, flows: 1 }));
  const dev = new VirtioNetBackend(shm, shm.cfg.pkt_size - 4); // the FCS is not DMA'd
  const ring = shm.cfg.ring_size;
  const slots = new Int32Array(ring);
  let device = Infinity;
  let kick = Infinity;
  for (let rep = 0; rep < 7; rep++) {
    let ns = 0;
    for (let batch = 0; batch < 200; batch++) {
      const t0 = performance.now();
      for (let i = 0; i < ring; i++) if (dev.virtio_net_receive_rcu(0, 0) === 0) throw new Error('calibrate: virtio ring ran dry');
      ns += (performance.now() - t0) * 1e6;
      for (let i = 0; i < ring; i++) slots[i] = virtqueue_get_buf(shm, 0);
      for (let i = 0; i < ring; i++) virtqueue_add_inbuf(shm, 0, shm.skbData(slots[i]) - VIRTIO_NET_HDR_LEN, MRG_BUF_LEN_MIN, slots[i]);
    }
    device = Math.min(device, ns / (200 * ring));
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) virtqueue_notify(shm, 0);
    kick = Math.min(kick, ((performance.now() - t0) * 1e6) / 100_000);
  }
  log(`  virtio: QEMU receive ${device.toFixed(0)} ns per packet, guest kick ${kick.toFixed(0)} ns`);
  return { virtio_device_ns: round(device), virtio_kick_ns: round(kick) };
}

/** The measured model (the command writes it); an interrupted measurement throws InterruptedError. */
export async function calibrateMain(packets: number, log: (s: string) => void, signal?: AbortSignal): Promise<CostModel> {
  const model = await calibrate(packets, log, signal);
  if (signal?.aborted) throw new InterruptedError(`${signal.reason ?? 'signal'}`);
  return model;
}
