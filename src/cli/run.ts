// The `run` command (its row in COMMANDS, cli/main.ts). Options and config files are validated
// before any shared memory is allocated or any worker starts; a user mistake is one line on
// stderr naming the option, and exit status 2. The shape of a run: parse → header → run →
// print → exit status.

import { readSettingsFile } from '../host/settings_file.js';
import { settingFromFlag, settingsFromFile, type RawSettings } from '../config/resolve.js';
import { ConfigError, dirPath, oneOf, onOff, path, type Config } from '../config/schema.js';
import { resolveConfig } from '../engine/configure.js';
import { runConfig } from '../api.js';
import { conserves, type RunResult } from '../engine/result.js';
import { commandLine, contentionTable, humanSummary, knobsNotApplied, runHeader } from '../report/human.js';
import type { SimRunResult } from '../engine/sim_run.js';
import { checkHostCpus, HOST_CORES } from '../host/host.js';
import { loadCostModel } from '../cpu/cost_model.js';
import { commandOptions, HELP_OPTION, option, optionValue, tokenize, type OptionSpec } from './args.js';
import { exitStatusOf, FORCE_OPTION, writeOutputs } from './tools.js';
import { PROC_FILES, writeProcDir } from '../report/procfs.js';
import { deferFailure } from '../engine/run.js';
import { checkOutputDir, checkOutputFile, writeOutputFile } from '../host/files.js';
import { deviceInline } from '../host/host.js';
import { startProfile } from '../cpu/worker_main.js';
import { join } from 'node:path';
import { EXIT_SIGINT, interruptOnSignals, liveProgress, type ProgressMode } from './live.js';
import { reportOf } from '../report/html.js';
import { count, duration } from '../lib/units.js';

/** `--progress`: auto shows the live line on a terminal only (the runtime reads CliArgs.progress). */
const progressKind = { ...oneOf(['auto', 'on', 'off']), bare: 'on', negated: 'off' };

/** Options of `run` that are not configuration knobs: how to run and report, not what to emulate. */
export const RUN_ONLY = {
  help: HELP_OPTION,
  help_all: option('help-all', { ...HELP_OPTION.kind }, 'describe every option, group by group, and exit'),
  json: {
    ...option('json', onOff(), 'print one JSON document (schema rxsmp.run/1) instead of the summary', false),
    group: 'common' as const,
  },
  config: {
    ...option<string>(
      'config',
      path(),
      "read options from a JSON or YAML file: the keys of a --json output's config block (or that whole output); flags override it",
    ),
    group: 'common' as const,
  },
  check_order: {
    ...option('check-order', onOff(), 'exit 1 if any flow was delivered out of order (stderr names the first)', false),
    group: 'output' as const,
  },
  progress: {
    ...option<'auto' | 'on' | 'off'>(
      'progress',
      progressKind,
      'a live progress line on stderr: auto = on a terminal, without --json',
      'auto',
    ),
    group: 'output' as const,
  },
  report: {
    ...option<string>('report', path(), 'also write an HTML report of the run (charts; see rxsmp report --help) to FILE'),
    group: 'output' as const,
  },
  contention: {
    ...option(
      'contention',
      onOff(),
      'after the summary (on stderr with --json), per CPU: rps_lock acquisitions, spins, sleeps, IPIs, local and remote enqueues',
      false,
    ),
    group: 'output' as const,
  },
  profile: {
    ...option<string>(
      'profile',
      dirPath(),
      'write a V8 CPU profile per thread into DIR (cpuN, device, coordinator; sim mode: sim), .cpuprofile for DevTools or speedscope',
    ),
    group: 'output' as const,
  },
  proc: {
    ...option<string>(
      'proc',
      dirPath(),
      "after the run, write into DIR what 5.10's /proc and ethtool -S would show: net/softnet_stat, net/dev, net/snmp, net/netstat, net/udp, net/udp6, interrupts, softirqs, ethtool_S.eth0",
    ),
    group: 'output' as const,
  },
  force: { ...FORCE_OPTION, group: 'output' as const },
};

