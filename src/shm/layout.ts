// The byte layout of the one SharedArrayBuffer every thread attaches to.
//
// The layout is a pure function of the Config and the skb pool's size: the engine sizes the
// pool, computes the layout, allocates the buffer and writes the size in the control block;
// every worker reads it there and recomputes the same layout, then attaches views. Nothing
// is allocated after start-up; every queue below has its bound and its drop counter.
//
// A struct is a list of fields, each an i32 or an f64 (counters are f64: exact to 2^53, no
// BigInt on the hot path). Fields are grouped by *who writes them*; with `cacheline_pad` each
// group starts on its own 128-byte line (two 64-byte lines: the adjacent-line prefetcher pulls
// pairs) and each struct's stride is a multiple of 128, so a CPU writing its own fields never
// invalidates a line another CPU writes. With padding off, groups and structs are packed
// back to back: the false-sharing configuration.
//
// Regions (offset order):
//   ctl        global control words and run-wide counters
//   sd[cpu]    softnet_data, one per CPU
//   napi[n]    napi_struct: n = cpus backlog napis, then one per RX queue
//   rxq[q]     RX queue registers (RDH/RDT), per-queue counters, and its MSI-X vector
//   desc       descriptor rings: per queue, ring_size × {skb, len, hash, status}
//   task[t]    application tasks
//   sk[s]      sockets, one per flow
//   skb        the skb pool, structure of arrays, plus the frame bytes of each skb
//   tables     RPS maps, RFS tables, RSS indirection table, flow-limit tables, socket hash

import { CTL_WORDS, RSS_RETA_SIZE, type Config, type CtlWord } from '../config/schema.js';
import { nicModel } from '../config/nics.js';
import { vqLayout, type VqLayout } from './virtqueue.js';
import { fastObject } from '../lib/fast_object.js';
import { counterSlots } from './softnet_counters.js';

export const CACHELINE = 128;

type FieldKind = 'i32' | 'f64';
type StructDef = Record<string, readonly (readonly [string, FieldKind])[]>;

/** Field name → element index relative to the struct base, in its own view (i32 or f64). */
export type StructIndex<D extends StructDef> = { readonly [F in D[keyof D][number][0]]: number } & {
  readonly stride: number;
};

/** A struct laid out at byte offsets; `stride` is the struct size in bytes. */
function layoutStruct<D extends StructDef>(def: D, pad: boolean): StructIndex<D> {
  const out: Record<string, number> = {};
  let off = 0;
  for (const group of Object.values(def)) {
    if (pad) off = align(off, CACHELINE);
    for (const [name, kind] of group) {
      if (kind === 'f64') {
        off = align(off, 8);
        out[name] = off / 8;
        off += 8;
      } else {
        out[name] = off / 4;
        off += 4;
      }
    }
  }
  out.stride = pad ? align(off, CACHELINE) : align(off, 8);
  // Every field in-object, one hidden class per struct (lib/fast_object.ts): the hot path
  // loads these indices per packet.
  return fastObject(out) as StructIndex<D>;
}

export function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

// Execution contexts, for busy time and the watchdog's report.
export const CTX_IDLE = 0;
export const CTX_HARDIRQ = 1;
export const CTX_SOFTIRQ = 2;
export const CTX_KSOFTIRQD = 3;
export const CTX_TASK = 4;
/** Idle and polling the doorbell (TIF_POLLING_NRFLAG): a waker rings without a futex wake. */
export const CTX_IDLE_POLL = 5;
export const CTX_NAMES = ['idle', 'hardirq', 'softirq', 'ksoftirqd', 'task', 'idle-poll'] as const;

/**
 * Every drop reason counted on a CPU: the run contract's name and the softnet_data field. The
 * drains (engine/result.ts accounted, the sim machine's) and the report read this one list;
 * rx_missed is the device's, per queue. Each has its f64 slot in softnet_data's owner group.
 */
