// Runs that the threads tests, the sim tests and bench/claims.ts all make: one definition
// each. A threads test asserts what the host's speed cannot change about the run; the sim
// test asserts its exact figures, which only virtual time makes repeatable; bench/claims.ts
// measures, on this host, the threads-mode figures a test there could not promise
// (docs/testing.md).

export type Flags = Record<string, string | number>;

/** Closed loop on one CPU: NAPI keeps polling, ksoftirqd takes over. */
export const NAPI_CLOSED_LOOP: Flags = { cpus: 1, queues: 1, packets: 500_000 };
/** 1 kpps on one CPU: every packet finds the vector unmasked. */
export const NAPI_LOW_RATE: Flags = { cpus: 1, queues: 1, rate: 1000, packets: 300 };
/** Open loop ten times faster than a 2 µs stack: the ring overflows. */
export const RX_MISSED: Flags = { cpus: 1, queues: 1, rate: 5_000_000, 'stack-cost-ns': 2000, packets: 100_000 };
/** One frame in twenty with a corrupted IPv4 header checksum. */
export const BAD_CSUM: Flags = { cpus: 2, queues: 2, 'bad-csum-rate': 0.05, packets: 100_000 };
/** 20 kpps for 0.2 s, with and without a 1000 µs interrupt throttle. */
export const ITR_BASE: Flags = { cpus: 1, queues: 1, rate: 20_000, packets: 4000 };
export const ITR_1000: Flags = { ...ITR_BASE, 'rx-usecs': 1000 };
/** The vector moves from CPU 0 to CPU 1 at 60 ms of 200. */
export const AFFINITY_CHANGE: Flags = { cpus: 2, queues: 1, rate: 50_000, packets: 10_000, 'knob-at': '60:irq-affinity=1' };

/** RFS under application migration: 8 TCP flows, both tasks migrating every 3 ms. */
export const rfsMigration = (unsafe: boolean, rate: string | number): Flags => ({
  cpus: 2,
  queues: 1,
  proto: 'tcp',
  flows: 8,
  'rps-flow-cnt': 256,
  'rps-sock-flow-entries': 4096,
  'app-cpus': '0,1',
  'app-placement': 'spread', // flows on both tasks, so every migration moves some
  gro: 'off', // every packet an skb with its stack cost: backlogs long enough to overtake
  'migrate-every-ms': 3,
  'stack-cost-ns': 3000,
  'unsafe-rfs-no-qtail-check': unsafe ? 'on' : 'off',
  rate,
  packets: rate === 'max' ? 150_000 : 60_000,
  seed: 7,
});

/** An elephant flow (zipf s=2 over 1000 flows) steered from CPU 0 to a slower CPU 1. */
export const FLOW_LIMIT: Flags = {
  cpus: 2,
  queues: 1,
  'rps-cpus': 2,
  'flow-dist': 'zipf',
  'zipf-s': 2,
  flows: 1000,
  'flow-limit-cpu-bitmap': 1,
  'stack-cost-ns': 1000,
  packets: 200_000,
};
/** RPS to CPU 1 switched on at 150 ms of 400. */
export const RPS_ON_MIDRUN: Flags = { cpus: 2, queues: 1, rate: 100_000, packets: 40_000, 'knob-at': '150:rps-cpus=2' };
/** RFS tables created at 80 ms of 200, the application on CPU 1. */
export const RFS_ON_MIDRUN: Flags = {
  cpus: 2,
  queues: 1,
  proto: 'tcp',
  flows: 8,
  'app-cpus': 1,
  rate: 300_000,
  packets: 60_000,
  'knob-at': '80:rps-flow-cnt=256;80:rps-sock-flow-entries=4096',
};

/** Millions of packets on 2 CPUs with no latency stamps: the hot-path window. */
export const HOT_PATH: Flags = { cpus: 2, queues: 2, packets: 3_000_000, 'latency-sample': 0 };

/**
 * The most a thread may allocate in HOT_PATH's window (about 1.2 M packets a CPU). What a
 * thread allocates there is V8's late JIT work (code, feedback; deopts of paths first taken
 * inside the window), not packets. Measured 2026-12-06: 0.24-0.43 MB a thread with the device
 * on its own thread (one run); with the device inline (`--device auto` on 2 cores) 0.26-1.64
 * MB a thread over six runs since the XDP and busy-poll branches joined the path (`idle`
 * deopts five times, each on a path first taken late), 0.43-0.59 MB before them. One 16-byte
 * object per packet would be 19 MB, one per 8 packets 2.4 MB.
 */
export const HOT_PATH_ALLOC_MAX = 2 << 20;

/** A slow stack on a full ring: the closed-loop wire waits for every re-post (by napping). */
export const WIRE_SLOW_STACK: Flags = { cpus: 1, queues: 1, 'stack-cost-ns': 3000, packets: 200_000 };
/** A 64-descriptor ring the CPU drains faster than the wire's shortest nap. */
export const wireSmallRing = (nic: 'ixgbe' | 'legacy'): Flags => ({ cpus: 1, queues: 1, nic, 'ring-size': 64, packets: 200_000 });

/** Issue 13: 16 TCP flows through one queue, RPS to 4 CPUs: the windows stall senders instead of sockets dropping. */
export const TCP_WINDOW: Flags = { cpus: 4, queues: 1, 'rps-cpus': 'f', flows: 16, proto: 'tcp', packets: 200_000, seed: 3 };

/** Issue 13: default (connected) UDP sockets, readers spread over both CPUs: RFS steers each flow to its reader. */
export const RFS_CONNECTED_UDP: Flags = {
  queues: 1,
  'app-placement': 'spread',
  'rps-sock-flow-entries': 32768,
  'rps-flow-cnt': 4096,
  packets: 200_000,
};

/** Issue 13: timestamped TCP (the 12-byte option) through GRO. */
export const GRO_TCP_TIMESTAMPS: Flags = { proto: 'tcp', 'pkt-size': 128, packets: 100_000 };
