// The cost model of the deterministic runtime (--mode sim): virtual nanoseconds per stage of
// the receive path. Sim mode runs the real kernel code and charges each CPU's virtual clock
// from what that code did (deltas of its softnet counters, descriptors cleaned, env.burn_ns),
// priced by this table. `rxsmp calibrate` measures the table in threads mode on this machine
// and writes it as JSON (schema rxsmp.cost/2), which users may edit and pass back with
// `--cost-model FILE`. Every field is a number of ns; unknown fields are an error.

import { readJsonFile } from '../host/settings_file.js';
import { clip, clipPath, ConfigError } from '../config/schema.js';

export const COST_SCHEMA = 'rxsmp.cost/2';
/** Its hash_ns included the flow dissector, which /2 prices apart (flow_dissect_ns). */
const COST_SCHEMA_1 = 'rxsmp.cost/1';

export interface CostModel {
  schema: typeof COST_SCHEMA;
  /** Where the numbers come from (free text: 'built-in', 'rxsmp calibrate on HOST at DATE'). */
  source: string;
  /** Per hardirq taken (device vector or RPS IPI): entry, handler, exit. */
  hardirq_ns: number;
  /** Per net_rx_action pass (softirq entry, list splices, IPI flush). */
  softirq_ns: number;
  /** Per descriptor the driver cleans: DD check, skb fields, eth_type_trans, GRO lookup, refill. */
  desc_clean_ns: number;
  /** Per segment GRO merges into a held skb (instead of handing it up). */
  gro_merge_ns: number;
  /** Per skb RPS steers: get_rps_cpu with the hash already in the skb. */
  hash_ns: number;
  /** Per skb whose hash skb_get_hash computes: the flow dissector and its hash (no L4 hash from the device). */
  flow_dissect_ns: number;
  /** Per enqueue_to_backlog (lock, queue, qtail), local or remote, and per enqueue drop. */
  enqueue_ns: number;
  /** Extra per remote enqueue: the target's rps_lock and queue cache lines move to this CPU. */
  lock_handoff_ns: number;
  /** Per skb through __netif_receive_skb → ip_rcv → socket lookup (process_backlog's dequeue included). */
  process_ns: number;
  /** Per segment queued to a socket: order check, truesize charge, wake-up. */
  delivery_ns: number;
  /** Per packet an application reads with recvmsg (and frees). */
  recvmsg_ns: number;
  /** Sender's cost per IPI (smp_call_function_single_async). */
  ipi_send_ns: number;
  /** IPI send → handler on the target, when the target is running. */
  ipi_latency_ns: number;
  /** Device raises a vector → the target CPU takes it. */
  irq_latency_ns: number;
  /** Device per packet: wire, RSS hash, DMA, write-back. */
  device_ns: number;
  /** Per scheduling step of a CPU (a turn of the CPU loop: check points, context switch). */
  step_ns: number;
  /** virtio: QEMU's receive path per packet (has_buffers, pop, header, copy, fill/flush, should_notify), on top of device_ns. */
  virtio_device_ns: number;
  /** virtio: the guest's cost per kick (virtqueue_notify: a write to the notify register, a vmexit on a real guest). */
  virtio_kick_ns: number;
  /** --tap: per packet a packet socket copies into its ring (tpacket_rcv: clone, copy, record). */
  tap_ns: number;
  /** --xdp: per program run, its fixed part (the xdp_buff set up, the action's counters, the hook's branch). */
  xdp_run_ns: number;
  /** --xdp: per BPF instruction the program runs (the translated function counts them per basic block). */
  xdp_insn_ns: number;
  /** --xdp: per frame xdp_do_redirect puts on a cpumap (bq_enqueue, its share of bq_flush_to_queue's locked produce). */
  cpumap_enqueue_ns: number;
  /** --xdp: per frame a cpumap kthread takes (ptr_ring consume, cpu_map_build_skb), before the stack's own costs. */
  cpumap_kthread_ns: number;
  /** --busy-read: per napi_busy_loop pass that finds nothing (the napi's poll of an empty ring, cpu_relax). */
  busy_poll_ns: number;
}

/**
 * Built-in defaults: per field, the median of five `rxsmp calibrate --packets 1000000` runs
 * on the development machine (a 2-core VM, Node 20, threads mode, 2026-11-22, the runs
 * minutes apart: single runs ranged 2x on most fields, 5x on lock_handoff_ns, as the host's
 * cross-core latency moved); device_ns is the 10 GbE wire time of a 64-byte frame.
 * hardirq_ns is the least certain figure (interrupts are short and busy time is read from
 * the 1 ms tick clock). The interrupt and IPI latencies are threads mode's (a busy CPU takes
 * them at its next check point), longer than a real kernel's ~1 µs. Regenerate with
 * `rxsmp calibrate --out FILE` and pass `--cost-model FILE`.
 */
