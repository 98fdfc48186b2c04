// napi->timer (net/core/dev.c, 5.10): the hrtimer napi_complete_done arms when
// gro_flush_timeout is set, pinned to the CPU that completed the napi (HRTIMER_MODE_REL_PINNED),
// and napi_watchdog, which it runs in hardirq context when it expires.
//
// The timer lives in the napi struct (timer_cpu, timer_due_ns); each CPU counts the timers
// armed on it (sd.napi_timers), so a runtime's loop pays one load per turn while none is.
// A timer moved by a re-arm on another CPU is claimed with a compare-and-swap of timer_cpu:
// whichever CPU holds it fires it, once.

import type { KCpu } from './percpu.js';
import type { Shm } from '../shm/memory.js';
import { ____napi_schedule, NAPI_STATE_DISABLE, NAPI_STATE_SCHED } from './napi.js';

/** hrtimer_start(&n->timer, ns, HRTIMER_MODE_REL_PINNED) on this CPU; a re-arm moves it here. */
export function napi_timer_start(c: KCpu, n: number, ns: number): void {
  const shm = c.shm;
  const NAPI = shm.layout.NAPI;
  const ni = c.napiI(n);
  shm.f64[shm.napiF[n] + NAPI.timer_due_ns] = c.env.now_ns() + ns;
  const prev = Atomics.exchange(c.i32, ni + NAPI.timer_cpu, c.cpu);
  if (prev === c.cpu) return;
  if (prev !== -1) Atomics.sub(c.i32, shm.sd[prev] + shm.layout.SD.napi_timers, 1);
  Atomics.add(c.i32, c.sd + c.SD.napi_timers, 1);
}

/** Is some napi timer armed on CPU `cpu`? (one load) */
export function napi_timers_armed(shm: Shm, cpu: number): boolean {
  return Atomics.load(shm.i32, shm.sd[cpu] + shm.layout.SD.napi_timers) !== 0;
}

/** The earliest expiry (ns) of the napi timers armed on `cpu`, Infinity if none. */
export function napi_timer_next_ns(shm: Shm, cpu: number): number {
  if (!napi_timers_armed(shm, cpu)) return Infinity;
  const NAPI = shm.layout.NAPI;
  let due = Infinity;
  for (let n = 0; n < shm.layout.napiCount; n++) {
    if (Atomics.load(shm.i32, shm.napiI[n] + NAPI.timer_cpu) !== cpu) continue;
    const t = shm.f64[shm.napiF[n] + NAPI.timer_due_ns];
    if (t < due) due = t;
  }
  return due;
}

/**
 * The timer interrupt for napi timers (hardirq context): run napi_watchdog for each one armed
 * here that has expired by `now`. True if any fired.
 */
export function napi_timers_run(c: KCpu, now: number): boolean {
  const shm = c.shm;
  const NAPI = shm.layout.NAPI;
  let fired = false;
  for (let n = 0; n < shm.layout.napiCount; n++) {
    const ni = shm.napiI[n];
    if (c.i32[ni + NAPI.timer_cpu] !== c.cpu) continue;
    if (shm.f64[shm.napiF[n] + NAPI.timer_due_ns] > now) continue;
    if (Atomics.compareExchange(c.i32, ni + NAPI.timer_cpu, c.cpu, -1) !== c.cpu) continue;
    Atomics.sub(c.i32, c.sd + c.SD.napi_timers, 1);
    shm.f64[shm.napiF[n] + NAPI.watchdog_fires] += 1;
    napi_watchdog(c, n);
    fired = true;
  }
  return fired;
}

/**
 * napi_watchdog: schedule the napi unless a disable is pending or it is scheduled already
 * (a relaxed napi_schedule_prep that sets no MISSED: no device interrupt to react to).
 */
function napi_watchdog(c: KCpu, n: number): void {
  const at = c.napiI(n) + c.NAPI.state;
  let val = Atomics.load(c.i32, at);
  for (;;) {
    if (val & (NAPI_STATE_DISABLE | NAPI_STATE_SCHED)) return;
    const seen = Atomics.compareExchange(c.i32, at, val, val | NAPI_STATE_SCHED);
    if (seen === val) break;
    val = seen;
  }
  ____napi_schedule(c, n);
}

/** Boot: no timer armed. */
export function napi_timers_init(shm: Shm): void {
  for (let n = 0; n < shm.layout.napiCount; n++) shm.i32[shm.napiI[n] + shm.layout.NAPI.timer_cpu] = -1;
}
