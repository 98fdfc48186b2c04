// compare, sweep and merge (src/engine/compare.ts, sweep.ts, cli/compare.ts). Exact figures in
// sim mode (deterministic); threads mode only conservation and shape.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compare } from '../dist/src/index.js';
import { spread } from '../dist/src/engine/variants.js';
import { cellKey, mergeSweepFiles, parseSetOption, planSweep, readSweepLines, runSweep } from '../dist/src/engine/sweep.js';
import { conserves, type RunResult } from '../dist/src/engine/result.js';
import { settingsFromNamed } from '../dist/src/engine/variants.js';
import { CLI, cli } from './e2e.js';

const RPS_BASE = { cpus: 2, queues: 1, 'irq-affinity': 0, 'app-cpus': 1, flows: 256, 'rss-udp4': 'sdfn' };
const tmp = () => mkdtempSync(join(tmpdir(), 'rxsmp-cmp-'));
const lines = (file: string) => readSweepLines('test', file).lines;

describe('spread: medians and quartiles', () => {
  it('is the order statistics, quartiles interpolated (numpy default)', () => {
    expect(spread([4, 1, 3, 2])).toEqual({ n: 4, median: 2.5, min: 1, max: 4, q1: 1.75, q3: 3.25 });
    expect(spread([7])).toEqual({ n: 1, median: 7, min: 7, max: 7, q1: 7, q3: 7 });
  });
});

describe('compare (library, sim mode)', () => {
  it('pairs seeds, interleaves, and its figures are the runs they summarise', async () => {
    const c = await compare({
      options: { ...RPS_BASE, mode: 'sim', packets: 20_000, 'stack-cost-ns': 2000, seed: 7 },
      a: { 'rps-cpus': 0 },
      b: { 'rps-cpus': 3 },
      repeat: 3,
    });
    expect(c.schema).toBe('rxsmp.compare/1');
    expect(c.pairs).toBe(3);
    expect(c.runs.a.map((r: RunResult) => r.config.seed)).toEqual([7, 8, 9]);
    expect(c.runs.b.map((r: RunResult) => r.config.seed)).toEqual([7, 8, 9]);
    expect(c.runs.a.every((r: RunResult) => (r.config.rps_cpus as string[])[0] === '0' && conserves(r))).toBe(true);
    expect(c.runs.b.every((r: RunResult) => (r.config.rps_cpus as string[])[0] === '3' && conserves(r))).toBe(true);
    expect(c.a.pps).toEqual(spread(c.runs.a.map((r: RunResult) => r.pps)));
    expect(c.ratio).toEqual(spread(c.runs.a.map((r: RunResult, i: number) => c.runs.b[i].pps / r.pps)));
    // RPS hands the 2 us stack cost to CPU 1: B (RPS on) beats A in virtual time.
    expect(c.ratio.min).toBeGreaterThan(1.2);
    expect(c.a.label).toBe('rps-cpus=0');
    expect(c.a.disturbed + c.b.disturbed).toBe(0);
    // Deterministic: the same comparison again gives the same figures.
    const again = await compare({
      options: { ...RPS_BASE, mode: 'sim', packets: 20_000, 'stack-cost-ns': 2000, seed: 7 },
      a: { 'rps-cpus': 0 },
      b: { 'rps-cpus': 3 },
      repeat: 3,
    });
    expect(again.ratio).toEqual(c.ratio);
  });

  it('rejects a bad side before any run', async () => {
    await expect(compare({ options: { cpus: 2 }, a: { 'rps-cpus': 0 }, b: { 'rps-cpus': 9 } })).rejects.toThrow(
      /--b rps-cpus=9: --rps-cpus: mask 9 names CPU 3/,
    );
    await expect(compare({ a: { 'no-such': 1 }, b: { 'rps-cpus': 1 } })).rejects.toThrow(/'no-such' is not an option/);
  });
});

