// The kernel's floor (issue 21): the emulated receive path on one CPU without its device,
// against the same per-packet work written once as one straight function over the real
// shared-memory layout, in the same run.
//
// Both sides start from the same state: the device (untimed) fills the one RX ring with 511
// frames of 64 bytes over 64 UDP flows; then the timed part takes them to the sockets and the
// application reads them. Equal batching on both sides: a ring's worth per round.
//
//  - emulated: the project's CpuRuntime, kernel and ixgbe driver (`rx-usecs 0`: no interrupt
//    moderation, so every fill is taken at once), stepped until idle: hardirq, NET_RX softirq
//    (net_rx_action, ixgbe_poll, napi_gro_receive, gro_normal_list,
//    netif_receive_skb_list_internal, ip_rcv, sock_queue_rcv_skb), ksoftirqd, the task's
//    recvmsg loop. Its per-stage figures come from V8's sampling profiler, each sample charged
//    to its innermost ancestor that begins a stage (so a spinlock or jhash is charged to the
//    stage that called it).
//  - prototype (protoRound): descriptors taken and their skbs filled as ixgbe_clean_rx_irq and
//    ixgbe_process_skb_fields do, buffers re-posted 16 at a time, GRO's test that a UDP
//    datagram does not merge, batches of gro_normal_batch handed up, ip_rcv's checks with the
//    header checksum, the UDP socket found by __inet_lookup_established's hash (jhash_3words),
//    the enqueue under the socket's spinlock with its rmem charge (Atomics.add), the order
//    check and the task's ready list, then recvmsg under the task's and the socket's locks
//    with the batched uncharge, and the counters the JSON reports (softnet processed,
//    delivered, recvmsg_packets; the socket's delivered; the task's packets). Its per-stage
//    figures come from running it cut after each stage (the skb freed there): stage k costs
//    what k adds to k - 1. Cut after the enqueue, the sockets are emptied by a bare loop, so
//    recvmsg's figure is what a locked, counted read adds to that.
//   node dist/bench/kernel.js [packets]

import { performance } from 'node:perf_hooks';
import { parseRunArgs } from '../src/cli/run.js';
import { boot } from '../src/engine/boot.js';
import { kernel_boot, latencySink, newLatencyHistogram } from '../src/cpu/worker_main.js';
import { CpuRuntime } from '../src/cpu/runtime.js';
import { TrafficGenerator } from '../src/devices/generator.js';
import { timer_tick } from '../src/engine/run.js';
import type { Shm } from '../src/shm/memory.js';
import { spin_lock, spin_unlock } from '../src/shm/spinlock.js';
import { SkbCache } from '../src/shm/skb_pool.js';
import { jhash_3words } from '../src/uapi/jhash.js';
import { DESC_DD, DESC_L4, DESC_RSS, SKB_FLAG_HASH_VALID, SKB_FLAG_L4_HASH } from '../src/shm/layout.js';
import { rxSkbTruesize } from '../src/kernel/skbuff.js';
import { median } from './stats.js';
import { STAGES, stageShares, type Stage } from './profile_stages.js';

const FLAGS = ['--cpus', '1', '--queues', '1', '--rx-usecs', '0', '--latency-sample', '0', '--flows', '64'];

export const KERNEL_STAGES = ['driver clean', 'GRO', 'netif_receive_skb_list', 'ip_rcv', 'socket enqueue', 'recvmsg'] as const;

interface Round {
  /** Fill the ring (untimed); returns the packets put on it. */
  fill(): number;
  /** Take what the ring holds to the application (timed). */
  run(): void;
}

/** The emulated path: this project's runtime, kernel and driver on one CPU. */
function emulated(extra: string[] = []): Round {
  const { cfg } = parseRunArgs([...FLAGS, '--packets', String(1e10), ...extra]);
  const shm = boot(cfg);
  kernel_boot(shm);
  const rt = new CpuRuntime(shm, 0, latencySink(newLatencyHistogram()), performance.timeOrigin);
  const gen = new TrafficGenerator(shm, () => performance.now() * 1e6);
  rt.online();
  gen.start();
  return {
    fill: () => {
      timer_tick(shm);
      return gen.burst(cfg.ring_size, false);
    },
    run: () => {
      while (rt.step()) {
        /* until idle */
      }
    },
  };
}

