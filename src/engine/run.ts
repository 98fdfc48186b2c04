// The run coordinator: boot the machine, start the device and the CPUs, apply the knob
// schedule (migrations, RSS table change), detect the drain, stop, collect.
//
// The drain: once the device has generated everything, the run is over when every
// generated packet is accounted for (delivered to a socket or counted in a drop) and every
// application has read what was delivered to its sockets.
//
// The watchdog counts from the moment traffic starts (the device's first packet), never
// during start-up: a run fails when packets are in flight and none has moved for
// `watchdog_s`, or when the wire is late by that much with its next packet (a slow --rate
// waiting for its next send time is progress, not a hang). Start-up itself is bounded
// (STARTUP_S). Its report names each CPU's and queue's state.
//
// An interrupted run (RunOptions.signal aborted: SIGINT, SIGTERM) stops the generator,
// drains what is in flight for at most INTERRUPT_DRAIN_MS, and resolves with the result so
// far, `interrupted: true`: packets still in flight then count in dropped.interrupted, so
// the result conserves over what was generated.

import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import { CTX_NAMES, WIRE_NAPPING } from '../shm/layout.js';
import { DRV } from '../shm/virtqueue.js';
import { doorbell_ring } from '../shm/msix.js';
import { skb_pool_free_count } from '../shm/skb_pool.js';
import { boot, framesOf } from './boot.js';
import { xdp_share } from '../kernel/xdp.js';
import { calibrate_burn } from '../cpu/runtime.js';
import { checkHostCpus, deviceInline, threadTimes, threadTimesSince } from '../host/host.js';
import { openLoopPps } from '../devices/wire.js';
import { accounted, collectResult, type Accounted, type AppliedKnob, type RunResult } from './result.js';
import { progressSample, type Progress } from './progress.js';
import type { CpuResult, RunMessage, RunReply, ThreadResult, WorkerInit } from '../cpu/messages.js';

export class WatchdogError extends Error {
  override name = 'WatchdogError';
}

/** A measurement made of several runs (calibrate) was stopped by its signal: it has no result. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

const POLL_MS = 2;
/** An interrupted run drains what is in flight for this long at most (wall time). */
export const INTERRUPT_DRAIN_MS = 1000;
/** Workers that have not all come up (and traffic not started) after this long: a failure. */
const STARTUP_S = 120;
/** How often RunOptions.progress is called. */
export const PROGRESS_MS = 250;
import { TimelineSampler } from './timeline.js';
import { ControlSchedule } from './control.js';
import { TapWriter } from './tap.js';
import { deferOutputFailure, OutputError } from '../host/files.js';
import { startProfile } from '../cpu/worker_main.js';
import { assertionOf } from '../shm/assert.js';
import { join } from 'node:path';
import { WORKERS_DIR } from '../paths.js';

export interface RunOptions {
  /** Called every poll with the elapsed ms since generation started (knob changes in tests). */
  onTick?: (shm: Shm, elapsed_ms: number) => void;
  /** Aborted: stop generating, drain (bounded), resolve with `interrupted: true`. */
  signal?: AbortSignal;
  /** Called about every PROGRESS_MS with the counters so far (read from shared memory). */
  progress?: (p: Progress) => void;
  /** --profile DIR: a .cpuprofile per thread (each CPU, the device, the coordinator) there. */
  profile?: string;
}
/** The former name of RunOptions. */
export type RunHooks = RunOptions;

/** An output written after the work (a profile): its failure kept for after the run's result. */
export async function deferFailure(write: Promise<void>): Promise<void> {
  try {
    await write;
  } catch (e) {
    if (!(e instanceof OutputError)) throw e;
    deferOutputFailure(e);
  }
}

