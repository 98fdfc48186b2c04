// The driver's side of a split virtqueue (drivers/virtio/virtio_ring.c, Linux 5.10, the
// *_split functions), over the layout of shm/virtqueue.ts.
//
// Every function runs on whichever CPU owns the queue's napi at the time (or at ifup, before
// any CPU runs): the queue's state is in shared memory and a napi is polled by one CPU at a
// time, so plain loads and stores of the driver's own fields are safe; only the fields the
// device reads or writes (avail idx, used_event, used idx, avail_event, used flags) are
// Atomics. Nothing here allocates: out-parameters go in vring_out.

import type { Shm } from '../shm/memory.js';
import {
  DRV,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_DESC_I32,
  VRING_DESC_SIZE,
  VRING_USED_F_NO_NOTIFY,
  vring_need_event,
} from '../shm/virtqueue.js';
import { assertion_failed } from '../shm/assert.js';

/** virtqueue_get_buf's out-parameters: [len, head] of the buffer last returned. */
export const vring_out = new Int32Array(2);

/** vring_create_virtqueue_split's initial state: every descriptor on the free list. */
export function vring_init(shm: Shm, q: number): void {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  for (let i = 0; i < vq.num; i++) i32[vq.desc + i * VRING_DESC_I32 + 3] = ((i + 1) & 0xffff) << 16;
  const d = vq.drv;
  i32[d + DRV.free_head] = 0;
  i32[d + DRV.num_free] = vq.num;
  i32[d + DRV.last_used_idx] = 0;
  i32[d + DRV.avail_idx_shadow] = 0;
  // No callbacks wanted until the driver enables them (virtqueue_disable_cb at creation
  // without a callback; virtio_net enables them at ifup): start enabled, as vring_interrupt expects.
  i32[d + DRV.avail_flags_shadow] = 0;
  i32[d + DRV.num_added] = 0;
  i32.fill(-1, vq.tokens, vq.tokens + vq.num);
}

function desc_write(shm: Shm, at: number, addr: number, len: number, flags: number, next: number): void {
  const i32 = shm.i32;
  i32[at] = addr;
  i32[at + 1] = 0; // addr, high half: the guest-physical space is below 4 GiB
  i32[at + 2] = len;
  i32[at + 3] = (flags & 0xffff) | ((next & 0xffff) << 16);
}

function desc_flags(shm: Shm, q: number, i: number): number {
  return shm.i32[shm.vq[q].desc + i * VRING_DESC_I32 + 3] & 0xffff;
}

function desc_next(shm: Shm, q: number, i: number): number {
  return shm.i32[shm.vq[q].desc + i * VRING_DESC_I32 + 3] >>> 16;
}

/**
 * virtqueue_add_split for one device-writable buffer (add_recvbuf_mergeable's one sg):
 * take the free head, write its descriptor, put it in the avail ring, publish avail->idx.
 * The caller checked num_free > 0.
 */
export function virtqueue_add_inbuf(shm: Shm, q: number, addr: number, len: number, token: number): void {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  const d = vq.drv;
  const head = i32[d + DRV.free_head];
  if (i32[d + DRV.num_free] < 1) assertion_failed(`virtio rx queue ${q}: the driver adds a buffer with no free descriptor`);
  desc_write(shm, vq.desc + head * VRING_DESC_I32, addr, len, VRING_DESC_F_WRITE, desc_next(shm, q, head));
  i32[d + DRV.free_head] = desc_next(shm, q, head);
  i32[d + DRV.num_free] -= 1;
  vring_publish(shm, q, head, token);
}

/**
 * virtqueue_add_split with an indirect table (VIRTIO_RING_F_INDIRECT_DESC, as QEMU offers
 * and Linux uses for any buffer of more than one sg): add_recvbuf_big's MAX_SKB_FRAGS + 2
 * entries, `sg_addr[k]`/`sg_len[k]` for k < n, in one ring slot.
 */
