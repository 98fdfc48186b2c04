// The device as an entity of the sim machine (machine.ts): the TrafficGenerator and its Nic,
// driven with burst(n, false), never Atomics.wait, on the device's own clock dev_t. A device
// step is one burst of at most DEVICE_BURST packets (or, open loop, what is due by its clock;
// the adversary may cut it short: adversary.ts), then the machine notices what it rang.
// Between bursts the device runs, waits for the driver (an RDT move, a virtio kick), is done,
// or services a vector its ITR throttle held back.
//
// Hot path: per burst, typed arrays and numbers only.

import { TCP_STALL_WAIT_NS, type TrafficGenerator } from '../../devices/generator.js';
import type { Prng } from '../../lib/prng.js';
import type { Shm } from '../../shm/memory.js';
import { msix_throttled } from '../../shm/msix.js';
import { adversary_burst, type Adversary } from './adversary.js';
import { SIM_T0_NS } from './clock.js';

/** The machine's state a device step reads and writes (SimMachine's; machine.ts makes it). */
export interface DeviceState {
  readonly shm: Shm;
  readonly cfg: Shm['cfg'];
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly gen: TrafficGenerator;
  readonly adversary: Adversary;
  readonly prng: Prng;
  /** The device's clock, its clock at the last burst that wrote frames, its DEV_* state. */
  dev_t: number;
  dev_write_t: number;
  dev_state: number;
  /** The ITR timer's step (0: no throttle); the device's cost per packet. */
  readonly itr_ns: number;
  readonly device_ns: number;
  /** The control block's generated count (f64) and gen_done flag (i32). */
  readonly generated_at: number;
  readonly gen_done_at: number;
  /** Per queue: what a waiting device watches (RDT, or virtio's notify register) and its value when it blocked. */
  readonly rdt_at: Int32Array;
  readonly dev_rdt: Int32Array;
  /** The timer tick's job for the entity about to run: the shared clock and jiffies. */
  set_clock(t: number): void;
  /** Notice what the last actor did to the others (rung doorbells, a refilled ring). */
  scan(now: number): void;
}

const DEVICE_BURST = 64;

export const DEV_RUN = 0; // generating: runs at dev_t
export const DEV_WAIT = 1; // closed loop, no free descriptor: waits for an RDT move
export const DEV_DONE = 2; // generation over, nothing to service
export const DEV_ITR = 3; // generation over, a vector held back by the ITR throttle: services at dev_t

/** One device step at dev_t: a burst, or the ITR timer's service after generation. */
export function run_device(m: DeviceState): void {
  m.set_clock(m.dev_t);
  if (m.dev_state === DEV_ITR) {
    // Generation is over; the ITR timer fires held-back vectors (burst(0) only services).
    m.gen.burst(0, false);
    if (any_throttled(m)) m.dev_t += m.itr_ns > 4000 ? m.itr_ns / 4 : 1000;
    else m.dev_state = DEV_DONE;
    m.scan(m.dev_t);
    return;
  }
  const cfg = m.cfg;
  const generated = m.f64[m.generated_at];
  // The ring publish (RDH) happens once per burst: the adversary varies where it falls.
  let n = adversary_burst(m.adversary, m.prng, DEVICE_BURST);
  if (cfg.packets - generated < n) n = cfg.packets - generated;
  const pps = m.gen.pace_pps;
  if (cfg.pcap_timing && n > 0) {
    // --pcap-timing: the capture's times (the generator's schedule, as threads mode keeps it).
    const due = m.gen.timed_count(m.dev_t - SIM_T0_NS, n);
    if (due === 0) {
      m.dev_t = SIM_T0_NS + Math.ceil(m.gen.replay_due_ns());
      if (m.itr_ns > 0) m.gen.burst(0, false);
      m.scan(m.dev_t);
      return;
    }
    n = due;
  } else if (pps !== 0) {
    const due = Math.floor(((m.dev_t - SIM_T0_NS) * pps) / 1e9) + 1 - generated;
    if (due <= 0) {
      m.dev_t = SIM_T0_NS + Math.ceil(((generated + 0.5) * 1e9) / pps);
      if (m.itr_ns > 0) m.gen.burst(0, false);
      m.scan(m.dev_t);
      return;
    }
    if (due < n) n = due;
  } else if (m.gen.wire.frame_ns !== 0) {
    // Closed loop behind a line rate: only what the wire has brought (devices/wire.ts).
    const avail = m.gen.wire.available(m.dev_t, generated);
    if (avail <= 0) {
      m.dev_t = m.gen.wire.next_ns();
      if (m.itr_ns > 0) m.gen.burst(0, false);
      m.scan(m.dev_t);
      return;
    }
    if (avail < n) n = avail;
  }
  // After generation (virtio: flushing held packets on a kick) the burst generates nothing.
  const got = m.gen.burst(n, false);
  if (got > 0) m.dev_write_t = m.dev_t;
  m.dev_t += (got > 0 ? got : 1) * m.device_ns;
  if (m.i32[m.gen_done_at] !== 0) {
    m.dev_state = m.itr_ns > 0 && any_throttled(m) ? DEV_ITR : DEV_DONE;
    // virtio: packets held in QEMU's net queues wait for the guest's kick.
    if (m.dev_state === DEV_DONE && m.gen.virtio?.any_held()) wait_kick(m);
  } else if (m.gen.stalled) {
    // Every TCP sender waits for its window (generator.ts): the wire idles until a reader runs.
    m.dev_t += TCP_STALL_WAIT_NS;
  } else if (got < n && cfg.rate === 0) {
    // Closed loop and the ring is full: wait for the driver to re-post (an RDT move).
    // With a vector held by its ITR throttle the device also polls, as its timer must fire.
    if (m.itr_ns > 0 && any_throttled(m)) {
      m.dev_t += m.itr_ns;
    } else {
      wait_kick(m);
    }
  }
  m.scan(m.dev_t);
}

