// `rxsmp worker --queue URL`: takes queued campaigns' jobs (src/queue/worker.ts). Same
// tokenizer and conventions (cli/args.ts): a bad option, an unreachable Redis, a wrong password
// or a port that is not Redis is one line on stderr and exit 2, before any job is taken.

import { ConfigError } from '../config/schema.js';
import { optionValue, tokenize, type OptionSpec } from './args.js';
import { interruptOnSignals } from './live.js';
import { EXIT_QUEUE, WORKER } from './queue.js';
import { exitStatusOf } from './tools.js';
import { parseQueueUrl } from '../queue/url.js';
import { runWorker } from '../queue/worker.js';

/** `rxsmp worker` on its arguments; `specs`: its options (WORKER, cli/queue.ts, through its row in COMMANDS). */
export async function workerMain(argv: string[], specs: readonly OptionSpec[]): Promise<number> {
  const intr = interruptOnSignals('the worker: it finishes the jobs in hand and takes no more');
  try {
    const given = tokenize('worker', specs, argv);
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
