// The commands that compare runs: `compare` (A against B, paired), `sweep` (a matrix into JSON
// Lines), `merge` (join sweep files) and `report` (an HTML page of charts). Same tokenizer and
// conventions as `run` (cli/args.ts): options of run name the knobs; a user mistake is one line
// on stderr and exit status 2 before any run starts; SIGINT keeps what was made and exits 130.

import { settingFromFlag, type RawSettings } from '../config/resolve.js';
import { clip, clipPath, ConfigError, escapeControls, int, path, type Config, type Kind } from '../config/schema.js';
import { HELP_OPTION, option, optionValue, tokenize, type Given, type OptionSpec } from './args.js';
import { exitStatusOf, FORCE_OPTION, writeOutputs } from './tools.js';
import { checkOutputFile, writeOutputFile } from '../host/files.js';
import { interruptOnSignals } from './live.js';
import { compareSummary, planCompare, runCompare } from '../engine/compare.js';
import {
  mergeSweepFiles,
  parseSetOption,
  parseShard,
  planSweep,
  readSweepFile,
  readSweepLines,
  runSweep,
  type SweepAxis,
  type SweepLine,
  type SweepTask,
} from '../engine/sweep.js';
import type { RunResult } from '../engine/result.js';
import { QUEUE, queuedOptions, queueTrouble, shardFromEnv } from './queue.js';
import { parseAssignment, spread } from '../engine/variants.js';
import { readReportInput, reportOf } from '../report/html.js';
import { commandLine } from '../report/human.js';
import { count, duration } from '../lib/units.js';
import { textTable } from '../lib/text_table.js';
import { onOff } from '../config/schema.js';

/** `knob=value`, repeatable (a repeated flag adds an item; items are checked by parseAssignment). */
const assignments = (expected: string, metavar: string): Kind<string> => ({ ...path(), expected, metavar, list: ';' });

export const COMPARE = {
  help: HELP_OPTION,
  a: {
    ...option<string>('a', assignments('knob=value, e.g. rps-cpus=0 (repeat --a for more knobs)', 'KNOB=VALUE'), "side A's options"),
    required: true,
  },
  b: {
    ...option<string>('b', assignments('knob=value, e.g. rps-cpus=3 (repeat --b for more knobs)', 'KNOB=VALUE'), "side B's options"),
    required: true,
  },
  repeat: option('repeat', int(1, 1000), 'pairs of runs (A and B with one seed each)', 5),
  json: option('json', onOff(), 'print one JSON document (schema rxsmp.compare/1) with every run document', false),
  report: option<string>('report', path(), 'also write an HTML report with charts to FILE'),
  force: FORCE_OPTION,
};

/** Sweep's default --packets: 18 threads-mode runs (RPS off/on x 3 stack costs x 3 repeats) take about 40 s on this 2-core machine when it is quiet, so a loaded one still stays under 4 minutes; shorter runs measure the JIT's warm-up more. */
export const SWEEP_PACKETS_DEFAULT = 500_000;

export const SWEEP = {
  help: HELP_OPTION,
  set: option<string>(
    'set',
    assignments('knob=v1,v2,... e.g. rps-cpus=0,3 (repeat --set for more axes)', 'KNOB=V1,V2'),
    'an axis of the matrix: the knob and its values (comma-separated)',
  ),
  file: option<string>('file', path(), 'read the matrix from a JSON file: {"set": {knob: [values]}, "options": {...}, "repeat": N}'),
  repeat: option<number>('repeat', int(1, 1000), 'runs per cell (repeat r uses --seed + r in every cell)', 3),
  out: option('out', path(), 'the JSON Lines file: appended to; cells already in it are skipped (resume)', 'rxsmp-sweep.jsonl'),
  shard: option<string>(
    'shard',
    { ...path(), expected: 'i/n, e.g. 1/2, or auto', metavar: 'I/N|auto' },
    'run only the i-th of n slices of the runs; auto: from a Kubernetes Indexed Job, a Slurm array or a CI matrix',
  ),
  workers: option('workers', int(0, 256), 'sim mode: pool threads (0: one per host core); threads mode runs one at a time', 0),
  force: FORCE_OPTION,
};

