// Every message between threads, typed in one place.
//
// The data plane is shared memory only. The control plane is two messages on each worker's
// port (docs/design.md, "Decisions"): the coordinator posts `run` once every worker is
// spawned, and the worker answers with its report when its synchronous loop ends (stop is a
// shared-memory word, never a message: a CPU in a busy loop never services its MessagePort).

import type { Config } from '../config/schema.js';
import type { ThreadTimes } from '../host/host.js';
import type { FlowFramesData } from '../devices/frames.js';
import type { XdpShare } from '../kernel/xdp.js';

/** workerData of every worker. */
export interface WorkerInit {
  cfg: Config;
  sab: SharedArrayBuffer;
  /** performance.timeOrigin of the coordinator: the run's clock origin. */
  origin_ms: number;
  /** CPU index, for CPU workers; -1 for the device. */
  cpu: number;
  /** The stack-cost burner's iterations per ns, calibrated once by the coordinator. */
  burn_iters_per_ns: number;
  /**
   * The device's worker, or the CPU that runs the device inline (--device inline): the run's
   * flows and frames, built by the coordinator (shared, not copied).
   */
  frames?: FlowFramesData;
  /** --profile DIR: write this thread's CPU profile there. */
  profile?: string;
  /** --xdp, CPU workers: the coordinator's maps, cpumaps and kthread states (kernel/xdp.ts). */
  xdp?: XdpShare;
}

/** What one thread's hot path allocated in its measured window (see cpu/runtime.ts). */
export interface HotPathReport {
  thread: string;
  window_ms: number;
  window_packets: number;
  gc_events: number;
  heap_growth_bytes: number;
  /** Bytes allocated in the window: the heap's growth plus what GCs in it freed. */
  allocated_bytes: number;
}

/** What the host gave a worker thread over its loop (null off Linux). */
export interface HostThreadReport extends ThreadTimes {
  thread: string;
}

/** What every worker's run() reports besides its own results. */
export interface ThreadResult {
  hot_path: HotPathReport;
  host: HostThreadReport | null;
  /** --profile: the one line saying why this thread's profile could not be written (an error's class does not cross threads). */
  profile_error?: string;
}

export interface CpuResult extends ThreadResult {
  cpu: number;
  /** The CPU's latency histogram, hdr-histogram-js compressed base64, and its exact maximum. */
  latency: LatencyHistogram;
}

/**
 * A latency histogram crossing threads: hdr-histogram-js compressed base64, plus the largest
 * value recorded (ns), which the encoding keeps only to its bucket.
 */
export interface LatencyHistogram {
  encoded: string;
  max_ns: number;
}

export interface CpuWorkerApi {
  run(): Promise<CpuResult>;
}

export interface DeviceWorkerApi {
  run(): Promise<ThreadResult>;
}

/** Coordinator to worker: start the loop (posted once). */
export interface RunMessage {
  kind: 'run';
}

/** Worker to coordinator: the loop ended with its report, or failed (the error's stack, as errors do not cross threads whole). */
export type RunReply<R extends ThreadResult> = { kind: 'done'; result: R } | { kind: 'failed'; error: string };
