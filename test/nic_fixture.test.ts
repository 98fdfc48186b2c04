/**
 * nic_fixture.test.ts: what adding a NIC costs (issue 27). A fixture adds `ixclone`, an ixgbe
 * clone under another name with another ring default (1024, ixgbe's is 512), to a copy of the
 * tree: its configuration record in config/nics.ts and its driver in drivers/table.ts, nothing
 * else (docs/design.md, "Adding a NIC"). The copy must type-check and build, and the clone must
 * run in both runtimes: packets conserved, its own name and ring default in the JSON config,
 * and, in sim mode, the same run as ixgbe with --ring-size 1024 to the byte, its name apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureTree, patchOnce, type FixtureTree } from './fixture_tree.js';

const CLONE = 'ixclone';
const CLONE_RING = 1024;

interface RunJson {
  config: Record<string, unknown>;
  packets: { generated: number; delivered: number; dropped: Record<string, number> };
  nic_stats: Record<string, number>;
  sim?: Record<string, unknown>;
  command?: string;
}

let tree: FixtureTree;

beforeAll(() => {
  tree = fixtureTree({
    'src/config/nics.ts': (old) =>
      patchOnce(
        old,
        'export const NIC_MODELS = { ixgbe, legacy, virtio }',
        `export const NIC_MODELS = { ixgbe, legacy, virtio, ${CLONE}: { ...ixgbe, ring_size: ${CLONE_RING} } }`,
      ),
    'src/drivers/table.ts': (old) =>
      patchOnce(old, '  virtio: VIRTIO_NET_DRIVER,\n', `  virtio: VIRTIO_NET_DRIVER,\n  ${CLONE}: IXGBE_DRIVER,\n`),
  });
}, 600_000);

afterAll(() => tree?.remove());

/** The copy's `run ... --json`, parsed; fails the test with its stderr when it exits non-zero. */
function run(args: string[]): RunJson {
  const r = tree.cli(['run', ...args, '--json'], 300_000);
  expect(r.status, `rxsmp run ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as RunJson;
}

const conserved = (r: RunJson) => r.packets.generated === r.packets.delivered + Object.values(r.packets.dropped).reduce((a, b) => a + b, 0);

/** The run document without what varies by the wall clock or echoes the command line (as simcmp.sh drops it). */
function deterministic(r: RunJson): RunJson {
  const d = structuredClone(r);
  delete d.command;
  delete d.sim?.wall_s;
  delete d.sim?.sim_pps_wall;
  return d;
}

describe('a NIC added as a fixture: an ixgbe clone with its own ring default', () => {
  it('touches at most 3 source files', () => {
    expect(tree.touched).toEqual(['src/config/nics.ts', 'src/drivers/table.ts']);
    expect(tree.touched.length).toBeLessThanOrEqual(3);
  });

  it('is listed by --help and refused under a wrong name with the new list', () => {
    const help = tree.cli(['run', '--help']);
    expect(help.stdout).toContain(CLONE);
    const bad = tree.cli(['run', '--mode', 'sim', '--nic', 'ixclonex', '--packets', '100']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(CLONE);
  });

  it('sim mode: conserves, shows its name and ring default, and equals ixgbe with that ring to the byte', () => {
    const common = ['--mode', 'sim', '--cpus', '2', '--rps-cpus', '3', '--packets', '20000'];
    const clone = run([...common, '--nic', CLONE]);
    expect(conserved(clone)).toBe(true);
    expect(clone.packets.delivered).toBeGreaterThan(0);
    expect(clone.config.nic).toBe(CLONE);
    expect(clone.config.ring_size).toBe(CLONE_RING);
    expect(clone.config.queues).toBe(2); // ixgbe's default: a queue per CPU
    expect(clone.nic_stats.rx_pkts_nic).toBe(clone.packets.generated); // ixgbe's ethtool -S
    const ixgbe = run([...common, '--nic', 'ixgbe', '--ring-size', String(CLONE_RING)]);
    expect(ixgbe.config.nic).toBe('ixgbe');
    const a = deterministic(clone);
    const b = deterministic(ixgbe);
    b.config.nic = CLONE;
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    // and the ring default is the clone's own: ixgbe's default run differs
    const ixgbeDefault = run([...common, '--nic', 'ixgbe']);
    expect(ixgbeDefault.config.ring_size).toBe(512);
  });

  it('sim mode --proc: its vectors named as ixgbe names them', () => {
    const dir = join(tree.dir, 'proc-out');
    const r = tree.cli(['run', '--mode', 'sim', '--nic', CLONE, '--cpus', '2', '--packets', '2000', '--proc', dir]);
    expect(r.status, r.stderr).toBe(0);
    const irqs = readFileSync(join(dir, 'interrupts'), 'utf8');
    expect(irqs).toMatch(/PCI-MSI \d+-edge\s+eth0-TxRx-0\n/);
    expect(irqs).toMatch(/eth0-TxRx-1\n/);
  });

  it('threads mode: conserves, with its name and ring default in the JSON config', () => {
    const clone = run(['--nic', CLONE, '--cpus', '2', '--packets', '20000']);
    expect(conserved(clone)).toBe(true);
    expect(clone.packets.generated).toBe(20000);
    expect(clone.packets.delivered).toBeGreaterThan(0);
    expect(clone.config.nic).toBe(CLONE);
    expect(clone.config.ring_size).toBe(CLONE_RING);
    expect(clone.config.mode).toBe('threads');
  });
});
