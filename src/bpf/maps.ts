// BPF maps in one SharedArrayBuffer, so that every emulated CPU thread sees the same maps, as
// every CPU of a kernel does. A static factory (BpfMaps.create) computes the layout from the
// object's map definitions and allocates it all; BpfMaps.attach gives another thread views of
// the same memory. Nothing is allocated per lookup: keys are hashed and compared in place,
// values are addressed by their byte offset (a program's map value pointer is that offset).
//
// Layout (all offsets 8-aligned; `ncpus` = the run's CPUs):
//   0                      per map, CTL_WORDS i32: [LOCK, COUNT, CLOCK, SEED, ...] (128 bytes each,
//                          so that two maps' locks never share a cache line)
//   per CPU                COUNTER_SLOTS f64: the engine's counters of that CPU (vm.ts)
//   per CPU                TRACE_BYTES: the bpf_trace_printk ring of that CPU (trace.ts)
//   then per map           its regions:
//     array                values: max_entries * round_up(value_size, 8)       (array_map_alloc's elem_size)
//     percpu_array         values: max_entries * ncpus * round_up(value_size, 8)
//     hash, lru_hash,      states: capacity i32 (seq << 2 | EMPTY/FULL/DELETED/BUSY),
//     percpu_hash          stamps: capacity i32 (LRU), keys: capacity * round_up(key_size, 8),
//                          values: capacity [* ncpus] * round_up(value_size, 8);
//                          capacity = the power of two >= 2 * max_entries (open addressing,
//                          linear probing, at most half full)
//     cpumap, devmap       values: max_entries * 8 (struct bpf_cpumap_val / bpf_devmap_val:
//                          qsize or ifindex, then the program's fd/id); an entry exists when
//                          its first word is nonzero (cpu_map_update_elem: qsize 0 deletes)
//
// Hash maps: updates and deletes take the map's spinlock (shm/spinlock.ts; htab_lock_bucket
// in the kernel locks a bucket, one lock per map is enough at the rates programs update).
// Lookups take no lock: each slot's state word is a sequence lock. A writer bumps the
// sequence on every change (BUSY while it writes the key, then FULL, or DELETED); a reader
// loads the state, compares the key, loads the state again and retries the slot if it
// changed. A value pointer a program holds stays valid memory after a delete (as RCU keeps
// the kernel's element alive), but the slot may be reused by a later insert.

import { jhash_i32 } from '../uapi/jhash.js';
import { spin_lock, spin_unlock } from '../shm/spinlock.js';
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_CPUMAP,
  BPF_MAP_TYPE_DEVMAP,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
} from './insn.js';
import type { BpfMapDef } from './object.js';

export const CTL_WORDS = 32;
const CTL_LOCK = 0;
const CTL_COUNT = 1;
const CTL_CLOCK = 2;
const CTL_SEED = 3;
/** f64 counters per CPU (vm.ts names them). */
export const COUNTER_SLOTS = 16;
/** Bytes of bpf_trace_printk log per CPU. */
export const TRACE_BYTES = 16384;

// Slot states of the hash maps (low 2 bits of the state word).
const EMPTY = 0;
const FULL = 1;
const DELETED = 2;
const BUSY = 3;

// Update flags and errors, as the kernel returns them.
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const ENOENT = 2;
export const E2BIG = 7;
export const ENODEV = 19;
export const EEXIST = 17;
export const EINVAL = 22;
export const EOVERFLOW = 75;

/** The device a devmap entry may name: rxsmp has one net_device, ifindex 1. */
export const OUR_IFINDEX = 1;

export type MapKind = 'array' | 'percpu_array' | 'hash' | 'percpu_hash' | 'lru_hash' | 'cpumap' | 'devmap';

export interface MapLayout {
  def: BpfMapDef;
  kind: MapKind;
  /** i32 index of the map's control words. */
  ctl: number;
  /** Hash maps: slots (a power of two); others: max_entries. */
  capacity: number;
  /** Hash maps: i32 index of the state words and of the LRU stamps. */
  states: number;
  stamps: number;
  /** Hash maps: byte offset of the keys and their stride. */
  keys: number;
  kstride: number;
  /** Byte offset of the values, the stride of one value and how many value cells there are. */
  vbase: number;
  vstride: number;
  vcount: number;
  percpu: boolean;
}

