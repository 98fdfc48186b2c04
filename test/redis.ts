// A real Redis for the work queue's tests: Debian's redis-server on a free loopback port, in a
// temporary directory, nothing saved (--save '' --appendonly no), stopped after. And the CLI as
// child processes that run alongside (workers, a producer) with their output collected.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './e2e.js';

/** A free TCP port on 127.0.0.1 (the kernel picks one; it is free again when this returns). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * A certificate authority and a server certificate for 127.0.0.1 and localhost, made with
 * openssl in `dir`: ca.crt (what a client trusts), srv.crt and srv.key (what Redis serves).
 */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const ssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.error?.message ?? r.stderr}`);
  };
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=rxsmp test CA']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost']);
  ssl([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.crt',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'srv.crt'), key: join(dir, 'srv.key') };
}

/** Start redis-server (optionally with a password, or TLS only); resolves once it accepts connections. */
export async function startRedis(password?: string, tls?: { cert: string; key: string; ca: string }, on_port?: number): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsmp-redis-'));
  const port = on_port ?? (await freePort());
  const listen =
    tls === undefined
      ? ['--port', String(port)]
      : [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          tls.cert,
          '--tls-key-file',
          tls.key,
          '--tls-ca-cert-file',
          tls.ca,
          '--tls-auth-clients',
          'no',
        ];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  if (password !== undefined) args.push('--requirepass', password);
  const p = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
    p.on('error', (e) => reject(new Error(`cannot start redis-server (${e.message}); install Debian's redis-server`)));
    p.on('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${log}`)));
    p.stdout.on('data', (d: Buffer) => {
      log += d.toString();
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  p.removeAllListeners('exit');
  const auth = password === undefined ? '' : `:${password}@`;
  return {
    port,
    url: `${tls === undefined ? 'redis' : 'rediss'}://${auth}127.0.0.1:${port}/0`,
    stop: async () => {
      if (p.exitCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The CLI as a child process: its output so far, a wait for a line, and its end. */
export class CliProcess {
  readonly p: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private watchers: (() => void)[] = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const seen = () => {
      for (const w of this.watchers) w();
    };
    this.p.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      seen();
    });
    this.p.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      seen();
    });
    this.exited = new Promise((resolve) => this.p.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  /** Resolves when stdout + stderr match `re` (rejects after `ms`, or when the process ends first). */
  waitFor(re: RegExp, ms = 120_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const look = () => {
        if (!re.test(this.stdout + this.stderr)) return;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms:\n${this.stdout}\n${this.stderr}`)), ms);
      this.watchers.push(look);
      void this.exited.then(() => {
        look();
        clearTimeout(timer);
        reject(new Error(`exited before ${re}:\n${this.stdout}\n${this.stderr}`));
      });
      look();
    });
  }

  /** Its exit status and output, once it has ended. */
  async done(): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const status = await this.exited;
    return { status, stdout: this.stdout, stderr: this.stderr };
  }

  kill(sig: NodeJS.Signals = 'SIGTERM'): void {
    if (this.p.exitCode === null && this.p.signalCode === null) this.p.kill(sig);
  }
}

/** Run the CLI to its end (asynchronously: this process's own servers keep answering meanwhile). */
export function cliAsync(args: string[], env?: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new CliProcess(args, env).done();
}
