// rxsmp command line: `rxsmp run [options]`. Options and config files are validated before
// any shared memory is allocated or any worker starts; a user mistake is one line on stderr
// naming the option, and exit status 2.

import { readFileSync } from 'node:fs';
import { ConfigError, optionHelp, resolveConfig, settingFromFlag, settingsFromFile, type Config, type RawSettings } from './config.js';
import { runEmulation, WatchdogError } from './engine/run.js';
import { humanSummary, knobsNotApplied } from './report/human.js';
import { runSim, type SimRunResult } from './engine/sim_run.js';
import { CAL_SYNOPSIS, FUZZ_SYNOPSIS, toolMain } from './cli_tools.js';
import { EXIT_SIGINT, interruptOnSignals, liveProgress, type ProgressMode } from './cli_live.js';

const USAGE = `usage: rxsmp run [--json] [--config FILE] [options]
       ${FUZZ_SYNOPSIS}
       ${CAL_SYNOPSIS}

Emulates the Linux (5.10) network receive path on SMP CPUs: one worker thread per CPU,
a multi-queue NIC on a device thread, NAPI, softirq, GRO, RPS/RFS, the backlog, sockets.

options:
  --json                         print one JSON document (schema rxsmp.run/1) instead of the summary
  --config FILE                  read options from a JSON file (keys as below, with - or _); flags override it
  --progress, --no-progress      a live progress line on stderr (default: on a terminal, without --json)
${optionHelp()}`;

export interface CliArgs {
  json: boolean;
  cfg: Config;
  /** --progress / --no-progress: the live stderr line forced on or off; auto: on a terminal without --json. */
  progress: ProgressMode;
}

/** Parse `run` arguments into a validated Config. Throws ConfigError on any mistake. */
export function parseRunArgs(argv: string[]): CliArgs {
  const flags: RawSettings = new Map();
  let json = false;
  let progress: ProgressMode = 'auto';
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'; options start with --`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (name === 'json') {
      json = true;
      continue;
    }
    if ((name === 'progress' || name === 'no-progress') && eq < 0) {
      progress = name === 'progress' ? 'on' : 'off';
      continue;
    }
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    if (name === 'config') {
      if (value === undefined) throw new ConfigError('--config: expected a file name');
      configFile = value;
      continue;
    }
    // A bare flag is "on" for on/off options; for others resolveConfig names what is missing.
    settingFromFlag(name, value ?? 'on', flags);
  }
  const raw: RawSettings = new Map();
  if (configFile !== undefined) settingsFromFile(readConfigFile(configFile), configFile, raw);
  for (const [k, v] of flags) raw.set(k, v);
  return { json, cfg: resolveConfig(raw), progress };
}

/** Sim mode: say that the times above are virtual, and how the run was scheduled. */
function simSummary(r: object): string {
  if (!('sim' in r)) return '';
  const s = (r as SimRunResult).sim;
  return (
    `\nsim: virtual time (the times above), seed ${s.seed}, adversary level ${s.adversary.level}, ${s.steps.toLocaleString('en-US')} steps; ` +
    `host ${s.wall_s.toFixed(2)} s (${(s.sim_pps_wall / 1e6).toFixed(2)} M simulated packets per second); cost model: ${s.cost_model}`
  );
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`--config ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--config ${file}: not valid JSON (${(e as Error).message})`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'fuzz' || cmd === 'calibrate') return toolMain(cmd, rest);
  if (cmd !== 'run') {
    process.stderr.write(`rxsmp: unknown command '${cmd}'; try 'rxsmp run --help'\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let args: CliArgs;
  try {
    args = parseRunArgs(rest);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`rxsmp: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const intr = interruptOnSignals('the traffic, draining what is in flight');
  const live = liveProgress(args.progress, args.json);
  try {
    const opts = { signal: intr.signal, progress: live.progress };
    const result = await (args.cfg.mode === 'sim' ? runSim(args.cfg, opts) : runEmulation(args.cfg, opts));
    live.clear();
    process.stdout.write(args.json ? JSON.stringify(result, null, 2) + '\n' : humanSummary(result) + simSummary(result) + '\n');
    const missed = knobsNotApplied(result);
    if (missed !== null) process.stderr.write(`rxsmp: ${missed}\n`);
    return result.interrupted ? intr.exitCode() || EXIT_SIGINT : 0;
  } catch (e) {
    live.clear();
    if (e instanceof ConfigError) {
      process.stderr.write(`rxsmp: ${e.message}\n`); // e.g. a bad --cost-model file
      return 2;
    }
    if (e instanceof WatchdogError) {
      process.stderr.write(`rxsmp: ${e.message}\n`);
      return 3;
    }
    throw e;
  } finally {
    intr.dispose();
  }
}
