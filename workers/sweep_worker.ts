// Piscina worker: one sim-mode run of a sweep cell per task (src/engine/sweep.ts). The whole
// emulation runs in this thread in virtual time; its run contract document goes back.
import type { Config } from '../src/config.js';
import type { RunResult } from '../src/engine/result.js';
import { simulate } from '../src/engine/sim_run.js';

export default function sweepRun(cfg: Config): RunResult {
  return simulate(cfg).result;
}
