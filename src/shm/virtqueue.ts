// The split virtqueue of virtio 1.x (spec 2.7), laid out in the SharedArrayBuffer as the spec
// lays it out in guest memory, one per RX queue. Addresses in descriptors are byte offsets in
// the SharedArrayBuffer: the guest-physical address space of the emulated machine.
//
// Per queue, from its base (num = ring size, a power of two):
//
//   offset            size           field                                   written by
//   0                 16 × num       descriptor table: per entry             driver
//                                      +0  addr   u64 (le; high half 0)
//                                      +8  len    u32
//                                      +12 flags  u16 (NEXT 1, WRITE 2, INDIRECT 4)
//                                      +14 next   u16
//   A = 16·num        6 + 2·num      avail ring: flags u16, idx u16,          driver
//                                      ring[num] u16, used_event u16
//   U (128-aligned)   6 + 8·num      used ring: flags u16, idx u16,           device
//                                      ring[num] {id u32, len u32}, avail_event u16
//   N (128-aligned)   4              the notify register (a kick counter)     driver
//   D (128-aligned)   4 × DRV_FIELDS the driver's vring_virtqueue state       driver
//                     4 × num        desc_state[head].data: the buffer token  driver
//                     4 × num × 18   big packets: the pages of each buffer    driver
//   I (128-aligned)   16 × 19 × num  big packets: one indirect table per head driver
//
// The three parts the spec separates (descriptors and avail ring: driver-written; used ring:
// device-written) start on their own 128-byte lines, as do the notify register and the
// driver's private state, so the device's per-packet writes never share a line with the
// driver's. Memory ordering (spec 2.7.13 and 2.7.8): a side writes ring entries first and
// publishes the ring's idx after them with one Atomics.store (virtio_wmb / smp_wmb); the
// other side loads idx with Atomics.load (virtio_rmb / smp_rmb) and only then reads entries
// below it with plain loads. The suppression handshakes (used_event vs used idx; avail_event
// vs avail idx) are each a store then a load on both sides, sequentially consistent
// (virtio_mb / smp_mb), so one side always sees the other's write.
//
// The driver's state (vring_virtqueue: free_head, num_free, last_used_idx, the shadows) lives
// here, not in a worker's memory: the queue's napi may be polled on any CPU, as on Linux
// where the vring_virtqueue is kernel memory any CPU reads.

export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
export const VRING_USED_F_NO_NOTIFY = 1;
export const VRING_DESC_SIZE = 16;

// struct virtio_net_hdr_mrg_rxbuf, the header in front of every received frame (the ABI both
// the guest driver and QEMU's device model write and read).
/** sizeof(struct virtio_net_hdr_mrg_rxbuf) (VERSION_1 or MRG_RXBUF). */
export const VIRTIO_NET_HDR_LEN = 12;
/** Offset of num_buffers (u16, little-endian). */
export const VIRTIO_NET_HDR_NUM_BUFFERS_OFF = 10;
/** Beyond the spec, in the header's flags: the frame was stamped for the latency sample. */
export const VIRTIO_NET_HDR_F_RXSMP_TSTAMP = 0x80;
export const VRING_DESC_I32 = 4; // i32 words per descriptor

/** The driver's fields of vring_virtqueue (split), i32 each, at D. */
export const DRV = {
  free_head: 0,
  num_free: 1,
  last_used_idx: 2, // u16, wraps
  avail_idx_shadow: 3, // u16, wraps
  avail_flags_shadow: 4,
  num_added: 5,
  mrg_avg_pkt_len: 6, // the receive queue's EWMA of packet lengths (mergeable buffers)
  fields: 8,
} as const;

export interface VqLayout {
  readonly stride: number; // bytes per queue (128-aligned)
  readonly avail: number; // byte offsets from the queue's base
  readonly used: number;
  readonly notify: number;
  readonly drv: number;
  readonly tokens: number;
  readonly pages: number;
  readonly indirect: number;
}

const a128 = (n: number) => Math.ceil(n / 128) * 128;

/** The byte layout of one virtqueue of `num` entries (`big`: big-packets tables too). */
export function vqLayout(num: number, big: boolean, bigSg: number): VqLayout {
  if ((num & (num - 1)) !== 0 || num < 2 || num > 32768) throw new RangeError(`virtqueue size ${num}: a power of two up to 32768`);
  const avail = VRING_DESC_SIZE * num;
  const used = a128(avail + 6 + 2 * num);
  const notify = a128(used + 6 + 8 * num);
  const drv = a128(notify + 4);
  const tokens = drv + 4 * DRV.fields;
  const pages = tokens + 4 * num;
  const indirect = a128(pages + (big ? 4 * num * (bigSg - 1) : 0));
  const stride = a128(indirect + (big ? VRING_DESC_SIZE * bigSg * num : 0));
  return { stride, avail, used, notify, drv, tokens, pages, indirect };
}

/**
 * vring_need_event (include/uapi/linux/virtio_ring.h): with EVENT_IDX, notify the other side
 * if `event_idx` lies in [old, new) — the indices published since it last looked, mod 2^16.
 */
export function vring_need_event(event_idx: number, new_idx: number, old: number): boolean {
  return ((new_idx - event_idx - 1) & 0xffff) < ((new_idx - old) & 0xffff);
}

/**
 * One virtqueue's views: element indices into the run's shared Int32Array and Uint16Array.
 * Built once at attach time, in every thread; nothing here allocates afterwards.
 */
export class Vq {
  /** i32 index of descriptor 0's first word. */
  readonly desc: number;
  /** u16 indices: avail flags, idx, ring[0], used_event. */
  readonly avail_flags: number;
  readonly avail_idx: number;
  readonly avail_ring: number;
  readonly used_event: number;
  /** u16 indices: used flags, idx, avail_event; i32 index of used ring[0].id (len follows). */
  readonly used_flags: number;
  readonly used_idx: number;
  readonly used_ring: number;
  readonly avail_event: number;
  /** i32 indices: the notify register, the driver's state, tokens, pages; byte offset of the indirect tables. */
  readonly notify: number;
  readonly drv: number;
  readonly tokens: number;
  readonly pages: number;
  readonly indirect_bytes: number;

  constructor(
    base: number,
    readonly num: number,
    L: VqLayout,
  ) {
    this.desc = base / 4;
    this.avail_flags = (base + L.avail) / 2;
    this.avail_idx = this.avail_flags + 1;
    this.avail_ring = this.avail_flags + 2;
    this.used_event = this.avail_ring + num;
    this.used_flags = (base + L.used) / 2;
    this.used_idx = this.used_flags + 1;
    this.used_ring = (base + L.used + 4) / 4;
    this.avail_event = this.used_flags + 2 + 4 * num;
    this.notify = (base + L.notify) / 4;
    this.drv = (base + L.drv) / 4;
    this.tokens = (base + L.tokens) / 4;
    this.pages = (base + L.pages) / 4;
    this.indirect_bytes = base + L.indirect;
  }
}
