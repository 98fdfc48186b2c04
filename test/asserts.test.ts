// Assertions at the shared-memory protocol boundaries (docs/design.md, "Assertions"): each
// boundary broken on purpose fires its assertion in one line naming what, where and which side,
// in sim mode and with real threads (the run's tick hook writes into shared memory, as a rogue
// side would); the spinlock and the skb pool directly; --debug-asserts changes nothing in a run
// that keeps the protocols, and the fuzz campaign runs with it.
import { describe, expect, it } from 'vitest';
import { deterministicPart, runSim } from '../dist/src/engine/sim_run.js';
import { runEmulation } from '../dist/src/engine/run.js';
import { AssertionFailure, EXIT_ASSERTION } from '../dist/src/shm/assert.js';
import { spin_debug_asserts, spin_lock, spin_single_threaded, spin_unlock } from '../dist/src/shm/spinlock.js';
import { SkbCache, skb_pool_give, skb_pool_take } from '../dist/src/shm/skb_pool.js';
import { DESC_DD, SKB_CACHE_SIZE } from '../dist/src/shm/layout.js';
import { DRV } from '../dist/src/shm/virtqueue.js';
import { boot } from '../dist/src/engine/boot.js';
import { campaignRunFlags, randomSimFlags } from '../dist/src/engine/fuzz.js';
import { exitStatusOf } from '../dist/src/cli/tools.js';
import type { Shm } from '../dist/src/shm/memory.js';
import { config } from './harness.js';

type Tamper = (shm: Shm) => void;
type Flags = Record<string, string | number>;

/** The error a run ended with (null: it ended well). */
async function failureOf(run: Promise<unknown>): Promise<Error | null> {
  return run.then(
    () => null,
    (e: unknown) => e as Error,
  );
}

/** Run `flags` in `mode` with `tamper` applied at every tick (sim: between slices) once traffic runs. */
function runTampered(mode: 'sim' | 'threads', flags: Flags, tamper: Tamper): Promise<Error | null> {
  const onTick = (shm: Shm) => {
    if (shm.f64[shm.ctlF + shm.layout.CTL.generated] > 0) tamper(shm);
  };
  if (mode === 'sim') return failureOf(runSim(config({ mode: 'sim', ...flags }), { onTick }));
  return failureOf(runEmulation(config({ 'watchdog-s': 30, ...flags }), { onTick }));
}

/** The run failed on an assertion, in one line matching `line`. */
function expectAssertion(err: Error | null, line: RegExp): void {
  expect(err?.message).toMatch(line);
  expect(err).toBeInstanceOf(AssertionFailure);
  expect(err!.message).not.toContain('\n');
  expect(err!.message).toMatch(/^assertion: /);
}

const size = (shm: Shm) => shm.cfg.ring_size;
const rxq = (shm: Shm, q: number, f: 'rdh' | 'rdt' | 'next_to_clean') => shm.i32[shm.rxqI[q] + shm.layout.RXQ[f]];

/**
 * Set DD on the descriptor each queue's device takes next (at RDH, if posted: RDH != RDT): the
 * driver has not taken it. True if it did. (With threads the device may be mid-burst, and RDH
 * may reach RDT meanwhile: then the driver meets the DD as it posts the descriptor.)
 */
const ddAtHead = (shm: Shm): boolean => {
  let done = false;
  for (let q = 0; q < shm.cfg.queues; q++) {
    const rdh = rxq(shm, q, 'rdh');
    if (rdh === rxq(shm, q, 'rdt')) continue;
    shm.desc_status[q * size(shm) + rdh] |= DESC_DD;
    done = true;
  }
  return done;
};

/** Clear DD on a written-back descriptor the driver has not cleaned (below RDH). */
const noDdBelowHead: Tamper = (shm) => {
  for (let q = 0; q < shm.cfg.queues; q++) {
    const ntc = rxq(shm, q, 'next_to_clean');
    if (ntc !== rxq(shm, q, 'rdh')) shm.desc_status[q * size(shm) + ntc] = 0;
  }
};

/** virtio: the heads made available and not yet used lose their token (the driver's "I gave this"). */
const untokenAvail: Tamper = (shm) => {
  for (let q = 0; q < shm.cfg.queues; q++) {
    const vq = shm.vq[q];
    const avail = Atomics.load(shm.u16, vq.avail_idx);
    for (let p = Atomics.load(shm.u16, vq.used_idx); p !== avail; p = (p + 1) & 0xffff) {
      shm.i32[vq.tokens + shm.u16[vq.avail_ring + (p & (vq.num - 1))]] = -1;
    }
  }
};