describe('rxsmp compare (CLI)', () => {
  it('threads mode: prints medians, spread and the ratio; --json holds every run, each conserving', () => {
    const args = ['compare', '--cpus', '2', '--queues', '1', '--irq-affinity', '0', '--app-cpus', '1', '--flows', '256'];
    args.push(
      '--rss-udp4',
      'sdfn',
      '--stack-cost-ns',
      '2000',
      '--packets',
      '30000',
      '--a',
      'rps-cpus=0',
      '--b',
      'rps_cpus=3',
      '--repeat',
      '2',
    );
    const text = cli(args);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/B\/A ratio: median [0-9.]+, min\.\.max [0-9.]+\.\.[0-9.]+, IQR [0-9.]+\.\.[0-9.]+ over 2 pairs/);
    expect(text.stdout).toMatch(/pps median/);
    expect(text.stdout).toMatch(/host disturbed +\d of 2 runs/);
    const j = cli([...args, '--json']);
    expect(j.status, j.stderr).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.runs.a.length).toBe(2);
    expect(doc.runs.b.length).toBe(2);
    for (const r of [...doc.runs.a, ...doc.runs.b]) expect(conserves(r)).toBe(true);
    expect(doc.ratio.n).toBe(2);
  });

  it('SIGINT: the figures cover the pairs completed, marked interrupted; exit 130', async () => {
    const args = [
      CLI,
      'compare',
      '--cpus',
      '2',
      '--queues',
      '1',
      '--packets',
      '150000',
      '--a',
      'rps-cpus=0',
      '--b',
      'rps-cpus=3',
      '--repeat',
      '6',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    let sent = false;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const status = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (!sent && /pair 2\/6 A/.test(err)) sent = child.kill('SIGINT');
      });
      child.on('close', (code) => resolve(code));
    });
    expect(status, err).toBe(130);
    const pairs = Number(/compare: (\d) pairs of 6 \(interrupted\)/.exec(out)?.[1]);
    expect(pairs).toBeGreaterThanOrEqual(2);
    expect(pairs).toBeLessThan(6);
    expect(out).toContain(`over ${pairs} pairs`);
  });

  it('bad input: one line, exit 2, nothing runs', () => {
    for (const [args, msg] of [
      [['--a', 'rps-cpus=0'], /give both --a and --b/],
      [['--a', 'rps-cpus=0', '--b', 'rps-cpus'], /--b: 'rps-cpus' is not knob=value/],
      [['--a', 'rps-cpus=0', '--b', 'rps-cpus=zz'], /--rps-cpus: 'zz' is not valid/],
      [['--a', 'rps-cpus=0', '--b', 'rps-cpus=3', '--repeat', '0'], /--repeat: '0' is not valid/],
      [['--a', 'mode=sim', '--b', 'rps-cpus=3'], /--mode cannot differ/],
    ] as const) {
      const r = cli(['compare', ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n').length).toBe(1);
      expect(r.stdout).toBe('');
    }
  });
});

