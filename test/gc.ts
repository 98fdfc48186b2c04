// How many garbage collections a piece of code caused: the tests' check that a hot path
// allocates nothing per packet (an allocation per packet makes GCs in every window of a few
// hundred thousand packets).

import { PerformanceObserver, performance } from 'node:perf_hooks';

/** GC events (perf_hooks 'gc' entries) that started inside `fn`. */
export async function gcsDuring(fn: () => void): Promise<number> {
  const starts: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) starts.push(e.startTime);
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  fn();
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
  obs.disconnect();
  return starts.filter((t) => t >= t0 && t <= t1).length;
}
