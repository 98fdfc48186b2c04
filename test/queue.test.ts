// Campaigns on a work queue (issue 26): fuzz and sweep --queue with `rxsmp worker` processes,
// BullMQ on a real Redis (test/redis.ts starts Debian's redis-server). Sim mode is
// deterministic, so a queued campaign is checked exactly against the same campaign run here:
// the same summary (wall time aside), the same first failure and shrunk reproduction, the same
// sweep lines; through a worker killed mid-campaign and a producer killed and restarted. And
// the trust and failure paths: a job the schema refuses, a Redis that is not there.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardFromEnv } from '../dist/src/cli/queue.js';
import { VERSION } from '../dist/src/version.js';
import { CLI, cli } from './e2e.js';
import { CliProcess, cliAsync, freePort, makeCertificates, startRedis, type TestRedis } from './redis.js';

// A small campaign: RUNS runs in jobs of CHUNK, on three worker processes of one thread each.
const RUNS = 80;
const SEED = 7;
const CHUNK = 8;
const fuzzArgs = ['fuzz', '--runs', String(RUNS), '--seed', String(SEED)];

/** A summary line without its wall time (the one figure that differs between two runs). */
const summary = (out: string) =>
  out
    .split('\n')
    .find((l) => /^fuzz: ([\d,]+ runs,|interrupted)/.test(l))
    ?.replace(/, [\d.]+ (s|ms|µs|ns), /, ', ');
/** The lines a failure prints: what failed, the reproduction, the shrunk one. */
const failure = (out: string) => out.split('\n').filter((l) => /^fuzz: run \d+ .* FAILED |^ {2}(reproduce|shrunk)/.test(l));

let redis: TestRedis;
let workers: CliProcess[] = [];
const worker = (url = redis.url) => new CliProcess(['worker', '--queue', url, '--workers', '1', '--lock-s', '5']);
let local = '';

beforeAll(async () => {
  redis = await startRedis();
  workers = [worker(), worker(), worker()];
  await Promise.all(workers.map((w) => w.waitFor(/taking jobs from/)));
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await redis?.stop();
});

/** Job ids each worker finished, over every worker's log. */
const finishedIds = (campaign: string) =>
  workers.flatMap((w) => [...w.stdout.matchAll(new RegExp(`^worker: (${campaign}\\.f\\d+):`, 'gm'))].map((m) => m[1]));

