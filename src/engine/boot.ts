// Boot: lay the emulated machine out in fresh shared memory before any thread starts
// (what net_dev_init, the driver's probe/open and the sysctl/ethtool set-up do on Linux).
// Also the knob writers that may run while traffic flows (RPS masks, the RSS table, tasks).

import { maskToCpus, type Config, type KnobChange } from '../config.js';
import { Shm } from '../shm/memory.js';
import { skb_pool_init } from '../shm/skb_pool.js';
import { doorbell_ring } from '../shm/msix.js';
import { RPS_MAP_MAX, roundupPow2 } from '../shm/layout.js';
import { POLL_BACKLOG } from '../kernel/napi.js';
import { RPS_NO_CPU } from '../kernel/dev.js';
import { sock_table_init } from '../kernel/sock.js';
import { ixgbe_up } from '../drivers/ixgbe.js';
import { napi_timers_init } from '../kernel/napi_timer.js';
import { legacy_up } from '../drivers/legacy.js';
import { virtnet_up } from '../drivers/virtio_net.js';
import { TapSpread } from '../devices/virtio_net_backend.js';
import { workqueue_init } from '../kernel/workqueue.js';
import { xdp_create } from '../kernel/xdp.js';
import { resolveXdp, xdpMapsFor } from '../config/xdp.js';
import { replayFrames, runFrames } from '../devices/generator.js';
import { loadReplay } from '../config/capture.js';
import type { FlowFrames, FlowTable } from '../devices/frames.js';

/** The run's flows and their frames: generated, or (--pcap) the capture's. Setup time. */
export function framesOf(cfg: Config): FlowFrames {
  return cfg.pcap !== '' ? replayFrames(loadReplay(cfg.pcap), cfg) : runFrames(cfg);
}

/** `frames`: the run's flows and frames when the caller built them already (framesOf). */
export function boot(cfg: Config, frames: FlowFrames = framesOf(cfg)): Shm {
  const shm = Shm.create(cfg);
  const L = shm.layout;
  skb_pool_init(shm);
  for (let cpu = 0; cpu < cfg.cpus; cpu++) {
    const b = shm.sdI[cpu]!;
    for (const f of [
      L.sd.input_pkt_head,
      L.sd.input_pkt_tail,
      L.sd.process_head,
      L.sd.process_tail,
      L.sd.rps_ipi_list,
      L.sd.rps_ipi_next,
    ]) {
      shm.i32[b + f] = -1;
    }
    // sd->backlog: the backlog napi of CPU `cpu` is napi `cpu`.
    const n = shm.napiI[cpu]!;
    shm.i32[n + L.napi.weight] = cfg.dev_weight * cfg.dev_weight_rx_bias; // dev_rx_weight
    shm.i32[n + L.napi.poll_fn] = POLL_BACKLOG;
    shm.i32[n + L.napi.queue] = -1;
    shm.i32[n + L.napi.cpu] = cpu;
  }
  shm.i32[shm.ctlI + L.ctl.device_cpu] = -1; // a thread of its own, unless --device inline says otherwise
  workqueue_init(shm);
  if (cfg.nic === 'legacy') legacy_up(shm);
  else if (cfg.nic === 'virtio') virtnet_up(shm);
  else ixgbe_up(shm);
  const flows = frames.flows;
  sock_table_init(shm, flows, socketTasks(shm, flows, frames));
  cfg.app_cpus.forEach((cpu, t) => {
    shm.i32[shm.taskI[t]! + L.task.cpu] = cpu;
  });
  set_sysctl(shm, 'netdev_budget', cfg.netdev_budget);
  set_sysctl(shm, 'netdev_budget_usecs', cfg.netdev_budget_usecs);
  set_sysctl(shm, 'dev_weight_rx_bias', cfg.dev_weight_rx_bias);
  set_sysctl(shm, 'gro_flush_timeout', cfg.gro_flush_timeout);
  set_sysctl(shm, 'napi_defer_hard_irqs', cfg.napi_defer_hard_irqs);
  napi_timers_init(shm);
  set_sysctl(shm, 'dev_weight', cfg.dev_weight);
  set_sysctl(shm, 'netdev_max_backlog', cfg.netdev_max_backlog);
  for (let q = 0; q < cfg.queues; q++) {
    set_rps_cpus(shm, q, cfg.rps_cpus[q]!);
    rps_flow_table_init(shm, q, cfg.rps_flow_cnt[q]!);
  }
  rps_sock_flow_table_init(shm, cfg.rps_sock_flow_entries);
  update_rps_needed(shm);
  // --xdp: the program, its maps filled from --xdp-map, its cpumaps' rings
  const x = resolveXdp(cfg);
  if (x !== undefined) shm.xdp = xdp_create(cfg, x, xdpMapsFor(x, cfg.cpus, cfg.seed));
  return shm;
}

