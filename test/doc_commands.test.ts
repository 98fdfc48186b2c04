/**
 * doc_commands.test.ts: the README's and docs/'s command blocks run, and say what the program
 * says. Every `rxsmp` command line in a shell block (```sh, or a bare block with `$ `) is
 * found, made quick (sim mode, at most 100,000 packets, fewer repeats and fuzz runs) and run in a scratch directory holding the files the examples read (the XDP examples' test/xdp/NAME.o too). It must
 * exit as the docs say (0, or the status a quoted error shows), and a quoted output line
 * (a `# "..."` comment, or the lines after a `$ ` command) must appear in its output: exactly
 * where the run is deterministic (sim mode, errors, the header line), by shape where the docs
 * quote a threads-mode run (its numbers then stand for any numbers). A command that cannot run
 * here is in SKIPPED with the reason, so a new one that does not run fails this test.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI } from './e2e.js';
import { mixedTraffic, pcapngFile } from './capture_files.js';
import { runHeader } from '../dist/src/report/human.js';
import { configFromFlags } from '../dist/src/engine/configure.js';
import { FUZZ_XDP_PROGRAMS } from '../dist/src/engine/fuzz.js';
import { buildXdp } from './xdp_build.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface DocCommand {
  file: string;
  line: number;
  /** The command as written (continuations joined, comment and `$ ` removed). */
  text: string;
  argv: string[];
  /** Output the docs quote for it: a `# "..."` comment, or the lines after a `$ ` command. */
  quoted: string[];
}

/** Shell words of one command (single and double quotes; no expansions in the docs' examples). */
function words(s: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** The text before an unquoted `#`, and the comment after it. */
function splitComment(s: string): [string, string] {
  let q = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) q = c === q ? '' : q;
    else if (c === "'" || c === '"') q = c;
    else if (c === '#' && (i === 0 || s[i - 1] === ' ')) return [s.slice(0, i).trimEnd(), s.slice(i + 1).trim()];
  }
  return [s.trimEnd(), ''];
}

function docCommands(file: string): DocCommand[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: DocCommand[] = [];
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const f = /^```(\S*)/.exec(l);
    if (f) {
      fence = fence === null ? f[1] : null;
      continue;
    }
    if (fence === null || !['', 'sh', 'bash', 'shell', 'console'].includes(fence)) continue;
    const prompt = l.startsWith('$ ');
    const body = prompt ? l.slice(2) : l;
    if (!/^(npm install && )?(npx )?rxsmp /.test(body)) continue;
    let [cmd, comment] = splitComment(body);
    const start = i;
    while (cmd.endsWith('\\')) {
      const [more, c] = splitComment(lines[++i].trim());
      cmd = `${cmd.slice(0, -1).trimEnd()} ${more}`;
      if (c) comment = c;
    }
    const quoted: string[] = [];
    const q = /^"(.*)"$/.exec(comment);
    if (q) quoted.push(q[1]);
    if (prompt)
      for (let k = i + 1; k < lines.length && !lines[k].startsWith('```') && !lines[k].startsWith('$ '); k++) quoted.push(lines[k]);
    // One rxsmp command per entry: `a && b` are two, `a | jq ...` keeps a.
    for (const part of cmd.replace(/^npm install && /, '').split(' && ')) {
      const argv = words(part.split(' | ')[0].trim());
      if (argv[0] === 'npx') argv.shift();
      if (argv[0] !== 'rxsmp') continue;
      out.push({ file, line: start + 1, text: part.trim(), argv: argv.slice(1), quoted: part === cmd.split(' && ').at(-1) ? quoted : [] });
    }
  }
  return out;
}

/** Commands the test cannot run here, by their text as written, and why. */
const SKIPPED: Record<string, string> = {
  'npx rxsmp calibrate --out cost.json': 'measures for minutes in threads mode (sim.test.ts runs calibrate on 20,000 packets)',
  'rxsmp run --cpus 2 --rps-cpus 3 --packets 3000000 --profile prof/': 'a profile of threads (profile.test.ts)',
  'rxsmp fuzz --runs 2000 --seed 20260 --workers 2':
    'a figure of record: the 2,000-run campaign docs/campaigns.md dates (queue.test.ts runs the same check on 80 runs)',
};

/** Commands that need a Redis server or a batch system's environment: queue.test.ts runs them on a Redis of its own. */
const needsQueue = (c: DocCommand) => /(^| )(--queue|worker)( |$)|--shard auto/.test(c.argv.join(' '));

