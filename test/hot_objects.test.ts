// The objects the hot path reads by field must stay fast (issue 21): a Config built key by key
// turned into a dictionary and cost 31-34 ns a packet, index tables with their fields outside
// the object 5 ns. Nothing fails when that regresses but the rate, so this test reads V8's own
// verdict (%HasFastProperties, %HaveSameMap) on what each runtime builds: the sim machine's
// Shm and CPUs, and the threads runtime's (a worker attaches to a structured clone of the
// Config, as workerData delivers it, and builds a CpuRuntime on it).

import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { configFromFlags } from '../dist/src/engine/configure.js';
import { boot, framesOf } from '../dist/src/engine/boot.js';
import { Shm } from '../dist/src/shm/memory.js';
type ShmT = Shm;
import { SimMachine } from '../dist/src/cpu/sim/machine.js';
import { CpuRuntime } from '../dist/src/cpu/runtime.js';
import { DEFAULT_COST_MODEL } from '../dist/src/cpu/cost_model.js';
import { kernel_boot, latencySink, newLatencyHistogram } from '../dist/src/cpu/worker_main.js';

v8.setFlagsFromString('--allow-natives-syntax');
const hasFast = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

/** Every object the per-packet path holds: the Config, the layout and its index tables. */
function hotObjects(shm: ShmT): Record<string, object> {
  const L = shm.layout;
  return { cfg: shm.cfg, layout: L, sd: L.SD, sk: L.SOCK, napi: L.NAPI, rxq: L.RXQ, task: L.TASK, ctl: L.CTL };
}

function expectFast(objs: Record<string, object>, where: string): void {
  for (const [name, o] of Object.entries(objs)) expect(hasFast(o), `${where}: ${name} is in dictionary mode`).toBe(true);
}

describe('the hot path holds fast objects', () => {
  const flags: Record<string, string | number>[] = [
    { mode: 'sim', cpus: 4, queues: 2, 'rps-cpus': 'f', packets: 2000 },
    { mode: 'sim', cpus: 2, nic: 'virtio', proto: 'tcp', ip: 'mix', packets: 2000, 'knob-at': '1:rps-cpus=3' },
  ];

  it('sim mode: the Config, the layout and every index table have fast properties, one hidden class per key list', () => {
    const machines = flags.map((f) => {
      const cfg = configFromFlags(f);
      const frames = framesOf(cfg);
      return new SimMachine(boot(cfg, frames), DEFAULT_COST_MODEL, null, Infinity, cfg.seed, frames);
    });
    for (const [i, m] of machines.entries()) {
      expectFast(hotObjects(m.shm), `sim run ${i}`);
      for (const c of m.kc) expect(hasFast(c), `sim run ${i}: a KCpu`).toBe(true);
    }
    // Two runs' Configs (other values, the same keys) share a map: code optimised for one fits the next.
    const [a, b] = machines.map((m) => hotObjects(m.shm));
    for (const k of Object.keys(a)) expect(sameMap(a[k], b[k]), `${k}: two runs' objects have different maps`).toBe(true);
    // The Config resolveConfig builds key by key is itself a dictionary: Shm holds a copy.
    const raw = configFromFlags(flags[0]);
    expect(machines[0].shm.cfg).not.toBe(raw);
    expect(machines[0].shm.cfg).toEqual(raw);
  });

  it('threads mode: a worker attached to a structured clone of the Config holds fast objects', () => {
    const cfg = configFromFlags({ cpus: 2, queues: 2, 'rps-cpus': '3', packets: 2000 });
    const shm = boot(cfg);
    const attached = Shm.attach(structuredClone(cfg), shm.sab);
    kernel_boot(attached);
    const rt = new CpuRuntime(attached, 1, latencySink(newLatencyHistogram()), performance.timeOrigin);
    expectFast(hotObjects(attached), 'a CPU worker');
    expect(hasFast(rt.c), 'the worker KCpu').toBe(true);
    expect(sameMap(attached.cfg, shm.cfg), 'worker and coordinator Configs').toBe(true);
  });
});