export const SD_DROPS = [
  ['backlog', 'drop_backlog'],
  ['flow_limit', 'drop_flow_limit'],
  ['socket', 'drop_socket'],
  ['ip_csum', 'drop_ip_csum'],
  ['ip_hdr', 'drop_ip_hdr'],
  ['l4_csum', 'drop_l4_csum'],
  ['no_socket', 'drop_no_socket'],
  ['not_ip', 'drop_not_ip'],
  ['ip_frag', 'drop_ip_frag'], // a fragment: reassembly (ip_defrag, ipv6_frag_rcv) is not modelled
  ['ip_addr', 'drop_ip_addr'], // IPv6 InAddrErrors: a routing header to a multicast address, or one no SA takes
  ['ip_unknown_proto', 'drop_ip_unknown_proto'], // IPv6 InUnknownProtos: no inet6_protos handler (a hop-by-hop header not first)
  ['srh_disabled', 'drop_srh_disabled'], // a segment routing header (SRv6, RPL) with seg6 / rpl_seg disabled: freed, no MIB
  // --xdp (kernel/xdp.ts): what the program consumed, each a drop reason of its own
  ['xdp_drop', 'drop_xdp_drop'], // XDP_DROP: the buffer recycled
  ['xdp_aborted', 'drop_xdp_aborted'], // XDP_ABORTED, a fault, an invalid action (trace_xdp_exception)
  ['xdp_tx', 'drop_xdp_tx'], // XDP_TX, or a redirect out of our own port: transmitted, the buffer returned
  ['xdp_redirect_err', 'drop_xdp_redirect_err'], // xdp_do_redirect failed (no such target): trace_xdp_exception
  ['cpumap', 'drop_cpumap'], // a cpumap ring full at bq_flush_to_queue (xdp_cpumap_enqueue drops), or its program's drop
] as const;

type DropSlots = readonly (readonly [(typeof SD_DROPS)[number][1], 'f64'])[];
const dropSlots = (): DropSlots => SD_DROPS.map(([, field]) => [field, 'f64'] as const);

// softnet_data. The counters of the run contract's percpu[] are declared in softnet_counters.ts
// and spliced into their groups here (counterSlots). Groups by writer:
//   remote:  written by any CPU under this CPU's rps_lock (enqueue_to_backlog)
//   head:    input_queue_head, written by the owner, read by others in get_rps_cpu (RFS)
//   bell:    the doorbell: written by devices and other CPUs (Atomics.or + notify)
//   owner:   written by the owning CPU only
export const SD_DEF = {
  remote: [
    ['rps_lock', 'i32'],
    ['input_pkt_head', 'i32'],
    ['input_pkt_tail', 'i32'],
    ['input_pkt_qlen', 'i32'],
    ['input_queue_tail', 'i32'],
    ['rps_ipi_next', 'i32'],
    ...counterSlots('remote'), // this group's percpu[] counters (softnet_counters.ts): dropped, rps_lock_*
  ],
  head: [['input_queue_head', 'i32']],
  bell: [
    ['doorbell', 'i32'],
    ['vec_pending0', 'i32'],
    ['vec_pending1', 'i32'],
    ['ipi_pending', 'i32'],
    ...counterSlots('bell'), // this group's percpu[] counters: ipis_received
    ['napi_timers', 'i32'], // napi timers armed on this CPU (napi_timer.ts)
  ],
  // The CPU's execution context: read by every waker (is it idle?), so not with the counters
  // the owner writes per packet. Written by the owner at each context switch.
  context: [['context', 'i32']],
  owner: [
    ['process_head', 'i32'],
    ['process_tail', 'i32'],
    ['process_qlen', 'i32'],
    ['rps_ipi_list', 'i32'],
    // this group's percpu[] counters: processed, time_squeeze, ..., in the table's order
    ...counterSlots('owner'),
    // every drop reason counted on a CPU (SD_DROPS)
    ...dropSlots(),
    ['xdp_runs', 'f64'], // program runs on this CPU (the hooks and the cpumap programs)
    ['xdp_redirect', 'f64'], // frames xdp_do_redirect queued to a cpumap
    ['xdp_insns', 'f64'], // instructions the program ran on this CPU (sim mode counts them)
    ['cpumap_kthread_packets', 'f64'], // skbs the cpumap kthreads on this CPU handed to netif_receive_skb_core
    ['busy_poll_packets', 'f64'], // LINUX_MIB_BUSYPOLLRXPACKETS: packets napi_busy_loop's polls took
    ['busy_poll_passes', 'f64'], // passes of napi_busy_loop (sk_busy_loop from recvmsg), each a poll of the napi or a look at it
    ['ip6_in_hdr_errors', 'f64'], // Ip6InHdrErrors (not a drop reason: those drops are ip_hdr)
    ['ip6_in_truncated_pkts', 'f64'], // Ip6InTruncatedPkts (ditto)
    ['gro_flushed', 'f64'],
    ['busy_hardirq_ns', 'f64'],
    ['busy_softirq_ns', 'f64'],
    ['busy_ksoftirqd_ns', 'f64'],
    ['busy_task_ns', 'f64'],
    ['idle_ns', 'f64'],
    // When the CPU came online (the clock, ns): every context's time since sums to its last
    // switch's time minus this, so the timeline can charge the context running now (timeline.ts)
    ['online_ns', 'f64'],
    ['host_tid', 'i32'], // the worker thread's host thread id (its schedstat: %steal)
    ['task_migrations_in', 'f64'],
    ['heartbeat', 'f64'],
    // --tap: what the packet socket (kernel/af_packet.ts) took from this CPU into its one
    // buffer, and what found the buffer full
    ['tap_packets', 'f64'],
    ['tap_drops', 'f64'],
    ['tap_bytes', 'f64'],
  ],
} as const;
export type SdIndex = StructIndex<typeof SD_DEF>;

