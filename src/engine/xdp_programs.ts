// The test XDP programs (test/xdp/*.c) built as a user builds them, with Debian's clang
// against libbpf's headers: `clang -O2 -g -target bpf -c prog.c -o prog.o` (plus the
// multiarch include directory that <linux/types.h> needs for <asm/types.h>). Objects are
// written next to their sources (test/xdp/NAME.o, ignored by git) and rebuilt when a source
// is newer. The tests, the engine's bench and the fuzz campaign's XDP draws use them.

import { execFileSync } from 'node:child_process';
import { readdirSync, renameSync, statSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { PACKAGE_DIR } from '../paths.js';

/** test/xdp/ of the checkout. */
export const XDP_DIR = fileURLToPath(new URL('test/xdp/', PACKAGE_DIR));

/** The test programs of the issue, by file name. */
export const XDP_PROGRAMS = ['pass', 'drop', 'drop_port', 'count_cpu', 'tx_swap', 'cpumap'] as const;

let multiarch: string | undefined;

function includeDir(): string {
  multiarch ??= execFileSync('clang', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  return `/usr/include/${multiarch}`;
}

const mtime = (f: string) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0;

/** A test program's object for a path in XDP_DIR (NAME.o), built if needed; other paths as given. */
export function ensureXdpObject(path: string): void {
  if (!path.startsWith(XDP_DIR) || !path.endsWith('.o')) return;
  const name = path.slice(XDP_DIR.length, -2);
  if (/^[\w-]+$/.test(name)) buildXdp(name);
}

/** test/xdp/NAME.o, built from NAME.c if it is missing or older than the sources; extra clang flags in `flags` (then NAME-suffix.o). */
export function buildXdp(name: string, flags: string[] = [], suffix = ''): string {
  const src = `${XDP_DIR}${name}.c`;
  const obj = `${XDP_DIR}${name}${suffix}.o`;
  const newest = Math.max(
    mtime(src),
    ...readdirSync(XDP_DIR)
      .filter((f) => f.endsWith('.h'))
      .map((f) => mtime(XDP_DIR + f)),
  );
  if (mtime(obj) < newest) {
    // Into a file of this thread's own, then renamed: fuzz workers may build at once.
    const tmp = `${obj}.${process.pid}.${threadId}.tmp`;
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I${includeDir()}`, ...flags, '-c', src, '-o', tmp], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(tmp, obj);
  }
  return obj;
}
