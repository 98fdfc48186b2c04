// A user's mistakes: each gets one line naming the option and what it accepts, exit status 2,
// no stack trace, and no emulation starts (validation runs before shared memory or workers).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './e2e.js';
import { rejects as rejectsCli } from './cli_expect.js';
import { parseRunArgs } from '../dist/src/cli/run.js';
import { ConfigError } from '../dist/src/config/schema.js';

const rejects = (args: string[], message: RegExp) => rejectsCli(['run', ...args], message);

describe('rxsmp run rejects bad input before anything starts', () => {
  it('names the option and the accepted range', () => {
    rejects(['--cpus', '0'], /^rxsmp: --cpus: '0' is not valid; expected an integer from 1 to 64/);
    rejects(['--ring-size', '100'], /--ring-size: '100' is not valid; expected an integer from 8 to 4096, a multiple of 8/);
    rejects(['--ring-size', '32'], /--ring-size: 32 is below 64 for --nic ixgbe/);
    rejects(['--rate', 'fast'], /--rate: 'fast' is not valid: a rate is max or 1 to 1000000000 packets per second/);
    rejects(['--gro=maybe'], /--gro: 'maybe' is not valid; expected on or off/);
    // A word after an on/off flag that is not one of its values is a stray word, blamed on itself.
    rejects(
      ['--gro', 'maybe'],
      /^rxsmp: unexpected argument 'maybe' after --gro \(which takes on or off, or nothing\); options start with --$/m,
    );
    rejects(['--json', 'extra'], /^rxsmp: unexpected argument 'extra' after --json \(which takes on or off, or nothing\)/m);
    rejects(['--rate', '0'], /^rxsmp: --rate: '0' is not valid: a rate is max or 1 to 1000000000 packets per second$/m);
    rejects(['--rps-cpus', 'xyz'], /--rps-cpus: 'xyz' is not valid; expected a hex CPU mask/);
    rejects(['--nic', 'e1000'], /--nic: 'e1000' is not valid; expected one of ixgbe, legacy, virtio/);
  });

  it('checks options against each other', () => {
    rejects(['--cpus', '2', '--rps-cpus', '4'], /--rps-cpus: mask 4 names CPU 2, which does not exist with --cpus 2/);
    rejects(['--cpus', '2', '--queues', '2', '--irq-affinity', '0,3'], /--irq-affinity: CPU 3 does not exist with --cpus 2/);
    rejects(['--queues', '3', '--rps-flow-cnt', '1,2'], /--rps-flow-cnt: 2 values given for 3 queues/);
    rejects(['--nic', 'legacy', '--queues', '2'], /--nic legacy: a non-NAPI device has one RX queue/);
    rejects(
      ['--cpus', '2', '--host-cpus', '0,1'],
      /--host-cpus: 2 cores given; expected 3, one per emulated CPU \(--cpus 2\), then the device's/,
    );
    rejects(['--mode', 'sim', '--cpus', '1', '--host-cpus', '0,0'], /--host-cpus: pins threads, and --mode sim runs in one thread/);
  });

  it('checks --host-cpus against the host before any worker starts', () => {
    // A core that exists on no machine this runs on: taskset's own reason is quoted (or, on a
    // host without taskset or Linux, that one).
    rejects(
      ['--cpus', '1', '--host-cpus', '0,4095'],
      /--host-cpus: (cannot pin to host core 4095 \(.+\)|pinning threads needs (taskset|Linux))/,
    );
  });

  it('rejects unknown options and stray arguments', () => {
    rejects(['--bogus', '1'], /unknown option --bogus/);
    rejects(['fast'], /unexpected argument 'fast'/);
  });

  it('reports config file problems by file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "cpus": 2, ');
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ cpus: 2, 'netdev-budget': -5 }));
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ cpu: 2 }));
    rejects(['--config', join(dir, 'missing.json')], /--config .*missing\.json: cannot read it \(ENOENT: no such file or directory\)/);
    rejects(['--config', bad], /--config .*bad\.json: not valid JSON/);
    rejects(['--config', wrong], /--config .*wrong\.json: key 'netdev-budget': -5 is not valid; expected an integer from 1/);
    rejects(['--config', unknown], /--config .*unknown\.json: unknown key 'cpu'/);
  });

  it('takes a config file, with flags overriding it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-'));
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify({ cpus: 4, queues: 2, netdev_budget: 600, 'rps-cpus': 'f', gro: false }));
    const { cfg } = parseRunArgs(['--config', file, '--queues', '4']);
    expect(cfg.cpus).toBe(4);
    expect(cfg.queues).toBe(4);
    expect(cfg.netdev_budget).toBe(600);
    expect(cfg.rps_cpus).toEqual(['f', 'f', 'f', 'f']);
    expect(cfg.gro).toBe(false);
    expect(cfg.irq_affinity).toEqual([0, 1, 2, 3]);
  });

  it('parses without starting anything: errors are ConfigError from the parser itself', () => {
    expect(() => parseRunArgs(['--cpus', '65'])).toThrow(ConfigError);
    expect(() => parseRunArgs(['--packets'])).toThrow(/--packets: expected a value \(an integer from 1 to/);
  });

  it('prints usage with --help', () => {
    const r = cli(['run', '--help-all']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--netdev-budget N\s+net\.core\.netdev_budget\n\s+an integer from 1 to 1048576; default: 300/);
  });
});

describe("the run document's command", () => {
  it('is the command line as typed, subcommand included, so it can be run again', () => {
    const r = cli(['run', '--mode', 'sim', '--packets', '2000', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { command: string }).command).toBe('rxsmp run --mode sim --packets 2000 --json');
  });
});
