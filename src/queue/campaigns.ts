// fuzz --queue and sweep --queue: a campaign's jobs, and what their results add up to. The
// lines printed and the files written are the local campaign's, made by the same functions
// (src/engine/fuzz.ts, sweep.ts), so the same campaign gives the same summary and, in sim
// mode, the same runs wherever its jobs ran.

import * as v from 'valibot';
import { failureLines, fuzzHeader, shrunkLine, type ChunkReport, type FuzzCampaign, type FuzzReport } from '../engine/fuzz.js';
import { AppendFile } from '../host/files.js';
import { fromPool, sweepTaskConfig, sweepTodo, writeSweepLine, type SweepPlan, type SweepReport, type SweepTask } from '../engine/sweep.js';
import type { RunResult } from '../engine/result.js';
import { VERSION } from '../version.js';
import { checkCampaignName, defaultCampaignName, type FuzzJob, type SweepJob } from './jobs.js';
import { openCampaign, runCampaign, type ProducerReport } from './producer.js';
import { QueueLink } from './redis.js';
import type { QueueUrl } from './url.js';

export interface QueuedOptions {
  url: QueueUrl;
  /** --campaign, or undefined: a name from the campaign's definition. */
  campaign?: string;
  retry_s: number;
  signal?: AbortSignal;
  log: (line: string) => void;
  note: (line: string) => void;
}

/** How a queued campaign ended, beyond what the local one reports. */
export interface QueueEnd {
  name: string;
  producer: ProducerReport;
}

// A worker's answer to a fuzz job, checked before it is added up (a result is data, never code).
const FlagsSchema = v.record(v.string(), v.union([v.string(), v.number()]));
const FailureSchema = v.object({
  run: v.number(),
  flags: FlagsSchema,
  verdict: v.object({ ok: v.boolean(), ordering_checked: v.boolean(), packets: v.number(), out_of_order: v.number() }),
  repro: v.string(),
  shrunk: v.optional(v.object({ flags: FlagsSchema, repro: v.string(), runs: v.number() })),
});
const ChunkSchema = v.object({
  runs: v.number(),
  packets: v.number(),
  ordering_checked: v.number(),
  failures: v.array(FailureSchema),
  interrupted: v.boolean(),
});

const name = (o: QueuedOptions, kind: string, definition: unknown) =>
  o.campaign === undefined ? defaultCampaignName(kind, { rxsmp: VERSION, ...(definition as object) }) : checkCampaignName(o.campaign);

/**
 * A fuzz campaign on the queue: chunks of `chunk` runs, folded in run order as the local
 * campaign judges them: counts up to the first failure (the lowest run index anywhere; every
 * run with keep_going), each failure printed when every run before it is judged.
 */
export async function queuedFuzz(c: FuzzCampaign, chunk: number, o: QueuedOptions): Promise<FuzzReport & QueueEnd> {
  const jobs = Math.ceil(c.runs / chunk);
  const definition = {
    kind: 'fuzz',
    runs: c.runs,
    seed: c.seed,
    seeds_per_config: c.seeds_per_config ?? 1,
    unsafe: c.unsafe,
    shrink: c.shrink,
    keep_going: c.keep_going ?? false,
    chunk,
  };
  const campaign = name(o, 'fuzz', definition);
  const link = new QueueLink(o.url, (l) => o.note(`rxsmp: fuzz: ${l}`), o.retry_s);
  await openCampaign(o.url, { name: campaign, definition }, link);
  const job = (i: number): FuzzJob => ({
    kind: 'fuzz',
    rxsmp: VERSION,
    campaign,
    first: i * chunk,
    count: Math.min(chunk, c.runs - i * chunk),
    seed: c.seed,
    seeds_per_config: c.seeds_per_config ?? 1,
    unsafe: c.unsafe,
    shrink: c.shrink,
    keep_going: c.keep_going ?? false,
  });
  const got = new Map<number, ChunkReport>();
  const total: ChunkReport = { runs: 0, packets: 0, ordering_checked: 0, failures: [], interrupted: false };
  let folded = 0; // chunks 0 .. folded-1 are added up, in order
  let firstFailing = jobs; // the lowest chunk known to hold a failure
  const add = (r: ChunkReport) => {
    total.runs += r.runs;
    total.packets += r.packets;
    total.ordering_checked += r.ordering_checked;
    for (const f of r.failures) {
      total.failures.push(f);
      for (const l of failureLines(f)) o.log(l);
      if (f.shrunk) o.log(shrunkLine(f));
    }
  };
  const needed = () => (c.keep_going ? jobs : Math.min(jobs, firstFailing + 1));
  o.log(fuzzHeader(c));
  o.note(`rxsmp: fuzz: campaign ${campaign} on ${o.url.shown}: ${jobs} jobs of up to ${chunk} runs`);
  const producer = await runCampaign<ChunkReport>(
    link,
    {
      name: campaign,
      definition,
      jobs,
      job,
      result: (x) => (v.is(ChunkSchema, x) ? (x as ChunkReport) : null),
      onResult: (i, r) => {
        got.set(i, r);
        if (r.failures.length > 0) firstFailing = Math.min(firstFailing, i);
        while (folded < needed() && got.has(folded)) add(got.get(folded++)!);
      },
      needed,
      progress: () => `fuzz: ${[...got.values()].reduce((n, r) => n + r.runs, 0)}/${c.runs} runs`,
    },
    { ...o, note: (l) => o.note(`rxsmp: fuzz: ${l}`) },
  );
  if (!producer.complete) {
    // The summary so far: every chunk finished, in order, to the first failure (all with keep_going).
    for (const [i, r] of [...got].sort(([a], [b]) => a - b)) {
      if (i < folded) continue;
      if (!c.keep_going && total.failures.length > 0) break;
      add(r);
    }
  }
  if (producer.resumed > 0)
    o.note(`rxsmp: fuzz: campaign ${campaign}: ${producer.resumed} of ${jobs} jobs resumed from stored results (not run again)`);
  return {
    ...total,
    interrupted: !producer.complete,
    wall_s: producer.wall_s,
    failure: total.failures[0] ?? null,
    name: campaign,
    producer,
  };
}

