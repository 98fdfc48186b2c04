// `rxsmp compare`: two configurations that differ in named options, run interleaved with
// paired seeds, summarised as medians with their spread and the B/A ratio over the pairs.
// The library's `compare` resolves to the document `rxsmp compare --json` prints.

import type { RawSettings } from '../config/resolve.js';
import { ConfigError, KNOBS, optionName, type Config } from '../config/schema.js';
import type { RunResult } from './result.js';
import { runEmulation } from './run.js';
import { runSim } from './sim_run.js';
import { count } from '../lib/units.js';
import { textTable, type TextColumn } from '../lib/text_table.js';
import { parseAssignment, settingsFromNamed, spread, variantConfig, variantLabel, type Assignment, type Spread } from './variants.js';

export const COMPARE_SCHEMA = 'rxsmp.compare/1';

export interface CompareSide {
  /** The options that make this side, as typed (`rps-cpus=3`). */
  label: string;
  settings: Record<string, string>;
  pps: Spread;
  /** Packets dropped per run, every reason together, and each reason summed over the runs. */
  drops: Spread;
  drops_by_reason: Record<string, number>;
  /** Runs the host disturbed (host.disturbed: a worker thread waited for a core) of the runs made. */
  disturbed: number;
  runs: number;
}

export interface CompareResult {
  schema: typeof COMPARE_SCHEMA;
  /** The command line that made the comparison (the CLI sets it). */
  command?: string;
  /** Present (true) when SIGINT cut the comparison: the figures are over the pairs completed. */
  interrupted?: true;
  mode: Config['mode'];
  repeat: number;
  /** Pairs with both runs complete (uninterrupted); every figure below is over these. */
  pairs: number;
  /** Pair i runs both sides with this seed + i (unless a side sets --seed itself). */
  seed: number;
  /** Within each pair which side ran first: A then B for even pairs, B then A for odd (ABBA). */
  order: 'ABBA';
  a: CompareSide;
  b: CompareSide;
  /** pps of B over pps of A, pair by pair. */
  ratio: Spread;
  /** Every run document, in pair order (a[i] and b[i] share a seed). */
  runs: { a: RunResult[]; b: RunResult[] };
}

export interface CompareOptions {
  /** Options both sides share, by name: { 'stack-cost-ns': 2000, cpus: 2 }. */
  options?: Readonly<Record<string, string | number | boolean>>;
  /** The options that make side A and side B: { 'rps-cpus': '0' } and { 'rps-cpus': '3' }. */
  a: Readonly<Record<string, string | number | boolean>>;
  b: Readonly<Record<string, string | number | boolean>>;
  /** Pairs of runs (default 5). */
  repeat?: number;
  /** Aborted (SIGINT): the running pair stops, the document covers the pairs completed. */
  signal?: AbortSignal;
  /** Called after every run (progress lines). */
  onRun?: (side: 'a' | 'b', pair: number, r: RunResult) => void;
}

/** What compare runs, checked: both configurations resolved before anything starts. */
export interface ComparePlan {
  base: RawSettings;
  a: Assignment[];
  b: Assignment[];
  cfgA: Config;
  cfgB: Config;
  repeat: number;
}

export const REPEAT_MAX = 1000;

/** Check a comparison before any run: each side's whole configuration, the repeat count. Throws ConfigError. */
export function planCompare(base: RawSettings, a: Assignment[], b: Assignment[], repeat: number): ComparePlan {
  if (a.length === 0 || b.length === 0)
    throw new ConfigError('compare: give both --a and --b (knob=value; e.g. --a rps-cpus=0 --b rps-cpus=3)');
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > REPEAT_MAX)
    throw new ConfigError(`--repeat: ${repeat} is not valid; expected an integer from 1 to ${REPEAT_MAX}`);
  const cfgA = variantConfig(base, a, `--a ${variantLabel(a)}`);
  const cfgB = variantConfig(base, b, `--b ${variantLabel(b)}`);
  return { base, a, b, cfgA, cfgB, repeat };
}

/** A side's settings as a record of option names (kebab case) to the text given. */
function settingsRecord(v: Assignment[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of v) {
    const name = optionName(x.key).slice(2);
    const list = KNOBS[x.key].kind.list; // a list knob given twice (--xdp-map) adds up
    out[name] = list !== undefined && name in out ? `${out[name]}${list}${x.text}` : x.text;
  }
  return out;
}

function sideSummary(v: Assignment[], runs: RunResult[]): CompareSide {
  const drops = runs.map((r) => Object.values(r.packets.dropped).reduce((s, n) => s + n, 0));
  const byReason: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.packets.dropped)) byReason[k] = (byReason[k] ?? 0) + n;
  return {
    label: variantLabel(v),
    settings: settingsRecord(v),
    pps: spread(runs.map((r) => r.pps)),
    drops: spread(drops),
    drops_by_reason: byReason,
    disturbed: runs.filter((r) => r.host.disturbed).length,
    runs: runs.length,
  };
}

/** The configuration of one run of a side: pair i takes the base seed + i, unless the side names --seed. */
function pairConfig(cfg: Config, side: Assignment[], seed0: number, pair: number): Config {
  return side.some((x) => x.key === 'seed') ? cfg : { ...cfg, seed: (seed0 + pair) >>> 0 };
}

