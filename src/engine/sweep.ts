// `rxsmp sweep` and `rxsmp merge`: a matrix of configurations (axes from --set knob=v1,v2 or a
// file), each cell run --repeat times, written as JSON Lines: one run contract document per
// line with its `cell` ({ option: value as given }) and `repeat` (0-based). Threads mode runs
// strictly one run at a time (a run's rate is the host's cores; two at once would share 2
// cores); sim mode runs on a piscina pool. `--shard i/n` runs tasks i-1, i-1+n, ... of the
// whole list (cells × repeats in order), so n machines cover it; a cell+repeat already in the
// output file is skipped (resume), and merge joins files keeping one line per cell+repeat.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { readSettingsFile } from '../host/settings_file.js';
import { settingsFromObject, type RawSettings } from '../config/resolve.js';
import { clip, ConfigError, optionName, parseKnob, type Config, type KnobKey, show } from '../config/schema.js';
import { resolveConfig } from './configure.js';
import { AppendFile, named, OutputError, readInputText, writeOutputFile } from '../host/files.js';
import type { RunResult } from './result.js';
import { runEmulation, WatchdogError } from './run.js';
import { parseAssignment, settingsFromNamed, variantConfig, variantLabel, type Assignment } from './variants.js';
import { WORKERS_DIR } from '../paths.js';

/** One axis of the matrix: a knob and the values (text as given) it takes. */
export interface SweepAxis {
  key: Assignment['key'];
  values: string[];
}

/** A cell: option name (kebab case) → value as given, in the axes' order. */
export type Cell = Record<string, string>;

/** A line of the output: a run contract document with its cell and repeat. */
export type SweepLine = RunResult & { cell: Cell; repeat: number };

export interface SweepTask {
  /** Index in the whole list (cells × repeats, cell-major): what --shard slices. */
  index: number;
  cell: Cell;
  repeat: number;
  cfg: Config;
  /** The options that make cfg, as given (the base's, the cell's, the repeat's seed): what a queued job carries. */
  settings: Record<string, unknown>;
}

export interface Shard {
  index: number; // 1-based
  count: number;
}

export const SWEEP_REPEAT_MAX = 1000;
export const SWEEP_CELLS_MAX = 100_000;

/** `--set knob=v1,v2,...`: one axis. Each value is checked alone here, with the rest in planSweep. */
export function parseSetOption(item: string): SweepAxis {
  const first = parseAssignment('--set', item, false); // the knob name and the whole list
  const values = first.text.split(',').map((s) => s.trim());
  if (values.some((s) => s === '')) throw new ConfigError(`--set ${clip(item)}: an empty value in the list`);
  for (const s of values) parseKnob(first.key, s);
  if (new Set(values).size !== values.length) throw new ConfigError(`--set ${clip(item)}: a value is listed twice`);
  return { key: first.key, values };
}

/** What a sweep file gives: its axes, base options and repeat count (each may be absent). */
export interface SweepFile {
  axes: SweepAxis[];
  base: RawSettings;
  repeat?: number;
}

/**
 * Read a sweep file (`--file`): JSON, or YAML (a name ending .yaml or .yml; scalars as text).
 *   { "set": { "rps-cpus": ["0", "3"], "stack-cost-ns": [0, 1000, 2000] },
 *     "options": { "cpus": 2, "queues": 1 }, "repeat": 3 }
 * A value of "set" is a list of values (JSON values as a config file takes them: a per-queue
 * list of rps_cpus is ["0,1", "3,3"]). Throws ConfigError naming the file and key.
 */
export function readSweepFile(file: string): SweepFile {
  const obj = readSettingsFile('--file', file);
  const where = named('--file', file);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    throw new ConfigError(`${where}: expected a JSON object with "set" (and optionally "options", "repeat")`);
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['set', 'options', 'repeat'].includes(k))
      throw new ConfigError(`${where}: unknown key '${clip(k, 40)}'; keys are set, options, repeat`);
  const set = o.set;
  if (typeof set !== 'object' || set === null || Array.isArray(set))
    throw new ConfigError(`${where}: "set" must be an object of option name -> list of values`);
  const axes: SweepAxis[] = [];
  for (const [name, list] of Object.entries(set as Record<string, unknown>)) {
    if (!Array.isArray(list) || list.length === 0)
      throw new ConfigError(`${where}: set.${clip(name, 40)}: expected a non-empty list of values`);
    const texts = list.map((x) => (typeof x === 'boolean' ? (x ? 'on' : 'off') : Array.isArray(x) ? x.join(',') : String(x)));
    const a = parseAssignment(`${where}: set`, `${name}=${texts[0]}`, false);
    for (const t of texts) parseKnob(a.key, t);
    axes.push({ key: a.key, values: texts });
  }
  const opts = o.options ?? {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new ConfigError(`${where}: "options" must be an object`);
  const base = settingsFromNamed(`${where}: options`, opts as Record<string, string | number | boolean>);
  // YAML reads every scalar as text: a repeat count may come as digits.
  const r = typeof o.repeat === 'string' && /^[0-9]+$/.test(o.repeat) ? Number(o.repeat) : o.repeat;
  if (r !== undefined && (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > SWEEP_REPEAT_MAX))
    throw new ConfigError(`${where}: "repeat" must be an integer from 1 to ${SWEEP_REPEAT_MAX}`);
  return { axes, base, ...(r === undefined ? {} : { repeat: r as number }) };
}

