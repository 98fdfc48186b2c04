// What every command-line mistake must look like (docs/cli.md): exit status 2, nothing on
// stdout, exactly one line on stderr naming the mistake, no stack trace.

import { expect } from 'vitest';
import { cli } from './e2e.js';

/** Runs `rxsmp ...args`, expects it to be rejected with `message`, and returns stderr. */
export function rejects(args: string[], message: RegExp): string {
  const r = cli(args);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}
