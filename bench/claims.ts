// Host-dependent claims (`npm run bench:claims`, i.e. `node dist/bench/claims.js [--runs N]
// [--only NAME]`): what the threads tests used to assert about counts, ratios and thresholds
// of real threaded runs, which a busy host can break without anything being wrong with the
// emulator. The tests now assert only invariants of these runs, and sim mode their exact
// figures (docs/testing.md); this measures, on the machine it runs on, how often each claim
// holds in threads mode. Run it on a quiet host: on a busy one a claim missed in some runs says
// more about the host than about the code.
//
// Each claim runs N times (default 3) and prints its figure per run and `met in k of N`. The
// exit code is 0 whatever the figures (a measurement, not a test); 2 on bad arguments, 1 if a
// run fails to conserve.

import { runEmulation } from '../src/engine/run.js';
import { conserves, type RunResult } from '../src/engine/result.js';
import { configFromFlags } from '../src/engine/configure.js';
import * as S from './scenarios.js';

interface Claim {
  name: string;
  /** What it says, with the threshold. */
  says: string;
  /** The runs it needs (one or two scenarios). */
  flags: S.Flags[];
  /** The figure to print and whether the claim held. */
  judge: (r: RunResult[]) => { figure: string; met: boolean };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const pc = (r: RunResult, k: 'processed' | 'hardirqs' | 'ksoftirqd_wakeups' | 'rfs_flow_moves') => r.percpu.map((p) => p[k]);

const CLAIMS: Claim[] = [
  {
    name: 'hot-path-gc',
    says: "3M packets on 2 CPUs: no GC in any thread's window, under 1 MiB heap growth",
    flags: [S.HOT_PATH],
    judge: ([r]) => ({
      figure: r.hot_path.map((t) => `${t.thread} ${t.gc_events} GC, ${Math.round(t.allocated_bytes / 1024)} KiB`).join('; '),
      met: r.hot_path.every((t) => t.gc_events === 0 && t.heap_growth_bytes < 1 << 20),
    }),
  },
  {
    name: 'hot-path-sampled',
    says: '3M packets on 2 CPUs, latency sampling 1 in 64: under 4 bytes allocated per packet in every window',
    flags: [{ ...S.HOT_PATH, 'latency-sample': 64 }],
    judge: ([r]) => ({
      figure: r.hot_path.map((t) => `${t.thread} ${(t.allocated_bytes / t.window_packets).toFixed(2)} B/packet`).join('; '),
      met: r.hot_path.every((t) => t.allocated_bytes / t.window_packets < 4),
    }),
  },
  {
    name: 'napi-mitigation',
    says: 'closed loop, 1 CPU: hardirqs < packets / 20; ksoftirqd woken',
    flags: [S.NAPI_CLOSED_LOOP],
    judge: ([r]) => ({
      figure: `hardirqs ${pc(r, 'hardirqs')}, ksoftirqd_wakeups ${pc(r, 'ksoftirqd_wakeups')}`,
      met: r.percpu[0].hardirqs < r.packets.generated / 20 && r.percpu[0].ksoftirqd_wakeups > 0,
    }),
  },
  {
    name: 'napi-low-rate',
    says: '1 kpps, 300 packets: hardirqs >= 240; ksoftirqd_wakeups < 15',
    flags: [S.NAPI_LOW_RATE],
    judge: ([r]) => ({
      figure: `hardirqs ${pc(r, 'hardirqs')}, ksoftirqd_wakeups ${pc(r, 'ksoftirqd_wakeups')}`,
      met: r.percpu[0].hardirqs >= 240 && r.percpu[0].ksoftirqd_wakeups < 15,
    }),
  },
  {
    name: 'rx-missed',
    says: '5 Mpps open loop onto a 2 µs stack: rx_missed > 0',
    flags: [S.RX_MISSED],
    judge: ([r]) => ({ figure: `rx_missed ${r.packets.dropped.rx_missed}`, met: r.packets.dropped.rx_missed > 0 }),
  },
  {
    name: 'wire-naps',
    says: 'slow stack, full ring: the wire naps; driver wakes < rx_packets / 1600',
    flags: [S.WIRE_SLOW_STACK],
    judge: ([r]) => {
      const q = r.queues[0];
      return { figure: `naps ${q.wire_naps}, wakes ${q.wire_wakes}`, met: q.wire_naps > 0 && q.wire_wakes < q.rx_packets / 1600 };
    },
  },
  ...(['ixgbe', 'legacy'] as const).map(
    (nic): Claim => ({
      name: `wire-kicks-${nic}`,
      says: `${nic}, 64-entry ring: naps > 20; kicks end more than a quarter of them`,
      flags: [S.wireSmallRing(nic)],
      judge: ([r]) => {
        const q = r.queues[0];
        return { figure: `naps ${q.wire_naps}, kicks ${q.wire_kicks}`, met: q.wire_naps > 20 && q.wire_kicks > q.wire_naps / 4 };
      },
    }),
  ),
  {
    name: 'itr',
    says: 'rx-usecs 1000 takes fewer than half the interrupts of rx-usecs 0 at 20 kpps',
    flags: [S.ITR_BASE, S.ITR_1000],
    judge: ([base, itr]) => ({
      figure: `interrupts ${base.queues[0].interrupts} -> ${itr.queues[0].interrupts}`,
      met: itr.queues[0].interrupts < base.queues[0].interrupts / 2,
    }),
  },
  {
    name: 'affinity',
    says: 'smp_affinity moved at 60 ms: both CPUs take interrupts',
    flags: [S.AFFINITY_CHANGE],
    judge: ([r]) => ({ figure: `hardirqs ${pc(r, 'hardirqs')}`, met: r.percpu.every((p) => p.hardirqs > 0) }),
  },
  {
    name: 'rfs-migration',
    says: 'RFS, tasks migrating every 3 ms at 150 kpps: flow moves > 24; unsafe knob at max rate: out of order > 0',
    flags: [S.rfsMigration(false, 150_000), S.rfsMigration(true, 'max')],
    judge: ([safe, unsafe]) => {
      const moves = sum(pc(safe, 'rfs_flow_moves'));
      return {
        figure: `moves ${moves}, unsafe out_of_order ${unsafe.ordering.out_of_order}`,
        met: moves > 24 && unsafe.ordering.out_of_order > 0,
      };
    },
  },
  {
    name: 'flow-limit',
    says: 'zipf elephant steered to a slower CPU: flow-limit drops > 0, over 90% of them flow 0',
    flags: [S.FLOW_LIMIT],
    judge: ([r]) => {
      const top = r.flow_limit_top[0];
      const fl = r.packets.dropped.flow_limit;
      return {
        figure: `flow_limit ${fl}, top ${top ? `flow ${top.flow} ${top.drops}` : 'none'}`,
        met: fl > 0 && top?.flow === 0 && top.drops > 0.9 * fl,
      };
    },
  },
  {
    name: 'knobs-midrun',
    says: 'RPS on at 150 ms, RFS tables at 80 ms: both CPUs process packets in each run',
    flags: [S.RPS_ON_MIDRUN, S.RFS_ON_MIDRUN],
    judge: ([rps, rfs]) => ({
      figure: `processed ${pc(rps, 'processed')} / ${pc(rfs, 'processed')}`,
      met: [rps, rfs].every((r) => r.percpu.every((p) => p.processed > 0)),
    }),
  },
];

function usage(msg: string): never {
  console.error(msg);
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 3;
let only: string | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--runs') {
    const v = args[++i] ?? '';
    if (!/^[1-9][0-9]*$/.test(v)) usage(`--runs: '${v}' is not valid; expected a positive integer`);
    runs = Number(v);
  } else if (a === '--only') {
    only = args[++i] ?? '';
    if (!CLAIMS.some((c) => c.name === only))
      usage(`--only: '${only}' is not valid; expected one of ${CLAIMS.map((c) => c.name).join(', ')}`);
  } else usage(`unknown argument '${a}'; expected --runs N or --only NAME`);
}

let unmet = 0;
for (const claim of CLAIMS.filter((c) => only === undefined || c.name === only)) {
  console.log(`${claim.name}: ${claim.says}`);
  let met = 0;
  for (let i = 0; i < runs; i++) {
    const results: RunResult[] = [];
    for (const flags of claim.flags) {
      const r = await runEmulation(configFromFlags(flags));
      if (!conserves(r)) {
        console.error(`${claim.name}: a run does not conserve: ${JSON.stringify(r.packets)}`);
        process.exit(1);
      }
      results.push(r);
    }
    const { figure, met: ok } = claim.judge(results);
    if (ok) met++;
    console.log(`  run ${i + 1}: ${figure}${ok ? '' : '  (not met)'}`);
  }
  if (met < runs) unmet++;
  console.log(`  met in ${met} of ${runs}`);
}
console.log(unmet === 0 ? 'every claim met in every run' : `${unmet} claim(s) not met in every run (on a busy host, expected)`);
