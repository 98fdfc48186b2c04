// A --knob-at change scheduled after the run ended is reported as never applied, in
// knobs_applied (applied: false) and in one line on stderr.
import { describe, expect, it } from 'vitest';
import { runSim } from '../dist/src/engine/sim_run.js';
import { config } from './harness.js';
import { cli, run } from './e2e.js';

const SCHEDULE = '1:netdev-budget=64;600000:dev-weight=32';

describe('knobs a run never reached', () => {
  it('sim: knobs_applied marks the late change applied: false, the other applied with its time', async () => {
    const r = await runSim(config({ mode: 'sim', packets: 20_000, 'knob-at': SCHEDULE }));
    expect(r.knobs_applied).toEqual([
      { at_ms: 1, key: 'netdev_budget', value: 64, applied: true, applied_at_ms: 1 },
      { at_ms: 600000, key: 'dev_weight', value: 32, applied: false, applied_at_ms: null },
    ]);
  });

  it('threads: the same marking', async () => {
    const r = await run({ packets: 20_000, 'knob-at': SCHEDULE });
    expect(r.knobs_applied.map((k) => [k.key, k.applied])).toEqual([
      ['netdev_budget', true],
      ['dev_weight', false],
    ]);
    expect(r.knobs_applied[1].applied_at_ms).toBeNull();
  });

  it('the CLI says so in one line on stderr, and the summary marks it', () => {
    const r = cli(['run', '--mode', 'sim', '--packets', '20000', '--knob-at', SCHEDULE]);
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rxsmp: --knob-at: a change never applied \(600000:dev-weight\): the run ended after \d+ ms of traffic$/);
    expect(r.stdout).toMatch(/knob: dev-weight = 32 not applied \(asked for 600000 ms, after the run ended\)/);
  });

  it('says nothing when every change was applied', () => {
    const r = cli(['run', '--mode', 'sim', '--packets', '20000', '--knob-at', '1:netdev-budget=64', '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
