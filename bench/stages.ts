// Per-stage ns/packet of the receive path in one thread (bench/inline.ts: one emulated CPU and
// the device, no waiting), from the V8 sampling profiler: each sampled function's self time is
// charged to the stage it belongs to, and a stage's share of the run's time times the run's
// ns/packet is its cost. Stages: the device (generate + DMA + interrupt), the driver's clean
// loop (descriptors, skb pool, refill), GRO, netif_receive_skb_list (list receive, RPS
// steering, backlog), ip_rcv (IP + checksums), socket enqueue (lookup, queue, order check),
// recvmsg (the application's reads), spinlocks, and the rest (NAPI, softirq, scheduler).
//   node dist/bench/stages.js [packets] [extra rxsmp run options...]

import { Session } from 'node:inspector';
import { inlineRun } from './inline.js';

interface PNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: PNode[];
  samples: number[];
  timeDeltas: number[];
}

export const STAGES = [
  'device',
  'driver clean',
  'GRO',
  'netif_receive_skb_list',
  'ip_rcv',
  'socket enqueue',
  'recvmsg',
  'locks',
  'napi/softirq/sched',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

const SOCK_ENQUEUE = new Set([
  'inet_ehashfn',
  '__inet_lookup',
  'sock_queue_rcv_skb',
  'sock_check_order',
  'record_first_ooo',
  'task_ready_add',
  'sock_rps_record_flow',
]);

/** The stage a function belongs to, by its source file and name. */
export function stageOf(fn: string, url: string): Stage {
  const file = url.split('/').slice(-2).join('/');
  if (file.startsWith('devices/') || file === 'shm/msix.js' || file === 'lib/prng.js' || file === 'uapi/toeplitz.js') return 'device';
  if (file.startsWith('drivers/') || file === 'shm/skb_pool.js') return 'driver clean';
  if (file === 'kernel/gro.js') return 'GRO';
  if (file === 'shm/spinlock.js' || fn === 'rps_lock') return 'locks';
  if (file === 'kernel/ip.js' || file === 'uapi/inet.js' || file === 'kernel/skbuff.js' || file === 'kernel/flow.js') return 'ip_rcv';
  if (file === 'kernel/sock.js') return SOCK_ENQUEUE.has(fn) ? 'socket enqueue' : 'recvmsg';
  if (file === 'kernel/dev.js' && !['net_rx_action', 'napi_poll', 'napi_complete_done', 'usecs_to_jiffies'].includes(fn))
    return 'netif_receive_skb_list';
  if (file.startsWith('kernel/') || file.startsWith('cpu/')) return 'napi/softirq/sched';
  return 'other';
}

function post<T>(s: Session, method: string): Promise<T> {
  return new Promise((res, rej) => s.post(method, (e, r) => (e ? rej(e) : res(r as T))));
}

/** ns/packet per stage, and the whole, of one profiled inline run. */
export async function stageCosts(packets = 3_000_000, extra: string[] = []): Promise<{ total: number; ns: Record<Stage, number> }> {
  inlineRun(Math.min(packets, 1_000_000), extra); // warm the JIT outside the profile
  const s = new Session();
  s.connect();
  await post(s, 'Profiler.enable');
  await post(s, 'Profiler.start');
  const r = inlineRun(packets, extra);
  const { profile } = await post<{ profile: Profile }>(s, 'Profiler.stop');
  s.disconnect();
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const t = Object.fromEntries(STAGES.map((k) => [k, 0])) as Record<Stage, number>;
  let all = 0;
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!;
    const dt = profile.timeDeltas[i] ?? 0;
    // The profiler's own idle/program/GC nodes: charge GC and program to 'other', skip idle.
    if (f.functionName === '(idle)') return;
    t[stageOf(f.functionName, f.url)] += dt;
    all += dt;
  });
  const ns = Object.fromEntries(STAGES.map((k) => [k, (t[k] / all) * r.ns_per_packet])) as Record<Stage, number>;
  return { total: r.ns_per_packet, ns };
}

export function stageTable(c: { total: number; ns: Record<Stage, number> }): string {
  return [
    `per-stage ns/packet, one thread (profiled inline run): total ${c.total.toFixed(0)}`,
    ...STAGES.map((k) => `  ${k.padEnd(24)} ${c.ns[k].toFixed(1).padStart(7)}`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packets = Number(process.argv[2] ?? 3_000_000);
  console.log(stageTable(await stageCosts(packets, process.argv.slice(3))));
}
