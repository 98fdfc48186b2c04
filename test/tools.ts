// Running the Debian tools some tests check against (tshark, text2pcap): their output, or an
// error that says which command failed and how (not installed, its exit status and stderr,
// a signal), never "failed: null". test/deps.sh installs them.

import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

/** Run `cmd args`; its stdout, or an Error naming the command and what went wrong. */
export function tool(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  const line = `${cmd} ${args.join(' ')}`;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${line}: ${cmd} is not installed (bash test/deps.sh installs it)` : `${line}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const how = r.signal !== null ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new Error(`${line}: ${how}: ${String(r.stderr).trim() || '(nothing on stderr)'}`);
  }
  return String(r.stdout);
}
