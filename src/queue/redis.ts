// The work queue's Redis: the probe that checks it before anything is enqueued, and the
// connections BullMQ runs on, which retry a lost server with a bounded back-off and say so.

import type { Redis } from 'ioredis';
import { loadQueueLibs, queueLibs } from './libs.js';
import { ConfigError } from '../config/schema.js';
import { RETRY_DELAY_MAX_MS, type QueueUrl } from './url.js';

/** How long the probe waits for a Redis answer. */
const PROBE_TIMEOUT_MS = 5000;

/** Why a connection attempt failed, in words a user acts on. */
function whyNot(e: Error & { code?: string }, url: QueueUrl): string {
  const shown = url.shown;
  const m = e.message ?? String(e);
  const at = `--queue ${shown}`;
  if (e.code === 'ECONNREFUSED') return `${at}: cannot connect (connection refused): is Redis running there?`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `${at}: no such host`;
  if (e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return `${at}: cannot connect (${e.code})`;
  if (/WRONGPASS|invalid username-password|invalid password/i.test(m)) return `${at}: Redis refused the user name or password (WRONGPASS)`;
  if (/NOAUTH|Authentication required/i.test(m)) return `${at}: Redis wants a password: give it in the URL, redis://user:pass@host:port/db`;
  if (/AUTH.*(without any password|no password is set)/i.test(m)) return `${at}: Redis has no password set; leave it out of the URL`;
  if (/NOPERM/.test(m)) return `${at}: the Redis user may not run the queue's commands (${m.split('\n')[0]})`;
  if (/Protocol error|unexpected|reply type|RESP type/i.test(m)) return `${at}: not a Redis server (its answer is not the Redis protocol)`;
  if (/EPIPE|ECONNRESET|Connection is closed/.test(`${e.code} ${m}`))
    return `${at}: the server closed the connection (not a Redis server${url.options.tls ? '' : ', or one that wants TLS: rediss://'}?)`;
  if (/ssl|tls|certificate|EPROTO/i.test(m + (e.code ?? ''))) return `${at}: TLS failed (${m.split('\n')[0]})`;
  if (/DB index is out of range/i.test(m)) return `${at}: Redis has no such database (DB index is out of range)`;
  return `${at}: ${m.split('\n')[0]}`;
}

/**
 * Check the queue before anything is enqueued or any job taken: connect once (no retries),
 * authenticate, select the database, PING, and read the server's version (BullMQ wants Redis 5
 * or later). Throws ConfigError with one line saying what is wrong.
 */
export async function probeQueue(url: QueueUrl): Promise<void> {
  const { db, ...options } = url.options;
  const { Redis } = (await loadQueueLibs()).ioredis;
  const c = new Redis({
    ...options,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: PROBE_TIMEOUT_MS,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  const errors: Error[] = [];
  c.on('error', (e: Error) => errors.push(e));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ConfigError(
            `--queue ${url.shown}: no Redis answer within ${PROBE_TIMEOUT_MS / 1000} s (is it a Redis server${url.options.tls ? ' with TLS' : ''}?)`,
          ),
        ),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([
      (async () => {
        await c.connect();
        await c.select(db ?? 0);
        const pong = await c.ping();
        if (pong !== 'PONG') throw new ConfigError(`--queue ${url.shown}: not a Redis server (PING answered '${pong}')`);
        const info = await c.info('server');
        const v = /redis_version:([0-9]+)/.exec(info);
        if (v && Number(v[1]) < 5)
          throw new ConfigError(`--queue ${url.shown}: Redis ${v[1]} is too old; the queue (BullMQ) needs 5 or later`);
      })(),
      timeout,
    ]);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // The most telling of what went wrong: a broken pipe or a closed connection says least.
    const all = [...errors, e as Error];
    const telling = all.find((x) => !/EPIPE|ECONNRESET|Connection is closed/.test(`${(x as { code?: string }).code} ${x.message}`));
    throw new ConfigError(whyNot(telling ?? all[0], url));
  } finally {
    clearTimeout(timer);
    c.disconnect();
  }
}

/**
 * The connections of one producer or worker to the queue's Redis. Each retries a lost server
 * with a bounded back-off; the first loss, the return and the giving up (after `retry_s`
 * without a server) are said once each on `say` (stderr), whichever connection sees them.
 */
export class QueueLink {
  private lostAt: number | null = null;
  private lastError = '';
  private lastSaid = 0;
  private gaveUp = false;
  private readonly clients: Redis[] = [];

  constructor(
    readonly url: QueueUrl,
    private readonly say: (line: string) => void,
    private readonly retry_s: number,
  ) {}

  /** Called once when the retries run out. */
  onGiveUp: () => void = () => undefined;

  /** A connection for BullMQ (a Queue, a Worker, QueueEvents) or for our own keys. */
  connection(): Redis {
    const { Redis } = queueLibs().ioredis;
    const c = new Redis({ ...this.url.options, maxRetriesPerRequest: null, retryStrategy: (times) => this.retryIn(times) });
    c.on('error', (e: Error & { code?: string }) => (this.lastError = e.code ?? e.message.split('\n')[0]));
    c.on('ready', () => this.back());
    this.clients.push(c);
    return c;
  }

  /** ioredis's retryStrategy: ms until the next attempt, or null to give up. */
  private retryIn(times: number): number | null {
    const now = performance.now();
    if (this.lostAt === null) {
      this.lostAt = now;
      this.lastSaid = now;
      this.say(
        `lost the queue ${this.url.shown} (${this.lastError || 'connection closed'}); retrying with back-off (up to ${RETRY_DELAY_MAX_MS / 1000} s apart) for ${this.retry_s} s`,
      );
    } else if (now - this.lastSaid > 30_000) {
      this.lastSaid = now;
      this.say(`still no queue after ${((now - this.lostAt) / 1000).toFixed(0)} s (${this.lastError}); retrying`);
    }
    if (now - this.lostAt > this.retry_s * 1000) {
      if (!this.gaveUp) {
        this.gaveUp = true;
        this.say(`no queue for ${this.retry_s} s; giving up`);
        this.onGiveUp();
      }
      return null;
    }
    return Math.min(500 * 2 ** Math.min(times - 1, 10), RETRY_DELAY_MAX_MS);
  }

  private back(): void {
    if (this.lostAt === null) return;
    this.say(`the queue is back after ${((performance.now() - this.lostAt) / 1000).toFixed(1)} s`);
    this.lostAt = null;
  }

  get lost(): boolean {
    return this.lostAt !== null;
  }

  /** Close every connection made here (BullMQ closes its duplicates itself). */
  disconnect(): void {
    for (const c of this.clients) c.disconnect();
  }
}
