/**
 * driver.ts: the NIC table's driver half. One record per NIC (src/drivers/<name>/index.ts),
 * keyed by the `--nic` name in table.ts: what module init registers in every CPU thread (its
 * poll function and interrupt handler), what boot brings up, and what it adds to the results
 * (per-queue stats, drops, its `ethtool -S` list, its /proc/interrupts lines). The NIC's
 * configuration half (defaults, limits) is config/nics.ts.
 *
 * Looked up once, at setup; nothing here is called per packet.
 */
import type { Shm } from '../shm/memory.js';

/** The FCS: the device counts frames with it (rx_bytes), the drivers count skb->len without it. */
export const FCS = 4;

/** A queue's counts, as the results hold them, that a driver's stats read. */
export interface QueueCounts {
  rx_packets: number;
  rx_bytes: number;
  rx_missed: number;
  alloc_failed: number;
  virtio?: { kicks: number; xdp?: { packets: number; tx: number; redirects: number; drops: number } };
}

/** A queue's drop counts, as the results hold them, that a driver's drops read. */
export interface QueueDrops {
  virtio?: { tun_dropped: number; oversize: number; rx_length_errors: number };
}

/** Bytes a queue's driver counted: skb->len, the frame without its FCS (ixgbe_clean_rx_irq, receive_buf). */
export const ringBytes = (q: QueueCounts) => q.rx_bytes - FCS * q.rx_packets;

/** The device's rtnl_link_stats64 fields a driver's ethtool -S repeats. */
export interface NetdevCounts {
  rx_packets: number;
  rx_bytes: number;
  rx_dropped: number;
  rx_missed_errors: number;
}

export interface NicDriver {
  /** Module init, in every thread that runs the kernel: netif_napi_add's poll function, request_irq. */
  register(): void;
  /** ndo_open at boot: post the receive buffers, set up the queues' napi and vectors. */
  up(shm: Shm): void;
  /** Receive buffers the driver posted that the device still holds (skb pool slots), queue `q`. */
  in_ring(shm: Shm, q: number): number;
  /** The per-queue stats it adds to the results (ixgbe's EITR, virtio's notifications). */
  queue_stats(shm: Shm, q: number): Record<string, unknown>;
  /** The drops it counts besides the kernel's, by packets.dropped key, summed over the queues. */
  drops(queues: readonly QueueDrops[]): Record<string, number>;
  /** The rtnl_link_stats64 field its device's missed frames count in (dev_get_stats), or none. */
  readonly missed_counter: 'rx_missed_errors' | 'rx_fifo_errors' | undefined;
  /** ethtool -S: every name get_strings gives, in the driver's order. */
  ethtool_names(queues: number): string[];
  /** ethtool -S: the values rxsmp counts, by name (get_ethtool_stats). */
  ethtool_stats(queues: readonly QueueCounts[], n: NetdevCounts): Record<string, number>;
  /** /proc/interrupts: the action's name of queue `q`'s vector (request_irq's name). */
  irq_name(q: number): string;
  /** /proc/interrupts: the irq chip, padded as show_interrupts prints it. */
  readonly irq_chip: string;
}

/** The sum of `f` over `xs`. */
export const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
