// `rxsmp report FILE... --out report.html`: one self-contained HTML page from run documents
// (`run --json`), compare documents (`compare --json`) and sweep files (JSON Lines). Each
// source is its own section, never merged onto another's axis: every sweep file, every
// comparison, and the plain runs together. A section carries the whole run: the command line
// and the effective config, the conservation line, drops by reason, the ordering result,
// latency, each CPU's time as mpstat shows it, the softnet counters and, where the documents
// have one, the timeline; comparisons and sweeps with a two-valued axis add the B/A ratio.
// The figures are computed here (reportData: testable, no DOM); the page only draws them with
// Observable Plot and d3, whose minified bundles are inlined from node_modules, so the page
// needs no network when it is opened. docs/design.md says why Plot.

import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { ConfigError } from '../config/schema.js';
import { named, readInputText } from '../host/files.js';
import type { CompareResult } from '../engine/compare.js';
import { conserves, type RunResult, type UtilPct } from '../engine/result.js';
import { CPU_TIMES, type Timeline } from '../engine/timeline.js';
import { spread, type Spread } from '../engine/variants.js';
import { count, duration, percent } from '../lib/units.js';
import { conservationLine, orderingLine, UTIL_COLUMNS } from './human.js';
import { PACKAGE_DIR } from '../paths.js';

type RunDoc = RunResult & { cell?: Record<string, string>; repeat?: number };

/** One run as a section sees it: the group it belongs to, its variant (a line) and its x. */
interface Entry {
  doc: RunDoc;
  group: string;
  variant: string;
  x: string | number;
}

/** The documents of one input: a file, or what a command made in memory. */
export interface ReportInput {
  source: string;
  docs: unknown[];
}

export interface ReportData {
  title: string;
  /** The command that wrote the page, when known. */
  command: string | null;
  sources: string[];
  sections: Section[];
}

/** The figures of one source: a run (or the plain runs of every input), a comparison, a sweep. */
export interface Section {
  /** Unique on the page: the charts' element ids start with it. */
  id: string;
  kind: 'run' | 'runs' | 'comparison' | 'sweep';
  title: string;
  sources: string[];
  /** The command lines the documents were made by (as recorded in them). */
  commands: string[];
  /** The effective configuration(s), as key: value lines. */
  configs: { label: string; text: string }[];
  /** One line each: pps, length, host. */
  headline: string[];
  /** The x axis of the pps chart: a swept option, 'side' or 'run'. */
  x_label: string;
  x_numeric: boolean;
  groups: string[];
  /** One point per run (drawn when the section has more than one run). */
  pps: { group: string; variant: string; x: string | number; pps: number }[];
  /** Per variant and x: the median and spread over repeats. */
  pps_summary: { variant: string; x: string | number; n: number; median: number; min: number; max: number; q1: number; q3: number }[];
  /** Per group: generated, delivered, every drop reason, and whether every run conserves. */
  conservation: {
    group: string;
    line: string;
    ok: boolean;
    runs: number;
    generated: number;
    delivered: number;
    dropped: number;
    out_of_order: number;
  }[];
  /** The section's runs together: the conservation and ordering lines. */
  overall: { conservation: string; ok: boolean; ordering: string };
  /** Per group and reason (every reason the documents have): packets dropped, summed over the group's runs. */
  drops: { group: string; reason: string; packets: number }[];
  /** Per group, CPU and mpstat column: the mean share (%) over the group's runs. */
  util: { group: string; cpu: number; kind: string; pct: number }[];
  /** Per group, CPU and counter: the median over the group's runs. */
  percpu: { group: string; cpu: number; metric: string; value: number }[];
  /** Per group and measure: the median over the group's runs (measures the documents have). */
  contention: { group: string; metric: string; value: number }[];
  /** Per group and percentile: the median over runs with latency samples. */
  latency: { group: string; percentile: string; ns: number }[];
  /** B over A per cell (a comparison, or a sweep with a two-valued axis), pair by pair. */
  ratio: RatioData | null;
  timelines: TimelineData[];
  notes: string[];
}

export interface RatioData {
  /** What is over what: "rps-cpus=3 over rps-cpus=0". */
  label: string;
  x_label: string;
  cells: ({ x: string; ratios: number[] } & Spread)[];
}

export interface TimelineData {
  /** Unique on the page (element ids). */
  id: string;
  /** Which run it is. */
  label: string;
  interval_ms: number;
  end_ms: number;
  cpus: string[];
  /** Per CPU per interval (from the differences of the cumulative series); null in a sampling gap. */
  rates: { t_ms: number; cpu: string; pps: number | null; drops_per_s: number | null }[];
  /**
   * Per CPU, each interval's share of each mpstat column (%), the intervals' start and end;
   * null shares in a sampling gap. Kinds as UTIL_COLUMNS (older documents: busy and idle).
   */
  util: { kinds: string[]; t0_ms: number[]; t1_ms: number[]; percpu: { cpu: string; pct: Record<string, (number | null)[]> }[] };
  /** Intervals longer than GAP_FACTOR samples: the sampler was held up (drawn as gaps). */
  gaps: number;
  /** --knob-at changes, migrations, the RSS table rotation: when, what kind, what. */
  marks: { t_ms: number; kind: string; label: string }[];
}

