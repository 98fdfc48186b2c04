// The per-CPU counters of the run contract (`percpu[]` in the JSON), declared once.
//
// Each entry is one counter: its name (the softnet_data field and the JSON key), the group of
// softnet_data it lives in (who writes it: shm/layout.ts lays the groups out), what it counts,
// and where the human summary and /proc/net/softnet_stat show it. From this table come the
// layout's slots (SD_DEF splices counterSlots(group) into each group), the type
// (PerCpuCounters), the JSON keys in this order (engine/result.ts collectResult), the column
// names of the human tables (report/human.ts) and softnet_stat's columns (softnetStatRow).
//
// Adding a per-CPU counter is one entry here plus the kernel code that counts it (through
// `L.sd.<name>`, an index resolved at setup like every other field). The order is the JSON's:
// a new counter goes at the end, or the documents of every run change.

/** The softnet_data groups a counter can live in (shm/layout.ts SD_DEF: grouped by writer). */
export type SdCounterGroup = 'remote' | 'bell' | 'owner';

interface PerCpuCounter {
  /** The softnet_data field and the JSON key. */
  readonly name: string;
  /** Its softnet_data group; null: no slot, derived from other fields at collection. */
  readonly group: SdCounterGroup | null;
  /** The human tables' column name. */
  readonly head: string;
  /** Its column in /proc/net/softnet_stat (softnet_seq_show's order, from 0), if it has one. */
  readonly softnet_stat?: number;
  /** What it counts, and where Linux counts it. */
  readonly doc: string;
}

export const PERCPU_COUNTERS = [
  {
    name: 'processed',
    group: 'owner',
    head: 'processed',
    softnet_stat: 0,
    doc: 'skbs __netif_receive_skb_core took on this CPU (sd->processed)',
  },
  {
    name: 'dropped',
    group: 'remote',
    head: 'dropped',
    softnet_stat: 1,
    doc: 'skbs enqueue_to_backlog refused on this CPU: its backlog full, or flow limit (sd->dropped)',
  },
  {
    name: 'time_squeeze',
    group: 'owner',
    head: 'squeeze',
    softnet_stat: 2,
    doc: 'net_rx_action ended with work left: netdev_budget or netdev_budget_usecs ran out',
  },
  {
    name: 'received_rps',
    group: 'owner',
    head: 'rps_rx',
    softnet_stat: 9,
    doc: 'RPS IPIs this CPU took (rps_trigger_softirq: sd->received_rps)',
  },
  {
    name: 'flow_limit_count',
    group: 'owner',
    head: 'flow_limit',
    softnet_stat: 10,
    doc: 'skbs skb_flow_limit dropped on this CPU, the enqueuing one: their flow held over half its history',
  },
  {
    name: 'softnet_backlog_len',
    group: null,
    head: 'backlog',
    softnet_stat: 11,
    doc: "skbs in the backlog at the end (input_pkt_queue + process_queue, softnet_seq_show's softnet_backlog_len)",
  },
  { name: 'hardirqs', group: 'owner', head: 'hardirqs', doc: 'device interrupts this CPU took (a vector or the legacy line)' },
  { name: 'net_rx_softirqs', group: 'owner', head: 'net_rx', doc: 'NET_RX_SOFTIRQ runs (net_rx_action), from irq_exit and ksoftirqd' },
  { name: 'ipis_sent', group: 'owner', head: 'ipi_tx', doc: 'RPS IPIs this CPU sent (net_rps_send_ipi)' },
  {
    name: 'ipis_received',
    group: 'bell',
    head: 'ipi_rx',
    doc: "ours: the IPIs this CPU took (the csd's handler, rps_trigger_softirq, ran)",
  },
  {
    name: 'rps_lock_acquisitions',
    group: 'remote',
    head: 'lock_acq',
    doc: "this CPU's rps_lock (its backlog's lock) taken, by any CPU",
  },
  { name: 'rps_lock_spins', group: 'remote', head: 'spins', doc: "spins waiting for this CPU's rps_lock" },
  {
    name: 'rps_lock_sleeps',
    group: 'remote',
    head: 'sleeps',
    doc: "waits for this CPU's rps_lock that slept on the word after 256 spins (a host effect, not an emulated one)",
  },
  { name: 'enqueue_local', group: 'owner', head: 'enq_local', doc: "enqueue_to_backlog onto this CPU's own backlog" },
  { name: 'enqueue_remote', group: 'owner', head: 'enq_remote', doc: "enqueue_to_backlog from this CPU onto another CPU's backlog" },
  { name: 'ksoftirqd_wakeups', group: 'owner', head: 'ksoftirqd', doc: "wakeup_softirqd: softirq work handed to this CPU's ksoftirqd" },
  { name: 'delivered', group: 'owner', head: 'delivered', doc: 'packets this CPU queued to sockets (a GRO train counts its segments)' },
  { name: 'recvmsg_packets', group: 'owner', head: 'recvmsg', doc: "packets the applications' recvmsg read on this CPU" },
  {
    name: 'rfs_flow_moves',
    group: 'owner',
    head: 'rfs_moves',
    doc: "RFS moved a flow's rflow to the CPU its application last ran on (set_rps_cpu)",
  },
  {
    name: 'gro_merged',
    group: 'owner',
    head: 'gro_merged',
    doc: 'segments GRO merged into a held skb (NAPI_GRO_CB(skb)->count beyond the first)',
  },
  {
    name: 'flow_dissected',
    group: 'owner',
    head: 'dissected',
    doc: 'beyond Linux: skbs whose hash skb_get_hash computed with the flow dissector (the device gave no L4 hash)',
  },
] as const satisfies readonly PerCpuCounter[];

type Counter = (typeof PERCPU_COUNTERS)[number];

/** A per-CPU counter's name (the JSON key). */
export type PerCpuCounterName = Counter['name'];

/** The per-CPU counters of `percpu[]`, each a number, in PERCPU_COUNTERS's order. */
export type PerCpuCounters = { [K in PerCpuCounterName]: number };

/** The counters that have a softnet_data slot of their own (all but the derived ones). */
export type SdCounterName = Extract<Counter, { group: SdCounterGroup }>['name'];

type SlotsOf<G extends SdCounterGroup> = readonly (readonly [Extract<Counter, { group: G }>['name'], 'f64'])[];

/** The softnet_data slots of a group's counters, f64 each, in the table's order (SD_DEF splices them). */
export function counterSlots<G extends SdCounterGroup>(group: G): SlotsOf<G> {
  return PERCPU_COUNTERS.filter((c) => c.group === group).map((c) => [c.name, 'f64'] as const) as unknown as SlotsOf<G>;
}

/** The counter's column name in the human tables. */
export function counterHead(name: PerCpuCounterName): string {
  return PERCPU_COUNTERS.find((c) => c.name === name)!.head;
}

/**
 * A CPU's line of /proc/net/softnet_stat as softnet_seq_show prints it in 5.10: 13 `%08x`
 * columns, the counters at their softnet_stat column (processed, dropped, time_squeeze; six
 * zeros, where 5.10 prints the former fastroute counters and cpu_collision; received_rps,
 * flow_limit_count, softnet_backlog_len), then the CPU's index. The counters are u32 in the
 * kernel and wrap the same way here.
 */
export function softnetStatRow(p: PerCpuCounters & { cpu: number }): string {
  const cols: number[] = new Array(13).fill(0);
  for (const c of PERCPU_COUNTERS) if ('softnet_stat' in c) cols[c.softnet_stat] = p[c.name];
  cols[12] = p.cpu;
  return cols.map((n) => (n >>> 0).toString(16).padStart(8, '0')).join(' ');
}
