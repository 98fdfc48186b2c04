// rxsmp fuzz: a campaign of random configurations × seeds in sim mode, run in parallel on a
// piscina pool (workers/fuzz_worker.ts), each run checked for
//   conservation  generated == delivered + every drop, and generated == --packets
//   ordering      no out-of-order delivery where the kernel guarantees order (orderingGuaranteed)
//   progress      the run drains: no moment with packets in flight and nothing able to run,
//                 no stretch of watchdog_s virtual seconds without a packet moving
//   crash         no kernel assertion fires (e.g. a descriptor below RDH without DD)
// Run i of campaign seed S uses seed S + i for everything: its configuration (drawn by the
// PRNG), its traffic and its interleavings; with --seeds-per-config K, K consecutive runs
// share one configuration (drawn from S + ⌊i / K⌋) and differ in traffic and interleavings. A failure prints the one command that reproduces
// it, then shrinks the configuration greedily (fewer CPUs, queues, packets, flows; features
// off; knobs back to defaults), keeping each step that still fails the same check, and
// prints the shrunk command too. The campaign stops at its first failure (the lowest run
// index: runs are judged in order, in batches as wide as the pool).

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { KNOBS, maskToCpus, optionName, type Config, type FuzzRange, type KnobKey } from '../config/schema.js';
import { NIC_MODELS, nicModel, type Nic, type NicModel } from '../config/nics.js';
import { configFromFlags } from './configure.js';
import { Prng, seedFromString } from '../lib/prng.js';
import { count, duration } from '../lib/units.js';
import { conserves, unread } from './result.js';
import { simulate, SimStuckError } from './sim_run.js';
import { AssertionFailure } from '../shm/assert.js';
import { WORKERS_DIR } from '../paths.js';
import { buildXdp, ensureXdpObject, XDP_DIR } from './xdp_programs.js';
import { virtioXdpMtuTooLarge } from '../config/xdp.js';

export type Flags = Record<string, string | number>;
export type Check = 'conservation' | 'ordering' | 'progress' | 'crash' | 'assertion';

export interface Verdict {
  ok: boolean;
  check?: Check;
  detail?: string;
  /** Whether the ordering check applied to this run (see orderingGuaranteed). */
  ordering_checked: boolean;
  packets: number;
  out_of_order: number;
}

export interface FuzzTask {
  flags: Flags;
}

/** The knobs whose schema entry gives a fuzz range (config/schema.ts), in the order of KNOBS, with their flags. */
const FUZZ_KNOBS = (Object.keys(KNOBS) as KnobKey[]).flatMap((key) => {
  const range = KNOBS[key].fuzz;
  return range === undefined ? [] : [{ key, flag: optionName(key).slice(2), range }];
});

/** One value of a knob's fuzz range. */
function drawIn(r: Prng, x: FuzzRange): number | string {
  if (x.between !== undefined) return x.between[0] + r.nextInt(x.between[1] - x.between[0] + 1);
  return x.pick![r.nextInt(x.pick!.length)];
}

/** A random sim configuration from one seed. The unsafe knob is the only thing `unsafe` changes. */
export function randomSimFlags(seed: number, unsafe: boolean): Flags {
  return randomFlags(seed, { unsafe });
}

export interface RandomFlagsOptions {
  unsafe?: boolean;
  /** 'sim' (the fuzz campaign) or 'threads' (the stress test's real threads). */
  mode?: 'sim' | 'threads';
  /** Draw at most this many CPUs (threads mode: a worker each). */
  maxCpus?: number;
}

/**
 * A random configuration from one seed, for the fuzz campaign (sim) and the stress test
 * (threads). With the defaults it is the campaign's draw, so reproduction commands stay valid.
 */
