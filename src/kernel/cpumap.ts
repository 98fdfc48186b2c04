// kernel/bpf/cpumap.c (5.10): XDP's redirect to another CPU, the "other RPS". A program's
// bpf_redirect_map(&cpu_map, cpu, 0) makes the driver's xdp_do_redirect call cpu_map_enqueue,
// which puts the frame on this CPU's bulk queue for that entry (bq_enqueue, CPU_MAP_BULK_SIZE
// frames); a full bulk queue, and at the end of the driver's poll __cpu_map_flush, moves the
// bulk into the entry's ptr_ring under its producer lock (bq_flush_to_queue) and wakes the
// entry's kthread (cpumap/<cpu>/map:<id>), which takes up to CPUMAP_BATCH frames at a time,
// runs the entry's optional second program, builds an skb for each and calls
// netif_receive_skb_core: one skb at a time, no RPS, no GRO, on the kthread's CPU.
//
// These are the pure data-structure halves; the driver hook, xdp_do_redirect and the kthread
// as a scheduler entity are phase 2 of issue 25 (docs/xdp.md). A frame is an int32 handle
// (the driver's buffer index); what to do with it is the caller's (CpuMapOps).
//
// Shared memory (one SharedArrayBuffer for the map; every CPU produces, one kthread consumes):
//   per entry (key = target CPU), at entryBase(key), i32 words:
//     0  PRODUCER_LOCK   spin_lock(&q->producer_lock) (shm/spinlock.ts)
//     1  PRODUCER        next slot a producer fills
//     32 CONSUMER_HEAD   next slot the kthread takes        } on their own 128 bytes: the
//     33 CONSUMER_TAIL   first slot not yet zeroed           } ptr_ring's ____cacheline_aligned_in_smp
//     34 SIZE, 35 BATCH  ptr_ring_init's size (qsize) and r->batch
//     64...              the ring's slots: 0 = NULL, else frame handle + 1
//   counters (f64 per entry, COUNTERS of them): the xdp_cpumap_enqueue and xdp_cpumap_kthread
//   tracepoints' sums and the second program's actions.
// Per CPU and entry, not shared (the kernel's percpu bulkq): XdpBulkQueues.

import { spin_lock, spin_unlock } from '../shm/spinlock.js';

/** Frames a CPU gathers per entry before it takes the producer lock ("8 == one cacheline on 64-bit archs"). */
export const CPU_MAP_BULK_SIZE = 8;
/** Frames the kthread takes per pass. */
export const CPUMAP_BATCH = 8;
/** cpu_map_update_elem's sanity limit on qsize. */
export const CPUMAP_QSIZE_MAX = 16384;
/** SMP_CACHE_BYTES * 2 / sizeof(void *): ptr_ring's consumer zeroes slots in batches of this. */
const PTR_RING_BATCH = (64 * 2) / 8;

const PRODUCER_LOCK = 0;
const PRODUCER = 1;
const CONSUMER_HEAD = 32;
const CONSUMER_TAIL = 33;
const SIZE = 34;
const BATCH = 35;
const HEADER_WORDS = 64;

/** Counters per entry (f64 slots). */
export const CPUMAP_ENQ_PROCESSED = 0;
export const CPUMAP_ENQ_DROPS = 1;
export const CPUMAP_KT_PROCESSED = 2;
export const CPUMAP_KT_DROPS = 3;
export const CPUMAP_KT_SCHED = 4;
export const CPUMAP_PROG_PASS = 5;
export const CPUMAP_PROG_DROP = 6;
export const CPUMAP_PROG_REDIRECT = 7;
const COUNTERS = 8;

/** What the caller does with frames: the parts of cpumap.c that belong to the driver and the stack. */
export interface CpuMapOps {
  /** xdp_return_frame(_rx_napi): a frame the ring had no room for (or the program dropped) goes back to its driver. */
  xdp_return_frame(frame: number): void;
  /** cpu_map_build_skb + netif_receive_skb_core on the kthread's CPU: true when the stack returned NET_RX_DROP. */
  receive(frame: number): boolean;
  /** The entry's second program (bpf_cpumap_val.bpf_prog), if any: its XDP action for the frame. */
  run_prog?(frame: number): number;
  /** xdp_do_redirect of a frame the second program redirected: 0, or an error (the frame is then dropped). */
  redirect?(frame: number): number;
}