// napi_struct. `state` is touched by several CPUs (the backlog's SCHED bit is test-and-set by
// any CPU in enqueue_to_backlog) and is always accessed with Atomics.
export const NAPI_DEF = {
  shared: [
    ['state', 'i32'],
    ['weight', 'i32'],
    ['poll_fn', 'i32'],
    ['cpu', 'i32'],
    ['queue', 'i32'],
    ['polls', 'f64'],
    // napi_defer_hard_irqs / gro_flush_timeout (napi_complete_done) and napi->timer
    ['defer_hard_irqs_count', 'i32'],
    ['timer_cpu', 'i32'], // the CPU the timer is armed on (HRTIMER_MODE_REL_PINNED), -1 none
    ['timer_due_ns', 'f64'],
    ['watchdog_fires', 'f64'], // napi_watchdog runs
  ],
} as const;
export type NapiIndex = StructIndex<typeof NAPI_DEF>;

// An RX queue: the device writes `rdh` and the counters, the driver writes `rdt` and its own
// clean/use indices, the MSI-X vector block is the interrupt controller's.
export const RXQ_DEF = {
  device: [
    ['rdh', 'i32'],
    ['dev_waiting', 'i32'],
    ['rx_packets', 'f64'],
    ['rx_bytes', 'f64'],
    ['rx_missed', 'f64'],
    ['wire_naps', 'f64'], // closed loop: timed naps waiting for descriptors
    ['wire_sleeps', 'f64'], // closed loop: sleeps the driver had to end with a futex wake
    ['wire_kicks', 'f64'], // closed loop: naps a driver that emptied the ring cut short
    // virtio-net backend (QEMU): virtio_notify's decisions, the held packet, the host's tun queue
    ['virtio_irq_raised', 'f64'],
    ['virtio_irq_suppressed', 'f64'],
    ['virtio_held', 'f64'], // virtio_net_receive could not take a packet: QEMU held it and stopped reading the tap
    ['virtio_tun_queued', 'f64'], // packets that waited in the host's tun queue (QEMU not reading)
    ['virtio_tun_dropped', 'f64'], // the tun queue at txqueuelen: the tap's tx_dropped, packets.dropped.tun
    ['virtio_oversize', 'f64'], // a frame that did not fit the guest's buffers (QEMU's err = size): dropped
    ['virtio_backlog_len', 'i32'], // held + in the tun queue right now
  ],
  driver: [
    ['rdt', 'i32'],
    ['next_to_clean', 'i32'],
    ['next_to_use', 'i32'],
    ['alloc_failed', 'f64'],
    ['wire_wakes', 'f64'], // Atomics.notify calls the driver made to wake a sleeping wire
    // virtio-net guest driver
    ['virtio_kicks', 'f64'], // virtqueue_kick_prepare said yes: virtqueue_notify
    ['virtio_kicks_suppressed', 'f64'], // ... said no (NO_NOTIFY, or avail_event not crossed)
    ['virtio_refills', 'f64'], // try_fill_recv calls
    ['virtio_refills_delayed', 'f64'], // schedule_delayed_work(&vi->refill) after a failed refill
    ['virtio_buffers_per_packet_max', 'i32'], // largest num_buffers seen (mergeable) or pages used (big)
    ['virtio_rx_length_errors', 'f64'], // receive_buf: dev->stats.rx_length_errors (a packet dropped)
    // --xdp: virtnet_rq_stats' XDP counters (receive_mergeable's switch), and its drops
    ['virtio_xdp_packets', 'f64'],
    ['virtio_xdp_tx', 'f64'],
    ['virtio_xdp_redirects', 'f64'],
    ['virtio_xdp_drops', 'f64'],
  ],
  vector: [
    ['eims', 'i32'],
    ['eicr', 'i32'],
    ['affinity', 'i32'],
    ['irqs', 'f64'],
    ['last_irq_ns', 'f64'],
    // EITR's interval in ns (0: no throttle): written by the driver (ixgbe_write_eitr),
    // read by the interrupt logic (msix_try_fire).
    ['eitr_ns', 'i32'],
  ],
  // ixgbe's adaptive ITR state (ixgbe_q_vector's itr, rx ring_container): driver-private,
  // in shared memory because the vector's napi may be polled on any CPU.
  ixgbe_itr: [
    ['q_itr', 'i32'], // q_vector->itr: usecs << 2
    ['rx_itr', 'i32'], // q_vector->rx.itr: usecs | IXGBE_ITR_ADAPTIVE_LATENCY
    ['rx_next_update', 'i32'], // q_vector->rx.next_update (jiffies)
    ['rx_total_packets', 'i32'],
    ['rx_total_bytes', 'f64'],
    ['tx_itr', 'i32'], // q_vector->tx.itr: the TX ring's container (no TX traffic here)
    ['tx_next_update', 'i32'], // q_vector->tx.next_update
  ],
} as const;
export type RxqIndex = StructIndex<typeof RXQ_DEF>;

