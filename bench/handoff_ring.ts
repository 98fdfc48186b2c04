// The shared-memory layout of the raw handoff ring (bench/handoff.ts, bench/handoff_worker.ts).
// Int32 words; every index that one thread writes and the other reads sits on its own
// 128-byte line, as the emulator pads its ring indices (cacheline_pad on).

export const RING_SIZE = 512; // the emulator's default RX ring (ethtool -G rx 512)
export const BURST = 64; // one index publication per burst, as the NIC's gen.burst(64)

const LINE = 32; // 128 bytes of Int32
export const HEAD = 0; // producer: items published (free-running count)
export const TAIL = LINE; // consumer: items consumed (free-running count)
export const STOP = 2 * LINE; // either side: abort (timeout or check failure)
export const READY = 3 * LINE; // consumer: 1 once it is spinning on the ring
export const ERROR = 4 * LINE; // consumer: 1 + the sequence number it expected, on a bad slot
export const GOT = ERROR + 1; // consumer: the value it read instead
export const SINK = GOT + 1; // consumer: what it folded out of the frames (keeps the reads live)
export const SLOTS = 5 * LINE; // RING_SIZE payload slots of `slot_words` words each

/** Words of shared memory for a ring whose slots carry `slot_words` words each. */
export function ringWords(slot_words: number): number {
  return SLOTS + RING_SIZE * slot_words;
}

/** Spin checks look at the stop flag and the clock once every this many loads. */
export const SPIN_CHECK = 1 << 12;

export interface HandoffInit {
  sab: SharedArrayBuffer;
  items: number;
  /** 1: a sequence number per slot; 16: a 64-byte frame per slot (sequence number first). */
  slot_words: number;
  deadline_ms: number; // Date.now() after which both sides give up
}
