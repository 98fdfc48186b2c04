// --pcap FILE: the capture read, parsed and classified once, before any worker starts; a
// mistake in it is one ConfigError line naming the file. The result is kept (by path, size and
// modification time), so resolving the configuration (its summary, configure.ts) and booting
// the run (its frames) read it once. config/ does no I/O: it is handed the summary.

import { statSync } from 'node:fs';
import { ConfigError } from '../config/schema.js';
import { checkOutputFile, errnoText, named, readInput } from '../host/files.js';
import { CaptureError, readCapture } from '../uapi/pcap.js';
import { buildReplay, type Replay } from '../devices/replay.js';

const cache = new Map<string, { key: string; replay: Replay }>();

/** The replay of capture `file` (read and checked once per file version). Throws ConfigError. */
export function loadReplay(file: string): Replay {
  let key: string;
  try {
    const st = statSync(file);
    key = `${st.size}:${st.mtimeMs}`;
  } catch (e) {
    throw new ConfigError(`${named('--pcap', file)}: cannot read it (${errnoText(e)})`);
  }
  const hit = cache.get(file);
  if (hit !== undefined && hit.key === key) return hit.replay;
  const bytes = readInput('--pcap', file, 'capture');
  let replay: Replay;
  try {
    replay = buildReplay(readCapture(bytes));
  } catch (e) {
    if (e instanceof CaptureError) throw new ConfigError(`${named('--pcap', file)}: ${e.message}`);
    throw e;
  }
  cache.set(file, { key, replay });
  return replay;
}

/**
 * --tap FILE: a file that can be written under the output rules (src/host/files.ts): not a
 * link or a directory, in a directory that takes a new file. Whether an existing file may be
 * replaced (--force) is the command's to check. Throws ConfigError.
 */
export function checkTapPath(file: string): void {
  checkOutputFile('--tap', file, { force: true });
}
