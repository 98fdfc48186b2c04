/**
 * bpf_threads.test.ts: the maps' shared memory under real threads (worker_threads running the
 * built code, as the emulated CPUs will): lookups take no lock while other threads insert and
 * delete in the same hash map, and a program's atomic adds on a map value from several CPUs
 * sum exactly. Invariants only, as every threads-mode test (docs/testing.md).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BpfMaps } from '../dist/src/bpf/maps.js';
import type { BpfMapDef } from '../dist/src/bpf/object.js';

const DIST = new URL('../dist/src/bpf/', import.meta.url).href;

/** Run `body` (an async function's body: `maps`, `XdpEnv`, `cpu`, `workerData` in scope) in a worker; its result. */
function inWorker(maps: BpfMaps, defs: BpfMapDef[], cpu: number, body: string, data: unknown = null): Promise<unknown> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { BpfMaps } = await import('${DIST}maps.js');
      const { XdpEnv } = await import('${DIST}vm.js');
      const maps = BpfMaps.attach(workerData.defs, workerData.ncpus, workerData.sab);
      const cpu = workerData.cpu;
      const run = async () => { ${body} };
      parentPort.postMessage(await run());
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { defs, ncpus: maps.layout.ncpus, sab: maps.sab, cpu, data } });
    w.once('message', (m) => {
      void w.terminate();
      if (m && typeof m === 'object' && 'error' in m) reject(new Error(String((m as { error: string }).error)));
      else resolve(m);
    });
    w.once('error', reject);
  });
}

const key = (k: number) => new Uint8Array(new Uint32Array([k]).buffer);
const val = (v: number) => new Uint8Array(new BigUint64Array([BigInt(v)]).buffer);

describe('maps under real threads', () => {
  it('lock-free lookups always find the keys that stay, while two threads insert and delete others in the same table', async () => {
    const defs: BpfMapDef[] = [{ name: 'h', type: 1, key_size: 4, value_size: 8, max_entries: 64, map_flags: 0 }];
    const maps = BpfMaps.create(defs, 3, 1);
    for (let k = 0; k < 16; k++) expect(maps.userUpdate(0, key(k), val(k))).toBe(0);
    // Two writers churn keys 16..63 (insert, then delete) for a while; a reader looks up 0..15
    // all the while and checks each value it finds.
    const churn = `
      const k = new Uint8Array(4); const v = new Uint8Array(8);
      let ops = 0;
      for (let round = 0; round < 3000; round++) {
        for (let x = 16 + cpu; x < 64; x += 2) {
          new DataView(k.buffer).setUint32(0, x, true); new DataView(v.buffer).setUint32(0, x, true);
          if (maps.update(0, k, 0, v, 0, 1, cpu) === 0) ops++;
        }
        for (let x = 16 + cpu; x < 64; x += 2) { new DataView(k.buffer).setUint32(0, x, true); if (maps.delete(0, k, 0) === 0) ops++; }
      }
      return ops;`;
    const read = `
      const k = new Uint8Array(4); let missing = 0, wrong = 0, found = 0;
      for (let round = 0; round < 20000; round++) {
        for (let x = 0; x < 16; x++) {
          k[0] = x;
          const at = maps.lookup(0, k, 0, cpu);
          if (at < 0) missing++;
          else if (maps.dv.getUint32(at, true) !== x) wrong++;
          else found++;
        }
      }
      return { missing, wrong, found };`;
    const [a, b, r] = await Promise.all([inWorker(maps, defs, 0, churn), inWorker(maps, defs, 1, churn), inWorker(maps, defs, 2, read)]);
    expect(a).toBe(3000 * 48);
    expect(b).toBe(3000 * 48);
    expect(r).toEqual({ missing: 0, wrong: 0, found: 20000 * 16 });
    expect(maps.count(0)).toBe(16);
  });

  it("a program's 64-bit atomic adds on one map value from three CPUs sum exactly (carries included)", async () => {
    const defs: BpfMapDef[] = [{ name: 'a', type: 2, key_size: 4, value_size: 8, max_entries: 1, map_flags: 0 }];
    const maps = BpfMaps.create(defs, 3, 1);
    const base = maps.layout.maps[0].vbase;
    maps.dv.setUint32(base, 0xffff_0000, true); // low half near its carry
    const add = `
      const env = new XdpEnv(maps, cpu);
      const at = maps.layout.maps[0].vbase;
      for (let i = 0; i < 100000; i++) env.atomic(0x50000, at, 0, 8, 0, 7, 0, 0, 0); // lock *(u64 *)(value) += 7
      return env.fault;`;
    const faults = await Promise.all([0, 1, 2].map((cpu) => inWorker(maps, defs, cpu, add)));
    expect(faults).toEqual([0, 0, 0]);
    expect(maps.dv.getBigUint64(base, true)).toBe(0xffff_0000n + 3n * 100000n * 7n);
  });
});
