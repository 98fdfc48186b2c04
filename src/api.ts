// The library's entry point: `import { run } from 'rxsmp'`.
//
//   const doc = await run({ cpus: 4, queues: 1, rps_cpus: 'f', packets: 100_000 });
//
// Settings are the keys of a `--json` document's `config` block (snake_case; kebab-case too),
// with values as a config file takes them; every other knob takes its default. They are checked
// by the same schema as the command line: a mistake rejects with a ConfigError carrying the
// one line the CLI would print. The promise resolves to the run contract document, the object
// `rxsmp run --json` prints (schema rxsmp.run/1), in threads or sim mode (`mode`).

import { knobNamed, settingsFromObject, type RawSettings } from './config/resolve.js';
import { ConfigError, type Config } from './config/schema.js';
import { resolveConfig } from './engine/configure.js';
import { runEmulation, type RunOptions } from './engine/run.js';
import { runSim, type SimRunResult } from './engine/sim_run.js';
import type { RunResult } from './engine/result.js';
import { progressFeed, type Progress } from './engine/progress.js';
import { takeOutputFailures } from './host/files.js';

/** A run's settings: knob names as in the config block (or kebab-case), values as in a config file. */
export type Settings = Readonly<Record<string, unknown>>;

export interface RunApiOptions {
  /** Called about every 250 ms with the counters so far. */
  onProgress?: (p: Progress) => void;
  /** Aborted: generation stops, what is in flight drains (bounded), and the run resolves with `interrupted: true`. */
  signal?: AbortSignal;
}

/** The run contract document: what `rxsmp run --json` prints. Sim runs carry `sim` too. */
export type RunDocument = RunResult | SimRunResult;

/** A complete, checked Config from settings (defaults filled in). Throws ConfigError. */
function configOf(settings: Settings = {}): Config {
  const raw: RawSettings = new Map();
  settingsFromObject(settings, 'run()', raw);
  try {
    return resolveConfig(raw);
  } catch (e) {
    // A check across knobs names the option as a flag ("--rps-cpus: ..."): say it as run()'s key.
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError(`run(): ${e.message.replace(/^--([a-z0-9-]+)/, (_, flag: string) => `key '${knobNamed(flag) ?? flag}'`)}`);
  }
}

/** Run a checked Config in its mode: the one dispatch the CLI and run() share (not in the package's API: src/index.ts). */
export function runConfig(cfg: Config, o: Pick<RunOptions, 'signal' | 'progress' | 'profile'> = {}): Promise<RunDocument> {
  const opts = o.progress ? { ...o, progress: progressFeed(o.progress) } : o;
  return cfg.mode === 'sim' ? runSim(cfg, opts) : runEmulation(cfg, opts);
}

/**
 * Run an emulation from settings; resolves to the run contract document. A `tap` file that
 * could not be written rejects with its OutputError (a ConfigError: one line) after the run.
 */
export async function run(settings: Settings = {}, o: RunApiOptions = {}): Promise<RunDocument> {
  const cfg = configOf(settings);
  takeOutputFailures(); // none of an earlier call's
  const doc = await runConfig(cfg, { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { progress: o.onProgress } : {}) });
  const failed = takeOutputFailures()[0];
  if (failed !== undefined) throw failed;
  return doc;
}
