// A BPF object (what `clang -O2 -g -target bpf -c prog.c` writes) read as libbpf's
// bpf_object__open does for `ip link set dev X xdp obj prog.o sec SECTION`: the program's
// instructions from its section, the maps from ".maps" (BTF-defined, bpf_object__init_user_btf_maps)
// and from the legacy "maps" section (struct bpf_map_def, bpf_object__init_user_maps), the
// global data sections (.rodata, .data, .bss: one-element array maps, as libbpf's internal
// maps), and the relocations of the program's section (bpf_program__collect_reloc): each
// R_BPF_64_64 on an ld_imm64 that names a map becomes src_reg BPF_PSEUDO_MAP_FD with the map's
// index in imm, one that names global data BPF_PSEUDO_MAP_VALUE with the offset in the second
// slot's imm. The result is plain data; src/bpf/check.ts checks the program against it.

import { Btf, btfMapDefs, type BtfMapDef } from './btf.js';
import { readElf, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, STT_FUNC, STT_SECTION, type ElfFile, type ElfSection } from './elf.js';
import { BpfLoadError, loadCheck } from './errors.js';
import {
  BPF_DW,
  BPF_IMM,
  BPF_LD,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_CPUMAP,
  BPF_MAP_TYPE_DEVMAP,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  MAP_TYPES,
  MAP_TYPES_NOT_MODELLED,
} from './insn.js';

/** R_BPF_64_64: the 64-bit immediate of an ld_imm64 (llvm's BPF ELF relocation 1). */
const R_BPF_64_64 = 1;
/** R_BPF_64_32: a call's imm (bpf-to-bpf calls; refused by the checker). */
const R_BPF_64_32 = 10;
/** R_BPF_64_ABS64 / ABS32: data relocations (BTF, DWARF); never in a program's section. */
const R_BPF_64_NODYLD32 = 4;

/** The most memory all of a program's maps may take: an object asking for more is refused at load. */
export const MAPS_BYTES_MAX = 256 << 20;
/** The largest key a hash map takes (htab_map_alloc_check: key_size > MAX_BPF_STACK is E2BIG). */
const HASH_KEY_SIZE_MAX = 512;
/** map_flags that change nothing here: BPF_F_NO_PREALLOC 1, BPF_F_NUMA_NODE 4, BPF_F_ZERO_SEED 0x40, BPF_F_RDONLY_PROG 0x80. */
const MAP_FLAGS_ACCEPTED = 0x1 | 0x4 | 0x40 | 0x80;
/** The largest value (KMALLOC_MAX_SIZE is far larger; 64 KiB keeps shared memory sane). */
const VALUE_SIZE_MAX = 65536;

export interface BpfMapDef {
  /** The map's name (its variable's name; the section name for global data). */
  name: string;
  type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  /** Global data (.rodata, .data, .bss): the section's bytes as the value of element 0. */
  initial?: Uint8Array;
  /** .rodata: the program may not write it (BPF_F_RDONLY_PROG). */
  readonly?: boolean;
}

export interface BpfObject {
  /** The file as given (messages name it). */
  file: string;
  /** The program's section. */
  section: string;
  /** The program's function name (its symbol at offset 0 of the section), or the section name. */
  name: string;
  /** The relocated instructions, 8 bytes each. */
  insns: Uint8Array;
  maps: BpfMapDef[];
  /** Every executable section of the object (other programs, e.g. xdp_cpumap/... for a cpumap entry). */
  programSections: string[];
  /** The license section's text ('' when absent). */
  license: string;
}

export const mapTypeName = (type: number): string => MAP_TYPES.get(type) ?? MAP_TYPES_NOT_MODELLED.get(type) ?? `type ${type}`;

/** A map type rxsmp models, or a BpfLoadError naming the type. */
function checkMapType(name: string, type: number): void {
  if (MAP_TYPES.has(type)) return;
  const known = MAP_TYPES_NOT_MODELLED.get(type);
  throw new BpfLoadError(
    known !== undefined
      ? `map '${name}' is a ${known} map, which rxsmp does not model (it has ${[...MAP_TYPES.values()].join(', ')})`
      : `map '${name}' has unknown map type ${type} (not a map type of Linux 5.10)`,
  );
}