/** virtio: the heads the device has used and the driver not yet taken lose their token. */
const untokenUsed: Tamper = (shm) => {
  for (let q = 0; q < shm.cfg.queues; q++) {
    const vq = shm.vq[q];
    const used = Atomics.load(shm.u16, vq.used_idx);
    for (let p = shm.i32[vq.drv + DRV.last_used_idx]; p !== used; p = (p + 1) & 0xffff) {
      shm.i32[vq.tokens + shm.i32[vq.used_ring + 2 * (p & (vq.num - 1))]] = -1;
    }
  }
};

const rpsLock = (shm: Shm, cpu: number) => shm.sd[cpu] + shm.layout.SD.rps_lock;

/** The skb pool's free-stack top beyond the pool. */
const poolTopPastEnd: Tamper = (shm) => {
  shm.i32[shm.ctlI + shm.layout.CTL.skb_free_top] = shm.layout.skbCount + 1000;
};

/** CPU 1's backlog counter 5 more than its list holds. */
const backlogQlen: Tamper = (shm) => {
  shm.i32[shm.sd[1] + shm.layout.SD.input_pkt_qlen] += 5;
};

/** Apply `t` until it says it did (a void one: once). */
const once = (t: (shm: Shm) => boolean | void): Tamper => {
  let done = false;
  return (shm) => {
    if (done) return;
    done = t(shm) ?? true;
  };
};

const SIM = { packets: 400_000, cpus: 2 };
const THREADS = { packets: 20_000_000, cpus: 2, queues: 1 };

