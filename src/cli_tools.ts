// The `fuzz` and `calibrate` commands (the `run` command is cli_main.ts). Same conventions:
// a user mistake is one line on stderr and exit status 2.

import { ConfigError } from './config.js';
import { runFuzz } from './engine/fuzz.js';
import { calibrateMain } from './engine/calibrate.js';
import { InterruptedError } from './engine/run.js';
import { interruptOnSignals } from './cli_live.js';

/** The commands' one-line synopses, shared with `rxsmp --help` (cli_main.ts). */
export const FUZZ_SYNOPSIS = 'rxsmp fuzz [--runs N] [--seed S] [--seeds-per-config K] [--workers W] [--unsafe-rfs-no-qtail-check] [--no-shrink]';
export const CAL_SYNOPSIS = 'rxsmp calibrate [--out FILE] [--packets N]';

const FUZZ_USAGE = `usage: ${FUZZ_SYNOPSIS}

Random configurations x seeds in --mode sim on a piscina pool; each run is checked for
conservation, per-flow order where Linux guarantees it, progress and kernel assertions.
The first failure prints the command that reproduces it, then a shrunk one. Exit 1 on failure.
  --runs N        runs in the campaign (default 1000)
  --seed S        run i uses seed S + i (default 1)
  --seeds-per-config K   K runs (seeds) per random configuration (default 1)
  --workers W     pool threads (default: the host's cores)
  --unsafe-rfs-no-qtail-check   every run with RFS's last_qtail check off
  --no-shrink     do not shrink a failing configuration`;

const CAL_USAGE = `usage: ${CAL_SYNOPSIS}

Measures the sim cost model (virtual ns per stage) in threads mode on this machine and writes
it as JSON (default rxsmp-cost.json); pass it back with --mode sim --cost-model FILE.`;

function parseFlags(argv: string[], bools: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new ConfigError(`unexpected argument '${a}'; options start with --`);
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (bools.includes(name)) {
      m.set(name, 'on');
      continue;
    }
    const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new ConfigError(`--${name}: expected a value`);
    m.set(name, v);
  }
  return m;
}

function intOpt(m: Map<string, string>, name: string, dflt: number, min: number, max: number): number {
  const v = m.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${name}: '${v}' is not valid; expected an integer from ${min} to ${max}`);
  return n;
}

export async function toolMain(cmd: 'fuzz' | 'calibrate', argv: string[]): Promise<number> {
  const usage = cmd === 'fuzz' ? FUZZ_USAGE : CAL_USAGE;
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const log = (s: string) => process.stdout.write(s + '\n');
  const intr = interruptOnSignals(cmd === 'fuzz' ? 'the campaign, reporting the runs judged so far' : 'the measurement, writing nothing');
  try {
    if (cmd === 'fuzz') {
      const m = parseFlags(argv, ['unsafe-rfs-no-qtail-check', 'no-shrink']);
      for (const k of m.keys()) if (!['runs', 'seed', 'seeds-per-config', 'workers', 'unsafe-rfs-no-qtail-check', 'no-shrink'].includes(k)) throw new ConfigError(`fuzz: unknown option --${k}; try 'rxsmp fuzz --help'`);
      const o = {
        runs: intOpt(m, 'runs', 1000, 1, 10_000_000),
        seed: intOpt(m, 'seed', 1, 0, 0xffff_ffff),
        seeds_per_config: intOpt(m, 'seeds-per-config', 1, 1, 1_000_000),
        workers: intOpt(m, 'workers', 0, 0, 256),
        unsafe: m.has('unsafe-rfs-no-qtail-check'),
        shrink: !m.has('no-shrink'),
        log,
      };
      log(`fuzz: ${o.runs} runs from seed ${o.seed}${o.unsafe ? ', unsafe RFS (no last_qtail check)' : ''}`);
      const r = await runFuzz({ ...o, signal: intr.signal });
      log(
        `fuzz: ${r.interrupted ? `interrupted after ${r.runs} of ${o.runs} runs` : `${r.runs} runs`}, ${r.packets} packets, ` +
          `${r.ordering_checked} checked for order, ${r.wall_s.toFixed(1)} s, ` +
          (r.failure ? `FAILED at run ${r.failure.run}` : 'no violation'),
      );
      return r.failure ? 1 : r.interrupted ? intr.exitCode() : 0;
    }
    const m = parseFlags(argv, []);
    for (const k of m.keys()) if (!['out', 'packets'].includes(k)) throw new ConfigError(`calibrate: unknown option --${k}; try 'rxsmp calibrate --help'`);
    const out = m.get('out') ?? 'rxsmp-cost.json';
    await calibrateMain(out, intOpt(m, 'packets', 1_000_000, 10_000, 100_000_000), log, intr.signal);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`rxsmp: ${e.message}\n`);
      return 2;
    }
    if (e instanceof InterruptedError) {
      process.stderr.write(`rxsmp: ${cmd}: interrupted (${e.message}); nothing written\n`);
      return intr.exitCode();
    }
    throw e;
  } finally {
    intr.dispose();
  }
}
