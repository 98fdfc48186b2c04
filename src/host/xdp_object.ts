// --xdp FILE[:SECTION] and --xdp-map: the BPF object is read from the host's files, its
// program checked and its maps' initial contents applied to a scratch copy of the maps here,
// when the configuration is resolved (engine/configure.ts hands resolveXdp to config/ as
// ConfigIo.xdp), before any shared memory is sized or any worker starts; a bad object or entry is one
// ConfigError line naming the option and the file. The loaded object is kept (by path, size
// and modification time) so that the run's threads read the same program without a second
// parse.
//
// --xdp-map NAME=KEY:VALUE[,KEY:VALUE...] (';' between maps, or the flag repeated), as
// `bpftool map update name NAME key ... value ...` would write them:
//   - a decimal integer (53, -1) is stored little-endian in the field's bytes, as a C program
//     on x86-64 holds `__u32 key = 53` (it must fit the field);
//   - 0x and hex digits are the field's bytes in memory order, exactly as many as the field
//     has (0x35000000 is the u32 53; 0x0035 is the __be16 port 53), as bpftool's `hex` bytes;
//   - a percpu map's value goes to every CPU (bpftool duplicates it);
//   - a cpumap value is struct bpf_cpumap_val (qsize, then the program's fd: an integer below
//     2^32 sets qsize alone); fd N > 0 names the object's Nth program section, which must be a
//     cpumap program (xdp_cpumap/... or xdp/cpumap...); a devmap value names ifindex 1, the only
//     device here.

import { statSync } from 'node:fs';
import { errnoText, readInput } from './files.js';
import { checkProgram, type XdpProgram } from '../bpf/check.js';
import { BpfLoadError } from '../bpf/errors.js';
import { BpfMaps, E2BIG, EEXIST, EINVAL, ENODEV, ENOENT, EOVERFLOW } from '../bpf/maps.js';
import { mapTypeName, readBpfObject } from '../bpf/object.js';
import { BPF_MAP_TYPE_CPUMAP, BPF_MAP_TYPE_DEVMAP } from '../bpf/insn.js';
import { clip, clipPath, ConfigError, MESSAGE_CHARS_MAX, type Config } from '../config/schema.js';

export const XDP_DEFAULT_SECTION = 'xdp';

/** A program ready to run: the checked program and the parsed initial map entries. */
export interface XdpLoaded {
  file: string;
  section: string;
  prog: XdpProgram;
  /** Per entry: the map's index, the key and value bytes. */
  entries: { map: number; key: Uint8Array; value: Uint8Array; text: string }[];
  /** The cpumap entries' second programs, by their bpf_prog fd (see cpumapProgram). */
  cpumapProgs: Map<number, XdpProgram>;
}

const cache = new Map<string, { key: string; prog: XdpProgram }>();