export interface MapsLayout {
  maps: MapLayout[];
  ncpus: number;
  counters: number;
  trace: number;
  bytes: number;
}

const KINDS: Record<number, MapKind> = {
  [BPF_MAP_TYPE_ARRAY]: 'array',
  [BPF_MAP_TYPE_PERCPU_ARRAY]: 'percpu_array',
  [BPF_MAP_TYPE_HASH]: 'hash',
  [BPF_MAP_TYPE_PERCPU_HASH]: 'percpu_hash',
  [BPF_MAP_TYPE_LRU_HASH]: 'lru_hash',
  [BPF_MAP_TYPE_CPUMAP]: 'cpumap',
  [BPF_MAP_TYPE_DEVMAP]: 'devmap',
};

const round8 = (n: number) => (n + 7) & ~7;
/** A little-endian u32 (a map's u32 key, a cpumap/devmap value word). */
const le32 = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
const pow2AtLeast = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 8)));

export function mapsLayout(defs: readonly BpfMapDef[], ncpus: number): MapsLayout {
  let at = defs.length * CTL_WORDS * 4;
  const counters = at;
  at += ncpus * COUNTER_SLOTS * 8;
  const trace = at;
  at += ncpus * TRACE_BYTES;
  const maps = defs.map((def, i): MapLayout => {
    const kind = KINDS[def.type];
    const hashed = kind === 'hash' || kind === 'percpu_hash' || kind === 'lru_hash';
    const percpu = kind === 'percpu_array' || kind === 'percpu_hash';
    const capacity = hashed ? pow2AtLeast(2 * def.max_entries) : def.max_entries;
    const l: MapLayout = {
      def,
      kind,
      ctl: i * CTL_WORDS,
      capacity,
      states: 0,
      stamps: 0,
      keys: 0,
      kstride: 0,
      vbase: 0,
      vstride: 0,
      vcount: 0,
      percpu,
    };
    if (hashed) {
      l.states = at / 4;
      at += capacity * 4;
      l.stamps = at / 4;
      at += capacity * 4;
      at = round8(at);
      l.keys = at;
      l.kstride = round8(def.key_size);
      at += capacity * l.kstride;
    }
    l.vbase = at;
    l.vstride = kind === 'cpumap' || kind === 'devmap' ? 8 : round8(def.value_size);
    l.vcount = capacity * (percpu ? ncpus : 1);
    at += l.vcount * l.vstride;
    return l;
  });
  return { maps, ncpus, counters, trace, bytes: round8(at) };
}

/** One element as user space reads it: the key, and the value (per CPU for percpu maps). */
export interface MapEntry {
  key: Uint8Array;
  value: Uint8Array;
  /** percpu maps: each CPU's value. */
  percpu?: Uint8Array[];
}

export class BpfMaps {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly dv: DataView;
  readonly f64: Float64Array;

  private constructor(
    readonly layout: MapsLayout,
    readonly sab: SharedArrayBuffer,
  ) {
    this.u8 = new Uint8Array(sab);
    this.i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    this.dv = new DataView(sab);
    this.f64 = new Float64Array(sab, 0, sab.byteLength >> 3);
  }

  /** Allocate the maps of `defs` for `ncpus` CPUs, with global data's initial bytes; `seed` keys the hash maps' jhash. */
  static create(defs: readonly BpfMapDef[], ncpus: number, seed: number): BpfMaps {
    const layout = mapsLayout(defs, ncpus);
    const maps = new BpfMaps(layout, new SharedArrayBuffer(layout.bytes));
    layout.maps.forEach((l, i) => {
      // htab_map_alloc: hashrnd = get_random_int() unless BPF_F_ZERO_SEED; here from the run's seed.
      maps.i32[l.ctl + CTL_SEED] =
        (l.def.map_flags & 0x40) !== 0 ? 0 : jhash_i32(new Uint8Array(new Int32Array([seed, i]).buffer), 0, 8, 0x5eed);
      if (l.def.initial !== undefined) maps.u8.set(l.def.initial, l.vbase);
    });
    return maps;
  }

