/**
 * layers.test.ts: imports point down the layers (docs/design.md). Wire formats and hashes are
 * in src/uapi/, which both the kernel and the devices use, as uapi headers are; a device never
 * imports the kernel nor the host; the shared-memory layer, the kernel and the devices never
 * import the command line or the config's file reading, only the dependency-free schema; the
 * configuration imports only uapi/ and itself, does no I/O and reads no capture. A NIC is one
 * record in config/nics.ts (which imports nothing, so every layer may read it) and one driver
 * in src/drivers/, keyed by name in drivers/table.ts: nothing else tests a NIC's name.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => relative(SRC, resolve(join(file, '..'), s)).replace(/\.js$/, '.ts'));
}

/** Each file's relative imports that are not of types only (`import type`): what runs. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/import\s+type\s*\{[^}]*\}\s*from\s*'[^']+'/g, '');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => relative(SRC, resolve(join(file, '..'), s)).replace(/\.js$/, '.ts'));
}

/** The configuration files a layer below the engine may read: the schema and the NIC table, both free of I/O. */
const PURE_CONFIG = /^config\/(schema|nics)\.ts$/;
const under = (dir: string) => files(join(SRC, dir)).map((f) => ({ file: relative(SRC, f), deps: imports(f) }));
const runningUnder = (dir: string) => files(join(SRC, dir)).map((f) => ({ file: relative(SRC, f), deps: runtimeImports(f) }));
/** `file -> dep` for every import of the files under `dir` that `bad` names. */
const offending = (list: { file: string; deps: string[] }[], bad: (dep: string) => boolean) =>
  list.flatMap(({ file, deps }) => deps.filter(bad).map((d) => `${file} -> ${d}`));

