/// <reference lib="dom" />
// The HTML report (src/report/html.ts, page.js) in real headless Chromium (Debian's chromium,
// driven by playwright-core): each page opens from file:// with no console errors and no
// network, and carries the whole run: the command line, the conservation line, every drop
// reason that dropped something, the ordering line, CPU time as mpstat shows it (every share
// within 0..100% and each CPU's shares summing to 100% per interval and over the run, drawn
// inside the chart's 0..100 frame), timelines whose event labels never overlap, both sides of
// a comparison and the B/A ratio. Threads-mode pages are checked for invariants only; exact
// lines come from sim mode and synthetic timelines. A screenshot of every page is kept beside
// it in the test's temp dir (printed at the end) for a person to look at.

import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, type CompareResult } from '../dist/src/engine/compare.js';
import { configFromFlags } from '../dist/src/engine/configure.js';
import type { RunResult } from '../dist/src/engine/result.js';
import { runSim } from '../dist/src/engine/sim_run.js';
import { readSweepLines } from '../dist/src/engine/sweep.js';
import { GAP_FACTOR, readReportInput, reportData, reportOf, timelineData } from '../dist/src/report/html.js';
import { conservationLine, orderingLine } from '../dist/src/report/human.js';
import { cli } from './e2e.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const BASE = ['--cpus', '2', '--queues', '1', '--irq-affinity', '0', '--app-cpus', '1', '--flows', '256'];
const RPS_BASE = { cpus: 2, queues: 1, 'irq-affinity': 0, 'app-cpus': 1, flows: 256, 'rss-udp4': 'sdfn', mode: 'sim' };

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'rxsmp-report-'));
const shots: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  if (shots.length > 0) process.stderr.write(`report.test.ts: screenshots to look at:\n${shots.map((s) => `  ${s}`).join('\n')}\n`);
});

/** Open a report; fail on any console error, uncaught exception or network request; a full-page screenshot beside it. */
async function open(file: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1150, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`network request: ${r.url()}`);
  });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-drawn="true"]', { timeout: 30_000 });
  expect(errors).toEqual([]);
  const png = file.replace(/\.html$/, '.png');
  await page.screenshot({ path: png, fullPage: true });
  expect(statSync(png).size).toBeGreaterThan(10_000);
  shots.push(png);
  return page;
}

/** SVG elements of one mark type in one chart: Plot puts each mark's elements in <g aria-label="mark">. */
const count = (page: Page, chart: string, mark: string, el: string) =>
  page.evaluate(([c, m, e]) => document.querySelectorAll(`#chart-${c} g[aria-label="${m}"] ${e}`).length, [chart, mark, el] as const);

/** The page's visible text (innerText: not the scripts or the embedded data, which textContent has). */
// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
const text = (page: Page) => page.evaluate(() => document.body.innerText);

/**
 * CPU time as the page has it, each share in 0..100 and each CPU's shares summing to 100 (±1):
 * the data every utilisation chart draws (per interval of each timeline, per CPU over the
 * run), the numbers of the utilisation tables, and the drawn areas, which stay inside their
 * panel's frame (0..100%). Returns how many intervals and rows were checked.
 */