function checkMapDef(m: BpfMapDef): void {
  const where = `map '${m.name}'`;
  checkMapType(m.name, m.type);
  const type = mapTypeName(m.type);
  loadCheck(m.max_entries > 0, () => `${where} (${type}): max_entries is 0 (the kernel refuses it: EINVAL)`);
  loadCheck(m.value_size > 0 && m.key_size > 0, () => `${where} (${type}): key and value sizes must be nonzero (EINVAL)`);
  loadCheck(
    m.value_size <= VALUE_SIZE_MAX,
    () => `${where} (${type}): a value of ${m.value_size} bytes is more than rxsmp takes (${VALUE_SIZE_MAX})`,
  );
  switch (m.type) {
    case BPF_MAP_TYPE_CPUMAP:
    case BPF_MAP_TYPE_DEVMAP: {
      // cpu_map_alloc / dev_map_init_map: key u32, value the qsize/ifindex alone or with the prog fd.
      loadCheck(m.key_size === 4, () => `${where} (${type}): key_size must be 4 (EINVAL), got ${m.key_size}`);
      loadCheck(
        m.value_size === 4 || m.value_size === 8,
        () =>
          `${where} (${type}): value_size must be 4 or 8 (struct bpf_${type === 'cpumap' ? 'cpumap' : 'devmap'}_val; EINVAL), got ${m.value_size}`,
      );
      if (m.type === BPF_MAP_TYPE_CPUMAP)
        loadCheck(m.max_entries <= 8192, () => `${where} (cpumap): max_entries ${m.max_entries} is more than NR_CPUS (8192; E2BIG)`);
      break;
    }
    case BPF_MAP_TYPE_ARRAY:
    case 6 /* percpu_array */:
      loadCheck(m.key_size === 4, () => `${where} (${type}): key_size must be 4 (array_map_alloc_check: EINVAL), got ${m.key_size}`);
      break;
    default:
      loadCheck(
        m.key_size <= HASH_KEY_SIZE_MAX,
        () => `${where} (${type}): key_size ${m.key_size} is more than ${HASH_KEY_SIZE_MAX} (E2BIG)`,
      );
  }
  loadCheck(
    (m.map_flags & ~MAP_FLAGS_ACCEPTED) === 0,
    () =>
      `${where} (${type}): map_flags 0x${m.map_flags.toString(16)} are not supported (only BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_ZERO_SEED, BPF_F_RDONLY_PROG)`,
  );
}

function fromBtf(d: BtfMapDef): BpfMapDef {
  if (d.type !== undefined) checkMapType(d.name, d.type); // before its fields: a ringbuf has no key_size
  const missing = (['type', 'key_size', 'value_size', 'max_entries'] as const).find((k) => d[k] === undefined);
  loadCheck(
    missing === undefined,
    () => `map '${d.name}': its definition has no ${missing} (libbpf: "map '${d.name}': missing ${missing}")`,
  );
  return {
    name: d.name,
    type: d.type!,
    key_size: d.key_size!,
    value_size: d.value_size!,
    max_entries: d.max_entries!,
    map_flags: d.map_flags ?? 0,
  };
}

/** The maps of the object in section order: BTF ".maps", legacy "maps", then global data. Keyed by ELF symbol for relocations. */
function collectMaps(elf: ElfFile): { maps: BpfMapDef[]; bySymbol: Map<string, number>; dataSections: Map<number, number> } {
  const maps: BpfMapDef[] = [];
  const bySymbol = new Map<string, number>();
  const dataSections = new Map<number, number>();
  const btfSec = elf.section('.maps');
  if (btfSec !== undefined) {
    const btfData = elf.section('.BTF');
    loadCheck(
      btfData !== undefined,
      () => 'the object has a .maps section but no .BTF (compile with -g, as libbpf requires for BTF-defined maps)',
    );
    const btf = new Btf(elf.data(btfData));
    for (const d of btfMapDefs(btf)) {
      const sym = elf.symbols.find((s) => s.shndx === btfSec.index && s.name === d.name);
      loadCheck(sym !== undefined, () => `map '${d.name}' is in BTF but has no symbol in .maps (damaged object)`);
      bySymbol.set(`${btfSec.index}:${sym.value}`, maps.length);
      maps.push(fromBtf(d));
    }
  }
  const legacy = elf.section('maps');
  if (legacy !== undefined) {
    // bpf_object__init_user_maps: the section's size divided among its symbols; each definition
    // is struct bpf_map_def { type, key_size, value_size, max_entries, map_flags } (u32 each).
    const syms = elf.symbols
      .filter((s) => s.shndx === legacy.index && s.name !== '' && s.type !== STT_SECTION)
      .sort((a, b) => a.value - b.value);
    loadCheck(syms.length > 0 || legacy.size === 0, () => "the legacy 'maps' section has no symbols (damaged object)");
    const defSize = syms.length > 0 ? legacy.size / syms.length : 0;
    loadCheck(
      Number.isInteger(defSize) && (syms.length === 0 || defSize >= 20),
      () => `the legacy 'maps' section's size ${legacy.size} does not divide into struct bpf_map_def for its ${syms.length} maps`,
    );
    const dv = new DataView(elf.bytes.buffer, elf.bytes.byteOffset + legacy.offset, legacy.size);
    for (const s of syms) {
      loadCheck(s.value + 20 <= legacy.size, () => `map '${s.name}' lies outside the 'maps' section (damaged object)`);
      bySymbol.set(`${legacy.index}:${s.value}`, maps.length);
      maps.push({
        name: s.name,
        type: dv.getUint32(s.value, true),
        key_size: dv.getUint32(s.value + 4, true),
        value_size: dv.getUint32(s.value + 8, true),
        max_entries: dv.getUint32(s.value + 12, true),
        map_flags: dv.getUint32(s.value + 16, true),
      });
    }
  }
  for (const s of elf.sections) {
    const isData = /^\.(rodata|data|bss)(\.|$)/.test(s.name) && (s.type === SHT_PROGBITS || s.type === SHT_NOBITS);
    if (!isData || s.size === 0) continue;
    dataSections.set(s.index, maps.length);
    maps.push({
      name: s.name,
      type: BPF_MAP_TYPE_ARRAY,
      key_size: 4,
      value_size: s.size,
      max_entries: 1,
      map_flags: 0,
      initial: elf.data(s).slice(),
      readonly: s.name.startsWith('.rodata'),
    });
  }
  for (const m of maps) checkMapDef(m);
  const total = maps.reduce((a, m) => a + m.max_entries * (m.key_size + m.value_size), 0);
  loadCheck(
    total <= MAPS_BYTES_MAX,
    () => `the maps need ${(total / 2 ** 20).toFixed(0)} MiB; rxsmp takes at most ${MAPS_BYTES_MAX >> 20} MiB of maps`,
  );
  return { maps, bySymbol, dataSections };
}

