// `rxsmp worker --queue URL`: takes a queued campaign's jobs and runs them on this machine's
// pools (piscina), with the code a local campaign runs: a fuzz chunk through judgeChunk (the
// first failure found is shrunk here, on the pool), a sweep task through SweepRunner. Every
// job is checked before it runs (src/queue/jobs.ts checkJob, then sweepTaskConfig for a
// sweep's options): one that fails is refused with its reason, logged and counted, and
// BullMQ marks it failed without retrying it. A job that a killed worker held is handed to
// another by BullMQ's stalled-job check once its lock (--lock-s) runs out.

import type { Job } from 'bullmq';
import { queueLibs } from './libs.js';
import { ConfigError, type Config } from '../config/schema.js';
import { judgeChunk, fuzzPool, type ChunkReport, type FuzzCampaign } from '../engine/fuzz.js';
import { WatchdogError } from '../engine/run.js';
import { SweepRunner, sweepTaskConfig, type PoolAnswer } from '../engine/sweep.js';
import { VERSION } from '../version.js';
import { checkJob, QUEUE_NAME, type FuzzJob, type SweepJob } from './jobs.js';
import { probeQueue, QueueLink } from './redis.js';
import type { QueueUrl } from './url.js';

export interface WorkerOptions {
  url: QueueUrl;
  /** Pool threads (0: one per host core); also the jobs taken at once. */
  workers: number;
  /** Seconds a job stays with a worker that stopped renewing its lock before another takes it. */
  lock_s: number;
  /** Exit after this many seconds without a job (0: never). */
  idle_exit_s: number;
  retry_s: number;
  /** Job lines (stdout) and notes (stderr). */
  log: (line: string) => void;
  note: (line: string) => void;
  /** First abort: finish the jobs in hand, take no more. */
  signal: AbortSignal;
}

export interface WorkerTally {
  fuzz: number;
  sweep: number;
  rejected: number;
  lost: boolean;
}

/** The answer to a sweep job: a pool's answer (a run document, or the watchdog's message). */
export type SweepAnswer = PoolAnswer;

export async function runWorker(o: WorkerOptions): Promise<WorkerTally> {
  await probeQueue(o.url);
  const { UnrecoverableError, Worker } = queueLibs().bullmq;
  /** A refused job: logged and counted here, failed (not retried) in the queue. */
  class Refused extends UnrecoverableError {}
  const link = new QueueLink(o.url, (l) => o.note(`rxsmp: worker: ${l}`), o.retry_s);
  const tally: WorkerTally = { fuzz: 0, sweep: 0, rejected: 0, lost: false };
  let fuzz: ReturnType<typeof fuzzPool> | null = null;
  const sweeps = new SweepRunner(o.workers);
  const threads = sweeps.threads;

  const refuse = (job: Job, why: string): never => {
    tally.rejected++;
    o.note(`worker: refused job ${JSON.stringify(job.id)}: ${why} (${tally.rejected} refused so far)`);
    throw new Refused(`refused by the worker: ${why}`);
  };

  const runFuzzJob = async (j: FuzzJob): Promise<ChunkReport> => {
    fuzz ??= fuzzPool(threads);
    const c: FuzzCampaign = {
      runs: j.first + j.count,
      seed: j.seed,
      seeds_per_config: j.seeds_per_config,
      unsafe: j.unsafe,
      shrink: j.shrink,
      keep_going: j.keep_going,
    };
    return judgeChunk(c, j.first, j.count, fuzz.threads, fuzz.judge, fuzz.judge);
  };

  const runSweepJob = async (job: Job, j: SweepJob): Promise<SweepAnswer> => {
    let cfg: Config;
    try {
      cfg = sweepTaskConfig(j.settings, 'settings');
    } catch (e) {
      if (e instanceof ConfigError) return refuse(job, e.message);
      throw e;
    }
    try {
      const result = await sweeps.run(cfg);
      if (result.interrupted) throw new Error('interrupted on this worker');
      return { result };
    } catch (e) {
      if (e instanceof WatchdogError) return { watchdog: e.message };
      throw e;
    }
  };

  let active = 0;
  let idleSince = performance.now();
  const processor = async (job: Job): Promise<unknown> => {
    active++;
    const id = String(job.id).replace(/[^\x20-\x7e]/g, '?'); // printable in a log line, whatever the queue holds
    const t0 = performance.now();
    o.note(`worker: ${id}: taken`); // an operator sees what each worker holds (and a test kills one mid-job)
    try {
      const c = checkJob(job.data);
      if (!c.ok) return refuse(job, c.why);
      if (c.job.rxsmp !== VERSION) return refuse(job, `made by rxsmp ${c.job.rxsmp.slice(0, 32)}; this worker is ${VERSION}`);
      if (c.job.kind === 'fuzz') {
        const r = await runFuzzJob(c.job);
        tally.fuzz++;
        const f = r.failures[0];
        o.log(
          `worker: ${id}: runs ${c.job.first}..${c.job.first + c.job.count - 1}: ${r.runs} judged` +
            (f ? `, run ${f.run} FAILED ${f.verdict.check}${f.shrunk ? ` (shrunk in ${f.shrunk.runs} runs)` : ''}` : ', no violation') +
            `, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        return r;
      }
      const a = await runSweepJob(job, c.job);
      tally.sweep++;
      o.log(
        `worker: ${id}: sweep task ${c.job.index}: ${'result' in a ? `${Math.round(a.result.pps)} pps` : 'the watchdog fired'}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      return a;
    } finally {
      active--;
      idleSince = performance.now();
    }
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection: link.connection(),
    concurrency: threads,
    lockDuration: o.lock_s * 1000,
    stalledInterval: o.lock_s * 1000,
    maxStalledCount: 2,
    autorun: false,
  });
  worker.on('error', () => undefined); // connection errors: QueueLink says them
  let done: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (done = resolve));
  // Finish the jobs in hand and take no more; with Redis gone there is nothing to finish them into.
  const close = () => void worker.close(link.lost).then(done, done);
  link.onGiveUp = () => {
    tally.lost = true;
    void worker.close(true).then(done, done);
  };
  o.signal.addEventListener('abort', close, { once: true });
  const idle =
    o.idle_exit_s > 0
      ? setInterval(() => {
          if (active === 0 && performance.now() - idleSince > o.idle_exit_s * 1000) {
            o.note(`worker: no job for ${o.idle_exit_s} s; exiting`);
            close();
          }
        }, 500)
      : undefined;
  o.note(`worker: taking jobs from ${o.url.shown}, ${threads} at once (rxsmp ${VERSION})`);
  void worker.run().catch(() => undefined);
  try {
    await closed;
  } finally {
    clearInterval(idle);
    await Promise.allSettled([fuzz === null ? undefined : (fuzz as ReturnType<typeof fuzzPool>).pool.destroy(), sweeps.destroy()]);
    link.disconnect();
  }
  return tally;
}
