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

/**
 * Sleeps during the last contended acquisition: valid right after a spin_lock that returned
 * a nonzero spin count (the uncontended path does not touch it, to stay one instruction).
 */
export let spin_lock_sleeps = 0;

/** Acquire. Returns the spin iterations it took (0 when uncontended). */
export function spin_lock(word: Int32Array, index: number): number {
  if (single_threaded && word[index] === 0) {
    word[index] = 1;
    return 0;
  }
  return Atomics.compareExchange(word, index, 0, 1) === 0 ? 0 : spin_lock_slowpath(word, index);
}

function spin_lock_slowpath(word: Int32Array, index: number): number {
  let spins = 0;
  while (spins < SPIN_LIMIT) {
    spins++;
    if (Atomics.load(word, index) === 0 && Atomics.compareExchange(word, index, 0, 1) === 0) {
      spin_lock_sleeps = 0;
      return spins;
    }
  }
  let sleeps = 0;
  let c = Atomics.exchange(word, index, 2);
  while (c !== 0) {
    sleeps++;
    Atomics.wait(word, index, 2, SLEEP_TIMEOUT_MS);
    c = Atomics.exchange(word, index, 2);
  }
  spin_lock_sleeps = sleeps;
  return spins;
}

export function spin_unlock(word: Int32Array, index: number): void {
  if (single_threaded) {
    word[index] = 0;
    return;
  }
  if (Atomics.exchange(word, index, 0) === 2) Atomics.notify(word, index, 1);
}
