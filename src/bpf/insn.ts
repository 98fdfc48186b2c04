// The BPF instruction set as include/uapi/linux/bpf.h and bpf_common.h define it, and the
// numbers of the helpers and map types rxsmp knows.
//
// struct bpf_insn (8 bytes): code u8 @0, dst_reg:4 | src_reg:4 (little-endian: dst in the low
// nibble) @1, off s16 @2, imm s32 @4. ld_imm64 (BPF_LD|BPF_IMM|BPF_DW) takes two slots, the
// second holding the upper 32 bits in its imm.

// ---- classes (code & 0x07)
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// ---- size (code & 0x18) and mode (code & 0xe0) of loads and stores
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
/** BPF_ATOMIC (was BPF_XADD): the operation is in imm. */
export const BPF_ATOMIC = 0xc0;

// ---- ALU operations (code & 0xf0), source (code & 0x08)
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;
/** BPF_END's source bit: BPF_TO_LE (0) or BPF_TO_BE (8). */
export const BPF_TO_BE = 0x08;

// ---- jumps
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

// ---- atomic operations (imm of BPF_STX|BPF_ATOMIC)
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// ---- src_reg of ld_imm64 and call
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** The stack every program gets (MAX_BPF_STACK); r10 points at its end. */
export const MAX_BPF_STACK = 512;

/** The instructions of a program, decoded once into arrays (index = instruction slot). */
export interface Insns {
  readonly length: number;
  readonly code: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
}

/** Decode raw instruction bytes (a multiple of 8). */
export function decodeInsns(raw: Uint8Array): Insns {
  const n = raw.length >> 3;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = {
    length: n,
    code: new Uint8Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int16Array(n),
    imm: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    out.code[i] = raw[i * 8];
    out.dst[i] = raw[i * 8 + 1] & 0xf;
    out.src[i] = raw[i * 8 + 1] >> 4;
    out.off[i] = dv.getInt16(i * 8 + 2, true);
    out.imm[i] = dv.getInt32(i * 8 + 4, true);
  }
  return out;
}

/** Encode one instruction (tests and the fuzz generator write programs with this). */
export function encodeInsn(out: Uint8Array, at: number, code: number, dst: number, src: number, off: number, imm: number): void {
  out[at] = code;
  out[at + 1] = (dst & 0xf) | ((src & 0xf) << 4);
  out[at + 2] = off & 0xff;
  out[at + 3] = (off >> 8) & 0xff;
  out[at + 4] = imm & 0xff;
  out[at + 5] = (imm >> 8) & 0xff;
  out[at + 6] = (imm >> 16) & 0xff;
  out[at + 7] = (imm >>> 24) & 0xff;
}

// ---- helpers (enum bpf_func_id)
export const BPF_FUNC_map_lookup_elem = 1;
export const BPF_FUNC_map_update_elem = 2;
export const BPF_FUNC_map_delete_elem = 3;
export const BPF_FUNC_ktime_get_ns = 5;
export const BPF_FUNC_trace_printk = 6;
export const BPF_FUNC_get_prandom_u32 = 7;
export const BPF_FUNC_get_smp_processor_id = 8;
export const BPF_FUNC_redirect = 23;
export const BPF_FUNC_csum_diff = 28;
export const BPF_FUNC_xdp_adjust_head = 44;
export const BPF_FUNC_redirect_map = 51;
export const BPF_FUNC_xdp_adjust_tail = 65;

/** The helpers rxsmp runs, by id, with their kernel names. */
export const HELPERS: ReadonlyMap<number, string> = new Map([
  [BPF_FUNC_map_lookup_elem, 'bpf_map_lookup_elem'],
  [BPF_FUNC_map_update_elem, 'bpf_map_update_elem'],
  [BPF_FUNC_map_delete_elem, 'bpf_map_delete_elem'],
  [BPF_FUNC_ktime_get_ns, 'bpf_ktime_get_ns'],
  [BPF_FUNC_trace_printk, 'bpf_trace_printk'],
  [BPF_FUNC_get_prandom_u32, 'bpf_get_prandom_u32'],
  [BPF_FUNC_get_smp_processor_id, 'bpf_get_smp_processor_id'],
  [BPF_FUNC_redirect, 'bpf_redirect'],
  [BPF_FUNC_csum_diff, 'bpf_csum_diff'],
  [BPF_FUNC_xdp_adjust_head, 'bpf_xdp_adjust_head'],
  [BPF_FUNC_redirect_map, 'bpf_redirect_map'],
  [BPF_FUNC_xdp_adjust_tail, 'bpf_xdp_adjust_tail'],
]);