export const DEFAULT_COST_MODEL: CostModel = {
  schema: COST_SCHEMA,
  source: 'built-in (median of 5 rxsmp calibrate runs on the development machine)',
  hardirq_ns: 534,
  softirq_ns: 534,
  desc_clean_ns: 63,
  gro_merge_ns: 55,
  hash_ns: 51,
  flow_dissect_ns: 235,
  enqueue_ns: 51,
  lock_handoff_ns: 173,
  process_ns: 143,
  delivery_ns: 72,
  recvmsg_ns: 26,
  ipi_send_ns: 69,
  ipi_latency_ns: 4514,
  irq_latency_ns: 4514,
  device_ns: 67,
  step_ns: 20,
  // virtio: calibrate's virtio loop on the development machine (one run, 2026-11-29, the host
  // busy with other work): the backend's receive of a 64-byte frame, and the emulator's kick
  // (an Atomics.add and notify; a real guest's vmexit and ioeventfd cost a few µs more).
  virtio_device_ns: 734,
  virtio_kick_ns: 222,
  // --tap: an estimate, not measured by calibrate: the copy of a short frame and its record
  // header into the ring (~20 cache-line writes), as the per-packet fields above go.
  tap_ns: 60,
  // --xdp: from `npm run bench:bpf` (docs/xdp.md, the loaded development machine, 2026-12-06):
  // the pass program's fixed cost 22 ns per run, drop_port's 6 ns per instruction. The cpumap
  // and busy-poll figures are estimates, not measured by calibrate: an enqueue is a store and
  // an eighth of a locked produce of 8 (~ enqueue_ns); the kthread's consume and skb build
  // are about a descriptor's cleaning plus an skb's set-up; an empty busy poll is a driver
  // poll that finds no descriptor (a napi call and a ring read).
  xdp_run_ns: 22,
  xdp_insn_ns: 6,
  cpumap_enqueue_ns: 40,
  cpumap_kthread_ns: 90,
  busy_poll_ns: 150,
};

export const COST_FIELDS = Object.keys(DEFAULT_COST_MODEL).filter((k) => k !== 'schema' && k !== 'source') as (keyof Omit<
  CostModel,
  'schema' | 'source'
>)[];

/** Fields that must be positive so that every step advances virtual time. */
const POSITIVE: readonly string[] = ['device_ns', 'step_ns'];

/** Check a parsed cost model; missing fields take the defaults. Throws ConfigError. */
export function validateCostModel(obj: unknown, where: string): CostModel {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError(`--cost-model ${where}: expected a JSON object`);
  const out: Record<string, unknown> = { ...DEFAULT_COST_MODEL };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'schema') {
      if (v === COST_SCHEMA_1) {
        throw new ConfigError(
          `--cost-model ${where}: schema '${COST_SCHEMA_1}' priced the flow dissector inside hash_ns; '${COST_SCHEMA}' prices it apart (flow_dissect_ns): run rxsmp calibrate again`,
        );
      }
      if (v !== COST_SCHEMA)
        throw new ConfigError(`--cost-model ${where}: schema is not '${COST_SCHEMA}' (a file rxsmp calibrate writes has it)`);
      continue;
    }
    if (k === 'source') {
      if (typeof v !== 'string') throw new ConfigError(`--cost-model ${where}: source is a ${typeof v}; expected text`);
      out.source = v;
      continue;
    }
    if (!(COST_FIELDS as string[]).includes(k))
      throw new ConfigError(`--cost-model ${where}: unknown field '${clip(k, 40)}' (rxsmp calibrate writes the fields)`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1e9) {
      const shown = typeof v === 'number' ? String(v) : `a ${v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v}`;
      throw new ConfigError(`--cost-model ${where}: ${k} is ${shown}; expected ns, a number from 0 to 1e9`);
    }
    if (POSITIVE.includes(k) && v === 0)
      throw new ConfigError(`--cost-model ${where}: ${k} must be more than 0 (virtual time must advance)`);
    out[k] = v;
  }
  return out as unknown as CostModel;
}

export function loadCostModel(file: string): CostModel {
  if (file === '') return DEFAULT_COST_MODEL;
  return validateCostModel(readJsonFile('--cost-model', file), clipPath(file));
}
