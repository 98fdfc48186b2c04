// BTF (the .BTF section clang -g writes): enough of the type graph to read BTF-defined maps,
// the `struct { __uint(type, ...); __type(key, ...); ... } name SEC(".maps")` of libbpf's
// bpf_helpers.h, as libbpf's bpf_object__init_user_btf_maps / parse_btf_map_def read them:
//   __uint(name, N)   is `int (*name)[N]`: a PTR to an ARRAY whose nelems is N;
//   __type(name, T)   is `typeof(T) *name`: a PTR to T, whose size is btf__resolve_size(T).
//
// Layout (Documentation/bpf/btf.rst):
//   struct btf_header (24 bytes): magic u16 0xeB9F @0, version u8 @2, flags u8 @3,
//     hdr_len u32 @4, type_off u32 @8, type_len u32 @12, str_off u32 @16, str_len u32 @20;
//     types start at hdr_len + type_off, strings at hdr_len + str_off.
//   struct btf_type (12 bytes): name_off u32, info u32 (vlen bits 0-15, kind bits 24-28,
//     kind_flag bit 31), size_or_type u32; then per kind:
//     INT +4, ARRAY +12 (type, index_type, nelems), STRUCT/UNION vlen*12 (name_off, type,
//     offset), ENUM vlen*8, FUNC_PROTO vlen*8, VAR +4 (linkage), DATASEC vlen*12 (type, offset,
//     size), DECL_TAG +4, ENUM64 vlen*12; PTR FWD TYPEDEF VOLATILE CONST RESTRICT FUNC FLOAT
//     TYPE_TAG nothing. Type ids start at 1 (0 is void).

import { BpfLoadError, loadCheck } from './errors.js';

export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;

const BTF_MAGIC = 0xeb9f;

export interface BtfType {
  kind: number;
  name: string;
  vlen: number;
  /** size (INT, STRUCT, UNION, ENUM, DATASEC, FLOAT, ENUM64) or the referred type id (the rest). */
  sizeOrType: number;
  /** ARRAY: element type and count. */
  array?: { type: number; nelems: number };
  /** STRUCT/UNION members, DATASEC variables (offset in bytes for DATASEC, bits for members). */
  members?: { name: string; type: number; offset: number; size: number }[];
  /** VAR: its linkage. */
  linkage?: number;
}

export class Btf {
  /** types[id]; types[0] is void. */
  readonly types: BtfType[] = [{ kind: 0, name: '', vlen: 0, sizeOrType: 0 }];

  constructor(bytes: Uint8Array) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    loadCheck(bytes.length >= 24 && dv.getUint16(0, true) === BTF_MAGIC, () => 'the .BTF section has no BTF header (damaged object)');
    const hdrLen = dv.getUint32(4, true);
    const typeOff = hdrLen + dv.getUint32(8, true);
    const typeEnd = typeOff + dv.getUint32(12, true);
    const strOff = hdrLen + dv.getUint32(16, true);
    const strEnd = strOff + dv.getUint32(20, true);
    loadCheck(typeEnd <= bytes.length && strEnd <= bytes.length, () => 'the .BTF section is shorter than its header says (damaged object)');
    const str = (off: number): string => {
      loadCheck(strOff + off < strEnd || off === 0, () => 'a BTF name is outside the string table (damaged object)');
      let e = strOff + off;
      while (e < strEnd && bytes[e] !== 0) e++;
      return new TextDecoder().decode(bytes.subarray(strOff + off, e));
    };
    let at = typeOff;
    while (at < typeEnd) {
      loadCheck(at + 12 <= typeEnd, () => 'a BTF type runs past the type section (damaged object)');
      const info = dv.getUint32(at + 4, true);
      const t: BtfType = {
        kind: (info >>> 24) & 0x1f,
        name: str(dv.getUint32(at, true)),
        vlen: info & 0xffff,
        sizeOrType: dv.getUint32(at + 8, true),
      };
      at += 12;
      const need = (n: number) => loadCheck(at + n <= typeEnd, () => 'a BTF type runs past the type section (damaged object)');
      switch (t.kind) {
        case BTF_KIND_INT:
        case BTF_KIND_DECL_TAG:
          need(4);
          at += 4;
          break;
        case BTF_KIND_VAR:
          need(4);
          t.linkage = dv.getUint32(at, true);
          at += 4;
          break;
        case BTF_KIND_ARRAY:
          need(12);
          t.array = { type: dv.getUint32(at, true), nelems: dv.getUint32(at + 8, true) };
          at += 12;
          break;
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
        case BTF_KIND_DATASEC:
          need(12 * t.vlen);
          t.members = [];
          for (let i = 0; i < t.vlen; i++, at += 12) {
            const isSec = t.kind === BTF_KIND_DATASEC;
            t.members.push({
              name: isSec ? '' : str(dv.getUint32(at, true)),
              type: dv.getUint32(at + (isSec ? 0 : 4), true),
              offset: dv.getUint32(at + (isSec ? 4 : 8), true),
              size: isSec ? dv.getUint32(at + 8, true) : 0,
            });
          }
          break;
        case BTF_KIND_ENUM:
        case BTF_KIND_FUNC_PROTO:
          need(8 * t.vlen);
          at += 8 * t.vlen;
          break;
        case BTF_KIND_ENUM64:
          need(12 * t.vlen);
          at += 12 * t.vlen;
          break;
        case BTF_KIND_PTR:
        case BTF_KIND_FWD:
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_FUNC:
        case BTF_KIND_FLOAT:
        case BTF_KIND_TYPE_TAG:
          break;
        default:
          throw new BpfLoadError(`the .BTF section has a type of unknown kind ${t.kind} (a newer compiler than this reader knows?)`);
      }
      this.types.push(t);
    }
  }

  type(id: number): BtfType {
    const t = this.types[id];
    loadCheck(t !== undefined, () => `BTF type ${id} does not exist (damaged object)`);
    return t;
  }

  /** The type behind typedefs and modifiers (libbpf's skip_mods_and_typedefs). */
  skipModsAndTypedefs(id: number): { id: number; t: BtfType } {
    for (let hops = 0; hops < 64; hops++) {
      const t = this.type(id);
      if (
        t.kind !== BTF_KIND_TYPEDEF &&
        t.kind !== BTF_KIND_VOLATILE &&
        t.kind !== BTF_KIND_CONST &&
        t.kind !== BTF_KIND_RESTRICT &&
        t.kind !== BTF_KIND_TYPE_TAG
      )
        return { id, t };
      id = t.sizeOrType;
    }
    throw new BpfLoadError('a BTF type refers to itself through typedefs (damaged object)');
  }

  /** The size of a type in bytes (libbpf's btf__resolve_size). */
  resolveSize(id: number, depth = 0): number {
    loadCheck(depth < 32, () => 'BTF types nest deeper than 32 levels (damaged object)');
    const t = this.type(id);
    switch (t.kind) {
      case BTF_KIND_INT:
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION:
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64:
      case BTF_KIND_DATASEC:
      case BTF_KIND_FLOAT:
        return t.sizeOrType;
      case BTF_KIND_PTR:
        return 8;
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_VAR:
      case BTF_KIND_TYPE_TAG:
      case BTF_KIND_DECL_TAG:
        return this.resolveSize(t.sizeOrType, depth + 1);
      case BTF_KIND_ARRAY:
        return t.array!.nelems * this.resolveSize(t.array!.type, depth + 1);
      default:
        throw new BpfLoadError(`BTF type ${id} (${t.name || 'anonymous'}) has no size`);
    }
  }

  /** The DATASEC named `name` (".maps"), or undefined. */
  datasec(name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === BTF_KIND_DATASEC && t.name === name);
  }
}

