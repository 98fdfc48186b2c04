// Summarise V8 CPU profiles (one per thread, as `node --cpu-prof` writes them for the main
// thread and every worker): the functions with the most self time, per thread.
//   npm run profile -- run --cpus 2 --queues 2 --packets 3000000
//   node dist/bench/prof_top.js profiles/*.cpuprofile

import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export function topFunctions(file: string, n = 15): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const lines = [`${file}: ${(total / 1e6).toFixed(2)} s sampled`];
  for (const [key, t] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    lines.push(`${((t / total) * 100).toFixed(1).padStart(6)}%  ${key}`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node dist/bench/prof_top.js FILE.cpuprofile...');
    process.exit(2);
  }
  for (const f of files) console.log(topFunctions(f).join('\n') + '\n');
}
