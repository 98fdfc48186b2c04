// rxsmp as a library (docs/library.md): `run(settings)` runs one emulation and resolves to the
// document `rxsmp run --json` prints; `compare({ options, a, b })` runs two configurations
// paired and resolves to what `rxsmp compare --json` prints. A mistake in either rejects with
// a ConfigError before anything starts. The rest is types: the configuration and the results.
// Code inside the package imports each module directly, never this file.

export { run, type Settings, type RunApiOptions, type RunDocument } from './api.js';
export { compare, type CompareOptions, type CompareResult, type CompareSide } from './engine/compare.js';
export { ConfigError, type Config } from './config/schema.js';
export type { RunResult, PerCpuStats, PerQueueStats, TapStats } from './engine/result.js';
export type { SimRunResult, SimInfo } from './engine/sim_run.js';
export type { Progress } from './engine/progress.js';
export type { Spread } from './engine/variants.js';
export type { NetdevStats, SnmpCounters } from './engine/counters.js';
