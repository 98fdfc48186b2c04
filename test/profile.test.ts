/**
 * profile.test.ts: `rxsmp run --profile DIR` leaves one parseable V8 .cpuprofile per thread:
 * each emulated CPU, the device and the coordinator (threads mode), or the one sim thread.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './e2e.js';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

const load = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Profile;
/**
 * The functions the profile's frames ran (the workers and the CLI are bundles, so a frame's
 * file is its bundle's: the names are what tell the code apart).
 */
const functions = (p: Profile) => new Set(p.nodes.map((n) => n.callFrame.functionName));

describe('run --profile DIR', () => {
  it('threads mode: a profile for each CPU, the device and the coordinator, each sampling its own code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-prof-'));
    const p = cli(['run', '--cpus', '2', '--packets', '200000', '--device', 'thread', '--profile', dir, '--json']);
    expect(p.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['coordinator.cpuprofile', 'cpu0.cpuprofile', 'cpu1.cpuprofile', 'device.cpuprofile']);
    for (const f of readdirSync(dir)) {
      const prof = load(join(dir, f));
      expect(prof.nodes.length).toBeGreaterThan(1);
      expect(prof.samples.length).toBeGreaterThan(0);
      expect(prof.timeDeltas.length).toBe(prof.samples.length);
    }
    expect(functions(load(join(dir, 'cpu0.cpuprofile'))).has('net_rx_action')).toBe(true);
    expect(functions(load(join(dir, 'cpu0.cpuprofile'))).has('burst')).toBe(false);
    expect(functions(load(join(dir, 'device.cpuprofile'))).has('burst')).toBe(true);
  });

  it('sim mode: one profile of the one thread; a --profile that is a file is one line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-prof-'));
    expect(cli(['run', '--mode', 'sim', '--packets', '50000', '--profile', dir, '--json']).status).toBe(0);
    expect(readdirSync(dir)).toEqual(['sim.cpuprofile']);
    expect(functions(load(join(dir, 'sim.cpuprofile'))).has('run_cpu')).toBe(true);
    const bad = cli(['run', '--profile', join(dir, 'sim.cpuprofile')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n').length).toBe(1);
  });
});
