/**
 * fixture_tree.ts: a copy of the project's sources with a fixture laid over it, type-checked and
 * built as the project builds itself, and run. This is how a test shows what adding something
 * (a NIC, a runtime knob) costs: the fixture's files are the whole change, `touched` counts them,
 * and the copy must compile under the project's own tsconfig and run both runtimes.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';

const ROOT = resolve(import.meta.dirname, '..');

/** A file's new text, given its text in the tree (undefined for a file the fixture adds). */
export type FixtureEdit = string | ((old: string | undefined) => string);

export interface FixtureTree {
  dir: string;
  /** The source files (src/, workers/) the fixture adds or changes, relative to the root. */
  touched: string[];
  /** The copy's CLI, run with `args`. */
  cli(args: string[], timeoutMs?: number): SpawnSyncReturns<string>;
  remove(): void;
}

/**
 * Copies src/, workers/ and the build's files into a fresh directory, applies `edits` (paths
 * relative to the root), then type-checks (`tsc --noEmit`) and bundles it (`npm run bundle`).
 * Throws with the compiler's output when either fails: a fixture that does not build is a
 * failing test, not a skipped one.
 */
export function fixtureTree(edits: Record<string, FixtureEdit>): FixtureTree {
  const dir = mkdtempSync(join(tmpdir(), 'rxsmp-fixture-'));
  for (const p of ['src', 'workers', 'bench', 'test', 'package.json', 'tsconfig.json'])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const touched: string[] = [];
  for (const [path, edit] of Object.entries(edits)) {
    const file = join(dir, path);
    const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const text = typeof edit === 'string' ? edit : edit(old);
    if (old !== undefined && text === old) throw new Error(`fixture edit of ${path} changes nothing`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    if (/^(src|workers)\//.test(path)) touched.push(path);
  }
  const step = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in the fixture tree failed:\n${r.stdout}${r.stderr}`);
  };
  step(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json']);
  step('npm', ['run', '--silent', 'bundle']);
  return {
    dir,
    touched: touched.sort(),
    cli: (args, timeoutMs = 120_000) =>
      spawnSync(process.execPath, [join(dir, 'dist/src/cli.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: timeoutMs }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `old` with `find` replaced by `replace` once; throws when `find` is not there exactly once. */
export function patchOnce(old: string | undefined, find: string, replace: string): string {
  if (old === undefined) throw new Error(`patch of a missing file (looking for ${JSON.stringify(find)})`);
  const at = old.indexOf(find);
  if (at < 0 || old.indexOf(find, at + 1) >= 0) throw new Error(`${JSON.stringify(find)} is not in the file exactly once`);
  return old.slice(0, at) + replace + old.slice(at + find.length);
}
