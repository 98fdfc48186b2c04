// The run's configuration resolved with what config/ leaves to its caller (ConfigIo): the
// capture read and kept (capture.ts), the tap file checked, the shared memory sized against
// its limit (shm_size.ts), --xdp's object read and checked (host/xdp_object.ts). Every
// command, the library and the engine's own tools resolve through here.

import { resolveSettings, settingsFromFlags, type ConfigIo, type RawSettings } from '../config/resolve.js';
import type { Config } from '../config/schema.js';
import { checkTapPath, loadReplay } from './capture.js';
import { checkSharedMemory } from './shm_size.js';
import { resolveXdp } from '../host/xdp_object.js';

const RUN_IO: ConfigIo = {
  capture: (file) => loadReplay(file).summary,
  checkTapPath,
  checkSharedMemory,
  xdp: (cfg) => {
    resolveXdp(cfg);
  },
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