// Application tasks (recvmsg loops). `cpu` is changed by the migration schedule.
export const TASK_DEF = {
  shared: [
    ['lock', 'i32'],
    ['ready_head', 'i32'],
    ['ready_tail', 'i32'],
    ['cpu', 'i32'],
    ['on_cpu', 'i32'], // p->on_cpu: running recvmsg somewhere (a migrated task runs on one CPU at a time)
    ['packets', 'f64'],
    ['recvmsg_calls', 'f64'],
    ['migrations', 'f64'],
  ],
} as const;
export type TaskIndex = StructIndex<typeof TASK_DEF>;

// Sockets: read-only identity, then the receive queue under `lock`.
export const SK_DEF = {
  ident: [
    ['saddr', 'i32'],
    ['daddr', 'i32'],
    ['ports', 'i32'],
    ['proto', 'i32'],
    ['hash_next', 'i32'],
    ['task', 'i32'],
    ['flow', 'i32'],
    ['index_off', 'i32'], // where the per-flow packet index sits in its frames (the order check)
  ],
  queue: [
    ['lock', 'i32'],
    ['rx_head', 'i32'],
    ['rx_tail', 'i32'],
    ['rx_qlen', 'i32'],
    ['rmem_alloc', 'i32'],
    ['on_ready', 'i32'],
    ['ready_next', 'i32'],
    ['next_index', 'i32'],
    ['rxhash', 'i32'],
    ['rcvbuf', 'i32'], // sk_rcvbuf (skRcvbuf)
    // The reading task's own queue (UDP's up->reader_queue: spliced from the receive queue
    // under its lock, then read without it) and the truesize read but not yet given back to
    // rmem_alloc (up->forward_deficit). Only the task that reads the socket touches these.
    ['reader_head', 'i32'],
    ['reader_tail', 'i32'], // the reader queue's last skb (valid while reader_head is not -1)
    ['forward_deficit', 'i32'],
    ['delivered', 'f64'],
    ['drops', 'f64'],
    ['out_of_order', 'f64'],
    ['flow_limit_drops', 'f64'],
    ['last_cpu', 'i32'],
    ['cpu_moves', 'i32'],
    ['napi_id', 'i32'], // sk_napi_id (sk_mark_napi_id, with --busy-read): the napi of the last skb received, 0 none
  ],
  // TCP: the right edge of the window the socket advertised, in the flow's packet indexes
  // (written by the reading task, read by the device thread before each of the flow's packets)
  window: [['wnd_end', 'i32']],
  // An IPv6 socket's identity (sk_v6_rcv_saddr / sk_v6_daddr): the peer's and the local
  // address, four big-endian words each; `family` 6. IPv4 sockets use saddr/daddr above.
  ident6: [
    ['family', 'i32'],
    ['saddr6_0', 'i32'],
    ['saddr6_1', 'i32'],
    ['saddr6_2', 'i32'],
    ['saddr6_3', 'i32'],
    ['daddr6_0', 'i32'],
    ['daddr6_1', 'i32'],
    ['daddr6_2', 'i32'],
    ['daddr6_3', 'i32'],
  ],
} as const;
export type SkIndex = StructIndex<typeof SK_DEF>;

