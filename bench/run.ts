// The benchmark suite (`npm run bench`, i.e. `node dist/bench/run.js [--quick] [--only rx|handoff|rps]`;
// with `--baseline REF`, the hot-path comparison of bench/hotpath.ts instead).
//
// What it measures, and why the comparisons are fair:
//  - "rx 1cpu": delivered packets per second of the whole emulated receive path (NIC DMA,
//    MSI-X, NAPI, ixgbe clean, GRO, IP/UDP, socket, recvmsg) on one emulated CPU with one
//    queue, 64-byte frames, closed loop (--rate max), no latency stamping. Two threads: the
//    device worker and the CPU worker.
//  - "raw handoff" (bench/handoff.ts): the same two threads handing items over a 512-slot
//    SharedArrayBuffer ring with the emulator's synchronization granularity and nothing else,
//    twice: 4-byte sequence numbers (the bare transport), and 64-byte frames copied in from a
//    template and read whole (the transport carrying what the NIC carries). The ratio
//    handoff/rx is what the receive stack costs over the cross-thread transport (target:
//    within 8x; absolute target for rx: 10 Mpps); both ratios are printed.
//  - "RPS": one queue whose interrupt lands on CPU 0, the application on CPU 1, a calibrated
//    2 us (then 5 us) of stack work per packet, 1024 UDP flows, 1.5M packets (shorter runs
//    measure the JIT's warm-up); RPS off (CPU 0 does everything) vs on with rps_cpus 3 (each
//    flow hashed to CPU 0's or CPU 1's backlog, CPU 1 woken by IPI). Same knobs otherwise;
//    target ratio on/off >= 1.6. Why mask 3 and not 2: with RPS to CPU 1 alone, CPU 1 takes
//    all the stack work and CPU 0 only the driver's, so on 2 CPUs the gain is bounded by
//    (rx + stack) / stack, about 1.15x here, in Linux as in rxsmp. The RPS-on runs also print
//    what the host gave each thread (the run's `host` section), which bounds the ratio. Pair
//    i of a comparison runs seed i on both sides (a new flow set per pair: how 1024 flows
//    hash between two CPUs is luck, 53:47 for seed 1). Next to each comparison, the same
//    pairs in sim mode on a cost model calibrated at the start of the RPS section: what the
//    emulated kernel gives on this machine's per-packet costs, with no host scheduling in it.
//    The 2000 ns case runs a second time with the threads pinned (--host-cpus): CPU 0, which
//    takes the interrupts, on a core of its own, CPU 1 and the device on the other.
// Runs of the two sides of each comparison alternate (A, B, A, B, ...) in one process, so
// machine noise hits both alike; every figure is a median. Every emulator run must conserve
// packets (generated == delivered + drops) or the bench aborts.

import os from 'node:os';
import { parseRunArgs } from '../src/cli/run.js';
import { median } from './stats.js';
import { runEmulation } from '../src/engine/run.js';
import { conserves, type RunResult } from '../src/engine/result.js';
import { handoffRate } from './handoff.js';
import { calibrate } from '../src/engine/calibrate.js';
import { DEFAULT_COST_MODEL, type CostModel } from '../src/cpu/cost_model.js';
import { simulate } from '../src/engine/sim_run.js';
import { allowedCores } from '../src/host/host.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
if (only !== undefined && !['rx', 'handoff', 'rps'].includes(only)) {
  console.error(`--only: '${only}' is not valid; expected rx, handoff or rps`);
  process.exit(2);
}
const wants = (b: string) => only === undefined || only === b;

const RUNS = quick ? 3 : 5;
// 6M: a run's first million packets include 100-160 ms of CPU idle while the JIT warms both
// threads up (measured: 1M, 3M and 9M packets gave 2.0, 3.1 and 3.4 Mpps in one sitting).
const RX_PACKETS = quick ? 500_000 : 6_000_000;
const HANDOFF_ITEMS = quick ? 5_000_000 : 20_000_000;
const RPS_PACKETS = quick ? 200_000 : 1_500_000;
const RX_TARGET_PPS = 10e6;
const HANDOFF_RX_TARGET = 8;
const RPS_TARGET = 1.6;
const CALIBRATE_PACKETS = 1_000_000;
const MODEL_SEEDS = Array.from({ length: RUNS }, (_, i) => i + 1); // as the threads-mode pairs (seed i + 1 for pair i)
const MODEL_PACKETS = 200_000;