describe('fuzz --queue', () => {
  it('with three workers prints the summary line of the same campaign run locally', async () => {
    const l = await cliAsync([...fuzzArgs, '--workers', '2']);
    expect(l.status, l.stderr).toBe(0);
    local = l.stdout;
    const q = await cliAsync([...fuzzArgs, '--queue', redis.url, '--chunk', String(CHUNK), '--campaign', 'equal']);
    expect(q.status, q.stderr).toBe(0);
    expect(summary(local)).toMatch(new RegExp(`^fuzz: ${RUNS} runs, [\\d,]+ packets, [\\d,]+ checked for order, no violation$`));
    expect(summary(q.stdout)).toBe(summary(local));
    expect(q.stdout.split('\n')[0]).toBe(local.split('\n')[0]); // the header line too
    expect(q.stderr).toMatch(/campaign equal on redis:\/\/127\.0\.0\.1:\d+\/0: 10 jobs of up to 8 runs/);
    // The jobs ran on the workers, each once.
    const ids = finishedIds('equal');
    expect(new Set(ids).size).toBe(RUNS / CHUNK);
    expect(ids.length).toBe(RUNS / CHUNK);
  }, 300_000);

  it('with the unsafe knob: the same first failing seed and the same shrunk reproduction, printed by the producer', async () => {
    const args = ['fuzz', '--runs', '64', '--seed', '1', '--unsafe-rfs-no-qtail-check'];
    const l = await cliAsync([...args, '--workers', '2']);
    const q = await cliAsync([...args, '--queue', redis.url, '--chunk', '8', '--campaign', 'unsafe']);
    expect(l.status).toBe(1);
    expect(q.status).toBe(1);
    const lines = failure(l.stdout);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^fuzz: run \d+ \(seed \d+\) FAILED ordering/);
    expect(lines[2]).toMatch(/^ {2}shrunk \(\d+ runs\): npx rxsmp run --mode sim .* --check-order$/);
    expect(failure(q.stdout)).toEqual(lines);
    expect(summary(q.stdout)).toBe(summary(l.stdout));
    expect(summary(l.stdout)).toMatch(/FAILED at run \d+$/);
    // It was shrunk on the worker that found it.
    expect(workers.some((w) => /^worker: unsafe\.f\d+: .*FAILED ordering \(shrunk in \d+ runs\)/m.test(w.stdout))).toBe(true);
  }, 300_000);

  it('--keep-going: every failure, in run order, the same on the queue as here', async () => {
    const args = ['fuzz', '--runs', '64', '--seed', '1', '--unsafe-rfs-no-qtail-check', '--no-shrink', '--keep-going'];
    const l = await cliAsync([...args, '--workers', '2']);
    const q = await cliAsync([...args, '--queue', redis.url, '--chunk', '8', '--campaign', 'keep-going']);
    expect(l.status).toBe(1);
    expect(q.status).toBe(1);
    expect(summary(l.stdout)).toMatch(/^fuzz: 64 runs, .*, FAILED at run \d+( \(\d+ failing runs\))?$/);
    expect(failure(q.stdout)).toEqual(failure(l.stdout));
    expect(summary(q.stdout)).toBe(summary(l.stdout));
  }, 300_000);

  it('a worker killed (SIGKILL) mid-campaign: its job goes to another worker and every run counts once', async () => {
    expect(local).not.toBe('');
    const q = new CliProcess([...fuzzArgs, '--queue', redis.url, '--chunk', String(CHUNK), '--campaign', 'kill']);
    // Kill the first worker as soon as it has taken a job of this campaign (a job runs for 0.5 s or more).
    const victim = workers[0];
    await victim.waitFor(/^worker: kill\.f\d+: taken$/m);
    victim.kill('SIGKILL');
    await victim.exited;
    const r = await q.done();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/job kill\.f\d+ stalled \(its worker stopped renewing its lock\); BullMQ hands it to another worker/);
    expect(summary(r.stdout)).toBe(summary(local));
    workers[0] = worker();
    await workers[0].waitFor(/taking jobs from/);
  }, 300_000);

  it('the producer interrupted (Ctrl-C), then killed, and restarted with the same --campaign resumes from the stored results, running no job twice', async () => {
    // A campaign long enough to be caught half-way (25 jobs), and its local summary.
    const long = ['fuzz', '--runs', '200', '--seed', String(SEED)];
    const l = await cliAsync([...long, '--workers', '2']);
    expect(l.status, l.stderr).toBe(0);
    const args = [...long, '--queue', redis.url, '--chunk', String(CHUNK), '--campaign', 'restart'];
    // Ctrl-C once a worker has finished a job of it: the summary so far, as a local campaign prints it, and exit 130.
    const first = new CliProcess(args);
    await Promise.race(workers.map((w) => w.waitFor(/^worker: restart\.f\d+: runs/m)));
    first.kill('SIGINT');
    const stopped = await first.done();
    expect(stopped.status).toBe(130);
    expect(summary(stopped.stdout)).toMatch(
      /^fuzz: interrupted after \d+ of 200 runs, [\d,]+ packets, [\d,]+ checked for order, no violation$/,
    );
    // Then a producer killed outright.
    const second = new CliProcess(args);
    await second.waitFor(/campaign restart on /);
    await new Promise((r) => setTimeout(r, 1000));
    second.kill('SIGKILL');
    await second.exited;
    const again = await cliAsync(args);
    expect(again.status, again.stderr).toBe(0);
    const resumed = /campaign restart: (\d+) of 25 jobs resumed from stored results \(not run again\)/.exec(again.stderr);
    expect(resumed, again.stderr).not.toBeNull();
    expect(Number(resumed![1])).toBeGreaterThan(0);
    expect(summary(again.stdout)).toBe(summary(l.stdout));
    const ids = finishedIds('restart');
    expect(ids.length).toBe(25); // every job ran once: none again after the restart
    expect(new Set(ids).size).toBe(25);
    // Run once more: everything is stored, nothing runs.
    const third = await cliAsync(args);
    expect(third.stderr).toMatch(/campaign restart: 25 of 25 jobs resumed/);
    expect(summary(third.stdout)).toBe(summary(l.stdout));
    expect(finishedIds('restart').length).toBe(25);
  }, 300_000);

  it('a campaign name reused with other options is refused before anything is enqueued', async () => {
    const r = await cliAsync(['fuzz', '--runs', '10', '--seed', String(SEED), '--queue', redis.url, '--campaign', 'equal']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'rxsmp: --campaign equal: a campaign of that name in the queue differs (runs, chunk); give another --campaign name, or the same options\n',
    );
  });
});

