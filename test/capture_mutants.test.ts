// Hostile captures (issue 24): whatever a --pcap file holds, the run either conserves (every
// frame generated is delivered or counted where the kernel drops it) or stops before it
// starts with one line and exit status 2. Never exit 1, a stack trace or a dead worker.
//
// The mutants are deterministic (mutant i is the same file on every machine): valid captures
// of every format the reader takes, and the four kinds with no UDP/TCP flow (only ARP, only
// ICMP, every frame cut by its snaplen, zero-length records), damaged by bit flips, cuts,
// length fields set to 0, 0xffffffff and other large values, garbage appended and blocks
// repeated. The suite judges MUTANTS_IN_SUITE of them in process (sim mode, bounded: each run
// is 2,000 packets of virtual time); `RXSMP_MUTANTS=1000 npx vitest run test/capture_mutants.test.ts`
// runs that many more through the command line, sim and threads mode, and prints the tally.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../dist/src/config/schema.js';
import { conserves, type RunResult } from '../dist/src/engine/result.js';
import { simulate } from '../dist/src/engine/sim_run.js';
import { mixedTraffic, noFlowCaptures, pcapFile, pcapngFile } from './capture_files.js';
import { CLI, cli, run } from './e2e.js';
import { config } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsmp-mutants-'));
const MUTANTS_IN_SUITE = 240;

const NO_FLOW = noFlowCaptures(40);
const BASES: [string, Uint8Array][] = [
  ['pcap', pcapFile(mixedTraffic(40, { arpEvery: 5 }))],
  ['pcap-be-ns', pcapFile(mixedTraffic(40, { arpEvery: 7 }), { le: false, ns: true })],
  ['pcapng', pcapngFile(mixedTraffic(40, { arpEvery: 5 }), { extraBlocks: true })],
  ['pcapng-be-spb', pcapngFile(mixedTraffic(30), { le: false, spb: true })],
  [
    'pcapng-2-interfaces',
    pcapngFile(
      mixedTraffic(30).map((p, i) => ({ ...p, iface: i % 2 })),
      { interfaces: [{}, { tsresol: 9, name: 'eth1' }] },
    ),
  ],
  ...Object.entries(NO_FLOW),
];