export function randomFlags(seed: number, o: RandomFlagsOptions = {}): Flags {
  const unsafe = o.unsafe ?? false;
  const p = new Prng(seed).fork(0xf022);
  const pick = <T>(xs: readonly T[]): T => xs[p.nextInt(xs.length)]!;
  const between = (lo: number, hi: number) => lo + p.nextInt(hi - lo + 1);
  const mask = (cpus: number) => (1 + p.nextInt(2 ** cpus - 1)).toString(16);
  const cpus = pick([1, 2, 2, 3, 4, 4, 6, 8, 12, 16].filter((n) => n <= (o.maxCpus ?? 16)));
  const legacy = p.nextFloat() < 0.15;
  const queues = legacy ? 1 : between(1, Math.min(8, cpus + 1));
  const rfs = !legacy && p.nextFloat() < 0.4;
  const f: Flags = {
    mode: o.mode ?? 'sim',
    seed,
    cpus,
    queues,
    nic: legacy ? 'legacy' : 'ixgbe',
    'irq-affinity': Array.from({ length: queues }, () => p.nextInt(cpus)).join(','),
    'ring-size': 8 * between(8, 128),
    // the knobs of the main stream (their schema entries' fuzz ranges), in the order of KNOBS
    ...Object.fromEntries(FUZZ_KNOBS.filter((k) => k.range.main).map((k) => [k.flag, drawIn(p, k.range)])),
    gro: pick(['on', 'off']),
    proto: rfs ? 'tcp' : pick(['udp', 'tcp', 'mix']),
    flows: rfs ? between(1, 32) : between(1, 300),
    'flow-dist': pick(['uniform', 'zipf']),
    rate: p.nextFloat() < 0.5 ? 'max' : between(100_000, 4_000_000),
    packets: between(2_000, 20_000),
    'stack-cost-ns': pick([0, 0, 200, 1000, 3000]),
    'rx-usecs': pick([0, 0, 0, 20, 100]), // dropped below for a NIC without an ITR (legacy)
    'app-cpus': Array.from({ length: between(1, cpus) }, () => p.nextInt(cpus)).join(','),
    'migrate-every-ms': pick([0, 1, 2]),
    'sk-rcvbuf': pick([4096, 65536, 212992]),
    hz: pick([100, 250, 1000]),
    'latency-sample': pick([0, 64]),
  };
  if (nicModel(f.nic as Nic).no_itr !== undefined) delete f['rx-usecs'];
  if (rfs) {
    // RFS in the shape where Linux keeps order: no RPS map on the queue (an unset flow entry
    // is first steered at once, overtaking what a map queued elsewhere), TCP flows (only
    // established TCP sockets record their CPU), tables large enough that collisions are rare
    // (a run with a socket-table collision is not checked for order).
    f['rps-flow-cnt'] = pick([256, 1024, 4096]);
    f['rps-sock-flow-entries'] = pick([1024, 4096, 32768]);
    if (f['migrate-every-ms'] === 0) f['migrate-every-ms'] = 1;
  } else if (p.nextFloat() < 0.6) {
    f['rps-cpus'] = mask(cpus);
  }
  if (p.nextFloat() < 0.2) {
    // Knobs changed under traffic (--knob-at), in virtual ms: those whose fuzz range says `at`,
    // and an RPS map where the run has one (which may reorder a flow it moves, as on Linux:
    // such runs are not checked for order).
    const changes = FUZZ_KNOBS.filter((k) => k.range.main && k.range.at).map((k) => `${between(1, 3)}:${k.flag}=${drawIn(p, k.range)}`);
    if ('rps-cpus' in f) changes.push(`${between(1, 3)}:rps-cpus=${mask(cpus)}`);
    const chosen = changes.filter(() => p.nextFloat() < 0.5);
    f['knob-at'] = (chosen.length > 0 ? chosen : [changes[0]]).join(';');
  }
  if (p.nextFloat() < 0.25) f['flow-limit-cpu-bitmap'] = mask(cpus);
  if (p.nextFloat() < 0.15) f['bad-csum-rate'] = 0.01;
  if (unsafe) f['unsafe-rfs-no-qtail-check'] = 'on';
  ownStreamKnobDraws(seed, f);
  nicDraw(seed, f);
  ipDraw(seed, f);
  xdpDraw(seed, f);
  dropKnobsPastEnd(f);
  return f;
}

