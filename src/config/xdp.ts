// Attaching --xdp's program as the driver's ndo_bpf would (`ip link set dev X xdp obj FILE`):
// what the driver refuses for this configuration, decided from the configuration alone. The
// object itself is read and checked outside config/ (host/xdp_object.ts, handed in as
// ConfigIo.xdp).

import { clipPath, ConfigError, type Config } from './schema.js';
import { nicModel } from './nics.js';

/** sizeof(struct padded_vnet_hdr): virtio_net_hdr_mrg_rxbuf (12 bytes) padded to 16. */
const PADDED_VNET_HDR = 16;
/** virtnet_xdp_set's max_sz: the largest MTU virtio-net takes a native program with (a page less the header). */
const VIRTIO_XDP_MTU_MAX = 4096 - PADDED_VNET_HDR;
/** The MTU of frames of `pktSize` bytes (FCS included), as `ip link` shows it. */
const mtuOf = (pktSize: number): number => pktSize - 4 - 14;
/** Would virtnet_xdp_set refuse a native program for this frame size ("MTU too large to enable XDP")? */
export const virtioXdpMtuTooLarge = (pktSize: number): boolean => mtuOf(pktSize) > VIRTIO_XDP_MTU_MAX;

/**
 * What attaching the program may be refused for, as the driver's ndo_bpf does it. virtio-net
 * (virtnet_xdp_set, 5.10): QEMU's device offers VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (so guest
 * offloads are switched off, not refused) and, being a VIRTIO 1 device, any_header_sg; what
 * remains is an MTU above a page less the header and skb_shared_info ("MTU too large to
 * enable XDP", max_sz = PAGE_SIZE - sizeof(struct padded_vnet_hdr)) and too few queue pairs for one XDP TX queue per CPU ("Too few free TX rings
 * available": curr_queue_pairs + nr_cpu_ids > max_queue_pairs). Throws ConfigError.
 */
export function checkXdpAttach(cfg: Config): void {
  if (nicModel(cfg.nic).rx_queue !== 'virtqueue' || cfg.xdp_mode !== 'native') return;
  if (virtioXdpMtuTooLarge(cfg.pkt_size))
    throw new ConfigError(
      `--xdp ${clipPath(cfg.xdp, 40)}: virtnet_xdp_set: MTU too large to enable XDP (-EINVAL): --pkt-size ${cfg.pkt_size} is MTU ${mtuOf(cfg.pkt_size)}, XDP needs below ${VIRTIO_XDP_MTU_MAX + 1}`,
    );
  const need = cfg.queues + cfg.cpus;
  if (need > cfg.virtio_max_queue_pairs)
    throw new ConfigError(
      `--xdp ${clipPath(cfg.xdp, 40)}: virtnet_xdp_set: too few free TX rings (-ENOMEM): --queues ${cfg.queues} + an XDP TX queue per CPU (--cpus ${cfg.cpus}) need ${need} queue pairs, --virtio-max-queue-pairs is ${cfg.virtio_max_queue_pairs}`,
    );
}