export async function runEmulation(cfg: Config, hooks: RunOptions = {}): Promise<RunResult> {
  checkHostCpus(cfg); // a host that cannot pin as asked is the user's error, before any worker
  const frames = framesOf(cfg);
  const shm = boot(cfg, frames);
  const origin_ms = performance.timeOrigin;
  // --tap: the CPUs' clock counts ns from this thread's time origin.
  const tap = cfg.tap === '' ? null : new TapWriter(shm, cfg.tap, BigInt(Math.round(origin_ms * 1e6)), performance.now() * 1e6);
  const burn_iters_per_ns = cfg.stack_cost_ns > 0 ? calibrate_burn() : 0;
  timer_tick(shm);
  const ticker = setInterval(() => timer_tick(shm), 1);
  // --device inline: the CPU of queue 0's interrupt runs the device; no device thread.
  const host = deviceInline(cfg) ? cfg.irq_affinity[0] : -1;
  const spawn = (file: string, cpu: number) =>
    new Worker(new URL(file, WORKERS_DIR), {
      workerData: {
        cfg,
        sab: shm.sab,
        origin_ms,
        cpu,
        burn_iters_per_ns,
        ...(cpu === host ? { frames } : {}),
        ...(shm.xdp !== null && cpu >= 0 ? { xdp: xdp_share(shm.xdp) } : {}),
        ...(hooks.profile !== undefined ? { profile: hooks.profile } : {}),
      } satisfies WorkerInit,
    });
  const cpuWorkers = Array.from({ length: cfg.cpus }, (_, cpu) => spawn('cpu.js', cpu));
  const deviceWorker = host < 0 ? spawn('device.js', -1) : null;
  const all = deviceWorker === null ? cpuWorkers : [...cpuWorkers, deviceWorker];
  let fail: (e: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
    all.forEach((w, i) => {
      w.on('error', (e) =>
        reject(assertionOf(e) ?? new Error(`${i < cfg.cpus ? `cpu ${i}` : 'device'} worker died: ${e.stack ?? e.message}`)),
      );
    });
  });
  failed.catch(() => undefined);
  const coordinator0 = threadTimes();
  const coordinatorProfile = hooks.profile === undefined ? undefined : await startProfile();
  try {
    const cpuRuns = cpuWorkers.map((w, i) => runWorker<CpuResult>(w, `cpu ${i}`));
    const deviceRun = deviceWorker === null ? Promise.resolve(null) : runWorker<ThreadResult>(deviceWorker, 'device');
    // A worker whose loop failed an assertion (shm/assert.ts) ends the run at once, as a failure.
    for (const r of [...cpuRuns, deviceRun]) {
      r.catch((e: unknown) => {
        const a = assertionOf(e);
        if (a !== null) fail(a);
      });
    }
    const applied: AppliedKnob[] = [];
    const timeline = new TimelineSampler(shm);
    const end = await Promise.race([monitor(shm, cfg, hooks, applied, timeline, tap), failed]);
    // The last sample at the drain, while the CPUs still run: the run's window ends here. It
    // is taken at the tick's time, the clock the CPUs' running contexts are charged on (the
    // monitor's last look, end.elapsed_s, can be milliseconds earlier on a loaded host).
    timer_tick(shm);
    const start_ns = shm.f64[shm.ctlF + shm.layout.CTL.start_ns];
    timeline.poll(start_ns > 0 ? (shm.f64[shm.ctlF + shm.layout.CTL.clock_ns] - start_ns) / 1e6 : end.elapsed_s * 1000, true);
    timeline.close();
    stop(shm);
    const [cpus, device] = await Promise.race([Promise.all([Promise.all(cpuRuns), deviceRun]), failed]);
    tap?.close(performance.now() * 1e6);
    const threads = device === null ? cpus : [...cpus, device];
    if (coordinatorProfile !== undefined) await deferFailure(coordinatorProfile.stop(join(hooks.profile!, 'coordinator.cpuprofile')));
    // A profile a worker could not write is said after the run's result (src/host/files.ts).
    for (const t of threads) if (t.profile_error !== undefined) deferOutputFailure(new OutputError(t.profile_error));
    const coordinator = threadTimesSince(coordinator0);
    return collectResult(shm, cfg, {
      elapsed_s: end.elapsed_s,
      latencies: cpus.map((r) => r.latency),
      hot_path: threads.map((r) => r.hot_path),
      knobs_applied: applied,
      host_threads: [...threads.map((r) => r.host), coordinator && { thread: 'coordinator', ...coordinator }],
      interrupted: end.interrupted,
      timeline: timeline.toJSON(),
      cpu_times: timeline.cpuTimesOfRun(),
    });
  } finally {
    tap?.close(performance.now() * 1e6);
    clearInterval(ticker);
    stop(shm);
    await Promise.all(all.map((w) => w.terminate()));
  }
}

/** Start a worker's loop and resolve with its report when the loop ends (the control plane, cpu/messages.ts). */
function runWorker<R extends ThreadResult>(w: Worker, name: string): Promise<R> {
  return new Promise((resolve, reject) => {
    w.once('message', (m: RunReply<R>) =>
      m.kind === 'done' ? resolve(m.result) : reject(assertionOf(m.error) ?? new Error(`${name} worker failed: ${m.error}`)),
    );
    w.postMessage({ kind: 'run' } satisfies RunMessage);
  });
}

