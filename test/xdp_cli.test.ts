// --xdp and --xdp-map through the command line (the built CLI, as a user runs it): a bad
// object is one line and exit 2 before any worker starts (must-show 6, the loader's half),
// map entries are checked as the kernel's map updates check them, and a config file's
// xdp_map block is read like the flag. Until the driver hooks exist (issue 25 phase 2), a
// good object loads and the run stops with one line saying the hook is not yet wired.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejects as rejectsCli } from './cli_expect.js';
import { buildXdp } from './xdp_build.js';

const rejects = (args: string[], message: RegExp) => rejectsCli(['run', ...args], message);
const dir = mkdtempSync(join(tmpdir(), 'rxsmp-xdp-'));
const obj: Record<string, string> = {};

beforeAll(() => {
  for (const n of ['drop_port', 'cpumap', 'bad_helper', 'bad_jump', 'pass', 'count_cpu', 'helpers']) obj[n] = buildXdp(n);
});

describe('bad objects: one line, exit 2, nothing runs', () => {
  it('a text file', () => {
    const f = join(dir, 'prog.c');
    writeFileSync(f, 'int main(void) { return 0; }\n');
    rejects(['--xdp', f], /^rxsmp: --xdp .*prog\.c: not an ELF file \(a BPF object is what clang -target bpf -c writes\)$/m);
  });

  it('an x86-64 ELF (/bin/true)', () => {
    rejects(
      ['--xdp', '/bin/true'],
      /^rxsmp: --xdp \/bin\/true: an ELF file for x86-64, not a BPF object \(e_machine 62, expected EM_BPF 247\)$/m,
    );
  });

  it('a program calling an unknown helper', () => {
    rejects(['--xdp', obj.bad_helper!], /--xdp .*bad_helper\.o: instruction 0 calls unknown helper 9999 .*invalid func unknown#9999/);
  });

  it('a jump out of the program', () => {
    rejects(['--xdp', obj.bad_jump!], /--xdp .*bad_jump\.o: instruction 1 jumps out of the program, to 1002 \(5 instructions/);
  });

  it('a map of a type rxsmp does not model, an unknown map type, a cpumap given to bpf_map_lookup_elem', () => {
    rejects(['--xdp', buildXdp('bad_maps', ['-DRINGBUF'], '-ringbuf')], /map 'events' is a ringbuf map, which rxsmp does not model/);
    rejects(
      ['--xdp', buildXdp('bad_maps', ['-DUNKNOWN'], '-unknown')],
      /map 'odd' has unknown map type 99 \(not a map type of Linux 5\.10\)/,
    );
    rejects(
      ['--xdp', buildXdp('bad_maps', ['-DCPUMAP'], '-cpumap')],
      /instruction \d+: bpf_map_lookup_elem on cpumap 'cpu_map', which takes only bpf_redirect_map \("cannot pass map_type 16 into func bpf_map_lookup_elem#1"\)$/m,
    );
  });

  it('an object deep in a long directory: the whole complaint, the file name clipped from its start', () => {
    const deep = join(dir, 'a'.repeat(100), 'b'.repeat(100));
    mkdirSync(deep, { recursive: true });
    const cases: [string, RegExp][] = [
      [
        buildXdp('bad_maps', ['-DCPUMAP'], '-cpumap'),
        /'cpu_map', which takes only bpf_redirect_map \("cannot pass map_type 16 into func bpf_map_lookup_elem#1"\)$/m,
      ],
      [buildXdp('bad_maps', ['-DRINGBUF'], '-ringbuf'), /which rxsmp does not model \(it has hash, array, .*, cpumap\)$/m],
      [obj.bad_helper!, /calls unknown helper 9999 \(no such helper in Linux 5\.10: "invalid func unknown#9999"\)$/m],
      [obj.bad_jump!, /jumps out of the program, to 1002 \(5 instructions: "jump out of range from insn 1 to 1002"\)$/m],
    ];
    for (const [src, message] of cases) {
      const f = join(deep, basename(src));
      copyFileSync(src, f);
      const line = rejects(['--xdp', f], message).trimEnd();
      expect(line.startsWith(`rxsmp: --xdp ...bbbb`), line).toBe(true);
      expect(line).toContain(`b/${basename(src)}: `);
      expect(line).not.toContain(' ... ');
      expect(line.length).toBeLessThanOrEqual(200);
    }
  });

  it('a missing file, a missing section, a truncated object', () => {
    rejects(['--xdp', join(dir, 'nope.o')], /--xdp .*nope\.o: cannot read it \(ENOENT/);
    rejects(['--xdp', `${obj.pass}:xdp_drop`], /no program section 'xdp_drop' \(its program sections: xdp\); name one as FILE:SECTION/);
    const cut = join(dir, 'cut.o');
    writeFileSync(cut, readFileSync(obj.drop_port!).subarray(0, 600));
    rejects(['--xdp', cut], /--xdp .*cut\.o: .*(truncated|damaged)/);
  });
});

describe('--xdp-map', () => {
  it('names the map, the entry and what the kernel would refuse', () => {
    rejects(['--xdp', obj.drop_port!, '--xdp-map', 'ports=53:0'], /--xdp-map ports=53:0: .* has no map 'ports' \(its maps: drop_ports\)/);
    rejects(['--xdp', obj.drop_port!, '--xdp-map', 'drop_ports=0x35:0'], /key 0x35 gives 1 bytes; the field has 4/);
    rejects(['--xdp', obj.drop_port!, '--xdp-map', 'drop_ports=53'], /'53' is not KEY:VALUE/);
    rejects(
      ['--xdp', obj.cpumap!, '--cpus', '2', '--xdp-map', 'cpu_map=2:64'],
      /cpumap 'cpu_map': the CPU does not exist with --cpus 2 \(-ENODEV\)/,
    );
    rejects(['--xdp', obj.cpumap!, '--xdp-map', 'cpu_map=1:20000'], /a cpumap qsize above 16384 \(-EOVERFLOW\)/);
    rejects(['--xdp', obj.cpumap!, '--xdp-map', 'cpus_available=64:1'], /the key is beyond max_entries 64 \(-E2BIG\)/);
    rejects(['--xdp', obj.helpers!, '--xdp-map', 'tx_port=0:2'], /a devmap entry may only name ifindex 1, the emulated NIC \(-ENODEV\)/);
    rejects(['--xdp-map', 'drop_ports=53:0'], /--xdp-map: gives map contents for --xdp, which is not given/);
    // A cpumap entry's second program: fd N is the object's Nth program section, a cpumap program.
    const two = buildXdp('cpumap_prog');
    rejects(['--xdp', two, '--xdp-map', 'cpu_map=1:0x4000000001000000'], /bpf_prog fd 1 must name a cpumap program, .*-EINVAL/);
  });
});

describe('a good object loads, then (phase 1) stops: the hook is not yet wired', () => {
  it('from flags', () => {
    const err = rejects(
      ['--xdp', obj.cpumap!, '--xdp-map', 'cpu_map=0:192,1:192', '--xdp-map', 'cpus_available=0:0,1:1;cpus_count=0:2'],
      /loaded section 'xdp' \(xdp_cpumap_hash, \d+ instructions, maps .*not yet wired/,
    );
    expect(err).not.toMatch(/at /);
  });

  it('with a cpumap entry that names a second program', () => {
    rejects(
      ['--xdp', buildXdp('cpumap_prog'), '--xdp-map', 'cpu_map=1:0x4000000002000000'],
      /loaded section 'xdp' \(xdp_to_cpu1, .*not yet wired/,
    );
  });

  it('from a config file: xdp and an xdp_map block', () => {
    const f = join(dir, 'xdp.yaml');
    writeFileSync(f, `xdp: ${obj.drop_port}\nxdp_map:\n  drop_ports:\n    53: 0\n    8080: 0\n`);
    rejects(['--config', f], /loaded section 'xdp' \(xdp_drop_port, .*not yet wired/);
    writeFileSync(f, `xdp: ${obj.drop_port}\nxdp_map:\n  drop_ports:\n    53: 70000000000000000000\n`);
    rejects(['--config', f], /--xdp-map drop_ports=53:70000000000000000000: value 70000000000000000000 does not fit the field's 8 bytes/);
  });
});
