// The run coordinator: boot the machine, start the device and the CPUs, apply the knob
// schedule (migrations, RSS table change), detect the drain, stop, collect.
//
// The drain: once the device has generated everything, the run is over when every
// generated packet is accounted for (delivered to a socket or counted in a drop) and every
// application has read what was delivered to its sockets. A run that makes no progress for
// `watchdog_s` fails with a report naming each CPU's and queue's state.

import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { Config } from '../config.js';
import type { Shm } from '../shm/memory.js';
import { CTX_NAMES, WIRE_NAPPING } from '../shm/layout.js';
import { DRV } from '../shm/virtqueue.js';
import { doorbell_ring } from '../shm/msix.js';
import { skb_pool_free_count } from '../shm/skb_pool.js';
import { apply_knob, boot, migrate_task, set_rss_reta } from './boot.js';
import { calibrate_burn } from '../cpu/runtime.js';
import { checkHostCpus, threadTimes, threadTimesSince } from '../shm/host.js';
import { accounted, collectResult, type Accounted, type AppliedKnob, type RunResult } from './result.js';
import type { CpuWorkerApi, DeviceWorkerApi, WorkerInit } from './messages.js';

export class WatchdogError extends Error {
  override name = 'WatchdogError';
}

const POLL_MS = 2;
const WORKERS_DIR = new URL('../../workers/', import.meta.url);

export interface RunHooks {
  /** Called every poll with the elapsed ms since generation started (knob changes in tests). */
  onTick?: (shm: Shm, elapsed_ms: number) => void;
}

export async function runEmulation(cfg: Config, hooks: RunHooks = {}): Promise<RunResult> {
  checkHostCpus(cfg); // a host that cannot pin as asked is the user's error, before any worker
  const shm = boot(cfg);
  const origin_ms = performance.timeOrigin;
  const burn_iters_per_ns = cfg.stack_cost_ns > 0 ? calibrate_burn() : 0;
  timer_tick(shm);
  const ticker = setInterval(() => timer_tick(shm), 1);
  const spawn = (file: string, cpu: number) =>
    new Worker(new URL(file, WORKERS_DIR), { workerData: { cfg, sab: shm.sab, origin_ms, cpu, burn_iters_per_ns } satisfies WorkerInit });
  const cpuWorkers = Array.from({ length: cfg.cpus }, (_, cpu) => spawn('cpu.js', cpu));
  const deviceWorker = spawn('device.js', -1);
  const all = [...cpuWorkers, deviceWorker];
  const failed = new Promise<never>((_, reject) => {
    all.forEach((w, i) =>
      w.on('error', (e) => reject(new Error(`${i < cfg.cpus ? `cpu ${i}` : 'device'} worker died: ${e.stack ?? e.message}`))),
    );
  });
  failed.catch(() => undefined);
  const coordinator0 = threadTimes();
  try {
    const cpuRuns = cpuWorkers.map((w) => Comlink.wrap<CpuWorkerApi>(nodeEndpoint(w)).run());
    const deviceRun = Comlink.wrap<DeviceWorkerApi>(nodeEndpoint(deviceWorker)).run();
    const applied: AppliedKnob[] = [];
    const elapsed_s = await Promise.race([monitor(shm, cfg, hooks, applied), failed]);
    stop(shm);
    const [cpus, device] = await Promise.race([Promise.all([Promise.all(cpuRuns), deviceRun]), failed]);
    const threads = [...cpus, device];
    const coordinator = threadTimesSince(coordinator0);
    return collectResult(shm, cfg, {
      elapsed_s,
      latencies: cpus.map((r) => r.latency),
      hot_path: threads.map((r) => r.hot_path),
      knobs_applied: applied,
      host_threads: [...threads.map((r) => r.host), coordinator && { thread: 'coordinator', ...coordinator }],
    });
  } finally {
    clearInterval(ticker);
    stop(shm);
    await Promise.all(all.map((w) => w.terminate()));
  }
}

/**
 * The timer interrupt: advance the shared clock and jiffies (ns and ticks since the run's
 * origin). CPUs read them for jiffies, budgets and busy time without a clock call of their
 * own (each of Node's clock reads allocates). Ticks every millisecond or so, as HZ=1000.
 */
export function timer_tick(shm: Shm): void {
  const now_ns = performance.now() * 1e6;
  const C = shm.layout.ctl;
  shm.f64[shm.ctlF + C.clock_ns] = now_ns;
  Atomics.store(shm.i32, shm.ctlI + C.jiffies, Math.floor((now_ns * shm.cfg.hz) / 1e9));
}

function stop(shm: Shm): void {
  Atomics.store(shm.i32, shm.ctlI + shm.layout.ctl.stop, 1);
  Atomics.notify(shm.i32, shm.ctlI + shm.layout.ctl.stop);
  for (let cpu = 0; cpu < shm.cfg.cpus; cpu++) doorbell_ring(shm, cpu);
  for (let q = 0; q < shm.cfg.queues; q++) {
    Atomics.notify(shm.i32, shm.rxqI[q]! + shm.layout.rxq.rdt);
    // A napping wire: clear its flag too, so a nap that has not begun yet does not begin.
    const at = shm.rxqI[q]! + shm.layout.rxq.dev_waiting;
    Atomics.compareExchange(shm.i32, at, WIRE_NAPPING, 0);
    Atomics.notify(shm.i32, at);
  }
}

