// A delayed work item (kernel/workqueue.c, the little the receive path needs): a driver's one
// delayed work (virtio_net's vi->refill), queued on the CPU that schedules it and run there
// in process context (a kworker) once its delay in jiffies has passed. Both runtimes call
// run_delayed_work at each turn of their CPU loop; an idle CPU wakes for it at its due time.
//
// The work struct is one for the machine, as vi->refill is one per device: its PENDING bit
// (ctl.refill_pending: -1, or the CPU it is queued on) is taken with a compare-and-swap, so a
// second schedule_delayed_work while it is pending does nothing, as in Linux.

import type { KCpu } from './percpu.js';
import type { Shm } from '../shm/memory.js';

/** The work function: process context on the CPU the work was queued on. */
export type WorkFn = (c: KCpu) => void;

let work_fn: WorkFn | undefined;

/** INIT_DELAYED_WORK for the run's one driver work. */
export function register_delayed_work(fn: WorkFn): void {
  work_fn = fn;
}

/** schedule_delayed_work on this CPU: false if it was pending already. */
export function schedule_delayed_work(c: KCpu, delay_jiffies: number): boolean {
  const CTL = c.layout.CTL;
  if (Atomics.compareExchange(c.i32, c.ctlI + CTL.refill_pending, -1, c.cpu) !== -1) return false;
  Atomics.store(c.i32, c.ctlI + CTL.refill_due, (c.jiffies() + delay_jiffies) | 0);
  return true;
}

/** Is the work queued on this CPU (due or not)? One plain load: the runtimes ask every turn. */
export function work_queued_here(c: KCpu): boolean {
  return c.i32[c.ctlI + c.layout.CTL.refill_pending] === c.cpu;
}

/** Run the work if it is queued on this CPU and due. True if it ran. Process context. */
export function run_delayed_work(c: KCpu): boolean {
  const CTL = c.layout.CTL;
  if (c.i32[c.ctlI + CTL.refill_pending] !== c.cpu) return false;
  if (c.jiffies() - Atomics.load(c.i32, c.ctlI + CTL.refill_due) < 0) return false;
  // process_one_work clears PENDING before it calls the function: it may queue itself again.
  Atomics.store(c.i32, c.ctlI + CTL.refill_pending, -1);
  work_fn!(c);
  return true;
}

/** The jiffy at which CPU `cpu` has work due, or -1 (the sim wakes an idle CPU for it). */
export function delayed_work_due(shm: Shm, cpu: number): number {
  const CTL = shm.layout.CTL;
  if (Atomics.load(shm.i32, shm.ctlI + CTL.refill_pending) !== cpu) return -1;
  return Atomics.load(shm.i32, shm.ctlI + CTL.refill_due);
}

/** Boot: no work pending. */
export function workqueue_init(shm: Shm): void {
  Atomics.store(shm.i32, shm.ctlI + shm.layout.CTL.refill_pending, -1);
}