/** Helpers of Linux 5.10 an XDP program may call that rxsmp does not model, named in the refusal. */
export const HELPERS_NOT_MODELLED: ReadonlyMap<number, string> = new Map([
  [4, 'bpf_probe_read'],
  [12, 'bpf_tail_call'],
  [25, 'bpf_perf_event_output'],
  [54, 'bpf_xdp_adjust_meta'],
  [69, 'bpf_fib_lookup'],
  [86, 'bpf_map_push_elem'],
  [87, 'bpf_map_pop_elem'],
  [88, 'bpf_map_peek_elem'],
  [93, 'bpf_spin_lock'],
  [94, 'bpf_spin_unlock'],
  [125, 'bpf_ktime_get_boot_ns'],
  [130, 'bpf_ringbuf_output'],
  [131, 'bpf_ringbuf_reserve'],
  [132, 'bpf_ringbuf_submit'],
]);

/** The last helper id of Linux 5.10 (__BPF_FUNC_MAX_ID - 1 = BPF_FUNC_ima_inode_hash). */
export const BPF_FUNC_MAX_ID_5_10 = 162;

// ---- map types (enum bpf_map_type)
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_MAP_TYPE_LRU_HASH = 9;
export const BPF_MAP_TYPE_DEVMAP = 14;
export const BPF_MAP_TYPE_CPUMAP = 16;

/** The map types rxsmp models, with their names as bpftool prints them. */
export const MAP_TYPES: ReadonlyMap<number, string> = new Map([
  [BPF_MAP_TYPE_HASH, 'hash'],
  [BPF_MAP_TYPE_ARRAY, 'array'],
  [BPF_MAP_TYPE_PERCPU_HASH, 'percpu_hash'],
  [BPF_MAP_TYPE_PERCPU_ARRAY, 'percpu_array'],
  [BPF_MAP_TYPE_LRU_HASH, 'lru_hash'],
  [BPF_MAP_TYPE_DEVMAP, 'devmap'],
  [BPF_MAP_TYPE_CPUMAP, 'cpumap'],
]);

/** Map types of Linux 5.10 that rxsmp does not model, named in the refusal (bpftool's names). */
export const MAP_TYPES_NOT_MODELLED: ReadonlyMap<number, string> = new Map([
  [3, 'prog_array'],
  [4, 'perf_event_array'],
  [7, 'stack_trace'],
  [8, 'cgroup_array'],
  [10, 'lru_percpu_hash'],
  [11, 'lpm_trie'],
  [12, 'array_of_maps'],
  [13, 'hash_of_maps'],
  [15, 'sockmap'],
  [17, 'xskmap'],
  [18, 'sockhash'],
  [19, 'cgroup_storage'],
  [20, 'reuseport_sockarray'],
  [21, 'percpu_cgroup_storage'],
  [22, 'queue'],
  [23, 'stack'],
  [24, 'sk_storage'],
  [25, 'devmap_hash'],
  [26, 'struct_ops'],
  [27, 'ringbuf'],
  [28, 'inode_storage'],
]);

// ---- XDP (enum xdp_action, struct xdp_md)
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;
export const XDP_ACTIONS = ['aborted', 'drop', 'pass', 'tx', 'redirect'] as const;

/** struct xdp_md: the offsets a program reads (each a u32). */
export const XDP_MD_DATA = 0;
export const XDP_MD_DATA_END = 4;
export const XDP_MD_DATA_META = 8;
export const XDP_MD_INGRESS_IFINDEX = 12;
export const XDP_MD_RX_QUEUE_INDEX = 16;
export const XDP_MD_EGRESS_IFINDEX = 20;
export const XDP_MD_SIZE = 24;