/** An interval this many times the sampling interval is a gap in sampling, not data. */
export const GAP_FACTOR = 10;
export const PERCPU_METRICS = ['processed', 'dropped', 'time_squeeze', 'received_rps'] as const;
export const LATENCY_PERCENTILES = ['p50', 'p99', 'p999', 'max'] as const;

const isRun = (o: unknown): o is RunDoc =>
  typeof o === 'object' && o !== null && typeof (o as RunDoc).schema === 'string' && (o as RunDoc).schema.startsWith('rxsmp.run/');
const isCompare = (o: unknown): o is CompareResult =>
  typeof o === 'object' &&
  o !== null &&
  typeof (o as CompareResult).schema === 'string' &&
  (o as CompareResult).schema.startsWith('rxsmp.compare/');

/** Documents of a file: one JSON document (a run or a comparison) or JSON Lines (a sweep). */
export function readReportInput(file: string): unknown[] {
  const text = readInputText('report:', file, 'documents');
  let docs: unknown[];
  try {
    docs = [JSON.parse(text)];
  } catch {
    docs = [];
    const lines = text.split('\n');
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      try {
        docs.push(JSON.parse(l));
      } catch {
        if (i < lines.length - 1 || docs.length === 0) throw new ConfigError(`${named('report:', file)}: line ${i + 1} is not JSON`);
        // the last line cut short by an interrupted sweep: left out
      }
    });
  }
  for (const d of docs)
    if (!isRun(d) && !isCompare(d))
      throw new ConfigError(`${named('report:', file)}: not a rxsmp.run or rxsmp.compare document (nor JSON Lines of them)`);
  if (docs.length === 0) throw new ConfigError(`${named('report:', file)}: no documents in it`);
  return docs;
}