export const MERGE = {
  help: HELP_OPTION,
  out: option<string>('out', path(), 'write the joined JSON Lines here (default: stdout)'),
  force: FORCE_OPTION,
};
export const REPORT = { help: HELP_OPTION, out: option('out', path(), 'the HTML file to write', 'rxsmp-report.html'), force: FORCE_OPTION };

// Each command's --help paragraph; its synopsis and options come from its row in COMMANDS (cli/main.ts).

export const COMPARE_ABOUT = `Runs two configurations that differ in the options --a and --b name (e.g. --a rps-cpus=0
--b rps-cpus=3), --repeat pairs, interleaved: pair i runs A then B (B then A when i is odd),
both with seed --seed + i. Prints each side's median pps, min..max and IQR, drops and the
runs the host disturbed, and the B/A ratio with its spread over the pairs. The other options
are run's, shared by both sides. All configurations are checked before the first run.
SIGINT: the figures cover the pairs completed; exit 130.`;

export const SWEEP_ABOUT = `Runs every cell of a matrix (--set knob=v1,v2 per axis, or --file) --repeat times and appends
one line per run to --out (JSON Lines): the run's rxsmp.run/1 document with "cell" (option ->
value) and "repeat". Threads mode runs strictly one run at a time (a run's CPUs want the
host's cores; this machine has few); --mode sim runs in parallel on a piscina pool. Cells
already in --out are skipped, so the same command resumes an interrupted sweep. --shard i/n
runs runs i-1, i-1+n, ... of the list (--shard auto reads i and n from a Kubernetes Indexed
Job, a Slurm array or a CI matrix); rxsmp merge joins the shards' files. With --queue, one job
per run goes to Redis for \`rxsmp worker\`s, and the lines come back into --out as a local sweep
writes them (docs/campaigns.md); --shard and --queue do not go together. Without --packets,
each run generates ${SWEEP_PACKETS_DEFAULT} packets. SIGINT: the lines written stay; exit 130.`;

export const MERGE_ABOUT = `Joins sweep files (JSON Lines from rxsmp sweep, e.g. one per --shard) into one, keeping one
line per cell and repeat (the first file's when two have it).`;

export const REPORT_ABOUT = `Writes one self-contained HTML page (the charting library inlined; no network needed to view
it) from run documents (run --json), comparisons (compare --json) and sweep files: pps
against the swept setting with its spread, per-CPU softnet counters, contention, latency
percentiles, and the timeline of a run that has one.`;

/** The --tap files of the runs a command will make: each checked (an existing one needs --force). */
function checkTaps(cfgs: readonly Config[], force: boolean): void {
  for (const tap of new Set(cfgs.map((c) => c.tap))) if (tap !== '') checkOutputFile('--tap', tap, { force });
}

/** Run options given to compare or sweep (every flag that is not the command's own), as settings. */
function baseSettings(given: Given, own: Record<string, OptionSpec>, into: RawSettings = new Map()): RawSettings {
  const mine = new Set(Object.values(own).map((o) => o.flag));
  for (const [flag, text] of given) if (!mine.has(flag)) settingFromFlag(flag, text, into);
  return into;
}

const items = (text: string | undefined) => (text === undefined ? [] : text.split(';').filter((s) => s.trim() !== ''));

/** Split FILE arguments from options (merge, report: their only option with a value is --out). */
function filesAndOptions(argv: string[]): { files: string[]; rest: string[] } {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') {
      rest.push(a);
      if (i + 1 < argv.length) rest.push(argv[++i]);
    } else if (a.startsWith('-') && a !== '-') rest.push(a);
    else files.push(a);
  }
  return { files, rest };
}

const log = (s: string) => process.stderr.write(s + '\n');
const fmt = count;