/** What a BTF-defined map declares; fields it leaves out are undefined. */
export interface BtfMapDef {
  name: string;
  type?: number;
  key_size?: number;
  value_size?: number;
  max_entries?: number;
  map_flags?: number;
}

/**
 * The map definitions of the ".maps" DATASEC, each read as libbpf's parse_btf_map_def reads
 * it (strict: an unknown field is an error, as it is by default in libbpf).
 */
export function btfMapDefs(btf: Btf): BtfMapDef[] {
  const sec = btf.datasec('.maps');
  if (sec === undefined) return [];
  return sec.members!.map((v) => {
    const vt = btf.type(v.type);
    loadCheck(vt.kind === BTF_KIND_VAR, () => `a .maps entry is not a variable in BTF (damaged object)`);
    const name = vt.name;
    const def = btf.skipModsAndTypedefs(vt.sizeOrType).t;
    loadCheck(
      def.kind === BTF_KIND_STRUCT,
      () => `map '${name}': its definition is not a struct (as libbpf's bpf_helpers.h declares maps)`,
    );
    const out: BtfMapDef = { name };
    const intField = (field: string, type: number): number => {
      const p = btf.skipModsAndTypedefs(type).t;
      loadCheck(p.kind === BTF_KIND_PTR, () => `map '${name}': field '${field}' is not a __uint() (expected a pointer to an array)`);
      const a = btf.type(p.sizeOrType);
      loadCheck(a.kind === BTF_KIND_ARRAY, () => `map '${name}': field '${field}' is not a __uint() (expected a pointer to an array)`);
      return a.array!.nelems;
    };
    const typeSize = (field: string, type: number): number => {
      const p = btf.type(type);
      loadCheck(p.kind === BTF_KIND_PTR, () => `map '${name}': field '${field}' is not a __type() (expected a pointer)`);
      return btf.resolveSize(p.sizeOrType);
    };
    const setSize = (which: 'key_size' | 'value_size', size: number) => {
      const had = out[which];
      loadCheck(had === undefined || had === size, () => `map '${name}': conflicting ${which.replace('_', ' ')} ${had} != ${size}`);
      out[which] = size;
    };
    for (const m of def.members!) {
      switch (m.name) {
        case 'type':
          out.type = intField(m.name, m.type);
          break;
        case 'max_entries':
          out.max_entries = intField(m.name, m.type);
          break;
        case 'map_flags':
          out.map_flags = intField(m.name, m.type);
          break;
        case 'key_size':
          setSize('key_size', intField(m.name, m.type));
          break;
        case 'value_size':
          setSize('value_size', intField(m.name, m.type));
          break;
        case 'key':
          setSize('key_size', typeSize(m.name, m.type));
          break;
        case 'value':
          setSize('value_size', typeSize(m.name, m.type));
          break;
        case 'numa_node':
        case 'pinning':
          break;
        case 'values':
          throw new BpfLoadError(`map '${name}': map-in-map (the 'values' field) is not supported`);
        default:
          throw new BpfLoadError(`map '${name}': unknown field '${m.name}' (libbpf refuses it too)`);
      }
    }
    return out;
  });
}