const isNumeric = (values: string[]) => values.every((v) => /^-?[0-9]+(\.[0-9]+)?$/.test(v));
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
const mean = (xs: readonly number[]) => (xs.length > 0 ? sum(xs) / xs.length : 0);
const cellLabel = (cell: Record<string, string>, leave: string[] = []) =>
  Object.entries(cell)
    .filter(([k]) => !leave.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

/** A sweep's axes: each option swept and its values in the order first seen. */
function sweepAxes(lines: RunDoc[]): Map<string, string[]> {
  const axes = new Map<string, string[]>();
  for (const l of lines)
    for (const [k, v] of Object.entries(l.cell!)) {
      const vs = axes.get(k) ?? axes.set(k, []).get(k)!;
      if (!vs.includes(v)) vs.push(v);
    }
  return axes;
}

/** Sweep lines: x is the numeric axis with the most values (the last on a tie), the variant the rest. */
function sweepEntries(lines: RunDoc[], axes: Map<string, string[]>): { entries: Entry[]; x_label: string; x_numeric: boolean } {
  let xAxis = '';
  let best = -1;
  for (const [k, vs] of axes) {
    const score = (isNumeric(vs) ? 1000 : 0) + vs.length;
    if (score >= best) {
      best = score;
      xAxis = k;
    }
  }
  const x_numeric = isNumeric(axes.get(xAxis) ?? []);
  const entries = lines.map((doc) => {
    const cell = doc.cell!;
    const variant = cellLabel(cell, [xAxis]) || 'all';
    return { doc, group: cellLabel(cell), variant, x: x_numeric ? Number(cell[xAxis]) : cell[xAxis] };
  });
  return { entries, x_label: xAxis, x_numeric };
}

/**
 * A sweep's B/A ratio: its A/B axis is a two-valued axis other than the pps chart's x (or its
 * only axis); in every cell of the other axes, B's run over A's run of the same repeat (the
 * same seed).
 */
function sweepRatio(lines: RunDoc[], axes: Map<string, string[]>, x_label: string): RatioData | null {
  const two = [...axes].filter(([, vs]) => vs.length === 2);
  const ab = two.find(([k]) => k !== x_label) ?? (axes.size === 1 ? two[0] : undefined);
  if (ab === undefined) return null;
  const [key, [a, b]] = ab as [string, [string, string]];
  const cells = new Map<string, { a: Map<number, number>; b: Map<number, number> }>();
  for (const l of lines) {
    const k = cellLabel(l.cell!, [key]) || 'all';
    const c = cells.get(k) ?? cells.set(k, { a: new Map(), b: new Map() }).get(k)!;
    (l.cell![key] === a ? c.a : c.b).set(l.repeat ?? 0, l.pps);
  }
  return {
    label: `${key}=${b} over ${key}=${a}`,
    x_label: [...axes.keys()].filter((k) => k !== key).join(' ') || 'cell',
    cells: [...cells].map(([x, c]) => {
      const ratios = [...c.a].filter(([r]) => c.b.has(r)).map(([r, pa]) => ratio(c.b.get(r)!, pa));
      return { x, ratios, ...spread(ratios) };
    }),
  };
}

/** Contention measures of one run, from whatever fields its document has. */
function contentionOf(r: RunDoc): Record<string, number> {
  const p = r.percpu ?? [];
  const field = (f: (c: RunDoc['percpu'][number]) => number | undefined) => sum(p.map((c) => f(c) ?? 0));
  const out: Record<string, number> = {};
  if (p.some((c) => c.rps_lock_acquisitions !== undefined))
    out['rps_lock spins per acquisition'] = ratio(
      field((c) => c.rps_lock_spins),
      field((c) => c.rps_lock_acquisitions),
    );
  if (p.some((c) => c.ipis_sent !== undefined))
    out['IPIs per packet'] = ratio(
      field((c) => c.ipis_sent),
      r.packets.generated,
    );
  if (p.some((c) => c.enqueue_remote !== undefined))
    out['remote enqueue share'] = ratio(
      field((c) => c.enqueue_remote),
      field((c) => (c.enqueue_local ?? 0) + (c.enqueue_remote ?? 0)),
    );
  if (p.some((c) => c.busy?.ksoftirqd_ns !== undefined))
    out['ksoftirqd share of busy'] = ratio(
      field((c) => c.busy?.ksoftirqd_ns),
      field((c) => c.busy_ns),
    );
  return out;
}

/** A CPU's mpstat split of a run: util_pct, or (older documents) derived from its busy split. */
function utilOf(p: RunDoc['percpu'][number]): UtilPct | null {
  if (p.util_pct !== undefined) return p.util_pct;
  const b = p.busy;
  if (b === undefined) return null;
  const total = b.hardirq_ns + b.softirq_ns + b.ksoftirqd_ns + b.task_ns + b.idle_ns + (b.steal_ns ?? 0);
  const pct = (ns: number) => (total > 0 ? (ns / total) * 100 : 0);
  return {
    usr: pct(b.task_ns),
    irq: pct(b.hardirq_ns),
    soft: pct(b.softirq_ns),
    ksoftirqd: pct(b.ksoftirqd_ns),
    steal: pct(b.steal_ns ?? 0),
    idle: pct(b.idle_ns),
  };
}

/** What a timeline event is: a migration, the RSS table rotation, or a --knob-at change. */
function markKind(what: string): string {
  if (what.startsWith('migration')) return 'migration';
  if (what.startsWith('rss-reta')) return 'rss-reta';
  return 'knob';
}

/** The per-CPU rates and CPU time of a run's timeline, with its knob changes and migrations marked. */
export function timelineData(r: RunDoc, label: string): TimelineData | null {
  const tl: Timeline | undefined = r.timeline;
  if (tl === undefined || tl.t_ms.length < 2) return null;
  const n = tl.t_ms.length;
  const gap = (k: number) => tl.t_ms[k] - tl.t_ms[k - 1] > GAP_FACTOR * tl.interval_ms;
  const rates: TimelineData['rates'] = [];
  const t0_ms: number[] = [];
  const t1_ms: number[] = [];
  let gaps = 0;
  for (let k = 1; k < n; k++) {
    t0_ms.push(tl.t_ms[k - 1]);
    t1_ms.push(tl.t_ms[k]);
    if (gap(k)) gaps++;
  }
  const split = tl.percpu.every((c) => CPU_TIMES.every((name) => c[name] !== undefined));
  const kinds: string[] = split ? UTIL_COLUMNS.map(([k]) => k) : ['busy', 'idle'];
  const utilPercpu = tl.percpu.map((c, cpu) => {
    const pct: Record<string, (number | null)[]> = Object.fromEntries(kinds.map((k) => [k, [] as (number | null)[]]));
    for (let k = 1; k < n; k++) {
      const dt_ms = tl.t_ms[k] - tl.t_ms[k - 1];
      const rate = (xs: number[]) => (gap(k) || !(dt_ms > 0) ? null : ((xs[k] - xs[k - 1]) * 1000) / dt_ms);
      rates.push({ t_ms: tl.t_ms[k], cpu: `cpu${cpu}`, pps: rate(c.processed), drops_per_s: rate(c.dropped) });
      if (split) {
        // Shares of the interval as the CPU accounted it: its contexts and steal add up to it.
        const d = (name: (typeof CPU_TIMES)[number]) => Math.max(0, c[name]![k] - c[name]![k - 1]);
        const total = sum(CPU_TIMES.map(d));
        const share = (ns: number) => (gap(k) || !(total > 0) ? null : (ns / total) * 100);
        pct.usr.push(share(d('task_ns')));
        pct.irq.push(share(d('hardirq_ns')));
        pct.soft.push(share(d('softirq_ns')));
        pct.ksoftirqd.push(share(d('ksoftirqd_ns')));
        pct.steal.push(share(d('steal_ns')));
        pct.idle.push(share(d('idle_ns')));
      } else {
        // An older document: busy time only, charged at context switches, so capped at the interval.
        const busy = gap(k) || !(dt_ms > 0) ? null : Math.min(100, ((c.busy_ns[k] - c.busy_ns[k - 1]) / (dt_ms * 1e6)) * 100);
        pct.busy.push(busy);
        pct.idle.push(busy === null ? null : 100 - busy);
      }
    }
    return { cpu: `cpu${cpu}`, pct };
  });
  const marks: TimelineData['marks'] = [];
  const show = (key: string, value: unknown) => `${key.replace(/_/g, '-')}=${Array.isArray(value) ? value.join(',') : String(value)}`;
  if (tl.events.length > 0) {
    for (const e of tl.events) marks.push({ t_ms: e.t_ms, kind: markKind(e.what), label: e.what.replace(/_/g, '-') });
  } else {
    // A document without events: the knob changes as applied, the migrations as configured.
    for (const k of r.knobs_applied ?? []) if (k.applied) marks.push({ t_ms: k.applied_at_ms, kind: 'knob', label: show(k.key, k.value) });
    const every = Number(r.config.migrate_every_ms ?? 0);
    const end = tl.t_ms[n - 1];
    if (every > 0)
      for (let t = every, m = 1; t <= end; t += every, m++) marks.push({ t_ms: t, kind: 'migration', label: `migration ${m}` });
  }
  return {
    id: '',
    label,
    interval_ms: tl.interval_ms,
    end_ms: tl.t_ms[n - 1],
    cpus: tl.percpu.map((_, c) => `cpu${c}`),
    rates,
    util: { kinds, t0_ms, t1_ms, percpu: utilPercpu },
    gaps,
    marks,
  };
}

/** A section's configuration text: one `key: value` line per setting. */
function configText(config: Record<string, unknown>): string {
  return Object.entries(config)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}

/** The packets of several runs added up (a group's conservation line). */
function packetsOf(docs: RunDoc[]): RunResult['packets'] {
  const dropped: Record<string, number> = {};
  for (const d of docs) for (const [k, n] of Object.entries(d.packets.dropped)) dropped[k] = (dropped[k] ?? 0) + n;
  return {
    generated: sum(docs.map((d) => d.packets.generated)),
    generated_bad_ip_csum: sum(docs.map((d) => d.packets.generated_bad_ip_csum ?? 0)),
    tcp_window_stalls: sum(docs.map((d) => d.packets.tcp_window_stalls ?? 0)),
    delivered: sum(docs.map((d) => d.packets.delivered)),
    dropped: dropped as RunResult['packets']['dropped'],
  };
}

/** A group's conservation line: one run's, or its runs added up with how many conserve. */
function groupConservation(docs: RunDoc[]): { line: string; ok: boolean } {
  if (docs.length === 1) return { line: conservationLine(docs[0]), ok: conserves(docs[0]) };
  const bad = docs.filter((d) => !conserves(d)).length;
  const line = conservationLine({ packets: packetsOf(docs) }).replace(
    / — (conserved|DOES NOT CONSERVE)$/,
    bad === 0 ? ` — conserved in all ${docs.length} runs` : ` — DOES NOT CONSERVE in ${bad} of ${docs.length} runs`,
  );
  return { line: `${docs.length} runs, ${line}`, ok: bad === 0 };
}

const overallOf = (c: { line: string; ok: boolean }) => ({ conservation: c.line, ok: c.ok });

/** A group's ordering line: one run's, or its runs' deliveries out of order added up. */
function groupOrdering(docs: RunDoc[]): string {
  if (docs.length === 1) return orderingLine(docs[0]);
  const ooo = sum(docs.map((d) => d.ordering.out_of_order));
  const runs = docs.filter((d) => d.ordering.out_of_order > 0).length;
  const first = docs.find((d) => d.ordering.first !== null);
  const f = first?.ordering.first;
  return (
    `ordering: ${count(docs[0].ordering.flows)} flows, ${count(ooo)} out of order over ${docs.length} runs` +
    (runs > 0
      ? ` (in ${runs} of them; first: flow ${f!.flow} expected index ≥ ${f!.expected_index}, got ${f!.got_index}, on cpu ${f!.cpu})`
      : '')
  );
}

/** A run's headline: pps over its length, and the host's state. */
function headline(r: RunDoc): string {
  const mode = r.config.mode === 'sim' ? 'virtual time' : 'wall time';
  const host = r.host?.disturbed
    ? `; host DISTURBED (a worker thread waited for a host core ${percent(r.host.disturbance.worst!.share)} of the run)`
    : '';
  return `${count(r.pps)} pps delivered over ${duration(r.elapsed_s * 1e9)} (${mode})${r.interrupted ? ', interrupted' : ''}${host}`;
}

/** The figures of a section's entries, grouped. */
function sectionOf(
  kind: Section['kind'],
  title: string,
  entries: Entry[],
  axis: { x_label: string; x_numeric: boolean },
  extra: Partial<Section>,
): Section {
  const groups = [...new Set(entries.map((e) => e.group))];
  const byGroup = (g: string) => entries.filter((e) => e.group === g).map((e) => e.doc);
  const keyOf = (e: { variant: string; x: string | number }) => JSON.stringify([e.variant, e.x]);
  const summaryKeys = [...new Map(entries.map((e) => [keyOf(e), e])).values()];
  const s: Section = {
    id: '',
    kind,
    title,
    sources: [],
    commands: [...new Set(entries.map((e) => e.doc.command).filter((c): c is string => c !== undefined))],
    configs: [],
    headline: [],
    ...axis,
    groups,
    pps: entries.map((e) => ({ group: e.group, variant: e.variant, x: e.x, pps: e.doc.pps })),
    pps_summary: summaryKeys.map((k) => ({
      variant: k.variant,
      x: k.x,
      ...spread(entries.filter((e) => keyOf(e) === keyOf(k)).map((e) => e.doc.pps)),
    })),
    conservation: [],
    overall: { ...overallOf(groupConservation(entries.map((e) => e.doc))), ordering: groupOrdering(entries.map((e) => e.doc)) },
    drops: [],
    util: [],
    percpu: [],
    contention: [],
    latency: [],
    ratio: null,
    timelines: [],
    notes: [],
    ...extra,
  };
  const reasons = [...new Set(entries.flatMap((e) => Object.keys(e.doc.packets.dropped)))];
  for (const g of groups) {
    const docsOf = byGroup(g);
    const packets = packetsOf(docsOf);
    s.conservation.push({
      group: g,
      ...groupConservation(docsOf),
      runs: docsOf.length,
      generated: packets.generated,
      delivered: packets.delivered,
      dropped: sum(Object.values(packets.dropped)),
      out_of_order: sum(docsOf.map((d) => d.ordering.out_of_order)),
    });
    for (const reason of reasons)
      s.drops.push({ group: g, reason, packets: sum(docsOf.map((d) => (d.packets.dropped as Record<string, number>)[reason] ?? 0)) });
    const cpus = Math.max(...docsOf.map((d) => d.percpu.length));
    for (let cpu = 0; cpu < cpus; cpu++) {
      const utils = docsOf.map((d) => (d.percpu[cpu] === undefined ? null : utilOf(d.percpu[cpu]))).filter((u): u is UtilPct => u !== null);
      if (utils.length > 0) for (const [k] of UTIL_COLUMNS) s.util.push({ group: g, cpu, kind: k, pct: mean(utils.map((u) => u[k])) });
    }
    for (const metric of PERCPU_METRICS)
      for (let cpu = 0; cpu < cpus; cpu++)
        s.percpu.push({ group: g, cpu, metric, value: spread(docsOf.map((d) => d.percpu[cpu]?.[metric] ?? 0)).median });
    const cs = docsOf.map(contentionOf);
    for (const metric of Object.keys(cs[0] ?? {}))
      s.contention.push({ group: g, metric, value: spread(cs.map((c) => c[metric] ?? 0)).median });
    const sampled = docsOf.filter((d) => (d.latency_ns?.samples ?? 0) > 0);
    if (sampled.length > 0)
      for (const p of LATENCY_PERCENTILES)
        s.latency.push({ group: g, percentile: p, ns: spread(sampled.map((d) => d.latency_ns[p])).median });
  }
  return s;
}

/** The run of a group whose pps is nearest its median, among those with a timeline. */
function typicalWithTimeline(docs: RunDoc[]): RunDoc | undefined {
  const withTl = docs.filter((d) => d.timeline !== undefined);
  const m = spread(withTl.map((d) => d.pps)).median;
  return withTl.sort((a, b) => Math.abs(a.pps - m) - Math.abs(b.pps - m))[0];
}

/** Everything the page draws, from the documents of each input. */
export function reportData(inputs: ReportInput[], command: string | null = null): ReportData {
  const sections: Section[] = [];
  const plain: { doc: RunDoc; source: string }[] = [];
  let runsAt = -1;
  for (const input of inputs) {
    const runs = input.docs.filter(isRun);
    const sweep = runs.filter((r) => r.cell !== undefined);
    if (sweep.length > 0) {
      const axes = sweepAxes(sweep);
      const s = sweepEntries(sweep, axes);
      const ratioData = sweepRatio(sweep, axes, s.x_label);
      sections.push(
        sectionOf('sweep', `sweep: ${input.source}`, s.entries, s, {
          sources: [input.source],
          configs: [{ label: `base (the cells set ${[...axes.keys()].join(', ')})`, text: configText(sweep[0].config) }],
          headline: [
            `${count(sweep.length)} runs: ${[...axes].map(([k, vs]) => `${k} = ${vs.join(', ')}`).join('; ')}; ` +
              `${count(new Set(s.entries.map((e) => e.group)).size)} cells, ${sweep[0].config.mode} mode`,
          ],
          ratio: ratioData,
          notes: sweep.some((l) => l.timeline !== undefined)
            ? ['Each line of this sweep has a timeline: rxsmp report on one line’s document draws it.']
            : [],
        }),
      );
    }
    for (const c of input.docs.filter(isCompare)) {
      const entries: Entry[] = [];
      for (const side of ['a', 'b'] as const) {
        const group = `${side.toUpperCase()}: ${c[side].label}`;
        for (const doc of c.runs[side]) entries.push({ doc, group, variant: group, x: group });
      }
      const pairs = Math.min(c.runs.a.length, c.runs.b.length);
      const ratios = Array.from({ length: pairs }, (_, i) => ratio(c.runs.b[i].pps, c.runs.a[i].pps));
      const timelines = (['a', 'b'] as const).flatMap((side) => {
        const doc = typicalWithTimeline(c.runs[side]);
        const t = doc && timelineData(doc, `${side.toUpperCase()}: ${c[side].label} (the run nearest the side's median pps)`);
        return t ? [t] : [];
      });
      sections.push(
        sectionOf(
          'comparison',
          `comparison: ${input.source}`,
          entries,
          { x_label: 'side', x_numeric: false },
          {
            sources: [input.source],
            commands: c.command !== undefined ? [c.command] : [],
            configs: (['a', 'b'] as const)
              .filter((side) => c.runs[side][0] !== undefined)
              .map((side) => ({ label: `${side.toUpperCase()}: ${c[side].label}`, text: configText(c.runs[side][0].config) })),
            headline: [
              `${count(c.pairs)} pairs${c.interrupted ? ` of ${c.repeat} (interrupted)` : ''}, ${c.mode} mode, A/B interleaved (ABBA), pair i seed ${c.seed}+i on both sides; ` +
                `host disturbed ${c.a.disturbed + c.b.disturbed} of ${c.a.runs + c.b.runs} runs`,
            ],
            ratio: { label: `${c.b.label} over ${c.a.label}`, x_label: 'comparison', cells: [{ x: 'B/A', ratios, ...spread(ratios) }] },
            timelines,
            notes: [
              `B/A ratio (${c.b.label} over ${c.a.label}): median ${c.ratio.median.toFixed(3)}, min..max ${c.ratio.min.toFixed(3)}..${c.ratio.max.toFixed(3)}, ` +
                `IQR ${c.ratio.q1.toFixed(3)}..${c.ratio.q3.toFixed(3)} over ${c.pairs} pairs${c.interrupted ? ' (interrupted)' : ''}`,
            ],
          },
        ),
      );
    }
    for (const doc of runs.filter((r) => r.cell === undefined)) {
      if (runsAt < 0) runsAt = sections.length;
      plain.push({ doc, source: input.source });
    }
  }
  if (plain.length > 0) {
    const label = (p: { source: string }, i: number) => {
      const name = basename(p.source);
      return plain.filter((q) => basename(q.source) === name).length > 1 ? `${name} #${i + 1}` : name;
    };
    const entries = plain.map((p, i) => {
      const group = plain.length === 1 ? 'run' : label(p, i);
      return { doc: p.doc, group, variant: group, x: group };
    });
    const one = plain.length === 1;
    sections.splice(
      runsAt,
      0,
      sectionOf(
        one ? 'run' : 'runs',
        one ? `run: ${plain[0].source}` : `runs: ${plain.length} documents`,
        entries,
        { x_label: 'run', x_numeric: false },
        {
          sources: [...new Set(plain.map((p) => p.source))],
          configs: entries.map((e) => ({ label: e.group, text: configText(e.doc.config) })),
          headline: entries.map((e) => (one ? '' : `${e.group}: `) + headline(e.doc)),
          timelines: entries.flatMap((e) => {
            const t = timelineData(e.doc, e.group);
            return t ? [t] : [];
          }),
        },
      ),
    );
  }
  sections.forEach((s, i) => {
    s.id = `s${i}`;
    s.timelines.forEach((t, k) => {
      t.id = `${s.id}-t${k}`;
    });
  });
  const kinds = [...new Set(sections.map((s) => (s.kind === 'runs' ? 'run' : s.kind)))].join(' + ');
  const runCount = sum(sections.map((s) => s.pps.length));
  return {
    title: `rxsmp ${kinds}: ${count(runCount)} run${runCount === 1 ? '' : 's'}`,
    command,
    sources: inputs.map((i) => i.source),
    sections,
  };
}

// ------------------------------------------------------------------------ the page

const require = createRequire(import.meta.url);

/** A file of an installed package (its "exports" do not list the UMD bundles as paths). */
function packageFile(pkg: string, rel: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === pkg) return join(dir, rel);
    const up = dirname(dir);
    if (up === dir) throw new Error(`report: cannot find the package ${pkg} in node_modules`);
    dir = up;
  }
}