/** FILE[:SECTION]: the whole text when it names a file, else split at the last ':'. */
export function splitXdpSpec(spec: string): { file: string; section: string } {
  let isFile = false;
  try {
    isFile = statSync(spec, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    // a name the system refuses (too long, ...): not a file; the read below says why
  }
  if (isFile) return { file: spec, section: XDP_DEFAULT_SECTION };
  const at = spec.lastIndexOf(':');
  if (at > 0) return { file: spec.slice(0, at), section: spec.slice(at + 1) || XDP_DEFAULT_SECTION };
  return { file: spec, section: XDP_DEFAULT_SECTION };
}

/** Read and check the program of `--xdp spec` (cached by file version). Throws ConfigError. */
export function loadXdpProgram(spec: string): XdpProgram {
  const { file, section } = splitXdpSpec(spec);
  return loadSection(file, section, (f) => `--xdp ${f}`);
}

/**
 * Section `section` of `file`, read and checked (cached by file version and section); errors
 * start with `at(the file's name as quoted)`.
 */
function loadSection(file: string, section: string, at: (quoted: string) => string): XdpProgram {
  const where = at(clipPath(file));
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (e) {
    throw new ConfigError(`${where}: cannot read it (${errnoText(e)})`);
  }
  if (!st.isFile()) throw new ConfigError(`${where}: not a file`);
  const key = `${st.size}|${st.mtimeMs}`;
  const hit = cache.get(`${file}|${section}`);
  if (hit?.key === key) return hit.prog;
  const bytes = readInput('--xdp', file, 'bpf');
  try {
    const prog = checkProgram(readBpfObject(bytes, file, section));
    cache.set(`${file}|${section}`, { key, prog });
    return prog;
  } catch (e) {
    // The object's complaint is the message: the file name gives way to it (clipped from
    // its start) so that the whole line still fits in MESSAGE_CHARS_MAX.
    if (e instanceof BpfLoadError) {
      const room = MESSAGE_CHARS_MAX - at('').length - 2 - e.message.length;
      throw new ConfigError(`${at(clipPath(file, Math.min(60, Math.max(24, room))))}: ${e.message}`);
    }
    throw e;
  }
}

/** Section names libbpf gives expected_attach_type BPF_XDP_CPUMAP (0.x: xdp_cpumap/, 1.x: xdp/cpumap). */
const CPUMAP_PROG_SECTION = /^(xdp_cpumap\/|xdp\/cpumap)/;

/**
 * A cpumap entry's second program (struct bpf_cpumap_val.bpf_prog.fd > 0). rxsmp has no file
 * descriptors: fd N names the object's Nth program section (1-based, in the object's order,
 * as `programSections` lists them), which must be a cpumap program (__cpu_map_load_bpf_program
 * refuses another expected_attach_type with -EINVAL). It is read and checked as --xdp is.
 */
function cpumapProgram(prog: XdpProgram, fd: number, where: string): XdpProgram {
  const secs = prog.obj.programSections;
  const sec = secs[fd - 1];
  if (sec === undefined || !CPUMAP_PROG_SECTION.test(sec)) {
    throw new ConfigError(
      `${where}: bpf_prog fd ${fd} must name a cpumap program, the object's program section number ${fd} ` +
        `(its program sections: ${secs.map((x, i) => `${i + 1} ${x}`).join(', ')}; a cpumap program's section starts xdp_cpumap/ or xdp/cpumap; -EINVAL)`,
    );
  }
  return loadSection(prog.obj.file, sec, () => `${where}: program ${fd} (${sec})`);
}

/** One KEY or VALUE of --xdp-map as the field's bytes, or the reason it is not one. */
export function fieldBytes(text: string, size: number): Uint8Array | string {
  const out = new Uint8Array(size);
  if (/^0x[0-9a-f]*$/i.test(text)) {
    const hex = text.slice(2);
    if (hex.length !== 2 * size) {
      return `${text} gives ${hex.length / 2} bytes; the field has ${size}: give ${2 * size} hex digits in memory order, or a decimal integer`;
    }
    for (let i = 0; i < size; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  if (!/^-?[0-9]+$/.test(text)) return `'${text}' is neither a decimal integer nor 0x and hex bytes`;
  let n = BigInt(text);
  const bits = BigInt(8 * size);
  if (n >= 1n << bits || n < -(1n << (bits - 1n))) return `${text} does not fit the field's ${size} bytes`;
  n = BigInt.asUintN(8 * size, n);
  for (let i = 0; i < size; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

const ERRNO: Record<number, string> = {
  [ENOENT]: 'ENOENT',
  [E2BIG]: 'E2BIG',
  [ENODEV]: 'ENODEV',
  [EEXIST]: 'EEXIST',
  [EINVAL]: 'EINVAL',
  [EOVERFLOW]: 'EOVERFLOW',
};

/** Why an update failed, in words, after the kernel's errno. */
function updateRefusal(kind: string, errno: number, maxEntries: number, ncpus: number): string {
  const name = ERRNO[errno] ?? `errno ${errno}`;
  switch (kind) {
    case 'cpumap':
      if (errno === EOVERFLOW) return `a cpumap qsize above 16384 (-${name})`;
      if (errno === ENODEV) return `the CPU does not exist with --cpus ${ncpus} (-${name})`;
      break;
    case 'devmap':
      if (errno === ENODEV) return `a devmap entry may only name ifindex 1, the emulated NIC (-${name})`;
      break;
  }
  if (errno === E2BIG)
    return kind.includes('hash')
      ? `the map is full (max_entries ${maxEntries}; -${name})`
      : `the key is beyond max_entries ${maxEntries} (-${name})`;
  return `the update fails with -${name}`;
}

/**
 * Parse --xdp-map against the program's maps and apply every entry to a scratch copy of the
 * maps, so that what the kernel would refuse (a key beyond an array, a full hash map, a
 * cpumap qsize above 16384, a devmap naming another device) is refused here. Throws ConfigError.
 */
export function parseXdpMapEntries(
  prog: XdpProgram,
  items: readonly string[],
  ncpus: number,
  cpumapProgs = new Map<number, XdpProgram>(),
): XdpLoaded['entries'] {
  const maps = prog.obj.maps;
  const out: XdpLoaded['entries'] = [];
  const scratch = items.length > 0 ? BpfMaps.create(maps, ncpus, 0) : undefined;
  for (const item of items) {
    const eq = item.indexOf('=');
    const where = `--xdp-map ${clip(item, 40)}`;
    if (eq <= 0) throw new ConfigError(`${where}: expected NAME=KEY:VALUE[,KEY:VALUE...]`);
    const name = item.slice(0, eq).trim();
    const m = maps.findIndex((x) => x.name === name);
    if (m < 0)
      throw new ConfigError(
        `${where}: ${clipPath(prog.obj.file, 40)} has no map '${clip(name, 40)}' (its maps: ${maps.map((x) => x.name).join(', ') || 'none'})`,
      );
    const def = maps[m];
    for (const pair of item.slice(eq + 1).split(',')) {
      const p = pair.trim();
      const colon = p.indexOf(':');
      if (colon <= 0 || p.indexOf(':', colon + 1) >= 0) throw new ConfigError(`${where}: '${clip(p, 40)}' is not KEY:VALUE`);
      const key = fieldBytes(p.slice(0, colon), def.key_size);
      if (typeof key === 'string') throw new ConfigError(`${where}: key ${key} (the key of '${name}' is ${def.key_size} bytes)`);
      const value = fieldBytes(p.slice(colon + 1), def.value_size);
      if (typeof value === 'string') throw new ConfigError(`${where}: value ${value} (the value of '${name}' is ${def.value_size} bytes)`);
      const fd = def.value_size === 8 ? new DataView(value.buffer).getInt32(4, true) : 0;
      if (fd > 0 && def.type === BPF_MAP_TYPE_DEVMAP)
        throw new ConfigError(`${where}: a devmap entry's program (struct bpf_devmap_val.bpf_prog) is not modelled; give fd 0`);
      if (fd > 0 && def.type === BPF_MAP_TYPE_CPUMAP && new DataView(value.buffer).getUint32(0, true) > 0 && !cpumapProgs.has(fd))
        cpumapProgs.set(fd, cpumapProgram(prog, fd, where));
      const r = scratch!.userUpdate(m, key, value);
      if (r < 0) {
        const kind = mapTypeName(def.type);
        throw new ConfigError(
          `${where}: ${clip(p, 40)} cannot go into ${kind} '${name}': ${updateRefusal(kind, -r, def.max_entries, ncpus)}`,
        );
      }
      out.push({ map: m, key, value, text: `${name}=${p}` });
    }
  }
  return out;
}

/** --xdp and --xdp-map of a resolved config: the loaded program and its entries. Throws ConfigError. */
export function resolveXdp(cfg: Pick<Config, 'xdp' | 'xdp_map' | 'cpus'>): XdpLoaded | undefined {
  if (cfg.xdp === '') {
    if (cfg.xdp_map.length > 0) throw new ConfigError('--xdp-map: gives map contents for --xdp, which is not given');
    return undefined;
  }
  const prog = loadXdpProgram(cfg.xdp);
  const { file, section } = splitXdpSpec(cfg.xdp);
  const cpumapProgs = new Map<number, XdpProgram>();
  return { file, section, prog, entries: parseXdpMapEntries(prog, cfg.xdp_map, cfg.cpus, cpumapProgs), cpumapProgs };
}

/** Maps for a run: allocated for `ncpus` and filled with the entries (the coordinator does this once; workers attach). */
export function xdpMapsFor(x: Pick<XdpLoaded, 'prog' | 'entries'>, ncpus: number, seed: number): BpfMaps {
  const maps = BpfMaps.create(x.prog.obj.maps, ncpus, seed);
  for (const e of x.entries) maps.userUpdate(e.map, e.key, e.value);
  return maps;
}
