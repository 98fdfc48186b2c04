// rps_lock and friends: a spinlock in one i32 word of shared memory.
//
// The design card asked for `sab-mutex`; no such package exists on the registry, so this is
// ours. Word states (Drepper, "Futexes Are Tricky", mutex 2):
//   0  unlocked
//   1  locked, no sleepers
//   2  locked, maybe sleepers
// The fast path is one compareExchange. Contended, the locker spins test-and-test-and-set
// (Atomics.load until free, then compareExchange) up to SPIN_LIMIT times, counting spins;
// past that it sleeps with Atomics.wait. Sleeping matters here: emulated CPUs are threads on
// a machine with fewer cores than threads, and a holder that the host preempts would
// otherwise be spun on for a whole host time slice. Real kernel spinlocks never sleep; the
// `rps_lock_sleeps` counter says how often the host, not the emulation, got in the way.
//
// Memory ordering: Atomics operations are sequentially consistent, so plain writes made while
// holding the lock are visible to the next holder (the unlock store synchronizes-with the
// next lock's compareExchange).
//
// Assertions (docs/design.md, "Assertions"). Always on, at no cost on the uncontended path:
// unlocking a word that is not held (the exchange returns its old value anyway), a word that
// holds something other than 0, 1 or 2 (seen on the slow path), and in sim mode a lock found
// held (no lock is held across a check point there, so its holder is this very thread: a
// relock). Under --debug-asserts each thread also keeps the locks it holds, which catches a
// relock by the owner and an unlock by a thread that does not hold the lock in threads mode.

import { assertion_failed } from './assert.js';

export const SPIN_LIMIT = 256;

/**
 * Sim mode runs every CPU in one thread, between check points no lock is ever held across
 * (sim/machine.ts), so a lock word is only ever seen free: a locked compare-exchange there is pure cost
 * (10% of a 16-CPU sim run's time, measured). While a sim machine runs (SimMachine.run sets
 * this for its synchronous slice and clears it after), the lock words are read and written
 * plainly; the words' values are the same as with Atomics, so nothing the kernel or a test
 * reads changes. Per thread: a worker running a CPU never sets it.
 */
let single_threaded = false;

/** Sim mode's slice starts (true) or ends (false): see single_threaded. */
export function spin_single_threaded(on: boolean): void {
  single_threaded = on;
}
const SLEEP_TIMEOUT_MS = 5;

/** --debug-asserts: track the locks this thread holds (set at set-up, per thread: spin_debug_asserts). */
let debug_asserts = false;
/** The locks this thread holds (--debug-asserts): their word arrays and indices, at most HELD_MAX. */
const HELD_MAX = 16;
const held_words: (Int32Array | null)[] = new Array<Int32Array | null>(HELD_MAX).fill(null);
const held_index = new Int32Array(HELD_MAX);
let held_n = 0;

/** How an assertion names a lock of the run's shared memory (Shm sets it: "cpu 1 rps_lock"). */
let named_words: Int32Array | null = null;
let named = (index: number): string => `lock word ${index}`;
const lock_name = (word: Int32Array, index: number): string => (word === named_words ? named(index) : `lock word ${index}`);

/**
 * Set once per run at set-up (Shm): --debug-asserts, and how to name the lock words of `words`
 * (the run's shared memory as i32) in an assertion's line.
 */
export function spin_debug_asserts(on: boolean, words: Int32Array | null, name: (index: number) => string): void {
  debug_asserts = on;
  named_words = words;
  named = name;
  held_n = 0;
  held_words.fill(null);
}

/**
 * Sleeps during the last contended acquisition: valid right after a spin_lock that returned
 * a nonzero spin count (the uncontended path does not touch it, to stay one instruction).
 */
export let spin_lock_sleeps = 0;

/** Acquire. Returns the spin iterations it took (0 when uncontended). */
export function spin_lock(word: Int32Array, index: number): number {
  if (debug_asserts) spin_debug_lock(word, index);
  if (single_threaded) {
    if (word[index] === 0) {
      word[index] = 1;
      return 0;
    }
    spin_lock_held(word, index); // never returns
  }
  return Atomics.compareExchange(word, index, 0, 1) === 0 ? 0 : spin_lock_slowpath(word, index);
}