  /** Views of maps another thread allocated. */
  static attach(defs: readonly BpfMapDef[], ncpus: number, sab: SharedArrayBuffer): BpfMaps {
    const layout = mapsLayout(defs, ncpus);
    if (sab.byteLength !== layout.bytes) throw new Error(`BpfMaps.attach: ${sab.byteLength} bytes, layout needs ${layout.bytes}`);
    return new BpfMaps(layout, sab);
  }

  // ------------------------------------------------------------------ program side (no allocation)

  /**
   * bpf_map_lookup_elem: the byte offset of the value for the key at `key[koff..]` (this CPU's
   * value for percpu maps), or -1. Called from the program (softirq context); takes no lock.
   */
  lookup(m: number, key: Uint8Array, koff: number, cpu: number): number {
    const l = this.layout.maps[m];
    switch (l.kind) {
      case 'array':
      case 'percpu_array': {
        const k = le32(key, koff);
        if (k >= l.capacity) return -1;
        return l.vbase + (l.percpu ? k * this.layout.ncpus + cpu : k) * l.vstride;
      }
      case 'cpumap':
      case 'devmap': {
        const k = le32(key, koff);
        if (k >= l.capacity) return -1;
        const v = l.vbase + k * 8;
        return this.dv.getUint32(v, true) === 0 ? -1 : v;
      }
      default: {
        const slot = this.htab_find(l, key, koff);
        if (slot < 0) return -1;
        if (l.kind === 'lru_hash') {
          // bpf_lru_node_set_ref: mark the element used; a plain store, as the kernel's.
          const now = this.i32[l.ctl + CTL_CLOCK];
          if (this.i32[l.stamps + slot] !== now) this.i32[l.stamps + slot] = now;
        }
        return l.vbase + (l.percpu ? slot * this.layout.ncpus + cpu : slot) * l.vstride;
      }
    }
  }

  /** Whether entry `k` of a cpumap or devmap exists (__cpu_map_lookup_elem / __dev_map_lookup_elem). */
  redirectTarget(m: number, k: number): boolean {
    const l = this.layout.maps[m];
    return k >>> 0 < l.capacity && this.dv.getUint32(l.vbase + (k >>> 0) * 8, true) !== 0;
  }

  /**
   * bpf_map_update_elem from a program: 0 or -errno. percpu maps write this CPU's value (a new
   * element's other CPUs get zeros, as pcpu_init_value does for a program's update).
   */
  update(m: number, key: Uint8Array, koff: number, val: Uint8Array, voff: number, flags: number, cpu: number): number {
    return this.updateElem(m, key, koff, val, voff, flags, cpu, false);
  }

  /** bpf_map_delete_elem: 0 or -errno (arrays cannot delete: -EINVAL, as array_map_delete_elem). */
  delete(m: number, key: Uint8Array, koff: number): number {
    const l = this.layout.maps[m];
    if (l.kind === 'array' || l.kind === 'percpu_array') return -EINVAL;
    if (l.kind === 'cpumap' || l.kind === 'devmap') {
      const k = le32(key, koff);
      if (k >= l.capacity) return -EINVAL;
      this.u8.fill(0, l.vbase + k * 8, l.vbase + k * 8 + 8);
      return 0;
    }
    spin_lock(this.i32, l.ctl + CTL_LOCK);
    const slot = this.htab_find(l, key, koff);
    if (slot >= 0) {
      const s = this.i32[l.states + slot];
      Atomics.store(this.i32, l.states + slot, (((s >>> 2) + 1) << 2) | DELETED);
      this.i32[l.ctl + CTL_COUNT]--;
    }
    spin_unlock(this.i32, l.ctl + CTL_LOCK);
    return slot >= 0 ? 0 : -ENOENT;
  }

  /** The key's slot in a hash map, or -1. Lock-free: each slot's state word is a sequence lock. */
  private htab_find(l: MapLayout, key: Uint8Array, koff: number): number {
    const mask = l.capacity - 1;
    const ks = l.def.key_size;
    let i = jhash_i32(key, koff, ks, this.i32[l.ctl + CTL_SEED]) & mask;
    // Every slot once, plus a bounded number of re-reads of slots a writer changed under us.
    for (let probes = 0, retries = 0; probes < l.capacity; ) {
      const s1 = Atomics.load(this.i32, l.states + i);
      const st = s1 & 3;
      if (st === EMPTY) return -1;
      if (st === FULL) {
        const k = l.keys + i * l.kstride;
        let same = true;
        for (let b = 0; b < ks; b++) {
          if (this.u8[k + b] !== key[koff + b]) {
            same = false;
            break;
          }
        }
        if (Atomics.load(this.i32, l.states + i) !== s1 && retries++ < 64) continue;
        if (same) return i;
      }
      i = (i + 1) & mask;
      probes++;
    }
    return -1;
  }

