// The MSI-X interrupt logic of an RX queue's vector, as the 82599 implements it in hardware:
// EICR (cause pending), EIMS (enabled), auto-mask on fire (EIAM), an ITR throttle
// (EITR, which the driver writes: `ethtool -C rx-usecs`, adaptive by default) and the vector's CPU affinity.
//
// This is bus logic, not driver or device code: it runs in whichever thread writes the
// register that changes it (the device setting a cause, the driver re-enabling the vector),
// exactly as the hardware's interrupt logic reacts to either write. Delivery is a bit in the
// target CPU's pending-vector word and a ring of its doorbell (Atomics.or, store, notify).
//
// The lost-interrupt race: the device sets EICR then tries to fire; the driver sets EIMS
// then tries to fire. Both steps are sequentially consistent, so whichever comes second sees
// the other's write and fires: a cause can never sit pending behind an enabled vector.

import type { Shm } from './memory.js';
import { CTX_IDLE } from './layout.js';

export const DOORBELL_IRQ = 1;

/**
 * Ring CPU `cpu`'s doorbell: something (a vector, an IPI) is pending there. A CPU that is not
 * idle takes it at its next check point; only an idle one needs the futex wake. No lost
 * wake-up: the CPU publishes CTX_IDLE before it sleeps with Atomics.wait(doorbell, 0), which
 * returns at once if the doorbell is already rung; we ring before we look at its context.
 * Both sides are sequentially consistent, so one of us sees the other's store.
 */
export function doorbell_ring(shm: Shm, cpu: number): void {
  const at = shm.sd[cpu] + shm.layout.SD.doorbell;
  // Rung already and not yet answered: whoever rang first did the wake-up (as the kernel's
  // call_single_queue sends one IPI for a list that was empty).
  if (Atomics.exchange(shm.i32, at, DOORBELL_IRQ) !== 0) return;
  if (Atomics.load(shm.i32, shm.sd[cpu] + shm.layout.SD.context) === CTX_IDLE) Atomics.notify(shm.i32, at, 1);
}

/**
 * virtio-pci's msix_notify: deliver vector `q` now. No EIAM auto-mask and no ITR: a virtio
 * device suppresses interrupts through the ring (virtio_should_notify), not the vector.
 */
export function msix_notify(shm: Shm, q: number, clock: Float64Array): void {
  msix_deliver(shm, q, clock);
}

/** Deliver vector `q` to its affine CPU. */
function msix_deliver(shm: Shm, q: number, clock: Float64Array): void {
  const RXQ = shm.layout.RXQ;
  const vi = shm.rxqI[q];
  const vf = shm.rxqF[q];
  shm.f64[vf + RXQ.last_irq_ns] = clock[0];
  shm.f64[vf + RXQ.irqs] += 1;
  const cpu = Atomics.load(shm.i32, vi + RXQ.affinity);
  const word = shm.sd[cpu] + (q < 32 ? shm.layout.SD.vec_pending0 : shm.layout.SD.vec_pending1);
  Atomics.or(shm.i32, word, 1 << (q & 31));
  doorbell_ring(shm, cpu);
}

/**
 * Fire vector q if a cause is pending, the vector is enabled and the ITR interval has passed.
 * Returns false only when it is held back by the throttle (the device retries it).
 * `clock[0]` is the writer's notion of now in ns (a slot, not an argument: a double passed
 * to a call that is not inlined is boxed, and this runs per interrupt).
 */
export function msix_try_fire(shm: Shm, q: number, clock: Float64Array): boolean {
  const RXQ = shm.layout.RXQ;
  const vi = shm.rxqI[q];
  const i32 = shm.i32;
  for (;;) {
    if (Atomics.load(i32, vi + RXQ.eicr) === 0) return true;
    if (Atomics.load(i32, vi + RXQ.eims) === 0) return true; // masked: the unmask re-checks
    const itr_ns = i32[vi + RXQ.eitr_ns]; // EITR, as the driver last wrote it
    if (itr_ns > 0 && clock[0] - shm.f64[shm.rxqF[q] + RXQ.last_irq_ns] < itr_ns) return false;
    if (Atomics.compareExchange(i32, vi + RXQ.eims, 1, 0) !== 1) return true; // someone else fired
    if (Atomics.exchange(i32, vi + RXQ.eicr, 0) === 1) {
      msix_deliver(shm, q, clock);
      return true;
    }
    Atomics.store(i32, vi + RXQ.eims, 1); // nothing pending after all: re-enable, look again
  }
}

/** The device side: a descriptor was written back on queue q. */
export function msix_set_cause(shm: Shm, q: number, clock: Float64Array): boolean {
  Atomics.store(shm.i32, shm.rxqI[q] + shm.layout.RXQ.eicr, 1);
  return msix_try_fire(shm, q, clock);
}

/** The driver side: write EIMS (ixgbe_irq_enable_queues). */
export function msix_unmask(shm: Shm, q: number, clock: Float64Array): void {
  Atomics.store(shm.i32, shm.rxqI[q] + shm.layout.RXQ.eims, 1);
  msix_try_fire(shm, q, clock);
}

/** ixgbe_write_eitr: the driver sets vector q's throttle interval (ns; 0 = none). */
export function msix_write_eitr(shm: Shm, q: number, itr_ns: number): void {
  Atomics.store(shm.i32, shm.rxqI[q] + shm.layout.RXQ.eitr_ns, itr_ns);
}

/** Vector q's throttle interval in ns, as EITR holds it now. */
export function msix_eitr_ns(shm: Shm, q: number): number {
  return Atomics.load(shm.i32, shm.rxqI[q] + shm.layout.RXQ.eitr_ns);
}

/** A vector with a cause pending but held back by its ITR throttle. */
export function msix_throttled(shm: Shm, q: number): boolean {
  const RXQ = shm.layout.RXQ;
  const vi = shm.rxqI[q];
  return Atomics.load(shm.i32, vi + RXQ.eicr) === 1 && Atomics.load(shm.i32, vi + RXQ.eims) === 1;
}