async function compareMain(argv: string[], specs: readonly OptionSpec[]): Promise<number> {
  const command = commandLine(['rxsmp', 'compare', ...argv]);
  const given = tokenize('compare', specs, argv);
  const a = items(given.get('a')).map((s) => parseAssignment('--a', s));
  const b = items(given.get('b')).map((s) => parseAssignment('--b', s));
  const plan = planCompare(baseSettings(given, COMPARE), a, b, optionValue(COMPARE.repeat, given));
  const json = optionValue(COMPARE.json, given);
  const report = given.get('report');
  const force = optionValue(COMPARE.force, given);
  if (report !== undefined) checkOutputFile('--report', report, { force });
  checkTaps([plan.cfgA, plan.cfgB], force);
  const intr = interruptOnSignals('the comparison, keeping the pairs completed');
  try {
    const c = await runCompare(plan, {
      signal: intr.signal,
      onRun: (side, i, r) => log(`compare: pair ${i + 1}/${plan.repeat} ${side.toUpperCase()}: ${fmt(r.pps)} pps, seed ${r.config.seed}`),
    });
    c.command = command;
    process.stdout.write((json ? JSON.stringify(c, null, 2) : compareSummary(c)) + '\n');
    const writeReport = () => {
      writeOutputFile('--report', report!, reportOf([{ source: 'rxsmp compare', docs: [c] }], command));
      log(`compare: report written to ${clipPath(report!, 80)}`);
    };
    return writeOutputs(c.interrupted ? intr.exitCode() || 130 : 0, report !== undefined && c.pairs > 0 ? [writeReport] : []);
  } finally {
    intr.dispose();
  }
}

async function sweepMain(argv: string[], specs: readonly OptionSpec[]): Promise<number> {
  const given = tokenize('sweep', specs, argv);
  const axes: SweepAxis[] = [];
  let base: RawSettings = new Map();
  let repeat = optionValue(SWEEP.repeat, given);
  const file = given.get('file');
  if (file !== undefined) {
    const f = readSweepFile(file);
    axes.push(...f.axes);
    base = f.base;
    if (f.repeat !== undefined && !given.has('repeat')) repeat = f.repeat;
  }
  axes.push(...items(given.get('set')).map(parseSetOption));
  baseSettings(given, { ...SWEEP, ...QUEUE }, base);
  if (!base.has('packets') && !axes.some((x) => x.key === 'packets')) base.set('packets', String(SWEEP_PACKETS_DEFAULT));
  const shardText = given.get('shard');
  if (shardText !== undefined && given.has('queue'))
    throw new ConfigError('--shard: a queued sweep (--queue) is not sharded; its workers share it');
  const shard = shardText === undefined ? undefined : shardText.trim() === 'auto' ? shardFromEnv() : parseShard(shardText);
  const plan = planSweep(base, axes, repeat, shard);
  const out = optionValue(SWEEP.out, given);
  const force = optionValue(SWEEP.force, given);
  // Its own file (a sweep file it appends to) needs no --force; that is checked as it is read.
  checkOutputFile('--out', out, { force: true, regular: 'a sweep file is read back (to resume, for the table)' });
  checkTaps(
    plan.tasks.map((t) => t.cfg),
    force,
  );
  const intr = interruptOnSignals('the sweep, keeping the lines written');
  const q = queuedOptions(given, QUEUE, log, intr.signal);
  const t0 = performance.now();
  try {
    const command = commandLine(['rxsmp', 'sweep', ...argv]);
    const header = () =>
      log(
        `sweep: ${plan.cells} cells x ${plan.repeat} repeats${shard ? `, shard ${shard.index}/${shard.count}: ${plan.tasks.length} runs` : ''}, ` +
          `${q ? 'on the queue' : plan.mode === 'threads' ? 'threads mode, one run at a time' : 'sim mode on a pool'}, into ${clipPath(out, 80)}` +
          (shard && 'from' in shard ? ` (--shard auto: ${shard.from})` : ''),
      );
    const onRun = (t: SweepTask, res: RunResult, done: number, todo: number) =>
      log(
        `sweep: ${done}/${todo} ${Object.entries(t.cell)
          .map(([k, v]) => `${k}=${clip(v, 40)}`)
          .join(' ')} repeat ${t.repeat}: ${fmt(res.pps)} pps`,
      );
    if (q === undefined) header();
    const queued =
      q === undefined
        ? undefined
        : await (await import('../queue/campaigns.js')).queuedSweep(plan, out, { ...q, command, force, header, onRun });
    const r =
      queued ?? (await runSweep(plan, out, { command, force, workers: optionValue(SWEEP.workers, given), signal: intr.signal, onRun }));
    log(
      `sweep: ${r.written} runs written${r.skipped > 0 ? `, ${r.skipped} already in ${clipPath(out, 80)}` : ''}` +
        (r.interrupted ? `, ${r.left} left (run the same command again to resume)` : '') +
        `, ${duration((performance.now() - t0) * 1e6)}`,
    );
    process.stdout.write(sweepTable(out) + '\n');
    const trouble = queued === undefined ? undefined : queueTrouble('sweep', queued.name, queued.producer);
    return trouble ?? writeOutputs(r.interrupted ? intr.exitCode() || 130 : 0);
  } finally {
    intr.dispose();
  }
}