/** mulberry32: a small seeded generator, so mutant i is the same file everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LENGTHS = [0, 0xffffffff, 0x7fffffff, 0x80000000, 65536, 16, 1];

/** Mutant i: base i mod the bases, unchanged for the first pass, then 1 to 4 mutations. */
function mutant(i: number): { name: string; bytes: Uint8Array } {
  const [base, orig] = BASES[i % BASES.length];
  if (i < BASES.length) return { name: `${base}`, bytes: orig };
  const r = prng(i * 2654435761);
  const at = (n: number) => Math.floor(r() * n);
  let b = Uint8Array.from(orig);
  const done: string[] = [];
  for (let k = 1 + at(4); k > 0; k--) {
    const what = at(5);
    if (what === 0 && b.length > 0) {
      const o = at(b.length);
      b[o] ^= 1 << at(8);
      done.push(`flip@${o}`);
    } else if (what === 1) {
      const n = at(b.length + 1);
      b = b.slice(0, n);
      done.push(`cut@${n}`);
    } else if (what === 2 && b.length >= 4) {
      const o = at(b.length >> 2) << 2;
      const v = r() < 0.8 ? LENGTHS[at(LENGTHS.length)] : at(2 ** 32);
      new DataView(b.buffer, b.byteOffset).setUint32(o, v, r() < 0.5);
      done.push(`u32@${o}=${v}`);
    } else if (what === 3) {
      const extra = Uint8Array.from({ length: at(64) }, () => at(256));
      const c = new Uint8Array(b.length + extra.length);
      c.set(b);
      c.set(extra, b.length);
      b = c;
      done.push(`append${extra.length}`);
    } else if (b.length > 0) {
      const from = at(b.length);
      const len = Math.min(b.length - from, 1 + at(128));
      const c = new Uint8Array(b.length + len);
      c.set(b);
      c.set(b.subarray(from, from + len), b.length);
      b = c;
      done.push(`repeat${from}+${len}`);
    }
  }
  return { name: `${base}:${done.join(',')}`, bytes: b };
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** One line, within 200 characters with its 'rxsmp: ', no control character. */
function expectOneLine(message: string): void {
  const line = `rxsmp: ${message}`;
  expect(line.length, line).toBeLessThanOrEqual(200);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is that there are none
  expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
}

/** A capture judged in process, sim mode: refused with one line, or run and conserving. */
function judge(path: string): 'refused' | 'conserved' {
  let cfg: ReturnType<typeof config>;
  try {
    cfg = config({ mode: 'sim', pcap: path, packets: 2000 });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    expectOneLine(e.message);
    return 'refused';
  }
  const r: RunResult = simulate(cfg).result;
  expect(conserves(r), JSON.stringify(r.packets)).toBe(true);
  expect(r.packets.generated).toBe(2000);
  return 'conserved';
}

describe('captures with no UDP/TCP flow run, each frame counted where the kernel drops it', () => {
  const dropOf = { arp: 'not_ip', icmp: 'no_socket', snaplen: 'snaplen', zero_length: 'not_ip' } as const;
  for (const [name, bytes] of Object.entries(NO_FLOW) as [keyof typeof dropOf, Uint8Array][]) {
    it(`${name}: sim, exact counts`, () => {
      const r = simulate(config({ mode: 'sim', pcap: file(`${name}.pcap`, bytes) })).result;
      expect(r.packets.generated).toBe(40);
      expect(r.packets.delivered).toBe(0);
      expect(r.packets.dropped[dropOf[name]]).toBe(40);
      expect(conserves(r)).toBe(true);
    });
  }

  it('threads mode: every kind conserves (invariants only)', async () => {
    for (const [name, bytes] of Object.entries(NO_FLOW)) {
      const r = await run({ pcap: file(`t-${name}.pcap`, bytes), packets: 4000 });
      expect(r.packets.delivered, name).toBe(0);
    }
  });

  it('a million zero-length records: read whole, 20,000 of them sent (sim), every one not_ip', () => {
    // Written directly: a pcap header, then a million 16-byte record headers with no data.
    const n = 1_000_000;
    const b = new Uint8Array(24 + 16 * n);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0xa1b2c3d4, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(16, 262144, true);
    v.setUint32(20, 1, true);
    for (let i = 0; i < n; i++) v.setUint32(24 + 16 * i, 1_700_000_000, true);
    const r = simulate(config({ mode: 'sim', pcap: file('million.pcap', b), packets: 20_000 })).result;
    expect(r.packets.generated).toBe(20_000);
    expect(r.packets.dropped.not_ip).toBe(20_000);
    expect(conserves(r)).toBe(true);
  });

  it('the header says there is no flow; sweep --set pcap= and compare run them too', () => {
    const arp = file('h-arp.pcap', NO_FLOW.arp);
    const icmp = file('h-icmp.pcap', NO_FLOW.icmp);
    const r = cli(['run', '--mode', 'sim', '--pcap', arp]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(
      /replayed from .*h-arp\.pcap \(no UDP\/TCP flow: every frame takes a non-flow path, frames up to 64 B\)$/,
    );
    expect(r.stdout).toMatch(/generated 40, delivered 0, dropped 40 \(not_ip 40\) — conserved/);
    const out = join(dir, 'sweep.jsonl');
    const s = cli(['sweep', '--mode', 'sim', '--set', `pcap=${arp},${icmp}`, '--repeat', '1', '--packets', '500', '--out', out]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/sweep: 2 runs written/);
    const c = cli(['compare', '--mode', 'sim', '--pcap', icmp, '--a', 'rps-cpus=0', '--b', 'rps-cpus=3', '--repeat', '2', '--json']);
    expect(c.status, c.stderr).toBe(0);
    const doc = JSON.parse(c.stdout) as { runs: { a: RunResult[]; b: RunResult[] } };
    for (const x of [...doc.runs.a, ...doc.runs.b]) {
      expect(x.packets.dropped.no_socket).toBe(40);
      expect(conserves(x)).toBe(true);
    }
  });

  it('a capture with no frames at all is one line, exit 2', () => {
    for (const [name, bytes] of [
      ['header-only.pcap', pcapFile([])],
      ['header-only.pcapng', pcapngFile([])],
      ['empty.pcap', new Uint8Array(0)],
    ] as const) {
      const r = cli(['run', '--mode', 'sim', '--pcap', file(name, bytes)]);
      expect(r.status, name).toBe(2);
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(r.stderr).toMatch(/^rxsmp: --pcap .*: (empty|the file is empty)/);
    }
  });
});

describe('damaged captures (mutants)', () => {
  it(`${MUTANTS_IN_SUITE} mutants in process: each refused in one line or run and conserving`, () => {
    const tally = { refused: 0, conserved: 0 };
    for (let i = 0; i < MUTANTS_IN_SUITE; i++) {
      const m = mutant(i);
      try {
        tally[judge(file(`m${i}.pcap`, m.bytes))]++;
      } catch (e) {
        throw new Error(`mutant ${i} (${m.name}): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // Both outcomes occur: the mutants are neither all fatal nor all harmless.
    expect(tally.refused).toBeGreaterThan(MUTANTS_IN_SUITE / 10);
    expect(tally.conserved).toBeGreaterThan(MUTANTS_IN_SUITE / 10);
  });

  const byHand = Number(process.env.RXSMP_MUTANTS ?? 0);
  it.runIf(byHand > 0)(
    `by hand: ${byHand} mutants through the command line (sim, every fifth in threads mode too)`,
    async () => {
      const tally = new Map<string, number>();
      const bad: string[] = [];
      const one = (i: number, mode: string) =>
        new Promise<void>((resolve) => {
          const m = mutant(i);
          const p = spawn(process.execPath, [CLI, 'run', '--mode', mode, '--pcap', file(`cli${i}.pcap`, m.bytes), '--packets', '3000']);
          let err = '';
          p.stderr.on('data', (d: Buffer) => {
            err += d.toString();
          });
          p.stdout.resume();
          p.on('close', (code) => {
            const lines = err.trim() === '' ? 0 : err.trim().split('\n').length;
            const key = `${mode} exit ${code}${code === 2 ? (lines === 1 ? ' (one line)' : ` (${lines} lines)`) : ''}`;
            tally.set(key, (tally.get(key) ?? 0) + 1);
            if (code === 1 || code === null || /internal error|\n\s+at /.test(err) || (code === 2 && lines !== 1))
              bad.push(`mutant ${i} ${mode} (${m.name}): exit ${code}: ${err.slice(0, 300)}`);
            resolve();
          });
        });
      const jobs: [number, string][] = [];
      for (let i = 0; i < byHand; i++) {
        jobs.push([i, 'sim']);
        if (i % 5 === 0) jobs.push([i, 'threads']);
      }
      let next = 0;
      const lane = async () => {
        while (next < jobs.length) {
          const [i, mode] = jobs[next++];
          await one(i, mode);
        }
      };
      await Promise.all([lane(), lane()]);
      console.log(`capture mutants: ${byHand} files, ${jobs.length} runs:`, Object.fromEntries([...tally].sort()));
      expect(bad).toEqual([]);
    },
    3_600_000,
  );
});