/** A script's text made safe inside <script>: no early </script. */
const scriptSafe = (js: string) => js.replace(/<\/script/gi, '<\\/script');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The charting library, read from node_modules at report time: d3 then Observable Plot (UMD, global Plot). */
function libraryScripts(): string {
  const d3 = readFileSync(packageFile('d3', 'dist/d3.min.js'), 'utf8');
  const plot = readFileSync(packageFile('@observablehq/plot', 'dist/plot.umd.min.js'), 'utf8');
  return `<script>${scriptSafe(d3)}</script>\n<script>${scriptSafe(plot)}</script>`;
}

/** The number formats of the summaries (lib/units.ts), for the page: the same functions' source. */
const UNITS_SCRIPT = `const units = { count: ${count.toString()}, duration: ${duration.toString()}, percent: ${percent.toString()} };`;

const PAGE_SCRIPT = new URL('src/report/page.js', PACKAGE_DIR);

const table = (head: string[], rows: string[][], cls = 'numbers') =>
  `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>\n<tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('\n')}</tbody></table>`;

/** The section's text: commands, configs, headline, conservation, ordering; then its charts and tables. */
function sectionHtml(s: Section): string {
  const figure = (name: string, title: string, note: string) =>
    `<h3>${esc(title)}</h3><p class="note">${note}</p><figure class="chart" id="chart-${s.id}-${name}" data-section="${s.id}" data-chart="${name}"></figure>`;
  const multi = s.pps.length > 1;
  const nonzero = s.drops.filter((d) => d.packets > 0);
  const parts = [
    `<section class="source" id="${s.id}"><h2>${esc(s.title)}</h2>`,
    s.commands.length > 0
      ? s.commands.map((c) => `<pre class="command">$ ${esc(c)}</pre>`).join('\n')
      : '<p class="note">The documents do not record the command that made them.</p>',
    ...s.configs.map(
      (c) => `<details class="config"><summary>effective config: ${esc(c.label)}</summary><pre>${esc(c.text)}</pre></details>`,
    ),
    ...s.headline.map((h) => `<p class="headline">${esc(h)}</p>`),
    ...s.notes.map((n) => `<p class="ratio">${esc(n)}</p>`),
    `<p class="conservation${s.overall.ok ? '' : ' bad'}">${esc(s.overall.conservation)}</p>`,
    `<p class="ordering">${esc(s.overall.ordering)}</p>`,
    s.groups.length > 1
      ? table(
          ['group', 'runs', 'generated', 'delivered', 'dropped', 'conserved', 'out of order'],
          s.conservation.map((c) => [
            c.group,
            count(c.runs),
            count(c.generated),
            count(c.delivered),
            count(c.dropped),
            c.ok ? 'yes' : 'NO',
            count(c.out_of_order),
          ]),
        )
      : '',
    multi
      ? figure(
          'pps',
          'Packets per second',
          `Delivered packets per second for each run (dots); the rule spans min..max of the repeats${s.x_numeric ? ', the line joins the medians' : ''}. x: ${esc(s.x_label)}.`,
        ) +
        table(
          [...(s.kind === 'sweep' ? ['variant'] : []), s.x_label, 'runs', 'pps median', 'min..max', 'IQR'],
          s.pps_summary.map((p) => [
            ...(s.kind === 'sweep' ? [p.variant] : []),
            String(p.x),
            count(p.n),
            count(p.median),
            `${count(p.min)}..${count(p.max)}`,
            `${count(p.q1)}..${count(p.q3)}`,
          ]),
        )
      : '',
    s.ratio !== null
      ? figure(
          'ratio',
          `B/A ratio: ${s.ratio.label}`,
          'pps of B over pps of A, pair by pair (the same seed): a dot per pair, the thin rule min..max, the thick one the IQR, the tick the median; 1 is no change.',
        ) +
        table(
          [s.ratio.x_label, 'pairs', 'median', 'min..max', 'IQR'],
          s.ratio.cells.map((c) => [
            c.x,
            count(c.n),
            c.median.toFixed(3),
            `${c.min.toFixed(3)}..${c.max.toFixed(3)}`,
            `${c.q1.toFixed(3)}..${c.q3.toFixed(3)}`,
          ]),
        )
      : '',
    figure(
      'drops',
      'Drops by reason',
      `Packets dropped, stacked by reason (every reason the documents count${multi ? ', summed over each group’s runs' : ''}).` +
        (nonzero.length === 0 ? ' None was dropped.' : ''),
    ) +
      (nonzero.length > 0
        ? table(
            multi ? ['group', 'reason', 'packets'] : ['reason', 'packets'],
            nonzero.map((d) => (multi ? [d.group, d.reason, count(d.packets)] : [d.reason, count(d.packets)])),
          )
        : ''),
    s.util.length > 0
      ? figure(
          'util',
          'CPU time, as mpstat -P ALL',
          `Each CPU's time over the run's traffic${multi ? ' (mean over each group’s runs)' : ''}: %usr the application tasks, %irq hardirqs, %soft softirqs run ` +
            'from irq_exit, %ksoftirqd softirqs run in ksoftirqd (mpstat counts those in %sys), %steal the host’s (the CPU’s thread waited for a host core), %idle.',
        ) +
        table(
          [...(multi ? ['group'] : []), 'cpu', ...UTIL_COLUMNS.map(([, h]) => h)],
          [...new Set(s.util.map((u) => JSON.stringify([u.group, u.cpu])))].map((key) => {
            const [g, cpu] = JSON.parse(key) as [string, number];
            const of = (k: string) => s.util.find((u) => u.group === g && u.cpu === cpu && u.kind === k)!.pct.toFixed(1);
            return [...(multi ? [g] : []), String(cpu), ...UTIL_COLUMNS.map(([k]) => of(k))];
          }),
          'numbers util',
        )
      : '',
    figure('percpu', 'Per-CPU softnet counters', `softnet_stat columns per CPU${multi ? ' (median over the runs of each group)' : ''}.`),
    s.contention.length > 0
      ? figure(
          'contention',
          'Contention',
          'rps_lock spin iterations per acquisition, IPIs sent per packet generated, share of backlog enqueues to another CPU, ksoftirqd share of busy time (medians).',
        )
      : '',
    s.latency.length > 0
      ? figure(
          'latency',
          'Latency, DMA to socket',
          `Percentiles of sampled packets${multi ? ' (median over the runs of each group)' : ''}; log scale.`,
        ) +
        table(
          ['group', ...LATENCY_PERCENTILES],
          s.groups
            .filter((g) => s.latency.some((l) => l.group === g))
            .map((g) => [g, ...LATENCY_PERCENTILES.map((p) => duration(s.latency.find((l) => l.group === g && l.percentile === p)!.ns))]),
        )
      : '',
    ...s.timelines.map((t) =>
      figure(
        `timeline-${t.id.slice(s.id.length + 1)}`,
        `Timeline: ${t.label}`,
        `Per CPU every ${esc(duration(t.interval_ms * 1e6))}: packets processed and dropped per second, and CPU time as mpstat's columns. ` +
          `The strip on top marks the --knob-at changes, task migrations and RSS table rotations (${count(t.marks.length)}; hover a tick for its time)` +
          (t.gaps > 0
            ? `; ${count(t.gaps)} sampling gaps (intervals over ${GAP_FACTOR} times the sampling interval: the host held the coordinator up) are left blank`
            : '') +
          '.',
      ),
    ),
    '</section>',
  ];
  return parts.filter((p) => p !== '').join('\n');
}