  private updateElem(
    m: number,
    key: Uint8Array,
    koff: number,
    val: Uint8Array,
    voff: number,
    flags: number,
    cpu: number,
    allCpus: boolean,
  ): number {
    const l = this.layout.maps[m];
    if (flags > BPF_EXIST) return -EINVAL;
    const vs = l.def.value_size;
    const ncpus = this.layout.ncpus;
    switch (l.kind) {
      case 'array':
      case 'percpu_array': {
        // array_map_update_elem: every element exists, so BPF_NOEXIST fails.
        const k = le32(key, koff);
        if (k >= l.capacity) return -E2BIG;
        if (flags === BPF_NOEXIST) return -EEXIST;
        if (!l.percpu) this.u8.set(val.subarray(voff, voff + vs), l.vbase + k * l.vstride);
        else
          for (let c = 0; c < ncpus; c++)
            if (allCpus || c === cpu) this.u8.set(val.subarray(voff, voff + vs), l.vbase + (k * ncpus + c) * l.vstride);
        return 0;
      }
      case 'cpumap':
      case 'devmap':
        return this.redirectMapUpdate(l, key, koff, val, voff, flags);
    }
    spin_lock(this.i32, l.ctl + CTL_LOCK);
    let r: number;
    try {
      r = this.htab_update(l, key, koff, val, voff, flags, cpu, allCpus);
    } finally {
      spin_unlock(this.i32, l.ctl + CTL_LOCK);
    }
    return r;
  }

  /** htab_map_update_elem (and the LRU and percpu variants) with the map's lock held. */
  private htab_update(
    l: MapLayout,
    key: Uint8Array,
    koff: number,
    val: Uint8Array,
    voff: number,
    flags: number,
    cpu: number,
    allCpus: boolean,
  ): number {
    const ncpus = this.layout.ncpus;
    const vs = l.def.value_size;
    const writeValue = (slot: number, fresh: boolean) => {
      if (!l.percpu) {
        this.u8.set(val.subarray(voff, voff + vs), l.vbase + slot * l.vstride);
        return;
      }
      for (let c = 0; c < ncpus; c++) {
        const at = l.vbase + (slot * ncpus + c) * l.vstride;
        if (allCpus || c === cpu) this.u8.set(val.subarray(voff, voff + vs), at);
        else if (fresh) this.u8.fill(0, at, at + l.vstride);
      }
    };
    const found = this.htab_find(l, key, koff);
    if (found >= 0) {
      if (flags === BPF_NOEXIST) return -EEXIST;
      writeValue(found, false);
      if (l.kind === 'lru_hash') this.i32[l.stamps + found] = ++this.i32[l.ctl + CTL_CLOCK];
      return 0;
    }
    if (flags === BPF_EXIST) return -ENOENT;
    if (this.i32[l.ctl + CTL_COUNT] >= l.def.max_entries) {
      if (l.kind !== 'lru_hash') return -E2BIG;
      this.lru_evict(l);
    }
    const mask = l.capacity - 1;
    let i = jhash_i32(key, koff, l.def.key_size, this.i32[l.ctl + CTL_SEED]) & mask;
    while ((this.i32[l.states + i] & 3) === FULL) i = (i + 1) & mask; // at most half full: ends
    const s = this.i32[l.states + i];
    const seq = (s >>> 2) + 1;
    Atomics.store(this.i32, l.states + i, (seq << 2) | BUSY);
    this.u8.set(key.subarray(koff, koff + l.def.key_size), l.keys + i * l.kstride);
    writeValue(i, true);
    if (l.kind === 'lru_hash') this.i32[l.stamps + i] = ++this.i32[l.ctl + CTL_CLOCK];
    Atomics.store(this.i32, l.states + i, ((seq + 1) << 2) | FULL); // publish the element
    this.i32[l.ctl + CTL_COUNT]++;
    return 0;
  }