const RX_FLAGS = ['--cpus', '1', '--queues', '1', '--pkt-size', '64', '--rate', 'max', '--latency-sample', '0'];
// --ring-size 2048 was tried on both sides (fewer wake-ups of the closed-loop wire, each of
// which can preempt an emulated CPU on two cores): it moved both sides up alike and let CPU 0
// overrun CPU 1's backlog while the host preempted CPU 1, so the default ring stays.
const RPS_FLAGS = ['--cpus', '2', '--queues', '1', '--irq-affinity', '0', '--app-cpus', '1', '--flows', '1024'];
/**
 * The RPS comparisons. UDP flows, with the NIC hashing the ports as RPS tuning guides set it
 * up (`ethtool -N rx-flow-hash udp4 sdfn`: the skb then carries an L4 hash and get_rps_cpu
 * uses it); then the same with ixgbe's default UDP hash (addresses only), where skb_get_hash
 * runs the flow dissector and siphash on every steered packet, as 5.10 does; then a heavier
 * stack. 2000 ns is the issue's example.
 */
interface RpsCase {
  key: string;
  label: string;
  cost: number;
  flags: string[];
  /** Threads mode only (sim mode has no threads to pin): --host-cpus. */
  threadFlags?: string[];
}
/**
 * The pinned case: CPU 0's thread on a core of its own, CPU 1 and the device sharing the other
 * (on 3 or more cores, a core each). Same pinning on both sides of the comparison.
 */
const CORES = allowedCores();
const PIN = (CORES.length >= 3 ? CORES.slice(0, 3) : [CORES[0], CORES[1], CORES[1]]).join(',');
const RPS_CASES: RpsCase[] = [
  { key: 'rps_2000ns', label: '2000 ns, udp4 sdfn', cost: 2000, flags: ['--rss-udp4', 'sdfn'] },
  ...(CORES.length >= 2
    ? [
        {
          key: 'rps_2000ns_pinned',
          label: `2000 ns, udp4 sdfn, --host-cpus ${PIN}`,
          cost: 2000,
          flags: ['--rss-udp4', 'sdfn'],
          threadFlags: ['--host-cpus', PIN],
        },
      ]
    : []),
  { key: 'rps_2000ns_dissect', label: '2000 ns, udp4 sd (flow dissector)', cost: 2000, flags: [] },
  { key: 'rps_5000ns', label: '5000 ns, udp4 sdfn', cost: 5000, flags: ['--rss-udp4', 'sdfn'] },
];

class BenchError extends Error {}