/**
 * Which application task reads each flow's socket. `--app-placement rss` (the default): the
 * task on the CPU that takes the flow's RSS queue interrupt, when there is one (a server with
 * one worker per queue CPU); otherwise, and with `spread`, flows go round the tasks.
 */
function socketTasks(shm: Shm, flows: FlowTable, frames: FlowFrames): Int32Array {
  const cfg = shm.cfg;
  const tasks = cfg.app_cpus.length;
  const out = new Int32Array(flows.count);
  for (let s = 0; s < flows.count; s++) out[s] = s % tasks; // spread
  if (cfg.app_placement === 'spread' || cfg.nic === 'legacy') return out;
  const tap = new TapSpread(cfg.seed, cfg.queues);
  const f = frames;
  for (let s = 0; s < flows.count; s++) {
    // The flow's queue: the NIC's RSS, or (virtio) the host's multiqueue tap spread.
    const queue = cfg.nic === 'virtio' ? tap.select_queue(f.hdr, s * f.stride) : cfg.rss_reta[f.rss_hash[s]! & 127]!;
    const task = cfg.app_cpus.indexOf(cfg.irq_affinity[queue]!);
    if (task >= 0) out[s] = task;
  }
  return out;
}

type Sysctl =
  | 'netdev_budget'
  | 'netdev_budget_usecs'
  | 'dev_weight'
  | 'dev_weight_rx_bias'
  | 'netdev_max_backlog'
  | 'gro_flush_timeout'
  | 'napi_defer_hard_irqs';

/**
 * Write a net.core sysctl; the kernel reads it at each use. dev_weight and
 * dev_weight_rx_bias also set dev_rx_weight, their product (proc_do_dev_weight, 5.10).
 */
export function set_sysctl(shm: Shm, key: Sysctl, value: number): void {
  const C = shm.layout.ctl;
  Atomics.store(shm.i32, shm.ctlI + C[key], value);
  if (key === 'dev_weight' || key === 'dev_weight_rx_bias') {
    const w = Atomics.load(shm.i32, shm.ctlI + C.dev_weight) * Atomics.load(shm.i32, shm.ctlI + C.dev_weight_rx_bias);
    Atomics.store(shm.i32, shm.ctlI + C.dev_rx_weight, w);
  }
}

/** A fresh rps_dev_flow_table of `cnt` entries (rounded up to a power of two), every CPU unset. */
function rps_flow_table_init(shm: Shm, q: number, cnt: number): void {
  const L = shm.layout;
  const size = cnt > 0 ? roundupPow2(cnt) : 0;
  if (size > L.rpsDevFlowCap[q]!) throw new Error(`rps_flow_cnt ${cnt} exceeds the table allocated for queue ${q}`);
  const base = L.rpsDevFlowBase[q]! / 4;
  shm.i32.fill(RPS_NO_CPU, base, base + size);
  shm.i32.fill(0, base + size, base + 2 * size); // last_qtail
  Atomics.store(shm.i32, L.rpsFlowSizeBase / 4 + q, size);
}

function rps_sock_flow_table_init(shm: Shm, entries: number): void {
  const L = shm.layout;
  const size = entries > 0 ? roundupPow2(entries) : 0;
  if (size > L.rpsSockFlowCap) throw new Error(`rps_sock_flow_entries ${entries} exceeds the table allocated`);
  // rps_sock_flow_sysctl fills a new table with RPS_NO_CPU.
  shm.i32.fill(RPS_NO_CPU, L.rpsSockFlowBase / 4, L.rpsSockFlowBase / 4 + size);
  Atomics.store(shm.i32, shm.ctlI + L.ctl.rps_sock_flow_size, size);
}

/** synchronize_rcu's stand-in: readers hold a table for one packet; this is far longer. */
export const RCU_GRACE_MS = 5;

