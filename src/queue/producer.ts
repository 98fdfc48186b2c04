// The producer side of a queued campaign (fuzz or sweep --queue): enqueue the campaign's jobs
// with their deterministic ids, a window at a time, gather each job's result once, and say
// how the fleet is doing. Resumable: a job already finished in Redis (an earlier producer of
// the same --campaign) is taken as it is, counted, not run again; one failed earlier is
// retried. Results come from BullMQ's completed events, and a check every few seconds of the
// jobs still out catches whatever an event missed (a lost connection, a Redis that lost its
// data: the job is added again). What a result means is the campaign's business (Campaign).

import type { Queue } from 'bullmq';
import { queueLibs } from './libs.js';
import type { Redis } from 'ioredis';
import { ConfigError } from '../config/schema.js';
import { VERSION } from '../version.js';
import { campaignKey, jobId, KEEP_S, QUEUE_NAME, type QueueJob } from './jobs.js';
import { probeQueue, type QueueLink } from './redis.js';
import type { QueueUrl } from './url.js';

/** Jobs in the queue at once per campaign: enough to keep a fleet busy, few enough to check often. */
const WINDOW = 256;
const RECONCILE_MS = 3000;
const PROGRESS_MS = 5000;

/** What a producer needs to know of a campaign. */
export interface Campaign<R> {
  name: string;
  /** What the campaign is: a restart under the same name with another definition is refused. */
  definition: Record<string, unknown>;
  /** Jobs in all. */
  jobs: number;
  job(i: number): QueueJob;
  /** A worker's answer, checked: the result, or null (not a result of this campaign's kind). */
  result(x: unknown): R | null;
  /** Job i's result (once per job; `resumed`: it was in Redis before this producer started it). */
  onResult(i: number, r: R, resumed: boolean): void;
  /** Jobs 0 .. needed()-1 must finish; none at or past it is added (fuzz: past the first failing chunk). */
  needed(): number;
  /** The progress line's campaign part ("fuzz: 12/2000 runs"). */
  progress(): string;
}

export interface ProducerOptions {
  signal?: AbortSignal;
  /** Campaign lines (stdout). */
  log: (line: string) => void;
  /** Lines about the queue (stderr). */
  note: (line: string) => void;
  retry_s: number;
}

export interface ProducerReport {
  /** Every needed job finished. */
  complete: boolean;
  interrupted: boolean;
  /** Redis was lost for longer than the retries. */
  lost: boolean;
  /** A job failed on the workers (refused, or failed on every attempt): its id and reason. */
  failed: { id: string; reason: string } | null;
  /** Jobs whose results were already in Redis. */
  resumed: number;
  wall_s: number;
}

/** Probe the queue and check the campaign's definition against one stored under its name (ConfigError, before anything is enqueued). */
export async function openCampaign(url: QueueUrl, c: Pick<Campaign<unknown>, 'name' | 'definition'>, link: QueueLink): Promise<void> {
  await probeQueue(url);
  const r = link.connection();
  try {
    await checkDefinition(r, c);
  } catch (e) {
    link.disconnect();
    throw e;
  }
}

async function checkDefinition(r: Redis, c: Pick<Campaign<unknown>, 'name' | 'definition'>): Promise<void> {
  const def = JSON.stringify({ rxsmp: VERSION, ...c.definition });
  const key = campaignKey(c.name);
  const set = await r.set(key, def, 'EX', KEEP_S, 'NX');
  if (set === null) {
    const had = await r.get(key);
    if (had !== null && had !== def) {
      const old = JSON.parse(had) as Record<string, unknown>;
      const diff = Object.keys({ ...old, ...JSON.parse(def) }).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(JSON.parse(def)[k]));
      throw new ConfigError(
        `--campaign ${c.name}: a campaign of that name in the queue differs (${diff.join(', ')}); give another --campaign name, or the same options`,
      );
    }
    await r.expire(key, KEEP_S);
  }
}