/**
 * The knobs with a fuzz range outside the main stream, each from a fork of the seed keyed by
 * its name (so adding one leaves every other draw of a seed as it was): a value for the run's
 * start and, in a run that changes knobs under traffic, a change in half of them (`at`).
 */
function ownStreamKnobDraws(seed: number, f: Flags): void {
  for (const k of FUZZ_KNOBS) {
    if (k.range.main) continue;
    const x = new Prng(seed).fork(seedFromString(k.key));
    f[k.flag] = drawIn(x, k.range);
    if (k.range.at && 'knob-at' in f && x.nextFloat() < 0.5)
      f['knob-at'] = `${f['knob-at']};${1 + x.nextInt(3)}:${k.flag}=${drawIn(x, k.range)}`;
  }
}

/**
 * The flows' IP version, from its own stream (so every other draw of a seed stays as it was):
 * IPv4 in half the runs, IPv6 in a third, both in the rest. The default frame grows to fit.
 */
function ipDraw(seed: number, f: Flags): void {
  const x = new Prng(seed).fork(0x1b6).nextFloat();
  if (x >= 0.5) f.ip = x < 0.83 ? '6' : 'mix';
}

/** The test programs the XDP draw attaches (test/xdp/*.c, built with clang: src/engine/xdp_programs.ts). */
export const FUZZ_XDP_PROGRAMS = ['pass', 'drop', 'drop_port', 'count_cpu', 'tx_swap', 'cpumap', 'oob'] as const;

/**
 * XDP (issue 25) in a fifth of the draws, from its own fork of the seed so every other knob
 * is drawn as before: a test program (the object's path in this checkout), generic mode in a
 * third of them (always for legacy), its maps' entries (drop_port's port; the cpumap's
 * entries, one per CPU in a random subset, each with a qsize from the same stream); virtio
 * gets the queue pairs native XDP needs.
 */
function xdpDraw(seed: number, f: Flags): void {
  const x = new Prng(seed).fork(0x5d9);
  if (x.nextFloat() >= 0.2) return;
  const pick = <T>(xs: readonly T[]): T => xs[x.nextInt(xs.length)]!;
  const prog = pick(FUZZ_XDP_PROGRAMS);
  f.xdp = `${XDP_DIR}${prog}.o`;
  const nic = nicModel(f.nic as Nic);
  if (nic.no_native_xdp === undefined && x.nextFloat() < 0.33) f['xdp-mode'] = 'generic';
  // virtio refuses a native program above a page's MTU (virtnet_xdp_set): a jumbo draw runs it generic.
  if (nic.rx_queue === 'virtqueue' && virtioXdpMtuTooLarge(Number(f['pkt-size'] ?? 0))) f['xdp-mode'] = 'generic';
  const cpus = Number(f.cpus);
  if (prog === 'drop_port') f['xdp-map'] = `drop_ports=${pick([5001, 8080, 11211, 9000])}:0`;
  if (prog === 'cpumap') {
    const targets = Array.from({ length: cpus }, (_, c) => c).filter(() => x.nextFloat() < 0.7);
    if (targets.length === 0) targets.push(x.nextInt(cpus));
    const qsize = () => pick([1, 2, 8, 16, 64, 192, 1024, 4096]);
    f['xdp-map'] = [
      `cpu_map=${targets.map((c) => `${c}:${qsize()}`).join(',')}`,
      `cpus_available=${targets.map((c, i) => `${i}:${c}`).join(',')}`,
      `cpus_count=0:${targets.length}`,
    ].join(';');
  }
  if (nic.rx_queue === 'virtqueue' && f['xdp-mode'] !== 'generic') f['virtio-max-queue-pairs'] = Number(f.queues) + cpus;
}

