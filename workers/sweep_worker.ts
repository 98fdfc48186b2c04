// Piscina worker: one sim-mode run of a sweep cell per task (src/engine/sweep.ts). The whole
// emulation runs in this thread in virtual time; its run contract document goes back, or,
// for a run the sim watchdog stopped, its message (an error's class does not cross threads).
import type { Config } from '../src/config.js';
import { WatchdogError } from '../src/engine/run.js';
import { simulate } from '../src/engine/sim_run.js';
import type { PoolAnswer } from '../src/engine/sweep.js';

export default function sweepRun(cfg: Config): PoolAnswer {
  try {
    return { result: simulate(cfg).result };
  } catch (e) {
    if (e instanceof WatchdogError) return { watchdog: e.message };
    throw e;
  }
}