describe('layers', () => {
  it('src/devices/ imports nothing from src/kernel/', () => {
    const bad = under('devices').flatMap(({ file, deps }) => deps.filter((d) => d.startsWith('kernel/')).map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('src/uapi/ imports nothing of the project', () => {
    const bad = under('uapi').flatMap(({ file, deps }) => deps.map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('src/shm/, src/kernel/, src/devices/ and src/drivers/ import neither the command line nor the config beyond config/schema.ts and config/nics.ts', () => {
    const bad = ['shm', 'kernel', 'devices', 'drivers'].flatMap((dir) =>
      offending(under(dir), (d) => d.startsWith('cli') || (d.startsWith('config/') && !PURE_CONFIG.test(d))),
    );
    expect(bad).toEqual([]);
  });

  it('src/devices/ and src/host/ import nothing of each other: what the host allows, the thread running the device says', () => {
    expect(offending(under('devices'), (d) => d.startsWith('host/'))).toEqual([]);
    expect(offending(under('host'), (d) => d.startsWith('devices/'))).toEqual([]);
  });

  it('src/config/ imports only src/uapi/ and src/config/: none of the layers that run a configuration, no host, no BPF', () => {
    expect(offending(under('config'), (d) => !/^(uapi|config)\//.test(d))).toEqual([]);
  });

  it('src/config/ does no I/O: no node: module (files, BPF objects and captures are read by host/ and engine/, ConfigIo)', () => {
    const io = files(join(SRC, 'config')).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(node:[^']+)'/g)].map((m) => `${relative(SRC, f)} -> ${m[1]}`),
    );
    expect(io).toEqual([]);
  });

  it('src/config/ neither reads nor keeps a capture: it is handed the summary (ConfigIo)', () => {
    expect(offending(under('config'), (d) => d === 'uapi/pcap.ts')).toEqual([]);
    const io = files(join(SRC, 'config')).filter((f) => /\b(readCapture|buildReplay|loadReplay)\b/.test(readFileSync(f, 'utf8')));
    expect(io.map((f) => relative(SRC, f))).toEqual([]);
  });

  it('the configuration has one import path: config/, no src/config.ts beside it', () => {
    expect(existsSync(join(SRC, 'config.ts'))).toBe(false);
    const all = files(SRC).map((f) => ({ file: relative(SRC, f), deps: imports(f) }));
    expect(offending(all, (d) => d === 'config.ts')).toEqual([]);
  });

  it('the command line is the top: only src/cli.ts and src/cli/ import src/cli/, and nothing inside imports the library entry', () => {
    const all = files(SRC).map((f) => ({ file: relative(SRC, f), deps: imports(f) }));
    const outside = all.filter(({ file }) => file !== 'cli.ts' && !file.startsWith('cli/'));
    expect(offending(outside, (d) => d.startsWith('cli/'))).toEqual([]);
    expect(offending(all, (d) => d === 'index.ts')).toEqual([]);
  });

  it('src/shm/ imports nothing above it, types included: the kernel sizes nothing there and --xdp state is an augmented ShmXdp', () => {
    const ok = /^(shm|lib|uapi)\/|^config\/(schema|nics)\.ts$/;
    expect(offending(under('shm'), (d) => !ok.test(d))).toEqual([]);
  });

  it('src/kernel/ runs on shared memory, BPF and uapi alone: no runtime, driver, device or engine', () => {
    const ok = /^(kernel|shm|bpf|lib|uapi)\/|^config\/(schema|nics)\.ts$/;
    expect(offending(runningUnder('kernel'), (d) => !ok.test(d))).toEqual([]);
  });

  it('src/drivers/ runs on the kernel, shared memory, BPF and uapi: no runtime, device, host or engine', () => {
    const ok = /^(drivers|kernel|shm|bpf|lib|uapi)\/|^config\/(schema|nics)\.ts$/;
    expect(offending(under('drivers'), (d) => !ok.test(d))).toEqual([]);
  });

  it('config/nics.ts, the NIC table every layer reads, imports nothing', () => {
    expect(imports(join(SRC, 'config/nics.ts'))).toEqual([]);
  });

  it("a NIC's name is tested nowhere: everything else looks its records up (config/nics.ts, drivers/table.ts)", () => {
    const names = /\bnic\s*[!=]==?\s*['"]|['"](ixgbe|legacy|virtio)['"]\s*[!=]==?|case\s+['"](ixgbe|legacy|virtio)['"]/;
    const bad = files(SRC)
      .filter((f) => names.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(bad).toEqual([]);
  });

  it('src/bpf/ imports only itself, src/shm/ and src/uapi/ (drivers and runtimes use it; it uses none of them)', () => {
    const bad = under('bpf').flatMap(({ file, deps }) => deps.filter((d) => !/^(bpf|shm|uapi)\//.test(d)).map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('the sim machine is entered through src/cpu/sim/machine.ts; its fault injector (adversary.ts) is a leaf', () => {
    // Its parts (charging, the device step, the adversary) run only inside src/cpu/sim/.
    const parts = /^cpu\/sim\/(adversary|cost|device_step)\.ts$/;
    const outside = files(SRC)
      .filter((f) => !relative(SRC, f).startsWith('cpu/sim/'))
      .map((f) => ({ file: relative(SRC, f), deps: runtimeImports(f) }));
    expect(offending(outside, (d) => parts.test(d))).toEqual([]);
    // The adversary decides from the seed alone: it runs nothing of the machine, the kernel or the devices.
    const adversary = runningUnder('cpu/sim').filter(({ file }) => file === 'cpu/sim/adversary.ts');
    expect(adversary).toHaveLength(1);
    expect(offending(adversary, (d) => !d.startsWith('lib/'))).toEqual([]);
  });

  it('the CPU runtime imports nothing from the engine above it; host facilities are not in src/shm/', () => {
    const up = under('cpu').flatMap(({ file, deps }) => deps.filter((d) => d.startsWith('engine/')).map((d) => `${file} -> ${d}`));
    expect(up).toEqual([]);
    const host = files(join(SRC, 'shm')).filter((f) => /node:child_process|'\/proc\//.test(readFileSync(f, 'utf8')));
    expect(host.map((f) => relative(SRC, f))).toEqual([]);
  });
});
