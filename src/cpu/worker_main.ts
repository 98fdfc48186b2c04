// What a CPU worker sets up before its loop: attach shared memory, register the driver and
// the flow hash key (module-level kernel state, per thread), the latency histogram.

import * as hdr from 'hdr-histogram-js';
import { Shm } from '../shm/memory.js';
import { CpuRuntime } from './runtime.js';
import { ixgbe_register } from '../drivers/ixgbe.js';
import { flow_hash_init } from '../kernel/hash/flow_dissector.js';
import type { CpuResult, CpuWorkerApi, WorkerInit } from '../engine/messages.js';
import type { LatencySink } from '../kernel/percpu.js';

export const LATENCY_MAX_NS = 100e9;

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 32, autoResize: false, highestTrackableValue: LATENCY_MAX_NS, numberOfSignificantValueDigits: 3 });
}

/** Records clamped to the histogram's range (a clock step must not throw in the hot path). */
export function latencySink(h: hdr.Histogram): LatencySink {
  return {
    recordValue(ns: number): void {
      h.recordValue(ns < 1 ? 1 : ns > LATENCY_MAX_NS ? LATENCY_MAX_NS : Math.round(ns));
    },
  };
}

/** Register every driver's poll and irq handlers and the boot-time hash keys. */
export function kernel_boot(shm: Shm): void {
  ixgbe_register();
  flow_hash_init(shm.cfg.flow_hash, shm.cfg.seed);
}

export function cpu_worker_main(init: WorkerInit): CpuWorkerApi {
  const shm = Shm.attach(init.cfg, init.sab);
  kernel_boot(shm);
  const hist = newLatencyHistogram();
  const rt = new CpuRuntime(shm, init.cpu, latencySink(hist), init.origin_ms);
  return {
    run(): CpuResult {
      rt.run();
      return { cpu: init.cpu, latency: hdr.encodeIntoCompressedBase64(hist) };
    },
  };
}