export interface CpuMapLayout {
  /** qsize per key (0: no entry). */
  qsize: number[];
  /** i32 index of each entry's header (-1: none). */
  base: number[];
  /** f64 index of each entry's counters. */
  counters: number;
  bytes: number;
}

export function cpuMapLayout(qsize: readonly number[]): CpuMapLayout {
  let words = 0;
  const base = qsize.map((q) => {
    if (q === 0) return -1;
    const b = words;
    words += HEADER_WORDS + Math.ceil(q / 32) * 32;
    return b;
  });
  const counters = Math.ceil((words * 4) / 8);
  return { qsize: [...qsize], base, counters, bytes: (counters + qsize.length * COUNTERS) * 8 };
}

/** A cpumap's entries in shared memory: the factory allocates, attach views another thread's. */
export class CpuMap {
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  private constructor(
    readonly layout: CpuMapLayout,
    readonly sab: SharedArrayBuffer,
  ) {
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
  }

  /** One entry per key with qsize > 0 (the map's contents when the run starts: 5.10's programs cannot update a cpumap). */
  static create(qsize: readonly number[]): CpuMap {
    for (const q of qsize) if (!Number.isInteger(q) || q < 0 || q > CPUMAP_QSIZE_MAX) throw new RangeError(`cpumap qsize ${q}`);
    const layout = cpuMapLayout(qsize);
    const m = new CpuMap(layout, new SharedArrayBuffer(layout.bytes));
    qsize.forEach((q, key) => {
      if (q > 0) ptr_ring_init(m, key, q);
    });
    return m;
  }

  static attach(qsize: readonly number[], sab: SharedArrayBuffer): CpuMap {
    return new CpuMap(cpuMapLayout(qsize), sab);
  }

  /** Whether key has an entry (__cpu_map_lookup_elem != NULL). */
  has(key: number): boolean {
    return key >= 0 && key < this.layout.base.length && this.layout.base[key] >= 0;
  }

  counter(key: number, which: number): number {
    return this.f64[this.layout.counters + key * COUNTERS + which];
  }

  /** Frames in the entry's ring now (for reports and tests). */
  queued(key: number): number {
    const b = this.layout.base[key];
    let n = 0;
    const size = this.i32[b + SIZE];
    for (let i = 0; i < size; i++) if (Atomics.load(this.i32, b + HEADER_WORDS + i) !== 0) n++;
    return n;
  }
}

// ---------------------------------------------------------------------- include/linux/ptr_ring.h

/** ptr_ring_init: `size` slots, all NULL; r->batch as __ptr_ring_set_size computes it. */
function ptr_ring_init(m: CpuMap, key: number, size: number): void {
  const b = m.layout.base[key];
  m.i32[b + SIZE] = size;
  let batch = PTR_RING_BATCH;
  if (batch > size / 2 || batch === 0) batch = 1;
  m.i32[b + BATCH] = batch;
}

/** __ptr_ring_produce: put `frame` in the next slot, with the producer lock held; -ENOSPC (-28) when that slot is not yet free. */
export function __ptr_ring_produce(m: CpuMap, key: number, frame: number): number {
  const w = m.i32;
  const b = m.layout.base[key];
  const p = w[b + PRODUCER];
  if (Atomics.load(w, b + HEADER_WORDS + p) !== 0) return -28;
  // Publish: the frame's bytes were written before; the consumer's Atomics.load pairs with this store.
  Atomics.store(w, b + HEADER_WORDS + p, frame + 1);
  w[b + PRODUCER] = p + 1 >= w[b + SIZE] ? 0 : p + 1;
  return 0;
}

/** __ptr_ring_empty: nothing in the consumer's next slot (lockless; the consumer's own test). */
export function __ptr_ring_empty(m: CpuMap, key: number): boolean {
  const b = m.layout.base[key];
  return Atomics.load(m.i32, b + HEADER_WORDS + m.i32[b + CONSUMER_HEAD]) === 0;
}

