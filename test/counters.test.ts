/**
 * counters.test.ts: the per-CPU counters are declared once (src/shm/softnet_counters.ts,
 * PERCPU_COUNTERS): the run document's percpu[] keys are the table's, in its order; the human
 * tables line up under their headings (lib/text_table.ts); and a new counter, added as a
 * fixture, is one table entry plus the kernel line that counts it, and shows in the JSON of
 * both runtimes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PERCPU_COUNTERS } from '../dist/src/shm/softnet_counters.js';
import { textTable } from '../dist/src/lib/text_table.js';
import { cli } from './e2e.js';
import { fixtureTree, patchOnce, type FixtureTree } from './fixture_tree.js';

const SIM = ['run', '--mode', 'sim', '--cpus', '2', '--queues', '1', '--rps-cpus', '3', '--packets', '20000'];

describe('percpu[] is PERCPU_COUNTERS', () => {
  it('the keys of every CPU are cpu, the table in its order, then the CPU time', () => {
    const p = cli([...SIM, '--json']);
    expect(p.status, p.stderr).toBe(0);
    const r = JSON.parse(p.stdout);
    const names = PERCPU_COUNTERS.map((c) => c.name);
    for (const cpu of r.percpu) expect(Object.keys(cpu)).toEqual(['cpu', ...names, 'busy_ns', 'busy', 'util_pct']);
    // RPS from CPU 0 to CPU 1: the counters the table names hold the run's counts
    expect(r.percpu[0].enqueue_remote).toBeGreaterThan(0);
    expect(r.percpu[1].received_rps).toBeGreaterThan(0);
    expect(r.percpu[0].processed + r.percpu[1].processed).toBeGreaterThan(0);
  });

  it("the summary's per-CPU table: every figure ends where its column ends, under its heading", () => {
    const p = cli(SIM);
    expect(p.status, p.stderr).toBe(0);
    const lines = p.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('cpu   processed'));
    const [head, ...rows] = lines.slice(at, at + 3);
    expect(head).toBe('cpu   processed  hardirqs  net_rx   squeeze  rps_rx   ipi_tx   ipi_rx   lock_acq   spins  ksoftirqd');
    const ends = (l: string) => [...l.matchAll(/\S+/g)].map((m) => m.index + m[0].length);
    // the headings as docs/runs.md shows them: from net_rx on, all but squeeze one column short of the figures' edge
    const inset = [0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1];
    for (const row of rows) {
      expect(row.trimEnd()).toBe(row);
      const e = ends(row);
      expect(e.slice(1)).toEqual(
        ends(head)
          .map((x, i) => x + inset[i])
          .slice(1),
      );
    }
  });
});

describe('textTable', () => {
  it('pads figures left and names right, insets headings, and leaves no blank at a line end', () => {
    const t = textTable(
      [
        { head: 'name', width: 6, left: true, cell: (r: { n: string; v: number }) => r.n },
        { head: 'value', width: 8, cell: (r) => String(r.v) },
        { head: 'tail', width: 6, headInset: 1, cell: (r) => String(r.v * 2) },
      ],
      [
        { n: 'a', v: 1 },
        { n: 'longer', v: 12345 },
      ],
    );
    expect(t.split('\n')).toEqual(['name      value  tail', 'a             1      2', 'longer    12345  24690']);
  });

  it("a column's gap replaces the separator before it; the first column's is an indent", () => {
    const t = textTable(
      [
        { head: 'x', width: 2, left: true, gap: '> ', cell: (r: number) => String(r) },
        { head: 'y', width: 0, left: true, gap: ' | ', cell: (r) => String(r + 1) },
      ],
      [7],
      '',
    );
    expect(t).toBe('> x  | y\n> 7  | 8');
  });
});

describe('a new per-CPU counter (fixture): one table entry and the kernel line that counts it', () => {
  let tree: FixtureTree | undefined;
  afterAll(() => tree?.remove());

  it('builds, and both runtimes report it in percpu[] after the existing counters', () => {
    tree = fixtureTree({
      'src/shm/softnet_counters.ts': (old) =>
        patchOnce(
          old,
          '] as const satisfies readonly PerCpuCounter[];',
          "  { name: 'backlog_polls', group: 'owner', head: 'bl_polls', doc: 'process_backlog runs (a fixture)' },\n] as const satisfies readonly PerCpuCounter[];",
        ),
      'src/kernel/dev.ts': (old) =>
        patchOnce(
          old,
          'function process_backlog(c: KCpu, n: number, quota: number): number {\n',
          'function process_backlog(c: KCpu, n: number, quota: number): number {\n  c.count(c.SD.backlog_polls);\n',
        ),
    });
    expect(tree.touched).toEqual(['src/kernel/dev.ts', 'src/shm/softnet_counters.ts']);
    for (const mode of ['sim', 'threads']) {
      const p = tree.cli(['run', '--mode', mode, '--cpus', '2', '--queues', '1', '--rps-cpus', '3', '--packets', '20000', '--json']);
      expect(p.status, p.stderr).toBe(0);
      const r = JSON.parse(p.stdout);
      const keys = Object.keys(r.percpu[1]);
      expect(keys.slice(-4)).toEqual(['backlog_polls', 'busy_ns', 'busy', 'util_pct']);
      // CPU 1 takes RPS's packets from its backlog: process_backlog ran there
      expect(r.percpu[1].backlog_polls, mode).toBeGreaterThan(0);
    }
  }, 600_000);
});