/** Watch the run until it drains; returns elapsed seconds from the first generated packet. */
async function monitor(shm: Shm, cfg: Config, hooks: RunHooks, applied: AppliedKnob[]): Promise<number> {
  const C = shm.layout.ctl;
  let lastProgress = -1;
  let lastProgressAt = performance.now();
  let migrations = 0;
  let retaChanged = false;
  let nextKnob = 0;
  for (;;) {
    await sleep(POLL_MS);
    const now = performance.now();
    const start_ns = shm.f64[shm.ctlF + C.start_ns]!;
    const elapsed_ms = start_ns > 0 ? now - start_ns / 1e6 : 0;
    if (start_ns > 0) {
      if (cfg.migrate_every_ms > 0 && elapsed_ms >= (migrations + 1) * cfg.migrate_every_ms && !genDone(shm)) {
        migrations++;
        cfg.app_cpus.forEach((_, t) => migrate_task(shm, t, cfg.app_cpus[(t + migrations) % cfg.app_cpus.length]!));
      }
      if (cfg.reta_change_at_ms > 0 && !retaChanged && elapsed_ms >= cfg.reta_change_at_ms) {
        retaChanged = true;
        set_rss_reta(shm, cfg.rss_reta.map((q) => (q + 1) % cfg.queues));
        Atomics.store(shm.i32, shm.ctlI + C.reta_changed, 1);
      }
      while (nextKnob < cfg.knob_at.length && elapsed_ms >= cfg.knob_at[nextKnob]!.at_ms) {
        const change = cfg.knob_at[nextKnob++]!;
        await apply_knob(shm, change);
        applied.push({ ...change, applied_at_ms: Math.round(elapsed_ms * 1000) / 1000 });
      }
      hooks.onTick?.(shm, elapsed_ms);
    }
    // gen_done first: the device sets it after its last count of `generated`, so a run whose
    // device is done is judged on its final count (read the other way round, a device that
    // finished in between would end a run whose last packets are still in flight).
    const deviceDone = genDone(shm);
    const a = accounted(shm);
    const { generated, done, unread } = a;
    if (deviceDone && done === generated && unread === 0) return elapsed_ms / 1000;
    if (done > generated) throw new Error(`accounting error: ${done} packets accounted, only ${generated} generated`);
    // Reads are progress too: after the last delivery the applications still drain their sockets.
    const progress = generated + done + a.read;
    if (progress !== lastProgress) {
      lastProgress = progress;
      lastProgressAt = now;
    } else if (now - lastProgressAt > cfg.watchdog_s * 1000) {
      throw new WatchdogError(hangReport(shm, a, cfg.watchdog_s));
    }
  }
}

function genDone(shm: Shm): boolean {
  return Atomics.load(shm.i32, shm.ctlI + shm.layout.ctl.gen_done) !== 0;
}

/** What a hung run looks like: every CPU's context and queues, every RX queue's registers. */
export function hangReport(shm: Shm, a: Accounted, secs: number): string {
  const L = shm.layout;
  const sd = L.sd;
  const i32 = shm.i32;
  const lines = [
    `watchdog: no packet moved for ${secs} s; generated ${a.generated}, accounted ${a.done}, ${a.generated - a.done} in flight, ` +
      `${Math.max(0, a.unread)} delivered and not yet read by their applications; skb pool free ${skb_pool_free_count(shm)} of ${L.skbCount}`,
  ];
  for (let c = 0; c < shm.cfg.cpus; c++) {
    const b = shm.sdI[c]!;
    const napiState = i32[shm.napiI[c]! + L.napi.state]!;
    lines.push(
      `  cpu ${c}: context ${CTX_NAMES[i32[b + sd.context]!] ?? '?'}, doorbell ${i32[b + sd.doorbell]}, ` +
        `input_pkt_queue ${i32[b + sd.input_pkt_qlen]}, process_queue ${i32[b + sd.process_qlen]}, ` +
        `backlog napi state ${napiState}, rps_lock ${i32[b + sd.rps_lock]}, heartbeat ${shm.f64[shm.sdF[c]! + sd.heartbeat]}`,
    );
  }
  const R = L.rxq;
  for (let q = 0; q < shm.cfg.queues; q++) {
    const b = shm.rxqI[q]!;
    const napiState = i32[shm.napiI[shm.cfg.cpus + q]! + L.napi.state]!;
    lines.push(
      `  queue ${q}: RDH ${i32[b + R.rdh]} RDT ${i32[b + R.rdt]} next_to_clean ${i32[b + R.next_to_clean]} ` +
        `EIMS ${i32[b + R.eims]} EICR ${i32[b + R.eicr]} vector on cpu ${i32[b + R.affinity]} napi state ${napiState}`,
    );
    const vq = shm.vq[q];
    if (vq !== undefined) {
      const u16 = shm.u16;
      lines.push(
        `    virtqueue ${q}: avail idx ${u16[vq.avail_idx]} used idx ${u16[vq.used_idx]} last_used_idx ${i32[vq.drv + DRV.last_used_idx]} ` +
          `num_free ${i32[vq.drv + DRV.num_free]} used_event ${u16[vq.used_event]} avail_event ${u16[vq.avail_event]} ` +
          `avail flags ${u16[vq.avail_flags]} used flags ${u16[vq.used_flags]} kicks ${i32[vq.notify]} net queue ${i32[b + R.virtio_netq_len]}`,
      );
    }
  }
  return lines.join('\n');
}