/** The prototype's state: the real layout's bases, copied once. */
class Proto {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly cache: SkbCache;
  readonly gen: TrafficGenerator;
  readonly size: number;
  readonly qi: number;
  readonly truesize: number;
  readonly rcvbuf_quarter_at: number;
  constructor(
    readonly shm: Shm,
    readonly cut: number,
  ) {
    this.i32 = shm.i32;
    this.f64 = shm.f64;
    this.u8 = shm.u8;
    this.cache = new SkbCache(shm);
    this.gen = new TrafficGenerator(shm, () => performance.now() * 1e6);
    this.size = shm.cfg.ring_size;
    this.qi = shm.rxqI[0];
    this.truesize = rxSkbTruesize(shm.cfg, shm.cfg.pkt_size - 4);
    this.rcvbuf_quarter_at = 0;
  }
}

const INET_EHASH_SECRET = 0x5bd1e995;
const GRO_NORMAL_BATCH = 8;
const REFILL = 16;

/**
 * One round of the prototype, cut after stage `p.cut` (1..6, KERNEL_STAGES' order): the ring
 * to the sockets, then (cut 6) recvmsg. One straight function, no helper calls but the
 * spinlock, the skb cache and jhash_3words, which the emulated path calls too.
 */
function protoRound(p: Proto): void {
  const shm = p.shm;
  const layout = shm.layout;
  const RXQ = layout.RXQ;
  const SD = layout.SD;
  const SOCK = layout.SOCK;
  const TASK = layout.TASK;
  const i32 = p.i32;
  const f64 = p.f64;
  const u8 = p.u8;
  const cache = p.cache;
  const cut = p.cut;
  const size = p.size;
  const qi = p.qi;
  const sdF = shm.sdF[0];
  const ti = shm.taskI[0];
  const tf = shm.taskF[0];
  const skI = shm.skI;
  const skF = shm.skF;
  const skStrideI = shm.skStrideI;
  const skStrideF = shm.skStrideF;
  const skHash = shm.skHash;
  const hmask = layout.skHashSize - 1;
  const base = shm.skbDataBase;
  const buf = shm.skbBufSize;
  const truesize = p.truesize;
  const desc_skb = shm.desc_skb;
  const desc_len = shm.desc_len;
  const desc_hash = shm.desc_hash;
  const desc_status = shm.desc_status;
  const skb_len = shm.skb_len;
  const skb_next = shm.skb_next;
  const skb_hash = shm.skb_hash;

  // ixgbe_clean_rx_irq
  let ntc = i32[qi + RXQ.next_to_clean];
  let ntu = i32[qi + RXQ.next_to_use];
  let unused = (ntc > ntu ? 0 : size) + ntc - ntu - 1;
  const rdh = Atomics.load(i32, qi + RXQ.rdh);
  let list = -1;
  let list_tail = -1;
  let list_n = 0;
  let processed = 0;
  let delivered = 0;
  for (;;) {
    let skb = -1;
    if (ntc !== rdh) {
      if (unused >= REFILL) {
        for (let k = 0; k < REFILL; k++) {
          desc_skb[ntu] = cache.alloc();
          ntu = ntu + 1 === size ? 0 : ntu + 1;
        }
        Atomics.store(i32, qi + RXQ.rdt, ntu);
        unused -= REFILL;
      }
      const status = desc_status[ntc];
      if ((status & DESC_DD) === 0) throw new Error('prototype: descriptor below RDH without DD');
      skb = desc_skb[ntc];
      skb_len[skb] = desc_len[ntc];
      desc_status[ntc] = 0;
      skb_hash[skb] = desc_hash[ntc];
      shm.skb_flags[skb] = status & DESC_RSS ? (status & DESC_L4 ? SKB_FLAG_HASH_VALID | SKB_FLAG_L4_HASH : SKB_FLAG_HASH_VALID) : 0;
      shm.skb_queue[skb] = 0;
      shm.skb_segs[skb] = 1;
      skb_next[skb] = -1;
      shm.skb_frag_next[skb] = -1;
      const data = base + skb * buf;
      shm.skb_protocol[skb] = (u8[data + 12] << 8) | u8[data + 13];
      shm.skb_nh[skb] = 14;
      ntc = ntc + 1 === size ? 0 : ntc + 1;
      unused++;
      if (cut === 1) {
        cache.free(skb);
        continue;
      }
      // napi_gro_receive → dev_gro_receive: a UDP datagram does not merge; gro_normal_one.
      if (shm.skb_protocol[skb] === 0x0800 && u8[data + 14] === 0x45 && u8[data + 23] === 6) throw new Error('prototype: UDP only');
      if (list_tail === -1) list = skb;
      else skb_next[list_tail] = skb;
      list_tail = skb;
      if (++list_n < GRO_NORMAL_BATCH) continue;
    }
    if (list_n === 0) break;
    if (cut === 2) {
      for (let s = list; s !== -1; ) {
        const nx = skb_next[s];
        cache.free(s);
        s = nx;
      }
      list = list_tail = -1;
      list_n = 0;
      continue;
    }
    // netif_receive_skb_list_internal → __netif_receive_skb → ip_rcv → udp_rcv
    for (let s = list; s !== -1; ) {
      const nx = skb_next[s];
      skb_next[s] = -1;
      processed++;
      if (cut === 3 || shm.skb_protocol[s] !== 0x0800) {
        cache.free(s);
        s = nx;
        continue;
      }
      const data = base + s * buf;
      const ip = data + 14;
      const len = skb_len[s] - 14;
      const vihl = u8[ip];
      const ihl = vihl & 15;
      let sum = 0;
      for (let o = ip, end = ip + ihl * 4; o < end; o += 2) sum += (u8[o] << 8) | u8[o + 1];
      sum = (sum & 0xffff) + (sum >>> 16);
      sum = (sum & 0xffff) + (sum >>> 16);
      const tot_len = (u8[ip + 2] << 8) | u8[ip + 3];
      const l4 = ip + ihl * 4;
      if (
        vihl >> 4 !== 4 ||
        ihl < 5 ||
        len < ihl * 4 ||
        sum !== 0xffff ||
        len < tot_len ||
        (((u8[ip + 6] << 8) | u8[ip + 7]) & 0x3fff) !== 0 ||
        u8[ip + 9] !== 17 ||
        l4 + 8 > ip + tot_len
      ) {
        throw new Error('prototype: a frame ip_rcv would drop');
      }
      if (cut === 4) {
        cache.free(s);
        s = nx;
        continue;
      }
      // __udp4_lib_lookup → __inet_lookup_established
      const saddr = (u8[ip + 12] << 24) | (u8[ip + 13] << 16) | (u8[ip + 14] << 8) | u8[ip + 15];
      const daddr = (u8[ip + 16] << 24) | (u8[ip + 17] << 16) | (u8[ip + 18] << 8) | u8[ip + 19];
      const ports = (u8[l4] << 24) | (u8[l4 + 1] << 16) | (u8[l4 + 2] << 8) | u8[l4 + 3];
      let sk = skHash[jhash_3words(daddr, saddr, ((ports & 0xffff) << 16) | (ports >>> 16), INET_EHASH_SECRET) & hmask];
      let b = 0;
      while (sk !== -1) {
        b = skI + sk * skStrideI;
        if (i32[b + SOCK.saddr] === saddr && i32[b + SOCK.daddr] === daddr && i32[b + SOCK.ports] === ports && i32[b + SOCK.proto] === 17)
          break;
        sk = i32[b + SOCK.hash_next];
      }
      if (sk < 0) throw new Error('prototype: no socket');
      // __udp_enqueue_schedule_skb, under the socket's lock
      const bf = skF + sk * skStrideF;
      spin_lock(i32, b + SOCK.lock);
      if (i32[b + SOCK.rmem_alloc] > i32[b + SOCK.rcvbuf]) throw new Error('prototype: a socket overflowed');
      const index = (u8[l4 + 8] << 24) | (u8[l4 + 9] << 16) | (u8[l4 + 10] << 8) | u8[l4 + 11];
      const expected = i32[b + SOCK.next_index];
      if (((index - expected) | 0) < 0) f64[bf + SOCK.out_of_order] += 1;
      else i32[b + SOCK.next_index] = (index + 1) | 0;
      const tail = i32[b + SOCK.rx_tail];
      if (tail === -1) i32[b + SOCK.rx_head] = s;
      else skb_next[tail] = s;
      i32[b + SOCK.rx_tail] = s;
      i32[b + SOCK.rx_qlen] += 1;
      Atomics.add(i32, b + SOCK.rmem_alloc, truesize);
      f64[bf + SOCK.delivered] += 1;
      i32[b + SOCK.rxhash] = skb_hash[s];
      if (i32[b + SOCK.on_ready] === 0) {
        i32[b + SOCK.on_ready] = 1;
        spin_lock(i32, ti + TASK.lock);
        i32[b + SOCK.ready_next] = -1;
        const t = i32[ti + TASK.ready_tail];
        if (t === -1) i32[ti + TASK.ready_head] = sk;
        else i32[skI + t * skStrideI + SOCK.ready_next] = sk;
        i32[ti + TASK.ready_tail] = sk;
        spin_unlock(i32, ti + TASK.lock);
      }
      spin_unlock(i32, b + SOCK.lock);
      delivered++;
      s = nx;
    }
    list = list_tail = -1;
    list_n = 0;
  }
  i32[qi + RXQ.next_to_clean] = ntc;
  i32[qi + RXQ.next_to_use] = ntu;
  f64[sdF + SD.processed] += processed;
  f64[sdF + SD.delivered] += delivered;
  if (cut < 5) return;

  // The application's recvmsg loop: the ready list in one lock, each socket's queue in one.
  spin_lock(i32, ti + TASK.lock);
  let sk = i32[ti + TASK.ready_head];
  i32[ti + TASK.ready_head] = -1;
  i32[ti + TASK.ready_tail] = -1;
  spin_unlock(i32, ti + TASK.lock);
  let read = 0;
  while (sk !== -1) {
    const b = skI + sk * skStrideI;
    const next = i32[b + SOCK.ready_next];
    if (cut === 5) {
      let s = i32[b + SOCK.rx_head];
      i32[b + SOCK.rx_head] = -1;
      i32[b + SOCK.rx_tail] = -1;
      i32[b + SOCK.on_ready] = 0;
      i32[b + SOCK.rmem_alloc] = 0;
      while (s !== -1) {
        const nx = skb_next[s];
        cache.free(s);
        s = nx;
      }
      sk = next;
      continue;
    }
    spin_lock(i32, b + SOCK.lock);
    let s = i32[b + SOCK.rx_head];
    i32[b + SOCK.rx_head] = -1;
    i32[b + SOCK.rx_tail] = -1;
    i32[b + SOCK.rx_qlen] = 0;
    i32[b + SOCK.on_ready] = 0;
    spin_unlock(i32, b + SOCK.lock);
    let deficit = i32[b + SOCK.forward_deficit];
    const quarter = i32[b + SOCK.rcvbuf] >> 2;
    while (s !== -1) {
      const nx = skb_next[s];
      deficit += truesize;
      if (nx === -1 || deficit >= quarter) {
        Atomics.sub(i32, b + SOCK.rmem_alloc, deficit);
        deficit = 0;
      }
      skb_next[s] = -1;
      cache.free(s);
      read++;
      s = nx;
    }
    i32[b + SOCK.forward_deficit] = deficit;
    sk = next;
  }
  f64[sdF + SD.recvmsg_packets] += read;
  f64[tf + TASK.packets] += read;
  f64[tf + TASK.recvmsg_calls] += 1;
}

