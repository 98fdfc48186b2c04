// The strict command line (docs/cli.md): one tokenizer for run, fuzz and calibrate; every
// mistake one line on stderr, exit status 2, before anything starts. Parsing is checked
// through parseRunArgs (no process) and, for what a user sees, through the CLI.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from './e2e.js';
import { rejects } from './cli_expect.js';
import { COMMANDS, VERSION } from '../dist/src/cli/main.js';
import { hostWarning, parseRunArgs } from '../dist/src/cli/run.js';
import { synopsis } from '../dist/src/cli/args.js';
import { lineRatePps } from '../dist/src/config/schema.js';
import { configFromFlags } from '../dist/src/engine/configure.js';

describe('a flag that takes a value', () => {
  it('says it expects a value when it has none, at the end or before the next flag', () => {
    rejects(['run', '--cpus'], /^rxsmp: --cpus: expected a value \(an integer from 1 to 64\)$/m);
    rejects(['run', '--cpus', '--gro', 'off'], /^rxsmp: --cpus: expected a value \(an integer from 1 to 64\)$/m);
    rejects(['run', '--packets'], /--packets: expected a value/);
    rejects(['fuzz', '--runs'], /--runs: expected a value \(an integer from 1 to 10000000\)/);
    rejects(['calibrate', '--out'], /--out: expected a value \(a file name\)/);
  });

  it('takes integers in decimal only; hex masks stay hex', () => {
    for (const bad of ['0x2', '2e0', ' 2', '2 ', '', '2.0', '+2']) {
      rejects(
        ['run', '--cpus', bad],
        new RegExp(`--cpus: '${bad.replace(/[.+]/g, '\\$&')}' is not valid; expected an integer from 1 to 64`),
      );
    }
    rejects(['run', '--cpus=0x2'], /--cpus: '0x2' is not valid/);
    rejects(['fuzz', '--seed', '1e3'], /--seed: '1e3' is not valid; expected an integer/);
    expect(parseRunArgs(['--cpus', '4', '--rps-cpus', '0x3']).cfg.rps_cpus).toEqual(['3', '3', '3', '3']);
    expect(parseRunArgs(['--rps-cpus', 'ff', '--cpus', '8', '--queues', '1']).cfg.rps_cpus).toEqual(['ff']);
  });

  it('given twice is an error naming both values; a list flag adds up', () => {
    rejects(['run', '--cpus', '2', '--cpus', '4'], /^rxsmp: --cpus given twice: '2' and '4'; give it once$/m);
    rejects(['run', '--gro', '--no-gro'], /--gro given twice: 'on' and 'off'/);
    rejects(['fuzz', '--runs', '5', '--runs=6'], /--runs given twice: '5' and '6'/);
    const { cfg } = parseRunArgs([
      '--cpus',
      '4',
      '--app-cpus',
      '0',
      '--app-cpus',
      '2,3',
      '--knob-at',
      '5:dev-weight=8',
      '--knob-at',
      '1:netdev-budget=9',
    ]);
    expect(cfg.app_cpus).toEqual([0, 2, 3]);
    expect(cfg.knob_at.map((k) => [k.at_ms, k.key, k.value])).toEqual([
      [1, 'netdev_budget', 9],
      [5, 'dev_weight', 8],
    ]);
  });
});

describe('on/off flags', () => {
  it('alone mean on; --X off, --X=off and --no-X mean off', () => {
    expect(parseRunArgs(['--gro', 'off']).cfg.gro).toBe(false);
    expect(parseRunArgs(['--gro=off']).cfg.gro).toBe(false);
    expect(parseRunArgs(['--no-gro']).cfg.gro).toBe(false);
    expect(parseRunArgs(['--gro=off', '--l4-csum-verify']).cfg.l4_csum_verify).toBe(true);
    const a = parseRunArgs(['--unsafe-rfs-no-qtail-check', '--json', '--check-order', '--cpus', '3']);
    expect([a.cfg.unsafe_rfs_no_qtail_check, a.json, a.checkOrder, a.cfg.cpus]).toEqual([true, true, true, 3]);
    expect(parseRunArgs(['--no-cacheline-pad']).cfg.cacheline_pad).toBe(false);
    rejects(['run', '--no-gro=on'], /--no-gro takes no value/);
    rejects(['run', '--no-cpus'], /unknown option --no-cpus/);
  });

  it('--progress and --no-progress set CliArgs.progress (default auto)', () => {
    expect(parseRunArgs([]).progress).toBe('auto');
    expect(parseRunArgs(['--progress']).progress).toBe('on');
    expect(parseRunArgs(['--no-progress']).progress).toBe('off');
    expect(parseRunArgs(['--progress=auto']).progress).toBe('auto');
    rejects(['run', '--progress=sometimes'], /--progress: 'sometimes' is not valid; expected one of auto, on, off/);
    rejects(
      ['run', '--progress', 'sometimes'],
      /unexpected argument 'sometimes' after --progress \(which takes one of auto, on, off, or nothing\)/,
    );
  });
});

