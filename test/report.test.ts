/// <reference lib="dom" />
// The HTML report (src/report/html.ts, page.js) in real headless Chromium (Debian's chromium,
// driven by playwright-core): the page opens from file:// with no console errors, and each
// chart draws one SVG element per data point. The data come from sim-mode runs (fast,
// deterministic); the timeline is synthetic, in the shape issue 14 gives it.

import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare } from '../dist/src/engine/compare.js';
import { configFromFlags } from '../dist/src/config.js';
import type { RunResult } from '../dist/src/engine/result.js';
import { runSim } from '../dist/src/engine/sim_run.js';
import { parseSetOption, planSweep, readSweepLines, runSweep } from '../dist/src/engine/sweep.js';
import { settingsFromNamed } from '../dist/src/engine/variants.js';
import { readReportInput, reportOf } from '../dist/src/report/html.js';
import { cli } from './e2e.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const RPS_BASE = { cpus: 2, queues: 1, 'irq-affinity': 0, 'app-cpus': 1, flows: 256, 'rss-udp4': 'sdfn', mode: 'sim' };

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'rxsmp-report-'));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});

/** Open a report; fail on any console error or uncaught exception; a screenshot beside it. */
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
  await page.waitForSelector('#chart-pps svg');
  expect(errors).toEqual([]);
  const png = file.replace(/\.html$/, '.png');
  await page.screenshot({ path: png, fullPage: true });
  expect(statSync(png).size).toBeGreaterThan(10_000);
  return page;
}

/** SVG elements of one mark type in one chart: Plot puts each mark's elements in <g aria-label="mark">. */
const count = (page: Page, chart: string, mark: string, el: string) =>
  page.evaluate(([c, m, e]) => document.querySelectorAll(`#chart-${c} g[aria-label="${m}"] ${e}`).length, [chart, mark, el] as const);

/** The dots of the pps chart: their vertical positions, in data order. */
const dotYs = (page: Page) =>
  page.evaluate(() => [...document.querySelectorAll('#chart-pps g[aria-label="dot"] circle')].map((c) => Number(c.getAttribute('cy'))));

/** Higher pps is drawn higher (smaller y), pairwise. */
function expectOrdered(pps: number[], ys: number[]): void {
  expect(ys.length).toBe(pps.length);
  for (let i = 0; i < pps.length; i++) for (let j = 0; j < pps.length; j++) if (pps[i]! > pps[j]!) expect(ys[i]!).toBeLessThan(ys[j]!);
}