// Global control block, grouped by writer like every other struct (each group on its own
// line with cacheline_pad): the kernel reads the sysctls and the tick on every packet or poll,
// so neither may share a line with the device's per-packet counter or the skb pool's lock.
export const CTL_DEF = {
  // the coordinator and the run's phases (written rarely)
  control: [
    ['stop', 'i32'],
    ['gen_done', 'i32'],
    ['gen_stop', 'i32'], // an interrupted run: the generator stops, the CPUs drain what is in flight
    ['cpus_ready', 'i32'],
    ['reta_changed', 'i32'],
    ['skb_count', 'i32'], // the skb pool's size, as Shm.create was given it (skbCountIn)
    ['start_ns', 'f64'],
    ['gen_end_ns', 'f64'],
  ],
  // the RPS static key, then the sysctl and sysfs knobs' words, as their schema entries
  // declare them (CTL_WORDS: each knob's slot): read by the kernel at each use, written only
  // when a knob changes under traffic
  sysctl: [['rps_needed', 'i32'], ...CTL_WORDS.map((w) => [w, 'i32'] as const)] as readonly (readonly ['rps_needed' | CtlWord, 'i32'])[],
  // the timer tick (the coordinator, about every millisecond)
  tick: [
    ['jiffies', 'i32'],
    ['clock_ns', 'f64'],
  ],
  // the device, per packet
  device: [
    ['generated', 'f64'],
    ['generated_bad_ip_csum', 'f64'],
    ['tcp_window_stalls', 'f64'], // a TCP flow's packet held back: its window was closed
    ['replay_snaplen', 'f64'], // --pcap: a snaplen-truncated frame, dropped before the NIC
    ['device_cpu', 'i32'], // --device inline: the CPU whose thread runs the device; -1: a thread of its own
  ],
  // the skb pool's global free stack, under its lock (any CPU)
  pool: [
    ['skb_free_lock', 'i32'],
    ['skb_free_top', 'i32'],
  ],
  // virtio-net: vi->refill, the delayed refill work (one for the device, any CPU queues it)
  virtio: [
    ['refill_pending', 'i32'], // WORK_STRUCT_PENDING: -1 idle, else the CPU it is queued on
    ['refill_due', 'i32'], // jiffies at which it may run
  ],
  // --tap: the packet socket's one buffer, shared by every CPU: claimed under its lock
  // (sk_receive_queue.lock in tpacket_rcv) by any CPU
  tap: [
    ['tap_lock', 'i32'],
    ['tap_head', 'i32'],
  ],
  // ... and read by the engine alone
  tap_reader: [['tap_tail', 'i32']],
  // the first out-of-order delivery, recorded once under its lock (any CPU)
  ooo: [
    ['ooo_lock', 'i32'],
    ['ooo_set', 'i32'],
    ['ooo_flow', 'i32'],
    ['ooo_expected', 'i32'],
    ['ooo_got', 'i32'],
    ['ooo_cpu', 'i32'],
  ],
} as const;
export type CtlIndex = StructIndex<typeof CTL_DEF>;

// skb pool, structure of arrays (i32 each unless noted).
// The gro_* fields belong to the CPU whose GRO holds the skb (NAPI_GRO_CB(skb) in Linux):
// when it first held it (jiffies), the last segment of its chain, the TCP sequence number that
// may follow, and gso_size.
export const SKB_FIELDS_I32 = [
  'len',
  'hash',
  'flags',
  'protocol',
  'nh',
  'queue',
  'next',
  'frag_next',
  'segs',
  'gro_age',
  'gro_last',
  'gro_next_seq',
  'gro_gso_size',
  'gro_flags', // GRO_IS_ATOMIC: NAPI_GRO_CB(p)->is_atomic (a DF datagram whose IP ID need not increment)
  'frags', // skb_shinfo(skb)->frags: the first page holding more of this frame (-1: linear); on a page, the next
  'data_len', // skb->data_len: bytes in the frag pages (head bytes = len - data_len); on a page, its bytes
  'frag_off', // on a frag page: where its bytes start, relative to the page's buffer (skb_data)
  // --pcap: the frame's position among its capture flow's frames, written by the device beside
  // the frame (captured payloads carry no index); the order check reads it instead of the payload
  'replay_pos',
] as const;
export const SKB_FLAG_L4_HASH = 1; // skb->l4_hash: the hash covers the 4-tuple (RSS TCP/UDP)
export const SKB_FLAG_SW_HASH = 2; // skb->sw_hash: computed by the flow dissector
export const SKB_FLAG_HASH_VALID = 4;
export const SKB_FLAG_TSTAMP = 8; // skb_tstamp holds the DMA time (a latency sample)