export function virtqueue_add_inbuf_indirect(shm: Shm, q: number, sg_addr: Int32Array, sg_len: Int32Array, n: number, token: number): void {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  const d = vq.drv;
  const head = i32[d + DRV.free_head];
  if (i32[d + DRV.num_free] < 1) assertion_failed(`virtio rx queue ${q}: the driver adds a buffer with no free descriptor`);
  const table = vq.indirect_bytes + head * n * VRING_DESC_SIZE;
  for (let k = 0; k < n; k++) {
    desc_write(
      shm,
      table / 4 + k * VRING_DESC_I32,
      sg_addr[k],
      sg_len[k],
      k + 1 < n ? VRING_DESC_F_WRITE | VRING_DESC_F_NEXT : VRING_DESC_F_WRITE,
      k + 1,
    );
  }
  desc_write(shm, vq.desc + head * VRING_DESC_I32, table, n * VRING_DESC_SIZE, VRING_DESC_F_INDIRECT, desc_next(shm, q, head));
  i32[d + DRV.free_head] = desc_next(shm, q, head);
  i32[d + DRV.num_free] -= 1;
  vring_publish(shm, q, head, token);
}

/** The tail of virtqueue_add_split: the token, the avail entry, then (virtio_wmb) avail->idx. */
function vring_publish(shm: Shm, q: number, head: number, token: number): void {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  const d = vq.drv;
  i32[vq.tokens + head] = token;
  const shadow = i32[d + DRV.avail_idx_shadow];
  shm.u16[vq.avail_ring + (shadow & (vq.num - 1))] = head;
  const next = (shadow + 1) & 0xffff;
  i32[d + DRV.avail_idx_shadow] = next;
  Atomics.store(shm.u16, vq.avail_idx, next); // the entry above is visible before the index
  i32[d + DRV.num_added] += 1;
}

/**
 * virtqueue_kick_prepare_split: after virtio_mb, does the device want a notification for the
 * buffers added since the last call? EVENT_IDX: avail_event crossed; otherwise NO_NOTIFY clear.
 */
export function virtqueue_kick_prepare(shm: Shm, q: number, event_idx: boolean): boolean {
  const vq = shm.vq[q];
  const d = vq.drv;
  const i32 = shm.i32;
  const new_idx = i32[d + DRV.avail_idx_shadow];
  const old = (new_idx - i32[d + DRV.num_added]) & 0xffff;
  i32[d + DRV.num_added] = 0;
  if (event_idx) return vring_need_event(Atomics.load(shm.u16, vq.avail_event), new_idx, old);
  return (Atomics.load(shm.u16, vq.used_flags) & VRING_USED_F_NO_NOTIFY) === 0;
}

/** virtqueue_notify: write the queue's notify register (a vmexit on a real guest: QEMU's ioeventfd). */
export function virtqueue_notify(shm: Shm, q: number): void {
  const at = shm.vq[q].notify;
  Atomics.add(shm.i32, at, 1);
  Atomics.notify(shm.i32, at);
}

/** more_used_split: has the device published used entries the driver has not taken? */
export function more_used(shm: Shm, q: number): boolean {
  const vq = shm.vq[q];
  return shm.i32[vq.drv + DRV.last_used_idx] !== Atomics.load(shm.u16, vq.used_idx);
}

/**
 * virtqueue_get_buf_ctx_split: the next used buffer's token, or -1. Its length and head go in
 * vring_out. The used idx is loaded first (virtio_rmb): the entry below it is then complete.
 * With callbacks on, used_event follows last_used_idx (virtio_store_mb).
 */
export function virtqueue_get_buf(shm: Shm, q: number): number {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  const d = vq.drv;
  const last = i32[d + DRV.last_used_idx];
  const used = Atomics.load(shm.u16, vq.used_idx);
  if (last === used) return -1;
  // Always on (the values are loaded anyway): the device's used idx within a ring of ours, its
  // entry a descriptor, and that descriptor one the driver made available (its token set).
  if (((used - last) & 0xffff) > vq.num) used_idx_bad(q, used, last, vq.num);
  const e = vq.used_ring + 2 * (last & (vq.num - 1));
  const head = i32[e];
  const len = i32[e + 1];
  if (head < 0 || head >= vq.num)
    assertion_failed(`virtio rx used entry ${last} on queue ${q} holds id ${head}, not a descriptor (read by the driver)`);
  const token = i32[vq.tokens + head];
  if (token < 0)
    assertion_failed(`virtio rx desc ${head} on queue ${q} returned by the device while owned by the driver (it was not available)`);
  detach_buf(shm, q, head);
  const next = (last + 1) & 0xffff;
  i32[d + DRV.last_used_idx] = next;
  if ((i32[d + DRV.avail_flags_shadow] & VRING_AVAIL_F_NO_INTERRUPT) === 0) Atomics.store(shm.u16, vq.used_event, next);
  vring_out[0] = len;
  vring_out[1] = head;
  return token;
}

