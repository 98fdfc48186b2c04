// ixgbe_ethtool.c (5.10): the names ixgbe_get_strings gives and the values
// ixgbe_get_ethtool_stats fills that rxsmp counts.

import { MAX_QUEUES } from '../../config/schema.js';
import { type NetdevCounts, type QueueCounts, ringBytes, sum } from '../driver.js';

/** ixgbe_gstrings_stats, 5.10, in order (IXGBE_FCOE off). */
const IXGBE_GSTRINGS = [
  'rx_packets',
  'tx_packets',
  'rx_bytes',
  'tx_bytes',
  'rx_pkts_nic',
  'tx_pkts_nic',
  'rx_bytes_nic',
  'tx_bytes_nic',
  'lsc_int',
  'tx_busy',
  'non_eop_descs',
  'rx_errors',
  'tx_errors',
  'rx_dropped',
  'tx_dropped',
  'multicast',
  'broadcast',
  'rx_no_buffer_count',
  'collisions',
  'rx_over_errors',
  'rx_crc_errors',
  'rx_frame_errors',
  'hw_rsc_aggregated',
  'hw_rsc_flushed',
  'fdir_match',
  'fdir_miss',
  'fdir_overflow',
  'rx_fifo_errors',
  'rx_missed_errors',
  'tx_aborted_errors',
  'tx_carrier_errors',
  'tx_fifo_errors',
  'tx_heartbeat_errors',
  'tx_timeout_count',
  'tx_restart_queue',
  'rx_length_errors',
  'rx_long_length_errors',
  'rx_short_length_errors',
  'tx_flow_control_xon',
  'rx_flow_control_xon',
  'tx_flow_control_xoff',
  'rx_flow_control_xoff',
  'rx_csum_offload_errors',
  'alloc_rx_page',
  'alloc_rx_page_failed',
  'alloc_rx_buff_failed',
  'rx_no_dma_resources',
  'os2bmc_rx_by_bmc',
  'os2bmc_tx_by_bmc',
  'os2bmc_tx_by_host',
  'os2bmc_rx_by_host',
  'tx_hwtstamp_timeouts',
  'tx_hwtstamp_skipped',
  'rx_hwtstamp_cleared',
  'tx_ipsec',
  'rx_ipsec',
];
/** IXGBE_MAX_PACKET_BUFFERS: the pb_N_pxon/pxoff priority flow control counters. */
const IXGBE_PACKET_BUFFERS = 8;

/**
 * ixgbe_get_strings: the adapter's list, then netdev->num_tx_queues rings each way
 * (alloc_etherdev_mq with MAX_TX_QUEUES: 64 on an 82599, the unused ones 0), then the
 * packet buffers' flow control counters.
 */
export function ixgbe_get_strings(): string[] {
  const rings = (dir: 'rx' | 'tx') =>
    Array.from({ length: MAX_QUEUES }, (_, i) => [`${dir}_queue_${i}_packets`, `${dir}_queue_${i}_bytes`]).flat();
  const pb = (dir: 'rx' | 'tx') =>
    Array.from({ length: IXGBE_PACKET_BUFFERS }, (_, i) => [`${dir}_pb_${i}_pxon`, `${dir}_pb_${i}_pxoff`]).flat();
  return [...IXGBE_GSTRINGS, ...rings('tx'), ...rings('rx'), ...pb('tx'), ...pb('rx')];
}

/**
 * ixgbe_get_ethtool_stats: ixgbe_gstrings_stats (rtnl_link_stats64 fields, then the adapter's).
 * 5.10's ixgbe has no XDP counters of its own: a frame the program consumed still counts in
 * its ring's rx packets and bytes (ixgbe_clean_rx_irq adds every descriptor), and the XDP TX
 * rings are not in the list (ixgbe_get_ethtool_stats walks num_tx_queues).
 */
export function ixgbe_get_ethtool_stats(queues: readonly QueueCounts[], n: NetdevCounts): Record<string, number> {
  const out: Record<string, number> = {};
  out.rx_packets = n.rx_packets;
  out.rx_bytes = n.rx_bytes;
  out.rx_pkts_nic = n.rx_packets; // GPRC, the MAC's good packets
  out.rx_bytes_nic = sum(queues, (q) => q.rx_bytes); // GORC counts the FCS
  out.rx_dropped = n.rx_dropped;
  out.rx_missed_errors = n.rx_missed_errors;
  // ixgbe_alloc_mapped_page: dev_alloc_pages failed in ixgbe_alloc_rx_buffers (rxsmp's pool holds
  // page and skb in one slot, so a failed refill is this; alloc_rx_buff_failed, a failed build_skb
  // in ixgbe_clean_rx_irq, cannot happen here)
  out.alloc_rx_page_failed = sum(queues, (q) => q.alloc_failed);
  out.alloc_rx_buff_failed = 0;
  // per ring, ring->stats as ixgbe_clean_rx_irq adds them up
  queues.forEach((q, i) => {
    out[`rx_queue_${i}_packets`] = q.rx_packets;
    out[`rx_queue_${i}_bytes`] = ringBytes(q);
  });
  return out;
}
