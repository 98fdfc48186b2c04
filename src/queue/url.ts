// The --queue URL: redis://[user:pass@]host[:port][/db], rediss:// for TLS (the system's CAs,
// or NODE_EXTRA_CA_CERTS). The password never appears in a message. No Redis client is loaded
// here: the command line reads this module for every command.

import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';
import { ConfigError } from '../config/schema.js';

/** Back-off between reconnection attempts: 0.5 s, doubling, at most 10 s. */
export const RETRY_DELAY_MAX_MS = 10_000;

/** Default time a producer or worker keeps retrying a lost Redis before it gives up (exit 4). */
export const RETRY_FOR_S_DEFAULT = 300;

export interface QueueUrl {
  /** The URL as messages show it: the password replaced by ***. */
  shown: string;
  options: RedisOptions;
}

/** Parse --queue. Throws ConfigError (one line) for anything but redis:// or rediss:// with a host, port and db. */
export function parseQueueUrl(text: string): QueueUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(`--queue: '${text}' is not a URL; expected redis://[user:pass@]host:port/db (rediss:// for TLS)`);
  }
  const shown = u.password === '' ? text : text.replace(`:${u.password}@`, ':***@');
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new ConfigError(`--queue ${shown}: expected a redis:// or rediss:// URL, not ${u.protocol}//`);
  if (u.hostname === '') throw new ConfigError(`--queue ${shown}: no host`);
  const db = u.pathname === '' || u.pathname === '/' ? 0 : /^\/([0-9]{1,5})$/.test(u.pathname) ? Number(u.pathname.slice(1)) : NaN;
  if (!Number.isInteger(db)) throw new ConfigError(`--queue ${shown}: the path '${u.pathname}' is not a database number (e.g. /0)`);
  if (u.search !== '' || u.hash !== '') throw new ConfigError(`--queue ${shown}: takes no query or fragment`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 literal without its brackets
  const options: RedisOptions = {
    host,
    port: u.port === '' ? 6379 : Number(u.port),
    db,
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: isIP(host) === 0 ? { servername: host } : {} } : {}),
  };
  return { shown, options };
}