describe('sweep --queue', () => {
  it('gives, cell for cell and repeat for repeat, the sim-mode lines of the local sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-qsweep-'));
    const args = ['sweep', '--mode', 'sim', '--set', 'rps-cpus=0,3', '--set', 'stack-cost-ns=0,1500', '--repeat', '2', '--packets', '4000'];
    const l = await cliAsync([...args, '--out', join(dir, 'local.jsonl'), '--workers', '2']);
    expect(l.status, l.stderr).toBe(0);
    const q = await cliAsync([...args, '--out', join(dir, 'queued.jsonl'), '--queue', redis.url]);
    expect(q.status, q.stderr).toBe(0);
    // Lines keyed by cell and repeat; the host's wall time of a sim run and the command line that
    // made them are the fields that differ.
    const read = (f: string) =>
      new Map(
        readFileSync(join(dir, f), 'utf8')
          .trim()
          .split('\n')
          .map((t) => {
            const o = JSON.parse(t) as { cell: unknown; repeat: number; sim: Record<string, unknown>; command?: string };
            delete o.sim.wall_s;
            delete o.sim.sim_pps_wall;
            delete o.command; // the invocation (its --out, its --queue), not the run
            return [JSON.stringify([o.cell, o.repeat]), JSON.stringify(o)] as const;
          }),
      );
    const a = read('local.jsonl');
    const b = read('queued.jsonl');
    expect(a.size).toBe(8);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, line] of a) expect(b.get(k), k).toBe(line);
    // The table printed after it is the local one.
    const table = (s: string) => s.slice(s.indexOf('cell ')).split('\n').sort();
    expect(table(q.stdout)).toEqual(table(l.stdout));
  }, 300_000);

  it('refuses options that name a file, before anything is enqueued', async () => {
    const r = await cliAsync([
      'sweep',
      '--mode',
      'sim',
      '--set',
      'rps-cpus=0,3',
      '--tap',
      '/tmp/x.pcapng',
      '--queue',
      redis.url,
      '--out',
      '/tmp/rxsmp-never.jsonl',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('rxsmp: --queue: --tap names a file to write; a queued sweep runs on other machines (leave it out)\n');
  });
});

