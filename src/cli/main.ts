// rxsmp command line: the table of its commands (COMMANDS: name, one-line summary, options,
// --help paragraph, handler) and the dispatch. Each synopsis, `rxsmp --help` and every
// command's --help are generated from its row (cli/args.ts). The commands live in run.ts,
// compare.ts (compare, sweep, merge, report), tools.ts (fuzz, calibrate) and worker.ts.

import { clip } from '../config/schema.js';
import { commandOptions, commandUsage, EXIT_CODES, groupedHelp, HELP_OPTION, synopsis, type Command } from './args.js';
import { ABOUT, RUN_ONLY, RUN_OPTIONS, runMain } from './run.js';
import { COMPARE, COMPARE_ABOUT, compareCommandMain, MERGE, MERGE_ABOUT, REPORT, REPORT_ABOUT, SWEEP, SWEEP_ABOUT } from './compare.js';
import { CAL, CAL_ABOUT, FORCE_OPTION, FUZZ, FUZZ_ABOUT, toolMain } from './tools.js';
import { FUZZ_QUEUE, QUEUE, WORKER, WORKER_ABOUT } from './queue.js';
import { VERSION } from '../version.js';

export { VERSION };

/**
 * Every command of rxsmp, one row each: its name, what it does in one line, its own options
 * (the tokenizer's table; run's knobs join them where `runOptions` says), --help's paragraph
 * and its handler. Its synopsis, `rxsmp --help` and its own --help are generated from the row
 * (cli/args.ts); the handler gets the options its tokenizer takes (commandOptions).
 */
export const COMMANDS: readonly Command[] = [
  {
    name: 'run',
    summary: 'one emulation: a summary, or one JSON document',
    options: Object.values(RUN_ONLY),
    runOptions: 'grouped',
    about: `${ABOUT}\nA config file (--config) takes the same names, snake_case; -h, --help prints this.`,
    main: runMain,
  },
  {
    name: 'compare',
    summary: 'A against B, paired seeds: medians, spread and the B/A ratio',
    options: Object.values(COMPARE),
    runOptions: 'Options of run, the same for both sides unless --a or --b sets them',
    about: COMPARE_ABOUT,
    main: (argv, specs) => compareCommandMain('compare', argv, specs),
  },
  {
    name: 'sweep',
    summary: 'a matrix of runs into JSON Lines (resumable, sharded or queued)',
    options: [...Object.values(SWEEP), ...Object.values(QUEUE)],
    runOptions: 'Options of run, the same in every cell unless --set sweeps them',
    about: SWEEP_ABOUT,
    main: (argv, specs) => compareCommandMain('sweep', argv, specs),
  },
  {
    name: 'merge',
    summary: 'join sweep files (one line per cell and repeat)',
    operands: 'FILE...',
    options: Object.values(MERGE),
    about: MERGE_ABOUT,
    main: (argv, specs) => compareCommandMain('merge', argv, specs),
  },
  {
    name: 'report',
    summary: 'one self-contained HTML page of charts (default rxsmp-report.html)',
    operands: 'FILE...',
    options: Object.values(REPORT),
    about: REPORT_ABOUT,
    main: (argv, specs) => compareCommandMain('report', argv, specs),
  },
  {
    name: 'fuzz',
    summary: 'a campaign of random sim runs, checked; prints a reproduction of a failure',
    options: [HELP_OPTION, ...Object.values(FUZZ), ...Object.values(FUZZ_QUEUE)],
    about: FUZZ_ABOUT,
    main: (argv, specs) => toolMain('fuzz', argv, specs),
  },
  {
    name: 'calibrate',
    summary: 'measure the sim cost model on this machine',
    options: [HELP_OPTION, ...Object.values(CAL), FORCE_OPTION],
    about: CAL_ABOUT,
    main: (argv, specs) => toolMain('calibrate', argv, specs),
  },
  {
    name: 'worker',
    summary: 'run queued fuzz and sweep jobs (docs/campaigns.md)',
    options: Object.values(WORKER),
    about: WORKER_ABOUT,
    // BullMQ loads only for the queue's commands
    main: async (argv, specs) => (await import('./worker.js')).workerMain(argv, specs),
  },
];

/** rxsmp --help: every command's synopsis and summary, and run's common options. */
function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `usage: ${[...COMMANDS.map(synopsis), 'rxsmp --version'].join('\n       ')}

${ABOUT}

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
Each command has --help; 'rxsmp run --help-all' describes every option of run.

${groupedHelp(RUN_OPTIONS, false)}

${EXIT_CODES}`;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`rxsmp ${VERSION}\n`);
    return 0;
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === cmd);
  if (command === undefined) {
    process.stderr.write(`rxsmp: unknown command '${clip(cmd)}'; try 'rxsmp --help'\n`);
    return 2;
  }
  const specs = commandOptions(command);
  const all = specs.some((s) => s.flag === 'help-all') && rest.includes('--help-all');
  if (rest.includes('--help') || rest.includes('-h') || all) {
    process.stdout.write(`${commandUsage(command, all)}\n`);
    return 0;
  }
  return command.main(rest, specs);
}
