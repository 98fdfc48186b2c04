// Interrupted runs keep their result: SIGINT or SIGTERM stops the generator, the CPUs drain
// what is in flight (bounded), and the run prints its JSON document marked "interrupted",
// conserving over what was generated; exit 130 (SIGINT) or 143 (SIGTERM). Through the CLI as
// a child process, as a user at a terminal would. The signal goes once traffic runs: after
// the first progress line (--progress forces it onto the pipe). Invariants only.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './e2e.js';
import { runEmulation } from '../dist/src/engine/run.js';
import { runSim } from '../dist/src/engine/sim_run.js';
import { conserves, type RunResult } from '../dist/src/engine/result.js';
import { config } from './harness.js';

interface Exit {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the CLI, send `signals` (one after another, `gap_ms` apart) once its output has matched
 * `ready`, and collect what it printed. Killed (and failed) if it outlives 60 s after that.
 */
function interrupted(args: string[], signals: NodeJS.Signals[], ready = /generated/, gap_ms = 300): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const look = () => {
      if (sent || !ready.test(stdout + stderr)) return;
      sent = true;
      signals.forEach((s, i) => {
        setTimeout(() => p.kill(s), i * gap_ms);
      });
      setTimeout(() => p.kill('SIGKILL'), 60_000).unref();
    };
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      look();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      look();
    });
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * The most packets a run can have in flight below the sockets: every RX ring full, both backlog
 * queues of every CPU at netdev_max_backlog, and each napi's GRO lists and gro_normal batch full
 * (shm/layout.ts sizes the skb pool from the same terms).
 */
function inFlightBound(r: RunResult): number {
  const c = r.config as { queues: number; ring_size: number; cpus: number; netdev_max_backlog: number; gro_normal_batch: number };
  return c.queues * c.ring_size + c.cpus * (2 * (c.netdev_max_backlog + 1) + (c.queues + 1) * (64 + c.gro_normal_batch));
}

/** The document of an interrupted run: marked, conserving, cut short. */
function checkInterrupted(out: Exit, packets: number): RunResult {
  const r = JSON.parse(out.stdout) as RunResult;
  expect(r.interrupted).toBe(true);
  expect(conserves(r)).toBe(true); // generated == delivered + every drop, dropped.interrupted included
  // What was still in flight: whole packets, and no more than the rings, backlogs and GRO lists hold.
  const left = r.packets.dropped.interrupted!;
  expect(Number.isInteger(left)).toBe(true);
  expect(left).toBeGreaterThanOrEqual(0);
  expect(left).toBeLessThanOrEqual(inFlightBound(r));
  expect(r.packets.generated).toBeGreaterThan(0);
  expect(r.packets.generated).toBeLessThan(packets);
  return r;
}

describe('interrupted runs', () => {
  it('SIGINT: exit 130 with one JSON document marked interrupted that conserves', async () => {
    const out = await interrupted(['run', '--packets', '100000000', '--json', '--progress'], ['SIGINT']);
    expect(out.status).toBe(130);
    checkInterrupted(out, 1e8);
    expect(out.stderr).toMatch(/SIGINT: stopping the traffic/);
  });

  it('SIGTERM on an open-loop run: exit 143, the same document', async () => {
    const out = await interrupted(['run', '--packets', '100000000', '--rate', '1000000', '--json', '--progress'], ['SIGTERM']);
    expect(out.status).toBe(143);
    checkInterrupted(out, 1e8);
  });

  it('sim mode: SIGINT gets through a running sim (exit 130, marked, conserves)', async () => {
    const out = await interrupted(['run', '--mode', 'sim', '--packets', '100000000', '--json', '--progress'], ['SIGINT']);
    expect(out.status).toBe(130);
    checkInterrupted(out, 1e8);
  });

  it('a drain that cannot finish in its bound counts what is left in dropped.interrupted', async () => {
    // 5 ms of stack per packet: a full ring alone is seconds of work for its CPU.
    const out = await interrupted(['run', '--packets', '100000000', '--stack-cost-ns', '5000000', '--json', '--progress'], ['SIGINT']);
    expect(out.status).toBe(130);
    const r = checkInterrupted(out, 1e8);
    expect(r.packets.dropped.interrupted).toBeGreaterThan(0);
  });

  it('sim mode: the same, in virtual time', async () => {
    const out = await interrupted(
      ['run', '--mode', 'sim', '--packets', '100000000', '--stack-cost-ns', '5000000', '--json', '--progress'],
      ['SIGINT'],
    );
    expect(out.status).toBe(130);
    const r = checkInterrupted(out, 1e8);
    expect(r.packets.dropped.interrupted).toBeGreaterThan(0);
  });

  it('the human summary says the run was interrupted and still conserves', async () => {
    const out = await interrupted(['run', '--mode', 'sim', '--packets', '100000000', '--progress'], ['SIGINT']);
    expect(out.status).toBe(130);
    expect(out.stdout).toMatch(
      /^interrupted: generation stopped after [\d,]+ packets; [\d,]+ still in flight when the drain's bound was hit/m,
    );
    expect(out.stdout).toMatch(/^packets: generated [\d,]+, delivered [\d,]+, dropped [\d,]+.* — conserved$/m);
  });

  it('a second SIGINT exits at once, printing no result', async () => {
    const out = await interrupted(
      ['run', '--packets', '100000000', '--stack-cost-ns', '5000000', '--json', '--progress'],
      ['SIGINT', 'SIGINT'],
      /generated/,
      100,
    );
    expect(out.status).toBe(130);
    expect(out.stdout).toBe('');
  });

  it('a run that is not interrupted has no interrupted field and no interrupted drops', async () => {
    const r = await runSim(config({ mode: 'sim', packets: 2000 }));
    expect('interrupted' in r).toBe(false);
    expect('interrupted' in r.packets.dropped).toBe(false);
  });

  it('the library: runEmulation and runSim take an AbortSignal and resolve interrupted', async () => {
    for (const mode of ['threads', 'sim'] as const) {
      const ac = new AbortController();
      const cfg = config({ mode, packets: 100_000_000 });
      const opts = { signal: ac.signal, progress: () => ac.abort() }; // abort at the first progress report
      const r = await (mode === 'sim' ? runSim(cfg, opts) : runEmulation(cfg, opts));
      expect(r.interrupted, mode).toBe(true);
      expect(conserves(r), mode).toBe(true);
      expect(r.packets.generated, mode).toBeLessThan(100_000_000);
    }
  });

  it('fuzz: SIGINT prints the summary so far and exits 130', async () => {
    const out = await interrupted(['fuzz', '--runs', '1000000', '--workers', '1'], ['SIGINT'], /fuzz: 1,000,000 runs from seed/, 0);
    expect(out.status).toBe(130);
    expect(out.stdout).toMatch(/fuzz: interrupted after [\d,]+ of 1,000,000 runs, [\d,]+ packets/);
  });

  it('calibrate: SIGTERM says it was interrupted and writes nothing (exit 143)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rxsmp-')), 'cost.json');
    const out = await interrupted(['calibrate', '--out', file, '--packets', '100000'], ['SIGTERM'], /calibrate: threads mode/, 0);
    expect(out.status).toBe(143);
    expect(out.stderr).toMatch(/calibrate: interrupted .*nothing written/);
    expect(existsSync(file)).toBe(false);
  });
});