/** The prototype cut after stage `cut` (1..6), on a run of its own. */
function prototype(cut: number): Round {
  const { cfg } = parseRunArgs([...FLAGS, '--packets', String(1e10)]);
  const p = new Proto(boot(cfg), cut);
  p.gen.start();
  return {
    fill: () => p.gen.burst(cfg.ring_size, false),
    run: () => protoRound(p),
  };
}

/**
 * ns per packet of the timed part of `round`, over `packets` packets after a warm-up of a fifth
 * as many: the thread's CPU time (process.threadCpuUsage where Node has it, else the process's),
 * so a host that takes the core away for a while does not count; only the timed part.
 */
function measure(round: Round, packets: number): number {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const go = (n: number) => {
    let done = 0;
    let ms = 0;
    while (done < n) {
      const got = round.fill();
      if (got === 0) throw new Error('kernel bench: the ring took no packet (the kernel did not give its buffers back)');
      const t0 = cpu();
      round.run();
      ms += cpu() - t0;
      done += got;
    }
    return (ms * 1e6) / done;
  };
  go(Math.max(200_000, packets / 5));
  return go(packets);
}

/** The emulated kernel's ns per packet. */
export function kernelNs(packets = 2_000_000, extra: string[] = []): number {
  return measure(emulated(extra), packets);
}

