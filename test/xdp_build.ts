// Builds the test XDP programs (test/xdp/*.c) as a user would, with Debian's clang against
// libbpf's headers: `clang -O2 -g -target bpf -c prog.c -o prog.o` (plus the multiarch include
// directory that <linux/types.h> needs for <asm/types.h>). Objects are written next to their
// sources (test/xdp/NAME.o, ignored by git) and rebuilt when a source is newer.

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** test/xdp/ of the checkout, from here or from the build (dist/test/, when bench/bpf.ts imports this). */
export const XDP_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/test/') ? '../../test/xdp/' : './xdp/', import.meta.url));

/** The test programs of the issue, by file name. */
export const XDP_PROGRAMS = ['pass', 'drop', 'drop_port', 'count_cpu', 'tx_swap', 'cpumap'] as const;

let multiarch: string | undefined;

function includeDir(): string {
  multiarch ??= execFileSync('clang', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  return `/usr/include/${multiarch}`;
}

const mtime = (f: string) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0;

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
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I${includeDir()}`, ...flags, '-c', src, '-o', obj], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  return obj;
}
