/**
 * nics.ts: the NIC table's configuration half, one record per `--nic` value: what its driver
 * picks when the user does not, what it takes, and the few facts the layers below read of it
 * once, at setup (its receive queue format, NAPI or netif_rx, how the device spreads flows, how
 * the driver allocates an skb). It imports nothing, so every layer may read it.
 *
 * The driver side of a NIC (poll function, irq handler, boot, the counters and lines it adds)
 * is `src/drivers/<name>/`, keyed by the same name in `src/drivers/table.ts`; its device side
 * is the device model its `rx_queue` names (`src/devices/nic.ts` for descriptor rings,
 * `src/devices/virtio_net_backend.ts` for a split virtqueue). docs/design.md, "Adding a NIC".
 */

/** The largest frame, FCS included, on the physical NICs. */
export const PKT_SIZE_MAX = 1518;
/** The largest frame with --nic virtio: MTU 9000. */
export const VIRTIO_PKT_SIZE_MAX = 9018;

/** What a NIC's limits are checked on. */
export interface NicCheckInput {
  nic: string;
  pkt_size: number;
  ring_size: number;
  queues: number;
  unsafe_small_virtqueue: boolean;
  reta_change_at_ms: number;
  knob_at?: readonly { key: string }[];
}

/** Every record has every field, in this order (one hidden class for all; a field may be undefined). */
export interface NicModel {
  /** Its queue count when --queues is not given, for `cpus` CPUs and at most `max` queues. */
  readonly queues: (cpus: number, max: number) => number;
  readonly ring_size: number;
  /** Mbit/s; 0 is a wire with no line rate. */
  readonly link_speed: number;
  /** --rx-usecs when not given. */
  readonly rx_usecs: number;
  /** Why --rx-usecs is refused (the driver has no interrupt moderation), or undefined. */
  readonly no_itr: string | undefined;
  /** Why --xdp-mode native is refused (the driver has no ndo_bpf), or undefined: native is the default. */
  readonly no_native_xdp: string | undefined;
  /**
   * The device's receive queues: descriptor rings with RDH/RDT (drivers/rx_ring.ts, the 82599
   * model in devices/nic.ts), or split virtqueues (drivers/virtio_ring.ts, QEMU's backend).
   */
  readonly rx_queue: 'ring' | 'virtqueue';
  /** NAPI (a poll function the softirq calls), or netif_rx from the interrupt handler. */
  readonly napi: boolean;
  /** How the device picks a flow's queue: RSS (Toeplitz and RETA), the host's multiqueue tap, or one queue. */
  readonly steering: 'rss' | 'tap' | 'none';
  /** How its driver allocates a received skb, the truesize rule (kernel/skbuff.ts rxSkbTruesize). */
  readonly truesize: 'build_skb' | 'copybreak' | 'page_to_skb';
  /** The largest frame it takes, FCS included. */
  readonly pkt_size_max: number;
  /** What its ring and queue limits refuse, as one message, or undefined. */
  readonly check: (cfg: NicCheckInput) => string | undefined;
  /**
   * The fuzz campaign's draws of it (engine/fuzz.ts), from its own fork of the seed so that
   * every other draw stays: it takes `share` of the draws of a NAPI NIC, and `draw` sets its
   * options. Without it the NIC is drawn only as the campaign's main stream names it.
   */
  readonly fuzz: NicFuzz | undefined;
}

/** A flag set of the fuzz campaign, by option name. */
export type FuzzFlags = Record<string, string | number>;

export interface NicFuzz {
  readonly fork: number;
  readonly share: number;
  readonly draw: (pick: <T>(xs: readonly T[]) => T, chance: () => number, f: FuzzFlags) => void;
}

/** A descriptor ring's limits (ixgbe's ethtool -G: 64 to 4096; the 1518-byte frame). */
function checkRing(cfg: NicCheckInput): string | undefined {
  if (cfg.pkt_size > PKT_SIZE_MAX)
    return `--pkt-size: ${cfg.pkt_size} is more than ${PKT_SIZE_MAX} for --nic ${cfg.nic} (frames up to ${VIRTIO_PKT_SIZE_MAX}, MTU 9000, only with --nic virtio)`;
  if (cfg.ring_size < 64)
    return `--ring-size: ${cfg.ring_size} is below 64 for --nic ${cfg.nic}; expected an integer from 64 to 4096, a multiple of 8`;
  return undefined;
}