/** The prototype's ns per packet, whole (cut 6) or cut after a stage. */
export function protoNs(packets = 2_000_000, cut = 6): number {
  return measure(prototype(cut), packets);
}

/** The emulated kernel's ns per packet by stage, from one profiled run (the device's fills left out), scaled to `total_ns`. */
export async function kernelStages(packets: number, total_ns: number): Promise<Record<Stage, number>> {
  const round = emulated();
  measure(round, Math.min(packets, 500_000));
  const shares = await stageShares(
    () => {
      let done = 0;
      while (done < packets) {
        done += round.fill();
        round.run();
      }
    },
    ['device'],
    process.env.KERNEL_BENCH_DEBUG !== undefined,
  );
  return Object.fromEntries(STAGES.map((k) => [k, shares[k] * total_ns])) as Record<Stage, number>;
}

/** The prototype's ns per packet by stage: what each cut adds to the one before. */
export function protoStages(packets: number): { total: number; ns: number[] } {
  const cuts = KERNEL_STAGES.map((_, k) => protoNs(packets, k + 1));
  return { total: cuts[cuts.length - 1], ns: cuts.map((x, k) => (k === 0 ? x : x - cuts[k - 1])) };
}

/** The table: per stage, the emulated path against the prototype, and the totals. */
export async function kernelTable(packets = 1_500_000, pairs = 3): Promise<{ emulated: number; prototype: number; text: string }> {
  const emu: number[] = [];
  const proto: number[] = [];
  for (let i = 0; i < pairs; i++) {
    emu.push(kernelNs(packets));
    proto.push(protoNs(packets));
  }
  const e = median(emu);
  const p = median(proto);
  const st = await kernelStages(packets, e);
  const ps = protoStages(packets);
  const scale = p / ps.total; // the cut runs' stages, scaled to the interleaved whole
  const rows = KERNEL_STAGES.map(
    (k, i) => `  ${k.padEnd(24)} ${st[k].toFixed(1).padStart(7)} ${(ps.ns[i] * scale).toFixed(1).padStart(7)}`,
  );
  const text = [
    `kernel path, one CPU, 64-byte UDP, a ring of 511 per round: emulated ${e.toFixed(0)} ns/packet, prototype ${p.toFixed(0)}, ratio ${(e / p).toFixed(2)}x (target 1.25x; medians of ${pairs} interleaved)`,
    `  ${'stage'.padEnd(24)} ${'emulated'.padStart(7)} ${'proto'.padStart(7)}`,
    ...rows,
    `  ${'napi/softirq/sched'.padEnd(24)} ${st['napi/softirq/sched'].toFixed(1).padStart(7)}`,
    `  ${'other'.padEnd(24)} ${st.other.toFixed(1).padStart(7)}`,
  ].join('\n');
  return { emulated: e, prototype: p, text };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const packets = Number(process.argv[2] ?? 1_500_000);
  console.log((await kernelTable(packets)).text);
}