describe('descriptor ownership: ixgbe and legacy', () => {
  const DEVICE_SIDE =
    /^assertion: (ixgbe|legacy) rx desc \d+ on queue \d+ (taken by the device while owned by the driver|posted by the driver on cpu \d+ while its write-back is not taken)/;
  const DRIVER_SIDE =
    /^assertion: (ixgbe|legacy) rx desc \d+ on queue \d+ taken by the driver on cpu \d+ while owned by the device \(below RDH without DD\)$/;

  it('sim: the device takes a descriptor whose write-back the driver has not taken (--debug-asserts)', async () => {
    const err = await runTampered('sim', { ...SIM, 'debug-asserts': 'on' }, once(ddAtHead));
    expectAssertion(err, /^assertion: ixgbe rx desc \d+ on queue \d+ taken by the device while owned by the driver \(DD set/);
  });

  it('sim, legacy: the same, on the 3c59x-like device', async () => {
    const err = await runTampered('sim', { ...SIM, nic: 'legacy', 'debug-asserts': 'on' }, once(ddAtHead));
    expectAssertion(err, /^assertion: legacy rx desc \d+ on queue 0 taken by the device while owned by the driver/);
  });

  it('sim: without --debug-asserts that per-packet check is off (the device writes over DD)', async () => {
    const err = await runTampered('sim', SIM, once(ddAtHead));
    expect(err).toBeNull();
  });

  it('sim: the driver takes a descriptor below RDH without DD (always on)', async () => {
    let done = false;
    const err = await runTampered('sim', SIM, (shm) => {
      if (done) return;
      for (let q = 0; q < shm.cfg.queues; q++) if (rxq(shm, q, 'next_to_clean') !== rxq(shm, q, 'rdh')) done = true;
      noDdBelowHead(shm);
    });
    expectAssertion(err, DRIVER_SIDE);
  });

  it('threads: both sides, with real worker threads', async () => {
    expectAssertion(await runTampered('threads', { ...THREADS, 'debug-asserts': 'on' }, ddAtHead), DEVICE_SIDE);
    expectAssertion(await runTampered('threads', THREADS, noDdBelowHead), DRIVER_SIDE);
  }, 120_000);
});

describe('descriptor ownership: virtio', () => {
  const V = { ...SIM, nic: 'virtio' };
  it('sim: the device pops a head the driver never made available (--debug-asserts)', async () => {
    const err = await runTampered('sim', { ...V, 'debug-asserts': 'on' }, once(untokenAvail));
    expectAssertion(err, /^assertion: virtio rx desc \d+ on queue \d+ taken by the device while owned by the driver/);
  });

  it('sim: the driver gets back a head it never made available (always on)', async () => {
    let done = false;
    const err = await runTampered('sim', V, (shm) => {
      if (done) return;
      const vq = shm.vq[0];
      done = shm.i32[vq.drv + DRV.last_used_idx] !== Atomics.load(shm.u16, vq.used_idx);
      untokenUsed(shm);
    });
    expectAssertion(err, /^assertion: virtio rx desc \d+ on queue 0 returned by the device while owned by the driver/);
  });

  it('sim: the guest moves avail idx more than a ring ahead of the device (--debug-asserts: at every read)', async () => {
    const err = await runTampered('sim', { ...V, 'debug-asserts': 'on' }, (shm) => {
      const vq = shm.vq[0];
      Atomics.store(shm.u16, vq.avail_idx, (Atomics.load(shm.u16, vq.used_idx) + 0x8000) & 0xffff);
    });
    expectAssertion(
      err,
      /^assertion: virtio rx avail idx \d+ on queue 0 is more than the ring's \d+ ahead of the device's last_avail_idx \d+ \(read by the device\)$/,
    );
  });

  it('threads: a head without its token, whichever side meets it first', async () => {
    const err = await runTampered('threads', { ...THREADS, nic: 'virtio', 'debug-asserts': 'on' }, untokenAvail);
    expectAssertion(err, /^assertion: virtio rx desc \d+ on queue 0 (taken|returned) by the device while owned by the driver/);
  }, 60_000);
});

describe('spinlock', () => {
  const names = (i: number) => `word ${i}`;

  it('unlock of a lock not held, a word out of range, a relock in sim mode (always on)', () => {
    const w = new Int32Array(new SharedArrayBuffer(16));
    spin_debug_asserts(false, null, names); // as a run without --debug-asserts sets it up
    expect(() => spin_unlock(w, 1)).toThrow(/^assertion: spin_unlock of lock word 1: the lock is not held$/);
    w[2] = 7;
    expect(() => spin_lock(w, 2)).toThrow(/^assertion: spin_lock of lock word 2: the lock word holds 7 \(not 0, 1 or 2\)$/);
    expect(() => spin_unlock(w, 2)).toThrow(/^assertion: spin_unlock of lock word 2: the lock word held 7 \(not 1 or 2\)$/);
    spin_single_threaded(true);
    try {
      spin_lock(w, 0);
      expect(() => spin_lock(w, 0)).toThrow(/^assertion: spin_lock of lock word 0: already held by this thread \(relock/);
      spin_unlock(w, 0);
      expect(() => spin_unlock(w, 0)).toThrow(/the lock is not held/);
      expect(() => spin_lock(w, 9)).toThrow(/^assertion: spin_lock of lock word 9: outside the shared memory \(4 words\)$/);
    } finally {
      spin_single_threaded(false);
    }
  });

  it('--debug-asserts: a relock by the owner and an unlock by a thread that does not hold it (threads mode)', () => {
    const w = new Int32Array(new SharedArrayBuffer(16));
    spin_debug_asserts(true, w, names);
    try {
      expect(spin_lock(w, 1)).toBe(0);
      expect(() => spin_lock(w, 1)).toThrow(/^assertion: spin_lock of word 1: already held by this thread \(relock by the owner\)$/);
      spin_unlock(w, 1);
      w[3] = 1; // held by another thread
      expect(() => spin_unlock(w, 3)).toThrow(/^assertion: spin_unlock of word 3: not held by this thread/);
      expect(() => spin_lock(w, -1)).toThrow(/outside the shared memory/);
    } finally {
      spin_debug_asserts(false, null, names);
    }
  });

  it('sim: a backlog lock found held (relock) names the CPU and the lock', async () => {
    const err = await runTampered(
      'sim',
      { ...SIM, 'rps-cpus': 2 },
      once((shm) => {
        shm.i32[rpsLock(shm, 1)] = 1;
      }),
    );
    expectAssertion(err, /^assertion: spin_lock of cpu 1 rps_lock: already held by this thread/);
  });

  it('threads: a backlog lock word out of range', async () => {
    const err = await runTampered('threads', { ...THREADS, 'rps-cpus': 2 }, (shm) => (shm.i32[rpsLock(shm, 1)] = 7));
    expectAssertion(err, /^assertion: spin_(un)?lock of cpu 1 rps_lock: the lock word (holds|held) 7/);
  }, 60_000);
});

describe('skb pool', () => {
  it('--debug-asserts: double free, free out of range, alloc of an skb in use', () => {
    const shm = boot(config({ mode: 'sim', 'debug-asserts': 'on' }));
    const a = new SkbCache(shm, 0);
    const skb = a.alloc();
    expect(skb).toBeGreaterThanOrEqual(0);
    a.free(skb);
    expect(() => a.free(skb)).toThrow(/^assertion: skb pool: cpu 0 freed skb \d+, which is already free \(double free\)$/);
    expect(() => a.free(shm.layout.skbCount)).toThrow(/^assertion: skb pool: cpu 0 freed skb \d+, not a pool index/);
    const used = a.alloc();
    skb_pool_give(shm, Int32Array.of(used), 0, 1); // on the free stack while in use
    const b = new SkbCache(shm, 1);
    // The cache takes half its size from the stack's top: `used` comes out within that many allocs.
    expect(() => {
      for (let i = 0; i < SKB_CACHE_SIZE; i++) b.alloc();
    }).toThrow(new RegExp(`^assertion: skb pool: skb ${used} allocated on cpu 1 while in use \\(it was on the free stack twice\\)$`));
  });

  it('always on: a give of an id out of range, a free stack past its end, a corrupt top', () => {
    const shm = boot(config({ mode: 'sim' }));
    const n = shm.layout.skbCount;
    const top = shm.ctlI + shm.layout.CTL.skb_free_top;
    // An assertion ends the run with the pool's lock held: free it for the next check here.
    const unlock = () => (shm.i32[shm.ctlI + shm.layout.CTL.skb_free_lock] = 0);
    expect(() => skb_pool_give(shm, Int32Array.of(n + 3), 0, 1)).toThrow(
      /^assertion: skb pool: skb \d+ given to free stack slot \d+ is not a pool index/,
    );
    unlock();
    const out = new Int32Array(4);
    expect(skb_pool_take(shm, out, 0, 2)).toBe(2);
    shm.i32[top] = n; // as if every skb were back: the two given now overflow
    expect(() => skb_pool_give(shm, out, 0, 2)).toThrow(/overflows the free stack of \d+: an skb was freed twice$/);
    unlock();
    shm.i32[top] = -4;
    expect(() => skb_pool_take(shm, out, 0, 2)).toThrow(/^assertion: skb pool take: the free stack's top is -4, outside 0\.\.\d+/);
    unlock();
    // An empty pool is no fault: alloc says -1 (the driver counts alloc_failed).
    shm.i32[top] = 0;
    expect(new SkbCache(shm, 0).alloc()).toBe(-1);
  });

  it('sim and threads: a corrupt free-stack top fails the run', async () => {
    expectAssertion(await runTampered('sim', SIM, once(poolTopPastEnd)), /^assertion: skb pool/);
    expectAssertion(await runTampered('threads', THREADS, poolTopPastEnd), /^assertion: skb pool/);
  }, 60_000);
});

describe('backlog length against its counter', () => {
  it('sim: a qlen that disagrees with input_pkt_queue', async () => {
    const err = await runTampered('sim', { ...SIM, 'rps-cpus': 2 }, once(backlogQlen));
    expectAssertion(
      err,
      /^assertion: backlog of cpu 1: qlen \d+ but the queue is (empty|not \(skb \d+\)) in (enqueue_to_backlog|process_backlog)/,
    );
  });

  it('threads: the same with real threads', async () => {
    const err = await runTampered('threads', { ...THREADS, 'rps-cpus': 2 }, backlogQlen);
    expectAssertion(err, /^assertion: backlog of cpu 1: /);
  }, 60_000);
});

describe('--debug-asserts keeps behaviour', () => {
  for (const nic of ['ixgbe', 'legacy', 'virtio']) {
    for (const rps of ['0', '3']) {
      it(`sim, ${nic}, rps-cpus ${rps}: green, conserved, the same JSON but the config key`, async () => {
        const flags = { mode: 'sim', nic, 'rps-cpus': rps, cpus: 2, packets: 30_000, proto: 'mix' };
        const off = await runSim(config(flags));
        const on = await runSim(config({ ...flags, 'debug-asserts': 'on' }));
        expect(on.config.debug_asserts).toBe(true);
        expect(off.config.debug_asserts).toBe(false);
        expect(on.packets.generated).toBe(30_000);
        const drops = Object.values(on.packets.dropped).reduce((a, b) => a + b, 0);
        expect(on.packets.delivered + drops).toBe(on.packets.generated);
        const strip = (r: typeof on) => JSON.stringify(deterministicPart({ ...r, config: { ...r.config, debug_asserts: false } }));
        expect(strip(on)).toBe(strip(off));
      });
    }
  }
});

describe('the failure path', () => {
  it('an assertion is one line on stderr and exit status 5, no stack trace', () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => lines.push(s) > 0) as unknown as typeof process.stderr.write;
    let status: number;
    try {
      status = exitStatusOf(new AssertionFailure('ixgbe rx desc 17 on queue 0 taken by the device while owned by the driver'));
    } finally {
      process.stderr.write = write;
    }
    expect(status).toBe(EXIT_ASSERTION);
    expect(lines).toEqual(['rxsmp: assertion: ixgbe rx desc 17 on queue 0 taken by the device while owned by the driver\n']);
  });

  it('every fuzz campaign run has --debug-asserts on, and the draws are the same', () => {
    const c = { seed: 7, unsafe: false, seeds_per_config: 1 } as Parameters<typeof campaignRunFlags>[0];
    for (let i = 0; i < 5; i++) {
      const f = campaignRunFlags(c, i);
      expect(f['debug-asserts']).toBe('on');
      const { 'debug-asserts': _d, ...rest } = f;
      expect(rest).toEqual({ ...randomSimFlags(7 + i, false), seed: 7 + i });
    }
  });
});
