#!/usr/bin/env node
// The `rxsmp` executable. Everything it does is in cli_main.ts (importable without running).
import { main } from './cli_main.js';

// A reader that stops early (`rxsmp run | head -1`) closes the pipe: stop quietly, as Unix
// tools do, instead of a stack trace from the next write.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`rxsmp: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
