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
/** The source files the profile's sampled frames came from. */
const files = (p: Profile) => new Set(p.nodes.map((n) => n.callFrame.url.split('/').slice(-2).join('/')));

describe('run --profile DIR', () => {
  it('threads mode: a profile for each CPU, the device and the coordinator, each sampling its own code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-prof-'));
    const p = cli(['run', '--cpus', '2', '--packets', '200000', '--profile', dir, '--json']);
    expect(p.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['coordinator.cpuprofile', 'cpu0.cpuprofile', 'cpu1.cpuprofile', 'device.cpuprofile']);
    for (const f of readdirSync(dir)) {
      const prof = load(join(dir, f));
      expect(prof.nodes.length).toBeGreaterThan(1);
      expect(prof.samples.length).toBeGreaterThan(0);
      expect(prof.timeDeltas.length).toBe(prof.samples.length);
    }
    expect(files(load(join(dir, 'cpu0.cpuprofile'))).has('cpu/runtime.js')).toBe(true);
    expect(files(load(join(dir, 'device.cpuprofile'))).has('devices/generator.js')).toBe(true);
  });

  it('sim mode: one profile of the one thread; a --profile that is a file is one line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsmp-prof-'));
    expect(cli(['run', '--mode', 'sim', '--packets', '50000', '--profile', dir, '--json']).status).toBe(0);
    expect(readdirSync(dir)).toEqual(['sim.cpuprofile']);
    expect(files(load(join(dir, 'sim.cpuprofile'))).has('cpu/sim.js')).toBe(true);
    const bad = cli(['run', '--profile', join(dir, 'sim.cpuprofile')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n').length).toBe(1);
  });
});
