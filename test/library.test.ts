// The library API: the README's example, run exactly as written; run()'s defaults, its
// errors, progress and cancellation; YAML config files; the shared-memory limit.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from './e2e.js';
import * as api from '../dist/src/index.js';
import { run, ConfigError, type Progress, type RunDocument } from '../dist/src/index.js';
import { conserves } from '../dist/src/engine/result.js';
import { DEFAULTS } from '../dist/src/config/schema.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rxsmp-lib-'));

/** The code block after the README's library-example marker. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- library-example[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no library-example block');
  return m[1];
}

describe("the README's library example", () => {
  it('runs as written (importing the package by its name) and reports a conserving run', () => {
    // Inside the package, so `import ... from 'rxsmp'` resolves through package.json's exports.
    const file = join(ROOT, `.readme-example-${process.pid}.mjs`);
    writeFileSync(file, readmeExample());
    try {
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const m = /^generated (\d+), delivered (\d+), dropped (\d+)$/.exec(r.stdout.trim());
      expect(m).not.toBeNull();
      const [g, d, x] = m!.slice(1).map(Number);
      expect(g).toBe(50_000);
      expect(d + x).toBe(g);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe('the package exports', () => {
  it('run and compare, ConfigError to tell a mistake, and nothing else that runs (the rest are types)', () => {
    expect(Object.keys(api).sort()).toEqual(['ConfigError', 'compare', 'run']);
  });
});

describe('run()', () => {
  it('fills in the defaults and resolves to the run contract document', async () => {
    const doc: RunDocument = await run({ mode: 'sim', packets: 5000 });
    expect(doc.schema).toBe('rxsmp.run/1');
    expect(conserves(doc)).toBe(true);
    expect(doc.config.cpus).toBe(DEFAULTS.cpus);
    expect(doc.config.packets).toBe(5000);
    expect('sim' in doc).toBe(true);
  });

  it('takes kebab-case and snake_case keys, and the values a config file takes', async () => {
    const doc = await run({ mode: 'sim', packets: 2000, 'rps-cpus': 'f', cpus: 4, queues: '1', gro: false, app_cpus: [1, 2] });
    const cfg = doc.config;
    expect(cfg.rps_cpus).toEqual(['f']);
    expect(cfg.queues).toBe(1);
    expect(cfg.gro).toBe(false);
    expect(cfg.app_cpus).toEqual([1, 2]);
  });

  it('rejects a mistake with the one line the command line prints', async () => {
    await expect(run({ cpu: 4 })).rejects.toThrow(
      new ConfigError("run(): unknown key 'cpu' (did you mean cpus?); keys are the options' names (rxsmp run --help-all)"),
    );
    await expect(run({ cpus: 100 })).rejects.toThrow(/^run\(\): key 'cpus': 100 is not valid; expected an integer from 1 to 64$/);
    // a check across keys names the key too, as docs/library.md says
    await expect(run({ cpus: 2, rps_cpus: '4' })).rejects.toThrow(
      /^run\(\): key 'rps_cpus': mask 4 names CPU 2, which does not exist with --cpus 2/,
    );
    await expect(run({ cpus: 2, queues: 2, rps_cpus: 'f,f,f' })).rejects.toThrow(/^run\(\): key 'rps_cpus': 3 values given for 2 queues/);
  });

  it('reports progress, and an aborted signal resolves with interrupted: true, still conserving (threads)', async () => {
    const ac = new AbortController();
    let calls = 0;
    const doc = await run(
      { cpus: 2, packets: 1e9, rate: 200_000 },
      {
        signal: ac.signal,
        onProgress: (p) => {
          calls++;
          if (p.generated > 20_000) ac.abort();
        },
      },
    );
    expect(calls).toBeGreaterThan(0);
    expect(doc.interrupted).toBe(true);
    expect(doc.packets.generated).toBeLessThan(1e9);
    expect(conserves(doc)).toBe(true);
  });

  it('progress samples start with the traffic, never lose drops, and count busy time in whole ns', async () => {
    const samples: Progress[] = [];
    // Open loop with a 4 KiB socket buffer: drops all along, so `dropped` has somewhere to go.
    const doc = await run(
      { cpus: 2, queues: 1, rps_cpus: '3', packets: 150_000, rate: 150_000, sk_rcvbuf: 4096 },
      { onProgress: (p) => samples.push(p) },
    );
    expect(samples.length).toBeGreaterThan(2);
    expect(doc.packets.dropped.socket).toBeGreaterThan(0);
    samples.forEach((p, i) => {
      expect(p.generated, `sample ${i}`).toBeGreaterThan(0);
      expect(p.busy_ns.every(Number.isInteger), `sample ${i}`).toBe(true);
      if (i > 0) {
        expect(p.dropped, `sample ${i}`).toBeGreaterThanOrEqual(samples[i - 1].dropped);
        expect(p.generated, `sample ${i}`).toBeGreaterThanOrEqual(samples[i - 1].generated);
      }
    });
  });

  it('an aborted sim run resolves with interrupted: true too', async () => {
    const ac = new AbortController();
    const doc = await run({ mode: 'sim', packets: 1e8 }, { onProgress: () => ac.abort(), signal: ac.signal });
    expect(doc.interrupted).toBe(true);
    expect(conserves(doc)).toBe(true);
  });
});

describe('YAML config files', () => {
  const yaml = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('read as the flags are: masks as hex text, flags override the file, the effective config in --json', () => {
    const p = yaml('ok.yaml', '# rps\ncpus: 2\nqueues: 1\nirq_affinity: 0\nrps-cpus: 3\nmode: sim\npackets: 3000\ngro: off\n');
    const r = cli(['run', '--config', p, '--seed', '9', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.config).toMatchObject({
      cpus: 2,
      queues: 1,
      irq_affinity: [0],
      rps_cpus: ['3'],
      mode: 'sim',
      packets: 3000,
      gro: false,
      seed: 9,
    });
    expect(conserves(doc)).toBe(true);
  });

  const bad: [string, string, RegExp][] = [
    ['bad YAML', 'cpus: 2\n  queues: [1\n', /^rxsmp: --config .*bad\.yaml: not valid YAML \(line \d+, column \d+\)$/],
    ['a key twice', 'cpus: 2\ncpus: 4\n', /^rxsmp: --config .*twice\.yaml: a key given twice \(line 2, column 1\)$/],
    [
      'an unknown key',
      'cpu: 2\n',
      /^rxsmp: --config .*unknown\.yaml: unknown key 'cpu' \(did you mean cpus\?\); keys are the options' names/,
    ],
    [
      'an out-of-range value',
      'cpus: 100\n',
      /^rxsmp: --config .*range\.yaml: key 'cpus': the string given is not valid; expected an integer from 1 to 64$/,
    ],
    ['not a mapping', '- cpus\n- 2\n', /^rxsmp: --config .*list\.yaml: expected a mapping of options \(key: value\)$/],
  ];
  const names = ['bad.yaml', 'twice.yaml', 'unknown.yaml', 'range.yaml', 'list.yaml'];
  bad.forEach(([what, text, msg], i) => {
    it(`${what}: one line, exit 2, nothing started`, () => {
      const r = cli(['run', '--config', yaml(names[i], text)]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(msg);
    });
  });
});

describe('the shared-memory limit', () => {
  it('a run that would not fit is one line naming what takes the room, before anything starts', () => {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'dist/src/cli.js'), 'run', '--cpus', '16', '--ring-size', '4096', '--pkt-size', '1518'],
      {
        encoding: 'utf8',
        env: { ...process.env, RXSMP_SHM_LIMIT: String(100e6) },
      },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toMatch(
      /^rxsmp: this run needs 0\.\d\d GiB of shared memory, 0\.\d\d GiB of it for the skb pool \([\d,]+ buffers of 1536 bytes: --ring-size, --queues, --cpus, --pkt-size\); the limit is 0\.09 GiB \(RXSMP_SHM_LIMIT\)$/,
    );
  });
});
