// --xdp and --xdp-map through the command line (the built CLI, as a user runs it): a bad
// object is one line and exit 2 before any worker starts (must-show 6, the loader's half),
// map entries are checked as the kernel's map updates check them, a config file's xdp_map
// block is read like the flag, a good object runs (sim mode here: exact counts) and what the
// driver refuses at attach (virtnet_xdp_set) is one line.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejects as rejectsCli } from './cli_expect.js';
import { cli, sum } from './e2e.js';
import { buildXdp } from './xdp_build.js';
import type { RunResult } from '../dist/src/engine/result.js';

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
    rejects(['--xdp', obj.bad_helper], /--xdp .*bad_helper\.o: instruction 0 calls unknown helper 9999 .*invalid func unknown#9999/);
  });

  it('a jump out of the program', () => {
    rejects(['--xdp', obj.bad_jump], /--xdp .*bad_jump\.o: instruction 1 jumps out of the program, to 1002 \(5 instructions/);
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
      [obj.bad_helper, /calls unknown helper 9999 \(no such helper in Linux 5\.10: "invalid func unknown#9999"\)$/m],
      [obj.bad_jump, /jumps out of the program, to 1002 \(5 instructions: "jump out of range from insn 1 to 1002"\)$/m],
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
    writeFileSync(cut, readFileSync(obj.drop_port).subarray(0, 600));
    rejects(['--xdp', cut], /--xdp .*cut\.o: .*(truncated|damaged)/);
  });
});

describe('--xdp-map', () => {
  it('names the map, the entry and what the kernel would refuse', () => {
    rejects(['--xdp', obj.drop_port, '--xdp-map', 'ports=53:0'], /--xdp-map ports=53:0: .* has no map 'ports' \(its maps: drop_ports\)/);
    rejects(['--xdp', obj.drop_port, '--xdp-map', 'drop_ports=0x35:0'], /key 0x35 gives 1 bytes; the field has 4/);
    rejects(['--xdp', obj.drop_port, '--xdp-map', 'drop_ports=53'], /'53' is not KEY:VALUE/);
    rejects(
      ['--xdp', obj.cpumap, '--cpus', '2', '--xdp-map', 'cpu_map=2:64'],
      /cpumap 'cpu_map': the CPU does not exist with --cpus 2 \(-ENODEV\)/,
    );
    rejects(['--xdp', obj.cpumap, '--xdp-map', 'cpu_map=1:20000'], /a cpumap qsize above 16384 \(-EOVERFLOW\)/);
    rejects(['--xdp', obj.cpumap, '--xdp-map', 'cpus_available=64:1'], /the key is beyond max_entries 64 \(-E2BIG\)/);
    rejects(['--xdp', obj.helpers, '--xdp-map', 'tx_port=0:2'], /a devmap entry may only name ifindex 1, the emulated NIC \(-ENODEV\)/);
    rejects(['--xdp-map', 'drop_ports=53:0'], /--xdp-map: gives map contents for --xdp, which is not given/);
    // A cpumap entry's second program: fd N is the object's Nth program section, a cpumap program.
    const two = buildXdp('cpumap_prog');
    rejects(['--xdp', two, '--xdp-map', 'cpu_map=1:0x4000000001000000'], /bpf_prog fd 1 must name a cpumap program, .*-EINVAL/);
  });
});

