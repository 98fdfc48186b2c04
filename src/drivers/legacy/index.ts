// The legacy driver's record in the NIC table (drivers/table.ts): a 3c59x-like non-NAPI
// driver (3c59x.c), netif_rx from its interrupt handler, one queue, one line interrupt.

import type { NicDriver } from '../driver.js';
import { rx_ring_in_use } from '../rx_ring.js';
import { legacy_register, legacy_up } from './legacy.js';

/** 3c59x's ethtool_stats_keys: transmit and PHY counters, none of which rxsmp has. */
const VORTEX_STATS_KEYS = ['tx_deferred', 'tx_max_collisions', 'tx_multiple_collisions', 'tx_single_collisions', 'rx_bad_ssd'];

export const LEGACY_DRIVER: NicDriver = {
  register: legacy_register,
  up: legacy_up,
  in_ring: rx_ring_in_use,
  queue_stats: () => ({}),
  drops: () => ({}),
  // 3c59x update_stats: window 6 register 5 (RxOverruns), frames the chip could not upload
  missed_counter: 'rx_fifo_errors',
  ethtool_names: () => VORTEX_STATS_KEYS,
  ethtool_stats: () => ({}),
  // vortex_open: request_irq(dev->irq, ..., IRQF_SHARED, dev->name, dev) on an IO-APIC line
  irq_name: () => 'eth0',
  irq_chip: '  IO-APIC',
};
