// The consumer side of bench/handoff.ts, in its own worker thread. Loads the head once per
// burst (the acquire), reads and checks up to BURST slots with plain reads, publishes its tail
// with one Atomics.store per burst: what the ixgbe driver does with RDH and RDT.

import { workerData } from 'node:worker_threads';
import { BURST, ERROR, GOT, HEAD, READY, RING_SIZE, SINK, SLOTS, SPIN_CHECK, STOP, TAIL, type HandoffInit } from './handoff_ring.js';

const { sab, items, deadline_ms, slot_words } = workerData as HandoffInit;
const ring = new Int32Array(sab);
const mask = RING_SIZE - 1;

function consume(): void {
  let tail = 0;
  let spins = 0;
  let fold = 0;
  while (tail < items) {
    const head = Atomics.load(ring, HEAD);
    if (head === tail) {
      // Empty: spin, but never forever.
      if (++spins % SPIN_CHECK === 0 && (Atomics.load(ring, STOP) !== 0 || Date.now() > deadline_ms)) return;
      continue;
    }
    const end = head - tail > BURST ? tail + BURST : head;
    for (; tail < end; tail++) {
      const slot = SLOTS + (tail & mask) * slot_words;
      const got = ring[slot];
      // Read the whole frame, as a driver and ip_rcv read a frame's headers.
      for (let w = 1; w < slot_words; w++) fold ^= ring[slot + w];
      if (got !== tail) {
        Atomics.store(ring, GOT, got);
        Atomics.store(ring, ERROR, tail + 1);
        Atomics.store(ring, STOP, 1);
        return;
      }
    }
    Atomics.store(ring, TAIL, tail);
  }
  Atomics.store(ring, SINK, fold);
}

Atomics.store(ring, READY, 1);
Atomics.notify(ring, READY);
consume();