describe('unknown flags and stray words', () => {
  it('are one line naming them, for every command', () => {
    rejects(['run', '--bogus', '1'], /^rxsmp: unknown option --bogus \(rxsmp run --help-all lists them\)$/m);
    rejects(['run', '--cpu', '4'], /^rxsmp: unknown option --cpu; did you mean --cpus\? \(rxsmp run --help-all lists them\)$/m);
    rejects(['run', '--rps', '3'], /^rxsmp: unknown option --rps; did you mean --rps-cpus, --rps-flow-cnt or --rps-sock-flow-entries\?/m);
    rejects(
      ['run', '--rps-cpus', '0b11'],
      /^rxsmp: --rps-cpus: '0b11' is not valid: masks are hex, not binary: sysfs would read 0b11 as 0xb11; for the CPUs of binary 11 write 3$/m,
    );
    rejects(['run', '-x'], /unknown option -x/);
    rejects(['fuzz', '--cpus', '2'], /unknown option --cpus \(rxsmp fuzz --help lists them\)/);
    rejects(['calibrate', '--runs', '2'], /unknown option --runs \(rxsmp calibrate --help lists them\)/);
    rejects(['fuzz', '--run', '2'], /unknown option --run; did you mean --runs\? \(rxsmp fuzz --help lists them\)/);
    rejects(['run', '--cpus', '2', 'fast'], /unexpected argument 'fast'/);
    rejects(['bogus'], /unknown command 'bogus'/);
  });
});

