// The skb pool: a fixed array of skbs (structure of arrays in shared memory, see memory.ts),
// each owning one frame buffer, with a global free stack under a spinlock and a per-CPU
// cache in front of it (as napi_alloc_cache / the per-CPU page lists do in Linux).
//
// skbs cross CPUs: the driver of CPU 0 allocates, the application on CPU 1 frees. The per-CPU
// cache makes that cheap: it refills and spills half its size at a time, so the global lock
// is taken once per SKB_CACHE_SIZE / 2 packets at most.
//
// The pool is the bound on memory: when it is empty, the driver's refill fails
// (alloc_failed), the RX ring runs dry and the device counts rx_missed, as on a real box
// under memory pressure.
//
// Assertions (docs/design.md, "Assertions"). Always on, per batch under the pool's lock: the
// free stack's top within 0..count, and every id taken or given back a pool index. Under
// --debug-asserts, per skb: a byte in shared memory (Shm.skb_state) says whether it is in the
// pool (1) or in use (0), so a double free, a free of an id out of range and an alloc of an skb
// still in use (one on the free stack twice) fail where they happen, naming the CPU.

import { SKB_CACHE_SIZE } from './layout.js';
import type { Shm } from './memory.js';
import { spin_lock, spin_unlock } from './spinlock.js';
import { assertion_failed } from './assert.js';

const HALF = SKB_CACHE_SIZE >> 1;

/** Fill the global free stack with every skb. Start-up only. */
export function skb_pool_init(shm: Shm): void {
  const n = shm.layout.skbCount;
  for (let i = 0; i < n; i++) shm.skb_free[i] = n - 1 - i;
  shm.i32[shm.ctlI + shm.layout.CTL.skb_free_top] = n;
  shm.skb_next.fill(-1);
  shm.skb_frag_next.fill(-1);
  shm.skb_frags.fill(-1);
  shm.skb_state.fill(1);
}

/** Take up to `want` skbs from the global stack into `out` at `at`. Returns how many. */
export function skb_pool_take(shm: Shm, out: Int32Array, at: number, want: number): number {
  const lock = shm.ctlI + shm.layout.CTL.skb_free_lock;
  const top = shm.ctlI + shm.layout.CTL.skb_free_top;
  const count = shm.layout.skbCount;
  spin_lock(shm.i32, lock);
  const avail = shm.i32[top];
  if (avail < 0 || avail > count) skb_pool_top_bad('take', avail, count);
  const n = want < avail ? want : avail;
  for (let i = 0; i < n; i++) {
    const skb = shm.skb_free[avail - 1 - i];
    if (skb >>> 0 >= count) skb_pool_id_bad('taken from', skb, avail - 1 - i, count);
    out[at + i] = skb;
  }
  shm.i32[top] = avail - n;
  spin_unlock(shm.i32, lock);
  return n;
}

/**
 * skb_pool_take for skbs that go straight into use (the rings' first buffers at ifup): with
 * --debug-asserts, each is marked in use. Start-up only.
 */
export function skb_pool_take_in_use(shm: Shm, out: Int32Array, at: number, want: number): number {
  const n = skb_pool_take(shm, out, at, want);
  if (shm.cfg.debug_asserts) for (let i = 0; i < n; i++) skb_state_alloc(shm, out[at + i], -1);
  return n;
}

function skb_pool_top_bad(op: string, top: number, count: number): never {
  assertion_failed(`skb pool ${op}: the free stack's top is ${top}, outside 0..${count} (the pool's count is corrupt)`);
}

function skb_pool_give_bad(top: number, n: number, count: number): never {
  if (top < 0) skb_pool_top_bad('give', top, count);
  assertion_failed(`skb pool: giving back ${n} skbs at top ${top} overflows the free stack of ${count}: an skb was freed twice`);
}

function skb_pool_id_bad(op: string, skb: number, slot: number, count: number): never {
  assertion_failed(`skb pool: skb ${skb} ${op} free stack slot ${slot} is not a pool index (0..${count - 1})`);
}

/** --debug-asserts: skb `skb` leaves the pool for use on CPU `cpu` (-1: at start-up). */
function skb_state_alloc(shm: Shm, skb: number, cpu: number): void {
  if (shm.skb_state[skb] !== 1) {
    assertion_failed(
      `skb pool: skb ${skb} allocated ${cpu < 0 ? 'at start-up' : `on cpu ${cpu}`} while in use (it was on the free stack twice)`,
    );
  }
  shm.skb_state[skb] = 0;
}

/** --debug-asserts: skb `skb` comes back to the pool from CPU `cpu`. */
function skb_state_free(shm: Shm, skb: number, cpu: number): void {
  const count = shm.layout.skbCount;
  if (!(Number.isInteger(skb) && skb >= 0 && skb < count))
    assertion_failed(`skb pool: cpu ${cpu} freed skb ${skb}, not a pool index (0..${count - 1})`);
  if (shm.skb_state[skb] !== 0) assertion_failed(`skb pool: cpu ${cpu} freed skb ${skb}, which is already free (double free)`);
  shm.skb_state[skb] = 1;
}

/** Return `n` skbs from `src` at `at` to the global stack. */
export function skb_pool_give(shm: Shm, src: Int32Array, at: number, n: number): void {
  const lock = shm.ctlI + shm.layout.CTL.skb_free_lock;
  const top = shm.ctlI + shm.layout.CTL.skb_free_top;
  const count = shm.layout.skbCount;
  spin_lock(shm.i32, lock);
  let t = shm.i32[top];
  if (t < 0 || t + n > count) skb_pool_give_bad(t, n, count);
  for (let i = 0; i < n; i++) {
    const skb = src[at + i];
    if (skb >>> 0 >= count) skb_pool_id_bad('given to', skb, t, count);
    shm.skb_free[t++] = skb;
  }
  shm.i32[top] = t;
  spin_unlock(shm.i32, lock);
}

export function skb_pool_free_count(shm: Shm): number {
  return Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.skb_free_top);
}

/** A CPU's private cache of free skbs. Owned by one CPU; never shared. */
export class SkbCache {
  private readonly slots = new Int32Array(SKB_CACHE_SIZE);
  private count = 0;
  /** --debug-asserts, read once: check each skb's pool state (skb_state) as it is allocated and freed. */
  private readonly debug_asserts: boolean;

  constructor(
    private readonly shm: Shm,
    /** The CPU that owns this cache (-1: not a CPU's), for an assertion's line. */
    private readonly cpu = -1,
  ) {
    this.debug_asserts = shm.cfg.debug_asserts;
  }

  /** An skb id, or -1 when the pool is exhausted. */
  alloc(): number {
    if (this.count === 0) {
      this.count = skb_pool_take(this.shm, this.slots, 0, HALF);
      if (this.count === 0) return -1;
    }
    const skb = this.slots[--this.count];
    if (this.debug_asserts) skb_state_alloc(this.shm, skb, this.cpu);
    return skb;
  }

  free(skb: number): void {
    if (this.debug_asserts) skb_state_free(this.shm, skb, this.cpu);
    if (this.count === SKB_CACHE_SIZE) {
      skb_pool_give(this.shm, this.slots, HALF, HALF);
      this.count = HALF;
    }
    this.slots[this.count++] = skb;
  }

  /** Give everything back (CPU going down). */
  drain(): void {
    skb_pool_give(this.shm, this.slots, 0, this.count);
    this.count = 0;
  }

  get cached(): number {
    return this.count;
  }
}
