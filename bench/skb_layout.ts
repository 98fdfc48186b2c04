// Would grouping the skb's hot fields help? The skb pool is a structure of arrays (the spec's
// layout): the nine or so fields a packet's path writes on one CPU and reads on another are
// nine cache lines per skb. This measures the alternative, the same fields in one 64-byte
// record per skb, on the pattern that matters: one thread writes the fields of skbs in a
// scattered order (as allocation order scatters after cross-CPU frees) and hands the index
// over a ring; the other reads every field and writes one back (as the stack does).
//
//   node dist/bench/skb_layout.js [items] [runs]
//
// Measured 2026-11-22 on the 2-core bench VM, four runs of medians of 5: grouped / SoA =
// 1.15x to 1.55x (e.g. 11.5 vs 13.2, 10.9 vs 16.8 M skbs/s), 10 to 30 ns per skb that crosses
// cores, against 300 ns and more of receive path per packet: not enough to leave the spec's
// layout for.

import { once } from 'node:events';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { median } from './stats.js';

const POOL = 16384; // skbs (a power of two)
const FIELDS = 9; // written by the producer, read by the consumer
const RING = 1024;
const BURST = 16; // indices published per Atomics.store, as the emulator's rings do
type Layout = 'soa' | 'grouped';

interface Init {
  sab: SharedArrayBuffer;
  layout: Layout;
  role: 'producer' | 'consumer';
  items: number;
}

function bytes(): number {
  return POOL * 16 * 4 + POOL * FIELDS * 4 + 256 + RING * 4;
}

/** A fixed scattered permutation of the pool (the order skbs are allocated in). */
function scattered(): Int32Array {
  const perm = new Int32Array(POOL);
  for (let i = 0; i < POOL; i++) perm[i] = i;
  let s = 12345;
  for (let i = POOL - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    const j = (s >>> 8) % (i + 1);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

function side(init: Init): number {
  const { sab, layout, role, items } = init;
  const grouped = new Int32Array(sab, 0, POOL * 16); // one 64-byte record per skb
  const soa = new Int32Array(sab, POOL * 16 * 4, POOL * FIELDS); // field f of skb i at f * POOL + i
  const ctl = new Int32Array(sab, POOL * 16 * 4 + POOL * FIELDS * 4, 64); // [0] head, [32] tail: own lines
  const ring = new Int32Array(sab, POOL * 16 * 4 + POOL * FIELDS * 4 + 256, RING);
  // Ready, then wait for the go (ctl[16]): the timing starts once both threads are up.
  parentPort!.postMessage('ready');
  Atomics.wait(ctl, 16, 0);
  let acc = 0;
  if (role === 'producer') {
    const perm = scattered();
    let head = 0;
    for (let n = 0; n < items; n++) {
      while (head - Atomics.load(ctl, 32) >= RING) {
        /* ring full */
      }
      const skb = perm[n & (POOL - 1)];
      if (layout === 'soa') for (let f = 0; f < FIELDS; f++) soa[f * POOL + skb] = n + f;
      else for (let f = 0, b = skb << 4; f < FIELDS; f++) grouped[b + f] = n + f;
      ring[head & (RING - 1)] = skb;
      head++;
      if ((head & (BURST - 1)) === 0) Atomics.store(ctl, 0, head);
    }
    Atomics.store(ctl, 0, head);
  } else {
    let tail = 0;
    for (let n = 0; n < items; n++) {
      while (tail >= Atomics.load(ctl, 0)) {
        /* ring empty */
      }
      const skb = ring[tail & (RING - 1)];
      tail++;
      if (layout === 'soa') {
        for (let f = 0; f < FIELDS; f++) acc += soa[f * POOL + skb];
        soa[POOL + skb] = 0;
      } else {
        const b = skb << 4;
        for (let f = 0; f < FIELDS; f++) acc += grouped[b + f];
        grouped[b + 1] = 0;
      }
      if ((tail & (BURST - 1)) === 0) Atomics.store(ctl, 32, tail);
    }
  }
  return acc;
}

/** skbs per second handed over and read with one layout: two workers, started together. */
async function rate(layout: Layout, items: number): Promise<number> {
  const sab = new SharedArrayBuffer(bytes());
  const roles = ['producer', 'consumer'] as const;
  const workers = roles.map((role) => new Worker(new URL(import.meta.url), { workerData: { sab, layout, role, items } satisfies Init }));
  // Each worker posts 'ready', waits for the go, then posts its result (once() rejects on 'error').
  await Promise.all(workers.map((w) => once(w, 'message')));
  const ctl = new Int32Array(sab, POOL * 16 * 4 + POOL * FIELDS * 4, 64);
  const t0 = performance.now();
  Atomics.store(ctl, 16, 1);
  Atomics.notify(ctl, 16);
  await Promise.all(workers.map((w) => once(w, 'message')));
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return items / secs;
}

if (!isMainThread) {
  parentPort!.postMessage(side(workerData as Init));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const items = Number(process.argv[2] ?? 4_000_000);
  const runs = Number(process.argv[3] ?? 5);
  const soa: number[] = [];
  const grouped: number[] = [];
  for (let i = 0; i < runs; i++) {
    soa.push(await rate('soa', items));
    grouped.push(await rate('grouped', items));
  }
  const m = (xs: number[]) => (median(xs) / 1e6).toFixed(2);
  console.log(`skb fields, structure of arrays: median ${m(soa)} M skbs/s`);
  console.log(`skb fields, one record per skb:  median ${m(grouped)} M skbs/s`);
  console.log(`grouped / soa: ${(median(grouped) / median(soa)).toFixed(2)}x`);
}