// Descriptor status bits (as in the 82599 advanced RX descriptor write-back format).
export const DESC_DD = 1; // descriptor done
export const DESC_EOP = 2; // end of packet
export const DESC_RSS = 4; // RSS hash valid (RSS type nonzero)
export const DESC_L4 = 8; // RSS type included the L4 ports
export const DESC_TS = 16; // the frame was timestamped (the 82599's TS bit): a latency sample

// rxq.dev_waiting: how a closed-loop wire that found no free descriptor waits (devices/nic.ts).
export const WIRE_NAPPING = 2; // a timed nap; a driver that drains the ring may kick it
export const WIRE_KICKED = 3; // ... and did
export const WIRE_SLEEPING = 1; // asleep until the driver wakes it (half the ring free)
export const WIRE_INLINE = 4; // --device inline: the device waits here; a refill rings the hosting CPU's doorbell

/**
 * --tap: bytes of the packet socket's buffer, one for every CPU (a socket has one receive
 * buffer): --tap-buffer rounded down to a power of two (0 without --tap).
 */
export function tapRingBytes(cfg: Config): number {
  if (cfg.tap === '') return 0;
  let size = 1024;
  while (size * 2 <= cfg.tap_buffer) size *= 2;
  return size;
}

/** Skb buffer size: the largest frame rounded up to a cache line (virtio: a receive page). */
export function skbBufSize(cfg: Config): number {
  if (nicModel(cfg.nic).rx_queue === 'virtqueue') return virtioBufSize(cfg);
  // With --xdp, as ixgbe's build_skb buffer: headroom, the frame, skb_shared_info's tailroom
  // (bpf_xdp_adjust_tail may use the frame's room up to it).
  return align(cfg.pkt_size - 4, 64) + (cfg.xdp !== '' ? XDP_PACKET_HEADROOM + XDP_SHARED_INFO_TAILROOM : 0);
}

/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64: the tailroom an XDP buffer keeps (xdp_data_hard_end). */
const XDP_SHARED_INFO_TAILROOM = 320;

/**
 * XDP_PACKET_HEADROOM: with --xdp every buffer keeps 256 bytes in front of its frame, as
 * ixgbe_rx_offset gives a ring with a program and virtio's VIRTIO_XDP_HEADROOM (and generic
 * XDP needs, else netif_receive_generic_xdp expands the head): bpf_xdp_adjust_head moves there.
 */
export const XDP_PACKET_HEADROOM = 256;

/** Bytes in front of skb_data in every buffer. */
export function skbHeadroom(cfg: Config): number {
  if (nicModel(cfg.nic).rx_queue === 'virtqueue') return virtioHeadroom(cfg);
  return cfg.xdp !== '' ? XDP_PACKET_HEADROOM : 0;
}

/** skbHeadroom of a virtqueue's buffers: what the virtio driver's buffer paths read. */
export function virtioHeadroom(cfg: Config): number {
  return cfg.xdp !== '' ? XDP_PACKET_HEADROOM : VIRTIO_HEADROOM;
}

// virtio-net (issue 11): receive buffers are skb pool slots ("pages"). Each slot keeps
// VIRTIO_HEADROOM bytes in front of its data (skb_data): the virtio_net_hdr goes right before
// the frame. Mergeable buffers of frames up to 1518 bytes are GOOD_PACKET_LEN + header rounded
// to a cache line (1536); jumbo frames and big packets use 4 KiB pages.
export const VIRTIO_HEADROOM = 64;
export const VIRTIO_PAGE_SIZE = 4096;
/** MAX_SKB_FRAGS + 2: the scatter list of one big-packets buffer (header, first page, 17 pages). */
export const VIRTIO_BIG_SG = 19;
/** Pages of one big-packets buffer. */
export const VIRTIO_BIG_PAGES = VIRTIO_BIG_SG - 1;

/** The bytes of one virtio receive buffer (a pool slot): its room and the headroom in front. */
export function virtioBufSize(cfg: Config): number {
  const room = !cfg.virtio_mrg_rxbuf || cfg.pkt_size > 1518 ? VIRTIO_PAGE_SIZE : 1536;
  return room + virtioHeadroom(cfg);
}

/** Pool slots one posted receive buffer holds (big packets: a chain of pages). */
export function virtioSlotsPerBuffer(cfg: Config): number {
  return nicModel(cfg.nic).rx_queue === 'virtqueue' && !cfg.virtio_mrg_rxbuf ? VIRTIO_BIG_PAGES : 1;
}