/**
 * __ptr_ring_discard_one: advance the consumer; the consumed slots are zeroed (handed back to
 * producers) only once a batch of them is consumed or the ring's end is reached, in reverse
 * order, as the kernel does to keep the producer off the consumer's cache lines.
 */
function __ptr_ring_discard_one(m: CpuMap, b: number): void {
  const w = m.i32;
  let head = w[b + CONSUMER_HEAD];
  const consumed = head++;
  const size = w[b + SIZE];
  const tail = w[b + CONSUMER_TAIL];
  if (head - tail >= w[b + BATCH] || head >= size) {
    for (let i = consumed; i >= tail; i--) Atomics.store(w, b + HEADER_WORDS + i, 0);
    w[b + CONSUMER_TAIL] = head;
  }
  if (head >= size) {
    head = 0;
    w[b + CONSUMER_TAIL] = 0;
  }
  w[b + CONSUMER_HEAD] = head;
}

/** __ptr_ring_consume_batched: up to n frames into out (in ring order); how many. Single consumer (the kthread). */
export function __ptr_ring_consume_batched(m: CpuMap, key: number, out: Int32Array, n: number): number {
  const w = m.i32;
  const b = m.layout.base[key];
  let i = 0;
  for (; i < n; i++) {
    const v = Atomics.load(w, b + HEADER_WORDS + w[b + CONSUMER_HEAD]);
    if (v === 0) break;
    out[i] = v - 1;
    __ptr_ring_discard_one(m, b);
  }
  return i;
}

// ---------------------------------------------------------------------- the per-CPU bulk queues

/** One CPU's `struct xdp_bulk_queue` per entry, and its cpu_map_flush_list. Only that CPU touches it. */
export class XdpBulkQueues {
  /** q[key * CPU_MAP_BULK_SIZE + i] */
  readonly q: Int32Array;
  readonly count: Int32Array;
  /** 1 while the bulk queue is on the flush list (bq->flush_node.prev != NULL). */
  readonly onList: Uint8Array;
  /** cpu_map_flush_list: keys in the order they were added (list_add puts new ones first). */
  readonly flushList: Int32Array;
  flushLen = 0;

  constructor(readonly entries: number) {
    this.q = new Int32Array(entries * CPU_MAP_BULK_SIZE);
    this.count = new Int32Array(entries);
    this.onList = new Uint8Array(entries);
    this.flushList = new Int32Array(entries);
  }
}

/**
 * bq_flush_to_queue: move the bulk queue of entry `key` into its ring under the producer lock;
 * frames that find the ring full are returned to their driver and counted as drops (the
 * xdp_cpumap_enqueue tracepoint's `drops`). Called from softirq, on the bulk queue's CPU.
 */
export function bq_flush_to_queue(m: CpuMap, bq: XdpBulkQueues, key: number, ops: CpuMapOps): void {
  const count = bq.count[key];
  if (count === 0) return;
  const b = m.layout.base[key];
  let drops = 0;
  spin_lock(m.i32, b + PRODUCER_LOCK);
  for (let i = 0; i < count; i++) {
    const frame = bq.q[key * CPU_MAP_BULK_SIZE + i];
    if (__ptr_ring_produce(m, key, frame) !== 0) {
      drops++;
      ops.xdp_return_frame(frame);
    }
  }
  bq.count[key] = 0;
  const c = m.layout.counters + key * COUNTERS;
  m.f64[c + CPUMAP_ENQ_PROCESSED] += count;
  m.f64[c + CPUMAP_ENQ_DROPS] += drops;
  spin_unlock(m.i32, b + PRODUCER_LOCK);
  // __list_del_clearprev(&bq->flush_node): off the flush list until the next enqueue.
  if (bq.onList[key] === 1) {
    bq.onList[key] = 0;
    let j = 0;
    for (let i = 0; i < bq.flushLen; i++) if (bq.flushList[i] !== key) bq.flushList[j++] = bq.flushList[i];
    bq.flushLen = j;
  }
}

/**
 * bq_enqueue: queue `frame` for entry `key` on this CPU's bulk queue (flushing it first when
 * full), and put the bulk queue on the flush list. Runs in softirq under NAPI protection.
 */
