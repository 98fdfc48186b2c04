// Helpers for tests that run real emulations (worker threads) through the library or the CLI.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
