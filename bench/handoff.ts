// Raw baseline: how many items per second two threads can hand over through a
// SharedArrayBuffer single-producer/single-consumer ring, with nothing else to do.
//
// Why the comparison with the emulator is fair: this is the emulator's NIC -> driver path
// stripped of the receive stack. Same ring size (512), same synchronization granularity
// (plain writes into slots, one Atomics.store of the head per burst of 64; the consumer
// Atomics.loads the head, reads slots with plain reads and publishes its tail with one
// Atomics.store per burst; the producer re-reads the tail only when its cached copy says the
// ring is full), same padding of the indices to their own 128-byte lines, same two threads
// (the main thread produces, one worker consumes, as the device and CPU workers of
// `--cpus 1`). Every payload is a sequence number the consumer checks, so the work cannot be
// optimized away and ordering is verified. Both sides spin (no Atomics.wait), so this is an
// upper bound for the emulator's one-CPU rate: whatever the receive path costs comes on top.
//
//   node dist/bench/handoff.js [items]

import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BURST, ERROR, GOT, HEAD, READY, RING_SIZE, SLOTS, SPIN_CHECK, STOP, TAIL, ringWords, type HandoffInit } from './handoff_ring.js';

/** Give up (both threads) after this long; a handoff of 20 M items takes well under a second. */
const TIMEOUT_MS = 60_000;

/**
 * Hand `items` items to a worker through the ring; returns items per second. An item is a
 * sequence number (slot_words 1), or a 64-byte frame (slot_words 16) copied in by the
 * producer from a template, as the NIC copies a frame, and read whole by the consumer.
 */
export async function handoffRate(items: number, slot_words = 1): Promise<number> {
  if (!Number.isInteger(items) || items < 1 || items > 0x7fff_ffff) throw new RangeError(`handoff: items must be 1..2^31-1, got ${items}`);
  const sab = new SharedArrayBuffer(ringWords(slot_words) * 4);
  const ring = new Int32Array(sab);
  const deadline_ms = Date.now() + TIMEOUT_MS;
  const worker = new Worker(new URL('./handoff_worker.js', import.meta.url), {
    workerData: { sab, items, deadline_ms, slot_words } satisfies HandoffInit,
  });
  let failure: Error | null = null;
  worker.on('error', (e) => {
    failure = e;
    Atomics.store(ring, STOP, 1);
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  try {
    // Start the clock once the consumer spins on the ring: thread start-up is not handoff.
    while (Atomics.load(ring, READY) === 0) {
      if (failure) throw failure;
      if (Date.now() > deadline_ms) throw new Error('handoff: the consumer worker never started');
      await sleep(1);
    }
    const t0 = performance.now();
    produce(ring, items, deadline_ms, slot_words);
    // Wait until the consumer has checked everything (bounded like every other spin).
    for (let spins = 1; Atomics.load(ring, TAIL) !== items; spins++) {
      if (spins % SPIN_CHECK === 0 && (Atomics.load(ring, STOP) !== 0 || Date.now() > deadline_ms)) break;
    }
    const secs = (performance.now() - t0) / 1000;
    await exited;
    if (failure) throw failure;
    const bad = Atomics.load(ring, ERROR);
    if (bad !== 0) throw new Error(`handoff: consumer expected sequence ${bad - 1} and read ${Atomics.load(ring, GOT)}`);
    const tail = Atomics.load(ring, TAIL);
    if (tail !== items) throw new Error(`handoff: timed out after ${TIMEOUT_MS / 1000} s with ${tail} of ${items} items consumed`);
    return items / secs;
  } finally {
    Atomics.store(ring, STOP, 1);
    await worker.terminate();
  }
}

/** The producer: fill up to BURST free slots with plain writes, publish the head once. */
function produce(ring: Int32Array, items: number, deadline_ms: number, slot_words: number): void {
  const mask = RING_SIZE - 1;
  const template = new Int32Array(slot_words).map((_, i) => Math.imul(i + 1, 0x9e3779b1));
  let head = 0;
  let tail = 0; // cached copy of the consumer's tail
  let spins = 0;
  while (head < items) {
    if (head - tail === RING_SIZE) {
      tail = Atomics.load(ring, TAIL);
      if (head - tail === RING_SIZE) {
        // Full: spin, but never forever.
        if (++spins % SPIN_CHECK === 0 && (Atomics.load(ring, STOP) !== 0 || Date.now() > deadline_ms)) return;
        continue;
      }
    }
    let end = tail + RING_SIZE;
    if (end > head + BURST) end = head + BURST;
    if (end > items) end = items;
    for (; head < end; head++) {
      const slot = SLOTS + (head & mask) * slot_words;
      if (slot_words > 1) ring.set(template, slot);
      ring[slot] = head;
    }
    Atomics.store(ring, HEAD, head);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const items = Number(process.argv[2] ?? 20_000_000);
  for (const words of [1, 16]) {
    const rate = await handoffRate(items, words);
    console.log(
      `raw handoff of ${words * 4}-byte items: ${(rate / 1e6).toFixed(2)} M items/s (${items} items, ring ${RING_SIZE}, burst ${BURST})`,
    );
  }
}