describe('the trust boundary', () => {
  it('a job whose configuration fails the schema is refused by the worker, logged with its reason and counted; nothing outside the run is touched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-evil-'));
    const evil = join(dir, 'written-by-the-queue.pcapng');
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue('rxsmp', { connection: conn });
    const sweepJob = { kind: 'sweep', rxsmp: VERSION, campaign: 'evil', index: 0 };
    await queue.add('sweep', { ...sweepJob, settings: { mode: 'sim', packets: 2000, tap: evil } }, { jobId: 'evil.s0' });
    await queue.add('sweep', { ...sweepJob, index: 1, settings: { mode: 'sim', cpus: 999 } }, { jobId: 'evil.s1' });
    await queue.add('fuzz', { kind: 'fuzz', rxsmp: VERSION, campaign: 'evil', first: 0, count: -5 }, { jobId: 'evil.f0' });
    await queue.add('run', { command: 'touch', args: [evil] }, { jobId: 'evil.x' });
    const failed = async (id: string) => {
      for (let i = 0; i < 100; i++) {
        const j = await Job.fromId(queue, id);
        if (j?.finishedOn !== undefined) return j;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${id} never finished`);
    };
    const reasons = await Promise.all(['evil.s0', 'evil.s1', 'evil.f0', 'evil.x'].map(async (id) => (await failed(id)).failedReason));
    expect(reasons[0]).toBe(
      'refused by the worker: settings: --tap names a file to write; a queued sweep runs on other machines (leave it out)',
    );
    expect(reasons[1]).toMatch(/^refused by the worker: settings: key 'cpus': 999 is not valid; expected an integer from 1 to \d+$/);
    expect(reasons[2]).toMatch(/^refused by the worker: /);
    expect(reasons[3]).toMatch(/^refused by the worker: kind: /);
    // Each refusal is logged by the worker that took the job (its stderr may trail the job's state a little).
    const ids = ['evil.s0', 'evil.s1', 'evil.f0', 'evil.x'];
    const logged = (id: string) => new RegExp(`worker: refused job "${id}": .+ \\(\\d+ refused so far\\)`);
    const logs = () => workers.map((w) => w.stderr).join('');
    for (let i = 0; i < 100 && !ids.every((id) => logged(id).test(logs())); i++) await new Promise((r) => setTimeout(r, 100));
    for (const id of ids) expect(logs()).toMatch(logged(id));
    expect(logs()).toContain(
      'worker: refused job "evil.s0": settings: --tap names a file to write; a queued sweep runs on other machines (leave it out)',
    );
    expect(existsSync(evil)).toBe(false);
    // Each worker's tally at exit counts its refusals: 4 in all.
    for (const w of workers) w.kill('SIGTERM');
    const ends = await Promise.all(workers.map((w) => w.done()));
    const refused = ends.map((e) => Number(/(\d+) refused\n/.exec(e.stderr)?.[1] ?? NaN));
    expect(refused.reduce((a, b) => a + b, 0)).toBe(4);
    await queue.close();
    conn.disconnect();
    workers = [worker(), worker(), worker()];
    await Promise.all(workers.map((w) => w.waitFor(/taking jobs from/)));
  }, 120_000);
});

describe('a Redis that is not there', () => {
  let http: Server;
  let httpPort = 0;
  let locked: TestRedis;
  beforeAll(async () => {
    http = createServer((_, res) => res.end('not redis\n'));
    httpPort = await freePort();
    await new Promise<void>((r) => http.listen(httpPort, '127.0.0.1', r));
    locked = await startRedis('s3cret');
  });
  afterAll(async () => {
    http.close();
    await locked.stop();
  });

  it('unreachable, a wrong password, a port that is not Redis: one line and exit 2, for the producers and the worker', async () => {
    const closed = await freePort();
    const cases: [string, RegExp][] = [
      [`redis://127.0.0.1:${closed}/0`, /: cannot connect \(connection refused\): is Redis running there\?$/],
      [
        `redis://:wrong@127.0.0.1:${locked.port}/0`,
        /^rxsmp: --queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: Redis refused the user name or password \(WRONGPASS\)$/,
      ],
      [`redis://127.0.0.1:${locked.port}/0`, /: Redis wants a password: give it in the URL/],
      [
        `redis://127.0.0.1:${httpPort}/0`,
        /: (not a Redis server \(its answer is not the Redis protocol\)|the server closed the connection \(not a Redis server(, or one that wants TLS: rediss:\/\/)?\?\))$/,
      ],
    ];
    const sweep = (url: string) => [
      'sweep',
      '--mode',
      'sim',
      '--set',
      'rps-cpus=0,3',
      '--queue',
      url,
      '--out',
      join(tmpdir(), 'rxsmp-never.jsonl'),
    ];
    const runs = cases.flatMap(([url, why]) => [
      { args: ['fuzz', '--runs', '8', '--queue', url], why },
      { args: ['worker', '--queue', url], why },
      ...(url === cases[0][0] ? [{ args: sweep(url), why }] : []),
    ]);
    for (const { args, why } of runs) {
      const r = await cliAsync(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(why);
      expect(r.stderr).not.toContain('wrong'); // the password is never shown
      expect(r.stdout).toBe('');
    }
    // Nothing was enqueued on the locked Redis by the refused attempts.
    const ok = new Redis(locked.url);
    expect(await ok.keys('*')).toEqual([]);
    ok.disconnect();
  }, 120_000);

  it('a URL that is not one, and queue options without --queue, are one line', () => {
    const bad = cli(['fuzz', '--queue', 'http://x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('rxsmp: --queue http://x: expected a redis:// or rediss:// URL, not http://\n');
    const stray = cli(['fuzz', '--campaign', 'x']);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toBe('rxsmp: --campaign goes with --queue URL\n');
  });
});

describe('a Redis lost during a campaign', () => {
  it('the producer and the worker retry with back-off and say so; Redis back empty, the jobs still needed are enqueued again and the campaign ends as locally', async () => {
    let lost = await startRedis();
    const port = lost.port;
    const w = new CliProcess(['worker', '--queue', lost.url, '--workers', '1', '--lock-s', '5']);
    try {
      await w.waitFor(/taking jobs from/);
      const args = ['fuzz', '--runs', '12', '--seed', String(SEED)];
      const p = new CliProcess([...args, '--queue', lost.url, '--chunk', '2', '--campaign', 'lost']);
      await w.waitFor(/^worker: lost\.f\d+: runs/m); // a job done, the others to come
      await lost.stop(); // and its data with it (nothing saved)
      await p.waitFor(
        /rxsmp: fuzz: lost the queue redis:\/\/127\.0\.0\.1:\d+\/0 \(.+\); retrying with back-off \(up to 10 s apart\) for 300 s/,
      );
      lost = await startRedis(undefined, undefined, port);
      const done = await p.done();
      expect(done.status, done.stderr).toBe(0);
      expect(done.stderr).toMatch(/rxsmp: fuzz: the queue is back after [\d.]+ s/);
      expect(done.stderr).toMatch(/rxsmp: fuzz: job lost\.f\d+ is gone from the queue \(did Redis lose its data\?\); adding it again/);
      expect(w.stderr).toMatch(/rxsmp: worker: lost the queue .*\n(.*\n)*rxsmp: worker: the queue is back after/);
      const l = await cliAsync([...args, '--workers', '1']);
      expect(summary(done.stdout)).toBe(summary(l.stdout));
    } finally {
      w.kill('SIGKILL');
      await w.exited;
      await lost.stop();
    }
  }, 300_000);
});

describe('rediss:// (TLS) and AUTH', () => {
  it('a campaign over TLS with a password; an untrusted certificate is one line, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-tls-'));
    const certs = makeCertificates(dir);
    const secure = await startRedis('tls-s3cret', certs);
    try {
      expect(secure.url).toMatch(/^rediss:\/\/:tls-s3cret@127\.0\.0\.1:\d+\/0$/);
      const trusted = { ...process.env, NODE_EXTRA_CA_CERTS: certs.ca };
      const w = new CliProcess(['worker', '--queue', secure.url, '--workers', '1'], trusted);
      await w.waitFor(/taking jobs from rediss:\/\/:\*\*\*@/);
      const q = await cliAsync(['fuzz', '--runs', '4', '--seed', String(SEED), '--queue', secure.url, '--chunk', '2'], trusted);
      expect(q.status, q.stderr).toBe(0);
      expect(summary(q.stdout)).toMatch(/^fuzz: 4 runs, [\d,]+ packets, [\d,]+ checked for order, no violation$/);
      w.kill('SIGTERM');
      expect((await w.done()).stderr).toMatch(/worker: 2 fuzz jobs and 0 sweep jobs done, 0 refused/);
      const untrusted = await cliAsync(['fuzz', '--runs', '4', '--queue', secure.url]);
      expect(untrusted.status).toBe(2);
      expect(untrusted.stderr).toMatch(
        /^rxsmp: --queue rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: TLS failed \(self[- ]signed certificate in certificate chain\)\n$/,
      );
    } finally {
      await secure.stop();
    }
  }, 120_000);
});