function used_idx_bad(q: number, used: number, last: number, num: number): never {
  return assertion_failed(
    `virtio rx used idx ${used} on queue ${q} is more than the ring's ${num} ahead of the driver's last_used_idx ${last} (read by the driver)`,
  );
}

/** detach_buf_split: the head's chain back on the free list. */
function detach_buf(shm: Shm, q: number, head: number): void {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  const d = vq.drv;
  i32[vq.tokens + head] = -1;
  let i = head;
  let freed = 1;
  while (desc_flags(shm, q, i) & VRING_DESC_F_NEXT) {
    i = desc_next(shm, q, i);
    freed++;
  }
  const w = vq.desc + i * VRING_DESC_I32 + 3;
  i32[w] = (i32[w] & 0xffff) | ((i32[d + DRV.free_head] & 0xffff) << 16);
  i32[d + DRV.free_head] = head;
  i32[d + DRV.num_free] += freed;
}

/**
 * virtqueue_disable_cb_split: no interrupts wanted. With EVENT_IDX only the shadow changes
 * (used_event is left behind, which is enough); otherwise VRING_AVAIL_F_NO_INTERRUPT is written.
 */
export function virtqueue_disable_cb(shm: Shm, q: number, event_idx: boolean): void {
  const vq = shm.vq[q];
  const at = vq.drv + DRV.avail_flags_shadow;
  const flags = shm.i32[at];
  if (flags & VRING_AVAIL_F_NO_INTERRUPT) return;
  shm.i32[at] = flags | VRING_AVAIL_F_NO_INTERRUPT;
  if (!event_idx) Atomics.store(shm.u16, vq.avail_flags, flags | VRING_AVAIL_F_NO_INTERRUPT);
}

/**
 * virtqueue_enable_cb_prepare_split: interrupts wanted again, from last_used_idx on: clear
 * NO_INTERRUPT and set used_event = last_used_idx. Returns the index to hand to virtqueue_poll.
 */
export function virtqueue_enable_cb_prepare(shm: Shm, q: number, event_idx: boolean): number {
  const vq = shm.vq[q];
  const i32 = shm.i32;
  const d = vq.drv;
  const last = i32[d + DRV.last_used_idx];
  const flags = i32[d + DRV.avail_flags_shadow];
  if (flags & VRING_AVAIL_F_NO_INTERRUPT) {
    i32[d + DRV.avail_flags_shadow] = flags & ~VRING_AVAIL_F_NO_INTERRUPT;
    if (!event_idx) Atomics.store(shm.u16, vq.avail_flags, flags & ~VRING_AVAIL_F_NO_INTERRUPT);
  }
  Atomics.store(shm.u16, vq.used_event, last);
  return last;
}

/** virtqueue_poll_split: after virtio_mb, did the device use buffers past `last_used_idx`? */
export function virtqueue_poll(shm: Shm, q: number, last_used_idx: number): boolean {
  return last_used_idx !== Atomics.load(shm.u16, shm.vq[q].used_idx);
}

/** vq->num_free. */
export function virtqueue_num_free(shm: Shm, q: number): number {
  return shm.i32[shm.vq[q].drv + DRV.num_free];
}

/** Pool slots the buffers posted on queue `q` hold, `slots` per buffer (big packets: its pages). */
export function virtqueue_slots_in_use(shm: Shm, q: number, slots: number): number {
  return (shm.cfg.ring_size - virtqueue_num_free(shm, q)) * slots;
}