async function expectUtilisation(page: Page): Promise<{ intervals: number; rows: number; areas: number }> {
  const got = await page.evaluate(() => {
    const data = JSON.parse(document.getElementById('rxsmp-data')!.textContent) as {
      sections: {
        util: { group: string; cpu: number; pct: number }[];
        timelines: { util: { t0_ms: number[]; percpu: { pct: Record<string, (number | null)[]> }[] } }[];
      }[];
    };
    const values: number[] = [];
    const sums: number[] = [];
    for (const s of data.sections) {
      const byCpu = new Map<string, number>();
      for (const u of s.util) {
        values.push(u.pct);
        const k = `${u.group}/${u.cpu}`;
        byCpu.set(k, (byCpu.get(k) ?? 0) + u.pct);
      }
      sums.push(...byCpu.values());
      for (const t of s.timelines)
        for (const c of t.util.percpu)
          for (let i = 0; i < t.util.t0_ms.length; i++) {
            const shares = Object.values(c.pct).map((xs) => xs[i]);
            if (shares.every((x) => x === null)) continue; // a sampling gap
            for (const x of shares) values.push(x!);
            sums.push(shares.reduce((a: number, b) => a + b!, 0));
          }
    }
    const tableRows = [...document.querySelectorAll('table.util tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].slice(-6).map((td) => Number(td.textContent)),
    );
    // The stacked areas of each CPU-time panel against its frame.
    const outside: string[] = [];
    let areas = 0;
    for (const svg of document.querySelectorAll('figure[data-chart^="timeline"] svg')) {
      // Faceted: each mark's group holds a group per CPU, in the same order for every mark.
      const frames = [...svg.querySelectorAll('g[aria-label="frame"] > rect')].map((r) => r.getBoundingClientRect());
      [...svg.querySelectorAll('g[aria-label="area"] > g')].forEach((facet, i) => {
        const frame = frames[i]!;
        for (const p of facet.querySelectorAll('path')) {
          areas++;
          const b = p.getBoundingClientRect();
          if (b.height === 0) continue;
          if (b.top < frame.top - 1 || b.bottom > frame.bottom + 1)
            outside.push(`${b.top}..${b.bottom} outside ${frame.top}..${frame.bottom}`);
        }
      });
    }
    return { values, sums, tableRows, outside, areas };
  });
  for (const v of got.values) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(100);
  }
  for (const s of got.sums) expect(Math.abs(s - 100)).toBeLessThanOrEqual(1);
  expect(got.tableRows.length).toBeGreaterThan(0);
  for (const row of got.tableRows) {
    for (const v of row) expect(v >= 0 && v <= 100, `table value ${v}`).toBe(true);
    expect(Math.abs(row.reduce((a, b) => a + b, 0) - 100)).toBeLessThanOrEqual(1);
  }
  expect(got.outside).toEqual([]);
  return { intervals: got.sums.length, rows: got.tableRows.length, areas: got.areas };
}

/** The event labels of every timeline strip: their boxes, none overlapping another. Returns how many. */
async function expectLabelsApart(page: Page): Promise<number> {
  const boxes = await page.evaluate(() =>
    [...document.querySelectorAll('svg.mark-strip')].map((svg) =>
      [...svg.querySelectorAll('text.mark-label')].map((t) => {
        const b = t.getBoundingClientRect();
        return { x0: b.left, x1: b.right, y0: b.top, y1: b.bottom, label: t.firstChild?.textContent };
      }),
    ),
  );
  for (const strip of boxes)
    for (let i = 0; i < strip.length; i++)
      for (let j = i + 1; j < strip.length; j++) {
        const a = strip[i];
        const b = strip[j];
        const overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
        expect(overlap, `labels "${a.label}" and "${b.label}" overlap`).toBe(false);
      }
  return boxes.flat().length;
}

/** The text a page must show for a run: its command, conservation line, drop reasons, ordering line. */
function expectRunText(body: string, r: RunResult): void {
  expect(body).toContain(r.command!);
  expect(body).toContain(conservationLine(r));
  expect(body).toContain(orderingLine(r));
  for (const [reason, n] of Object.entries(r.packets.dropped)) if (n > 0) expect(body).toMatch(new RegExp(`\\b${reason}\\b`));
}

