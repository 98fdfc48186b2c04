// Where a run's time goes, by stage of the receive path, from V8's sampling profiler: each
// sample is charged to the innermost function above it that begins a stage (STAGE_ROOTS), so a
// helper (a spinlock, jhash, a byte reader) counts for the stage that called it, whichever file
// or bundle it lives in. The benches that use it (stages, kernel) report ns per packet by stage.

import { Session } from 'node:inspector';

export const STAGES = [
  'device',
  'driver clean',
  'GRO',
  'netif_receive_skb_list',
  'ip_rcv',
  'socket enqueue',
  'recvmsg',
  'napi/softirq/sched',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

/** Functions that begin a stage. */
const STAGE_ROOTS: Record<string, Stage> = {
  burst: 'device',
  inline_turn: 'device',
  ixgbe_poll: 'driver clean',
  ixgbe_clean_rx_irq: 'driver clean',
  napi_gro_receive: 'GRO',
  gro_normal_one: 'GRO',
  napi_gro_flush: 'GRO',
  gro_normal_list: 'netif_receive_skb_list',
  netif_receive_skb_list_internal: 'netif_receive_skb_list',
  __netif_receive_skb: 'netif_receive_skb_list',
  ip_rcv: 'ip_rcv',
  ipv6_rcv: 'ip_rcv',
  __inet_lookup: 'socket enqueue',
  sock_queue_rcv_skb: 'socket enqueue',
  task_recvmsg: 'recvmsg',
  net_rx_action: 'napi/softirq/sched',
  step: 'napi/softirq/sched',
};

/** The profiler's own nodes, and its session's (dispatch: the stop's serialization). */
const NOT_THE_RUN = new Set(['(idle)', '(program)', '(garbage collector)', 'dispatch']);

interface PNode {
  id: number;
  callFrame: { functionName: string };
  children?: number[];
}

function post<T>(s: Session, method: string): Promise<T> {
  return new Promise((res, rej) => s.post(method, (e, r) => (e ? rej(e) : res(r as T))));
}

/**
 * Profile `run` and return each stage's share of its sampled time (shares of what was
 * sampled, summing to 1; `skip` stages are left out of the whole, e.g. the device when only
 * the kernel is timed). `debug`: print the largest stage:function pairs.
 */
export async function stageShares(run: () => void, skip: readonly Stage[] = [], debug = false): Promise<Record<Stage, number>> {
  const s = new Session();
  s.connect();
  await post(s, 'Profiler.enable');
  await post(s, 'Profiler.start');
  run();
  const { profile } = await post<{ profile: { nodes: PNode[]; samples: number[]; timeDeltas: number[] } }>(s, 'Profiler.stop');
  s.disconnect();
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, Stage>();
  const stageOf = (id: number): Stage => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const root = STAGE_ROOTS[byId.get(id)!.callFrame.functionName];
    const st = root ?? (parent.has(id) ? stageOf(parent.get(id)!) : 'other');
    memo.set(id, st);
    return st;
  };
  const t = Object.fromEntries(STAGES.map((k) => [k, 0])) as Record<Stage, number>;
  const pairs = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const name = byId.get(id)!.callFrame.functionName;
    if (NOT_THE_RUN.has(name)) return;
    const st = stageOf(id);
    if (skip.includes(st)) return;
    const dt = profile.timeDeltas[i] ?? 0;
    t[st] += dt;
    all += dt;
    if (debug) pairs.set(`${st}: ${name}`, (pairs.get(`${st}: ${name}`) ?? 0) + dt);
  });
  if (debug)
    for (const [k, v] of [...pairs].sort((a, b) => b[1] - a[1]).slice(0, 30))
      console.log(`${((v / all) * 100).toFixed(1).padStart(5)}% ${k}`);
  for (const k of STAGES) t[k] = all > 0 ? t[k] / all : 0;
  return t;
}
