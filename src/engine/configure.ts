// The run's configuration resolved with what config/ leaves to its caller (ConfigIo): the
// capture read and kept (capture.ts), the tap file checked, the shared memory sized against
// its limit (shm_size.ts). Every command, the library and the engine's own tools resolve
// through here.

import { resolveSettings, settingsFromFlags, type ConfigIo, type RawSettings } from '../config/resolve.js';
import type { Config } from '../config/schema.js';
import { checkTapPath, loadReplay } from './capture.js';
import { checkSharedMemory } from './shm_size.js';

const RUN_IO: ConfigIo = {
  capture: (file) => loadReplay(file).summary,
  checkTapPath,
  checkSharedMemory,
};

/** Turn raw settings into a complete, cross-checked Config. Throws ConfigError. */
export function resolveConfig(raw: RawSettings): Config {
  return resolveSettings(raw, RUN_IO);
}

/**
 * A Config from options named as on the command line ({ 'rps-cpus': '2', gro: 'off' }),
 * validated exactly as they are there. Throws ConfigError.
 */
export function configFromFlags(flags: Readonly<Record<string, string | number | boolean>>): Config {
  return resolveSettings(settingsFromFlags(flags), RUN_IO);
}