  /**
   * A full LRU map makes room: the element used least recently goes (the kernel's bpf_lru
   * shrinks a per-CPU list by its ref bits; here the oldest stamp, ties to the lowest slot).
   */
  private lru_evict(l: MapLayout): void {
    let victim = -1;
    let oldest = Infinity;
    for (let i = 0; i < l.capacity; i++) {
      if ((this.i32[l.states + i] & 3) !== FULL) continue;
      const age = this.i32[l.stamps + i];
      if (age < oldest) {
        oldest = age;
        victim = i;
      }
    }
    const s = this.i32[l.states + victim];
    Atomics.store(this.i32, l.states + victim, (((s >>> 2) + 1) << 2) | DELETED);
    this.i32[l.ctl + CTL_COUNT]--;
  }

  /** cpu_map_update_elem / dev_map_update_elem (5.10), the checks in their order. */
  private redirectMapUpdate(l: MapLayout, key: Uint8Array, koff: number, val: Uint8Array, voff: number, flags: number): number {
    const k = le32(key, koff);
    const first = le32(val, voff);
    const second = l.def.value_size === 8 ? le32(val, voff + 4) | 0 : 0;
    if (k >= l.capacity) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST;
    if (l.kind === 'cpumap') {
      if (first > 16384) return -EOVERFLOW; // sanity limit on qsize
      if (k >= this.layout.ncpus) return -ENODEV; // !cpu_possible(key_cpu)
    } else if (first !== 0 && first !== OUR_IFINDEX)
      return -ENODEV; // dev_get_by_index fails
    else if (first === 0 && second > 0) return -EINVAL; // "can not specify fd if ifindex is 0"
    this.dv.setUint32(l.vbase + k * 8, first, true);
    this.dv.setInt32(l.vbase + k * 8 + 4, first === 0 ? 0 : second, true);
    return 0;
  }

  // ------------------------------------------------------------------ user space (bpftool's view)

  /** `bpftool map update`: 0 or -errno. A percpu map's value goes to every CPU (bpftool duplicates it). */
  userUpdate(m: number, key: Uint8Array, val: Uint8Array, flags = BPF_ANY): number {
    return this.updateElem(m, key, 0, val, 0, flags, 0, true);
  }

  /** `bpftool map dump`: the elements (arrays: those with a nonzero byte on some CPU). Allocates: for reports. */
  entries(m: number): MapEntry[] {
    const l = this.layout.maps[m];
    const ncpus = this.layout.ncpus;
    const vs = l.def.value_size;
    const out: MapEntry[] = [];
    const valueAt = (cell: number) => this.u8.slice(l.vbase + cell * l.vstride, l.vbase + cell * l.vstride + vs);
    const nonzero = (b: Uint8Array) => b.some((x) => x !== 0);
    const keyOf = (k: number) => new Uint8Array(new Uint32Array([k]).buffer);
    for (let i = 0; i < l.capacity; i++) {
      let key: Uint8Array;
      if (l.kind === 'hash' || l.kind === 'percpu_hash' || l.kind === 'lru_hash') {
        if ((Atomics.load(this.i32, l.states + i) & 3) !== FULL) continue;
        key = this.u8.slice(l.keys + i * l.kstride, l.keys + i * l.kstride + l.def.key_size);
      } else key = keyOf(i);
      if (l.percpu) {
        const per = Array.from({ length: ncpus }, (_, c) => valueAt(i * ncpus + c));
        if (l.kind === 'percpu_array' && !per.some(nonzero)) continue;
        out.push({ key, value: per[0], percpu: per });
        continue;
      }
      const value = valueAt(i);
      if ((l.kind === 'array' || l.kind === 'cpumap' || l.kind === 'devmap') && !nonzero(value.subarray(0, l.kind === 'array' ? vs : 4)))
        continue;
      out.push({ key, value });
    }
    return out;
  }

  /** Elements held by a hash map now (its COUNT word). */
  count(m: number): number {
    return this.i32[this.layout.maps[m].ctl + CTL_COUNT];
  }

  /** A map's index by name, or -1. */
  indexOf(name: string): number {
    return this.layout.maps.findIndex((l) => l.def.name === name);
  }
}