/**
 * The timer interrupt: advance the shared clock and jiffies (ns and ticks since the run's
 * origin). CPUs read them for jiffies, budgets and busy time without a clock call of their
 * own (each of Node's clock reads allocates). Ticks every millisecond or so, as HZ=1000.
 */
export function timer_tick(shm: Shm): void {
  const now_ns = performance.now() * 1e6;
  const CTL = shm.layout.CTL;
  shm.f64[shm.ctlF + CTL.clock_ns] = now_ns;
  Atomics.store(shm.i32, shm.ctlI + CTL.jiffies, Math.floor((now_ns * shm.cfg.hz) / 1e9));
}

function stop(shm: Shm): void {
  Atomics.store(shm.i32, shm.ctlI + shm.layout.CTL.stop, 1);
  Atomics.notify(shm.i32, shm.ctlI + shm.layout.CTL.stop);
  for (let cpu = 0; cpu < shm.cfg.cpus; cpu++) doorbell_ring(shm, cpu);
  for (let q = 0; q < shm.cfg.queues; q++) {
    Atomics.notify(shm.i32, shm.rxqI[q] + shm.layout.RXQ.rdt);
    // A napping wire: clear its flag too, so a nap that has not begun yet does not begin.
    const at = shm.rxqI[q] + shm.layout.RXQ.dev_waiting;
    Atomics.compareExchange(shm.i32, at, WIRE_NAPPING, 0);
    Atomics.notify(shm.i32, at);
  }
}

/**
 * Interrupt generation: the device stops at its next check (a sleeping wire is woken) and
 * sets gen_done; the CPUs go on draining.
 */
export function interrupt_generation(shm: Shm): void {
  const CTL = shm.layout.CTL;
  Atomics.store(shm.i32, shm.ctlI + CTL.gen_stop, 1);
  Atomics.notify(shm.i32, shm.ctlI + CTL.stop); // the open-loop wire sleeps on this word
  Atomics.notify(shm.i32, shm.ctlI + CTL.cpus_ready);
  for (let q = 0; q < shm.cfg.queues; q++) {
    Atomics.notify(shm.i32, shm.rxqI[q] + shm.layout.RXQ.rdt);
    Atomics.notify(shm.i32, shm.rxqI[q] + shm.layout.RXQ.dev_waiting);
  }
}

/** How a run ended: elapsed seconds from the first generated packet, and whether it was cut. */
interface RunEnd {
  elapsed_s: number;
  interrupted: boolean;
}

/** Watch the run until it drains (or, interrupted, until it drains or the bound is hit). */
async function monitor(
  shm: Shm,
  cfg: Config,
  hooks: RunOptions,
  applied: AppliedKnob[],
  timeline: TimelineSampler,
  tap: TapWriter | null,
): Promise<RunEnd> {
  const CTL = shm.layout.CTL;
  const pace_pps = openLoopPps(cfg);
  const t0 = performance.now();
  let lastProgress = -1;
  let lastProgressAt = t0;
  let started = false;
  let interruptedAt = -1;
  let nextProgress = t0 + PROGRESS_MS;
  const control = new ControlSchedule(cfg, applied, (t, what) => timeline.event(t, what));
  for (;;) {
    await sleep(POLL_MS);
    // The run failed meanwhile (a worker's assertion: runEmulation stopped the workers): nothing to watch.
    if (Atomics.load(shm.i32, shm.ctlI + CTL.stop) !== 0) return { elapsed_s: 0, interrupted: false };
    tap?.drain(performance.now() * 1e6);
    const now = performance.now();
    const start_ns = shm.f64[shm.ctlF + CTL.start_ns];
    const elapsed_ms = start_ns > 0 ? now - start_ns / 1e6 : 0;
    if (interruptedAt < 0 && hooks.signal?.aborted) {
      interruptedAt = now;
      interrupt_generation(shm);
    }
    if (start_ns > 0) {
      if (!started) {
        started = true; // the watchdog counts from here
        lastProgressAt = now;
      }
      timer_tick(shm); // the clock the CPUs charge their time on, at the sample's time
      timeline.poll(elapsed_ms);
      control.run(shm, elapsed_ms);
      hooks.onTick?.(shm, elapsed_ms);
    } else if (interruptedAt < 0 && now - t0 > STARTUP_S * 1000) {
      throw new WatchdogError(
        `watchdog: traffic did not start within ${STARTUP_S} s of starting the workers (${Atomics.load(shm.i32, shm.ctlI + CTL.cpus_ready)} of ${cfg.cpus} CPUs up)`,
      );
    }
    if (hooks.progress && now >= nextProgress) {
      nextProgress = now + PROGRESS_MS;
      hooks.progress(progressSample(shm, elapsed_ms));
    }
    // gen_done first: the device sets it after its last count of `generated`, so a run whose
    // device is done is judged on its final count (read the other way round, a device that
    // finished in between would end a run whose last packets are still in flight).
    const deviceDone = genDone(shm);
    const a = accounted(shm);
    const { generated, done, unread } = a;
    if (deviceDone && done === generated && unread === 0) return { elapsed_s: elapsed_ms / 1000, interrupted: interruptedAt >= 0 };
    if (done > generated) throw new Error(`accounting error: ${done} packets accounted, only ${generated} generated`);
    if (interruptedAt >= 0) {
      // Interrupted: drain for a bounded time; what is still in flight is counted as such.
      if (now - interruptedAt > INTERRUPT_DRAIN_MS) return { elapsed_s: elapsed_ms / 1000, interrupted: true };
      continue;
    }
    if (!started) continue;
    // Reads are progress too: after the last delivery the applications still drain their sockets.
    const progress = generated + done + a.read;
    if (progress !== lastProgress) {
      lastProgress = progress;
      lastProgressAt = now;
    } else if (!deviceDone && done === generated && unread <= 0 && pace_pps > 0) {
      // Nothing in flight and the wire paced: waiting for the next send time is not a hang,
      // until that time is watchdog_s past.
      const due_ms = start_ns / 1e6 + ((generated + 1) * 1000) / pace_pps;
      if (due_ms > lastProgressAt) lastProgressAt = due_ms < now ? due_ms : now;
    }
    if (now - lastProgressAt > cfg.watchdog_s * 1000) throw new WatchdogError(hangReport(shm, a, cfg.watchdog_s));
  }
}

