// The ixgbe driver's record in the NIC table (drivers/table.ts): the 82599's driver, NAPI
// with one MSI-X vector per queue pair (ixgbe_main.c, ixgbe_ethtool.c).

import type { NicDriver } from '../driver.js';
import { rx_ring_in_use } from '../rx_ring.js';
import { ixgbe_register, ixgbe_up } from './ixgbe.js';
import { ixgbe_get_ethtool_stats, ixgbe_get_strings } from './ixgbe_ethtool.js';

export const IXGBE_DRIVER: NicDriver = {
  register: ixgbe_register,
  up: ixgbe_up,
  in_ring: rx_ring_in_use,
  // The vector's EITR interval at the end of the run, µs (ixgbe_write_eitr; adaptive ITR moves it).
  queue_stats: (shm, q) => ({ eitr_usecs: shm.i32[shm.rxqI[q] + shm.layout.RXQ.eitr_ns] / 1000 }),
  drops: () => ({}),
  // ixgbe_update_stats: the MPC registers summed. (With SRRCTL.DROP_EN a real 82599 counts a queue
  // without descriptors in QPRDC, rx_no_dma_resources; rxsmp's NIC counts it here.)
  missed_counter: 'rx_missed_errors',
  ethtool_names: ixgbe_get_strings,
  ethtool_stats: ixgbe_get_ethtool_stats,
  // ixgbe_request_msix_irqs: "%s-TxRx-%u" per queue pair
  irq_name: (q) => `eth0-TxRx-${q}`,
  irq_chip: ' PCI-MSI',
};
