#!/usr/bin/env node
// The `rxsmp` executable. Everything it does is in cli_main.ts (importable without running).
import { main } from './cli_main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`rxsmp: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