/** The whole page: styles, the data as JSON, the library, the drawing script. */
export function reportHtml(d: ReportData): string {
  const data = JSON.stringify(d).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${esc(d.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 20px; } section.source > h2 { font-size: 17px; margin-top: 36px; border-bottom: 1px solid #ccc; } h3 { font-size: 15px; margin-top: 22px; }
figure.chart h2 { font-size: 13px; font-weight: 600; margin: 10px 0 2px; }
.note, .sources { color: #555; } figure { margin: 8px 0; }
pre.command { background: #f4f4f4; padding: 6px 8px; white-space: pre-wrap; word-break: break-all; }
details.config pre { background: #fafafa; padding: 6px 8px; max-height: 320px; overflow: auto; }
p.conservation.bad { color: #b00; font-weight: bold; }
table.numbers { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 6px 0; }
table.numbers td, table.numbers th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
table.numbers td:first-child { text-align: left; }
</style></head>
<body>
<h1>${esc(d.title)}</h1>
${d.command !== null && !d.sections.some((s) => s.commands.includes(d.command!)) ? `<pre class="command">$ ${esc(d.command)}</pre>` : ''}
<p class="sources">from ${d.sources.map(esc).join(', ')}</p>
${d.sections.map(sectionHtml).join('\n')}
<script type="application/json" id="rxsmp-data">${data}</script>
${libraryScripts()}
<script>${scriptSafe(UNITS_SCRIPT)}</script>
<script>${scriptSafe(readFileSync(PAGE_SCRIPT, 'utf8'))}</script>
</body></html>
`;
}

/** The report of documents already read or made (run --report, compare --report, rxsmp report). */
export function reportOf(inputs: ReportInput[], command: string | null = null): string {
  return reportHtml(reportData(inputs, command));
}
