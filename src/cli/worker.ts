// `rxsmp worker --queue URL`: takes queued campaigns' jobs (src/queue/worker.ts). Same
// tokenizer and conventions (cli/args.ts): a bad option, an unreachable Redis, a wrong password
// or a port that is not Redis is one line on stderr and exit 2, before any job is taken.

import { ConfigError, int } from '../config/schema.js';
import { EXIT_CODES, HELP_OPTION, option, optionsHelp, optionValue, tokenize, type OptionSpec } from './args.js';
import { interruptOnSignals } from './live.js';
import { EXIT_QUEUE, QUEUE, url, WORKER_SYNOPSIS } from './queue.js';
import { exitStatusOf } from './tools.js';
import { parseQueueUrl } from '../queue/url.js';
import { runWorker } from '../queue/worker.js';

const WORKER = {
  help: HELP_OPTION,
  queue: option<string>('queue', url(), 'take jobs from this Redis (BullMQ)'),
  workers: option('workers', int(0, 256), 'pool threads, and jobs taken at once (0: one per host core)', 0),
  lock_s: option(
    'lock-s',
    int(1, 3600),
    'seconds until a job whose worker stopped renewing its lock (a killed machine) goes to another worker',
    30,
  ),
  idle_exit: option('idle-exit', int(0, 86_400), 'exit after this many seconds without a job (0: never; for batch systems)', 0),
  retry_s: QUEUE.retry_s,
};
const WORKER_OPTIONS: OptionSpec[] = Object.values(WORKER);

const WORKER_USAGE = `usage: ${WORKER_SYNOPSIS}

Takes jobs of queued campaigns (rxsmp fuzz --queue, rxsmp sweep --queue) from Redis and runs
them on this machine's pool, as a local campaign runs them; a failing fuzz run is shrunk here.
Every job is checked before it runs: a job carries a configuration only, and one that fails
the check is refused (logged, counted, failed in the queue). SIGINT/SIGTERM: finish the jobs
in hand and exit (a second one quits at once; BullMQ then hands the jobs to another worker
after --lock-s). See docs/campaigns.md.

${optionsHelp(WORKER_OPTIONS)}

${EXIT_CODES}`;

export async function workerMain(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(WORKER_USAGE + '\n');
    return 0;
  }
  const intr = interruptOnSignals('the worker: it finishes the jobs in hand and takes no more');
  try {
    const given = tokenize('worker', WORKER_OPTIONS, argv);
    const text = given.get('queue');
    if (text === undefined) throw new ConfigError('worker: give --queue redis://host:port/db');
    const t = await runWorker({
      url: parseQueueUrl(text),
      workers: optionValue(WORKER.workers, given),
      lock_s: optionValue(WORKER.lock_s, given),
      idle_exit_s: optionValue(WORKER.idle_exit, given),
      retry_s: optionValue(WORKER.retry_s, given),
      log: (l) => process.stdout.write(l + '\n'),
      note: (l) => process.stderr.write(l + '\n'),
      signal: intr.signal,
    });
    process.stderr.write(`worker: ${t.fuzz} fuzz jobs and ${t.sweep} sweep jobs done, ${t.rejected} refused\n`);
    if (t.lost) return EXIT_QUEUE;
    return intr.exitCode();
  } catch (e) {
    return exitStatusOf(e, 'worker');
  } finally {
    intr.dispose();
  }
}