/** The XDP draw's programs built (clang), before a run in threads mode needs them. */
export function buildFuzzXdpPrograms(): void {
  for (const p of FUZZ_XDP_PROGRAMS) buildXdp(p);
}

/**
 * A change after the end of an open-loop run would never apply (a configuration error): such
 * draws are left out after the fact, once the run's length is final (nicDraw may shorten
 * it), so the PRNG's sequence, and every other draw, stays.
 */
function dropKnobsPastEnd(f: Flags): void {
  if (!('knob-at' in f) || typeof f.rate !== 'number') return;
  const endMs = (Number(f.packets) / f.rate) * 1000;
  const inRun = String(f['knob-at'])
    .split(';')
    .filter((c) => Number(c.split(':')[0]) <= endMs);
  if (inRun.length > 0) f['knob-at'] = inRun.join(';');
  else delete f['knob-at'];
}

/**
 * Each NIC with fuzz draws of its own (config/nics.ts: virtio-net in a quarter) takes its share
 * of the draws of a NAPI NIC, from its own fork of the seed so every other knob is drawn as
 * before, and sets its options; a NIC without an ITR drops the drawn rx-usecs.
 */
function nicDraw(seed: number, f: Flags): void {
  for (const [name, model] of Object.entries(NIC_MODELS) as [Nic, NicModel][]) {
    if (model.fuzz === undefined || !nicModel(f.nic as Nic).napi) continue;
    const v = new Prng(seed).fork(model.fuzz.fork);
    if (v.nextFloat() >= model.fuzz.share) continue;
    f.nic = name;
    if (model.no_itr !== undefined) delete f['rx-usecs'];
    model.fuzz.draw(
      (xs) => xs[v.nextInt(xs.length)]!,
      () => v.nextFloat(),
      f,
    );
    return;
  }
}

/**
 * The one command that reproduces a run. With `checkOrder` (a run that failed the ordering
 * check) it ends in --check-order, so the command exits 1 when it reproduces the failure, as a
 * run failing conservation does by itself.
 */
export function reproCommand(flags: Flags, checkOrder = false): string {
  const quote = (v: string) => (/^[\w.,:=/+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  return (
    'npx rxsmp run ' +
    Object.entries(flags)
      .map(([k, v]) => `--${k} ${quote(String(v))}`)
      .join(' ') +
    (checkOrder ? ' --check-order' : '')
  );
}

/** The arguments of a reproduction command, as a POSIX shell would split them (single quotes). */
export function reproArgs(command: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (let m = re.exec(command); m !== null; m = re.exec(command)) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]);
  return out.slice(out[0] === 'npx' ? 2 : 1);
}

/**
 * Does Linux (5.10) guarantee per-flow order for this run? Yes without RFS, as long as the
 * RSS table does not change under traffic (RSS and an RPS map pin a flow to one queue and one
 * CPU). With RFS only where the last_qtail rule covers every move: no RPS map on an RFS queue,
 * a NAPI driver (netif_rx passes a dummy flow entry for packets it queues locally), and no two
 * TCP flows sharing a slot of rps_sock_flow_table (a flow that loses its slot falls back to the
 * map or to the local CPU without the qtail check). Collisions are read from the sockets'
 * sk_rxhash after the run.
 */
export function orderingGuaranteed(cfg: Config, sockHashes: Int32Array): boolean {
  if (cfg.reta_change_at_ms > 0) return false;
  // A flow moved by a new RPS map, RSS table, vector affinity or RFS table may be reordered.
  if (cfg.knob_at.some((k) => KNOBS[k.key].slot.moves_flows === true)) return false;
  const rfsQueues = cfg.rps_flow_cnt.map((n, q) => (n > 0 && cfg.rps_sock_flow_entries > 0 ? q : -1)).filter((q) => q >= 0);
  if (rfsQueues.length === 0) return true;
  if (nicModel(cfg.nic).steering === 'none') return false;
  if (rfsQueues.some((q) => maskToCpus(cfg.rps_cpus[q]).filter((c) => c < cfg.cpus).length > 0)) return false;
  let size = 1;
  while (size < cfg.rps_sock_flow_entries) size *= 2;
  const seen = new Set<number>();
  for (const h of sockHashes) {
    if (h === 0) continue;
    const slot = h & (size - 1);
    if (seen.has(slot)) return false;
    seen.add(slot);
  }
  return true;
}