/** Pool slots the largest frame takes once received (head and frag pages). */
export function slotsPerFrame(cfg: Config): number {
  if (nicModel(cfg.nic).rx_queue !== 'virtqueue') return 1;
  return Math.ceil((cfg.pkt_size + 12) / (virtioBufSize(cfg) - virtioHeadroom(cfg)));
}

// Per-CPU cache of free skbs (napi_alloc_cache style): refills and spills in batches of half.
export const SKB_CACHE_SIZE = 512;

export interface Layout {
  readonly bytes: number;
  readonly CTL: CtlIndex & { base: number };
  readonly SD: SdIndex;
  readonly sdBase: number; // byte offset of sd[0]
  readonly NAPI: NapiIndex;
  readonly napiBase: number;
  readonly napiCount: number;
  readonly RXQ: RxqIndex;
  readonly rxqBase: number;
  readonly descBase: number; // byte offset; per queue 4 arrays of ring_size i32
  readonly TASK: TaskIndex;
  readonly taskBase: number;
  readonly taskCount: number;
  readonly SOCK: SkIndex;
  readonly skBase: number;
  readonly skCount: number;
  readonly skHashBase: number; // i32[skHashSize] bucket heads
  readonly skHashSize: number;
  readonly skbCount: number;
  readonly skbBufSize: number;
  readonly skbI32Base: Record<(typeof SKB_FIELDS_I32)[number], number>; // byte offsets
  readonly skbTstampBase: number; // f64[skbCount]
  readonly skbFreeBase: number; // i32[skbCount] free stack
  readonly skbStateBase: number; // u8[skbCount] with --debug-asserts (skb_pool.ts), else empty
  readonly skbDataBase: number; // u8[skbCount * skbBufSize]
  readonly rpsMapBase: number; // per queue: 2 buffers × (1 + MAX_CPUS) i32, then active i32 ×queues
  readonly rpsMapStride: number; // i32 elements per buffer
  readonly rpsActiveBase: number;
  readonly rpsDevFlowBase: number[]; // per queue: byte offset of {cpu i32[cap], last_qtail i32[cap]}
  readonly rpsDevFlowCap: number[]; // per queue: capacity (power of two, 0 = never any)
  readonly rpsFlowSizeBase: number; // i32[queues]: entries in use per queue (0: no table)
  readonly rpsSockFlowBase: number;
  readonly rpsSockFlowCap: number;
  readonly retaBase: number; // i32[RSS_RETA_SIZE]
  readonly flowLimitBase: number; // per CPU: history_head, count, history[128], buckets[table_len]
  readonly flowLimitStride: number; // i32 elements
  readonly vq: VqLayout | null; // virtio: one split virtqueue per RX queue (virtqueue.ts)
  readonly vqBase: number; // byte offset of queue 0's virtqueue; queue q at vqBase + q * vq.stride
  readonly tapBufBase: number; // virtio: the device's own frame buffer (the packet as the tap hands it over)
  readonly tapRingBase: number; // --tap: the packet socket's buffer, shared by the CPUs
  readonly tapRingSize: number;
}

export const FLOW_LIMIT_HISTORY = 128; // 1 << 7, as in the kernel
export const RPS_MAP_MAX = 64;

/**
 * The skb pool's size written in the control block of `sab` (Shm.create writes it): the control
 * block comes first and its layout depends on the configuration's padding alone.
 */
export function skbCountIn(cfg: Config, sab: SharedArrayBuffer): number {
  const ctl = layoutStruct(CTL_DEF, cfg.cacheline_pad);
  return new Int32Array(sab, 0, ctl.stride / 4)[ctl.skb_count];
}

