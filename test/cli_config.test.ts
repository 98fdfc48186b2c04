// Config files, defaults that follow the NIC, the header line and the checks that set the exit
// status (docs/cli.md). Runs are sim mode: deterministic and independent of the host's speed.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cli, CLI } from './e2e.js';
import { rejects } from './cli_expect.js';
import { parseRunArgs } from '../dist/src/cli/run.js';
import { DEFAULTS, KNOBS } from '../dist/src/config/schema.js';
import { configFromFlags } from '../dist/src/engine/configure.js';
import { deterministicPart, type SimRunResult } from '../dist/src/engine/sim_run.js';
import { reproArgs, runFuzz } from '../dist/src/engine/fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsmp-cli-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('--config FILE', () => {
  it('a bad file is one line naming the file and the key, never quoting the file', () => {
    const secret = 'SECRET-TEXT-42';
    const broken = file('broken.json', `{ "cpus": 2, "${secret}": `);
    const garbage = file('garbage.json', `${secret} is not json`);
    const comma = file('comma.json', `{ "cpus": 2,\n  "${secret}": 1,\n}`);
    const badValue = file('bad-value.json', JSON.stringify({ cpus: 2, gro: secret }));
    const badNumber = file('bad-number.json', JSON.stringify({ 'netdev-budget': -5 }));
    const unknown = file('unknown.json', JSON.stringify({ cpu: 2 }));
    const lines = [
      rejects(['run', '--config', broken], /^rxsmp: --config .*broken\.json: not valid JSON \(it ends early\)$/m),
      rejects(['run', '--config', garbage], /--config .*garbage\.json: not valid JSON/),
      rejects(['run', '--config', comma], /--config .*comma\.json: not valid JSON \(line 3, column 1\)/),
      rejects(['run', '--config', badValue], /--config .*bad-value\.json: key 'gro': the string given is not valid; expected on or off$/m),
      rejects(
        ['run', '--config', join(dir, 'missing.json')],
        /--config .*missing\.json: cannot read it \(ENOENT: no such file or directory\)/,
      ),
      rejects(['run', '--config', dir], /--config .*: cannot read it \(a directory\)/),
    ];
    const badChange = file('bad-change.json', JSON.stringify({ knob_at: [{ at_ms: 1, key: 'rps_cpus', value: secret }] }));
    lines.push(
      rejects(
        ['run', '--config', badChange],
        /bad-change\.json: key 'knob_at': rps_cpus at 1 ms: the string given is not valid; expected a hex CPU mask/,
      ),
    );
    for (const l of lines) expect(l).not.toContain(secret);
    rejects(
      ['run', '--config', badNumber],
      /bad-number\.json: key 'netdev-budget': -5 is not valid; expected an integer from 1 to 1048576/,
    );
    rejects(['run', '--config', unknown], /unknown\.json: unknown key 'cpu'/);
  });

  it('a bad --cost-model file the same', () => {
    const secret = 'SECRET-COST-7';
    const broken = file('cost-broken.json', `{ "hash_ns": ${secret} }`);
    const badValue = file('cost-bad.json', JSON.stringify({ hash_ns: secret }));
    const badSchema = file('cost-schema.json', JSON.stringify({ schema: secret }));
    for (const [f, msg] of [
      [broken, /--cost-model .*cost-broken\.json: not valid JSON/],
      [badValue, /--cost-model .*cost-bad\.json: hash_ns is a string; expected ns/],
      [badSchema, /--cost-model .*cost-schema\.json: schema is not 'rxsmp\.cost\/2'/],
    ] as const) {
      expect(rejects(['run', '--mode', 'sim', '--cost-model', f, '--packets', '1000'], msg)).not.toContain(secret);
    }
  });

  it("a --json output's config block runs again as --config, with the same result; flags override it", () => {
    const args = [
      'run',
      '--mode',
      'sim',
      '--cpus',
      '3',
      '--rps-cpus',
      '6',
      '--rate',
      '2000000',
      '--packets',
      '6000',
      '--seed',
      '9',
      '--link-speed',
      '25000',
    ];
    const first = cli([...args, '--knob-at', '1:netdev-budget=32;2:rps-cpus=7', '--json']);
    expect(first.status, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as SimRunResult;
    const cfgFile = file('roundtrip.json', JSON.stringify(a.config, null, 2));
    const again = cli(['run', '--config', cfgFile, '--json']);
    expect(again.status, again.stderr).toBe(0);
    const b = JSON.parse(again.stdout) as SimRunResult;
    expect(b.config).toEqual(a.config);
    expect(JSON.stringify(deterministicPart(b))).toBe(JSON.stringify(deterministicPart(a)));
    // The whole document is accepted too, and a flag overrides the file.
    const whole = file('whole.json', first.stdout);
    const { cfg } = parseRunArgs(['--config', whole, '--seed', '10']);
    expect(cfg.seed).toBe(10);
    expect(cfg.knob_at).toEqual(a.config.knob_at);
    expect(cfg.link_speed).toBe(25_000);
  });

  it('keys are snake_case or kebab-case, as in the config block', () => {
    const f = file(
      'keys.json',
      JSON.stringify({ cpus: 4, netdev_budget: 600, 'rps-cpus': 'f', gro: false, duration_s: 0, rate: 'max', hz: 250 }),
    );
    const { cfg } = parseRunArgs(['--config', f]);
    expect([cfg.cpus, cfg.netdev_budget, cfg.rps_cpus, cfg.gro, cfg.rate, cfg.hz]).toEqual([4, 600, ['f', 'f', 'f', 'f'], false, 0, 250]);
  });
});

