// The virtio_net driver's record in the NIC table (drivers/table.ts): the guest's driver of
// QEMU's virtio-net over split virtqueues (virtio_net.c), NAPI, one vector per receive queue.

import { virtioSlotsPerBuffer } from '../../shm/layout.js';
import type { NicDriver, QueueCounts } from '../driver.js';
import { ringBytes, sum } from '../driver.js';
import { virtqueue_slots_in_use } from '../virtio_ring.js';
import { virtio_register, virtnet_up } from './virtio_net.js';

/** virtnet_rq_stats_desc and virtnet_sq_stats_desc (5.10), per queue. */
const VIRTNET_RQ_STATS = ['packets', 'bytes', 'drops', 'xdp_packets', 'xdp_tx', 'xdp_redirects', 'xdp_drops', 'kicks'];
const VIRTNET_SQ_STATS = ['packets', 'bytes', 'xdp_tx', 'xdp_tx_drops', 'kicks'];

/** virtnet_get_strings: its queue pairs' receive then send counters. */
function virtnet_get_strings(queues: number): string[] {
  const rings = (dir: 'rx' | 'tx', stats: readonly string[]) =>
    Array.from({ length: queues }, (_, i) => stats.map((s) => `${dir}_queue_${i}_${s}`)).flat();
  return [...rings('rx', VIRTNET_RQ_STATS), ...rings('tx', VIRTNET_SQ_STATS)];
}

/**
 * virtnet_get_ethtool_stats, per receive queue: packets and bytes as virtnet_receive adds them,
 * kicks as try_fill_recv counts them; with --xdp the xdp_* counters as receive_mergeable's
 * switch counts them, and drops its err_xdp path's (receive_buf's length errors count in
 * rx_length_errors, not here).
 */
function virtnet_get_ethtool_stats(queues: readonly QueueCounts[]): Record<string, number> {
  const out: Record<string, number> = {};
  queues.forEach((q, i) => {
    const xdp = q.virtio?.xdp;
    out[`rx_queue_${i}_packets`] = q.rx_packets;
    out[`rx_queue_${i}_bytes`] = ringBytes(q);
    out[`rx_queue_${i}_drops`] = xdp?.drops ?? 0;
    if (xdp !== undefined) {
      out[`rx_queue_${i}_xdp_packets`] = xdp.packets;
      out[`rx_queue_${i}_xdp_tx`] = xdp.tx;
      out[`rx_queue_${i}_xdp_redirects`] = xdp.redirects;
      out[`rx_queue_${i}_xdp_drops`] = xdp.drops;
    }
    out[`rx_queue_${i}_kicks`] = q.virtio?.kicks ?? 0;
  });
  return out;
}

export const VIRTIO_NET_DRIVER: NicDriver = {
  register: virtio_register,
  up: virtnet_up,
  in_ring: (shm, q) => virtqueue_slots_in_use(shm, q, virtioSlotsPerBuffer(shm.cfg)),
  // The virtqueue's notifications both ways, refills, QEMU's held packet and tun queue (docs/virtio.md).
  queue_stats: (shm, q) => {
    const f = shm.f64;
    const b = shm.rxqF[q];
    const RXQ = shm.layout.RXQ;
    return {
      virtio: {
        irq_raised: f[b + RXQ.virtio_irq_raised],
        irq_suppressed: f[b + RXQ.virtio_irq_suppressed],
        kicks: f[b + RXQ.virtio_kicks],
        kicks_suppressed: f[b + RXQ.virtio_kicks_suppressed],
        refills: f[b + RXQ.virtio_refills],
        refills_delayed: f[b + RXQ.virtio_refills_delayed],
        held: f[b + RXQ.virtio_held],
        tun_queued: f[b + RXQ.virtio_tun_queued],
        tun_dropped: f[b + RXQ.virtio_tun_dropped],
        oversize: f[b + RXQ.virtio_oversize],
        rx_length_errors: f[b + RXQ.virtio_rx_length_errors],
        buffers_per_packet_max: shm.i32[shm.rxqI[q] + RXQ.virtio_buffers_per_packet_max],
        ...(shm.cfg.xdp !== ''
          ? {
              xdp: {
                packets: f[b + RXQ.virtio_xdp_packets],
                tx: f[b + RXQ.virtio_xdp_tx],
                redirects: f[b + RXQ.virtio_xdp_redirects],
                drops: f[b + RXQ.virtio_xdp_drops],
              },
            }
          : {}),
      },
    };
  },
  // The tun queue at its bound, frames QEMU could not fit, the guest's length errors.
  drops: (queues) => {
    const total = (k: 'tun_dropped' | 'oversize' | 'rx_length_errors') => sum(queues, (q) => q.virtio![k]);
    return { tun: total('tun_dropped'), virtio_oversize: total('oversize'), virtio_length: total('rx_length_errors') };
  },
  // The tap's tun queue drops (packets.dropped.tun) happen in the host, which no guest counter sees.
  missed_counter: undefined,
  ethtool_names: virtnet_get_strings,
  ethtool_stats: virtnet_get_ethtool_stats,
  // vp_request_msix_vectors: "%s-%s" of the device and the virtqueue's name
  irq_name: (q) => `virtio0-input.${q}`,
  irq_chip: ' PCI-MSI',
};
