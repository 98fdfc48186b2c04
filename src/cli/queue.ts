// The work queue on the command line: the options fuzz and sweep take with --queue (`rxsmp
// worker` is cli/worker.ts), and --shard auto (a batch system's array index). Same tokenizer and conventions
// (cli/args.ts): a user mistake, an unreachable Redis, a wrong password or a port that is not
// Redis is one line on stderr and exit 2, before anything is enqueued or any job taken.

import { ConfigError, int, path } from '../config/schema.js';
import { HELP_OPTION, option, optionValue, type Given, type OptionSpec } from './args.js';
import type { Shard } from '../engine/sweep.js';
import { parseShard } from '../engine/sweep.js';
import type { QueuedOptions } from '../queue/campaigns.js';
import { FUZZ_CHUNK_DEFAULT } from '../queue/jobs.js';
import type { ProducerReport } from '../queue/producer.js';
import { parseQueueUrl, RETRY_FOR_S_DEFAULT } from '../queue/url.js';

/** Exit status of a queued campaign that could not finish: Redis lost past its retries, or a job failed on the workers. */
export const EXIT_QUEUE = 4;

export const url = (): ReturnType<typeof path> => ({
  ...path(),
  expected: 'redis://[user:pass@]host:port/db or rediss://...',
  metavar: 'URL',
});

/** Options of fuzz and sweep for a queued campaign. */
export const QUEUE = {
  queue: option<string>('queue', url(), 'enqueue the campaign on this Redis (BullMQ) for `rxsmp worker`s to run, and gather its results'),
  campaign: option<string>(
    'campaign',
    { ...path(), expected: "1 to 64 letters, digits, '_', '.' or '-'", metavar: 'NAME' },
    "--queue: the campaign's name; the same name resumes it from the results stored in Redis",
    { derived: 'from the options: the same command resumes' },
  ),
  retry_s: option('queue-retry-s', int(1, 86_400), '--queue: seconds to retry a lost Redis before giving up (exit 4)', RETRY_FOR_S_DEFAULT),
};

