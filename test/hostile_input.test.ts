// Hostile input (issue 24): whatever a user types or a file holds, the command either starts
// a run or stops with one line and exit status 2 before anything starts; the line is at most
// 200 characters and holds no control character (a newline, an escape sequence), however long
// or strange the text it quotes. Property-based over option strings and config files
// (fast-check), then the files that have no end (/dev/zero) or would take all the memory.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRunArgs } from '../dist/src/cli/run.js';
import { clip, clipPath, ConfigError, KNOBS, optionName, QUOTE_CHARS_MAX } from '../dist/src/config/schema.js';
import { parseSetOption } from '../dist/src/engine/sweep.js';
import { parseAssignment } from '../dist/src/engine/variants.js';
import { duplicateKeyAt } from '../dist/src/config/json_file.js';
import { CLI, cli } from './e2e.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsmp-hostile-'));

// biome-ignore lint/suspicious/noControlCharactersInRegex: the check is that there are none
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The line the CLI prints for `message`: within 200 characters, no control character. */
function expectOneLine(message: string): void {
  const line = `rxsmp: ${message}`;
  expect(line.length, line).toBeLessThanOrEqual(200);
  expect(line, line).not.toMatch(CONTROL);
}

/** Run `f`: it either returns (a run would start) or throws a ConfigError whose line passes expectOneLine. */
function startsOrRefuses(f: () => unknown): 'starts' | 'refused' {
  try {
    f();
    return 'starts';
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    expectOneLine(e.message);
    return 'refused';
  }
}

// Options that name files are left to the file tests below (a random name must not write anywhere).
const FILE_OPTIONS = new Set(['config', 'cost-model', 'pcap', 'tap', 'report', 'proc', 'profile']);
const FLAGS = [...Object.keys(KNOBS).map((k) => optionName(k).slice(2)), 'json', 'check-order', 'progress', 'contention', 'force'].filter(
  (f) => !FILE_OPTIONS.has(f),
);