function genDone(shm: Shm): boolean {
  return Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.gen_done) !== 0;
}

/** What a hung run looks like: every CPU's context and queues, every RX queue's registers. */
export function hangReport(shm: Shm, a: Accounted, secs: number): string {
  const layout = shm.layout;
  const SD = layout.SD;
  const i32 = shm.i32;
  const lines = [
    `watchdog: no packet moved for ${secs} s; generated ${a.generated}, accounted ${a.done}, ${a.generated - a.done} in flight, ` +
      `${Math.max(0, a.unread)} delivered and not yet read by their applications; skb pool free ${skb_pool_free_count(shm)} of ${layout.skbCount}`,
  ];
  for (let c = 0; c < shm.cfg.cpus; c++) {
    const sd = shm.sd[c];
    const napiState = i32[shm.napiI[c] + layout.NAPI.state];
    lines.push(
      `  cpu ${c}: context ${CTX_NAMES[i32[sd + SD.context]] ?? '?'}, doorbell ${i32[sd + SD.doorbell]}, ` +
        `input_pkt_queue ${i32[sd + SD.input_pkt_qlen]}, process_queue ${i32[sd + SD.process_qlen]}, ` +
        `backlog napi state ${napiState}, rps_lock ${i32[sd + SD.rps_lock]}, heartbeat ${shm.f64[shm.sdF[c] + SD.heartbeat]}`,
    );
  }
  const RXQ = layout.RXQ;
  for (let q = 0; q < shm.cfg.queues; q++) {
    const b = shm.rxqI[q];
    const napiState = i32[shm.napiI[shm.cfg.cpus + q] + layout.NAPI.state];
    lines.push(
      `  queue ${q}: RDH ${i32[b + RXQ.rdh]} RDT ${i32[b + RXQ.rdt]} next_to_clean ${i32[b + RXQ.next_to_clean]} ` +
        `EIMS ${i32[b + RXQ.eims]} EICR ${i32[b + RXQ.eicr]} vector on cpu ${i32[b + RXQ.affinity]} napi state ${napiState}`,
    );
    const vq = shm.vq[q];
    if (vq !== undefined) {
      const u16 = shm.u16;
      lines.push(
        `    virtqueue ${q}: avail idx ${u16[vq.avail_idx]} used idx ${u16[vq.used_idx]} last_used_idx ${i32[vq.drv + DRV.last_used_idx]} ` +
          `num_free ${i32[vq.drv + DRV.num_free]} used_event ${u16[vq.used_event]} avail_event ${u16[vq.avail_event]} ` +
          `avail flags ${u16[vq.avail_flags]} used flags ${u16[vq.used_flags]} kicks ${i32[vq.notify]} held + tun queue ${i32[b + RXQ.virtio_backlog_len]}`,
      );
    }
  }
  return lines.join('\n');
}
