// The measured window of a thread's hot path, for the proof that it allocates nothing per
// packet: heap use at both ends, times to match GC events against, packets handled.

import { performance } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Shm } from './memory.js';

let gc: (() => void) | undefined;

/** A full GC, through V8's gc() extension (exposed on first use, in a new context). */
function collect_garbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/**
 * The measured window of a thread's hot path: from the moment 20% of the packets have been
 * generated (JIT warm-up is over) until generation ends. Its heap use at both ends, its start
 * and end times (to match GC events against), and the packets this thread handled in it.
 */
export class HotPathWindow {
  state = 0; // 0 before, 1 open, 2 closed
  start_ms = 0;
  end_ms = 0;
  heap_start = 0;
  heap_end = 0;
  packets_start = 0;
  packets_end = 0;
  /** Heap the GCs inside the window freed: with the growth, what the window allocated. */
  gc_freed = 0;
  private profiler: GCProfiler | undefined;
  private readonly open_at: number; // packets generated, or with --duration ns of the run
  private readonly by_time: boolean;

  constructor(
    private readonly shm: Shm,
    private readonly packets: () => number,
  ) {
    // With --duration the window opens a fifth of the way through by time, else by packets.
    this.by_time = shm.cfg.duration_s > 0;
    this.open_at = this.by_time ? shm.cfg.duration_s * 0.2 * 1e9 : shm.cfg.packets * 0.2;
  }

  /** Called from the thread's loop; opens and closes the window. */
  check(): void {
    const CTL = this.shm.layout.CTL;
    if (this.state === 0) {
      const f = this.shm.f64;
      const start = f[this.shm.ctlF + CTL.start_ns];
      const progress = this.by_time ? (start > 0 ? f[this.shm.ctlF + CTL.clock_ns] - start : 0) : f[this.shm.ctlF + CTL.generated];
      if (progress < this.open_at) return;
      this.state = 1;
      // Start from a collected heap, as a benchmark does before its window: garbage from
      // start-up must not be collected inside the window and counted against the hot path.
      collect_garbage();
      // Each GC's heap use before and after (recorded only when one runs), so that what
      // the window allocated is known even when a GC collected it.
      this.profiler = new GCProfiler();
      this.profiler.start();
      this.heap_start = getHeapStatistics().used_heap_size;
      this.packets_start = this.packets();
      this.start_ms = performance.now();
    } else if (Atomics.load(this.shm.i32, this.shm.ctlI + CTL.gen_done) !== 0) {
      this.close();
    }
  }

  close(): void {
    this.end_ms = performance.now();
    this.packets_end = this.packets();
    this.heap_end = getHeapStatistics().used_heap_size;
    for (const g of this.profiler?.stop().statistics ?? [])
      this.gc_freed += g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize;
    this.state = 2;
  }
}