/**
 * Apply one change while traffic flows, the way Linux does it: sysctls are plain stores; a new
 * RPS map is published in one store; a new RFS table replaces the old one after readers have
 * let go of it: this applies the change, or its first half (unpublish), and returns the second
 * half (reinitialise, publish) to run once RCU_GRACE_MS have passed, or null. The control
 * schedule (control.ts) waits: wall time in threads mode, virtual time in sim mode.
 */
export function apply_knob_begin(shm: Shm, change: KnobChange): (() => void) | null {
  const cfg = shm.cfg;
  const L = shm.layout;
  switch (change.key) {
    case 'netdev_budget':
    case 'netdev_budget_usecs':
    case 'dev_weight':
    case 'netdev_max_backlog':
      set_sysctl(shm, change.key, change.value as number);
      return null;
    case 'rps_cpus':
      (change.value as string[]).forEach((mask, q) => {
        set_rps_cpus(shm, q, mask);
      });
      return null;
    case 'irq_affinity':
      (change.value as number[]).forEach((cpu, q) => {
        Atomics.store(shm.i32, shm.rxqI[q]! + L.rxq.affinity, cpu);
      });
      return null;
    case 'rss_reta':
      set_rss_reta(shm, change.value as number[]);
      return null;
    case 'rps_flow_cnt':
      for (let q = 0; q < cfg.queues; q++) Atomics.store(shm.i32, L.rpsFlowSizeBase / 4 + q, 0);
      update_rps_needed(shm);
      return () => {
        (change.value as number[]).forEach((cnt, q) => {
          rps_flow_table_init(shm, q, cnt);
        });
        update_rps_needed(shm);
      };
    case 'rps_sock_flow_entries':
      Atomics.store(shm.i32, shm.ctlI + L.ctl.rps_sock_flow_size, 0);
      return () => rps_sock_flow_table_init(shm, change.value as number);
  }
}

/**
 * store_rps_map: write /sys/class/net/X/queues/rx-q/rps_cpus. The new map goes in the
 * inactive buffer and is published with one store (rcu_assign_pointer). Readers hold a map
 * for one packet; callers space changes by far more than that (synchronize_rcu's role).
 */
export function set_rps_cpus(shm: Shm, q: number, hexmask: string): void {
  const L = shm.layout;
  const cpus = maskToCpus(hexmask).filter((c) => c < shm.cfg.cpus);
  if (cpus.length > RPS_MAP_MAX) throw new Error(`rps_cpus: more than ${RPS_MAP_MAX} CPUs`);
  const activeAt = L.rpsActiveBase / 4 + q;
  const next = 1 - Atomics.load(shm.i32, activeAt);
  const base = L.rpsMapBase / 4 + (q * 2 + next) * L.rpsMapStride;
  shm.i32[base] = cpus.length;
  cpus.forEach((cpu, i) => {
    shm.i32[base + 1 + i] = cpu;
  });
  Atomics.store(shm.i32, activeAt, next);
  update_rps_needed(shm);
}

/** The rps_needed static key: on while any queue has a map or a flow table. */
function update_rps_needed(shm: Shm): void {
  const L = shm.layout;
  let needed = 0;
  for (let q = 0; q < shm.cfg.queues; q++) {
    const active = Atomics.load(shm.i32, L.rpsActiveBase / 4 + q);
    if (shm.i32[L.rpsMapBase / 4 + (q * 2 + active) * L.rpsMapStride]! > 0 || Atomics.load(shm.i32, L.rpsFlowSizeBase / 4 + q) > 0)
      needed = 1;
  }
  Atomics.store(shm.i32, shm.ctlI + L.ctl.rps_needed, needed);
}

/** ethtool -X: rewrite the indirection table, entry by entry, as the driver writes RETA. */
export function set_rss_reta(shm: Shm, reta: readonly number[]): void {
  for (let i = 0; i < 128; i++) Atomics.store(shm.reta, i, reta[i]!);
}

/** Move application task t to `cpu` (sched_setaffinity), and kick that CPU. */
export function migrate_task(shm: Shm, t: number, cpu: number): void {
  const T = shm.layout.task;
  const at = shm.taskI[t]! + T.cpu;
  if (Atomics.load(shm.i32, at) === cpu) return;
  Atomics.store(shm.i32, at, cpu);
  shm.f64[shm.taskF[t]! + T.migrations]! += 1;
  shm.f64[shm.sdF[cpu]! + shm.layout.sd.task_migrations_in]! += 1;
  doorbell_ring(shm, cpu);
}
