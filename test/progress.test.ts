// The live progress line: on a terminal (a pseudo-terminal from util-linux `script`), a run
// longer than a second rewrites one stderr line in place and clears it at the end; with
// stderr piped, or with --json, nothing; --progress forces it, --no-progress silences it.
// The runs are open loop at 100,000 pps for 2.5 s at least (their length does not depend on
// the host's speed, only their counts do, and nothing here asserts counts).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, cli } from './e2e.js';

const RUN = ['run', '--rate', '100000', '--packets', '250000'];
/** One progress update: elapsed, generated, delivered pps, drops, per-CPU busy. */
const LINE = /\d+\.\d s: generated [\d,]+, delivered [\d,]+ pps, dropped [\d,]+, cpu busy \d+% \d+%/;

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** The CLI under a pseudo-terminal: stdout and stderr both go to the terminal, as read here. */
function underPty(args: string[]): { status: number | null; out: string } {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const p = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
  return { status: p.status, out: p.stdout };
}

describe.skipIf(!hasScript)('progress line on a terminal', () => {
  it('appears, rewritten in place, and is cleared before the summary', () => {
    const { status, out } = underPty(RUN);
    expect(status).toBe(0);
    const updates = out.split('\r').filter((s) => LINE.test(s));
    expect(updates.length).toBeGreaterThan(1); // rewritten: several updates on one line
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line escape is what is checked
    expect(out).toMatch(/\x1b\[K\r\x1b\[K[0-9,]+ pps delivered/); // the last update erased, then the summary
    expect(out.indexOf('rxsmp: threads mode')).toBeLessThan(out.search(LINE)); // the header came before the run
    expect(out.split('\n').some((l) => LINE.test(l) && !l.includes('\r'))).toBe(false);
  });

  it('is absent with --json (stdout stays one document) and with --no-progress', () => {
    for (const flag of ['--json', '--no-progress']) {
      const { status, out } = underPty([...RUN, flag]);
      expect(status, flag).toBe(0);
      expect(LINE.test(out), flag).toBe(false);
    }
  });
});

describe('progress line off a terminal', () => {
  it('is absent when stderr is piped', () => {
    const r = cli(RUN);
    expect(r.status).toBe(0);
    expect(LINE.test(r.stderr)).toBe(false);
  });

  it('--progress forces it even when piped: one line per update', () => {
    const r = cli([...RUN, '--progress']);
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => LINE.test(l));
    expect(lines.length).toBeGreaterThan(1);
    expect(r.stderr).not.toMatch(/\r/);
  });
});
