// `rxsmp report FILE... --out report.html`: one self-contained HTML page of charts from run
// documents (`run --json`), compare documents (`compare --json`) and sweep files (JSON Lines).
// The figures are computed here (reportData: testable, no DOM); the page only draws them with
// Observable Plot and d3, whose minified bundles are inlined from node_modules, so the page
// needs no network when it is opened. docs/design.md says why Plot.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { ConfigError } from '../config.js';
import { named, readInputText } from '../host/files.js';
import type { CompareResult } from '../engine/compare.js';
import type { RunResult } from '../engine/result.js';
import { spread } from '../engine/variants.js';

type RunDoc = RunResult & { cell?: Record<string, string>; repeat?: number };

/** One run as the report sees it: the group it belongs to, its variant (a line) and its x. */
interface Entry {
  doc: RunDoc;
  group: string;
  variant: string;
  x: string | number;
}

export interface ReportData {
  title: string;
  sources: string[];
  /** The x axis of the pps chart: a swept option, or 'variant'. */
  x_label: string;
  x_numeric: boolean;
  groups: string[];
  /** One point per run. */
  pps: { group: string; variant: string; x: string | number; pps: number }[];
  /** Per variant and x: the median and spread over repeats. */
  pps_summary: { variant: string; x: string | number; n: number; median: number; min: number; max: number; q1: number; q3: number }[];
  /** Per group, CPU and counter: the median over the group's runs. */
  percpu: { group: string; cpu: number; metric: string; value: number }[];
  /** Per group and measure: the median over the group's runs (measures the documents have). */
  contention: { group: string; metric: string; value: number }[];
  /** Per group and percentile: the median over runs with latency samples. */
  latency: { group: string; percentile: string; ns: number }[];
  timeline: TimelineData | null;
  /** One line per comparison: its B/A ratio and spread. */
  notes: string[];
}

export interface TimelineData {
  /** Which run it is (group and repeat). */
  label: string;
  interval_ms: number;
  cpus: number;
  /** Per CPU per interval (from the differences of the cumulative series): rates and busy share. */
  points: { t_ms: number; cpu: string; pps: number; drops_per_s: number; squeezes_per_s: number; busy_pct: number }[];
  /** --knob-at changes (when applied) and task migrations (every --migrate-every-ms). */
  marks: { t_ms: number; label: string }[];
}

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