function programSection(elf: ElfFile, section: string): { sec: ElfSection; all: string[] } {
  const all = elf.sections.filter((s) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0).map((s) => s.name);
  const sec = elf.section(section);
  if (sec === undefined || !all.includes(section)) {
    const list = all.length > 0 ? `its program sections: ${all.join(', ')}` : 'it has no program sections';
    throw new BpfLoadError(`no program section '${section}' (${list}); name one as FILE:SECTION`);
  }
  return { sec, all };
}

/** Read a BPF object from its bytes; `section` names the program (libbpf's `sec`). Throws BpfLoadError. */
export function readBpfObject(bytes: Uint8Array, file: string, section: string): BpfObject {
  const elf = readElf(bytes);
  const { sec, all } = programSection(elf, section);
  const { maps, bySymbol, dataSections } = collectMaps(elf);
  // The program: the function at offset 0 of its section (libbpf 0.x: one program per section
  // unless told otherwise); the whole section when there is no symbol.
  const fn = elf.symbols.find((s) => s.shndx === sec.index && s.type === STT_FUNC && s.value === 0);
  const size = fn !== undefined && fn.size > 0 ? fn.size : sec.size;
  loadCheck(
    size % 8 === 0 && size <= sec.size,
    () => `section '${section}' is ${sec.size} bytes, not whole 8-byte instructions (damaged object)`,
  );
  const insns = elf.data(sec).slice(0, size);
  for (const r of elf.relocations(sec)) {
    if (r.offset >= size) continue; // another program of the same section
    const i = r.offset / 8;
    loadCheck(Number.isInteger(i), () => `a relocation at byte ${r.offset} of '${section}' is not on an instruction (damaged object)`);
    if (r.type === R_BPF_64_32) continue; // a bpf-to-bpf call: check.ts refuses the call itself
    loadCheck(
      r.type === R_BPF_64_64 || r.type === R_BPF_64_NODYLD32,
      () => `relocation type ${r.type} at instruction ${i} is not one libbpf applies to programs`,
    );
    const sym = elf.symbols[r.sym];
    const code = insns[i * 8];
    loadCheck(
      code === (BPF_LD | BPF_IMM | BPF_DW) && i + 1 < size / 8,
      () => `instruction ${i} has a map relocation (${sym.name}) but is not an ld_imm64 (libbpf: "invalid relo")`,
    );
    const key = `${sym.shndx}:${sym.value}`;
    const dv = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
    if (bySymbol.has(key)) {
      insns[i * 8 + 1] = (insns[i * 8 + 1] & 0x0f) | (BPF_PSEUDO_MAP_FD << 4);
      dv.setInt32(i * 8 + 4, bySymbol.get(key)!, true);
    } else if (dataSections.has(sym.shndx)) {
      // Global data: the offset is the symbol's value plus the addend clang left in imm.
      const off = dv.getInt32(i * 8 + 4, true) + (sym.type === STT_SECTION ? 0 : sym.value);
      insns[i * 8 + 1] = (insns[i * 8 + 1] & 0x0f) | (BPF_PSEUDO_MAP_VALUE << 4);
      dv.setInt32(i * 8 + 4, dataSections.get(sym.shndx)!, true);
      dv.setInt32(i * 8 + 12, off, true);
    } else {
      const where = elf.sections[sym.shndx]?.name ?? `section ${sym.shndx}`;
      throw new BpfLoadError(`instruction ${i} refers to '${sym.name || where}' in ${where}, which is neither a map nor global data`);
    }
  }
  const lic = elf.section('license');
  const license = lic === undefined ? '' : new TextDecoder().decode(elf.data(lic)).replace(/\0.*$/s, '');
  return { file, section, name: fn?.name ?? section, insns, maps, programSections: all, license };
}