/** Sim mode found the lock held: no lock is held across a check point, so it is this thread's own. */
function spin_lock_held(word: Int32Array, index: number): never {
  const v = word[index];
  if (v === 1 || v === 2)
    assertion_failed(
      `spin_lock of ${lock_name(word, index)}: already held by this thread (relock; sim mode holds no lock across a check point)`,
    );
  return spin_lock_bad_word(word, index);
}

function spin_lock_bad_word(word: Int32Array, index: number): never {
  if (!(index >= 0 && index < word.length))
    assertion_failed(`spin_lock of lock word ${index}: outside the shared memory (${word.length} words)`);
  return assertion_failed(`spin_lock of ${lock_name(word, index)}: the lock word holds ${word[index]} (not 0, 1 or 2)`);
}

function spin_lock_slowpath(word: Int32Array, index: number): number {
  let spins = 0;
  while (spins < SPIN_LIMIT) {
    spins++;
    const v = Atomics.load(word, index);
    if (v === 0 && Atomics.compareExchange(word, index, 0, 1) === 0) {
      spin_lock_sleeps = 0;
      return spins;
    }
    if (v !== 1 && v !== 2 && v !== 0) spin_lock_bad_word(word, index);
  }
  let sleeps = 0;
  let c = Atomics.exchange(word, index, 2);
  while (c !== 0) {
    if (c !== 1 && c !== 2) spin_lock_bad_word(word, index);
    sleeps++;
    Atomics.wait(word, index, 2, SLEEP_TIMEOUT_MS);
    c = Atomics.exchange(word, index, 2);
  }
  spin_lock_sleeps = sleeps;
  return spins;
}

export function spin_unlock(word: Int32Array, index: number): void {
  if (debug_asserts) spin_debug_unlock(word, index);
  if (single_threaded) {
    if (word[index] !== 1) spin_unlock_not_1(word, index, word[index]);
    word[index] = 0;
    return;
  }
  const old = Atomics.exchange(word, index, 0);
  if (old !== 1) spin_unlock_not_1(word, index, old);
}

/** The unlocked word was not 1: 2 has sleepers to wake; anything else was not held. */
function spin_unlock_not_1(word: Int32Array, index: number, old: number | undefined): void {
  if (old === 2) {
    if (!single_threaded) Atomics.notify(word, index, 1);
    return;
  }
  if (old === 0) assertion_failed(`spin_unlock of ${lock_name(word, index)}: the lock is not held`);
  if (!(index >= 0 && index < word.length))
    assertion_failed(`spin_unlock of lock word ${index}: outside the shared memory (${word.length} words)`);
  assertion_failed(`spin_unlock of ${lock_name(word, index)}: the lock word held ${old} (not 1 or 2)`);
}

/** --debug-asserts, before taking a lock: in range, and not already held by this thread. */
function spin_debug_lock(word: Int32Array, index: number): void {
  if (!(Number.isInteger(index) && index >= 0 && index < word.length)) spin_lock_bad_word(word, index);
  for (let i = 0; i < held_n; i++) {
    if (held_index[i] === index && held_words[i] === word) {
      assertion_failed(`spin_lock of ${lock_name(word, index)}: already held by this thread (relock by the owner)`);
    }
  }
  if (held_n === HELD_MAX) assertion_failed(`spin_lock of ${lock_name(word, index)}: this thread already holds ${HELD_MAX} locks`);
  held_words[held_n] = word;
  held_index[held_n++] = index;
}

/** --debug-asserts, before releasing a lock: this thread holds it. */
function spin_debug_unlock(word: Int32Array, index: number): void {
  for (let i = held_n - 1; i >= 0; i--) {
    if (held_index[i] === index && held_words[i] === word) {
      held_n--;
      held_words[i] = held_words[held_n]!;
      held_index[i] = held_index[held_n];
      held_words[held_n] = null;
      return;
    }
  }
  assertion_failed(`spin_unlock of ${lock_name(word, index)}: not held by this thread (unlocked by a thread that does not own it)`);
}
