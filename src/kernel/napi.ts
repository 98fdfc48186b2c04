// NAPI: napi_struct state bits, the poll-function table and the per-CPU napi lists.
//
// `net_rx_action` calls poll functions through a table that drivers register into, so the
// kernel never imports a driver. Ids are fixed so every thread agrees on them.

import type { KCpu } from './percpu.js';
import { NET_RX_SOFTIRQ } from './percpu.js';

export const NAPI_STATE_SCHED = 1; // poll is scheduled
export const NAPI_STATE_MISSED = 2; // reschedule a napi
export const NAPI_STATE_DISABLE = 4; // disable pending
export const NAPI_STATE_IN_BUSY_POLL = 16; // napi_busy_loop owns it (NAPI_STATE_IN_BUSY_POLL, bit 4 in 5.10)

// A poll function's id stands for napi->poll's pointer in shared memory. 0 is the backlog's;
// each NAPI driver names its own below POLL_MAX beside its poll function (drivers/<name>/).
export const POLL_BACKLOG = 0;
export const POLL_MAX = 4;

/** n->poll(n, budget): returns the work done, at most budget. */
export type PollFn = (c: KCpu, n: number, budget: number) => number;

const poll_table: (PollFn | undefined)[] = new Array<PollFn | undefined>(POLL_MAX).fill(undefined);

/** netif_napi_add's registration of a poll function under a fixed id; one id, one function. */
export function napi_register_poll(id: number, fn: PollFn): void {
  if (id < 0 || id >= POLL_MAX) throw new RangeError(`poll id ${id} out of range`);
  const had = poll_table[id];
  if (had !== undefined && had !== fn) throw new Error(`poll id ${id} is ${had.name}'s, not ${fn.name}'s`);
  poll_table[id] = fn;
}

export function napi_poll_fn(id: number): PollFn {
  const fn = poll_table[id];
  if (fn === undefined) throw new Error(`no poll function registered with id ${id}`);
  return fn;
}

// The three per-CPU lists in c.lists: [head, tail] pairs (LIST_TAIL: the tail's offset).
const LIST_TAIL = 1;
export const LIST_POLL = 0; // sd->poll_list
export const LIST_LOCAL = 2; // net_rx_action's local list
export const LIST_REPOLL = 4; // net_rx_action's repoll list

export function list_add_tail(c: KCpu, list: number, n: number): void {
  c.napi_next[n] = -1;
  const tail = c.lists[list + LIST_TAIL];
  if (tail === -1) c.lists[list] = n;
  else c.napi_next[tail] = n;
  c.lists[list + LIST_TAIL] = n;
}

/** Remove and return the first napi of `list`, or -1. Leaves it on no list. */
export function list_pop(c: KCpu, list: number): number {
  const n = c.lists[list];
  if (n === -1) return -1;
  const next = c.napi_next[n];
  c.lists[list] = next;
  if (next === -1) c.lists[list + LIST_TAIL] = -1;
  c.napi_next[n] = -2;
  return n;
}

export function list_empty(c: KCpu, list: number): boolean {
  return c.lists[list] === -1;
}

/** Append all of `from` to the tail of `to`, leaving `from` empty (list_splice_tail_init). */
export function list_splice_tail_init(c: KCpu, from: number, to: number): void {
  const head = c.lists[from];
  if (head === -1) return;
  const tail = c.lists[to + LIST_TAIL];
  if (tail === -1) c.lists[to] = head;
  else c.napi_next[tail] = head;
  c.lists[to + LIST_TAIL] = c.lists[from + LIST_TAIL];
  c.lists[from] = -1;
  c.lists[from + LIST_TAIL] = -1;
}

/**
 * napi_schedule_prep: test-and-set NAPI_STATE_SCHED; if it was already set, set MISSED so
 * the owner polls once more. True if the caller now owns the napi and must schedule it.
 */
export function napi_schedule_prep(c: KCpu, n: number): boolean {
  const at = c.napiI(n) + c.NAPI.state;
  let val = Atomics.load(c.i32, at);
  for (;;) {
    if (val & NAPI_STATE_DISABLE) return false;
    let next = val | NAPI_STATE_SCHED;
    if (val & NAPI_STATE_SCHED) next |= NAPI_STATE_MISSED;
    const seen = Atomics.compareExchange(c.i32, at, val, next);
    if (seen === val) return (val & NAPI_STATE_SCHED) === 0;
    val = seen;
  }
}

/**
 * ____napi_schedule: put napi n on this CPU's poll_list and raise NET_RX_SOFTIRQ.
 * Called with interrupts off (hardirq, or a point where the emulated CPU takes none).
 */
export function ____napi_schedule(c: KCpu, n: number): void {
  c.i32[c.napiI(n) + c.NAPI.cpu] = c.cpu;
  list_add_tail(c, LIST_POLL, n);
  c.softirq_pending |= NET_RX_SOFTIRQ;
}

/** napi_schedule / napi_schedule_irqoff. */
export function napi_schedule(c: KCpu, n: number): void {
  if (napi_schedule_prep(c, n)) ____napi_schedule(c, n);
}
