// Broken outputs (issue 24): every file a command writes (--tap, --report, --proc, --profile,
// --out of merge, report, sweep and calibrate, and stdout) goes through src/host/files.ts.
// For each: a symbolic link is refused and its target untouched; an existing file is kept
// unless --force; a read-only directory, /dev/full and a disk that fills are one line naming
// the file and the error, exit status 2, with the run's result still printed and no partial
// or temporary file left.
//
// The read-only directory and the full disk are tmpfs mounts: they need root with the right to
// mount (CI runs as root); elsewhere those tests are skipped, saying why. (A directory without
// write permission would not do: root writes there anyway.)

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cli } from './e2e.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsmp-outputs-'));
const RUN = ['run', '--mode', 'sim', '--packets', '2000'];

/** A sweep file and a run document, the inputs of merge and report. */
let sweepFile = '';
let runDoc = '';
beforeAll(() => {
  sweepFile = join(dir, 'in.jsonl');
  const s = cli(['sweep', '--mode', 'sim', '--set', 'rps-cpus=0,3', '--repeat', '1', '--packets', '2000', '--out', sweepFile]);
  expect(s.status, s.stderr).toBe(0);
  runDoc = join(dir, 'run.json');
  const r = cli([...RUN, '--json']);
  writeFileSync(runDoc, r.stdout);
});

interface Output {
  name: string;
  /** The command with its output at `path` (a file, or the directory of --proc and --profile). */
  args: (path: string) => string[];
  /** For a directory option: the file in it that the link or the old file stands at. */
  inDir?: string;
  /** The command prints its result on stdout before it writes (a run's summary). */
  printsFirst?: boolean;
}

const OUTPUTS: Output[] = [
  { name: '--tap', args: (p) => [...RUN, '--tap', p] },
  { name: '--report', args: (p) => [...RUN, '--report', p], printsFirst: true },
  { name: '--proc', args: (p) => [...RUN, '--proc', p], inDir: 'net/softnet_stat', printsFirst: true },
  { name: '--profile', args: (p) => [...RUN, '--profile', p], inDir: 'sim.cpuprofile' },
  { name: 'merge --out', args: (p) => ['merge', sweepFile, '--out', p] },
  { name: 'report --out', args: (p) => ['report', runDoc, '--out', p] },
  {
    name: 'sweep --out',
    args: (p) => ['sweep', '--mode', 'sim', '--set', 'rps-cpus=0,3', '--repeat', '1', '--packets', '2000', '--out', p],
  },
  // calibrate measures for minutes before it writes: only what is checked before measuring.
  { name: 'calibrate --out', args: (p) => ['calibrate', '--packets', '10000', '--out', p] },
];

/** One line on stderr (after any progress lines), naming the option; exit status 2; no stack trace. */
function expectOneLine(r: ReturnType<typeof cli>, re: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('rxsmp: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
}

/** No temporary file (".NAME.rxsmp-*.tmp") left in `d`, or under it. */
function expectNoTemporary(d: string): void {
  const left = readdirSync(d, { recursive: true }).filter((f) => String(f).includes('.rxsmp-'));
  expect(left).toEqual([]);
}

let n = 0;
const fresh = () => {
  const d = join(dir, `case${n++}`);
  mkdirSync(d);
  return d;
};

describe('a symbolic link as the last component is refused; its target is untouched', () => {
  for (const o of OUTPUTS) {
    it(o.name, () => {
      const d = fresh();
      const target = join(dir, `target${n}`);
      writeFileSync(target, 'keep');
      const path = o.inDir ? d : join(d, 'out');
      if (o.inDir) mkdirSync(join(d, o.inDir, '..'), { recursive: true });
      symlinkSync(target, o.inDir ? join(d, o.inDir) : path);
      const r = cli(o.args(path));
      expectOneLine(r, /: is a symbolic link; rxsmp does not write through links/);
      expect(readFileSync(target, 'utf8')).toBe('keep');
      expectNoTemporary(d);
    });
  }
});

describe('an existing file is kept without --force (sweep: one that is not a sweep file)', () => {
  for (const o of OUTPUTS) {
    it(o.name, () => {
      const d = fresh();
      const file = o.inDir ? join(d, o.inDir) : join(d, 'out');
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, 'old\n');
      const r = cli(o.args(o.inDir ? d : file));
      expectOneLine(
        r,
        o.name === 'sweep --out' ? /line 1 is not a sweep line .*; give --force to replace it$/ : /: exists; give --force to replace it$/,
      );
      expect(readFileSync(file, 'utf8')).toBe('old\n');
      expectNoTemporary(d);
    });
  }

  it('with --force it is replaced, its mode kept; a sweep appends to its own file without it', () => {
    const d = fresh();
    const file = join(d, 'r.html');
    writeFileSync(file, 'old', { mode: 0o640 });
    const r = cli(['report', runDoc, '--out', file, '--force']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^<!doctype html>/i);
    expect(spawnSync('stat', ['-c', '%a', file], { encoding: 'utf8' }).stdout.trim()).toBe('640');
    const own = join(d, 'own.jsonl');
    writeFileSync(own, readFileSync(sweepFile));
    const s = cli(['sweep', '--mode', 'sim', '--set', 'rps-cpus=0,3,1', '--repeat', '1', '--packets', '2000', '--out', own]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/sweep: 1 runs written, 2 already in/);
    expectNoTemporary(d);
  });
});

