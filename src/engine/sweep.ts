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
import { clip, ConfigError, optionName, parseKnob, readSettingsFile, show, type Config, type RawSettings } from '../config.js';
import type { RunResult } from './result.js';
import { runEmulation, WatchdogError } from './run.js';
import { AppendFile, named, OutputError, readInputText, writeOutputFile } from '../host/files.js';
import { parseAssignment, settingsFromNamed, variantConfig, variantLabel, type Assignment } from './variants.js';

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
    const variant = axes.map((a) => ({ key: a.key, text: cell[axisName(a)]! }));
    const cfg = variantConfig(base, variant, `sweep cell ${variantLabel(variant)}`);
    mode = cfg.mode;
    for (let r = 0; r < repeat; r++) {
      const index = c * repeat + r;
      if (shard !== undefined && index % shard.count !== shard.index - 1) continue;
      tasks.push({ index, cell, repeat: r, cfg: axes.some((a) => a.key === 'seed') ? cfg : { ...cfg, seed: (cfg.seed + r) >>> 0 } });
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
  /** Sim mode: pool threads (0: one per host core). */
  workers?: number;
  /** An existing output that is not a sweep file is replaced (--force); otherwise it is an error. */
  force?: boolean;
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

/**
 * What a pool thread answers: the run's document, or the sim watchdog's message (exit 3 here),
 * or the line of an output the run could not write (its --tap; exit 2).
 */
export type PoolAnswer = { result: RunResult } | { watchdog: string } | { output: string };

function fromPool(a: PoolAnswer): RunResult {
  if ('watchdog' in a) throw new WatchdogError(a.watchdog);
  if ('output' in a) throw new OutputError(a.output);
  return a.result;
}

const POOL_WORKER = new URL('../../workers/sweep_worker.js', import.meta.url);

/**
 * Run a checked plan into `out` (JSON Lines, appended). Lines already there are skipped; a
 * line cut short by an earlier interruption is removed first. Interrupted: the run in progress
 * is not written (resume makes it), the lines written stay.
 */
export async function runSweep(plan: SweepPlan, out: string, o: SweepOptions = {}): Promise<SweepReport> {
  const done = new Set<string>();
  if (existsSync(out)) {
    let prev: ReturnType<typeof readSweepLines> | null = null;
    try {
      prev = readSweepLines('--out', out);
    } catch (e) {
      // Not a sweep file: not this command's own, replaced only with --force.
      if (!(e instanceof NotSweepFile)) throw e;
      if (o.force !== true) throw new ConfigError(`${e.message}; give --force to replace it`);
      writeOutputFile('--out', out, '');
    }
    for (const l of prev?.lines ?? []) done.add(cellKey(l.cell, l.repeat));
    if (prev?.torn) writeOutputFile('--out', out, prev.texts.map((t) => t + '\n').join(''));
  }
  const todo = plan.tasks.filter((t) => !done.has(cellKey(t.cell, t.repeat)));
  const skipped = plan.tasks.length - todo.length;
  let written = 0;
  const file = new AppendFile('--out', out);
  const write = (t: SweepTask, r: RunResult) => {
    const line: SweepLine = { ...r, cell: t.cell, repeat: t.repeat };
    file.append(JSON.stringify(line) + '\n'); // an OutputError stops the sweep: the lines before it stay
    written++;
    o.onRun?.(t, r, written, todo.length);
  };
  try {
    await runTasks(plan, todo, write, o);
  } finally {
    file.close();
  }
  return { skipped, written, left: todo.length - written, interrupted: o.signal?.aborted === true };
}

/** Run the tasks (threads mode one at a time, sim mode on a pool), each written as it ends. */
async function runTasks(plan: SweepPlan, todo: SweepTask[], write: (t: SweepTask, r: RunResult) => void, o: SweepOptions): Promise<void> {
  if (plan.mode === 'threads') {
    // Strictly one run at a time: each run's CPU threads want the host's cores to themselves.
    for (const t of todo) {
      if (o.signal?.aborted) break;
      const r = await runEmulation(t.cfg, { signal: o.signal });
      if (r.interrupted) break;
      write(t, r);
    }
  } else {
    const threads = o.workers !== undefined && o.workers > 0 ? o.workers : availableParallelism();
    const pool = new Piscina<Config, PoolAnswer>({ filename: POOL_WORKER.href, minThreads: 1, maxThreads: threads, idleTimeout: 1000 });
    try {
      let next = 0;
      const lane = async () => {
        while (next < todo.length && !o.signal?.aborted) {
          const t = todo[next++]!;
          write(t, fromPool(await pool.run(t.cfg)));
        }
      };
      await Promise.all(Array.from({ length: Math.min(threads, todo.length) }, lane));
    } finally {
      await pool.destroy();
    }
  }
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
        texts.push(t[i]!);
      }
    });
  }
  return { texts, duplicates };
}
