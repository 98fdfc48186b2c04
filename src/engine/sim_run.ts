// runSim: one emulation in the deterministic runtime (--mode sim, src/cpu/sim/machine.ts). The same
// boot, the same kernel and drivers, the same device model and the same collectResult as
// runEmulation, so the JSON document is the run contract (schema rxsmp.run/1) with one block
// more, `sim`. Everything in it is a function of the config and the seed, except
// `sim.wall_s` and `sim.sim_pps_wall` (how long the host took).
//
// hot_path is empty: sim mode is one thread with no steady-state window of its own (the
// scheduler's per-step state is all typed arrays; the bench reports its speed).
// elapsed_s and pps are in virtual time: from the device's first packet to the moment the
// last packet was accounted for. The control schedule (task migrations every
// migrate_every_ms, the RSS table change at reta_change_at_ms, --knob-at changes) runs at
// virtual times, as the coordinator's does in wall time in run.ts.

import { performance } from 'node:perf_hooks';
import { latencyHistogram } from '../cpu/worker_main.js';
import type { Config } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import { boot, framesOf } from './boot.js';
import { ControlSchedule } from './control.js';
import { TAP_DRAIN_NS, TapWriter } from './tap.js';
import { accounted, collectResult, type AppliedKnob, type RunResult } from './result.js';
import { hangReport, PROGRESS_MS, WatchdogError } from './run.js';
import { progressSample, type Progress } from './progress.js';
import { SIM_DRAINED, SIM_INTERRUPTED, SIM_NO_PROGRESS, SIM_RUNNING, SimMachine } from '../cpu/sim/machine.js';
import type { Adversary } from '../cpu/sim/adversary.js';
import { SIM_T0_NS } from '../cpu/sim/clock.js';
import { loadCostModel, type CostModel } from '../cpu/cost_model.js';

export interface SimInfo {
  seed: number;
  /** The scheduler's seed (the config's seed unless the library caller gave another). */
  sched_seed: number;
  adversary: Adversary;
  steps: number;
  virtual_ns: number;
  cost_model: string;
  /** Host seconds the run took (not deterministic). */
  wall_s: number;
  /** Simulated packets per host second (not deterministic). */
  sim_pps_wall: number;
}

export interface SimRunResult extends RunResult {
  sim: SimInfo;
}

/** A sim run that did not drain: stuck (nothing can run) or no progress in virtual time. */
export class SimStuckError extends WatchdogError {
  constructor(
    message: string,
    readonly kind: 'stuck' | 'no_progress',
  ) {
    super(message);
  }
}

/**
 * The control schedule (engine/control.ts) in virtual time: the machine's hook runs it at each
 * time it asked for, and gets the next one back.
 */
function controlSchedule(
  cfg: Config,
  applied: AppliedKnob[],
  tap: TapWriter | null,
): { first: number; hook: (shm: Shm, t: number) => number } | null {
  const sched = ControlSchedule.needed(cfg) ? new ControlSchedule(cfg, applied) : null;
  if (sched === null && tap === null) return null;
  const ns = (ms: number) => (ms === Infinity ? Infinity : SIM_T0_NS + ms * 1e6);
  // --tap: the reader drains the ring every TAP_DRAIN_NS while traffic lasts (then at the end).
  const tapNext = (shm: Shm, t: number) =>
    tap === null || Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.gen_done) !== 0 ? Infinity : t + TAP_DRAIN_NS;
  return {
    first: Math.min(sched === null ? Infinity : ns(sched.next(false)), tap === null ? Infinity : SIM_T0_NS + TAP_DRAIN_NS),
    hook: (shm, t) => {
      tap?.drain(t);
      const next = sched === null ? Infinity : ns(sched.run(shm, (t - SIM_T0_NS) / 1e6));
      return Math.min(next, tapNext(shm, t));
    },
  };
}

/** Sim mode's wall clock for --tap: a fixed date, so the file is the same run after run. */
const SIM_TAP_EPOCH_NS = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z

/** A sim run under way: its machine and what its result needs besides shared memory. */
interface SimRun {
  cfg: Config;
  model: CostModel;
  shm: Shm;
  m: SimMachine;
  applied: AppliedKnob[];
  sched_seed: number;
  wall0: number;
  tap: TapWriter | null;
}

function startSim(cfg: Config, cost: CostModel | undefined, sched_seed: number): SimRun {
  const model = cost ?? loadCostModel(cfg.cost_model);
  const wall0 = performance.now();
  // The flows' frames once, for the sockets (boot) and the device, as run.ts does.
  const frames = framesOf(cfg);
  const shm = boot(cfg, frames);
  const applied: AppliedKnob[] = [];
  const tap = cfg.tap === '' ? null : new TapWriter(shm, cfg.tap, SIM_TAP_EPOCH_NS - BigInt(SIM_T0_NS), SIM_T0_NS);
  const ctl = controlSchedule(cfg, applied, tap);
  const m = new SimMachine(shm, model, ctl?.hook ?? null, ctl?.first ?? Infinity, sched_seed, frames);
  return { cfg, model, shm, m, applied, sched_seed, wall0, tap };
}