/** `rxsmp run --mode sim ... --json`: the run contract, or the test fails with the CLI's stderr. */
function simRun(args: string[]): RunResult {
  const r = cli(['run', '--mode', 'sim', '--packets', '5000', '--json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as RunResult;
}

describe('a good object runs', () => {
  it('from flags: the entries go into the maps, the config block shows them, the cpumaps report', () => {
    const r = simRun([
      '--cpus',
      '2',
      '--xdp',
      obj.cpumap,
      '--xdp-map',
      'cpu_map=0:192,1:192',
      '--xdp-map',
      'cpus_available=0:0,1:1;cpus_count=0:2',
    ]);
    expect(r.config.xdp_map).toEqual(['cpu_map=0:192,1:192', 'cpus_available=0:0,1:1', 'cpus_count=0:2']);
    expect(r.xdp!.program).toMatchObject({ section: 'xdp', name: 'xdp_cpumap_hash' });
    expect(r.xdp!.maps.cpu_map.entries.map((e) => e.key)).toEqual([0, 1]);
    expect(r.xdp!.cpumaps.cpu_map.map((e) => [e.cpu, e.qsize])).toEqual([
      [0, 192],
      [1, 192],
    ]);
    const kt = r.xdp!.cpumaps.cpu_map.reduce((a, e) => a + e.kthread_processed, 0);
    expect(kt + r.packets.dropped.cpumap).toBe(5000); // every frame went to a kthread, or found its ring full
    expect(sum(r.percpu.map((p) => p.processed))).toBe(kt); // netif_receive_skb_core on the kthreads only
  });

  it("with a cpumap entry's second program: it runs on the entry's CPU, for every frame", () => {
    const r = simRun(['--cpus', '2', '--xdp', buildXdp('cpumap_prog'), '--xdp-map', 'cpu_map=1:0x4000000002000000']);
    const e = r.xdp!.cpumaps.cpu_map[0];
    expect([e.cpu, e.qsize]).toEqual([1, 64]);
    expect(e.prog_pass).toBe(e.kthread_processed);
    expect(r.xdp!.maps.on_kthread.entries[0].values).toEqual([
      { cpu: 0, value: 0 },
      { cpu: 1, value: e.kthread_processed },
    ]);
    expect(r.packets.delivered + r.packets.dropped.cpumap + r.packets.dropped.socket).toBe(5000);
  });

  it('from a config file: xdp and an xdp_map block', () => {
    const f = join(dir, 'xdp.yaml');
    writeFileSync(f, `xdp: ${obj.drop_port}\nxdp_map:\n  drop_ports:\n    53: 0\n    8080: 0\n`);
    const r = simRun(['--config', f]);
    expect(r.xdp!.maps.drop_ports.entries.map((e) => e.key).sort()).toEqual([53, 8080]);
    writeFileSync(f, `xdp: ${obj.drop_port}\nxdp_map:\n  drop_ports:\n    53: 70000000000000000000\n`);
    rejects(['--config', f], /--xdp-map drop_ports=53:70000000000000000000: value 70000000000000000000 does not fit the field's 8 bytes/);
  });
});

describe("what the driver refuses when the program is attached (virtnet_xdp_set), and the mode's limits: one line, exit 2", () => {
  it('virtio: too few queue pairs for an XDP TX queue per CPU', () => {
    rejects(
      ['--nic', 'virtio', '--cpus', '2', '--queues', '2', '--xdp', obj.pass],
      /^rxsmp: --xdp .*pass\.o: virtnet_xdp_set: too few free TX rings \(-ENOMEM\): --queues 2 \+ an XDP TX queue per CPU \(--cpus 2\) need 4 queue pairs, --virtio-max-queue-pairs is 2$/m,
    );
    // The device offering enough: it runs; generic XDP needs no TX queues of the driver's.
    expect(simRun(['--nic', 'virtio', '--cpus', '2', '--queues', '2', '--virtio-max-queue-pairs', '4', '--xdp', obj.pass]).xdp!.mode).toBe(
      'native',
    );
    expect(simRun(['--nic', 'virtio', '--cpus', '2', '--xdp-mode', 'generic', '--xdp', obj.pass]).xdp!.mode).toBe('generic');
  });

  it('virtio: an MTU above a page less the header', () => {
    rejects(
      ['--nic', 'virtio', '--pkt-size', '9018', '--virtio-max-queue-pairs', '8', '--xdp', obj.pass],
      /^rxsmp: --xdp .*: virtnet_xdp_set: MTU too large to enable XDP \(-EINVAL\): --pkt-size 9018 is MTU 9000, XDP needs below 4081$/m,
    );
  });

  it('the legacy driver has no native hook; a device offers at least the queue pairs the guest uses', () => {
    rejects(
      ['--nic', 'legacy', '--xdp-mode', 'native', '--xdp', obj.pass],
      /^rxsmp: --xdp-mode: native XDP needs a driver with an XDP hook \(ixgbe, virtio\)/m,
    );
    expect(simRun(['--nic', 'legacy', '--xdp', obj.pass]).xdp!.mode).toBe('generic');
    rejects(
      ['--nic', 'virtio', '--queues', '2', '--virtio-max-queue-pairs', '1'],
      /^rxsmp: --virtio-max-queue-pairs: 1 is below --queues 2/m,
    );
  });
});
