// Per-stage ns/packet of the receive path in one thread (bench/inline.ts: one emulated CPU and
// the device, no waiting), from V8's sampling profiler (bench/profile_stages.ts: each sample
// charged to the stage whose function is innermost above it, helpers to their callers): a
// stage's share of the run's time times the run's ns/packet is its cost.
//   node dist/bench/stages.js [packets] [extra rxsmp run options...]

import { inlineRun } from './inline.js';
import { STAGES, stageShares, type Stage } from './profile_stages.js';

/** ns/packet per stage, and the whole, of one profiled inline run. */
export async function stageCosts(packets = 3_000_000, extra: string[] = []): Promise<{ total: number; ns: Record<Stage, number> }> {
  inlineRun(Math.min(packets, 1_000_000), extra); // warm the JIT outside the profile
  let total = 0;
  const shares = await stageShares(() => {
    total = inlineRun(packets, extra).ns_per_packet;
  });
  const ns = Object.fromEntries(STAGES.map((k) => [k, shares[k] * total])) as Record<Stage, number>;
  return { total, ns };
}

export function stageTable(c: { total: number; ns: Record<Stage, number> }): string {
  return [
    `per-stage ns/packet, one thread (profiled inline run): total ${c.total.toFixed(0)}`,
    ...STAGES.map((k) => `  ${k.padEnd(24)} ${c.ns[k].toFixed(1).padStart(7)}`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packets = Number(process.argv[2] ?? 3_000_000);
  console.log(stageTable(await stageCosts(packets, process.argv.slice(3))));
}