/** One emulation from rxsmp-run style flags; aborts the bench if it fails or does not conserve. */
async function emulate(label: string, flags: string[]): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await runEmulation(parseRunArgs(flags).cfg);
  } catch (e) {
    throw new BenchError(
      `${label}: runEmulation threw (rxsmp run ${flags.join(' ')}):\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
  }
  if (!conserves(r)) {
    throw new BenchError(
      `${label}: run does not conserve packets (rxsmp run ${flags.join(' ')}): generated ${r.packets.generated}, ` +
        `delivered ${r.packets.delivered}, dropped ${JSON.stringify(r.packets.dropped)}`,
    );
  }
  return r;
}

const mpps = (x: number) => `${(x / 1e6).toFixed(2)} Mpps`;
const each = (xs: number[]) => `[${xs.map((x) => (x / 1e6).toFixed(2)).join(', ')}]`;

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const cores = os.cpus().length;
  console.log(`machine: ${cpu}, ${cores} cores, node ${process.version}${quick ? ' (quick)' : ''}`);
  const summary: Record<string, unknown> = { bench: 'rx1cpu', cpu, cores, node: process.version, runs: RUNS, quick };

  // rx 1cpu vs raw handoff, interleaved.
  const rx: number[] = [];
  const handoff: number[] = [];
  const handoffFrames: number[] = [];
  if (wants('rx') || wants('handoff')) {
    const rxFlags = [...RX_FLAGS, '--packets', String(RX_PACKETS)];
    if (wants('rx')) console.log(`rx 1cpu: rxsmp run ${rxFlags.join(' ')}`);
    if (wants('handoff')) console.log(`raw handoff: handoffRate(${HANDOFF_ITEMS}), ring 512, burst 64, 4-byte and 64-byte items`);
    for (let i = 0; i < RUNS; i++) {
      if (wants('rx')) rx.push((await emulate('rx 1cpu', rxFlags)).pps);
      if (wants('handoff')) handoff.push(await handoffRate(HANDOFF_ITEMS));
      if (wants('handoff')) handoffFrames.push(await handoffRate(HANDOFF_ITEMS / 4, 16));
    }
  }
  if (rx.length) {
    const m = median(rx);
    console.log(`rx 1cpu: median ${mpps(m)} of ${each(rx)}; 10 Mpps target ${m >= RX_TARGET_PPS ? 'met' : 'NOT met'}`);
    Object.assign(summary, { rx_pps: Math.round(m), rx_runs: rx.map(Math.round), rx_target_met: m >= RX_TARGET_PPS });
  }
  // The raw handoff is a ceiling: the host's noise only ever slows it down (one bench run saw
  // three of five 64-byte runs at 11-13 M/s against 26-28), and a collapsed ceiling would
  // pass the ratio for nothing. So the ratios are taken against its best run.
  const best = (xs: number[]) => Math.max(...xs);
  if (handoff.length) {
    const m = median(handoff);
    const mf = median(handoffFrames);
    console.log(
      `raw handoff, 4-byte items: best ${(best(handoff) / 1e6).toFixed(2)}, median ${(m / 1e6).toFixed(2)} M items/s of ${each(handoff)}`,
    );
    console.log(
      `raw handoff, 64-byte frames: best ${(best(handoffFrames) / 1e6).toFixed(2)}, median ${(mf / 1e6).toFixed(2)} M frames/s of ${each(handoffFrames)}`,
    );
    Object.assign(summary, {
      handoff_per_s: Math.round(best(handoff)),
      handoff_median_per_s: Math.round(m),
      handoff_runs: handoff.map(Math.round),
      handoff_frames_per_s: Math.round(best(handoffFrames)),
      handoff_frames_median_per_s: Math.round(mf),
      handoff_frames_runs: handoffFrames.map(Math.round),
    });
  }
  if (rx.length && handoff.length) {
    const ratio = best(handoff) / median(rx);
    const ratioFrames = best(handoffFrames) / median(rx);
    const verdict = (r: number) => (r <= HANDOFF_RX_TARGET ? 'met' : 'NOT met');
    console.log(
      `handoff (best) / rx (median): ${ratio.toFixed(2)}x against 4-byte items (target within ${HANDOFF_RX_TARGET}x: ${verdict(ratio)})`,
    );
    console.log(
      `handoff (best) / rx (median): ${ratioFrames.toFixed(2)}x against 64-byte frames (target within ${HANDOFF_RX_TARGET}x: ${verdict(ratioFrames)})`,
    );
    Object.assign(summary, {
      handoff_over_rx: +ratio.toFixed(2),
      handoff_over_rx_met: ratio <= HANDOFF_RX_TARGET,
      handoff_frames_over_rx: +ratioFrames.toFixed(2),
      handoff_frames_over_rx_met: ratioFrames <= HANDOFF_RX_TARGET,
    });
  }

  // RPS off vs on, interleaved, at the issue's stack cost and at a heavier one; each next to
  // what the kernel model gives on this machine's costs, without the host's scheduling.
  if (wants('rps')) {
    const model = quick ? DEFAULT_COST_MODEL : await calibrate(CALIBRATE_PACKETS, (s) => console.log(s));
    for (const c of RPS_CASES) Object.assign(summary, await rpsComparison(c), c.threadFlags ? {} : modelRatio(c, model));
  }

  console.log(JSON.stringify(summary));
}

// `npm run bench -- --baseline REF [--pairs N] [--packets N]` is the hot-path comparison
// (bench/hotpath.ts): this build against REF and the floor loop, in one sitting.
(args.includes('--baseline') ? import('./hotpath.js') : main()).catch((e: unknown) => {
  console.error(e instanceof BenchError ? `bench aborted: ${e.message}` : e);
  process.exit(1);
});

/** RPS off vs on at one stack cost: medians, drops, IPIs, the ratio against the target. */
async function rpsComparison(rc: RpsCase): Promise<Record<string, unknown>> {
  const { cost, label } = rc;
  const base = [...RPS_FLAGS, ...rc.flags, ...(rc.threadFlags ?? []), '--stack-cost-ns', String(cost), '--packets', String(RPS_PACKETS)];
  const offFlags = [...base, '--rps-cpus', '0'];
  const onFlags = [...base, '--rps-cpus', '3'];
  console.log(`rps off: rxsmp run ${offFlags.join(' ')} --seed i (i = 1..${RUNS}, one per pair)`);
  console.log(`rps on:  rxsmp run ${onFlags.join(' ')} --seed i`);
  const off: number[] = [];
  const on: number[] = [];
  const ipis: number[] = [];
  const rps: number[] = [];
  const hostOn: RunResult[] = []; // what the host gave each thread: the bound on the ratio
  const dropsOff: number[] = []; // pps counts delivered packets: show what the backlog dropped
  const dropsOn: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Pair i runs seed i + 1 on both sides: a new flow set each pair, the same for off and on.
    const seed = ['--seed', String(i + 1)];
    const o = await emulate('rps off', [...offFlags, ...seed]);
    off.push(o.pps);
    dropsOff.push(o.packets.generated - o.packets.delivered);
    const r = await emulate('rps on', [...onFlags, ...seed]);
    on.push(r.pps);
    dropsOn.push(r.packets.generated - r.packets.delivered);
    hostOn.push(r);
    ipis.push(r.percpu[0].ipis_sent);
    rps.push(r.percpu[1].received_rps);
  }
  const mOff = median(off);
  const mOn = median(on);
  const ratio = mOn / mOff;
  console.log(`rps off (${label}): median ${mpps(mOff)} of ${each(off)}; dropped median ${median(dropsOff)} of ${RPS_PACKETS}`);
  console.log(`rps on  (${label}): median ${mpps(mOn)} of ${each(on)}; dropped median ${median(dropsOn)} of ${RPS_PACKETS}`);
  console.log(`rps on:  cpu0 ipis_sent median ${median(ipis)}, cpu1 received_rps median ${median(rps)}`);
  const threads = hostOn[0].host.threads.map((t) => t.thread);
  if (threads.length) {
    const cpuS = (name: string) => median(hostOn.map((r) => r.host.threads.find((t) => t.thread === name)?.cpu_s ?? 0));
    console.log(
      `rps on:  host CPU time, medians: ${threads.map((name) => `${name} ${cpuS(name).toFixed(2)} s`).join(', ')} ` +
        `over ${median(hostOn.map((r) => r.elapsed_s)).toFixed(2)} s elapsed, on ${hostOn[0].host.cores} cores`,
    );
  }
  console.log(`rps on/off (${label}): ${ratio.toFixed(2)}x (target >= ${RPS_TARGET}x: ${ratio >= RPS_TARGET ? 'met' : 'NOT met'})`);
  const k = rc.key;
  return {
    [`${k}_off_pps`]: Math.round(mOff),
    [`${k}_on_pps`]: Math.round(mOn),
    [`${k}_on_over_off`]: +ratio.toFixed(2),
    [`${k}_target_met`]: ratio >= RPS_TARGET,
    [`${k}_off_dropped`]: median(dropsOff),
    [`${k}_on_dropped`]: median(dropsOn),
    [`${k}_cpu0_ipis_sent`]: median(ipis),
    [`${k}_cpu1_received_rps`]: median(rps),
  };
}

/**
 * The same comparison in sim mode: the emulated kernel on virtual time, priced by the cost
 * model calibrated on this machine just before (a whole core per emulated CPU, the device
 * free, no host scheduling). Seeds 1..runs draw different flow sets, so the luck of how the
 * flows hash between the two CPUs evens out. What threads mode loses against this is the
 * host's: four threads on two cores.
 */
function modelRatio(rc: RpsCase, model: CostModel): Record<string, unknown> {
  const flags = [...RPS_FLAGS, ...rc.flags, '--mode', 'sim', '--stack-cost-ns', String(rc.cost), '--packets', String(MODEL_PACKETS)];
  const ratios = MODEL_SEEDS.map((seed) => {
    const pps = (mask: string) => simulate(parseRunArgs([...flags, '--seed', String(seed), '--rps-cpus', mask]).cfg, model).result.pps;
    return pps('3') / pps('0');
  });
  const m = median(ratios);
  console.log(
    `rps on/off (${rc.label}) in sim mode on the ${model === DEFAULT_COST_MODEL ? 'built-in' : 'just calibrated'} cost model: ` +
      `median ${m.toFixed(2)}x of [${ratios.map((r) => r.toFixed(2)).join(', ')}] (seeds ${MODEL_SEEDS.join(', ')})`,
  );
  return { [`${rc.key}_model_on_over_off`]: +m.toFixed(2) };
}