/** One run, judged. Never throws: a crash is a verdict. */
export function checkRun(flags: Flags): Verdict {
  let cfg: Config;
  try {
    if (typeof flags.xdp === 'string') ensureXdpObject(flags.xdp); // the XDP draw's program, built with clang
    cfg = configFromFlags(flags);
  } catch (e) {
    return {
      ok: false,
      check: 'crash',
      detail: `bad configuration: ${(e as Error).message}`,
      ordering_checked: false,
      packets: 0,
      out_of_order: 0,
    };
  }
  try {
    const { result: r, shm } = simulate(cfg);
    const SOCK = shm.layout.SOCK;
    const hashes = new Int32Array(shm.layout.skCount);
    for (let s = 0; s < hashes.length; s++) hashes[s] = shm.i32[shm.skIdx(s, SOCK.proto)] === 6 ? shm.i32[shm.skIdx(s, SOCK.rxhash)] : 0;
    const ordering_checked = orderingGuaranteed(cfg, hashes);
    const base = { ordering_checked, packets: r.packets.generated, out_of_order: r.ordering.out_of_order };
    if (!conserves(r)) {
      const drops = Object.values(r.packets.dropped).reduce((a, b) => a + b, 0);
      return {
        ...base,
        ok: false,
        check: 'conservation',
        detail: `generated ${r.packets.generated} != delivered ${r.packets.delivered} + drops ${drops}`,
      };
    }
    if (unread(r) !== 0) {
      return { ...base, ok: false, check: 'conservation', detail: `${unread(r)} delivered packets were never read by their applications` };
    }
    if (cfg.duration_s === 0 && r.packets.generated !== cfg.packets) {
      return { ...base, ok: false, check: 'progress', detail: `generated ${r.packets.generated} of ${cfg.packets} packets` };
    }
    if (ordering_checked && r.ordering.out_of_order > 0) {
      const f = r.ordering.first!;
      return {
        ...base,
        ok: false,
        check: 'ordering',
        detail: `${r.ordering.out_of_order} out-of-order deliveries; first: flow ${f.flow} expected index >= ${f.expected_index}, got ${f.got_index}, on cpu ${f.cpu}`,
      };
    }
    return { ...base, ok: true };
  } catch (e) {
    if (e instanceof SimStuckError)
      return { ok: false, check: 'progress', detail: e.message.split('\n')[0], ordering_checked: false, packets: 0, out_of_order: 0 };
    if (e instanceof AssertionFailure)
      return { ok: false, check: 'assertion', detail: e.message, ordering_checked: false, packets: 0, out_of_order: 0 };
    return { ok: false, check: 'crash', detail: (e as Error).stack ?? String(e), ordering_checked: false, packets: 0, out_of_order: 0 };
  }
}

// ------------------------------------------------------------------------ shrinking

