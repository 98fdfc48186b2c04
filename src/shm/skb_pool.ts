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

import { SKB_CACHE_SIZE } from './layout.js';
import type { Shm } from './memory.js';
import { spin_lock, spin_unlock } from './spinlock.js';

const HALF = SKB_CACHE_SIZE >> 1;

/** Fill the global free stack with every skb. Start-up only. */
export function skb_pool_init(shm: Shm): void {
  const n = shm.layout.skbCount;
  for (let i = 0; i < n; i++) shm.skb_free[i] = n - 1 - i;
  shm.i32[shm.ctlI + shm.layout.ctl.skb_free_top] = n;
  shm.skb_next.fill(-1);
  shm.skb_frag_next.fill(-1);
  shm.skb_frags.fill(-1);
}

/** Take up to `want` skbs from the global stack into `out` at `at`. Returns how many. */
export function skb_pool_take(shm: Shm, out: Int32Array, at: number, want: number): number {
  const lock = shm.ctlI + shm.layout.ctl.skb_free_lock;
  const top = shm.ctlI + shm.layout.ctl.skb_free_top;
  spin_lock(shm.i32, lock);
  const avail = shm.i32[top]!;
  const n = want < avail ? want : avail;
  for (let i = 0; i < n; i++) out[at + i] = shm.skb_free[avail - 1 - i]!;
  shm.i32[top] = avail - n;
  spin_unlock(shm.i32, lock);
  return n;
}

/** Return `n` skbs from `src` at `at` to the global stack. */
export function skb_pool_give(shm: Shm, src: Int32Array, at: number, n: number): void {
  const lock = shm.ctlI + shm.layout.ctl.skb_free_lock;
  const top = shm.ctlI + shm.layout.ctl.skb_free_top;
  spin_lock(shm.i32, lock);
  let t = shm.i32[top]!;
  for (let i = 0; i < n; i++) shm.skb_free[t++] = src[at + i]!;
  if (t > shm.layout.skbCount) throw new Error(`skb pool: free stack overflow (${t} > ${shm.layout.skbCount}): an skb was freed twice`);
  shm.i32[top] = t;
  spin_unlock(shm.i32, lock);
}

export function skb_pool_free_count(shm: Shm): number {
  return Atomics.load(shm.i32, shm.ctlI + shm.layout.ctl.skb_free_top);
}

/** A CPU's private cache of free skbs. Owned by one CPU; never shared. */
export class SkbCache {
  private readonly slots = new Int32Array(SKB_CACHE_SIZE);
  private count = 0;

  constructor(private readonly shm: Shm) {}

  /** An skb id, or -1 when the pool is exhausted. */
  alloc(): number {
    if (this.count === 0) {
      this.count = skb_pool_take(this.shm, this.slots, 0, HALF);
      if (this.count === 0) return -1;
    }
    return this.slots[--this.count]!;
  }

  free(skb: number): void {
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