/** Sweep lines: x is the numeric axis with the most values (the last on a tie), the variant the rest. */
function sweepEntries(lines: RunDoc[]): { entries: Entry[]; x_label: string; x_numeric: boolean } {
  const axes = new Map<string, Set<string>>();
  for (const l of lines) for (const [k, v] of Object.entries(l.cell!)) (axes.get(k) ?? axes.set(k, new Set()).get(k)!).add(v);
  let xAxis = '';
  let best = -1;
  for (const [k, vs] of axes) {
    const score = (isNumeric([...vs]) ? 1000 : 0) + vs.size;
    if (score >= best) {
      best = score;
      xAxis = k;
    }
  }
  const x_numeric = isNumeric([...(axes.get(xAxis) ?? [])]);
  const entries = lines.map((doc) => {
    const cell = doc.cell!;
    const rest = Object.entries(cell).filter(([k]) => k !== xAxis);
    const variant = rest.length === 0 ? 'all' : rest.map(([k, v]) => `${k}=${v}`).join(' ');
    const group = Object.entries(cell)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    return { doc, group, variant, x: x_numeric ? Number(cell[xAxis]) : cell[xAxis]! };
  });
  return { entries, x_label: xAxis, x_numeric };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

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

/** The per-CPU rates of a run's timeline, with its knob changes and migrations marked. */
export function timelineData(r: RunDoc, label: string): TimelineData | null {
  const tl = r.timeline;
  if (tl === undefined || tl.t_ms.length < 2) return null;
  const points: TimelineData['points'] = [];
  tl.percpu.forEach((c, cpu) => {
    for (let k = 1; k < tl.t_ms.length; k++) {
      const dt_ms = tl.t_ms[k]! - tl.t_ms[k - 1]!;
      if (!(dt_ms > 0)) continue;
      const rate = (xs: number[]) => ((xs[k]! - xs[k - 1]!) * 1000) / dt_ms;
      points.push({
        t_ms: tl.t_ms[k]!,
        cpu: `cpu${cpu}`,
        pps: rate(c.processed),
        drops_per_s: rate(c.dropped),
        squeezes_per_s: rate(c.time_squeeze),
        busy_pct: ((c.busy_ns[k]! - c.busy_ns[k - 1]!) / (dt_ms * 1e6)) * 100,
      });
    }
  });
  const end = tl.t_ms[tl.t_ms.length - 1]!;
  const marks: TimelineData['marks'] = [];
  const show = (key: string, value: unknown) => `${key.replace(/_/g, '-')}=${Array.isArray(value) ? value.join(',') : String(value)}`;
  if (r.knobs_applied !== undefined) {
    for (const k of r.knobs_applied) if (k.applied) marks.push({ t_ms: k.applied_at_ms, label: show(k.key, k.value) });
  } else {
    // A document without knobs_applied: the schedule as configured.
    for (const k of (r.config.knob_at ?? []) as { at_ms: number; key: string; value: unknown }[])
      marks.push({ t_ms: k.at_ms, label: show(k.key, k.value) });
  }
  const every = Number(r.config.migrate_every_ms ?? 0);
  if (every > 0) for (let t = every; t <= end; t += every) marks.push({ t_ms: t, label: 'migrate' });
  return { label, interval_ms: tl.interval_ms, cpus: tl.percpu.length, points, marks };
}

/** Everything the page draws, from the documents of the files given. */
export function reportData(docs: unknown[], sources: string[]): ReportData {
  const runs = docs.filter(isRun);
  const compares = docs.filter(isCompare);
  const entries: Entry[] = [];
  let x_label = 'variant';
  let x_numeric = false;
  const sweep = runs.filter((r) => r.cell !== undefined);
  if (sweep.length > 0) {
    const s = sweepEntries(sweep);
    entries.push(...s.entries);
    x_label = s.x_label;
    x_numeric = s.x_numeric;
  }
  for (const c of compares) {
    for (const side of ['a', 'b'] as const) {
      const group = `${side.toUpperCase()}: ${c[side].label}`;
      for (const doc of c.runs[side]) entries.push({ doc, group, variant: group, x: group });
    }
  }
  if (sweep.length === 0) x_label = compares.length > 0 ? 'side' : 'run';
  runs
    .filter((r) => r.cell === undefined)
    .forEach((doc, i) => {
      const group = runs.length === 1 ? 'run' : `run ${i + 1}`;
      entries.push({ doc, group, variant: group, x: group });
    });
  if (x_numeric && entries.some((e) => typeof e.x !== 'number')) {
    x_numeric = false; // sweeps mixed with other documents: every x as a label
    for (const e of entries) e.x = String(e.x);
  }
  const groups = [...new Set(entries.map((e) => e.group))];
  const byGroup = (g: string) => entries.filter((e) => e.group === g).map((e) => e.doc);
  const pps = entries.map((e) => ({ group: e.group, variant: e.variant, x: e.x, pps: e.doc.pps }));
  const keyOf = (e: { variant: string; x: string | number }) => JSON.stringify([e.variant, e.x]);
  const summaryKeys = [...new Map(entries.map((e) => [keyOf(e), e])).values()];
  const pps_summary = summaryKeys.map((k) => {
    const s = spread(entries.filter((e) => keyOf(e) === keyOf(k)).map((e) => e.doc.pps));
    return { variant: k.variant, x: k.x, ...s };
  });
  const percpu: ReportData['percpu'] = [];
  const contention: ReportData['contention'] = [];
  const latency: ReportData['latency'] = [];
  for (const g of groups) {
    const docsOf = byGroup(g);
    const cpus = Math.max(...docsOf.map((d) => d.percpu.length));
    for (const metric of PERCPU_METRICS)
      for (let cpu = 0; cpu < cpus; cpu++)
        percpu.push({ group: g, cpu, metric, value: spread(docsOf.map((d) => d.percpu[cpu]?.[metric] ?? 0)).median });
    const cs = docsOf.map(contentionOf);
    for (const metric of Object.keys(cs[0] ?? {}))
      contention.push({ group: g, metric, value: spread(cs.map((c) => c[metric] ?? 0)).median });
    const sampled = docsOf.filter((d) => (d.latency_ns?.samples ?? 0) > 0);
    if (sampled.length > 0)
      for (const p of LATENCY_PERCENTILES)
        latency.push({ group: g, percentile: p, ns: spread(sampled.map((d) => d.latency_ns[p])).median });
  }
  const withTimeline = entries.find((e) => e.doc.timeline !== undefined);
  const timeline =
    withTimeline === undefined
      ? null
      : timelineData(
          withTimeline.doc,
          withTimeline.doc.repeat !== undefined ? `${withTimeline.group}, repeat ${withTimeline.doc.repeat}` : withTimeline.group,
        );
  const kinds = [sweep.length > 0 ? 'sweep' : '', compares.length > 0 ? 'comparison' : '', runs.length > sweep.length ? 'run' : '']
    .filter((k) => k !== '')
    .join(' + ');
  return {
    title: `rxsmp ${kinds}: ${entries.length} run${entries.length === 1 ? '' : 's'}`,
    sources,
    x_label,
    x_numeric,
    groups,
    pps,
    pps_summary,
    percpu,
    contention,
    latency,
    timeline,
    notes: compares.map(
      (c) =>
        `B/A ratio (${c.b.label} over ${c.a.label}): median ${c.ratio.median.toFixed(3)}, min..max ${c.ratio.min.toFixed(3)}..${c.ratio.max.toFixed(3)}, ` +
        `IQR ${c.ratio.q1.toFixed(3)}..${c.ratio.q3.toFixed(3)} over ${c.pairs} pairs${c.interrupted ? ' (interrupted)' : ''}; host disturbed ${c.a.disturbed + c.b.disturbed} of ${c.a.runs + c.b.runs} runs`,
    ),
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
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The charting library, read from node_modules at report time: d3 then Observable Plot (UMD, global Plot). */
function libraryScripts(): string {
  const d3 = readFileSync(packageFile('d3', 'dist/d3.min.js'), 'utf8');
  const plot = readFileSync(packageFile('@observablehq/plot', 'dist/plot.umd.min.js'), 'utf8');
  return `<script>${scriptSafe(d3)}</script>\n<script>${scriptSafe(plot)}</script>`;
}

const PAGE_SCRIPT = new URL('../../../src/report/page.js', import.meta.url);

/** The pps table under the chart: the numbers behind it, readable without scripts. */
function ppsTable(d: ReportData): string {
  const rows = d.pps_summary
    .map(
      (s) =>
        `<tr><td>${esc(s.variant)}</td><td>${esc(String(s.x))}</td><td>${s.n}</td><td>${fmt(s.median)}</td><td>${fmt(s.min)}..${fmt(s.max)}</td><td>${fmt(s.q1)}..${fmt(s.q3)}</td></tr>`,
    )
    .join('\n');
  return `<table class="numbers"><thead><tr><th>variant</th><th>${esc(d.x_label)}</th><th>runs</th><th>pps median</th><th>min..max</th><th>IQR</th></tr></thead>\n<tbody>${rows}</tbody></table>`;
}

/** The whole page: styles, the data as JSON, the library, the drawing script. */
export function reportHtml(d: ReportData): string {
  const data = JSON.stringify(d).replace(/</g, '\\u003c');
  const figure = (id: string, title: string, note: string) =>
    `<section><h2>${title}</h2><p class="note">${note}</p><figure class="chart" id="chart-${id}" data-chart="${id}"></figure></section>`;
  const sections = [
    figure(
      'pps',
      'Packets per second',
      `Delivered packets per second for each run (dots); the rule spans min..max of the repeats, the line joins the medians. x: ${esc(d.x_label)}.`,
    ),
    ppsTable(d),
    figure('percpu', 'Per-CPU softnet counters', 'softnet_stat columns per CPU (median over the runs of each group).'),
    d.contention.length > 0
      ? figure(
          'contention',
          'Contention',
          'rps_lock spin iterations per acquisition, IPIs sent per packet generated, share of backlog enqueues to another CPU, ksoftirqd share of busy time (medians).',
        )
      : '',
    d.latency.length > 0
      ? figure('latency', 'Latency, DMA to socket', 'Percentiles of sampled packets (median over the runs of each group); log scale.')
      : '',
    d.timeline !== null
      ? figure(
          'timeline',
          `Timeline: ${esc(d.timeline.label)}`,
          `Per CPU every ${d.timeline.interval_ms} ms: packets processed per second, drops per second and busy share; dashed rules mark --knob-at changes and task migrations.`,
        )
      : '',
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${esc(d.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.note, .sources { color: #555; } figure { margin: 8px 0; }
table.numbers { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.numbers td, table.numbers th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
table.numbers td:first-child { text-align: left; }
</style></head>
<body>
<h1>${esc(d.title)}</h1>
<p class="sources">from ${d.sources.map(esc).join(', ')}</p>
${d.notes.map((n) => `<p class="ratio">${esc(n)}</p>`).join('\n')}
${sections.filter((s) => s !== '').join('\n')}
<script type="application/json" id="rxsmp-data">${data}</script>
${libraryScripts()}
<script>${scriptSafe(readFileSync(PAGE_SCRIPT, 'utf8'))}</script>
</body></html>
`;
}

/** The report of documents already in memory (run --report, compare --report). */
export function reportOf(docs: unknown[], sources: string[]): string {
  return reportHtml(reportData(docs, sources));
}
