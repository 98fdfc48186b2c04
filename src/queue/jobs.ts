// What travels through the work queue, and the one check of it. A job carries a campaign's
// configuration and nothing else: a chunk of a fuzz campaign (its seed, the runs' range, its
// switches; the worker draws each run's configuration itself, as a local campaign does) or a
// sweep task (the run's options, checked by the configuration schema, with every option that
// names a file or a host's cores refused: src/engine/sweep.ts sweepTaskConfig). Nothing from
// the queue names a file to write or a command to run. Job ids are the campaign's name and
// the job's place in it, so a job added twice is one job and a result counts once.

import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { ConfigError } from '../config/schema.js';

/** The BullMQ queue every producer and worker uses (on the database the URL names). */
export const QUEUE_NAME = 'rxsmp';

/** How long Redis keeps a finished job's result and a campaign's definition (a restarted producer resumes from them). */
export const KEEP_S = 7 * 24 * 3600;

/** Runs per fuzz job by default: several seconds of one pool thread's work. */
export const FUZZ_CHUNK_DEFAULT = 64;

const CAMPAIGN_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** --campaign NAME: letters, digits, '_', '.', '-' (BullMQ job ids may not hold ':'). */
export function checkCampaignName(name: string): string {
  if (!CAMPAIGN_RE.test(name))
    throw new ConfigError(`--campaign: '${name}' is not valid; expected 1 to 64 letters, digits, '_', '.' or '-'`);
  return name;
}

/** A campaign's name when none is given: its kind and a digest of its definition (the same command resumes). */
export function defaultCampaignName(kind: string, definition: unknown): string {
  return `${kind}-${createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 12)}`;
}

const uint = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));
const common = {
  /** The rxsmp version that made the job: a worker runs only its own version's jobs (results must equal a local run's). */
  rxsmp: v.pipe(v.string(), v.maxLength(32)),
  campaign: v.pipe(v.string(), v.regex(CAMPAIGN_RE)),
};

const FuzzJobSchema = v.pipe(
  v.strictObject({
    kind: v.literal('fuzz'),
    ...common,
    first: uint(10_000_000),
    count: v.pipe(uint(100_000), v.minValue(1)),
    seed: uint(0xffff_ffff),
    seeds_per_config: v.pipe(uint(1_000_000), v.minValue(1)),
    unsafe: v.boolean(),
    shrink: v.boolean(),
    keep_going: v.boolean(),
  }),
  v.check((j) => j.first + j.count <= 10_000_000, 'runs beyond 10000000'),
);

const SweepJobSchema = v.strictObject({
  kind: v.literal('sweep'),
  ...common,
  index: uint(10_000_000),
  /** The run's options as given (name -> value); sweepTaskConfig checks them with the schema. */
  settings: v.pipe(
    v.record(v.pipe(v.string(), v.maxLength(64)), v.unknown()),
    v.check((o) => Object.keys(o).length <= 200, 'more than 200 options'),
    v.check((o) => JSON.stringify(o).length <= 100_000, 'larger than 100 kB'),
  ),
});

const JobSchema = v.variant('kind', [FuzzJobSchema, SweepJobSchema]);

export type FuzzJob = v.InferOutput<typeof FuzzJobSchema>;
export type SweepJob = v.InferOutput<typeof SweepJobSchema>;
export type QueueJob = FuzzJob | SweepJob;

/** Check a job's data: the job, or why it is refused (one line). */
export function checkJob(data: unknown): { ok: true; job: QueueJob } | { ok: false; why: string } {
  const r = v.safeParse(JobSchema, data);
  if (r.success) return { ok: true, job: r.output };
  const i = r.issues[0];
  const path = i.path?.map((p) => String(p.key)).join('.') ?? '';
  return { ok: false, why: `${path === '' ? 'the job' : path}: ${i.message}` };
}

/** A job's id: the campaign's name and the job's place in it (a fuzz chunk's first run, a sweep task's index). */
export function jobId(job: QueueJob): string {
  return job.kind === 'fuzz' ? `${job.campaign}.f${job.first}` : `${job.campaign}.s${job.index}`;
}

/** The Redis key holding a campaign's definition (a restart with other options is refused). */
export const campaignKey = (name: string): string => `rxsmp:campaign:${name}`;
