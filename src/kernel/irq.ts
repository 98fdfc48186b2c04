// The interrupt entry: do_IRQ dispatches a vector to the handler its driver requested
// (request_irq), so the CPU runtime never imports a driver.

import type { KCpu } from './percpu.js';
import type { Shm } from '../shm/memory.js';

/** A hardirq handler for one vector (the driver's per-queue handler). Hardirq context. */
export type IrqHandler = (c: KCpu, vector: number) => void;

let device_handler: IrqHandler | undefined;

/** request_irq for every vector of the run's one device. */
export function request_irq(handler: IrqHandler): void {
  device_handler = handler;
}

/** Run the handler of every vector set in `bits` (vectors base..base+31), lowest first. */
export function do_IRQ_pending(c: KCpu, bits: number, base: number): void {
  while (bits !== 0) {
    const bit = 31 - Math.clz32(bits & -bits);
    bits &= bits - 1;
    do_IRQ(c, base + bit);
  }
}

export function do_IRQ(c: KCpu, vector: number): void {
  if (device_handler === undefined) throw new Error(`cpu ${c.cpu}: vector ${vector} fired with no handler requested`);
  c.count(c.SD.hardirqs);
  device_handler(c, vector);
}

/**
 * irq_set_affinity: /proc/irq/N/smp_affinity of queue q's vector, one CPU (the MSI-X logic
 * reads it at the next interrupt).
 */
export function irq_set_affinity(shm: Shm, q: number, cpu: number): void {
  Atomics.store(shm.i32, shm.rxqI[q] + shm.layout.RXQ.affinity, cpu);
}
