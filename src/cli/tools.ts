// The `fuzz` and `calibrate` commands (the `run` command is cli/run.ts). Same tokenizer and
// conventions (cli/args.ts): a user mistake is one line on stderr and exit status 2.

import { checkOutputFile, OutputError, stdoutFailed, takeOutputFailures, writeOutputFile } from '../host/files.js';
import { clipPath, ConfigError, int, onOff, path } from '../config/schema.js';
import { fuzzHeader, fuzzSummary, runFuzz } from '../engine/fuzz.js';
import { calibrateMain } from '../engine/calibrate.js';
import { InterruptedError, WatchdogError } from '../engine/run.js';
import { AssertionFailure, EXIT_ASSERTION } from '../shm/assert.js';
import { interruptOnSignals } from './live.js';
import { FUZZ_QUEUE, queuedOptions, queueTrouble } from './queue.js';
import { option, optionValue, tokenize, type OptionSpec } from './args.js';

/** --force: the one option that lets a command replace an existing output file. */
export const FORCE_OPTION = option(
  'force',
  onOff(),
  'replace output files that exist (otherwise an existing file is an error; see docs/cli.md, Files)',
  false,
);

export const FUZZ = {
  runs: option('runs', int(1, 10_000_000), 'runs in the campaign', 1000),
  seed: option('seed', int(0, 0xffff_ffff), 'run i uses seed S + i', 1),
  seeds_per_config: option('seeds-per-config', int(1, 1_000_000), 'K runs (seeds) per random configuration', 1),
  workers: option<number>('workers', int(0, 256), 'pool threads (0: one per host core)', 0),
  unsafe: option(
    'unsafe-rfs-no-qtail-check',
    onOff(),
    "every run with RFS's last_qtail check off (UNSAFE, not in Linux: finds reordering)",
    false,
  ),
  shrink: option('shrink', onOff(), 'shrink a failing configuration (--no-shrink: do not)', true),
  keep_going: option('keep-going', onOff(), 'go on past a failure: judge every run, report (and shrink) every failure', false),
};
export const CAL = {
  out: option('out', path(), 'the cost model file to write (checked before measuring)', 'rxsmp-cost.json'),
  packets: option('packets', int(10_000, 100_000_000), 'packets per calibration run', 1_000_000),
};
/** fuzz --help's paragraph (its synopsis and options come from its row in COMMANDS, cli/main.ts). */
export const FUZZ_ABOUT = `Random configurations x seeds in --mode sim on a piscina pool; each run is checked for
conservation, per-flow order where Linux guarantees it, progress and kernel assertions.
The first failure prints the command that reproduces it (it exits 1 when it reproduces),
then a shrunk one. Exit 1 on failure. With --queue, the campaign's jobs (--chunk runs each)
go to Redis and \`rxsmp worker\`s run them; the lines printed are the same, and in sim mode
so are the runs (docs/campaigns.md).`;

export const CAL_ABOUT = `Measures the sim cost model (virtual ns per stage) in threads mode on this machine and writes
it as JSON; pass it back with --mode sim --cost-model FILE.`;

/**
 * After a command printed its result: do each of its remaining writes (a report, /proc
 * files) and say every output that failed, now or during the work (a --tap that filled the
 * disk, a profile), as one line on stderr. The exit status is 2 if any failed (stdout too),
 * else `status`.
 */
export function writeOutputs(status: number, writes: readonly (() => void)[] = []): number {
  const failed: OutputError[] = [];
  for (const w of writes) {
    try {
      w();
    } catch (e) {
      if (!(e instanceof OutputError)) throw e;
      failed.push(e);
    }
  }
  failed.push(...takeOutputFailures());
  for (const e of failed) process.stderr.write(`rxsmp: ${e.message}\n`);
  return failed.length > 0 || stdoutFailed() ? 2 : status;
}

/** fuzz and calibrate on their arguments; `specs`: the command's options (commandOptions of its row). */
export async function toolMain(cmd: 'fuzz' | 'calibrate', argv: string[], specs: readonly OptionSpec[]): Promise<number> {
  const log = (s: string) => process.stdout.write(s + '\n');
  const intr = interruptOnSignals(cmd === 'fuzz' ? 'the campaign, reporting the runs judged so far' : 'the measurement, writing nothing');
  try {
    if (cmd === 'fuzz') {
      const given = tokenize('fuzz', specs, argv);
      const o = {
        runs: optionValue(FUZZ.runs, given),
        seed: optionValue(FUZZ.seed, given),
        seeds_per_config: optionValue(FUZZ.seeds_per_config, given),
        workers: optionValue(FUZZ.workers, given),
        unsafe: optionValue(FUZZ.unsafe, given),
        shrink: optionValue(FUZZ.shrink, given),
        keep_going: optionValue(FUZZ.keep_going, given),
        log,
      };
      const q = queuedOptions(given, FUZZ_QUEUE, log, intr.signal);
      const chunk = optionValue(FUZZ_QUEUE.chunk, given);
      if (q === undefined) {
        log(fuzzHeader(o));
        const r = await runFuzz({ ...o, signal: intr.signal });
        log(fuzzSummary(r, o.runs));
        return r.failure ? 1 : r.interrupted ? intr.exitCode() : 0;
      }
      const { queuedFuzz } = await import('../queue/campaigns.js'); // BullMQ loads only for --queue
      const r = await queuedFuzz(o, chunk, q); // the header once the queue answered: a bad queue is one line on stderr
      log(fuzzSummary(r, o.runs));
      return r.failure ? 1 : (queueTrouble('fuzz', r.name, r.producer) ?? (r.interrupted ? intr.exitCode() : 0));
    }
    const given = tokenize('calibrate', specs, argv);
    const out = optionValue(CAL.out, given);
    const packets = optionValue(CAL.packets, given);
    checkOutputFile('--out', out, { force: optionValue(FORCE_OPTION, given) });
    const model = await calibrateMain(packets, log, intr.signal);
    return writeOutputs(0, [
      () => {
        writeOutputFile('--out', out, JSON.stringify(model, null, 2) + '\n');
        log(`calibrate: wrote ${clipPath(out, 80)}; use it with --mode sim --cost-model ${clipPath(out, 80)}`);
      },
    ]);
  } catch (e) {
    return exitStatusOf(e, cmd, intr.exitCode);
  } finally {
    intr.dispose();
  }
}

/**
 * How a command ends on an error a user can cause: one line on stderr and its exit status
 * (2 bad input, 3 the watchdog, the signal's status for an interrupted calibrate). Anything
 * else is a bug and is rethrown. `cmd` prefixes the line for the subcommands.
 */
export function exitStatusOf(e: unknown, cmd?: string, interrupted?: () => number): number {
  const prefix = cmd === undefined ? 'rxsmp: ' : `rxsmp: ${cmd}: `;
  if (e instanceof ConfigError) {
    process.stderr.write(`rxsmp: ${e.message}\n`);
    return 2;
  }
  if (e instanceof WatchdogError) {
    process.stderr.write(`${prefix}${e.message}\n`);
    return 3;
  }
  if (e instanceof AssertionFailure) {
    process.stderr.write(`${prefix}${e.message}\n`); // one line: what broke, where, which side
    return EXIT_ASSERTION;
  }
  if (e instanceof InterruptedError && interrupted !== undefined) {
    process.stderr.write(`${prefix}interrupted (${e.message}); nothing written\n`);
    return interrupted();
  }
  throw e;
}
