// `npm run docs:chart`: the chart in the docs, made by the tool from a real sweep on this
// machine. Runs `rxsmp sweep` (threads mode, one run at a time) of RPS off/on x three stack
// costs x 3 repeats, draws the report, screenshots its pps chart to docs/img/sweep.png with
// headless Chromium, and writes the numbers behind it (dated, with the host's load) into
// docs/benchmarks.md between the markers below, replacing the previous entry.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { SWEEP_PACKETS_DEFAULT } from '../src/cli/compare.js';
import { parseSetOption, planSweep, readSweepLines, runSweep } from '../src/engine/sweep.js';
import { settingsFromNamed, spread } from '../src/engine/variants.js';
import { reportOf } from '../src/report/html.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = `${ROOT}.rxsmp-tmp/`;
const PNG = `${ROOT}docs/img/sweep.png`;
const BENCH_MD = `${ROOT}docs/benchmarks.md`;
const BEGIN = '<!-- docs:chart begin (npm run docs:chart rewrites this section) -->';
const END = '<!-- docs:chart end -->';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const BASE = { cpus: 2, queues: 1, 'irq-affinity': 0, 'app-cpus': 1, flows: 1024, 'rss-udp4': 'sdfn', packets: SWEEP_PACKETS_DEFAULT };
const SETS = ['rps-cpus=0,3', 'stack-cost-ns=0,1000,2000'];
const REPEAT = 3;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  mkdirSync(TMP, { recursive: true });
  mkdirSync(`${ROOT}docs/img`, { recursive: true });
  const out = `${TMP}docs_chart.jsonl`;
  rmSync(out, { force: true });
  const load0 = loadavg()[0];
  const t0 = performance.now();
  const started = new Date();
  await runSweep(planSweep(settingsFromNamed('docs:chart', BASE), SETS.map(parseSetOption), REPEAT), out, {
    onRun: (t, r, done, todo) =>
      console.log(
        `docs:chart: ${done}/${todo} ${Object.entries(t.cell)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}: ${fmt(r.pps)} pps`,
      ),
  });
  const wall_s = (performance.now() - t0) / 1000;
  const load1 = loadavg()[0];
  const lines = readSweepLines('docs:chart', out).lines;
  const html = `${TMP}docs_chart.html`;
  writeFileSync(html, reportOf([{ source: 'npm run docs:chart', docs: lines }]));

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 }, deviceScaleFactor: 1 });
    await page.goto(`file://${html}`);
    await page.locator('#chart-s0-pps').screenshot({ path: PNG });
  } finally {
    await browser.close();
  }

  // The numbers behind the chart: per cell the median and spread, and RPS on / off per stack cost.
  const rows: string[] = [];
  const medians = new Map<string, number>();
  for (const rps of ['0', '3'])
    for (const cost of ['0', '1000', '2000']) {
      const runs = lines.filter((l) => l.cell['rps-cpus'] === rps && l.cell['stack-cost-ns'] === cost);
      const s = spread(runs.map((l) => l.pps));
      medians.set(`${rps}/${cost}`, s.median);
      const drops = runs.reduce((n, l) => n + Object.values(l.packets.dropped).reduce((a, b) => a + b, 0), 0);
      rows.push(
        `| ${rps} | ${cost} | ${fmt(s.median)} | ${fmt(s.min)}..${fmt(s.max)} | ${fmt(s.q1)}..${fmt(s.q3)} | ${drops} | ${runs.filter((l) => l.host.disturbed).length} of ${runs.length} |`,
      );
    }
  const ratios = ['0', '1000', '2000'].map((c) => `${c} ns ${(medians.get(`3/${c}`)! / medians.get(`0/${c}`)!).toFixed(2)}x`).join(', ');
  const when = `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const section = `${BEGIN}
## The chart in the docs

Made ${when}.

![pps against the stack cost, RPS off and on](img/sweep.png)

\`npm run docs:chart\` (bench/docs_chart.ts) ran \`rxsmp sweep --set ${SETS.join(' --set ')} --repeat ${REPEAT}\`
with \`${Object.entries(BASE)
    .map(([k, v]) => `--${k} ${v}`)
    .join(' ')}\` in threads mode, one run at a time (${lines.length} runs, ${wall_s.toFixed(0)} s), then
\`rxsmp report\`, and took the chart from headless Chromium. Host: ${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version},
load average ${load0.toFixed(2)} before and ${load1.toFixed(2)} after (other work shared the machine; a quiet machine gives other figures).
Repeat r runs seed 1 + r in every cell. Delivered packets per second:

| rps-cpus | stack-cost-ns | median | min..max | IQR | drops (all runs) | host disturbed |
|---|---|---|---|---|---|---|
${rows.join('\n')}

RPS on / off, medians: ${ratios}.
${END}`;
  const md = readFileSync(BENCH_MD, 'utf8');
  const b = md.indexOf(BEGIN);
  const e = md.indexOf(END);
  const next =
    b >= 0 && e > b
      ? md.slice(0, b) + section + md.slice(e + END.length)
      : md.replace('\n## The machine\n', `\n${section}\n\n## The machine\n`);
  writeFileSync(BENCH_MD, next);
  console.log(`docs:chart: ${PNG} and ${BENCH_MD} written; ${lines.length} runs in ${wall_s.toFixed(1)} s; RPS on/off ${ratios}`);
}

await main();
