// What a command does while it runs, for the user at the terminal: SIGINT/SIGTERM stop it
// cleanly (the run reports what it has), and a live progress line on stderr.

import type { Progress } from '../engine/progress.js';
import { progressLine } from '../engine/progress.js';

/** The exit status of a command cut by a signal: 128 + its number (SIGINT 2, SIGTERM 15). */
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

export interface Interrupt {
  /** Aborted at the first SIGINT or SIGTERM; its reason is the signal's name. */
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM, 0 when no signal came. */
  exitCode(): number;
  /** Stop listening (the default handlers are back). */
  dispose(): void;
}

/**
 * Listen for SIGINT and SIGTERM while a command runs. The first aborts `signal` (the command
 * stops generating, drains and reports, then exits 130 or 143) and says so on stderr; a
 * second SIGINT exits at once, reporting nothing (status 130).
 */
export function interruptOnSignals(what: string): Interrupt {
  const ac = new AbortController();
  let got: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals) => {
    if (got !== null) {
      if (sig === 'SIGINT') process.exit(EXIT_SIGINT);
      return;
    }
    got = sig;
    process.stderr.write(`\nrxsmp: ${sig}: stopping ${what} (Ctrl-C again to quit at once)\n`);
    ac.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    exitCode: () => (got === 'SIGINT' ? EXIT_SIGINT : got === 'SIGTERM' ? EXIT_SIGTERM : 0),
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export type ProgressMode = 'auto' | 'on' | 'off';

/** A run whose traffic is younger than this (wall time) shows no progress line yet. */
const PROGRESS_AFTER_MS = 1000;

export interface LiveProgress {
  /** For RunOptions.progress (undefined: no progress line). */
  progress?: (p: Progress) => void;
  /** Remove the line (before the summary is printed). */
  clear(): void;
}

/**
 * The live progress line on stderr: rewritten in place on a terminal (about every 250 ms,
 * once the run is a second old), one line per update when forced onto a pipe. `auto`: only
 * when stderr is a terminal and stdout is not a JSON document.
 */
export function liveProgress(mode: ProgressMode, json: boolean, err: NodeJS.WriteStream = process.stderr): LiveProgress {
  const on = mode === 'on' || (mode === 'auto' && err.isTTY === true && !json);
  if (!on) return { clear: () => undefined };
  const tty = err.isTTY === true;
  let traffic0 = -1; // wall time of the first report with traffic
  let prev: Progress | null = null;
  let shown = false;
  return {
    progress: (p) => {
      const line = progressLine(p, prev);
      prev = p;
      if (p.generated === 0) return;
      const now = performance.now();
      if (traffic0 < 0) traffic0 = now;
      if (now - traffic0 < PROGRESS_AFTER_MS) return;
      shown = true;
      err.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
    clear: () => {
      if (shown && tty) err.write('\r\x1b[K');
      shown = false;
    },
  };
}