/** Simpler variants of a failing configuration, most drastic first. */
export function shrinkCandidates(flags: Flags): Flags[] {
  const out: Flags[] = [];
  const cfg = configFromFlags(flags);
  const variant = (change: Flags, drop: string[] = []): void => {
    const f: Flags = { ...flags, ...change };
    for (const k of drop) delete f[k];
    if (JSON.stringify(f) === JSON.stringify(flags)) return;
    try {
      configFromFlags(f);
    } catch {
      return; // not a valid configuration
    }
    out.push(f);
  };
  const n = Number(flags.packets);
  if (n > 1000) {
    variant({ packets: Math.max(1000, Math.floor(n / 4)) });
    variant({ packets: Math.max(1000, Math.floor(n / 2)) });
  }
  // Fewer CPUs: drop the CPU-indexed lists and masks that would name missing CPUs.
  for (const cpus of [1, 2, Math.floor(cfg.cpus / 2), cfg.cpus - 1]) {
    if (cpus < 1 || cpus >= cfg.cpus) continue;
    const keepMask = (m: string) => (parseInt(m, 16) & (2 ** cpus - 1)).toString(16);
    const change: Flags = { cpus };
    const drop: string[] = [];
    if ('irq-affinity' in flags) change['irq-affinity'] = cfg.irq_affinity.map((c) => c % cpus).join(',');
    if ('app-cpus' in flags) change['app-cpus'] = [...new Set(cfg.app_cpus.map((c) => c % cpus))].join(',');
    if ('rps-cpus' in flags) change['rps-cpus'] = cfg.rps_cpus.map(keepMask).join(',');
    if ('flow-limit-cpu-bitmap' in flags) change['flow-limit-cpu-bitmap'] = keepMask(cfg.flow_limit_cpu_bitmap);
    variant(change, drop);
  }
  for (const queues of [1, Math.floor(cfg.queues / 2), cfg.queues - 1]) {
    if (queues < 1 || queues >= cfg.queues) continue;
    const change: Flags = { queues };
    if ('irq-affinity' in flags) change['irq-affinity'] = cfg.irq_affinity.slice(0, queues).join(',');
    if ('rps-cpus' in flags) change['rps-cpus'] = cfg.rps_cpus.slice(0, queues).join(',');
    if ('rps-flow-cnt' in flags) change['rps-flow-cnt'] = cfg.rps_flow_cnt.slice(0, queues).join(',');
    variant(change);
  }
  for (const flows of [1, 2, Math.floor(cfg.flows / 2)]) if (flows >= 1 && flows < cfg.flows) variant({ flows });
  // XDP off (the program, its maps, its mode and what virtio needed for it go together).
  if ('xdp' in flags) variant({}, ['xdp', 'xdp-map', 'xdp-mode', 'virtio-max-queue-pairs']);
  // Features off / knobs back to their defaults.
  for (const k of [
    'pkt-size',
    'virtio-mrg-rxbuf',
    'virtio-event-idx',
    'knob-at',
    'bad-csum-rate',
    'flow-limit-cpu-bitmap',
    'rx-usecs',
    'latency-sample',
    'rps-cpus',
    'irq-affinity',
    'app-cpus',
    'ring-size',
    ...FUZZ_KNOBS.map((k) => k.flag),
    'sk-rcvbuf',
    'hz',
    'flow-dist',
    'gro',
    'rate',
    'stack-cost-ns',
    'migrate-every-ms',
  ]) {
    if (k in flags) variant({}, [k]);
  }
  if (flags.proto !== 'udp' && !('rps-flow-cnt' in flags)) variant({ proto: 'udp' });
  return out;
}

/**
 * Greedy shrinking: take the first simpler variant that still fails the same check, until
 * none does or `budget` runs are spent. `judge` runs a batch (in parallel on the pool).
 */
export async function shrink(
  flags: Flags,
  check: Check,
  judge: (batch: Flags[]) => Promise<Verdict[]>,
  budget = 300,
): Promise<{ flags: Flags; runs: number }> {
  let best = flags;
  let runs = 0;
  for (;;) {
    const cands = shrinkCandidates(best);
    let improved = false;
    for (let i = 0; i < cands.length && runs < budget; i += 4) {
      const batch = cands.slice(i, i + 4);
      const verdicts = await judge(batch);
      runs += batch.length;
      const k = verdicts.findIndex((v) => !v.ok && v.check === check);
      if (k >= 0) {
        best = batch[k];
        improved = true;
        break;
      }
    }
    if (!improved || runs >= budget) return { flags: best, runs };
  }
}

// ------------------------------------------------------------------------ the campaign