/** The result of a run that ended with `status` (throws SimStuckError for a stuck one). */
function endSim(r: SimRun, status: number): SimRunResult {
  const { cfg, shm, m } = r;
  if (status !== SIM_DRAINED && status !== SIM_INTERRUPTED) {
    const a = m.describe();
    const kind = status === SIM_NO_PROGRESS ? 'no_progress' : 'stuck';
    const why =
      kind === 'stuck'
        ? `sim: stuck at virtual ${((m.end_ns - SIM_T0_NS) / 1e9).toFixed(6)} s: packets in flight and nothing can run`
        : `sim: no packet moved for ${cfg.watchdog_s} s of virtual time`;
    const report = hangReport(shm, accounted(shm), cfg.watchdog_s);
    throw new SimStuckError(`${why}\n${report}\n${a}`, kind);
  }
  m.finish();
  r.tap?.close(m.end_ns);
  const elapsed_s = (m.end_ns - SIM_T0_NS) / 1e9;
  for (const c of m.kc) c.flush_latency();
  const result = collectResult(shm, cfg, {
    elapsed_s,
    latencies: [latencyHistogram(m.hist)],
    hot_path: [],
    knobs_applied: r.applied,
    host_threads: [],
    interrupted: Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.gen_stop) !== 0,
  });
  const wall_s = (performance.now() - r.wall0) / 1000;
  const sim: SimInfo = {
    seed: cfg.seed,
    sched_seed: r.sched_seed,
    adversary: m.adversary,
    steps: m.steps,
    virtual_ns: Math.round(m.end_ns - SIM_T0_NS),
    cost_model: r.model.source,
    wall_s,
    sim_pps_wall: Math.round(result.packets.generated / wall_s),
  };
  return { ...result, sim };
}

/** Run one sim emulation; returns the machine too (the fuzz checks read shared memory). */
export function simulate(cfg: Config, cost?: CostModel, sched_seed = cfg.seed): { result: SimRunResult; shm: Shm; machine: SimMachine } {
  const r = startSim(cfg, cost, sched_seed);
  return { result: endSim(r, r.m.run()), shm: r.shm, machine: r.m };
}

/** Scheduler turns between two looks at the signal and the progress callback (a turn can run
 * a device burst and the CPU work it nests: 1000 turns are some 50k packets, tens of ms). */
const SIM_SLICE_TURNS = 1000;
/** An interrupted sim run drains for this much virtual time at most, */
export const SIM_INTERRUPT_DRAIN_NS = 10e6;
/** ...and this much wall time (a drain of 10 ms of virtual time is normally far quicker). */
const SIM_INTERRUPT_DRAIN_WALL_MS = 1000;

export interface SimRunOptions {
  /** Aborted: stop generating, drain (bounded), resolve with `interrupted: true`. */
  signal?: AbortSignal;
  /** Called about every PROGRESS_MS of wall time with the counters so far (virtual time). */
  progress?: (p: Progress) => void;
  /** Called between slices with the virtual ms since the start (tests: as RunOptions.onTick). */
  onTick?: (shm: Shm, elapsed_ms: number) => void;
}

/**
 * One sim emulation, in slices of SIM_SLICE_TURNS with the event loop free in between, so a
 * signal (SIGINT) and the progress line get through. Slicing changes nothing in the run.
 */
export async function runSim(cfg: Config, o: SimRunOptions = {}): Promise<SimRunResult> {
  const r = startSim(cfg, undefined, cfg.seed);
  let nextProgress = performance.now() + PROGRESS_MS;
  let interruptedAt = -1;
  for (;;) {
    const status = r.m.run(SIM_SLICE_TURNS);
    const now = performance.now();
    if (status !== SIM_RUNNING || (interruptedAt >= 0 && now - interruptedAt > SIM_INTERRUPT_DRAIN_WALL_MS)) {
      if (status === SIM_RUNNING) r.m.end_ns = r.m.elapsed_ns() + SIM_T0_NS;
      return endSim(r, status === SIM_RUNNING ? SIM_INTERRUPTED : status);
    }
    if (interruptedAt < 0 && o.signal?.aborted) {
      interruptedAt = now;
      r.m.interrupt(SIM_INTERRUPT_DRAIN_NS);
    }
    o.onTick?.(r.shm, r.m.elapsed_ns() / 1e6);
    if (o.progress && now >= nextProgress) {
      nextProgress = now + PROGRESS_MS;
      o.progress({ ...progressSample(r.shm, r.m.elapsed_ns() / 1e6), virtual: true });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * The result without the host-dependent fields and the command line that asked for it: what two
 * runs with one seed must share.
 */
export function deterministicPart(r: SimRunResult): unknown {
  const { sim, host: _h, command: _c, ...rest } = r;
  const { wall_s: _w, sim_pps_wall: _p, ...simRest } = sim;
  return { ...rest, sim: simRest };
}
