// An ELF64 little-endian reader, enough for BPF objects (clang -target bpf -c): the file
// header, the section headers and their names, the symbol table and REL relocation sections.
// Everything is read once at load; any field that points outside the file is a BpfLoadError,
// so a damaged or foreign file is one line, never a RangeError.
//
// Layouts (System V gABI, ELF-64 Object File Format 1.5):
//   Elf64_Ehdr (64 bytes): e_ident[16] (0x7f 'E' 'L' 'F', class 2 = 64-bit, data 1 = LE,
//     version 1, ...), e_type u16 @16, e_machine u16 @18, e_version u32 @20, e_entry u64 @24,
//     e_phoff u64 @32, e_shoff u64 @40, e_flags u32 @48, e_ehsize u16 @52, e_phentsize @54,
//     e_phnum @56, e_shentsize u16 @58, e_shnum u16 @60, e_shstrndx u16 @62
//   Elf64_Shdr (64 bytes): sh_name u32 @0, sh_type u32 @4, sh_flags u64 @8, sh_addr u64 @16,
//     sh_offset u64 @24, sh_size u64 @32, sh_link u32 @40, sh_info u32 @44,
//     sh_addralign u64 @48, sh_entsize u64 @56
//   Elf64_Sym (24 bytes): st_name u32 @0, st_info u8 @4, st_other u8 @5, st_shndx u16 @6,
//     st_value u64 @8, st_size u64 @16
//   Elf64_Rel (16 bytes): r_offset u64 @0, r_info u64 @8 (symbol = high 32 bits, type = low 32)

import { BpfLoadError, loadCheck } from './errors.js';

export const EM_BPF = 247;
export const ET_REL = 1;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHF_EXECINSTR = 0x4;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;

/** Machines a user may hand us by mistake, named in the message (e_machine values of the gABI). */
const MACHINES: Record<number, string> = {
  3: 'x86 (i386)',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'S/390',
  40: 'ARM',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
};

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  /** STT_* */
  type: number;
  /** STB_* (0 local, 1 global, 2 weak) */
  bind: number;
  shndx: number;
  value: number;
  size: number;
}

export interface ElfRel {
  offset: number;
  sym: number;
  type: number;
}

export interface ElfFile {
  bytes: Uint8Array;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** A section by name, or undefined. */
  section(name: string): ElfSection | undefined;
  /** The bytes of a section (a view; SHT_NOBITS gives zeros of its size). */
  data(s: ElfSection): Uint8Array;
  /** The REL relocations that apply to section `target` (from the SHT_REL section whose sh_info names it). */
  relocations(target: ElfSection): ElfRel[];
}

/** A u64 field as a Number: BPF objects are far below 2^53 bytes, anything above is damage. */
function u64(dv: DataView, at: number, what: string): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getUint32(at + 4, true);
  loadCheck(hi < 0x200000, () => `${what} is out of range (damaged ELF file)`);
  return hi * 2 ** 32 + lo;
}

function cstring(bytes: Uint8Array, at: number, end: number): string {
  let e = at;
  while (e < end && bytes[e] !== 0) e++;
  return new TextDecoder().decode(bytes.subarray(at, e));
}

/** Read an ELF64 LE BPF relocatable object, or throw a BpfLoadError naming what it is instead. */
export function readElf(bytes: Uint8Array): ElfFile {
  const isElf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  loadCheck(isElf, () => 'not an ELF file (a BPF object is what clang -target bpf -c writes)');
  loadCheck(bytes.length >= 64, () => 'a truncated ELF file (shorter than its 64-byte header)');
  loadCheck(bytes[4] === 2, () => `a 32-bit ELF file; BPF objects are ELF64 (clang -target bpf -c)`);
  loadCheck(bytes[5] === 1, () => 'a big-endian ELF file; rxsmp takes little-endian BPF objects (clang -target bpf, or bpfel)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_BPF) {
    const what = MACHINES[machine] ?? `machine ${machine}`;
    throw new BpfLoadError(`an ELF file for ${what}, not a BPF object (e_machine ${machine}, expected EM_BPF ${EM_BPF})`);
  }
  const type = dv.getUint16(16, true);
  loadCheck(type === ET_REL, () => `an ELF file of type ${type}; a BPF object is relocatable (ET_REL, as clang -c writes it)`);
  const shoff = u64(dv, 40, 'the section header offset');
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);
  loadCheck(shentsize === 64, () => `section headers of ${shentsize} bytes (damaged ELF file; ELF64 has 64)`);
  loadCheck(shoff + shnum * 64 <= bytes.length, () => 'the section headers run past the end of the file (truncated ELF file)');
  loadCheck(shstrndx < shnum, () => 'no section name table (damaged ELF file)');

  const raw: Omit<ElfSection, 'name'>[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    nameOffs.push(dv.getUint32(at, true));
    const s = {
      index: i,
      type: dv.getUint32(at + 4, true),
      flags: u64(dv, at + 8, `section ${i}'s flags`),
      offset: u64(dv, at + 24, `section ${i}'s offset`),
      size: u64(dv, at + 32, `section ${i}'s size`),
      link: dv.getUint32(at + 40, true),
      info: dv.getUint32(at + 44, true),
      entsize: u64(dv, at + 56, `section ${i}'s entry size`),
    };
    loadCheck(
      s.type === SHT_NOBITS || s.offset + s.size <= bytes.length,
      () => `section ${i} runs past the end of the file (truncated ELF file)`,
    );
    raw.push(s);
  }
  const shstr = raw[shstrndx];
  const sections: ElfSection[] = raw.map((s, i) => {
    loadCheck(nameOffs[i] < shstr.size || shstr.size === 0, () => `section ${i}'s name is outside the name table (damaged ELF file)`);
    return { ...s, name: cstring(bytes, shstr.offset + nameOffs[i], shstr.offset + shstr.size) };
  });

  const symbols: ElfSymbol[] = [];
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab !== undefined) {
    const strtab = sections[symtab.link];
    loadCheck(strtab !== undefined && strtab.type === SHT_STRTAB, () => 'the symbol table has no string table (damaged ELF file)');
    for (let at = symtab.offset; at + 24 <= symtab.offset + symtab.size; at += 24) {
      const info = dv.getUint8(at + 4);
      symbols.push({
        name: cstring(bytes, strtab.offset + dv.getUint32(at, true), strtab.offset + strtab.size),
        type: info & 0xf,
        bind: info >> 4,
        shndx: dv.getUint16(at + 6, true),
        value: u64(dv, at + 8, 'a symbol value'),
        size: u64(dv, at + 16, 'a symbol size'),
      });
    }
  }

  return {
    bytes,
    sections,
    symbols,
    section: (name) => sections.find((s) => s.name === name),
    data: (s) => (s.type === SHT_NOBITS ? new Uint8Array(s.size) : bytes.subarray(s.offset, s.offset + s.size)),
    relocations(target) {
      const out: ElfRel[] = [];
      for (const s of sections) {
        if (s.type !== SHT_REL || s.info !== target.index) continue;
        for (let at = s.offset; at + 16 <= s.offset + s.size; at += 16) {
          const sym = dv.getUint32(at + 12, true);
          loadCheck(sym < symbols.length, () => `a relocation in ${s.name} names symbol ${sym}, which does not exist (damaged ELF file)`);
          out.push({ offset: u64(dv, at, 'a relocation offset'), sym, type: dv.getUint32(at + 8, true) });
        }
      }
      return out;
    },
  };
}
