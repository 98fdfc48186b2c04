// What a CPU's step costs in the sim machine (machine.ts): the cost model (../cost_model.ts)
// applied to what the CPU did since its last charge: deltas of its own softnet counters
// (hardirqs, net_rx_softirqs, gro_merged, flow_dissected, enqueues, processed, delivered,
// recvmsg_packets, IPIs, ...), descriptors cleaned (next_to_clean deltas), virtio kicks and
// env.burn_ns (the --stack-cost-ns stand-in), times the adversary's jitter. The sum advances
// the CPU's clock and its busy time in the context it is in.
//
// Hot path: charge() runs at every context switch and interrupt window; it reads typed arrays
// and allocates nothing.

import type { KCpu } from '../../kernel/percpu.js';
import type { Prng } from '../../lib/prng.js';
import type { Shm } from '../../shm/memory.js';
import { CTX_TASK } from '../../shm/layout.js';
import type { CostModel } from '../cost_model.js';
import { adversary_jitter, type Adversary } from './adversary.js';

/** The machine's state charge() reads and writes (SimMachine's fields; machine.ts makes them). */
export interface ChargeState {
  readonly cfg: Shm['cfg'];
  readonly cost: CostModel;
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly kc: readonly KCpu[];
  readonly adversary: Adversary;
  readonly prng: Prng;
  /** Per CPU: its clock, burn_ns not yet charged, its context (CTX_*). */
  readonly clk: Float64Array;
  readonly acc: Float64Array;
  readonly ctx: Int32Array;
  /** Per context: the softnet_data busy-time field it is charged to. */
  readonly busy_field: Int32Array;
  /** The priced counters (priced_counters): field indices, ns each, count; per CPU × field, the value at the last charge. */
  readonly fld: Int32Array;
  readonly w: Float64Array;
  readonly K: number;
  readonly snap: Float64Array;
  /** Per queue: where next_to_clean is and its value at the last charge; (virtio) the notify register and its value. */
  readonly ntc_at: Int32Array;
  readonly last_ntc: Int32Array;
  readonly kicks_at: Int32Array;
  readonly last_kicks: Int32Array;
}

/** The priced counters: each softnet_data f64 field index with its ns per count. */
export function priced_counters(sd: Shm['layout']['SD'], cost: CostModel): [number, number][] {
  return [
    [sd.hardirqs, cost.hardirq_ns],
    [sd.ipis_received, cost.hardirq_ns],
    [sd.net_rx_softirqs, cost.softirq_ns],
    [sd.gro_merged, cost.gro_merge_ns],
    [sd.flow_dissected, cost.flow_dissect_ns],
    [sd.enqueue_local, cost.hash_ns + cost.enqueue_ns],
    [sd.enqueue_remote, cost.hash_ns + cost.enqueue_ns + cost.lock_handoff_ns],
    [sd.drop_backlog, cost.hash_ns + cost.enqueue_ns],
    [sd.drop_flow_limit, cost.hash_ns + cost.enqueue_ns],
    [sd.processed, cost.process_ns],
    [sd.delivered, cost.delivery_ns],
    [sd.recvmsg_packets, cost.recvmsg_ns],
    [sd.ipis_sent, cost.ipi_send_ns],
    [sd.tap_packets, cost.tap_ns],
    // --xdp and busy polling (all 0 without them: a field that never moves costs nothing)
    [sd.xdp_runs, cost.xdp_run_ns],
    [sd.xdp_insns, cost.xdp_insn_ns],
    [sd.xdp_redirect, cost.cpumap_enqueue_ns],
    [sd.cpumap_kthread_packets, cost.cpumap_kthread_ns],
    [sd.busy_poll_passes, cost.busy_poll_ns],
  ];
}

/**
 * Advance CPU `cpu`'s clock by the cost of what it did since its last charge (counter
 * deltas × the cost model, descriptors cleaned, burn_ns), charged to its current context.
 * The caller then scan()s (at interrupt windows and step ends, not at every context
 * switch: an interrupt raised mid-step is stamped at most one step late).
 */
export function charge(m: ChargeState, cpu: number): void {
  const f64 = m.f64;
  const i32 = m.i32;
  const b = m.kc[cpu].sdF;
  let ns = m.acc[cpu];
  m.acc[cpu] = 0;
  const K = m.K;
  const base = cpu * K;
  for (let k = 0; k < K; k++) {
    const v = f64[b + m.fld[k]];
    const d = v - m.snap[base + k];
    if (d !== 0) {
      ns += d * m.w[k];
      m.snap[base + k] = v;
    }
  }
  // Descriptors are cleaned only in driver code (softirq, or hardirq for netif_rx drivers).
  // (and a busy-polling task's napi_busy_loop, which runs the driver's poll in task context)
  const Q = m.ctx[cpu] === CTX_TASK && !m.kc[cpu].in_busy_poll ? 0 : m.ntc_at.length;
  const size = m.cfg.ring_size;
  for (let q = 0; q < Q; q++) {
    const ntc = i32[m.ntc_at[q]];
    let d = ntc - m.last_ntc[q];
    if (d !== 0) {
      if (d < 0) d += size;
      ns += d * m.cost.desc_clean_ns;
      m.last_ntc[q] = ntc;
    }
  }
  // virtio: kicks since the last charge (only driver code kicks, as it cleans).
  for (let q = 0; q < m.kicks_at.length; q++) {
    const k = i32[m.kicks_at[q]];
    if (k !== m.last_kicks[q]) {
      ns += (k - m.last_kicks[q]) * m.cost.virtio_kick_ns;
      m.last_kicks[q] = k;
    }
  }
  if (ns > 0) {
    ns *= adversary_jitter(m.adversary, m.prng);
    m.clk[cpu] += ns;
    f64[b + m.busy_field[m.ctx[cpu]]] += ns;
  }
}
