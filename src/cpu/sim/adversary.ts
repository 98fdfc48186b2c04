// The sim machine's fault injector (machine.ts): the seed's adversary. The seed draws a level
// (calm … hostile) that sets the jitter on step costs, the spread of interrupt and IPI
// latencies, the probability that a window holds interrupts back (at most MAX_WINDOW_SKIPS in
// a row), how far ahead a preempting entity may run, how often a CPU is preempted inside the
// stack, and how often the device publishes RDH after a short burst (1..63 packets) instead
// of 64.
//
// Every decision draws from the machine's one PRNG (the same stream that breaks the
// scheduler's ties), in the order the machine asks: the seed alone fixes the interleaving.
// Each is a leaf: numbers in, a number or a yes out; no objects.

import type { Prng } from '../../lib/prng.js';

/** Interrupt windows in a row that may hold a CPU's due interrupts back, at most. */
export const MAX_WINDOW_SKIPS = 4;

/** The seed's adversary: how hard the scheduler pushes on the interleavings. */
export interface Adversary {
  level: number;
  jitter: number; // step cost × (1 + jitter·u)
  spread: number; // delivery latency × (1 + spread·u)
  p_hold: number; // probability an interrupt window holds due interrupts back
  p_preempt: number; // probability a window lets an entity up to lookahead_ns ahead run first
  lookahead_ns: number;
  p_midyield: number; // probability the host "preempts" this CPU inside the stack (per env.burn_ns)
  p_short_burst: number; // probability a device burst is cut short (RDH published after 1..63 packets)
}

const ADVERSARIES: readonly Omit<Adversary, 'level'>[] = [
  { jitter: 0.02, spread: 0, p_hold: 0, p_preempt: 0, lookahead_ns: 0, p_midyield: 0, p_short_burst: 0 },
  { jitter: 0.1, spread: 1, p_hold: 0.1, p_preempt: 0.05, lookahead_ns: 2_000, p_midyield: 0.02, p_short_burst: 0.1 },
  { jitter: 0.3, spread: 4, p_hold: 0.3, p_preempt: 0.2, lookahead_ns: 10_000, p_midyield: 0.1, p_short_burst: 0.3 },
  { jitter: 0.5, spread: 10, p_hold: 0.6, p_preempt: 0.4, lookahead_ns: 50_000, p_midyield: 0.3, p_short_burst: 0.5 },
];

/** The seed's level and its parameters (the first draw of the machine's PRNG). */
export function adversary_draw(prng: Prng): Adversary {
  const level = prng.nextInt(ADVERSARIES.length);
  return { level, ...ADVERSARIES[level] };
}

/** The factor on a step's cost: 1 + jitter·u. */
export function adversary_jitter(a: Adversary, prng: Prng): number {
  return 1 + a.jitter * prng.nextFloat();
}

/** A delivery latency of `ns` (an interrupt's, an IPI's), spread by the adversary. */
export function adversary_latency(a: Adversary, prng: Prng, ns: number): number {
  const s = a.spread;
  return s > 0 ? ns * (1 + s * prng.nextFloat()) : ns;
}

/** Whether an interrupt window holds due interrupts back, after `skips` held in a row. */
export function adversary_holds_irqs(a: Adversary, prng: Prng, skips: number): boolean {
  return a.p_hold > 0 && skips < MAX_WINDOW_SKIPS && prng.nextFloat() < a.p_hold;
}

/** How far ahead of a yielding CPU a preempting entity may run (0: only those behind it). */
export function adversary_lookahead_ns(a: Adversary, prng: Prng): number {
  if (a.p_preempt > 0 && prng.nextFloat() < a.p_preempt) return a.lookahead_ns * prng.nextFloat();
  return 0;
}

/** Packets in the device's next burst: `burst`, or when the adversary cuts it short 1..burst-1. */
export function adversary_burst(a: Adversary, prng: Prng, burst: number): number {
  if (a.p_short_burst > 0 && prng.nextFloat() < a.p_short_burst) return 1 + prng.nextInt(burst - 1);
  return burst;
}

/** Skbs until a CPU's next race point inside the stack: geometric(p_midyield). */
export function adversary_midyield_gap(a: Adversary, prng: Prng): number {
  return geometric(prng, a.p_midyield);
}

/** Trials up to the first success, success probability p (a huge count when p is 0). */
function geometric(prng: Prng, p: number): number {
  if (p <= 0) return 0x3fffffff;
  const u = 1 - prng.nextFloat(); // (0, 1]
  const n = 1 + Math.floor(Math.log(u) / Math.log(1 - p));
  return n < 0x3fffffff ? n : 0x3fffffff;
}