export function bq_enqueue(m: CpuMap, bq: XdpBulkQueues, key: number, frame: number, ops: CpuMapOps): void {
  if (bq.count[key] === CPU_MAP_BULK_SIZE) bq_flush_to_queue(m, bq, key, ops);
  bq.q[key * CPU_MAP_BULK_SIZE + bq.count[key]++] = frame;
  if (bq.onList[key] === 0) {
    bq.onList[key] = 1;
    bq.flushList[bq.flushLen++] = key;
  }
}

/** cpu_map_enqueue: xdp_do_redirect's path for a cpumap target (the xdp_frame conversion is the caller's). */
export function cpu_map_enqueue(m: CpuMap, bq: XdpBulkQueues, key: number, frame: number, ops: CpuMapOps): number {
  bq_enqueue(m, bq, key, frame, ops);
  return 0;
}

/**
 * __cpu_map_flush: at the end of the driver's poll (xdp_do_flush_map), flush every bulk queue
 * on this CPU's list and wake each entry's kthread (`wake(key)`: wake_up_process, which costs
 * little when it already runs).
 */
export function __cpu_map_flush(m: CpuMap, bq: XdpBulkQueues, ops: CpuMapOps, wake: (key: number) => void): void {
  // list_for_each_entry_safe: the list is consumed as it is walked (bq_flush_to_queue unlinks).
  while (bq.flushLen > 0) {
    const key = bq.flushList[bq.flushLen - 1]; // list_add adds at the head: the newest first
    bq_flush_to_queue(m, bq, key, ops);
    wake(key);
  }
}

/**
 * cpu_map_bpf_prog_run_xdp: run the entry's second program on the n frames; keep those it
 * passes (compacted to the front), return the others to their driver; the kept count.
 */
export function cpu_map_bpf_prog_run_xdp(m: CpuMap, key: number, frames: Int32Array, n: number, ops: CpuMapOps): number {
  if (ops.run_prog === undefined) return n;
  const c = m.layout.counters + key * COUNTERS;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const f = frames[i];
    const act = ops.run_prog(f);
    if (act === 2 /* XDP_PASS */) {
      frames[kept++] = f;
      m.f64[c + CPUMAP_PROG_PASS]++;
    } else if (act === 4 /* XDP_REDIRECT */ && ops.redirect !== undefined && ops.redirect(f) === 0) {
      m.f64[c + CPUMAP_PROG_REDIRECT]++;
    } else {
      ops.xdp_return_frame(f); // XDP_DROP, an invalid action (bpf_warn_invalid_xdp_action), a failed redirect
      m.f64[c + CPUMAP_PROG_DROP]++;
    }
  }
  return kept;
}

/**
 * One pass of cpu_map_kthread_run's loop, on the entry's CPU: take up to CPUMAP_BATCH frames
 * from the ring, run the second program, and hand each remaining frame to the stack
 * (cpu_map_build_skb + netif_receive_skb_core), counting NET_RX_DROP as the
 * xdp_cpumap_kthread tracepoint does. `frames` is the caller's scratch (CPUMAP_BATCH slots).
 * Returns the frames taken: 0 means the ring was empty and the kthread sleeps until
 * __cpu_map_flush wakes it (the caller rechecks __ptr_ring_empty after it set itself
 * sleeping, as the kernel does against a lost wake-up). `sched`: the pass followed a sleep.
 */
export function cpu_map_kthread_run(m: CpuMap, key: number, frames: Int32Array, ops: CpuMapOps, sched: boolean): number {
  const n = __ptr_ring_consume_batched(m, key, frames, CPUMAP_BATCH);
  if (n === 0) return 0;
  const nframes = cpu_map_bpf_prog_run_xdp(m, key, frames, n, ops);
  let drops = 0;
  for (let i = 0; i < nframes; i++) if (ops.receive(frames[i])) drops++;
  const c = m.layout.counters + key * COUNTERS;
  m.f64[c + CPUMAP_KT_PROCESSED] += n;
  m.f64[c + CPUMAP_KT_DROPS] += drops;
  if (sched) m.f64[c + CPUMAP_KT_SCHED]++;
  return n;
}