describe('rxsmp report in headless Chromium', () => {
  it('a threads run with --knob-at and --migrate-every-ms 2: the whole run, CPU time within 0..100%, labels apart', async () => {
    const html = join(dir, 'run.html');
    const knobs = '20:rps-cpus=3;40:netdev-max-backlog=100';
    const args = ['run', ...BASE, '--stack-cost-ns', '1000', '--packets', '100000', '--knob-at', knobs, '--migrate-every-ms', '2'];
    const res = cli([...args, '--json', '--report', html]);
    expect(res.status, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as RunResult;
    expect(r.command).toBe(`rxsmp ${args.join(' ').replace(knobs, `'${knobs}'`)} --json --report ${html}`);
    const page = await open(html);
    const body = await text(page);
    expectRunText(body, r);
    const u = await expectUtilisation(page);
    expect(u.intervals).toBeGreaterThan(2); // the run's two CPUs, and intervals of the timeline
    expect(u.rows).toBe(2);
    expect(u.areas).toBeGreaterThan(0);
    // Every applied knob change is labelled; the migrations (one every 2 ms) are ticks with titles.
    const applied = r.knobs_applied.filter((k) => k.applied).length;
    expect(await expectLabelsApart(page)).toBe(applied);
    const migrations = r.timeline!.events.filter((e) => e.what.startsWith('migration')).length;
    expect(migrations).toBeGreaterThan(10);
    expect(await page.locator('svg.mark-strip g[aria-label="marks migration"] line.mark-tick').count()).toBe(migrations);
    expect(await page.locator('svg.mark-strip line.mark-tick title').first().textContent()).toMatch(/ at [0-9.]+ (µs|ms|s)$/);
    await page.close();
  });

  it('a sim run: the exact conservation, drops and ordering lines; the CPU split sums to 100% with no steal', async () => {
    const html = join(dir, 'sim.html');
    const args = [
      'run',
      '--mode',
      'sim',
      ...BASE,
      '--packets',
      '20000',
      '--rps-cpus',
      '3',
      '--app-cost-ns',
      '20000',
      '--sk-rcvbuf',
      '4096',
    ];
    const res = cli([...args, '--knob-at', '2:netdev-max-backlog=20', '--migrate-every-ms', '2', '--json', '--report', html]);
    expect(res.status, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as RunResult;
    expect(r.packets.dropped.backlog).toBeGreaterThan(0);
    expect(r.packets.dropped.socket).toBeGreaterThan(0);
    for (const p of r.percpu) expect(p.util_pct.steal).toBe(0);
    const page = await open(html);
    expectRunText(await text(page), r);
    expect(await expectUtilisation(page)).toMatchObject({ rows: 2, areas: 0 }); // sim mode has no timeline
    // Drops stacked by reason: a segment per nonzero reason.
    const reasons = Object.values(r.packets.dropped).filter((n) => n > 0).length;
    expect(await count(page, 's0-drops', 'bar', 'rect')).toBe(reasons);
    // Latency in µs/ms, never ns with SI suffixes.
    const ticks = await page.evaluate(() =>
      [...document.querySelectorAll('#chart-s0-latency g[aria-label="y-axis tick label"] text')].map((t) => t.textContent),
    );
    expect(ticks.length).toBeGreaterThan(1);
    for (const t of ticks) expect(t).toMatch(/^[0-9.]+ (ns|µs|ms|s)$/);
    await page.close();
  });

  it('a threads comparison: both sides’ timelines drawn, the B/A ratio a dot per pair', async () => {
    const c = await compare({ options: { ...RPS_BASE, mode: 'threads', packets: 30_000 }, a: { gro: 'on' }, b: { gro: 'off' }, repeat: 2 });
    c.command = 'rxsmp compare --a gro=on --b gro=off --repeat 2';
    const html = join(dir, 'compare.html');
    writeFileSync(html, reportOf([{ source: 'compare', docs: [c] }]));
    const page = await open(html);
    const body = await text(page);
    expect(body).toContain(c.command);
    expect(body).toContain(`median ${c.ratio.median.toFixed(3)}`);
    expect(body).toMatch(/conserved in all 4 runs/);
    expect(body).toMatch(/ordering: 256 flows, [0-9,]+ out of order over 4 runs/);
    expect(await page.locator('figure[data-chart^="timeline"]').count()).toBe(2);
    for (const side of ['A: gro=on', 'B: gro=off']) expect(body).toContain(`Timeline: ${side}`);
    // Each side's timeline: a line per CPU in both rate panels, a CPU-time panel.
    for (const t of ['t0', 't1']) {
      expect(await count(page, `s0-timeline-${t}`, 'line', 'path')).toBe(2 * 2);
      expect(await count(page, `s0-timeline-${t}`, 'area', 'path')).toBeGreaterThan(0);
    }
    expect(await count(page, 's0-ratio', 'dot', 'circle')).toBe(c.pairs);
    expect(await count(page, 's0-pps', 'dot', 'circle')).toBe(4);
    await expectUtilisation(page);
    await page.close();
  });

  it('a sim sweep: drops by reason and the ratio per cell; with a comparison and a run, grouped by source', async () => {
    const out = join(dir, 'sweep.jsonl');
    const sweepArgs = ['sweep', '--mode', 'sim', ...BASE, '--packets', '10000', '--app-cost-ns', '20000', '--sk-rcvbuf', '4096'];
    const res = cli([...sweepArgs, '--set', 'rps-cpus=0,3;stack-cost-ns=0,2000', '--repeat', '2', '--out', out]);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/ {2}[0-9]{1,3}(,[0-9]{3})+\n/); // the drops column with thousands separators
    const lines = readSweepLines('t', out).lines;
    const socket = lines.reduce((n, l) => n + l.packets.dropped.socket, 0);
    expect(socket).toBeGreaterThan(0);
    const html = join(dir, 'sweep.html');
    expect(cli(['report', out, '--out', html]).status).toBe(0);
    const page = await open(html);
    const body = await text(page);
    expect(body).toContain(lines[0].command!);
    expect(body).toMatch(
      /8 runs, packets: generated 80,000, delivered [0-9,]+, dropped [0-9,]+ \(.*socket [0-9,]+.*\) — conserved in all 8 runs/,
    );
    expect(body).toMatch(/ordering: 256 flows, 0 out of order over 8 runs/);
    const cells = 4;
    expect(await count(page, 's0-pps', 'dot', 'circle')).toBe(lines.length);
    expect(await count(page, 's0-pps', 'line', 'path')).toBe(2);
    // rps-cpus has two values: B (3) over A (0) in each stack-cost-ns cell, a dot per repeat.
    expect(body).toContain('B/A ratio: rps-cpus=3 over rps-cpus=0');
    expect(await count(page, 's0-ratio', 'dot', 'circle')).toBe(2 * 2);
    const reasons = new Set(
      lines.flatMap((l) =>
        Object.entries(l.packets.dropped)
          .filter(([, n]) => n > 0)
          .map(([k]) => k),
      ),
    );
    for (const reason of reasons) expect(body).toMatch(new RegExp(`\\b${reason}\\b`));
    expect(await count(page, 's0-drops', 'bar', 'rect')).toBeGreaterThanOrEqual(reasons.size);
    expect(await count(page, 's0-util', 'bar', 'rect')).toBe(cells * 2 * 6);
    await expectUtilisation(page);
    await page.close();

    // The sweep, a comparison and a run on one page: a section each, each with its own axes.
    const cmp = join(dir, 'cmp.json');
    const c = await compare({ options: { ...RPS_BASE, packets: 5000 }, a: { 'rps-cpus': 0 }, b: { 'rps-cpus': 3 }, repeat: 2 });
    writeFileSync(cmp, JSON.stringify(c));
    const run = join(dir, 'one.json');
    writeFileSync(run, JSON.stringify(await runSim(configFromFlags({ ...RPS_BASE, packets: 5000 }))));
    const d = reportData([out, cmp, run].map((f) => ({ source: f, docs: readReportInput(f) })));
    expect(d.sections.map((s) => [s.kind, s.x_label, s.pps.length])).toEqual([
      ['sweep', 'stack-cost-ns', 8],
      ['comparison', 'side', 4],
      ['run', 'run', 1],
    ]);
    const mixed = join(dir, 'mixed.html');
    expect(cli(['report', out, cmp, run, '--out', mixed]).status).toBe(0);
    const mp = await open(mixed);
    expect(await mp.locator('section.source').count()).toBe(3);
    expect(await count(mp, 's0-pps', 'dot', 'circle')).toBe(8);
    expect(await count(mp, 's1-pps', 'dot', 'circle')).toBe(4);
    expect(await mp.locator('#chart-s2-pps').count()).toBe(0); // one run: its figures, no pps chart
    const mixedText = await text(mp);
    expect(mixedText).toContain('conserved in all 8 runs');
    expect(mixedText).toContain('conserved in all 4 runs');
    expect(mixedText).toContain(conservationLine(JSON.parse(readFileSync(run, 'utf8')) as RunResult));
    await expectUtilisation(mp);
    await mp.close();
  });

  it('a synthetic timeline: a point per interval, a sampling gap left blank, 40 crowded labels never overlap', async () => {
    const r = (await runSim(configFromFlags({ ...RPS_BASE, packets: 5000 }))) as RunResult;
    // Cumulative per-CPU series every 0.5 ms, the sampler held up for 10 intervals after sample 10.
    const t_ms = Array.from({ length: 21 }, (_, k) => (k <= 10 ? k * 0.5 : (k + 10) * 0.5));
    const times = (share: (k: number) => number) => t_ms.map((t, k) => Math.round(t * 1e6 * share(k)));
    r.timeline = {
      interval_ms: 0.5,
      t_ms,
      percpu: [0, 1].map((cpu) => ({
        processed: t_ms.map((_, k) => k * 1000 * (cpu + 1)),
        dropped: t_ms.map((_, k) => (k > 10 ? (k - 10) * 50 : 0)),
        time_squeeze: t_ms.map((_, k) => Math.floor(k / 4)),
        busy_ns: times(() => 0.6),
        hardirq_ns: times(() => 0.05),
        softirq_ns: times(() => 0.2),
        ksoftirqd_ns: times(() => 0.1),
        task_ns: times(() => 0.25),
        idle_ns: times(() => 0.3),
        steal_ns: times(() => 0.1),
      })),
      // 40 knob changes 0.1 ms apart: far more labels than four lanes hold.
      events: Array.from({ length: 40 }, (_, i) => ({ t_ms: 1 + i * 0.1, what: `netdev_budget=${300 + i}` })),
    };
    const t = timelineData(r, 'run')!;
    expect(t.gaps).toBe(1);
    expect(t.util.percpu[0].pct.usr[10]).toBeNull(); // the interval after sample 10: 5.5 ms long, over GAP_FACTOR × 0.5
    expect(5.5).toBeGreaterThan(GAP_FACTOR * 0.5);
    expect(t.rates.filter((p) => p.pps === null).length).toBe(2);
    expect(t.util.percpu[0].pct.usr[0]).toBeCloseTo(25, 5);
    expect(t.util.percpu[0].pct.steal[0]).toBeCloseTo(10, 5);
    const file = join(dir, 'synthetic.json');
    writeFileSync(file, JSON.stringify(r));
    const html = join(dir, 'synthetic.html');
    expect(cli(['report', file, '--out', html]).status).toBe(0);
    const page = await open(html);
    // Each rate panel: a line per CPU, broken at the gap (two pieces: 10 and 9 intervals).
    const paths = await page.evaluate(() =>
      [...document.querySelectorAll('#chart-s0-timeline-t0 g[aria-label="line"] path')].map(
        (p) => (p.getAttribute('d') ?? '').split('M').length - 1,
      ),
    );
    expect(paths).toEqual(new Array(2 * 2).fill(2));
    const labels = await expectLabelsApart(page);
    expect(labels).toBeGreaterThan(4);
    expect(labels).toBeLessThan(40);
    expect(await text(page)).toMatch(new RegExp(`${40 - labels} unlabelled: hover the ticks`));
    await expectUtilisation(page);
    await page.close();
  });

  it('run --report and compare --report write the page; bad input is one line, exit 2', () => {
    const html = join(dir, 'cli-run.html');
    const r = cli(['run', '--mode', 'sim', '--packets', '5000', '--report', html]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pps delivered over [0-9.]+ (µs|ms)\n/);
    expect(statSync(html).size).toBeGreaterThan(400_000); // d3 and Plot inlined
    expect(readFileSync(html, 'utf8')).toContain('$ rxsmp run --mode sim --packets 5000 --report');
    for (const args of [['report'], ['report', '/nonexistent.json'], ['run', '--report', '/nonexistent-dir/x.html']]) {
      const bad = cli(args);
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split('\n').length).toBe(1);
    }
    const cmp = join(dir, 'cli-compare.html');
    const c = cli([
      'compare',
      '--mode',
      'sim',
      '--packets',
      '5000',
      '--a',
      'gro=on',
      '--b',
      'gro=off',
      '--repeat',
      '2',
      '--report',
      cmp,
      '--json',
    ]);
    expect(c.status, c.stderr).toBe(0);
    expect((JSON.parse(c.stdout) as CompareResult).command).toMatch(/^rxsmp compare --mode sim .* --json$/);
    expect(statSync(cmp).size).toBeGreaterThan(400_000);
    const notDoc = join(dir, 'x.json');
    writeFileSync(notDoc, '{"a": 1}');
    expect(cli(['report', notDoc]).stderr).toMatch(/not a rxsmp.run or rxsmp.compare document/);
  });
});