describe('rxsmp report in headless Chromium', () => {
  it('a sweep: a dot per run, a spread per cell, a line per variant, bars per CPU and group', async () => {
    const out = join(dir, 'sweep.jsonl');
    const axes = [parseSetOption('rps-cpus=0,3'), parseSetOption('stack-cost-ns=0,2000')];
    await runSweep(planSweep(settingsFromNamed('t', { ...RPS_BASE, packets: 10_000 }), axes, 2), out, { workers: 2 });
    const runs = readSweepLines('t', out).lines;
    const html = join(dir, 'sweep.html');
    const r = cli(['report', out, '--out', html]);
    expect(r.status, r.stderr).toBe(0);
    const page = await open(html);
    const cells = 4;
    const cpus = 2;
    expect(await count(page, 'pps', 'dot', 'circle')).toBe(runs.length); // 8
    expect(await count(page, 'pps', 'rule', 'line')).toBe(cells);
    expect(await count(page, 'pps', 'line', 'path')).toBe(2); // rps-cpus=0 and =3 against stack-cost-ns
    expectOrdered(
      runs.map((l) => l.pps),
      await dotYs(page),
    );
    expect(await count(page, 'percpu', 'bar', 'rect')).toBe(cells * cpus * 4);
    expect(await count(page, 'contention', 'bar', 'rect')).toBe(cells * 4);
    expect(await count(page, 'latency', 'dot', 'circle')).toBe(cells * 4);
    expect(await count(page, 'latency', 'line', 'path')).toBe(cells);
    expect(await page.$('#chart-timeline')).toBeNull(); // no run has a timeline: no chart
    await page.close();
  });

  it('a comparison: a dot per run of each side', async () => {
    const c = await compare({
      options: { ...RPS_BASE, packets: 10_000, 'stack-cost-ns': 2000 },
      a: { 'rps-cpus': 0 },
      b: { 'rps-cpus': 3 },
      repeat: 2,
    });
    const html = join(dir, 'compare.html');
    writeFileSync(html, reportOf([c], ['compare']));
    const page = await open(html);
    expect(await page.textContent('p.ratio')).toContain(`median ${c.ratio.median.toFixed(3)}`);
    expect(await count(page, 'pps', 'dot', 'circle')).toBe(4);
    expect(await count(page, 'pps', 'rule', 'line')).toBe(2);
    expectOrdered(
      [...c.runs.a, ...c.runs.b].map((r: RunResult) => r.pps),
      await dotYs(page),
    );
    await page.close();
  });

  it('a run with a timeline: a line per CPU in each panel, a point per interval, knob changes and migrations marked', async () => {
    const r = (await runSim(
      configFromFlags({ ...RPS_BASE, packets: 20_000, 'knob-at': '1:rps-cpus=3', 'migrate-every-ms': 2 }),
    )) as RunResult;
    expect(r.knobs_applied.filter((k) => k.applied).length).toBe(1);
    // A synthetic timeline in the run contract's shape (cumulative per-CPU series every 0.5 ms).
    const samples = 21;
    const t_ms = Array.from({ length: samples }, (_, k) => k * 0.5);
    r.timeline = {
      interval_ms: 0.5,
      t_ms,
      events: [],
      percpu: [0, 1].map((cpu) => ({
        processed: t_ms.map((_, k) => k * 1000 * (cpu + 1)),
        dropped: t_ms.map((_, k) => (k > 10 ? (k - 10) * 50 : 0)),
        time_squeeze: t_ms.map((_, k) => Math.floor(k / 4)),
        busy_ns: t_ms.map((_, k) => k * 400_000),
      })),
    };
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify(r));
    expect(readReportInput(file).length).toBe(1);
    const html = join(dir, 'run.html');
    expect(cli(['report', file, '--out', html]).status).toBe(0);
    const page = await open(html);
    const panels = 3;
    const marks = 1 + Math.floor(t_ms[samples - 1]! / 2); // the rps-cpus change, a migration every 2 ms
    expect(await count(page, 'timeline', 'line', 'path')).toBe(panels * 2);
    expect(await count(page, 'timeline', 'rule', 'line')).toBe(panels * marks);
    const points = await page.evaluate(() =>
      [...document.querySelectorAll('#chart-timeline g[aria-label="line"] path')].map(
        (p) => (p.getAttribute('d') ?? '').split(/[ML]/).length - 1,
      ),
    );
    expect(points).toEqual(new Array(panels * 2).fill(samples - 1)); // one point per interval
    expect(await count(page, 'pps', 'dot', 'circle')).toBe(1);
    await page.close();
  });

  it('run --report and compare --report write the page; bad input is one line, exit 2', () => {
    const html = join(dir, 'cli-run.html');
    const r = cli(['run', '--mode', 'sim', '--packets', '5000', '--report', html]);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(html).size).toBeGreaterThan(400_000); // d3 and Plot inlined
    for (const args of [['report'], ['report', '/nonexistent.json'], ['run', '--report', '/nonexistent-dir/x.html']]) {
      const bad = cli(args);
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split('\n').length).toBe(1);
    }
    const cmp = join(dir, 'cli-compare.html');
    const c = cli(['compare', '--mode', 'sim', '--packets', '5000', '--a', 'gro=on', '--b', 'gro=off', '--repeat', '2', '--report', cmp]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/over 2 pairs/);
    expect(statSync(cmp).size).toBeGreaterThan(400_000);
    const notDoc = join(dir, 'x.json');
    writeFileSync(notDoc, '{"a": 1}');
    expect(cli(['report', notDoc]).stderr).toMatch(/not a rxsmp.run or rxsmp.compare document/);
  });
});