export function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The layout of a run's shared memory. `skbCount`, the skb pool's size, is the engine's to
 * choose (it sizes the pool by the kernel's rules, engine/shm_size.ts); a thread attaching to
 * the memory reads it from the control block (skbCountIn).
 */
export function computeLayout(cfg: Config, skbCount: number): Layout {
  const pad = cfg.cacheline_pad;
  let off = 0;
  const take = (bytes: number, alignTo = pad ? CACHELINE : 8): number => {
    off = align(off, alignTo);
    const at = off;
    off += bytes;
    return at;
  };
  const ctl = layoutStruct(CTL_DEF, pad);
  const ctlBase = take(ctl.stride);
  const sd = layoutStruct(SD_DEF, pad);
  const sdBase = take(sd.stride * cfg.cpus);
  const napi = layoutStruct(NAPI_DEF, pad);
  const napiCount = cfg.cpus + cfg.queues;
  const napiBase = take(napi.stride * napiCount);
  const rxq = layoutStruct(RXQ_DEF, pad);
  const rxqBase = take(rxq.stride * cfg.queues);
  const descBase = take(cfg.queues * 4 * cfg.ring_size * 4);
  const task = layoutStruct(TASK_DEF, pad);
  const taskCount = cfg.app_cpus.length;
  const taskBase = take(task.stride * taskCount);
  const sk = layoutStruct(SK_DEF, false);
  const skCount = cfg.flows;
  const skBase = take(sk.stride * skCount);
  const skHashSize = roundupPow2(skCount * 2);
  const skHashBase = take(skHashSize * 4);
  const bufSize = skbBufSize(cfg);
  const skbI32Base = {} as Record<(typeof SKB_FIELDS_I32)[number], number>;
  for (const f of SKB_FIELDS_I32) skbI32Base[f] = take(skbCount * 4);
  const skbTstampBase = take(skbCount * 8);
  const skbFreeBase = take(skbCount * 4);
  const skbDataBase = take(skbCount * bufSize, 64) + skbHeadroom(cfg);
  const rpsMapStride = 1 + RPS_MAP_MAX;
  const rpsMapBase = take(cfg.queues * 2 * rpsMapStride * 4);
  const rpsActiveBase = take(cfg.queues * 4);
  // RFS tables are sized for the largest size the run will use (its scheduled changes too).
  const scheduled = <K extends 'rps_flow_cnt' | 'rps_sock_flow_entries'>(key: K) =>
    cfg.knob_at.filter((k) => k.key === key).map((k) => k.value as Config[K]);
  const rpsDevFlowBase: number[] = [];
  const rpsDevFlowCap: number[] = [];
  for (let q = 0; q < cfg.queues; q++) {
    const most = Math.max(cfg.rps_flow_cnt[q], ...scheduled('rps_flow_cnt').map((v) => v[q]));
    const n = most > 0 ? roundupPow2(most) : 0;
    rpsDevFlowCap.push(n);
    rpsDevFlowBase.push(take(n * 2 * 4));
  }
  const rpsFlowSizeBase = take(cfg.queues * 4);
  const sockMost = Math.max(cfg.rps_sock_flow_entries, ...scheduled('rps_sock_flow_entries'));
  const rpsSockFlowCap = sockMost > 0 ? roundupPow2(sockMost) : 0;
  const rpsSockFlowBase = take(rpsSockFlowCap * 4);
  const retaBase = take(RSS_RETA_SIZE * 4);
  const flowLimitStride = align(2 + FLOW_LIMIT_HISTORY + cfg.flow_limit_table_len, pad ? CACHELINE / 4 : 2);
  const flowLimitBase = take(cfg.cpus * flowLimitStride * 4);
  const virtqueue = nicModel(cfg.nic).rx_queue === 'virtqueue';
  const vq = virtqueue ? vqLayout(cfg.ring_size, !cfg.virtio_mrg_rxbuf, VIRTIO_BIG_SG) : null;
  const vqBase = take(vq === null ? 0 : vq.stride * cfg.queues, CACHELINE);
  const tapBufBase = take(virtqueue ? align(cfg.pkt_size, 64) : 0, CACHELINE);
  const tapRingSize = tapRingBytes(cfg);
  const tapRingBase = take(tapRingSize, CACHELINE);
  // --debug-asserts: a byte per skb (in the pool or in use), last, so no other offset moves.
  const skbStateBase = take(cfg.debug_asserts ? skbCount : 0, 8);
  return fastObject({
    skbStateBase,
    tapRingBase,
    tapRingSize,
    vq,
    vqBase,
    tapBufBase,
    bytes: align(off, CACHELINE),
    CTL: fastObject({ ...ctl, base: ctlBase }),
    SD: sd,
    sdBase,
    NAPI: napi,
    napiBase,
    napiCount,
    RXQ: rxq,
    rxqBase,
    descBase,
    TASK: task,
    taskBase,
    taskCount,
    SOCK: sk,
    skBase,
    skCount,
    skHashBase,
    skHashSize,
    skbCount,
    skbBufSize: bufSize,
    skbI32Base,
    skbTstampBase,
    skbFreeBase,
    skbDataBase,
    rpsMapBase,
    rpsMapStride,
    rpsActiveBase,
    rpsDevFlowBase,
    rpsDevFlowCap,
    rpsFlowSizeBase,
    rpsSockFlowBase,
    rpsSockFlowCap,
    retaBase,
    flowLimitBase,
    flowLimitStride,
  });
}