export async function runCampaign<R>(link: QueueLink, c: Campaign<R>, o: ProducerOptions): Promise<ProducerReport> {
  const t0 = performance.now();
  const { Job, Queue, QueueEvents } = queueLibs().bullmq;
  const queue: Queue = new Queue(QUEUE_NAME, { connection: link.connection() });
  const events = new QueueEvents(QUEUE_NAME, { connection: link.connection() });
  const quiet = () => undefined; // connection errors: QueueLink says them
  queue.on('error', quiet);
  events.on('error', quiet);
  const out = new Map<string, number>(); // job id -> index, for jobs added and not finished
  const done = new Set<number>();
  let next = 0;
  let resumed = 0;
  let failed: ProducerReport['failed'] = null;
  let stop: (why: 'complete' | 'interrupted' | 'lost' | 'failed') => void = () => undefined;
  const stopped = new Promise<'complete' | 'interrupted' | 'lost' | 'failed'>((resolve) => (stop = resolve));
  const complete = () => {
    for (let i = 0; i < c.needed(); i++) if (!done.has(i)) return false;
    return true;
  };

  const take = (i: number, value: unknown, wasResumed: boolean): void => {
    if (done.has(i)) return; // a result that arrives twice counts once
    const r = c.result(value);
    if (r === null) {
      fail(jobId(c.job(i)), `its result is not one of a ${c.job(i).kind} job`);
      return;
    }
    done.add(i);
    if (wasResumed) resumed++;
    c.onResult(i, r, wasResumed);
  };
  const fail = (id: string, reason: string): void => {
    failed ??= { id, reason };
    stop('failed');
  };

  /** Look at job i in Redis: take its stored result, retry it if it failed, or add it. */
  const place = async (batch: number[]): Promise<void> => {
    const jobs = await Promise.all(batch.map((i) => Job.fromId(queue, jobId(c.job(i)))));
    const add: number[] = [];
    for (let k = 0; k < batch.length; k++) {
      const i = batch[k];
      const j = jobs[k];
      const id = jobId(c.job(i));
      if (j === undefined) add.push(i);
      else if (j.finishedOn !== undefined && j.failedReason === undefined) take(i, j.returnvalue, true);
      else {
        out.set(id, i);
        if (j.finishedOn !== undefined) await j.retry('failed').catch(() => undefined); // failed under an earlier producer: once more
      }
    }
    for (const i of add) out.set(jobId(c.job(i)), i);
    await queue.addBulk(
      add.map((i) => ({
        name: c.job(i).kind,
        data: c.job(i),
        opts: { jobId: jobId(c.job(i)), removeOnComplete: { age: KEEP_S }, removeOnFail: { age: KEEP_S }, attempts: 2 },
      })),
    );
  };

  let filling = false;
  const fill = async (): Promise<void> => {
    if (filling) return;
    filling = true;
    try {
      // Jobs past what the campaign still needs: taken back if no worker has them yet.
      for (const [id, i] of out) {
        if (i < c.needed()) continue;
        out.delete(id);
        await Job.fromId(queue, id)
          .then((j) => j?.remove())
          .catch(() => undefined);
      }
      while (out.size < WINDOW && next < c.needed()) {
        const n = Math.min(WINDOW - out.size, c.needed() - next, 64);
        await place(Array.from({ length: n }, (_, k) => next + k));
        next += n;
      }
      if (complete()) stop('complete');
    } finally {
      filling = false;
    }
  };

  const finished = (id: string, value: unknown): void => {
    const i = out.get(id);
    if (i === undefined) return;
    out.delete(id);
    take(i, value, false);
    void fill().catch(quiet);
  };
  events.on('completed', ({ jobId: id, returnvalue }) => finished(id, returnvalue));
  events.on('failed', ({ jobId: id, failedReason }) => {
    // Failed for good (refused, or its last attempt), not an attempt BullMQ will retry.
    if (out.has(id)) void queue.getJobState(id).then((state) => state === 'failed' && fail(id, failedReason), quiet);
  });
  events.on('stalled', ({ jobId: id }) => {
    if (out.has(id)) o.note(`job ${id} stalled (its worker stopped renewing its lock); BullMQ hands it to another worker`);
  });

  /** What the events may have missed: each job still out, looked at in Redis. */
  const reconcile = async (): Promise<void> => {
    if (link.lost) return;
    const ids = [...out.keys()];
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      if (states[k] === 'completed') {
        const j = await Job.fromId(queue, id);
        if (j !== undefined) finished(id, j.returnvalue);
      } else if (states[k] === 'failed') {
        const j = await Job.fromId(queue, id);
        if (j !== undefined) fail(id, j.failedReason);
      } else if (states[k] === 'unknown') {
        o.note(`job ${id} is gone from the queue (did Redis lose its data?); adding it again`);
        await place([out.get(id)!]);
      }
    }
  };

  const progress = async (): Promise<void> => {
    const workers = link.lost ? null : await queue.getWorkersCount().catch(() => null);
    o.log(
      `${c.progress()}, ${((performance.now() - t0) / 1000).toFixed(1)} s${workers === null ? '' : `, ${workers} workers on the queue`}`,
    );
  };

  const onAbort = () => stop('interrupted');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  link.onGiveUp = () => stop('lost');
  const timers = [
    setInterval(() => void reconcile().catch(quiet), RECONCILE_MS),
    setInterval(() => void progress().catch(quiet), PROGRESS_MS),
  ];
  let why: Awaited<typeof stopped>;
  try {
    await events.waitUntilReady();
    if (o.signal?.aborted) stop('interrupted');
    void fill().catch((e: unknown) => (link.lost ? undefined : fail('(enqueueing)', (e as Error).message)));
    why = await stopped;
  } finally {
    for (const t of timers) clearInterval(t);
    o.signal?.removeEventListener('abort', onAbort);
    await Promise.allSettled([events.close(), queue.close()]);
    link.disconnect();
  }
  return {
    complete: why === 'complete',
    interrupted: why === 'interrupted',
    lost: why === 'lost',
    failed,
    resumed,
    wall_s: (performance.now() - t0) / 1000,
  };
}