/** A synopsis or an elided example, not a command: placeholders, `...`, alternatives. */
const isSynopsis = (c: DocCommand) => /\.\.\.|\[|\bFILE\b|K=V|\|/.test(c.argv.join(' ')) || /\S {3,}[^ #]/.test(c.text);

/** The command made quick: sim mode, fewer packets, repeats and runs; no shrinking unless quoted. */
function quick(argv: string[], shrink: boolean): string[] {
  const a = [...argv];
  const cmd = a[0];
  const set = (flag: string, f: (v: string) => string) => {
    const i = a.indexOf(flag);
    if (i >= 0) a[i + 1] = f(a[i + 1]);
  };
  if (['run', 'compare', 'sweep'].includes(cmd)) {
    if (!a.includes('--mode') && !a.includes('--profile')) a.push('--mode', 'sim');
    // (a --knob-at schedule needs the traffic to last until its last change)
    const most = a.includes('--knob-at') ? 300_000 : 100_000;
    if (a.includes('--packets')) set('--packets', (v) => String(Math.min(Number(v), most)));
    else if (!a.includes('--pcap') && !a.includes('--duration')) a.push('--packets', cmd === 'run' ? String(most) : '20000');
    set('--duration', () => '0.05');
  }
  if (cmd === 'compare') set('--repeat', () => '2');
  if (cmd === 'sweep') set('--repeat', () => '1');
  // A campaign that the docs say finds a failure keeps its runs (it stops there); others get 5.
  if (cmd === 'fuzz') {
    if (a.includes('--runs')) set('--runs', (v) => String(Math.min(Number(v), a.includes('--unsafe-rfs-no-qtail-check') ? 60 : 5)));
    else a.push('--runs', '60');
    if (!shrink) a.push('--no-shrink');
  }
  return a;
}

/** A quoted line as a pattern: exact, or (for a threads run) with every number standing for any. */
function pattern(line: string, exact: boolean): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // By shape: any number, and a duration in any of its units (one run's 1.43 s is another's 298 ms).
  const shape = (p: string) =>
    esc(p)
      .replace(/\d[\d,]*(\\\.\d+)? (ns|µs|ms|s)\b/g, '[\\d,]+(\\.\\d+)? (ns|µs|ms|s)')
      .replace(/\d[\d,]*(\\\.\d+)?/g, '[\\d,]+(\\.\\d+)?');
  const parts = line.split('...').map((p) => (exact ? esc(p) : shape(p)));
  return new RegExp(parts.join('.*'));
}

describe('the commands in the README and docs/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxsmp-docs-'));
  // Files the examples read: a capture, a run document, a config file.
  writeFileSync(join(dir, 'cap.pcapng'), pcapngFile(mixedTraffic(600, { arpEvery: 6 })));
  const doc = spawnSync(process.execPath, [CLI, 'run', '--mode', 'sim', '--packets', '2000', '--json'], { encoding: 'utf8' });
  writeFileSync(join(dir, 'run.json'), doc.stdout);
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ cpus: 2, queues: 1, rps_cpus: 3 }));
  // The XDP examples' objects, where the docs name them (test/xdp/NAME.o), built with clang.
  mkdirSync(join(dir, 'test/xdp'), { recursive: true });
  for (const p of FUZZ_XDP_PROGRAMS) copyFileSync(buildXdp(p), join(dir, 'test/xdp', `${p}.o`));
  const all = DOCS.flatMap(docCommands);
  const ran = new Map<string, SpawnSyncReturns<string>>();

  it('finds the examples', () => {
    expect(all.filter((c) => c.file === 'README.md').length).toBeGreaterThan(8);
    expect(new Set(all.map((c) => c.file)).size).toBeGreaterThan(4);
  });

  const runnable = all.filter((c) => !isSynopsis(c) && !needsQueue(c) && !(c.text in SKIPPED));
  it.each(runnable.map((c) => [`${c.file}:${c.line} ${c.text}`, c] as const))('%s', (_name, c) => {
    const argv = quick(
      c.argv,
      c.quoted.some((q) => q.includes('shrunk')),
    );
    const key = [...argv].sort().join(' ');
    const p = ran.get(key) ?? spawnSync(process.execPath, [CLI, ...argv], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    ran.set(key, p); // the same command in two docs runs once
    const out = `${p.stdout}\n${p.stderr}`;
    const error = c.quoted.find((q) => q.startsWith('rxsmp: '));
    const fails = c.argv.includes('--unsafe-rfs-no-qtail-check') && c.argv[0] === 'fuzz'; // the docs say it finds a failure
    expect(p.status, `${argv.join(' ')}\n${p.stderr}`).toBe(error ? 2 : fails ? 1 : 0);
    if (!error && !fails) expect(p.stderr, argv.join(' ')).not.toMatch(/^rxsmp: (?!warning)/m);
    // Exact where the output cannot depend on the host: an error, sim mode as written, a fuzz campaign.
    const exact = error !== undefined || c.argv.includes('sim') || c.argv[0] === 'fuzz';
    for (const q of c.quoted) expect(out, `${c.file}:${c.line} quotes "${q}"`).toMatch(pattern(q, exact));
  });

  it('every skipped command is still in the docs', () => {
    for (const text of Object.keys(SKIPPED))
      expect(
        all.map((c) => c.text),
        text,
      ).toContain(text);
  });

  it("docs/runs.md's abridged summary is what the program prints for the README's RPS example", () => {
    const runs = readFileSync(join(ROOT, 'docs/runs.md'), 'utf8');
    const block = /## Reading the summary[\s\S]*?\n```\n([\s\S]*?)\n```/.exec(runs)![1].split('\n');
    const flags = {
      cpus: 2,
      queues: 1,
      'irq-affinity': 0,
      'app-cpus': 1,
      flows: 1024,
      'rss-udp4': 'sdfn',
      'stack-cost-ns': 2000,
      packets: 200_000,
      'rps-cpus': 3,
    };
    expect(block[0]).toBe(runHeader(configFromFlags(flags))); // the header is the configuration's alone
    // The rest is a threads run: its numbers are the host's, its lines the program's.
    const argv = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
    const p = spawnSync(process.execPath, [CLI, 'run', ...argv, '--mode', 'sim'], { encoding: 'utf8' });
    expect(p.status).toBe(0);
    // (A drop breakdown in parentheses lists the reasons that run had: compared without it.)
    const bare = (t: string) => t.replace(/ \([^)]*\)/g, '');
    const out = bare(p.stdout);
    for (const line of block.slice(1)) {
      if (/^[0-9a-f]{8}( [0-9a-f]{8}){12}$/.test(line)) expect(out).toMatch(/^[0-9a-f]{8}( [0-9a-f]{8}){12}$/m);
      else if (!/^\d/.test(line)) expect(out, line).toMatch(pattern(bare(line), false)); // a per-CPU row is numbers only
    }
  });
});
