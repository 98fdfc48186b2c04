// --pcap FILE: the capture read, parsed and classified once, before any worker starts; a
// mistake in it is one ConfigError line naming the file. The result is kept (by path, size and
// modification time), so the engine that runs the configuration reuses it.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from './schema.js';
import { CaptureError, readCapture } from '../uapi/pcap.js';
import { buildReplay, type Replay } from '../devices/replay.js';

const cache = new Map<string, { key: string; replay: Replay }>();

/** The replay of capture `file` (read and checked once per file version). Throws ConfigError. */
export function loadReplay(file: string): Replay {
  let key: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new ConfigError(`--pcap ${file}: not a file`);
    key = `${st.size}:${st.mtimeMs}`;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`--pcap ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  const hit = cache.get(file);
  if (hit !== undefined && hit.key === key) return hit.replay;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new ConfigError(`--pcap ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  let replay: Replay;
  try {
    replay = buildReplay(readCapture(bytes));
  } catch (e) {
    if (e instanceof CaptureError) throw new ConfigError(`--pcap ${file}: ${e.message}`);
    throw e;
  }
  cache.set(file, { key, replay });
  return replay;
}

/** --tap FILE: a file that can be written (its directory exists and is writable; not a directory). Throws ConfigError. */
export function checkTapPath(file: string): void {
  try {
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new ConfigError(`--tap ${file}: is a directory; give a file name`);
    accessSync(dirname(file), constants.W_OK);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`--tap ${file}: cannot write there (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
}