/** `i/n` with 1 <= i <= n. */
export function parseShard(text: string): Shard {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(text.trim());
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i < 1 || i > n || n > 100_000)
    throw new ConfigError(`--shard: ${show(text)} is not valid; expected i/n with 1 <= i <= n, e.g. 1/2`);
  return { index: i, count: n };
}

const axisName = (a: SweepAxis) => optionName(a.key).slice(2);

/** Every cell of the matrix, the first axis varying slowest. */
export function sweepCells(axes: readonly SweepAxis[]): Cell[] {
  let cells: Cell[] = [{}];
  for (const a of axes) cells = cells.flatMap((c) => a.values.map((v) => ({ ...c, [axisName(a)]: v })));
  return cells;
}

/** A cell+repeat's identity, whatever the order of the cell's keys (resume and merge). */
export function cellKey(cell: Cell, repeat: number): string {
  return JSON.stringify([Object.entries(cell).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), repeat]);
}

export interface SweepPlan {
  axes: SweepAxis[];
  repeat: number;
  cells: number;
  /** This shard's tasks (all of them without --shard), before resume skips any. */
  tasks: SweepTask[];
  mode: Config['mode'];
}

/**
 * Check every cell's whole configuration before any run (a bad cell stops the sweep before it
 * starts, naming the cell). Repeat r runs with the base seed + r, so the cells of one repeat
 * share a seed (paired, as in compare), unless an axis is --seed.
 */
export function planSweep(base: RawSettings, axes: SweepAxis[], repeat: number, shard?: Shard): SweepPlan {
  if (axes.length === 0) throw new ConfigError('sweep: give at least one --set knob=v1,v2,... (or --file)');
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.key)) throw new ConfigError(`--set: ${axisName(a)} is swept twice; give its values in one --set`);
    seen.add(a.key);
    if (base.has(a.key)) throw new ConfigError(`--set ${axisName(a)}: also given as --${axisName(a)}; give it in one place`);
  }
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > SWEEP_REPEAT_MAX)
    throw new ConfigError(`--repeat: ${repeat} is not valid; expected an integer from 1 to ${SWEEP_REPEAT_MAX}`);
  const cells = sweepCells(axes);
  if (cells.length * repeat > SWEEP_CELLS_MAX)
    throw new ConfigError(`sweep: ${cells.length} cells x ${repeat} repeats is more than ${SWEEP_CELLS_MAX} runs`);
  const tasks: SweepTask[] = [];
  let mode: Config['mode'] = 'threads';
  cells.forEach((cell, c) => {
    const variant = axes.map((a) => ({ key: a.key, text: cell[axisName(a)] }));
    const cfg = variantConfig(base, variant, `sweep cell ${variantLabel(variant)}`);
    mode = cfg.mode;
    const given = Object.fromEntries([...base, ...variant.map((a) => [a.key, a.text] as const)]);
    const seeded = axes.some((a) => a.key === 'seed');
    for (let r = 0; r < repeat; r++) {
      const index = c * repeat + r;
      if (shard !== undefined && index % shard.count !== shard.index - 1) continue;
      const seed = seeded ? cfg.seed : (cfg.seed + r) >>> 0;
      tasks.push({ index, cell, repeat: r, cfg: { ...cfg, seed }, settings: { ...given, seed } });
    }
  });
  return { axes, repeat, cells: cells.length, tasks, mode };
}

/** A file that holds a line that is not a sweep line: not a sweep's own file. */
class NotSweepFile extends ConfigError {}