describe('checks before anything starts', () => {
  it('a --knob-at time after the end of a run of known length is an error', () => {
    rejects(
      ['run', '--duration', '1', '--knob-at', '1500:netdev-budget=64'],
      /--knob-at: a change at 1500 ms \(netdev-budget\) comes after the end of traffic at 1000 ms \(--duration 1\)/,
    );
    rejects(
      ['run', '--rate', '1000', '--packets', '500', '--knob-at', '600:dev-weight=8'],
      /comes after the end of traffic at 500 ms \(--packets 500 at --rate 1000\)/,
    );
    // At the end, or with no known end (closed loop), it is accepted.
    expect(parseRunArgs(['--rate', '1000', '--packets', '500', '--knob-at', '500:dev-weight=8']).cfg.knob_at).toHaveLength(1);
    expect(parseRunArgs(['--packets', '500', '--knob-at', '60000:dev-weight=8']).cfg.knob_at).toHaveLength(1);
  });

  it('a --rate above the line rate is an error naming the line rate', () => {
    // 10 GbE: 64-byte frames + 20 bytes of preamble and gap = 14,880,952 frames/s; 1518 bytes: 812,743.
    expect(Math.floor(lineRatePps(configFromFlags({})))).toBe(14_880_952);
    expect(Math.floor(lineRatePps(configFromFlags({ 'pkt-size': 1518 })))).toBe(812_743);
    expect(lineRatePps(configFromFlags({ 'link-speed': 0 }))).toBe(0);
    rejects(
      ['run', '--rate', '15000000'],
      /^rxsmp: --rate: 15000000 packets\/s is above the line rate, 14,880,952 packets\/s of 64-byte frames at --link-speed 10000 Mbit\/s/m,
    );
    rejects(['run', '--pkt-size', '1518', '--rate', '812744'], /above the line rate, 812,743 packets\/s of 1518-byte frames/);
    rejects(['run', '--link-speed', '1000', '--rate', '1500000'], /above the line rate, 1,488,095 packets\/s/);
    expect(parseRunArgs(['--pkt-size', '1518', '--rate', '812743']).cfg.rate).toBe(812_743);
    expect(parseRunArgs(['--link-speed', '0', '--rate', '50000000']).cfg.rate).toBe(50_000_000);
  });

  it('calibrate --out is checked before measuring', () => {
    rejects(
      ['calibrate', '--out', '/nonexistent-dir/cost.json'],
      /^rxsmp: --out \/nonexistent-dir\/cost\.json: cannot write it \(no directory \/nonexistent-dir\)$/m,
    );
    rejects(['calibrate', '--out', '/tmp'], /--out \/tmp: is a directory; give a file name/);
  });

  it('--cpus above the host cores in threads mode is a warning, not an error', () => {
    const many = configFromFlags({ cpus: 3 });
    expect(hostWarning(many, 2)).toMatch(/^rxsmp: warning: --cpus 3 is more than this host's 2 cores/);
    expect(hostWarning(many, 4)).toBeUndefined();
    expect(hostWarning(configFromFlags({ cpus: 3, mode: 'sim' }), 2)).toBeUndefined();
  });
});

describe('--version and --help', () => {
  it('--version and -V print rxsmp X.Y.Z from package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`rxsmp ${pkg.version}\n`);
    }
  });

  it('run --help: the common options described on the first screen, every other named by group', () => {
    const help = cli(['run', '--help']);
    expect(help.status).toBe(0);
    const lines = help.stdout.split('\n');
    const first = lines.slice(0, 40).join('\n');
    for (const flag of ['mode', 'cpus', 'queues', 'nic', 'rps-cpus', 'packets', 'rate', 'json']) {
      expect(first, flag).toMatch(new RegExp(`^  --${flag}[ [].*\n {33}\\S`, 'm')); // described: its line, then what it takes
    }
    const groups = [
      'NIC and driver',
      'NAPI, GRO',
      'RPS, RFS',
      'The stack, sockets',
      'Traffic',
      'Output and reports',
      'The emulator itself',
      'Unsafe',
    ];
    const at = groups.map((g) => lines.findIndex((l) => l.startsWith(g)));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at); // in that order
    // every option of run is there: described (common), or named in its group
    const all = cli(['run', '--help-all']).stdout;
    const flags = [...all.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]);
    expect(flags.length).toBeGreaterThan(60);
    for (const f of flags) expect(help.stdout, f).toMatch(new RegExp(`--${f}\\b`));
    expect(help.stdout).toMatch(/'rxsmp run --help-all' describes every option\./);
  });

  it('every command is a row of COMMANDS: rxsmp --help and its own --help print the synopsis made from its options, docs/cli.md shows it', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(['run', 'compare', 'sweep', 'merge', 'report', 'fuzz', 'calibrate', 'worker']);
    const top = cli(['--help']);
    expect(top.status).toBe(0);
    const docs = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8').split('\n');
    for (const c of COMMANDS) {
      const line = synopsis(c);
      expect(top.stdout, c.name).toContain(line);
      expect(top.stdout.split('\n'), c.name).toContain(`  ${c.name.padEnd(9)}  ${c.summary}`);
      const own = cli([c.name, '--help']);
      expect(own.status, c.name).toBe(0);
      expect(own.stdout.split('\n')[0]).toBe(`usage: ${line}`);
      expect(docs, `docs/cli.md shows ${line}`).toContain(line);
      for (const o of c.options) {
        if (o.hidden || o.flag.startsWith('help')) continue;
        expect(line, `--${o.flag}`).toMatch(new RegExp(`--(no-)?${o.flag}[ [\\]=]|--(no-)?${o.flag}$`));
        expect(own.stdout, `--${o.flag}`).toMatch(new RegExp(`--${o.flag}\\b`));
      }
    }
  });

  it('--help of each command shows every option with its default, and the exit statuses', () => {
    const run = cli(['run', '--help-all']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/--cpus N\s+emulated CPUs.*\n\s+an integer from 1 to 64; default: 2\n/);
    expect(run.stdout).toMatch(/--queues N\s+.*\n.*default: as the driver picks: ixgbe one per CPU, legacy and virtio 1/);
    expect(run.stdout).toMatch(/--link-speed N\s+.*\n.*default: 10000 for ixgbe and legacy/);
    expect(run.stdout).toMatch(/--rate PPS\|max\s+.*\n.*default: max/);
    expect(run.stdout).toMatch(/--gro\[=on\|off\]\s+.*\n\s+default: on/);
    expect(run.stdout).toMatch(/--duration X/);
    for (const code of ['0', '1', '2', '3', '130']) expect(run.stdout).toMatch(new RegExp(`^  ${code} `, 'm'));
    const fuzz = cli(['fuzz', '--help']);
    expect(fuzz.stdout).toMatch(/--runs N\s+.*\n.*default: 1000/);
    expect(fuzz.stdout).toMatch(/--shrink\[=on\|off\]\s+.*\n\s+default: on/);
    const cal = cli(['calibrate', '--help']);
    expect(cal.stdout).toMatch(/--out FILE\s+.*\n\s+a file name; default: rxsmp-cost\.json/);
    expect(cal.stdout).toMatch(/exit status:/);
  });
});
