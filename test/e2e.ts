// Helpers for tests that run real emulations (worker threads) through the library or the CLI.
// Threads-mode tests assert only what the host's speed cannot change (docs/testing.md):
// conservation, the skb audit, per-flow order where Linux keeps it, relations between
// counters, presence and shape of fields. Exact counts, ratios and rates live in sim mode.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runEmulation } from '../dist/src/engine/run.js';
import { conserves, unread, type RunResult } from '../dist/src/engine/result.js';
import { config } from './harness.js';

export const CLI = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));

/**
 * Run an emulation in threads mode with these flags; fails the test if it does not conserve or
 * ends before the applications have read everything delivered to their sockets.
 */
export async function run(flags: Record<string, string | number | boolean>): Promise<RunResult> {
  const r = await runEmulation(config(flags));
  if (!conserves(r)) throw new Error(`run does not conserve: ${JSON.stringify(r.packets)}`);
  if (unread(r) !== 0) throw new Error(`run ended with ${unread(r)} delivered packets unread by their applications`);
  return r;
}

export function cli(args: string[], timeout = 120_000): { status: number | null; stdout: string; stderr: string } {
  const p = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Each CPU took its vectors' interrupts, whatever the host's timing: the device auto-masks a
 * vector when it fires (EIAM) until the driver unmasks it after the poll, so at most one is
 * outstanding per vector, and only the run's stop can leave it untaken. Per CPU: hardirqs <=
 * interrupts of the queues affine to it <= hardirqs + those queues. A queue never interrupts
 * more often than it writes back descriptors. For runs whose affinity does not change.
 */
export function expectVectorsTaken(r: RunResult): void {
  for (const p of r.percpu) {
    const mine = r.queues.filter((q) => q.cpu === p.cpu);
    const raised = sum(mine.map((q) => q.interrupts));
    expect(p.hardirqs, `cpu ${p.cpu} hardirqs`).toBeLessThanOrEqual(raised);
    expect(raised, `cpu ${p.cpu}: interrupts raised`).toBeLessThanOrEqual(p.hardirqs + mine.length);
  }
  for (const q of r.queues) expect(q.interrupts, `queue ${q.queue}`).toBeLessThanOrEqual(q.rx_packets);
}

/** Every IPI sent was received: sum of ipis_sent == sum of ipis_received. */
export function expectIpisReceived(r: RunResult): void {
  expect(sum(r.percpu.map((p) => p.ipis_received))).toBe(sum(r.percpu.map((p) => p.ipis_sent)));
}

/** An ordering report that agrees with itself: a first offender exactly when there was disorder, overtaken by an earlier index. */
export function expectOrderingReport(r: RunResult, flows: number): void {
  const o = r.ordering;
  expect(o.out_of_order === 0).toBe(o.first === null);
  expect(o.flows_out_of_order).toBeLessThanOrEqual(Math.min(o.out_of_order, flows));
  if (o.first === null) return;
  expect(o.flows_out_of_order).toBeGreaterThan(0);
  expect(o.first.got_index).toBeLessThan(o.first.expected_index);
  expect(o.first.flow).toBeGreaterThanOrEqual(0);
  expect(o.first.flow).toBeLessThan(flows);
}