describe('numbers in a JSON config are the text a flag takes', () => {
  it('{"rps_cpus": 3} is the mask 3, {"rps_cpus": 10} the mask 10 (CPU 4), as --rps-cpus reads them', () => {
    const mask = (v: unknown) =>
      parseRunArgs(['--cpus', '8', '--queues', '2', '--config', file('mask.json', JSON.stringify({ rps_cpus: v }))]).cfg.rps_cpus;
    expect(mask(3)).toEqual(['3', '3']);
    expect(mask(3)).toEqual(parseRunArgs(['--cpus', '8', '--queues', '2', '--rps-cpus', '3']).cfg.rps_cpus);
    expect(mask(10)).toEqual(['10', '10']);
    expect(mask([3, 'c'])).toEqual(['3', 'c']);
    expect(parseRunArgs(['--config', file('fl.json', JSON.stringify({ flow_limit_cpu_bitmap: 2 }))]).cfg.flow_limit_cpu_bitmap).toBe('2');
    rejects(
      ['run', '--config', file('neg.json', JSON.stringify({ rps_cpus: -1 }))],
      /key 'rps_cpus': -1 is not valid; expected a hex CPU mask/,
    );
  });
});

describe('defaults that follow the NIC', () => {
  it('--queues defaults to one per CPU for ixgbe (up to 64) and 1 for legacy', () => {
    expect(configFromFlags({}).queues).toBe(2);
    expect(configFromFlags({ cpus: 1 }).queues).toBe(1);
    const eight = configFromFlags({ cpus: 8 });
    expect(eight.queues).toBe(8);
    expect(eight.irq_affinity).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(configFromFlags({ cpus: 64 }).queues).toBe(64);
    expect(configFromFlags({ cpus: 4, queues: 2 }).queues).toBe(2);
    expect(configFromFlags({ nic: 'legacy', cpus: 4 }).queues).toBe(1);
  });

  it('--nic legacy alone runs', () => {
    const r = cli(['run', '--nic', 'legacy', '--mode', 'sim', '--packets', '2000']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rxsmp: sim mode .*, 1 queue, nic legacy,/);
  });

  it('--link-speed defaults to 10000 Mbit/s for both NIC models; every plain default is in the schema', () => {
    expect(configFromFlags({}).link_speed).toBe(10_000);
    expect(configFromFlags({ nic: 'legacy' }).link_speed).toBe(10_000);
    for (const [key, value] of Object.entries(DEFAULTS))
      expect((KNOBS as Record<string, { default: unknown }>)[key].default).toEqual(value);
  });
});

describe('the header line and the output', () => {
  it('human output starts with the header: mode, CPUs, queues, NIC, RPS, wire, packets and rate', () => {
    const r = cli(['run', '--mode', 'sim', '--cpus', '2', '--queues', '1', '--packets', '3000', '--link-speed', '0']);
    expect(r.status, r.stderr).toBe(0);
    const first = r.stdout.split('\n')[0];
    expect(first).toBe(
      'rxsmp: sim mode (virtual time, seed 1), 2 CPUs, 1 queue, nic ixgbe, unlimited wire, RPS off, GRO on; 3,000 packets at max rate (closed loop), 64 udp flows of 64 B',
    );
    const rps = cli(['run', '--mode', 'sim', '--cpus', '4', '--rps-cpus', 'e', '--rate', '1000000', '--packets', '3000']);
    expect(rps.stdout.split('\n')[0]).toMatch(
      /4 CPUs, 4 queues, nic ixgbe, 10 Gbit\/s wire, RPS e, GRO on; 3,000 packets at 1,000,000 pps/,
    );
  });

  it('a reader that stops after the header (| head -1): the run ends with one line naming the broken pipe, exit 2, no stack trace', () => {
    const p = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" run --mode sim --packets 20000 | head -1`], {
      encoding: 'utf8',
    });
    expect(p.stdout).toMatch(/^rxsmp: sim mode .*\n$/);
    expect(p.stderr).toBe('rxsmp: stdout (a pipe): cannot write (EPIPE: broken pipe)\n');
    expect(p.status).toBe(2);
  });

  it('with --json stdout is exactly one JSON document', () => {
    const r = cli(['run', '--mode', 'sim', '--packets', '2000', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.startsWith('{')).toBe(true);
    expect((JSON.parse(r.stdout) as SimRunResult).schema).toBe('rxsmp.run/1');
  });
});

describe('--check-order', () => {
  it("the fuzz campaign's printed reproduction of a reordering exits 1 with --check-order; a clean run exits 0", async () => {
    // Seed 58 of the unsafe campaign (RFS without the last_qtail check) reorders a flow.
    const lines: string[] = [];
    const r = await runFuzz({ runs: 1, seed: 58, unsafe: true, workers: 1, shrink: false, log: (s) => lines.push(s) });
    expect(r.failure?.verdict.check).toBe('ordering');
    const printed = lines.find((l) => l.includes('reproduce: '))!.split('reproduce: ')[1];
    expect(printed).toMatch(/ --check-order$/);
    const again = cli(reproArgs(printed));
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/ordering: \d+ flows, [\d,]+ out of order/); // the summary is still printed
    expect(again.stderr).toMatch(/^rxsmp: --check-order: \d+ deliveries out of order in \d+ flows; first: flow \d+/);
    const clean = cli(['run', '--mode', 'sim', '--packets', '3000', '--check-order']);
    expect(clean.status, clean.stderr).toBe(0);
  });
});
