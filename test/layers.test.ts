/**
 * layers.test.ts: imports point down the layers (docs/design.md). Wire formats and hashes are
 * in src/uapi/, which both the kernel and the devices use, as uapi headers are; a device never
 * imports the kernel; the shared-memory layer, the kernel and the devices never import the
 * command line or the config's file reading, only the dependency-free schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each file's relative imports, as paths under src/ (e.g. 'kernel/sock.ts'). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(join(file, '..'), s)).replace(/\.js$/, '.ts'));
}

const under = (dir: string) => files(join(SRC, dir)).map((f) => ({ file: relative(SRC, f), deps: imports(f) }));

describe('layers', () => {
  it('src/devices/ imports nothing from src/kernel/', () => {
    const bad = under('devices').flatMap(({ file, deps }) => deps.filter((d) => d.startsWith('kernel/')).map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('src/uapi/ imports nothing of the project', () => {
    const bad = under('uapi').flatMap(({ file, deps }) => deps.map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('src/shm/, src/kernel/ and src/devices/ import neither the command line nor config.ts, only config/schema.ts', () => {
    const bad = ['shm', 'kernel', 'devices'].flatMap((dir) =>
      under(dir).flatMap(({ file, deps }) =>
        deps
          .filter((d) => d.startsWith('cli') || d === 'config.ts' || (d.startsWith('config/') && d !== 'config/schema.ts'))
          .map((d) => `${file} -> ${d}`),
      ),
    );
    expect(bad).toEqual([]);
  });

  it('src/bpf/ imports only itself, src/shm/ and src/uapi/ (drivers and runtimes use it; it uses none of them)', () => {
    const bad = under('bpf').flatMap(({ file, deps }) => deps.filter((d) => !/^(bpf|shm|uapi)\//.test(d)).map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('the CPU runtime imports nothing from the engine above it; host facilities are not in src/shm/', () => {
    const up = under('cpu').flatMap(({ file, deps }) => deps.filter((d) => d.startsWith('engine/')).map((d) => `${file} -> ${d}`));
    expect(up).toEqual([]);
    const host = files(join(SRC, 'shm')).filter((f) => /node:child_process|'\/proc\//.test(readFileSync(f, 'utf8')));
    expect(host.map((f) => relative(SRC, f))).toEqual([]);
  });
});