describe('/dev/full: one line naming the file and ENOSPC, exit 2, the result printed first', () => {
  for (const o of OUTPUTS.filter((x) => x.name !== 'calibrate --out')) {
    it(o.name, () => {
      const r = cli(o.args('/dev/full'));
      if (o.inDir) expectOneLine(r, /\/dev\/full: cannot write there \(not a directory\)$/);
      else if (o.name === 'sweep --out') expectOneLine(r, /--out \/dev\/full: not a regular file; a sweep file is read back/);
      else expectOneLine(r, /\/dev\/full: cannot write it \(ENOSPC: no space left on device\)$/);
      if (o.printsFirst && !o.inDir) expect(r.stdout).toMatch(/conserved/);
    });
  }

  it('stdout (run --json > /dev/full): one line, not a stack trace', () => {
    const p = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" ${RUN.join(' ')} --json > /dev/full`], {
      encoding: 'utf8',
    });
    expect(p.status).toBe(2);
    expect(p.stderr).toBe('rxsmp: stdout (/dev/full): cannot write (ENOSPC: no space left on device)\n');
  });

  it('merge to stdout on /dev/full', () => {
    const p = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" merge "${sweepFile}" > /dev/full`], {
      encoding: 'utf8',
    });
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/^rxsmp: stdout \(\/dev\/full\): cannot write \(ENOSPC: no space left on device\)$/m);
  });
});

/** Mount a tmpfs at `at` with `opts`; false when this host does not let us (not root, no CAP_SYS_ADMIN). */
function mountTmpfs(at: string, opts: string): boolean {
  mkdirSync(at, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', at]).status === 0;
}
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  rmSync(dir, { recursive: true, force: true });
});

const probe = join(dir, 'probe-mount');
const canMount = mountTmpfs(probe, 'size=64k');
if (canMount) spawnSync('umount', [probe]);
const WHY = 'needs root with the right to mount a tmpfs (a read-only or full file system); root ignores directory permissions';

describe.skipIf(!canMount)(`a read-only file system (EROFS), checked before anything runs [${WHY}]`, () => {
  const ro = join(dir, 'ro');
  beforeAll(() => {
    mountTmpfs(ro, 'size=64k');
    mkdirSync(join(ro, 'net'));
    spawnSync('mount', ['-o', 'remount,ro', ro]);
    mounts.push(ro);
  });
  for (const o of OUTPUTS) {
    it(o.name, () => {
      const r = cli(o.args(o.inDir ? ro : join(ro, 'out')));
      expectOneLine(r, /: cannot write (it|there) \(EROFS: read-only file system\)$/);
      expect(r.stdout).not.toMatch(/conserved/); // nothing ran
    });
  }
});

describe.skipIf(!canMount)(`a disk that fills (ENOSPC): the old file kept, no partial file [${WHY}]`, () => {
  const full = join(dir, 'full');
  beforeAll(() => {
    mountTmpfs(full, 'size=1m');
    mounts.push(full);
  });
  /** Fill the file system, then give back `free` bytes. */
  const fill = (free: number) => {
    const filler = join(full, 'filler');
    rmSync(filler, { force: true });
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4096']);
    spawnSync('truncate', ['-s', `-${free}`, filler]);
  };

  it('--report (written after the run): exit 2, the summary printed, the old report kept', () => {
    fill(8192);
    const file = join(full, 'r.html');
    writeFileSync(file, 'old');
    const r = cli([...RUN, '--report', file, '--force']);
    expectOneLine(r, /--report .*r\.html: cannot write it \(ENOSPC: no space left on device\); the old file is kept$/);
    expect(r.stdout).toMatch(/conserved/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expectNoTemporary(full);
  });

  it('--tap filling up mid-run: exit 2, the run finished and printed, no capture file', () => {
    fill(8192);
    const file = join(full, 't.pcapng');
    const r = cli(['run', '--mode', 'sim', '--packets', '20000', '--tap', file]);
    expectOneLine(r, /--tap .*t\.pcapng: cannot write it \(ENOSPC: no space left on device\); nothing written$/);
    expect(r.stdout).toMatch(/generated 20,000, .* — conserved/);
    expect(existsSync(file)).toBe(false);
    expectNoTemporary(full);
  });

  it('sweep --out: stops at the first failed append, no torn line; the same command resumes', () => {
    rmSync(join(full, 'filler'), { force: true });
    const file = join(full, 's.jsonl');
    const before = readFileSync(sweepFile, 'utf8'); // its own file: rps-cpus 0 and 3 done
    writeFileSync(file, before);
    fill(Math.round(1.5 * (before.length / 2))); // room for one more line and a half
    const args = ['sweep', '--mode', 'sim', '--set', 'rps-cpus=0,3,1,2', '--repeat', '1', '--packets', '2000', '--out', file];
    const r = cli(args);
    expectOneLine(r, /--out .*s\.jsonl: cannot write it \(ENOSPC: no space left on device\); the lines written before are kept$/);
    const after = readFileSync(file, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(after.trim().split('\n')).toHaveLength(3); // one more whole line, not a torn second
    expect(after.endsWith('\n')).toBe(true);
    rmSync(join(full, 'filler'), { force: true });
    const again = cli(args);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/sweep: 1 runs written, 3 already in/);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
  });
});