/** A line of a JSON Lines file, if it is one of ours: a run document with a cell and a repeat. */
function parseLine(line: string): SweepLine | null {
  try {
    const o = JSON.parse(line) as SweepLine;
    if (typeof o !== 'object' || o === null || typeof o.schema !== 'string' || !o.schema.startsWith('rxsmp.run/')) return null;
    if (typeof o.cell !== 'object' || o.cell === null || !Number.isInteger(o.repeat)) return null;
    return o;
  } catch {
    return null;
  }
}

/**
 * The sweep lines of a file, and whether it ends in a line cut short (an interrupted write):
 * that last piece is not a line. Any other line that is not a sweep document is an error.
 */
export function readSweepLines(option: string, file: string): { lines: SweepLine[]; texts: string[]; torn: boolean } {
  const text = readInputText(option, file, 'documents');
  const parts = text.split('\n');
  const tail = parts.pop()!; // '' when the file ends with a newline
  const lines: SweepLine[] = [];
  const texts: string[] = [];
  parts.forEach((t, i) => {
    if (t.trim() === '') return;
    const l = parseLine(t);
    if (l === null)
      throw new NotSweepFile(`${named(option, file)}: line ${i + 1} is not a sweep line (a rxsmp.run document with cell and repeat)`);
    lines.push(l);
    texts.push(t);
  });
  const last = tail.trim() === '' ? null : parseLine(tail);
  if (last !== null) {
    lines.push(last);
    texts.push(tail);
  }
  return { lines, texts, torn: tail.trim() !== '' && last === null };
}

export interface SweepOptions {
  /** An existing output that is not a sweep file is replaced (--force); otherwise it is an error. */
  force?: boolean;
  /** The command line that made the sweep: each line records it. */
  command?: string;
  /** Sim mode: pool threads (0: one per host core). */
  workers?: number;
  signal?: AbortSignal;
  /** After each run is written (progress lines). */
  onRun?: (t: SweepTask, r: RunResult, done: number, todo: number) => void;
}

export interface SweepReport {
  /** Runs of this shard already in the output file (resumed past). */
  skipped: number;
  /** Runs made and written now. */
  written: number;
  /** Runs of this shard left undone (interrupted). */
  left: number;
  interrupted: boolean;
}

/** What a pool thread answers: the run's document, or the sim watchdog's message (exit 3 here). */
export type PoolAnswer = { result: RunResult } | { watchdog: string } | { output: string };

export function fromPool(a: PoolAnswer): RunResult {
  if ('watchdog' in a) throw new WatchdogError(a.watchdog);
  if ('output' in a) throw new OutputError(a.output);
  return a.result;
}

/** Options no queued sweep job may carry: each names a file or this machine's cores. */
const HOST_BOUND: Partial<Record<KnobKey, string>> = {
  pcap: 'names a capture file',
  tap: 'names a file to write',
  cost_model: 'names a cost model file',
  host_cpus: "pins threads to one machine's cores",
};

/**
 * The configuration of a sweep task from its options as given (SweepTask.settings): checked by
 * the schema exactly as a config file's, then resolved. Options that name a file or a host's
 * cores are refused first, so nothing read here touches the file system. A queue worker checks
 * every job with it (a job carries nothing else), and the producer checks its own jobs with it
 * before enqueueing. Throws ConfigError starting with `where`.
 */