/** Run a checked plan: pairs in ABBA order, each pair's two runs with one seed. */
export async function runCompare(plan: ComparePlan, o: Pick<CompareOptions, 'signal' | 'onRun'> = {}): Promise<CompareResult> {
  const seed0 = plan.cfgA.seed;
  const runsA: RunResult[] = [];
  const runsB: RunResult[] = [];
  const one = (cfg: Config): Promise<RunResult> =>
    cfg.mode === 'sim' ? runSim(cfg, { signal: o.signal }) : runEmulation(cfg, { signal: o.signal });
  let interrupted = false;
  for (let i = 0; i < plan.repeat && !interrupted; i++) {
    const order: ('a' | 'b')[] = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    const got: Partial<Record<'a' | 'b', RunResult>> = {};
    for (const side of order) {
      if (o.signal?.aborted) break;
      const r = await one(pairConfig(side === 'a' ? plan.cfgA : plan.cfgB, side === 'a' ? plan.a : plan.b, seed0, i));
      if (r.interrupted) break;
      got[side] = r;
      o.onRun?.(side, i, r);
    }
    if (got.a === undefined || got.b === undefined) {
      interrupted = true; // a pair with one side only is left out: its ratio would not be paired
      break;
    }
    runsA.push(got.a);
    runsB.push(got.b);
  }
  const ratios = runsA.map((a, i) => (a.pps > 0 ? runsB[i].pps / a.pps : 0));
  return {
    schema: COMPARE_SCHEMA,
    ...(interrupted ? { interrupted: true as const } : {}),
    mode: plan.cfgA.mode,
    repeat: plan.repeat,
    pairs: runsA.length,
    seed: seed0,
    order: 'ABBA',
    a: sideSummary(plan.a, runsA),
    b: sideSummary(plan.b, runsB),
    ratio: spread(ratios),
    runs: { a: runsA, b: runsB },
  };
}

/**
 * The library's compare: `await compare({ options: { 'stack-cost-ns': 2000 }, a: { 'rps-cpus': 0 },
 * b: { 'rps-cpus': 3 }, repeat: 5 })` resolves to what `rxsmp compare --json` prints.
 * Throws ConfigError before any run on a bad option.
 */
export async function compare(o: CompareOptions): Promise<CompareResult> {
  const base = settingsFromNamed('options', o.options ?? {});
  const side = (name: string, named: CompareOptions['a']) =>
    Object.entries(named).map(([k, v]) => parseAssignment(name, `${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`));
  const plan = planCompare(base, side('a', o.a), side('b', o.b), o.repeat ?? 5);
  return runCompare(plan, o);
}

const fmtPps = count;
const fmtRatio = (n: number) => n.toFixed(3);

/** The comparison for the terminal: a table of the two sides, then the ratio line. */
export function compareSummary(c: CompareResult): string {
  type Row = [name: string, a: string, b: string];
  const sides: TextColumn<Row>[] = [
    { head: '', width: 18, left: true, gap: '  ', cell: (r) => r[0] },
    { head: `A: ${c.a.label}`, width: 28, left: true, cell: (r) => r[1] },
    { head: `B: ${c.b.label}`, width: 0, left: true, cell: (r) => r[2] },
  ];
  const sp = (s: Spread) => `${fmtPps(s.min)}..${fmtPps(s.max)}`;
  const iqr = (s: Spread) => `${fmtPps(s.q1)}..${fmtPps(s.q3)}`;
  const reasons = (s: CompareSide) =>
    Object.entries(s.drops_by_reason)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${fmtPps(n)}`)
      .join(', ') || 'none';
  const lines = [
    `compare: ${c.pairs} pairs${c.interrupted ? ` of ${c.repeat} (interrupted)` : ''}, ${c.mode} mode, A/B interleaved (ABBA), pair i seed ${c.seed}+i on both sides`,
    textTable(
      sides,
      [
        ['pps median', fmtPps(c.a.pps.median), fmtPps(c.b.pps.median)],
        ['pps min..max', sp(c.a.pps), sp(c.b.pps)],
        ['pps IQR', iqr(c.a.pps), iqr(c.b.pps)],
        ['drops/run median', fmtPps(c.a.drops.median), fmtPps(c.b.drops.median)],
        ['drops (all runs)', reasons(c.a), reasons(c.b)],
        ['host disturbed', `${c.a.disturbed} of ${c.a.runs} runs`, `${c.b.disturbed} of ${c.b.runs} runs`],
      ],
      '',
    ),
    `B/A ratio: median ${fmtRatio(c.ratio.median)}, min..max ${fmtRatio(c.ratio.min)}..${fmtRatio(c.ratio.max)}, ` +
      `IQR ${fmtRatio(c.ratio.q1)}..${fmtRatio(c.ratio.q3)} over ${c.ratio.n} pairs`,
  ];
  if (c.mode === 'threads' && c.a.disturbed + c.b.disturbed > 0)
    lines.push('note: the host took worker threads off their cores in some runs (host.disturbed): their rates show the host too');
  return lines.join('\n');
}