/** run --help's paragraph (after the synopsis); rxsmp --help opens with its first two lines. */
export const ABOUT = `Emulates the Linux (5.10) network receive path on SMP CPUs: one worker thread per CPU,
a multi-queue NIC on a device thread, NAPI, softirq, GRO, RPS/RFS, the backlog, sockets.`;

/** Every option `run` takes: the configuration's knobs, then its own (RUN_ONLY); its row in COMMANDS says the same. */
export const RUN_OPTIONS: OptionSpec[] = commandOptions({ options: Object.values(RUN_ONLY), runOptions: 'grouped' });

export interface CliArgs {
  json: boolean;
  cfg: Config;
  /** --check-order: exit 1 when a flow was delivered out of order. */
  checkOrder: boolean;
  /** --progress / --no-progress; 'auto': on a terminal only, never with --json. */
  progress: ProgressMode;
  /** --report FILE: also write the HTML report of the run. */
  report?: string;
  /** --proc DIR: also write the run's /proc files there. */
  proc?: string;
  /** --profile DIR: a .cpuprofile per thread there. */
  profile?: string;
  /** --contention: print the per-CPU contention table. */
  contention: boolean;
  /** --force: replace output files that exist. */
  force: boolean;
}

/** The files --profile DIR gets: one per thread (threads mode; the device's unless it runs inline), or the one thread of sim mode. */
export function profileFiles(cfg: Config): string[] {
  if (cfg.mode === 'sim') return ['sim.cpuprofile'];
  const cpus = Array.from({ length: cfg.cpus }, (_, i) => `cpu${i}.cpuprofile`);
  return [...cpus, ...(deviceInline(cfg) ? [] : ['device.cpuprofile']), 'coordinator.cpuprofile'];
}

/** Every output of a run checked before it starts (src/host/files.ts): a file that cannot be written stops it here. */
export function checkRunOutputs(args: CliArgs): void {
  if (args.cfg.tap !== '') checkOutputFile('--tap', args.cfg.tap, { force: args.force });
  if (args.report !== undefined) checkOutputFile('--report', args.report, { force: args.force });
  if (args.proc !== undefined) checkOutputDir('--proc', args.proc, PROC_FILES, args.force);
  if (args.profile !== undefined) checkOutputDir('--profile', args.profile, profileFiles(args.cfg), args.force);
}

/** Parse `run` arguments into a validated Config. Throws ConfigError on any mistake. */
export function parseRunArgs(argv: string[], specs: readonly OptionSpec[] = RUN_OPTIONS): CliArgs {
  const given = tokenize('run', specs, argv);
  const raw: RawSettings = new Map();
  const file = given.get(RUN_ONLY.config.flag);
  if (file !== undefined) settingsFromFile(readSettingsFile('--config', file), file, raw);
  const own = new Set(Object.values(RUN_ONLY).map((o) => o.flag));
  for (const [flag, text] of given) if (!own.has(flag)) settingFromFlag(flag, text, raw);
  const cfg = resolveConfig(raw);
  // Read and checked now, so that a bad file or a host that cannot pin stops the run before its header.
  loadCostModel(cfg.cost_model);
  checkHostCpus(cfg);
  return {
    json: optionValue(RUN_ONLY.json, given),
    cfg,
    checkOrder: optionValue(RUN_ONLY.check_order, given),
    progress: optionValue(RUN_ONLY.progress, given),
    contention: optionValue(RUN_ONLY.contention, given),
    force: optionValue(RUN_ONLY.force, given),
    ...(given.has('report') ? { report: given.get('report')! } : {}),
    ...(given.has('proc') ? { proc: given.get('proc')! } : {}),
    ...(given.has('profile') ? { profile: given.get('profile')! } : {}),
  };
}

/** Said before anything starts, not an error: more emulated CPUs than host cores share them. */
export function hostWarning(cfg: Config, hostCores = HOST_CORES): string | undefined {
  if (cfg.mode !== 'threads' || cfg.cpus <= hostCores) return undefined;
  return (
    `rxsmp: warning: --cpus ${cfg.cpus} is more than this host's ${hostCores} cores: CPU threads will take turns on them, ` +
    `so rates, drops and latency show the host's scheduling too (--mode sim does not)`
  );
}