export function sweepTaskConfig(settings: unknown, where: string): Config {
  const raw: RawSettings = new Map();
  settingsFromObject(settings, where, raw);
  for (const [key, why] of Object.entries(HOST_BOUND) as [KnobKey, string][]) {
    const v = raw.get(key);
    if (v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0))
      throw new ConfigError(`${where}: ${optionName(key)} ${why}; a queued sweep runs on other machines (leave it out)`);
  }
  try {
    return resolveConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${where}: ${e.message}`);
    throw e;
  }
}

const POOL_WORKER = new URL('sweep_worker.js', WORKERS_DIR);

/**
 * Runs sweep tasks on this machine, for a local sweep and a queue worker alike: threads mode
 * strictly alone (a run's CPU threads want the host's cores to themselves; sim runs wait), sim
 * mode on a piscina pool of `threads` threads.
 */
export class SweepRunner {
  readonly threads: number;
  private pool: Piscina<Config, PoolAnswer> | null = null;
  private shared = 0;
  private exclusive = false;
  private exclusiveWaiting = 0;
  private waiters: (() => void)[] = [];

  constructor(workers = 0) {
    this.threads = workers > 0 ? workers : availableParallelism();
  }

  /** One run: its document, or WatchdogError; a threads-mode run stopped by `signal` is marked interrupted. */
  async run(cfg: Config, signal?: AbortSignal): Promise<RunResult> {
    const alone = cfg.mode === 'threads';
    await this.enter(alone);
    try {
      if (alone) return await runEmulation(cfg, { signal });
      this.pool ??= new Piscina<Config, PoolAnswer>({
        filename: POOL_WORKER.href,
        minThreads: 1,
        maxThreads: this.threads,
        idleTimeout: 1000,
      });
      return fromPool(await this.pool.run(cfg));
    } finally {
      this.leave(alone);
    }
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
  }

  // A readers-writer gate: threads-mode runs are writers, and a waiting writer holds new readers back.
  private async enter(alone: boolean): Promise<void> {
    if (alone) this.exclusiveWaiting++;
    while (this.exclusive || (alone ? this.shared > 0 : this.exclusiveWaiting > 0)) await new Promise<void>((r) => this.waiters.push(r));
    if (alone) {
      this.exclusiveWaiting--;
      this.exclusive = true;
    } else this.shared++;
  }

  private leave(alone: boolean): void {
    if (alone) this.exclusive = false;
    else this.shared--;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * The tasks of a plan not yet in `out` (resume): a line cut short by an earlier interruption is
 * removed first. Local and queued sweeps resume by the same rule.
 */
export function sweepTodo(plan: SweepPlan, out: string, force = false): { todo: SweepTask[]; skipped: number } {
  const done = new Set<string>();
  if (existsSync(out)) {
    let prev: ReturnType<typeof readSweepLines> | null = null;
    try {
      prev = readSweepLines('--out', out);
    } catch (e) {
      // Not a sweep file: not this command's own, replaced only with --force.
      if (!(e instanceof NotSweepFile)) throw e;
      if (!force) throw new ConfigError(`${e.message}; give --force to replace it`);
      writeOutputFile('--out', out, '');
    }
    for (const l of prev?.lines ?? []) done.add(cellKey(l.cell, l.repeat));
    if (prev?.torn) writeOutputFile('--out', out, prev.texts.map((t) => t + '\n').join(''));
  }
  const todo = plan.tasks.filter((t) => !done.has(cellKey(t.cell, t.repeat)));
  return { todo, skipped: plan.tasks.length - todo.length };
}

/** Append a task's run to the sweep file as a line (whole, or not at all: an OutputError stops the sweep, the lines before it stay). */
export function writeSweepLine(file: AppendFile, t: SweepTask, r: RunResult, command?: string): void {
  const line: SweepLine = { ...r, ...(command !== undefined ? { command } : {}), cell: t.cell, repeat: t.repeat };
  file.append(JSON.stringify(line) + '\n');
}

/**
 * Run a checked plan into `out` (JSON Lines, appended). Lines already there are skipped; a
 * line cut short by an earlier interruption is removed first. Interrupted: the run in progress
 * is not written (resume makes it), the lines written stay.
 */
export async function runSweep(plan: SweepPlan, out: string, o: SweepOptions = {}): Promise<SweepReport> {
  const { todo, skipped } = sweepTodo(plan, out, o.force);
  let written = 0;
  const runner = new SweepRunner(o.workers);
  const file = new AppendFile('--out', out);
  try {
    let next = 0;
    const lane = async () => {
      while (next < todo.length && !o.signal?.aborted) {
        const t = todo[next++];
        const r = await runner.run(t.cfg, o.signal);
        if (r.interrupted) break;
        writeSweepLine(file, t, r, o.command);
        written++;
        o.onRun?.(t, r, written, todo.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.mode === 'threads' ? 1 : runner.threads, todo.length) }, lane));
  } finally {
    file.close();
    await runner.destroy();
  }
  return { skipped, written, left: todo.length - written, interrupted: o.signal?.aborted === true };
}

/** Join sweep files: one line per cell+repeat (the first file that has it wins), in the order read. */
export function mergeSweepFiles(files: readonly string[]): { texts: string[]; duplicates: number } {
  const seen = new Set<string>();
  const texts: string[] = [];
  let duplicates = 0;
  for (const f of files) {
    const { lines, texts: t } = readSweepLines('merge:', f);
    lines.forEach((l, i) => {
      const k = cellKey(l.cell, l.repeat);
      if (seen.has(k)) duplicates++;
      else {
        seen.add(k);
        texts.push(t[i]);
      }
    });
  }
  return { texts, duplicates };
}