/** Per cell of the output file (this run's and earlier ones'): runs, median pps, min..max, drops. */
function sweepTable(out: string): string {
  const lines = readSweepLines('--out', out).lines;
  const cells = new Map<string, SweepLine[]>();
  for (const l of lines) {
    const k = Object.entries(l.cell)
      .map(([n, v]) => `${n}=${escapeControls(v)}`)
      .join(' ');
    (cells.get(k) ?? cells.set(k, []).get(k)!).push(l);
  }
  const width = Math.max(4, ...[...cells.keys()].map((k) => k.length));
  const rows = [...cells].map(([k, ls]) => ({
    k,
    runs: ls.length,
    s: spread(ls.map((l) => l.pps)),
    drops: ls.reduce((n, l) => n + Object.values(l.packets.dropped).reduce((a, b) => a + b, 0), 0),
  }));
  return textTable<(typeof rows)[number]>(
    [
      { head: 'cell', width, left: true, cell: (r) => r.k },
      { head: 'runs', width: 4, cell: (r) => String(r.runs) },
      { head: 'median pps', width: 12, cell: (r) => fmt(r.s.median) },
      { head: 'min..max', width: 24, cell: (r) => `${fmt(r.s.min)}..${fmt(r.s.max)}` },
      { head: 'drops', width: 10, cell: (r) => fmt(r.drops) },
    ],
    rows,
    '  ',
  );
}

function mergeMain(argv: string[], specs: readonly OptionSpec[]): number {
  const { files, rest } = filesAndOptions(argv);
  const given = tokenize('merge', specs, rest);
  if (files.length === 0) throw new ConfigError('merge: name the sweep files to join (rxsmp merge A.jsonl B.jsonl --out ALL.jsonl)');
  const out = given.get('out');
  if (out !== undefined) checkOutputFile('--out', out, { force: optionValue(MERGE.force, given) });
  const m = mergeSweepFiles(files);
  if (m.texts.length === 0)
    throw new ConfigError(`merge: no runs in ${files.length === 1 ? 'the file' : `the ${files.length} files`}; nothing written`);
  const text = m.texts.map((t) => t + '\n').join('');
  if (out === undefined) process.stdout.write(text);
  else writeOutputFile('--out', out, text);
  log(`merge: ${m.texts.length} lines from ${files.length} files${m.duplicates > 0 ? `, ${m.duplicates} duplicates left out` : ''}`);
  return writeOutputs(0);
}

function reportMain(argv: string[], specs: readonly OptionSpec[]): number {
  const { files, rest } = filesAndOptions(argv);
  const given = tokenize('report', specs, rest);
  if (files.length === 0) throw new ConfigError('report: name the files (run --json, compare --json, sweep JSON Lines) to draw');
  const out = optionValue(REPORT.out, given);
  checkOutputFile('--out', out, { force: optionValue(REPORT.force, given) });
  const inputs = files.map((f) => ({ source: f, docs: readReportInput(f) }));
  writeOutputFile('--out', out, reportOf(inputs, commandLine(['rxsmp', 'report', ...argv])));
  log(`report: ${count(inputs.reduce((n, i) => n + i.docs.length, 0))} documents drawn into ${clipPath(out, 80)}`);
  return writeOutputs(0);
}

export type CompareCommand = 'compare' | 'sweep' | 'merge' | 'report';

/** compare, sweep, merge and report on their arguments; `specs`: the command's options (commandOptions of its row). */
export async function compareCommandMain(cmd: CompareCommand, argv: string[], specs: readonly OptionSpec[]): Promise<number> {
  try {
    if (cmd === 'compare') return await compareMain(argv, specs);
    if (cmd === 'sweep') return await sweepMain(argv, specs);
    if (cmd === 'merge') return mergeMain(argv, specs);
    return reportMain(argv, specs);
  } catch (e) {
    return exitStatusOf(e, cmd);
  }
}