/** The 82599 and its ixgbe driver: NAPI, MSI-X per queue, RSS, adaptive ITR, native XDP. */
const ixgbe: NicModel = {
  // ixgbe: one queue pair per CPU (ixgbe_set_rss_queues: min(num_online_cpus, 64)); the 82599 is 10 GbE.
  queues: (cpus, max) => Math.min(cpus, max),
  ring_size: 512,
  link_speed: 10_000,
  rx_usecs: 1,
  no_itr: undefined,
  no_native_xdp: undefined,
  rx_queue: 'ring',
  napi: true,
  steering: 'rss',
  truesize: 'build_skb',
  pkt_size_max: PKT_SIZE_MAX,
  check: checkRing,
  fuzz: undefined,
};

/** A 3c59x-like device and its non-NAPI driver (netif_rx): one queue, no RSS, no ITR, no ndo_bpf. */
const legacy: NicModel = {
  // The legacy (netif_rx) driver has one RX queue; the same 10 GbE wire.
  queues: () => 1,
  ring_size: 512,
  link_speed: 10_000,
  rx_usecs: 0,
  no_itr: '--rx-usecs: the legacy NIC (a 3c59x-like device, netif_rx) has no interrupt moderation; only --nic ixgbe has an ITR',
  no_native_xdp: '--xdp-mode: native XDP needs a driver with an XDP hook (ixgbe, virtio); the legacy driver has none, use generic',
  rx_queue: 'ring',
  napi: false,
  steering: 'none',
  truesize: 'copybreak',
  pkt_size_max: PKT_SIZE_MAX,
  check: (cfg) =>
    checkRing(cfg) ?? (cfg.queues !== 1 ? `--nic legacy: a non-NAPI device has one RX queue, not --queues ${cfg.queues}` : undefined),
  fuzz: undefined,
};

/** QEMU's virtio-net over split virtqueues, the guest's virtio_net driver: NAPI, the tap spreads flows. */
const virtio: NicModel = {
  // QEMU's virtio-net: one queue pair (queues=1), rx_queue_size 256, and a virtual wire with no line rate.
  queues: () => 1,
  ring_size: 256,
  link_speed: 0,
  rx_usecs: 0,
  no_itr:
    '--rx-usecs: virtio-net in Linux 5.10 has no RX interrupt coalescing (ethtool -C rx-usecs); interrupts are suppressed through the ring instead',
  no_native_xdp: undefined,
  rx_queue: 'virtqueue',
  napi: true,
  steering: 'tap',
  truesize: 'page_to_skb',
  pkt_size_max: VIRTIO_PKT_SIZE_MAX,
  check: (cfg) => {
    const n = cfg.ring_size;
    const pow2 = (n & (n - 1)) === 0;
    if (!pow2 || n > 1024 || n < (cfg.unsafe_small_virtqueue ? 8 : 256)) {
      const small = cfg.unsafe_small_virtqueue
        ? ' (8 to 1024 with --unsafe-small-virtqueue)'
        : ' (below 256 only with --unsafe-small-virtqueue, beyond QEMU)';
      return `--ring-size: ${n} is not valid for --nic virtio; expected a power of two from 256 to 1024, as QEMU's rx_queue_size${small}`;
    }
    const noReta =
      'a virtio-net device has no RSS indirection table (VIRTIO_NET_F_RSS is not modelled: the host tap spreads flows by hash)';
    if (cfg.reta_change_at_ms > 0) return `--reta-change-at-ms: ${noReta}`;
    if ((cfg.knob_at ?? []).some((k) => k.key === 'rss_reta')) return `--knob-at: rss-reta cannot change: ${noReta}`;
    return undefined;
  },
  // issue 11: QEMU's ring sizes or tiny unsafe ones, mergeable or big buffers, EVENT_IDX or the
  // flags, jumbo frames sometimes (fewer packets: each takes more of the run)
  fuzz: {
    fork: 0x7172,
    share: 0.25,
    draw: (pick, chance, f) => {
      const small = chance() < 0.5;
      f['ring-size'] = small ? pick([8, 16, 32, 64, 128]) : pick([256, 512, 1024]);
      if (small) f['unsafe-small-virtqueue'] = 'on';
      f['virtio-mrg-rxbuf'] = pick(['on', 'on', 'off']);
      f['virtio-event-idx'] = pick(['on', 'on', 'off']);
      if (chance() < 0.2) {
        f['pkt-size'] = pick([1518, 4000, 9018]);
        f.packets = Math.max(2_000, Math.floor(Number(f.packets) / 4));
      }
    },
  },
};

/** Every NIC model by its `--nic` name, in --help's order. */
export const NIC_MODELS = { ixgbe, legacy, virtio } as const satisfies Record<string, NicModel>;

export type Nic = keyof typeof NIC_MODELS;
export const NICS = Object.keys(NIC_MODELS) as Nic[];

/** The model of a configured NIC (resolve once, at setup: never per packet). */
export const nicModel = (nic: Nic): NicModel => NIC_MODELS[nic];