/** `rxsmp worker`'s options (here, not in worker.ts: that loads BullMQ, and --help should not). */
export const WORKER = {
  help: HELP_OPTION,
  queue: { ...option<string>('queue', url(), 'take jobs from this Redis (BullMQ)'), required: true },
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

export const WORKER_ABOUT = `Takes jobs of queued campaigns (rxsmp fuzz --queue, rxsmp sweep --queue) from Redis and runs
them on this machine's pool, as a local campaign runs them; a failing fuzz run is shrunk here.
Every job is checked before it runs: a job carries a configuration only, and one that fails
the check is refused (logged, counted, failed in the queue). SIGINT/SIGTERM: finish the jobs
in hand and exit (a second one quits at once; BullMQ then hands the jobs to another worker
after --lock-s). See docs/campaigns.md.`;

export const FUZZ_QUEUE = {
  ...QUEUE,
  chunk: option('chunk', int(1, 100_000), '--queue: runs per job', FUZZ_CHUNK_DEFAULT),
};

/** The queued options given, checked; undefined without --queue (and then no other queue option may be given). */
export function queuedOptions(
  given: Given,
  specs: Record<string, OptionSpec>,
  log: (l: string) => void,
  signal?: AbortSignal,
): QueuedOptions | undefined {
  const text = given.get('queue');
  if (text === undefined) {
    const stray = Object.values(specs).find((s) => s.flag !== 'queue' && given.has(s.flag));
    if (stray !== undefined) throw new ConfigError(`--${stray.flag} goes with --queue URL`);
    return undefined;
  }
  if (given.has('workers'))
    throw new ConfigError('--workers: with --queue the campaign runs on `rxsmp worker` processes; give --workers to them');
  return {
    url: parseQueueUrl(text),
    ...(given.has('campaign') ? { campaign: given.get('campaign')! } : {}),
    retry_s: optionValue(QUEUE.retry_s, given),
    ...(signal ? { signal } : {}),
    log,
    note: (l) => process.stderr.write(l + '\n'),
  };
}

/** The line and exit status of a queued campaign that did not complete, or undefined when it did (or was interrupted). */
export function queueTrouble(cmd: string, name: string, p: ProducerReport): number | undefined {
  if (p.lost) {
    process.stderr.write(`rxsmp: ${cmd}: the queue's Redis was lost; the same command with --campaign ${name} resumes\n`);
    return EXIT_QUEUE;
  }
  if (p.failed !== null) {
    process.stderr.write(`rxsmp: ${cmd}: job ${JSON.stringify(p.failed.id)} failed on the workers: ${p.failed.reason.split('\n')[0]}\n`);
    return EXIT_QUEUE;
  }
  return undefined;
}

// ------------------------------------------------------------------------ --shard auto

/**
 * The shard a batch system gives this process: Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX,
 * 0-based, with JOB_COMPLETIONS that the manifest sets to the Job's completions), Slurm arrays
 * (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; MIN and STEP when the array does not count
 * from 0 by 1), and the CI matrices that give both an index and a count: GitLab's parallel
 * (CI_NODE_INDEX, 1-based, CI_NODE_TOTAL), CircleCI (CIRCLE_NODE_INDEX, CIRCLE_NODE_TOTAL),
 * Buildkite (BUILDKITE_PARALLEL_JOB, BUILDKITE_PARALLEL_JOB_COUNT) and Azure Pipelines
 * (SYSTEM_JOBPOSITIONINPHASE, 1-based, SYSTEM_TOTALJOBSINPHASE). ConfigError, one line, when
 * none gives both or what one gives is not a shard.
 */
export function shardFromEnv(env: NodeJS.ProcessEnv = process.env): Shard & { from: string } {
  const systems: { from: string; index: string; count: string; base: number }[] = [
    { from: 'Kubernetes Indexed Job', index: 'JOB_COMPLETION_INDEX', count: 'JOB_COMPLETIONS', base: 0 },
    { from: 'Slurm array', index: 'SLURM_ARRAY_TASK_ID', count: 'SLURM_ARRAY_TASK_COUNT', base: 0 },
    { from: 'GitLab CI parallel', index: 'CI_NODE_INDEX', count: 'CI_NODE_TOTAL', base: 1 },
    { from: 'CircleCI parallelism', index: 'CIRCLE_NODE_INDEX', count: 'CIRCLE_NODE_TOTAL', base: 0 },
    { from: 'Buildkite parallelism', index: 'BUILDKITE_PARALLEL_JOB', count: 'BUILDKITE_PARALLEL_JOB_COUNT', base: 0 },
    { from: 'Azure Pipelines parallel', index: 'SYSTEM_JOBPOSITIONINPHASE', count: 'SYSTEM_TOTALJOBSINPHASE', base: 1 },
  ];
  for (const s of systems) {
    const i = env[s.index];
    const n = env[s.count];
    if (i === undefined) continue;
    if (n === undefined)
      throw new ConfigError(
        `--shard auto: ${s.index} is set (${s.from}) but ${s.count} is not` +
          (s.index === 'JOB_COMPLETION_INDEX' ? "; set it in the manifest to the Job's completions" : '') +
          '; or give --shard i/n',
      );
    let index = Number(i);
    if (s.index === 'SLURM_ARRAY_TASK_ID') index = (index - Number(env.SLURM_ARRAY_TASK_MIN ?? 0)) / Number(env.SLURM_ARRAY_TASK_STEP ?? 1);
    const text = `${index + 1 - s.base}/${n}`;
    if (!/^[0-9]+$/.test(i) || !/^[0-9]+$/.test(n) || !Number.isInteger(index))
      throw new ConfigError(`--shard auto: ${s.index}=${i} and ${s.count}=${n} (${s.from}) do not make a shard`);
    try {
      return { ...parseShard(text), from: `${s.from}, ${s.index}=${i} ${s.count}=${n}` };
    } catch {
      throw new ConfigError(`--shard auto: ${s.index}=${i} and ${s.count}=${n} (${s.from}) make shard ${text}, which is not one`);
    }
  }
  throw new ConfigError(
    '--shard auto: no shard in the environment (JOB_COMPLETION_INDEX and JOB_COMPLETIONS, SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, ' +
      'CI_NODE_INDEX and CI_NODE_TOTAL, ...); give --shard i/n',
  );
}