/** What a campaign is: every run's configuration follows from it (locally or on a queue's workers). */
export interface FuzzCampaign {
  runs: number;
  seed: number;
  /** Runs per configuration (default 1): run i draws its configuration from seed S + ⌊i / k⌋ and runs it with seed S + i. */
  seeds_per_config?: number;
  unsafe: boolean;
  shrink: boolean;
  /** Go on past a failure: every run is judged, every failure reported (and shrunk). */
  keep_going?: boolean;
}

export interface FuzzOptions extends FuzzCampaign {
  workers: number;
  log: (line: string) => void;
  /** Aborted (SIGINT): stop at once, report the runs judged so far. */
  signal?: AbortSignal;
}

export interface FuzzFailure {
  run: number;
  flags: Flags;
  verdict: Verdict;
  repro: string;
  shrunk?: { flags: Flags; repro: string; runs: number };
}

/** What a stretch of a campaign's runs gave: counts up to its first failure (all runs with keep_going). */
export interface ChunkReport {
  runs: number;
  packets: number;
  ordering_checked: number;
  /** In run order; one at most without keep_going. */
  failures: FuzzFailure[];
  /** The signal stopped it: `runs` is what was judged before it. */
  interrupted: boolean;
}

export interface FuzzReport extends ChunkReport {
  wall_s: number;
  /** The first failure (failures[0]), or null. */
  failure: FuzzFailure | null;
}

/** The flags of run i of a campaign: its configuration from seed S + ⌊i / K⌋, its traffic and interleavings from S + i. */
export function campaignRunFlags(c: FuzzCampaign, i: number): Flags {
  const flags = randomSimFlags((c.seed + Math.floor(i / (c.seeds_per_config ?? 1))) >>> 0, c.unsafe);
  flags.seed = (c.seed + i) >>> 0;
  flags['debug-asserts'] = 'on'; // every protocol check, per packet too; drawn from no PRNG
  return flags;
}

/** Runs a batch of configurations, in parallel; interrupted, it answers a prefix of the batch. */
export type Judge = (batch: Flags[]) => Promise<Verdict[]>;

export interface ChunkHooks {
  /** A failure, as soon as it is found (before it is shrunk). */
  onFailure?: (f: FuzzFailure) => void;
  /** A failure, shrunk. */
  onShrunk?: (f: FuzzFailure) => void;
  /** After each batch: the runs of this chunk judged so far. */
  onBatch?: (runs: number) => void;
  signal?: AbortSignal;
}

/**
 * Judge runs first .. first+count-1 of a campaign in order, `width` at a time (in parallel
 * behind `judge`); stop at the first failure (the lowest run index) unless keep_going, and
 * shrink each failure with `shrinkJudge`. A local campaign is one chunk of all its runs; a
 * queue worker judges a job's chunk (src/queue/worker.ts): one rule for both.
 */
export async function judgeChunk(
  c: FuzzCampaign,
  first: number,
  count: number,
  width: number,
  judge: Judge,
  shrinkJudge: Judge,
  hooks: ChunkHooks = {},
): Promise<ChunkReport> {
  const r: ChunkReport = { runs: 0, packets: 0, ordering_checked: 0, failures: [], interrupted: false };
  const end = first + count;
  for (let start = first; start < end && !hooks.signal?.aborted; start += width) {
    const batch: Flags[] = [];
    for (let i = start; i < Math.min(end, start + width); i++) batch.push(campaignRunFlags(c, i));
    const verdicts = await judge(batch);
    for (let k = 0; k < verdicts.length; k++) {
      const v = verdicts[k];
      r.runs++;
      r.packets += v.packets;
      if (v.ordering_checked) r.ordering_checked++;
      if (v.ok) continue;
      const f: FuzzFailure = { run: start + k, flags: batch[k], verdict: v, repro: reproCommand(batch[k], v.check === 'ordering') };
      r.failures.push(f);
      hooks.onFailure?.(f);
      if (c.shrink && !hooks.signal?.aborted) {
        const s = await shrink(f.flags, v.check!, shrinkJudge);
        f.shrunk = { flags: s.flags, repro: reproCommand(s.flags, v.check === 'ordering'), runs: s.runs };
        hooks.onShrunk?.(f);
      }
      if (!c.keep_going) return r;
    }
    hooks.onBatch?.(r.runs);
    if (verdicts.length < batch.length) break; // interrupted mid-batch
  }
  r.interrupted = r.runs < count && hooks.signal?.aborted === true;
  return r;
}

