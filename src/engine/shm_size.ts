// The run's shared memory, sized before any of it is allocated: the skb pool by the kernel's
// rules (what the rings, backlogs, GRO and the sockets may hold at once), and the whole
// checked against the machine's limit, so a run that would not fit is one line, not a worker
// that dies.

import { totalmem } from 'node:os';
import { ConfigError, type Config } from '../config/schema.js';
import { computeLayout, SKB_CACHE_SIZE, skbBufSize, slotsPerFrame, virtioSlotsPerBuffer } from '../shm/layout.js';
import { rxSkbTruesize } from '../kernel/skbuff.js';
import { skRcvbuf } from '../kernel/sock.js';

/** The skbs the run's pool holds (Shm.create's `skbCount`). */
export function skbPoolSize(cfg: Config): number {
  const rings = cfg.queues * cfg.ring_size * virtioSlotsPerBuffer(cfg);
  // Per CPU: both backlog queues full, GRO holding its maximum (8 buckets × 8 flows), the
  // gro_normal list, and the per-CPU cache, for the backlog napi and every device napi.
  const perCpu = 2 * (cfg.netdev_max_backlog + 1) + (cfg.queues + 1) * (64 + cfg.gro_normal_batch) + 2 * SKB_CACHE_SIZE;
  // Room for socket queues: what the sockets may hold, capped (then the pool is the bound,
  // as memory is on a real machine: a failed refill is counted and the ring runs dry).
  const slots = slotsPerFrame(cfg);
  // Each socket holds at most sk_rcvbuf of truesize (plus the one skb the test-then-charge rule lets over).
  const truesize = rxSkbTruesize(cfg, cfg.pkt_size - 4);
  const sockets = Math.min(cfg.flows * (Math.ceil(skRcvbuf(cfg, cfg.proto !== 'udp') / truesize) + 1), 65536) * slots;
  const n = rings + cfg.cpus * perCpu * slots + sockets + 1024;
  const maxByBytes = Math.floor((1 << 30) / skbBufSize(cfg));
  return Math.min(n, maxByBytes);
}

/**
 * The most shared memory a run may take: half this machine's memory, and 8 GiB at most; or
 * less, when RXSMP_SHM_LIMIT (bytes) says so (a machine shared with other work, a test).
 */
export function sharedMemoryLimit(): { bytes: number; why: string } {
  const env = Number(process.env.RXSMP_SHM_LIMIT);
  const machine = Math.min(8 * 2 ** 30, Math.floor(totalmem() / 2));
  if (Number.isFinite(env) && env > 0 && env < machine) return { bytes: env, why: 'RXSMP_SHM_LIMIT' };
  return { bytes: machine, why: "half this machine's memory, 8 GiB at most" };
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(n < 2 ** 30 ? 2 : 1)} GiB`;

/** A run that would not fit the limit: one ConfigError naming what takes the room. */
export function checkSharedMemory(cfg: Config): void {
  const layout = computeLayout(cfg, skbPoolSize(cfg));
  const limit = sharedMemoryLimit();
  if (layout.bytes <= limit.bytes) return;
  const parts: [string, number][] = [
    [
      `the skb pool (${layout.skbCount.toLocaleString('en-US')} buffers of ${layout.skbBufSize} bytes: --ring-size, --queues, --cpus, --pkt-size)`,
      layout.skbCount * layout.skbBufSize,
    ],
    [`the sockets (${layout.skCount.toLocaleString('en-US')}: --flows)`, layout.skCount * layout.SOCK.stride],
    ['the tap buffer (--tap-buffer)', layout.tapRingSize],
  ];
  const [what, bytes] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
  throw new ConfigError(
    `this run needs ${gib(layout.bytes)} of shared memory, ${gib(bytes)} of it for ${what}; the limit is ${gib(limit.bytes)} (${limit.why})`,
  );
}