/** The CLI with an environment of its own (none of this host's batch-system variables). */
function spawnCli(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const p = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 120_000,
  });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

describe('--shard auto', () => {
  it('reads Kubernetes Indexed Jobs, Slurm arrays and CI matrices that give an index and a count', () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '0', JOB_COMPLETIONS: '4' })).toMatchObject({ index: 1, count: 4 });
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '3', JOB_COMPLETIONS: '4' })).toMatchObject({ index: 4, count: 4 });
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '8' })).toMatchObject({ index: 3, count: 8 });
    // --array=1-8: ids from 1; --array=0-14:2: every second id.
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '8' })).toMatchObject({
      index: 1,
      count: 8,
    });
    expect(
      shardFromEnv({ SLURM_ARRAY_TASK_ID: '14', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_COUNT: '8' }),
    ).toMatchObject({
      index: 8,
      count: 8,
    });
    expect(shardFromEnv({ CI_NODE_INDEX: '1', CI_NODE_TOTAL: '3' })).toMatchObject({ index: 1, count: 3 });
    expect(shardFromEnv({ CIRCLE_NODE_INDEX: '2', CIRCLE_NODE_TOTAL: '3' })).toMatchObject({ index: 3, count: 3 });
    expect(shardFromEnv({ BUILDKITE_PARALLEL_JOB: '0', BUILDKITE_PARALLEL_JOB_COUNT: '2' })).toMatchObject({ index: 1, count: 2 });
    expect(shardFromEnv({ SYSTEM_JOBPOSITIONINPHASE: '2', SYSTEM_TOTALJOBSINPHASE: '2' })).toMatchObject({ index: 2, count: 2 });
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '1' })).toThrow(
      /JOB_COMPLETION_INDEX is set \(Kubernetes Indexed Job\) but JOB_COMPLETIONS is not/,
    );
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_COUNT: '4' })).toThrow(/make shard 10\/4, which is not one/);
    expect(() => shardFromEnv({})).toThrow(/^--shard auto: no shard in the environment/);
  });

  it('runs its slice of a sweep, and says where it came from; one line when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-shard-'));
    const r = spawnCli(
      [
        'sweep',
        '--mode',
        'sim',
        '--set',
        'rps-cpus=0,3',
        '--repeat',
        '2',
        '--packets',
        '2000',
        '--shard',
        'auto',
        '--out',
        join(dir, 's.jsonl'),
      ],
      {
        SLURM_ARRAY_TASK_ID: '1',
        SLURM_ARRAY_TASK_COUNT: '2',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/shard 2\/2: 2 runs, .* \(--shard auto: Slurm array, SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2\)/);
    const none = spawnCli(['sweep', '--mode', 'sim', '--set', 'rps-cpus=0,3', '--shard', 'auto', '--out', join(dir, 'n.jsonl')], {});
    expect(none.status).toBe(2);
    expect(none.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(none.stderr.trimEnd()).toMatch(/^rxsmp: --shard auto: no shard in the environment .*; give --shard i\/n$/);
  });
});
