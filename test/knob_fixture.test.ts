/**
 * knob_fixture.test.ts: adding a runtime knob is one schema entry plus the kernel code that
 * reads it (issue 27, must-show 3). The fixture adds `fixture_backlog_cap`, a net.core-style
 * sysctl that caps the backlog below netdev_max_backlog, to a copy of the tree: its entry in
 * KNOBS (slot: its own control word, a plain store, changeable under traffic; a fuzz range) and
 * the line of enqueue_to_backlog that reads it. Nothing else is edited, and the copy's
 * --help, --knob-at (checked and applied), the run's JSON and the fuzz campaign all carry it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTree, patchOnce, type FixtureTree } from './fixture_tree.js';

const ROOT = resolve(import.meta.dirname, '..');

const ENTRY = `  fixture_backlog_cap: knob(
    'napi',
    int(0, 1 << 20),
    'TEST fixture: net.core.fixture_backlog_cap, a second backlog limit below netdev_max_backlog; 0 = none',
    0,
    {
      slot: { file: 'net.core.fixture_backlog_cap', ctl: ['fixture_backlog_cap'], runtime: true },
      fuzz: { pick: [0, 8, 64], at: true },
    },
  ),
`;

const READER_OLD = '  if (qlen > i32[c.ctlI + c.layout.CTL.netdev_max_backlog]) drop_reason = SD.drop_backlog;';
const READER_NEW = `  const cap = i32[c.ctlI + c.layout.CTL.fixture_backlog_cap];
  if (qlen > i32[c.ctlI + c.layout.CTL.netdev_max_backlog] || (cap > 0 && qlen > cap)) drop_reason = SD.drop_backlog;`;

// RPS from CPU 0's queue to CPU 1, whose stack cost lets its backlog grow.
const RUN = ['run', '--mode', 'sim', '--cpus', '2', '--queues', '1', '--irq-affinity', '0', '--rps-cpus', '2'];
const RUN_ARGS = [...RUN, '--stack-cost-ns', '2000', '--packets', '20000', '--json'];

interface RunDoc {
  config: Record<string, unknown>;
  packets: { generated: number; delivered: number; dropped: Record<string, number> };
  percpu: { dropped: number }[];
  knobs_applied: { key: string; value: unknown; applied: boolean; at_ms: number }[];
  sim: Record<string, unknown>;
  [more: string]: unknown;
}

let tree: FixtureTree;

beforeAll(() => {
  tree = fixtureTree({
    'src/config/schema.ts': (old) => patchOnce(old, '  netdev_max_backlog: knob(', `${ENTRY}  netdev_max_backlog: knob(`),
    'src/kernel/dev.ts': (old) => patchOnce(old, READER_OLD, READER_NEW),
  });
}, 600_000);

afterAll(() => tree?.remove());

function runJson(args: string[]): RunDoc {
  const r = tree.cli(args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as RunDoc;
}

/** Without the wall-time fields and the command line: what sim mode makes the same every time. */
function simFigures(d: RunDoc): unknown {
  const { command: _c, sim, ...rest } = d;
  const { wall_s: _w, sim_pps_wall: _p, ...simRest } = sim;
  return { ...rest, sim: simRest };
}

const dropped = (d: RunDoc) => Object.values(d.packets.dropped).reduce((a, b) => a + b, 0);

