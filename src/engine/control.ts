// The run's control schedule, one copy for both runtimes: task migrations every
// migrate_every_ms (while generating), the RSS indirection table rotated at reta_change_at_ms,
// and the --knob-at changes, each applied with apply_knob_begin and, for an RFS table, finished
// RCU_GRACE_MS later (unpublish, grace period, reinitialise, publish). Times are ms after
// traffic started: wall time in threads mode (the coordinator's poll), virtual time in sim mode
// (the machine's control hook).

import type { Config, KnobChange } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import { set_sysctl, rps_sock_flow_sysctl } from '../kernel/sysctl.js';
import { store_rps_map, store_rps_dev_flow_table_cnt } from '../kernel/net_sysfs.js';
import { irq_set_affinity } from '../kernel/irq.js';
import { sched_setaffinity } from '../kernel/sched.js';
import type { AppliedKnob } from './result.js';

/** synchronize_rcu's stand-in: readers hold a table for one packet; this is far longer. */
export const RCU_GRACE_MS = 5;

/**
 * Apply one change while traffic flows, the way Linux does it: sysctls are plain stores; a new
 * RPS map is published in one store; a new RFS table replaces the old one after readers have
 * let go of it: this applies the change, or its first half (unpublish), and returns the second
 * half (reinitialise, publish) to run once RCU_GRACE_MS have passed, or null. The control
 * schedule waits: wall time in threads mode, virtual time in sim mode.
 */
export function apply_knob_begin(shm: Shm, change: KnobChange): (() => void) | null {
  switch (change.key) {
    case 'netdev_budget':
    case 'netdev_budget_usecs':
    case 'dev_weight':
    case 'netdev_max_backlog':
      set_sysctl(shm, change.key, change.value as number);
      return null;
    case 'rps_cpus':
      (change.value as string[]).forEach((mask, q) => {
        store_rps_map(shm, q, mask);
      });
      return null;
    case 'irq_affinity':
      (change.value as number[]).forEach((cpu, q) => {
        irq_set_affinity(shm, q, cpu);
      });
      return null;
    case 'rss_reta':
      set_rss_reta(shm, change.value as number[]);
      return null;
    case 'rps_flow_cnt':
      return store_rps_dev_flow_table_cnt(shm, change.value as number[]);
    case 'rps_sock_flow_entries':
      return rps_sock_flow_sysctl(shm, change.value as number);
  }
}

/** ethtool -X: rewrite the indirection table, entry by entry, as the driver writes RETA. */
export function set_rss_reta(shm: Shm, reta: readonly number[]): void {
  for (let i = 0; i < 128; i++) Atomics.store(shm.reta, i, reta[i]!);
}

export class ControlSchedule {
  private migrations = 0;
  private retaChanged: boolean;
  private nextKnob = 0;
  /** Second halves of knob changes, in time order. */
  private readonly finish: { at_ms: number; run: () => void }[] = [];

  constructor(
    private readonly cfg: Config,
    private readonly applied: AppliedKnob[],
    private readonly onEvent?: (t_ms: number, what: string) => void,
  ) {
    this.retaChanged = cfg.reta_change_at_ms === 0;
  }

  /** Does this configuration change anything under traffic? */
  static needed(cfg: Config): boolean {
    return cfg.migrate_every_ms !== 0 || cfg.reta_change_at_ms !== 0 || cfg.knob_at.length !== 0;
  }

  /** When (ms) the next change is due, or Infinity. */
  next(genDone: boolean): number {
    const cfg = this.cfg;
    let t = Infinity;
    if (cfg.migrate_every_ms > 0 && !genDone) t = (this.migrations + 1) * cfg.migrate_every_ms;
    if (!this.retaChanged && cfg.reta_change_at_ms < t) t = cfg.reta_change_at_ms;
    if (this.nextKnob < cfg.knob_at.length && cfg.knob_at[this.nextKnob]!.at_ms < t) t = cfg.knob_at[this.nextKnob]!.at_ms;
    if (this.finish.length > 0 && this.finish[0]!.at_ms < t) t = this.finish[0]!.at_ms;
    return t;
  }

  /** Apply every change due at elapsed_ms; returns when the next one is due (ms), or Infinity. */
  run(shm: Shm, elapsed_ms: number): number {
    const cfg = this.cfg;
    const C = shm.layout.ctl;
    const genDone = Atomics.load(shm.i32, shm.ctlI + C.gen_done) !== 0;
    if (cfg.migrate_every_ms > 0 && !genDone && elapsed_ms >= (this.migrations + 1) * cfg.migrate_every_ms) {
      const m = ++this.migrations;
      cfg.app_cpus.forEach((_, task) => {
        sched_setaffinity(shm, task, cfg.app_cpus[(task + m) % cfg.app_cpus.length]!);
      });
      this.onEvent?.(elapsed_ms, `migration ${m}`);
    }
    if (!this.retaChanged && elapsed_ms >= cfg.reta_change_at_ms) {
      this.retaChanged = true;
      set_rss_reta(
        shm,
        cfg.rss_reta.map((q) => (q + 1) % cfg.queues),
      );
      Atomics.store(shm.i32, shm.ctlI + C.reta_changed, 1);
      this.onEvent?.(elapsed_ms, 'rss-reta rotated');
    }
    while (this.finish.length > 0 && elapsed_ms >= this.finish[0]!.at_ms) this.finish.shift()!.run();
    while (this.nextKnob < cfg.knob_at.length && elapsed_ms >= cfg.knob_at[this.nextKnob]!.at_ms) {
      const change = cfg.knob_at[this.nextKnob++]!;
      const rest = apply_knob_begin(shm, change);
      if (rest !== null) this.finish.push({ at_ms: elapsed_ms + RCU_GRACE_MS, run: rest });
      this.applied.push({ ...change, applied: true, applied_at_ms: Math.round(elapsed_ms * 1000) / 1000 });
      this.onEvent?.(elapsed_ms, `${change.key}=${String(change.value)}`);
    }
    return this.next(genDone);
  }
}
