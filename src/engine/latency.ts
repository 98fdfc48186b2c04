// The run contract's `latency_ns`: the CPUs' sampled DMA-to-socket latencies merged.

import * as hdr from 'hdr-histogram-js';
import type { LatencyHistogram } from '../cpu/messages.js';
import type { RunResult } from './result_types.js';

/**
 * The CPUs' latency histograms merged. A histogram keeps each value only to its bucket (3
 * significant digits): getValueAtPercentile answers with the top of the percentile's bucket,
 * and a decoded histogram's maxValue is its top bucket's lower end, so read as they come
 * p99.9 could exceed max. max is the exact largest value recorded (each CPU sends its own),
 * and no percentile is reported above it: every sample is at most max.
 */
export function mergeLatency(sources: LatencyHistogram[]): RunResult['latency_ns'] {
  const all = hdr.build({ bitBucketSize: 64, autoResize: true });
  let max = 0;
  for (const s of sources) {
    all.add(hdr.decodeFromCompressedBase64(s.encoded));
    if (s.max_ns > max) max = s.max_ns;
  }
  if (all.totalCount === 0) return { samples: 0, p50: 0, p99: 0, p999: 0, max: 0 };
  const at = (percentile: number) => Math.min(all.getValueAtPercentile(percentile), max);
  return { samples: all.totalCount, p50: at(50), p99: at(99), p999: at(99.9), max };
}