describe('a runtime knob added as one schema entry and its kernel reader', () => {
  it('touches exactly two source files: the schema and the kernel file that reads it', () => {
    expect(tree.touched).toEqual(['src/config/schema.ts', 'src/kernel/dev.ts']);
  });

  it('--help names it, --help-all describes it, and --knob-at lists it among the knobs changeable under traffic', () => {
    const help = tree.cli(['run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--fixture-backlog-cap');
    const all = tree.cli(['run', '--help-all']).stdout;
    expect(all).toMatch(/--fixture-backlog-cap N\s+TEST fixture: net\.core\.fixture_backlog_cap/);
    const knobAt = all.slice(all.indexOf('--knob-at'));
    expect(knobAt.slice(0, knobAt.indexOf('\n  --', 1))).toContain('fixture-backlog-cap');
  });

  it('--knob-at takes it, checked by its kind, and changes the sim run exactly; the JSON carries it', () => {
    const parent = JSON.parse(spawnSync(process.execPath, [join(ROOT, 'dist/src/cli.js'), ...RUN_ARGS], { encoding: 'utf8' }).stdout);
    const base = runJson(RUN_ARGS);
    // At its default (0) the knob changes nothing: the copy's run is the tree's, but for the config key it adds.
    expect(base.config.fixture_backlog_cap).toBe(0);
    const { fixture_backlog_cap: _k, ...baseConfig } = base.config;
    expect(simFigures({ ...base, config: baseConfig })).toEqual(simFigures(parent));

    const changed = runJson([...RUN_ARGS, '--knob-at', '2:fixture-backlog-cap=4']);
    expect(changed.knobs_applied).toEqual([expect.objectContaining({ key: 'fixture_backlog_cap', value: 4, applied: true, at_ms: 2 })]);
    expect(changed.config.knob_at).toEqual([{ at_ms: 2, key: 'fixture_backlog_cap', value: 4 }]);
    // The cap of 4 drops at CPU 1's backlog what a backlog of 1000 took: more backlog drops, all conserved.
    expect(changed.packets.dropped.backlog).toBeGreaterThan(base.packets.dropped.backlog ?? 0);
    expect(changed.percpu[1].dropped).toBeGreaterThan(base.percpu[1].dropped);
    expect(changed.packets.generated).toBe(changed.packets.delivered + dropped(changed));
    // Sim mode: the same command gives the same document.
    expect(simFigures(runJson([...RUN_ARGS, '--knob-at', '2:fixture-backlog-cap=4']))).toEqual(simFigures(changed));

    // Given from the start, the config block carries the value and runs again as it is.
    const start = runJson([...RUN_ARGS, '--fixture-backlog-cap', '4']);
    expect(start.config.fixture_backlog_cap).toBe(4);
    expect(start.packets.dropped.backlog).toBeGreaterThan(changed.packets.dropped.backlog);
    const cfgFile = join(tree.dir, 'cap.json');
    writeFileSync(cfgFile, JSON.stringify(start.config));
    expect(simFigures(runJson(['run', '--config', cfgFile, '--json']))).toEqual(simFigures(start));

    // A bad value is one line naming the change and what the knob accepts, exit 2.
    const bad = tree.cli([...RUN_ARGS, '--knob-at', '2:fixture-backlog-cap=-1']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('fixture-backlog-cap');
    expect(bad.stderr).toContain('expected an integer from 0 to 1048576');
  });

  it('the fuzz campaign draws it, at the start and under traffic, and every other draw stays', async () => {
    // Nothing on the command line prints a draw: the copy's fuzz module, bundled as its build bundles, is asked directly.
    const probe = join(tree.dir, 'dist/fuzz_probe.js');
    const esb = spawnSync(
      join(ROOT, 'node_modules/.bin/esbuild'),
      [
        'src/engine/fuzz.ts',
        '--bundle',
        '--platform=node',
        '--format=esm',
        '--packages=external',
        `--outfile=${probe}`,
        '--log-level=warning',
      ],
      { cwd: tree.dir, encoding: 'utf8' },
    );
    expect(esb.stderr).toBe('');
    type Draw = (seed: number, unsafe: boolean) => Record<string, string | number>;
    const copy = (await import(probe)) as { randomSimFlags: Draw };
    const mine = (await import('../dist/src/engine/fuzz.js')) as { randomSimFlags: Draw };
    let underTraffic = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const f = copy.randomSimFlags(seed, false);
      expect([0, 8, 64]).toContain(f['fixture-backlog-cap']);
      const { 'fixture-backlog-cap': _v, ...rest } = f;
      const knobAt = String(rest['knob-at'] ?? '');
      // Its change comes last (a change past the end of an open-loop run is left out, the others' too).
      const m = /(^|;)[0-9]+:fixture-backlog-cap=(0|8|64)$/.exec(knobAt);
      if (m) {
        underTraffic++;
        if (m.index > 0) rest['knob-at'] = knobAt.slice(0, m.index);
        else delete rest['knob-at'];
      }
      // (the XDP draw names its object by the checkout's path, which the probe's bundle does not share)
      const theirs = mine.randomSimFlags(seed, false);
      for (const d of [rest, theirs]) if (typeof d.xdp === 'string') d.xdp = d.xdp.replace(/.*\//, '');
      expect(rest).toEqual(theirs);
    }
    expect(underTraffic).toBeGreaterThan(0);

    // A campaign in the copy runs it: the first failure of the unsafe campaign docs/campaigns.md
    // quotes (run 6, seed 20266) is still found, and its reproduction command carries the knob.
    const r = tree.cli(['fuzz', '--runs', '7', '--seed', '20260', '--unsafe-rfs-no-qtail-check', '--no-shrink', '--workers', '1'], 300_000);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/fuzz: run 6 \(seed 20266\) FAILED ordering/);
    const repro = /reproduce: (npx rxsmp run .*)/.exec(r.stdout)![1];
    expect(repro).toMatch(/ --fixture-backlog-cap (0|8|64) /);
  }, 600_000);
});
