// Piscina worker: one sim-mode run of a sweep cell per task (src/engine/sweep.ts). The whole
// emulation runs in this thread in virtual time; its run contract document goes back, or,
// for a run the sim watchdog stopped, its message (an error's class does not cross threads),
// or the line of an output (its --tap) the run could not write.
import type { Config } from '../src/config/schema.js';
import { WatchdogError } from '../src/engine/run.js';
import { simulate } from '../src/engine/sim_run.js';
import type { PoolAnswer } from '../src/engine/sweep.js';
import { OutputError, takeOutputFailures } from '../src/host/files.js';

export default function sweepRun(cfg: Config): PoolAnswer {
  try {
    const result = simulate(cfg).result;
    const failed = takeOutputFailures()[0];
    return failed === undefined ? { result } : { output: failed.message };
  } catch (e) {
    if (e instanceof WatchdogError) return { watchdog: e.message };
    if (e instanceof OutputError) return { output: e.message };
    throw e;
  }
}