/** Text a hostile user or file gives: any code points (controls, lone surrogates), long runs of one character. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.string({ unit: fc.constantFrom('\n', '\x1b', '[', '3', '1', 'm', '\u2028', '\ud800', '9', ',', ';', ':', '=', '-'), maxLength: 60 }),
  fc.tuple(fc.constantFrom('9', 'k', '\x1b', 'é', '🙂'), fc.integer({ min: 100, max: 100_000 })).map(([c, n]) => c.repeat(n)),
  fc.constantFrom('0', 'max', '', '-1', '1e3', '0x10', '4294967296', '1'.padEnd(400, '0'), 'NaN', 'Infinity', '__proto__', 'constructor'),
);

const word = fc.oneof(
  fc.constantFrom(...FLAGS).map((f) => `--${f}`),
  fc.tuple(fc.constantFrom(...FLAGS), nasty).map(([f, v]) => `--${f}=${v}`),
  nasty.map((v) => `--${v}`),
  nasty,
  fc.constantFrom('--no-gro', '--no-json', '-h', '--', '-', '--knob-at', '5:__proto__=1', '--rate', '0'),
);

describe('option strings (property): a run or one line', () => {
  it('any words after `rxsmp run`', () => {
    const seen = { starts: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
        seen[startsOrRefuses(() => parseRunArgs(['--mode', 'sim', ...argv]))]++;
      }),
      { numRuns: 400, seed: 24 },
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.starts).toBeGreaterThan(0);
  });

  it('a known option with any value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FLAGS), nasty, (flag, value) => {
        startsOrRefuses(() => parseRunArgs(['--mode', 'sim', `--${flag}`, value]));
      }),
      { numRuns: 400, seed: 2400 },
    );
  });

  it('--knob-at, --set and --a items', () => {
    fc.assert(
      fc.property(nasty, nasty, fc.constantFrom('rps-cpus', 'netdev-budget', 'cpus', 'x'), (a, b, knob) => {
        startsOrRefuses(() => parseRunArgs(['--mode', 'sim', '--knob-at', `${a}:${knob}=${b}`]));
        startsOrRefuses(() => parseRunArgs(['--mode', 'sim', '--knob-at', `5:${a}=${b}`]));
        startsOrRefuses(() => parseSetOption(`${a}=${b}`));
        startsOrRefuses(() => parseSetOption(`${knob}=${b},${a}`));
        startsOrRefuses(() => parseAssignment('--a', `${knob}=${a}`));
      }),
      { numRuns: 200, seed: 240 },
    );
  });
});

describe('config files (property): a run or one line', () => {
  const knobKey = fc.constantFrom(...Object.keys(KNOBS).filter((k) => !FILE_OPTIONS.has(optionName(k).slice(2))));
  const value = fc.oneof(
    nasty,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(nasty, { maxLength: 3 }),
    fc.jsonValue(),
  );
  const object = fc.dictionary(fc.oneof(knobKey, nasty), value, { maxKeys: 6 });
  let n = 0;
  const config = (name: string, text: string | Uint8Array) => {
    const p = join(dir, `${n++}-${name}`);
    writeFileSync(p, text);
    return startsOrRefuses(() => parseRunArgs(['--mode', 'sim', '--config', p]));
  };

  it('JSON objects of any keys and values, with and without a byte-order mark', () => {
    fc.assert(
      fc.property(object, fc.boolean(), (o, bom) => {
        config('c.json', (bom ? '\ufeff' : '') + JSON.stringify(o));
      }),
      { numRuns: 200, seed: 24 },
    );
  });

  it('any text as JSON or as YAML, and any bytes', () => {
    fc.assert(
      fc.property(nasty, fc.uint8Array({ maxLength: 200 }), (text, bytes) => {
        config('t.json', text);
        config('t.yaml', text);
        config('b.yaml', bytes);
        config('b.json', bytes);
      }),
      { numRuns: 150, seed: 42 },
    );
  });

  it('YAML mappings whose keys and values are any text', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(knobKey, nasty), nasty), { maxLength: 5 }), (pairs) => {
        config('m.yaml', pairs.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join('\n'));
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});

describe('quoting', () => {
  it('clip: at most 80 characters, control characters escaped, never a pair or an escape cut', () => {
    expect(clip('a\nb\x1b[31m\u2028\ud800')).toBe('a\\nb\\x1b[31m\\u2028\\ud800');
    expect(clip('x'.repeat(1000))).toBe(`${'x'.repeat(QUOTE_CHARS_MAX - 3)}...`);
    expect(clip('🙂'.repeat(100))).toBe(`${'🙂'.repeat(38)}...`);
    expect(clip(`${'x'.repeat(75)}\x1b\x1b`)).toBe(`${'x'.repeat(75)}...`);
    expect(clipPath(`/${'d/'.repeat(100)}file.json`)).toMatch(/^\.\.\.(d\/)+file\.json$/);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
        for (const c of [clip(s), clipPath(s)]) {
          expect(c.length).toBeLessThanOrEqual(QUOTE_CHARS_MAX);
          expect(c).not.toMatch(CONTROL);
        }
      }),
      { numRuns: 500, seed: 80 },
    );
  });

  it('a ConfigError escapes what no site clipped and cuts a line too long in its middle', () => {
    const e = new ConfigError(`--x: ${'y'.repeat(500)}\nz; expected the end`);
    expectOneLine(e.message);
    expect(e.message).toMatch(/^--x: y+ \.\.\. y+\\nz; expected the end$/);
  });

  it('the messages of the issue: a key with a newline and an ESC, 100,000 nines', () => {
    const p = join(dir, 'esc.json');
    writeFileSync(p, JSON.stringify({ 'a\nb\x1b[31mred': 1 }));
    const r = cli(['run', '--config', p]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^rxsmp: --config .*esc\.json: unknown key 'a\\nb\\x1b\[31mred'; keys are the options' names/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const nines = cli(['run', '--cpus', '9'.repeat(100_000)]);
    expect(nines.status).toBe(2);
    expect(nines.stderr).toMatch(/^rxsmp: --cpus: '9{77}\.\.\.' is not valid; expected an integer from 1 to 64\n$/);
  });
});

describe('JSON settings read as YAML ones are', () => {
  it('a key given twice is refused with its place; a byte-order mark is read', () => {
    expect(duplicateKeyAt('{"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 2}]}')).toBe(-1);
    expect(duplicateKeyAt('{"a": 1, "b": {"x": 2, "x": 3}}')).toBe(23);
    expect(duplicateKeyAt('{"a\\"": 1, "a\\u0022": 2}')).toBe(11);
    const dup = join(dir, 'dup.json');
    writeFileSync(dup, '{\n  "cpus": 2,\n  "cpus": 3\n}');
    const r = cli(['run', '--config', dup]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^rxsmp: --config .*dup\.json: a key given twice \(line 3, column 3\)\n$/);
    const bom = join(dir, 'bom.json');
    writeFileSync(bom, '\ufeff{"cpus": 1, "queues": 1}');
    expect(parseRunArgs(['--mode', 'sim', '--config', bom]).cfg.cpus).toBe(1);
  });
});

describe('inputs without an end, or too big: one line, exit 2, nothing read past the bound', () => {
  const big = join(dir, 'big.json');
  writeFileSync(big, Buffer.alloc(100 * 2 ** 20, 0x20));
  const bomb = join(dir, 'bomb.yaml');
  let y = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 0; i < 20; i++)
    y += `l${i}: &l${i} [${Array(9)
      .fill(i === 0 ? '*a' : `*l${i - 1}`)
      .join(', ')}]\n`;
  writeFileSync(bomb, y);
  const deep = join(dir, 'deep.yaml');
  writeFileSync(deep, `a: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`);
  const fifo = join(dir, 'fifo.json');
  spawnSync('mkfifo', [fifo]);

  for (const [name, args, re] of [
    ['--config /dev/zero', ['run', '--config', '/dev/zero'], /^rxsmp: --config \/dev\/zero: cannot read it \(a character device\)$/],
    ['--cost-model /dev/urandom', ['run', '--mode', 'sim', '--cost-model', '/dev/urandom'], /cannot read it \(a character device\)$/],
    [
      'report /dev/zero',
      ['report', '/dev/zero', '--out', join(dir, 'r.html')],
      /^rxsmp: report: \/dev\/zero: cannot read it \(a character device\)$/,
    ],
    ['merge /dev/zero', ['merge', '/dev/zero'], /^rxsmp: merge: \/dev\/zero: cannot read it \(a character device\)$/],
    ['--pcap /dev/zero', ['run', '--pcap', '/dev/zero'], /^rxsmp: --pcap \/dev\/zero: cannot read it \(a character device\)$/],
    ['a 100 MB config', ['run', '--config', big], /big\.json: 100 MiB is larger than a settings file may be \(4 MiB\)$/],
    ['a YAML alias bomb', ['run', '--config', bomb], /bomb\.yaml: too many YAML aliases \(more than 100 expansions\)$/],
    ['30,000 nested lists', ['run', '--config', deep], /deep\.yaml: nested more than 64 deep$/],
    ['a directory', ['run', '--config', dir], /: cannot read it \(a directory\)$/],
  ] as const) {
    it(name, () => {
      const r = cli([...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(re);
    });
  }

  it('a pipe (a FIFO, <(...)) is read up to the bound: a small config runs, an endless one is refused', () => {
    const small = spawnSync(
      'bash',
      ['-c', `echo '{"cpus": 1}' > ${fifo} & "${process.execPath}" "${CLI}" run --mode sim --packets 100 --config ${fifo} --json`],
      {
        encoding: 'utf8',
      },
    );
    expect(small.status, small.stderr).toBe(0);
    expect((JSON.parse(small.stdout) as { config: { cpus: number } }).config.cpus).toBe(1);
    const endless = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" run --config <(cat /dev/zero)`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(endless.status).toBe(2);
    expect(endless.stderr).toMatch(/^rxsmp: --config \/dev\/fd\/\d+: more than 4 MiB; larger than such files may be\n$/);
  });
});