/**
 * What the last actor did to the device (scan's half): a refilled ring or a kick wakes a
 * waiting device; a vector held by its ITR throttle makes a done device service it.
 */
export function device_notice(m: DeviceState, now: number): void {
  const i32 = m.i32;
  if (m.dev_state === DEV_WAIT) {
    // A vector the driver re-enabled inside its ITR interval: the device's timer fires it.
    if (m.itr_ns > 0 && any_throttled(m)) {
      m.dev_state = DEV_RUN;
      if (m.dev_t < now) m.dev_t = now;
      return;
    }
    const Q = m.rdt_at.length;
    for (let q = 0; q < Q; q++) {
      if (i32[m.rdt_at[q]] !== m.dev_rdt[q]) {
        m.dev_state = DEV_RUN;
        if (m.dev_t < now) m.dev_t = now;
        break;
      }
    }
  } else if (m.dev_state === DEV_DONE && m.itr_ns > 0 && any_throttled(m)) {
    m.dev_state = DEV_ITR;
    if (m.dev_t < now) m.dev_t = now;
  }
}

/**
 * interrupt()'s half: generation ends now (as if --packets were reached); a vector held by
 * the ITR throttle, or (virtio) packets held in QEMU's queues, are still serviced.
 */
export function device_stop(m: DeviceState): void {
  if (m.dev_state === DEV_RUN || m.dev_state === DEV_WAIT) {
    m.set_clock(m.dev_t);
    m.gen.burst(0, false); // sees gen_stop: sets gen_done
    m.dev_state = m.itr_ns > 0 && any_throttled(m) ? DEV_ITR : DEV_DONE;
    // virtio: packets held in QEMU's net queues still go to the guest as it kicks.
    if (m.dev_state === DEV_DONE && m.gen.virtio?.any_held()) wait_kick(m);
  }
}

/** When the device can next run (Infinity: until the driver posts or kicks). */
export function device_next_ns(m: DeviceState): number {
  return m.dev_state === DEV_RUN || m.dev_state === DEV_ITR ? m.dev_t : Infinity;
}

/** The device's state, for a stuck run's report. */
export function device_describe(m: DeviceState): string {
  return `device ${['running', 'waiting for descriptors', 'done', 'servicing ITR'][m.dev_state]} at ${m.dev_t} ns`;
}

/** Wait for the driver: an RDT move, or (virtio) a kick. */
function wait_kick(m: DeviceState): void {
  m.dev_state = DEV_WAIT;
  for (let q = 0; q < m.rdt_at.length; q++) m.dev_rdt[q] = m.i32[m.rdt_at[q]];
}

function any_throttled(m: DeviceState): boolean {
  for (let q = 0; q < m.cfg.queues; q++) if (msix_throttled(m.shm, q)) return true;
  return false;
}
