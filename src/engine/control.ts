// The run's control schedule, one copy for both runtimes: task migrations every
// migrate_every_ms (while generating), the RSS indirection table rotated at reta_change_at_ms,
// and the --knob-at changes, each written by the kernel's knob_write (kernel/knobs.ts) and, for
// an RFS table, finished RCU_GRACE_MS later (unpublish, grace period, reinitialise, publish).
// Times are ms after traffic started: wall time in threads mode (the coordinator's poll),
// virtual time in sim mode (the machine's control hook).

import type { Config } from '../config/schema.js';
import type { Shm } from '../shm/memory.js';
import { ethtool_set_rxfh, knob_write } from '../kernel/knobs.js';
import { sched_setaffinity } from '../kernel/sched.js';
import type { AppliedKnob } from './result.js';

/** synchronize_rcu's stand-in: readers hold a table for one packet; this is far longer. */
export const RCU_GRACE_MS = 5;

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
    if (this.nextKnob < cfg.knob_at.length && cfg.knob_at[this.nextKnob].at_ms < t) t = cfg.knob_at[this.nextKnob].at_ms;
    if (this.finish.length > 0 && this.finish[0].at_ms < t) t = this.finish[0].at_ms;
    return t;
  }

  /** Apply every change due at elapsed_ms; returns when the next one is due (ms), or Infinity. */
  run(shm: Shm, elapsed_ms: number): number {
    const cfg = this.cfg;
    const CTL = shm.layout.CTL;
    const genDone = Atomics.load(shm.i32, shm.ctlI + CTL.gen_done) !== 0;
    if (cfg.migrate_every_ms > 0 && !genDone && elapsed_ms >= (this.migrations + 1) * cfg.migrate_every_ms) {
      const m = ++this.migrations;
      cfg.app_cpus.forEach((_, task) => {
        sched_setaffinity(shm, task, cfg.app_cpus[(task + m) % cfg.app_cpus.length]);
      });
      this.onEvent?.(elapsed_ms, `migration ${m}`);
    }
    if (!this.retaChanged && elapsed_ms >= cfg.reta_change_at_ms) {
      this.retaChanged = true;
      ethtool_set_rxfh(
        shm,
        cfg.rss_reta.map((q) => (q + 1) % cfg.queues),
      );
      Atomics.store(shm.i32, shm.ctlI + CTL.reta_changed, 1);
      this.onEvent?.(elapsed_ms, 'rss-reta rotated');
    }
    while (this.finish.length > 0 && elapsed_ms >= this.finish[0].at_ms) this.finish.shift()!.run();
    while (this.nextKnob < cfg.knob_at.length && elapsed_ms >= cfg.knob_at[this.nextKnob].at_ms) {
      const change = cfg.knob_at[this.nextKnob++];
      const rest = knob_write(shm, change.key, change.value);
      if (rest !== null) this.finish.push({ at_ms: elapsed_ms + RCU_GRACE_MS, run: rest });
      this.applied.push({ ...change, applied: true, applied_at_ms: Math.round(elapsed_ms * 1000) / 1000 });
      this.onEvent?.(elapsed_ms, `${change.key}=${String(change.value)}`);
    }
    return this.next(genDone);
  }
}
