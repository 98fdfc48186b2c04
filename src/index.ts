// rxsmp as a library: run emulations, read their results, and the kernel's hash functions.
// `run(settings)` is the entry point (src/api.ts, docs/library.md).

export { run, configOf, runConfig, type Settings, type RunApiOptions, type RunDocument } from './api.js';
export type { SimInfo } from './engine/sim_run.js';
export type { TapStats } from './engine/result.js';
export { readCapture, CaptureError, type Capture } from './uapi/pcap.js';

export { runEmulation, WatchdogError, InterruptedError, type RunHooks, type RunOptions } from './engine/run.js';
export { runSim, type SimRunOptions, type SimRunResult } from './engine/sim_run.js';
export { compare, type CompareOptions, type CompareResult, type CompareSide } from './engine/compare.js';
export type { Spread } from './engine/variants.js';
export type { Progress } from './engine/progress.js';
export type { NetdevStats, SnmpCounters } from './engine/counters.js';
export { conserves, unread, type RunResult, type PerCpuStats, type PerQueueStats } from './engine/result.js';
export { resolveConfig, configFromFlags } from './engine/configure.js';
export { settingsFromObject, settingFromFlag, settingsFromFile, type RawSettings } from './config/resolve.js';
export { lineRatePps, ConfigError, DEFAULTS, KNOBS, type Config } from './config/schema.js';
export { humanSummary, runHeader, softnetStat } from './report/human.js';
export { toeplitzHash, ToeplitzTable, MS_RSS_KEY } from './uapi/toeplitz.js';
export { siphash, siphash64 } from './uapi/siphash.js';
export { jhash, jhash2, jhash_3words } from './uapi/jhash.js';
export { flow_hash_init, skb_flow_dissect_hash, skb_flow_dissect_flow_keys, reciprocal_scale } from './kernel/hash/flow_dissector.js';
export { buildFrameTemplate, stampPacket } from './devices/frame_template.js';
export { makeFlows, type FlowSpec } from './devices/flows.js';
export { ip_fast_csum } from './uapi/inet.js';