describe('sweep and merge', () => {
  const base = settingsFromNamed('test', { ...RPS_BASE, mode: 'sim', packets: 10_000 });
  const axes = [parseSetOption('rps-cpus=0,3'), parseSetOption('stack-cost-ns=0,1000,2000')];

  it('plans cells x repeats, seeds paired by repeat, and shards cover the whole list once', () => {
    const all = planSweep(base, axes, 3);
    expect(all.cells).toBe(6);
    expect(all.tasks.length).toBe(18);
    expect(all.tasks.filter((t) => t.repeat === 2).every((t) => t.cfg.seed === 3)).toBe(true);
    const s1 = planSweep(base, axes, 3, { index: 1, count: 2 });
    const s2 = planSweep(base, axes, 3, { index: 2, count: 2 });
    const keys = (p: typeof s1) => p.tasks.map((t) => cellKey(t.cell, t.repeat));
    expect(new Set([...keys(s1), ...keys(s2)])).toEqual(new Set(keys(all)));
    expect(keys(s1).length + keys(s2).length).toBe(18);
    expect(() => planSweep(base, [parseSetOption('rps-cpus=0,9')], 1)).toThrow(/sweep cell rps-cpus=9: --rps-cpus: mask 9/);
  });

  it('sim mode on the pool: shard 1/2 + 2/2 merged equals the whole; every line conserves; resume skips', async () => {
    const dir = tmp();
    const whole = join(dir, 'whole.jsonl');
    const r = await runSweep(planSweep(base, axes, 2), whole, { workers: 2 });
    expect(r).toEqual({ skipped: 0, written: 12, left: 0, interrupted: false });
    for (const s of [1, 2]) await runSweep(planSweep(base, axes, 2, { index: s, count: 2 }), join(dir, `s${s}.jsonl`), { workers: 2 });
    const merged = mergeSweepFiles([join(dir, 's1.jsonl'), join(dir, 's2.jsonl'), join(dir, 's1.jsonl')]);
    expect(merged.duplicates).toBe(6);
    writeFileSync(join(dir, 'merged.jsonl'), merged.texts.map((t) => t + '\n').join(''));
    const byKey = (f: string) => new Map(lines(f).map((l) => [cellKey(l.cell, l.repeat), l.pps]));
    expect(byKey(join(dir, 'merged.jsonl'))).toEqual(byKey(whole)); // same cells, and (sim) the same figures
    for (const l of lines(whole)) expect(conserves(l)).toBe(true);
    // Resume: drop two lines and tear the last; the rerun makes exactly what is missing.
    const texts = readFileSync(whole, 'utf8').trim().split('\n');
    writeFileSync(whole, texts.slice(0, 9).join('\n') + '\n' + texts[9].slice(0, 40));
    const again = await runSweep(planSweep(base, axes, 2), whole, { workers: 2 });
    expect(again).toEqual({ skipped: 9, written: 3, left: 0, interrupted: false });
    expect(byKey(whole)).toEqual(byKey(join(dir, 'merged.jsonl')));
  });

  it('CLI: --help says threads mode runs one at a time; bad --set, --shard and files are one line, exit 2', () => {
    const h = cli(['sweep', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/strictly one run at a time/);
    for (const [args, msg] of [
      [['--set', 'rps-cpus=0,,3'], /an empty value/],
      [['--set', 'stack-cost-ns=1,x'], /--stack-cost-ns: 'x' is not valid/],
      [['--set', 'rps-cpus=0,3', '--shard', '3/2'], /--shard: '3\/2' is not valid/],
      [['--set', 'rps-cpus=0,3', '--rps-cpus', '3'], /also given as --rps-cpus/],
      [[], /give at least one --set/],
      [['--file', '/nonexistent.json'], /--file \/nonexistent.json: cannot read it/],
    ] as const) {
      const r = cli(['sweep', ...args]);
      expect(r.status, String(args)).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n').length).toBe(1);
    }
    const m = cli(['merge', '/nonexistent.jsonl']);
    expect(m.status).toBe(2);
    expect(m.stderr.trim().split('\n').length).toBe(1);
  });

  it('CLI: a file gives the matrix; merge --out joins shards', () => {
    const dir = tmp();
    const file = join(dir, 'm.json');
    writeFileSync(
      file,
      JSON.stringify({
        set: { 'rps-cpus': ['0', '3'], gro: [true, false] },
        options: { ...RPS_BASE, mode: 'sim', packets: 5000 },
        repeat: 1,
      }),
    );
    for (const s of ['1/2', '2/2']) {
      const r = cli(['sweep', '--file', file, '--shard', s, '--out', join(dir, `${s[0]}.jsonl`)]);
      expect(r.status, r.stderr).toBe(0);
      // stdout: a table of the file's cells, two per shard here (4 runs, every other one)
      expect(r.stdout).toMatch(/^cell +runs +median pps +min\.\.max +drops\n/);
      expect(r.stdout.trim().split('\n').length).toBe(3);
    }
    const m = cli(['merge', join(dir, '1.jsonl'), join(dir, '2.jsonl'), '--out', join(dir, 'all.jsonl')]);
    expect(m.status, m.stderr).toBe(0);
    const got = lines(join(dir, 'all.jsonl'));
    expect(got.map((l) => cellKey(l.cell, l.repeat)).sort()).toEqual(
      [
        { 'rps-cpus': '0', gro: 'on' },
        { 'rps-cpus': '0', gro: 'off' },
        { 'rps-cpus': '3', gro: 'on' },
        { 'rps-cpus': '3', gro: 'off' },
      ]
        .map((c) => cellKey(c, 0))
        .sort(),
    );
    expect(got.every((l) => l.config.gro === (l.cell.gro === 'on'))).toBe(true);
  });

  it('threads mode: SIGINT keeps the lines written (each conserving) and exits 130; the rerun resumes', async () => {
    const dir = tmp();
    const out = join(dir, 't.jsonl');
    const args = [
      CLI,
      'sweep',
      '--set',
      'rps-cpus=0,3',
      '--repeat',
      '3',
      '--cpus',
      '2',
      '--queues',
      '1',
      '--packets',
      '150000',
      '--out',
      out,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let sent = false;
    const status = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (!sent && /sweep: 2\/6 /.test(err)) sent = child.kill('SIGINT'); // once: a second SIGINT quits at once
      });
      child.on('close', (code) => resolve(code));
    });
    expect(status, err).toBe(130);
    expect(err).toMatch(/left \(run the same command again to resume\)/);
    const kept = lines(out);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(6);
    for (const l of kept) expect(conserves(l) && l.interrupted === undefined).toBe(true);
    const rerun = cli(args.slice(1));
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`already in ${out}`);
    expect(lines(out).length).toBe(6);
  });
});