/** Sim mode: say that the times above are virtual, and how the run was scheduled. */
function simSummary(r: object): string {
  if (!('sim' in r)) return '';
  const s = (r as SimRunResult).sim;
  return (
    `\nsim: virtual time (the times above), seed ${s.seed}, adversary level ${s.adversary.level}, ${count(s.steps)} steps; ` +
    `host ${duration(s.wall_s * 1e9)} (${count(s.sim_pps_wall)} simulated packets per second); cost model: ${s.cost_model}`
  );
}

/** The run's own checks after it printed: 0, or 1 with one line on stderr per failed check. */
function checksStatus(args: CliArgs, r: RunResult): number {
  let status = 0;
  if (!conserves(r)) {
    const drops = Object.values(r.packets.dropped).reduce((a, b) => a + b, 0);
    process.stderr.write(
      `rxsmp: conservation failed: generated ${r.packets.generated} != delivered ${r.packets.delivered} + dropped ${drops}\n`,
    );
    status = 1;
  }
  const o = r.ordering;
  if (args.checkOrder && o.out_of_order > 0) {
    const f = o.first;
    process.stderr.write(
      `rxsmp: --check-order: ${o.out_of_order} deliveries out of order in ${o.flows_out_of_order} flows` +
        (f ? `; first: flow ${f.flow} expected index >= ${f.expected_index}, got ${f.got_index}, on cpu ${f.cpu}` : '') +
        '\n',
    );
    status = 1;
  }
  return status;
}

/** `rxsmp run`: parse, header, run, print, exit status. */
export async function runMain(argv: string[], specs: readonly OptionSpec[] = RUN_OPTIONS): Promise<number> {
  let args: CliArgs;
  try {
    args = parseRunArgs(argv, specs);
    checkRunOutputs(args);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`rxsmp: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const warning = hostWarning(args.cfg);
  if (warning !== undefined) process.stderr.write(warning + '\n');
  if (!args.json) process.stdout.write(runHeader(args.cfg) + '\n');
  const intr = interruptOnSignals('the traffic, draining what is in flight');
  const live = liveProgress(args.progress, args.json);
  try {
    const opts = { signal: intr.signal, progress: live.progress, ...(args.profile !== undefined ? { profile: args.profile } : {}) };
    const simProfile = args.profile !== undefined && args.cfg.mode === 'sim' ? await startProfile() : undefined;
    const result = await runConfig(args.cfg, opts);
    result.command = commandLine(['rxsmp', 'run', ...argv]);
    if (simProfile !== undefined) await deferFailure(simProfile.stop(join(args.profile!, 'sim.cpuprofile')));
    live.clear();
    process.stdout.write(args.json ? JSON.stringify(result, null, 2) + '\n' : humanSummary(result) + simSummary(result) + '\n');
    // The result is printed; the files after it. A file that fails is one line each and exit status 2.
    const writes = [
      ...(args.report !== undefined
        ? [() => writeOutputFile('--report', args.report!, reportOf([{ source: 'rxsmp run', docs: [result] }], result.command))]
        : []),
      ...(args.proc !== undefined ? [() => writeProcDir(args.proc!, result, args.cfg)] : []),
    ];
    if (args.contention) (args.json ? process.stderr : process.stdout).write(`\ncontention\n${contentionTable(result)}\n`);
    const missed = knobsNotApplied(result);
    if (missed !== null) process.stderr.write(`rxsmp: ${missed}\n`);
    const status = checksStatus(args, result); // an interrupted run is checked too, then exits as signalled
    return writeOutputs(result.interrupted ? intr.exitCode() || EXIT_SIGINT : status, writes);
  } catch (e) {
    live.clear();
    return exitStatusOf(e); // e.g. a bad --cost-model file, or the watchdog
  } finally {
    intr.dispose();
  }
}
