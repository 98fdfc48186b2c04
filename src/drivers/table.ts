/**
 * table.ts: the NIC table's driver half, every `--nic` name's driver record (driver.ts). The
 * names come from config/nics.ts, whose records hold each NIC's defaults and limits; a NIC
 * without a driver here does not compile. Looked up once, at setup: docs/design.md, "Adding a NIC".
 */
import type { Nic } from '../config/nics.js';
import type { NicDriver } from './driver.js';
import { IXGBE_DRIVER } from './ixgbe/index.js';
import { LEGACY_DRIVER } from './legacy/index.js';
import { VIRTIO_NET_DRIVER } from './virtio_net/index.js';

export const NIC_DRIVERS: Record<Nic, NicDriver> = {
  ixgbe: IXGBE_DRIVER,
  legacy: LEGACY_DRIVER,
  virtio: VIRTIO_NET_DRIVER,
};

/** The driver of `--nic name`; undefined for a name this build does not know (a result file from another). */
export function nicDriver(name: Nic): NicDriver;
export function nicDriver(name: string): NicDriver | undefined;
export function nicDriver(name: string): NicDriver | undefined {
  return Object.hasOwn(NIC_DRIVERS, name) ? NIC_DRIVERS[name as Nic] : undefined;
}