/** The lines a failure prints when found: what failed and the command that reproduces it. */
export function failureLines(f: FuzzFailure): string[] {
  return [`fuzz: run ${f.run} (seed ${f.flags.seed}) FAILED ${f.verdict.check}: ${f.verdict.detail}`, `  reproduce: ${f.repro}`];
}

/** The line a shrunk failure prints. */
export function shrunkLine(f: FuzzFailure): string {
  return `  shrunk (${f.shrunk!.runs} runs): ${f.shrunk!.repro}`;
}

/** The campaign's first line. */
export function fuzzHeader(c: FuzzCampaign): string {
  return `fuzz: ${count(c.runs)} runs from seed ${c.seed}${c.unsafe ? ', unsafe RFS (no last_qtail check)' : ''}`;
}

/** The campaign's last line: the same whether it ran here or on a queue's workers. */
export function fuzzSummary(r: FuzzReport, runs: number): string {
  const n = r.failures.length;
  return (
    `fuzz: ${r.interrupted ? `interrupted after ${count(r.runs)} of ${count(runs)} runs` : `${count(r.runs)} runs`}, ${count(r.packets)} packets, ` +
    `${count(r.ordering_checked)} checked for order, ${duration(r.wall_s * 1e9)}, ` +
    (r.failure ? `FAILED at run ${r.failure.run}${n > 1 ? ` (${n} failing runs)` : ''}` : 'no violation')
  );
}

const WORKER = new URL('fuzz_worker.js', WORKERS_DIR);

/** A piscina pool of fuzz runs, as a campaign and a queue worker use it. */
export function fuzzPool(workers: number): { judge: Judge; pool: Piscina<FuzzTask, Verdict>; threads: number } {
  const threads = workers > 0 ? workers : availableParallelism();
  const pool = new Piscina<FuzzTask, Verdict>({ filename: WORKER.href, minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
  return { judge: (batch) => Promise.all(batch.map((flags) => pool.run({ flags }))), pool, threads };
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const { judge, pool, threads } = fuzzPool(o.workers);
  // The campaign's batches: judged in order; interrupted, only the runs before the first
  // unfinished one count (the rest are cancelled with the pool).
  const aborted = new Promise<void>((resolve) => {
    if (o.signal?.aborted) resolve();
    o.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const judgeUntilAbort = async (batch: Flags[]): Promise<Verdict[]> => {
    const got: (Verdict | undefined)[] = new Array(batch.length);
    const all = Promise.all(batch.map((flags, k) => pool.run({ flags }).then((v) => (got[k] = v))));
    all.catch(() => undefined); // cancelled by pool.destroy() when interrupted
    await Promise.race([all, aborted]);
    const n = got.findIndex((v) => v === undefined);
    return (n < 0 ? got : got.slice(0, n)) as Verdict[];
  };
  let lastLog = t0;
  let r: ChunkReport;
  try {
    r = await judgeChunk(o, 0, o.runs, threads * 16, judgeUntilAbort, judge, {
      signal: o.signal,
      onFailure: (f) => {
        for (const l of failureLines(f)) o.log(l);
      },
      onShrunk: (f) => o.log(shrunkLine(f)),
      onBatch: (done) => {
        const now = performance.now();
        if (now - lastLog <= 5000) return;
        lastLog = now;
        o.log(`fuzz: ${done}/${o.runs} runs, ${((now - t0) / 1000).toFixed(1)} s`);
      },
    });
  } finally {
    await pool.destroy();
  }
  return { ...r, wall_s: (performance.now() - t0) / 1000, failure: r.failures[0] ?? null, interrupted: o.signal?.aborted === true };
}