/** A sweep on the queue: one job per task, each result written to `out` as the local sweep writes it. */
export async function queuedSweep(
  plan: SweepPlan,
  out: string,
  o: QueuedOptions & {
    command?: string;
    force?: boolean;
    header?: () => void;
    onRun?: (t: SweepTask, r: RunResult, done: number, todo: number) => void;
  },
): Promise<SweepReport & QueueEnd> {
  // Every job checked now with the worker's own check, and it must give the plan's configuration.
  for (const t of plan.tasks) {
    const cfg = sweepTaskConfig(t.settings, '--queue');
    if (JSON.stringify(cfg) !== JSON.stringify(t.cfg)) throw new Error(`sweep task ${t.index}: its job would not give its configuration`);
  }
  const { todo, skipped } = sweepTodo(plan, out, o.force);
  // The campaign is its whole plan (whatever `out` holds already): every task's options.
  const definition = {
    kind: 'sweep',
    tasks: plan.tasks.length,
    digest: defaultCampaignName(
      '',
      plan.tasks.map((t) => [t.index, t.settings]),
    ),
  };
  const campaign = name(o, 'sweep', definition);
  const link = new QueueLink(o.url, (l) => o.note(`rxsmp: sweep: ${l}`), o.retry_s);
  await openCampaign(o.url, { name: campaign, definition }, link);
  o.header?.();
  const job = (i: number): SweepJob => ({ kind: 'sweep', rxsmp: VERSION, campaign, index: todo[i].index, settings: todo[i].settings });
  let written = 0;
  let watchdog: string | null = null;
  o.note(`rxsmp: sweep: campaign ${campaign} on ${o.url.shown}: ${todo.length} jobs`);
  const file = new AppendFile('--out', out);
  const producer = await runCampaign<{ result: RunResult } | { watchdog: string }>(
    link,
    {
      name: campaign,
      definition,
      jobs: todo.length,
      job,
      result: (x) => {
        if (typeof x !== 'object' || x === null) return null;
        if ('watchdog' in x && typeof x.watchdog === 'string') return { watchdog: x.watchdog };
        if (
          'result' in x &&
          typeof x.result === 'object' &&
          x.result !== null &&
          String((x.result as RunResult).schema).startsWith('rxsmp.run/')
        )
          return { result: x.result as RunResult };
        return null;
      },
      onResult: (i, a) => {
        if ('watchdog' in a) {
          watchdog ??= a.watchdog;
          return;
        }
        const t = todo[i];
        const r = fromPool(a);
        writeSweepLine(file, t, r, o.command);
        written++;
        o.onRun?.(t, r, written, todo.length);
      },
      needed: () => (watchdog === null ? todo.length : 0),
      progress: () => `sweep: ${written}/${todo.length} runs`,
    },
    { ...o, note: (l) => o.note(`rxsmp: sweep: ${l}`) },
  ).finally(() => file.close());
  if (watchdog !== null) fromPool({ watchdog }); // throws WatchdogError, as a local sweep does (exit 3)
  if (producer.resumed > 0)
    o.note(`rxsmp: sweep: campaign ${campaign}: ${producer.resumed} of ${todo.length} jobs resumed from stored results (not run again)`);
  return { skipped, written, left: todo.length - written, interrupted: !producer.complete, name: campaign, producer };
}
