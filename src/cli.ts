#!/usr/bin/env node
// The `rxsmp` executable. Everything it does is in cli/main.ts (importable without running).
import { main } from './cli/main.js';
import { guardStdout, stdoutFailed } from './host/files.js';

// A write to stdout that fails (a full disk, `rxsmp run | head -1` closing the pipe) is one
// line on stderr and exit status 2, never a stack trace (src/host/files.ts).
guardStdout();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = stdoutFailed() ? 2 : code;
  },
  (e: unknown) => {
    process.stderr.write(`rxsmp: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
