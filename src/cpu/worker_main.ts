// What a CPU worker sets up before its loop: attach shared memory, register the driver and
// the flow hash key (module-level kernel state, per thread), the latency histogram.

import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Shm } from '../shm/memory.js';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { TrafficGenerator } from '../devices/generator.js';
import { FlowFrames } from '../devices/frames.js';
import { CpuRuntime, set_burn_rate } from './runtime.js';
import type { HotPathWindow } from '../shm/hot_path.js';
import { nicDriver } from '../drivers/table.js';
import { flow_hash_init } from '../kernel/hash/flow_dissector.js';
import { xdp_attach } from '../kernel/xdp.js';
import { resolveXdp } from '../host/xdp_object.js';
import { BpfMaps } from '../bpf/maps.js';
import type { CpuResult, CpuWorkerApi, HotPathReport, LatencyHistogram, ThreadResult, WorkerInit } from './messages.js';
import type { RunMessage, RunReply } from './messages.js';
import type { MessagePort } from 'node:worker_threads';
import { hostCoreOf, hostThreadId, pinThisThread, threadTimes, threadTimesSince } from '../host/host.js';
import type { LatencySink } from '../kernel/percpu.js';
import { OutputError, writeOutputFile } from '../host/files.js';
import { AssertionFailure } from '../shm/assert.js';

export const LATENCY_MAX_NS = 100e9;

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 32, autoResize: false, highestTrackableValue: LATENCY_MAX_NS, numberOfSignificantValueDigits: 3 });
}

/** A histogram to send to the coordinator: encoded, with its exact maximum. */
export function latencyHistogram(h: hdr.Histogram): LatencyHistogram {
  return { encoded: hdr.encodeIntoCompressedBase64(h), max_ns: h.totalCount > 0 ? h.maxValue : 0 };
}

/** Records clamped to the histogram's range (a clock step must not throw in the hot path). */
export function latencySink(h: hdr.Histogram): LatencySink {
  return {
    recordMany(values: Float64Array, n: number): void {
      for (let i = 0; i < n; i++) {
        const ns = values[i];
        h.recordValue(ns < 1 ? 1 : ns > LATENCY_MAX_NS ? LATENCY_MAX_NS : Math.round(ns));
      }
    },
  };
}

/** Register every driver's poll and irq handlers and the boot-time hash keys. */
export function kernel_boot(shm: Shm): void {
  nicDriver(shm.cfg.nic).register();
  flow_hash_init(shm.cfg.flow_hash, shm.cfg.seed);
}

/** A worker's first step: take its host core if --host-cpus gave it one (cpu -1: the device). */
export function pinWorker(init: WorkerInit): void {
  const core = hostCoreOf(init.cfg, init.cpu);
  if (core >= 0) pinThisThread(core);
}

export function cpu_worker_main(init: WorkerInit): CpuWorkerApi {
  pinWorker(init);
  const shm = Shm.attach(init.cfg, init.sab);
  if (init.xdp !== undefined) {
    const x = resolveXdp(shm.cfg)!; // the object read again in this thread (the coordinator checked it)
    shm.xdp = xdp_attach(shm.cfg, x, BpfMaps.attach(x.prog.obj.maps, shm.cfg.cpus, init.xdp.maps), init.xdp);
  }
  shm.i32[shm.sd[init.cpu] + shm.layout.SD.host_tid] = hostThreadId(); // the timeline reads its schedstat
  kernel_boot(shm);
  if (init.burn_iters_per_ns > 0) set_burn_rate(init.burn_iters_per_ns);
  const hist = newLatencyHistogram();
  // --device inline: this CPU's thread runs the device too (devices/generator.ts inline_turn).
  let dev: TrafficGenerator | null = null;
  if (init.frames !== undefined) {
    const origin = performance.timeOrigin - init.origin_ms;
    dev = new TrafficGenerator(shm, () => (performance.now() + origin) * 1e6, FlowFrames.attach(init.frames));
    dev.set_inline(init.cpu);
  }
  const rt = new CpuRuntime(shm, init.cpu, latencySink(hist), init.origin_ms, dev);
  const gc = watchGc();
  return {
    async run(): Promise<CpuResult> {
      const { hot_path, host } = await threadResult(`cpu${init.cpu}`, () => rt.run(), rt.window, gc, init.profile);
      return { cpu: init.cpu, latency: latencyHistogram(hist), hot_path, host };
    },
  };
}

/** Start recording this thread's GC events (delivered to the observer once the loop yields). */
export function watchGc(): number[] {
  const starts: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) starts.push(e.startTime);
  });
  obs.observe({ entryTypes: ['gc'] });
  return starts;
}

/** After the thread's loop: let queued GC entries arrive, then count those in the window. */
export async function hotPathReport(thread: string, w: HotPathWindow, gcStarts: number[]): Promise<HotPathReport> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  // A window that never closed measured nothing: every figure 0 (not its start subtracted from 0).
  const closed = w.state === 2;
  return {
    thread,
    window_ms: closed ? w.end_ms - w.start_ms : 0,
    window_packets: closed ? w.packets_end - w.packets_start : 0,
    gc_events: closed ? gcStarts.filter((t) => t >= w.start_ms && t <= w.end_ms).length : 0,
    heap_growth_bytes: closed ? w.heap_end - w.heap_start : 0,
    allocated_bytes: closed ? w.heap_end - w.heap_start + w.gc_freed : 0,
  };
}

/** Run a worker's loop and report its hot-path window and what the host gave the thread. */
export async function threadResult(
  thread: string,
  loop: () => void,
  w: HotPathWindow,
  gcStarts: number[],
  profileDir?: string,
): Promise<ThreadResult> {
  const profile = profileDir === undefined ? undefined : await startProfile();
  const t0 = threadTimes();
  loop();
  const times = threadTimesSince(t0);
  let profile_error: string | undefined;
  try {
    if (profile !== undefined) await profile.stop(join(profileDir!, `${thread}.cpuprofile`));
  } catch (e) {
    if (!(e instanceof OutputError)) throw e;
    profile_error = e.message; // the coordinator reports it after the run's result
  }
  const hot_path = await hotPathReport(thread, w, gcStarts);
  return { hot_path, host: times && { thread, ...times }, ...(profile_error === undefined ? {} : { profile_error }) };
}

/**
 * --profile DIR: V8's sampling CPU profiler on this thread through its own inspector session
 * (each worker has one); stop() writes the profile as a .cpuprofile (Chrome DevTools'
 * Performance panel or speedscope open it), under the output rules (src/host/files.ts): the
 * command checked the file before the run; a write that fails is an OutputError.
 */
export async function startProfile(): Promise<{ stop: (file: string) => Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file: string): Promise<void> {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      writeOutputFile('--profile', file, JSON.stringify(profile));
    },
  };
}

/**
 * A worker's side of the control plane (cpu/messages.ts): run the loop when the coordinator
 * posts `run`, and answer with its report, or with the error's stack if it threw.
 */
/** A failed run as text for the coordinator: an assertion's one line as it is (assertionOf reads it), else the stack. */
function failureText(e: unknown): string {
  if (e instanceof AssertionFailure) return e.message;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

export function answerRun<R extends ThreadResult>(port: MessagePort | null, api: { run(): Promise<R> }): void {
  port!.once('message', (_: RunMessage) => {
    api.run().then(
      (result) => port!.postMessage({ kind: 'done', result } satisfies RunReply<R>),
      (e: unknown) => port!.postMessage({ kind: 'failed', error: failureText(e) } satisfies RunReply<R>),
    );
  });
}
