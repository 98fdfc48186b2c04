// Piscina worker: one fuzz run per task (src/engine/fuzz.ts). Each run is a whole sim
// emulation in this thread; the verdict goes back to the campaign.
import { checkRun, type FuzzTask, type Verdict } from '../src/engine/fuzz.js';

export default function fuzzRun(task: FuzzTask): Verdict {
  return checkRun(task.flags);
}
