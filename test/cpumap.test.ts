/**
 * cpumap.test.ts: kernel/bpf/cpumap.c's data structures (src/kernel/cpumap.ts) as 5.10 has
 * them: the per-CPU bulk queue of CPU_MAP_BULK_SIZE frames, bq_flush_to_queue into the
 * entry's ptr_ring with drops when it is full, ptr_ring's batched zeroing of consumed slots,
 * __cpu_map_flush's wake-ups, the kthread's CPUMAP_BATCH passes and the second program's
 * actions. Many laps of the ring with a seeded generator and a verifier: every frame is
 * delivered once, in order per producing CPU, or returned to its driver and counted.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  __cpu_map_flush,
  __ptr_ring_consume_batched,
  __ptr_ring_empty,
  __ptr_ring_produce,
  bq_enqueue,
  CPU_MAP_BULK_SIZE,
  CPUMAP_BATCH,
  CPUMAP_ENQ_DROPS,
  CPUMAP_ENQ_PROCESSED,
  CPUMAP_KT_DROPS,
  CPUMAP_KT_PROCESSED,
  CPUMAP_PROG_DROP,
  CPUMAP_PROG_PASS,
  CpuMap,
  cpu_map_kthread_run,
  XdpBulkQueues,
  type CpuMapOps,
} from '../src/kernel/cpumap.js';

function recorder(): CpuMapOps & { returned: number[]; received: number[] } {
  const returned: number[] = [];
  const received: number[] = [];
  return {
    returned,
    received,
    xdp_return_frame: (f) => void returned.push(f),
    receive: (f) => {
      received.push(f);
      return false;
    },
  };
}

describe('bq_enqueue and bq_flush_to_queue', () => {
  it('holds up to CPU_MAP_BULK_SIZE frames per CPU, flushes the full bulk before the next, and only then takes the producer lock', () => {
    const m = CpuMap.create([0, 64]);
    const bq = new XdpBulkQueues(2);
    const ops = recorder();
    for (let f = 0; f < CPU_MAP_BULK_SIZE; f++) bq_enqueue(m, bq, 1, f, ops);
    expect(m.queued(1)).toBe(0); // all still in the bulk queue
    expect(bq.flushLen).toBe(1);
    bq_enqueue(m, bq, 1, 8, ops); // the 9th flushes the 8 first
    expect(m.queued(1)).toBe(8);
    expect(bq.count[1]).toBe(1);
    expect(m.counter(1, CPUMAP_ENQ_PROCESSED)).toBe(8);
    expect(bq.flushLen).toBe(1); // re-added after the flush unlinked it
  });

  it('__cpu_map_flush moves every pending bulk queue and wakes each entry once', () => {
    const m = CpuMap.create([16, 16, 16]);
    const bq = new XdpBulkQueues(3);
    const ops = recorder();
    bq_enqueue(m, bq, 2, 100, ops);
    bq_enqueue(m, bq, 0, 101, ops);
    bq_enqueue(m, bq, 2, 102, ops);
    const woken: number[] = [];
    __cpu_map_flush(m, bq, ops, (k) => woken.push(k));
    expect(woken).toEqual([0, 2]); // list_add puts the newest first
    expect(bq.flushLen).toBe(0);
    expect([m.queued(0), m.queued(1), m.queued(2)]).toEqual([1, 0, 2]);
    __cpu_map_flush(m, bq, ops, (k) => woken.push(k));
    expect(woken).toHaveLength(2); // nothing pending, no wake-up
  });

  it('a full ring drops what does not fit, returns it to the driver and counts it (xdp_cpumap_enqueue drops)', () => {
    const m = CpuMap.create([4]);
    const bq = new XdpBulkQueues(1);
    const ops = recorder();
    for (let f = 0; f < 7; f++) bq_enqueue(m, bq, 0, f, ops);
    __cpu_map_flush(m, bq, ops, () => {});
    expect(m.queued(0)).toBe(4);
    expect(ops.returned).toEqual([4, 5, 6]);
    expect(m.counter(0, CPUMAP_ENQ_PROCESSED)).toBe(7);
    expect(m.counter(0, CPUMAP_ENQ_DROPS)).toBe(3);
  });
});

describe('ptr_ring', () => {
  it('hands consumed slots back to producers only a batch at a time (r->batch = 16 for 64 slots)', () => {
    const m = CpuMap.create([64]);
    for (let f = 0; f < 64; f++) expect(__ptr_ring_produce(m, 0, f)).toBe(0);
    expect(__ptr_ring_produce(m, 0, 64)).toBe(-28); // full: -ENOSPC
    const out = new Int32Array(64);
    expect(__ptr_ring_consume_batched(m, 0, out, 15)).toBe(15);
    expect(__ptr_ring_produce(m, 0, 64)).toBe(-28); // 15 taken, none zeroed yet
    expect(__ptr_ring_consume_batched(m, 0, out, 1)).toBe(1);
    for (let f = 0; f < 16; f++) expect(__ptr_ring_produce(m, 0, 64 + f)).toBe(0); // the batch of 16 is free
    expect(__ptr_ring_produce(m, 0, 80)).toBe(-28);
  });

  it('a ring of 1 slot takes batches of 1', () => {
    const m = CpuMap.create([1]);
    const out = new Int32Array(1);
    for (let lap = 0; lap < 5; lap++) {
      expect(__ptr_ring_produce(m, 0, lap)).toBe(0);
      expect(__ptr_ring_produce(m, 0, 99)).toBe(-28);
      expect(__ptr_ring_consume_batched(m, 0, out, 1)).toBe(1);
      expect(out[0]).toBe(lap);
      expect(__ptr_ring_empty(m, 0)).toBe(true);
    }
  });
});

describe('cpu_map_kthread_run', () => {
  it('takes at most CPUMAP_BATCH frames a pass, delivers them in ring order and stops on an empty ring', () => {
    const m = CpuMap.create([32]);
    const bq = new XdpBulkQueues(1);
    const ops = recorder();
    for (let f = 0; f < 20; f++) bq_enqueue(m, bq, 0, f, ops);
    __cpu_map_flush(m, bq, ops, () => {});
    const frames = new Int32Array(CPUMAP_BATCH);
    expect(cpu_map_kthread_run(m, 0, frames, ops, true)).toBe(8);
    expect(cpu_map_kthread_run(m, 0, frames, ops, false)).toBe(8);
    expect(cpu_map_kthread_run(m, 0, frames, ops, false)).toBe(4);
    expect(cpu_map_kthread_run(m, 0, frames, ops, false)).toBe(0);
    expect(ops.received).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(m.counter(0, CPUMAP_KT_PROCESSED)).toBe(20);
  });

  it("counts the stack's NET_RX_DROP and runs the entry's second program (XDP_PASS kept, XDP_DROP returned)", () => {
    const m = CpuMap.create([16]);
    const bq = new XdpBulkQueues(1);
    const base = recorder();
    const receive = (f: number) => {
      base.received.push(f);
      return f % 2 === 0; // NET_RX_DROP for even frames
    };
    const ops: CpuMapOps = { ...base, run_prog: (f) => (f % 3 === 0 ? 1 : 2), receive };
    for (let f = 0; f < 8; f++) bq_enqueue(m, bq, 0, f, ops);
    __cpu_map_flush(m, bq, ops, () => {});
    cpu_map_kthread_run(m, 0, new Int32Array(CPUMAP_BATCH), ops, false);
    expect(base.returned).toEqual([0, 3, 6]);
    expect(base.received).toEqual([1, 2, 4, 5, 7]);
    expect(m.counter(0, CPUMAP_PROG_PASS)).toBe(5);
    expect(m.counter(0, CPUMAP_PROG_DROP)).toBe(3);
    expect(m.counter(0, CPUMAP_KT_DROPS)).toBe(2); // frames 2 and 4
  });

  it('many laps, several producing CPUs: every frame delivered once or returned, in order per CPU; counters add up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 50, maxLength: 400 }),
        (qsize, ncpus, script) => {
          const m = CpuMap.create([qsize]);
          const bqs = Array.from({ length: ncpus }, () => new XdpBulkQueues(1));
          const ops = recorder();
          const next = new Array<number>(ncpus).fill(0);
          const frames = new Int32Array(CPUMAP_BATCH);
          let made = 0;
          script.forEach((step, t) => {
            const cpu = t % ncpus;
            if (step < 6) {
              bq_enqueue(m, bqs[cpu], 0, cpu * 1_000_000 + next[cpu]++, ops); // a redirected frame
              made++;
            } else if (step < 8)
              __cpu_map_flush(m, bqs[cpu], ops, () => {}); // the end of that CPU's poll
            else cpu_map_kthread_run(m, 0, frames, ops, false);
          });
          for (const bq of bqs) __cpu_map_flush(m, bq, ops, () => {});
          while (cpu_map_kthread_run(m, 0, frames, ops, false) > 0);
          expect(ops.received.length + ops.returned.length).toBe(made);
          expect(new Set([...ops.received, ...ops.returned]).size).toBe(made);
          for (let cpu = 0; cpu < ncpus; cpu++) {
            const mine = ops.received.filter((f) => Math.floor(f / 1_000_000) === cpu);
            expect(mine).toEqual([...mine].sort((a, b) => a - b));
          }
          expect(m.counter(0, CPUMAP_ENQ_PROCESSED)).toBe(made);
          expect(m.counter(0, CPUMAP_ENQ_DROPS)).toBe(ops.returned.length);
          expect(m.counter(0, CPUMAP_KT_PROCESSED)).toBe(ops.received.length);
        },
      ),
      { numRuns: 200, seed: 25 },
    );
  });
});
