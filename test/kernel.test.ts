// The kernel's receive path, step by step on a deterministic single-threaded machine:
// each test would fail on a kernel that got the rule wrong.

import { describe, expect, it } from 'vitest';
import { config, Machine } from './harness.js';
import { net_rx_action, RPS_NO_CPU } from '../dist/src/kernel/dev.js';
import { napi_schedule_prep, NAPI_STATE_MISSED, NAPI_STATE_SCHED } from '../dist/src/kernel/napi.js';
import { napi_complete_done } from '../dist/src/kernel/dev.js';
import { NET_RX_SOFTIRQ } from '../dist/src/kernel/percpu.js';
import { csum_fold, ip_fast_csum, pseudo_header_sum } from '../dist/src/uapi/inet.js';
import { task_recvmsg } from '../dist/src/kernel/sock.js';
import { rxSkbTruesize } from '../dist/src/kernel/skbuff.js';

const napiState = (m: Machine, n: number) => Atomics.load(m.shm.i32, m.shm.napiI[n] + m.shm.layout.NAPI.state);
const eims = (m: Machine, q: number) => m.shm.i32[m.shm.rxqI[q] + m.shm.layout.RXQ.eims];

describe('net_rx_action and NAPI', () => {
  it('polls a napi at most its weight per round and repolls it, without a squeeze while budget remains', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, packets: 200 }));
    expect(m.send(200)).toBe(200);
    m.take_irqs(0);
    const c = m.cpus[0];
    expect(m.sd(0, 'hardirqs')).toBe(1);
    expect(eims(m, 0)).toBe(0); // auto-masked until napi_complete_done
    net_rx_action(c);
    expect(m.sd(0, 'processed')).toBe(64); // ixgbe's weight, once per round
    expect(c.softirq_pending & NET_RX_SOFTIRQ).toBeTruthy(); // re-raised: the napi is on repoll
    expect(m.sd(0, 'time_squeeze')).toBe(0);
    for (let round = 0; round < 3; round++) {
      c.softirq_pending = 0; // as __do_softirq clears it before running the handler
      net_rx_action(c); // 64 + 64 + 8
    }
    expect(m.sd(0, 'processed')).toBe(200);
    expect(c.softirq_pending).toBe(0); // the last round completed the napi: nothing re-raised
    expect(napiState(m, 1)).toBe(0); // completed
    expect(eims(m, 0)).toBe(1); // and the vector re-enabled
    expect(m.sd(0, 'delivered')).toBe(200);
  });

  it('counts a time_squeeze when netdev_budget runs out across napis', () => {
    const m = new Machine(config({ cpus: 1, queues: 2, 'irq-affinity': '0,0', 'netdev-budget': 100, packets: 1000, 'rss-reta': '0,1' }));
    m.send(1000);
    m.take_irqs(0);
    expect(m.sd(0, 'hardirqs')).toBe(2);
    net_rx_action(m.cpus[0]);
    // 64 from the first napi (budget 36 left), 64 from the second (budget -28): squeeze.
    expect(m.sd(0, 'processed')).toBe(128);
    expect(m.sd(0, 'time_squeeze')).toBe(1);
  });

  it('counts a time_squeeze when netdev_budget_usecs passes, in jiffies, with budget left', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, 'netdev-budget-usecs': 1000, packets: 300 }));
    m.send(300);
    m.take_irqs(0);
    m.envs[0].jiffies_per_window = 1; // each interrupt window sees the next tick
    net_rx_action(m.cpus[0]);
    expect(m.sd(0, 'processed')).toBe(64);
    expect(m.sd(0, 'time_squeeze')).toBe(1);
  });

  it('sets MISSED when a scheduled napi is scheduled again, and napi_complete_done then keeps it scheduled', () => {
    const m = new Machine(config({ cpus: 1, queues: 1 }));
    const c = m.cpus[0];
    expect(napi_schedule_prep(c, 1)).toBe(true);
    expect(napi_schedule_prep(c, 1)).toBe(false);
    expect(napiState(m, 1)).toBe(NAPI_STATE_SCHED | NAPI_STATE_MISSED);
    expect(napi_complete_done(c, 1, 0)).toBe(false);
    expect(napiState(m, 1)).toBe(NAPI_STATE_SCHED);
    expect(c.softirq_pending & NET_RX_SOFTIRQ).toBeTruthy();
    expect(napi_complete_done(c, 1, 0)).toBe(true);
    expect(napiState(m, 1)).toBe(0);
  });

  it('__do_softirq restarts at most MAX_SOFTIRQ_RESTART times, then wakes ksoftirqd', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, 'ring-size': 4096, packets: 4000 }));
    m.send(4000);
    m.run(0);
    // 10 passes of one 64-packet poll each, then ksoftirqd takes over.
    expect(m.sd(0, 'net_rx_softirqs')).toBe(10);
    expect(m.sd(0, 'processed')).toBe(640);
    expect(m.envs[0].ksoftirqd).toBe(true);
  });
});

describe('GRO', () => {
  it('merges consecutive TCP segments of a flow into one skb and delivers every segment in order', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, packets: 40 }));
    m.send(40);
    m.settle();
    expect(m.sd(0, 'delivered')).toBe(40);
    expect(m.sd(0, 'processed')).toBe(1); // one train, flushed by napi_complete_done
    expect(m.sd(0, 'gro_merged')).toBe(39);
    const r = m.shm; // no segment out of order
    expect(r.f64[r.skIdxF(0, r.layout.SOCK.out_of_order)]).toBe(0);
  });

  it('a sequence gap sends the held train up and starts a new one with the segment after it', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, packets: 40 }));
    m.send(10);
    (m.gen as unknown as { index: Int32Array }).index[0] += 5; // five segments lost on the wire
    m.send(10);
    m.settle();
    expect(m.sd(0, 'delivered')).toBe(20);
    expect(m.sd(0, 'processed')).toBe(2); // two trains of 10: the segment after the gap is held
    expect(m.sd(0, 'gro_merged')).toBe(18);
    expect(m.shm.f64[m.shm.skIdxF(0, m.shm.layout.SOCK.out_of_order)]).toBe(0);
  });

  it('does not merge a segment whose IPv4 header checksum is bad; ip_rcv drops it', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, 'bad-csum-rate': 0.2, packets: 40 }));
    m.send(40);
    m.settle();
    const bad = m.shm.f64[m.shm.ctlF + m.shm.layout.CTL.generated_bad_ip_csum];
    expect(bad).toBeGreaterThan(0);
    expect(m.sd(0, 'drop_ip_csum')).toBe(bad);
    expect(m.sd(0, 'delivered')).toBe(40 - bad);
    expect(m.conserved()).toBe(true);
  });

  it('does not merge with gro off', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, gro: 'off', packets: 40 }));
    m.send(40);
    m.settle();
    expect(m.sd(0, 'processed')).toBe(40);
    expect(m.sd(0, 'gro_merged')).toBe(0);
  });
});

describe('RPS: enqueue_to_backlog, IPIs, process_backlog', () => {
  it('steers to the RPS CPU with one IPI, drops past netdev_max_backlog on the target, and advances input_queue_head', () => {
    const m = new Machine(config({ cpus: 2, queues: 1, 'rps-cpus': 2, 'netdev-max-backlog': 10, packets: 100 }));
    m.send(100);
    m.run(0);
    // qlen <= netdev_max_backlog is accepted: 11 packets; the other 89 are the target's drops.
    expect(m.sd(1, 'input_pkt_qlen')).toBe(11);
    expect(m.sd(1, 'dropped')).toBe(89);
    expect(m.sd(0, 'drop_backlog')).toBe(89);
    expect(m.sd(0, 'enqueue_remote')).toBe(11);
    expect(m.sd(0, 'processed')).toBe(0);
    expect(m.envs[0].ipis).toEqual([1]); // the backlog napi was scheduled once
    expect(m.sd(0, 'ipis_sent')).toBe(1);
    expect(m.sd(1, 'input_queue_tail')).toBe(11);
    m.run(1);
    expect(m.sd(1, 'received_rps')).toBe(1);
    expect(m.sd(1, 'ipis_received')).toBe(1); // counted by the kernel's handler, in every runtime
    expect(m.sd(1, 'processed')).toBe(11);
    expect(m.sd(1, 'input_queue_head')).toBe(11);
    expect(m.sd(1, 'delivered')).toBe(11);
    expect(napiState(m, 1)).toBe(0); // the backlog napi state is cleared when both queues are empty
  });

  it('keeps a mask naming only the local CPU on the backlog path (5.10 has no one-CPU short-cut)', () => {
    const m = new Machine(config({ cpus: 2, queues: 1, 'rps-cpus': 1, packets: 50 }));
    m.send(50);
    m.run(0);
    expect(m.sd(0, 'enqueue_local')).toBe(50);
    expect(m.sd(0, 'ipis_sent')).toBe(0);
    expect(m.sd(0, 'processed')).toBe(50); // by process_backlog, in the same softirq
  });

  it('flow limit: drops on the enqueuing CPU in flow_limit_cpu_bitmap, counted in both flow_limit_count and the target dropped', () => {
    const m = new Machine(
      config({
        cpus: 2,
        queues: 1,
        'rps-cpus': 2,
        'flow-limit-cpu-bitmap': 1,
        'netdev-max-backlog': 100,
        'dev-weight': 20,
        flows: 1,
        packets: 2000,
      }),
    );
    let sent = 0;
    for (let round = 0; round < 30; round++) {
      sent += m.send(60);
      m.run(0);
      m.run(1);
    }
    m.settle();
    const fl = m.sd(0, 'flow_limit_count');
    expect(fl).toBeGreaterThan(0);
    expect(m.sd(0, 'drop_flow_limit')).toBe(fl);
    expect(m.sd(1, 'dropped')).toBe(fl + m.sd(0, 'drop_backlog'));
    expect(m.sd(1, 'flow_limit_count')).toBe(0);
    expect(sent).toBe(1800);
    expect(m.conserved()).toBe(true);
  });
});

describe('RFS', () => {
  const rfs = (unsafe: boolean) =>
    new Machine(
      config({
        cpus: 2,
        queues: 1,
        proto: 'tcp',
        flows: 1,
        gro: 'off',
        'rps-flow-cnt': 64,
        'rps-sock-flow-entries': 64,
        'unsafe-rfs-no-qtail-check': unsafe ? 'on' : 'off',
        packets: 100,
      }),
    );

  it('moves a flow to the CPU of the last recvmsg only after the old CPU has dequeued its packets (last_qtail)', async () => {
    const { sock_rps_record_flow } = await import('../dist/src/kernel/sock.js');
    const m = rfs(false);
    m.send(10);
    m.run(0); // no recvmsg recorded yet: processed here
    expect(m.sd(0, 'processed')).toBe(10);
    sock_rps_record_flow(m.cpus[1], 0); // the application reads on CPU 1
    m.send(10);
    m.run(0);
    expect(m.sd(1, 'input_pkt_qlen')).toBe(10); // steered to CPU 1, not yet processed there
    sock_rps_record_flow(m.cpus[0], 0); // the application moves to CPU 0
    m.send(5);
    m.run(0);
    expect(m.sd(1, 'input_pkt_qlen')).toBe(15); // still CPU 1: its backlog holds the flow's packets
    expect(m.sd(0, 'rfs_flow_moves')).toBe(1);
    m.run(1); // CPU 1 drains its backlog: input_queue_head passes last_qtail
    m.send(5);
    m.run(0);
    expect(m.sd(0, 'rfs_flow_moves')).toBe(2);
    expect(m.sd(0, 'enqueue_local')).toBe(5);
    m.settle();
    expect(m.shm.f64[m.shm.skIdxF(0, m.shm.layout.SOCK.out_of_order)]).toBe(0);
    expect(m.sd(0, 'delivered') + m.sd(1, 'delivered')).toBe(30);
    expect(m.conserved()).toBe(true);
  });

  it('without the last_qtail check (unsafe knob) the flow moves at once and is delivered out of order', async () => {
    const { sock_rps_record_flow } = await import('../dist/src/kernel/sock.js');
    const m = rfs(true);
    m.send(10);
    m.run(0);
    sock_rps_record_flow(m.cpus[1], 0);
    m.send(10);
    m.run(0); // 10 queued on CPU 1
    sock_rps_record_flow(m.cpus[0], 0);
    m.send(5);
    m.run(0); // moved at once: these 5 are delivered on CPU 0 before CPU 1's 10
    m.settle();
    const C = m.shm.layout.CTL;
    expect(m.shm.f64[m.shm.skIdxF(0, m.shm.layout.SOCK.out_of_order)]).toBe(10);
    expect(m.shm.i32[m.shm.ctlI + C.ooo_set]).toBe(1);
    expect(m.shm.i32[m.shm.ctlI + C.ooo_expected]).toBe(25); // after index 24 came index 10
    expect(m.shm.i32[m.shm.ctlI + C.ooo_got]).toBe(10);
  });
});

describe('sysctls read at each use', () => {
  it('netdev_max_backlog and netdev_budget changed on a live machine take effect at once', async () => {
    const { knob_write } = await import('../dist/src/kernel/knobs.js');
    const m = new Machine(config({ cpus: 2, queues: 1, 'rps-cpus': 2, packets: 400 }));
    knob_write(m.shm, 'netdev_max_backlog', 5);
    m.send(64);
    m.run(0);
    expect(m.sd(1, 'input_pkt_qlen')).toBe(6);
    expect(m.sd(1, 'dropped')).toBe(58);
    m.settle();
    knob_write(m.shm, 'netdev_max_backlog', 1000);
    knob_write(m.shm, 'netdev_budget', 10);
    m.send(64);
    m.take_irqs(0);
    net_rx_action(m.cpus[0]);
    expect(m.sd(0, 'time_squeeze')).toBe(1); // 64 done against a budget of 10
    m.settle();
    expect(m.sd(1, 'dropped')).toBe(58);
    expect(m.conserved()).toBe(true);
  });
});

// --- issue 13: GRO's header checks, socket accounting, the TCP window, RFS for connected UDP

const IP = 14; // the IPv4 header in a frame
const TH = IP + 20;
/** Rewrite the frame of ring descriptor i (queue 0) before the driver sees it; fix the IPv4 checksum. */
function tamper(m: Machine, i: number, f: (u8: Uint8Array, frame: number) => void): void {
  const u8 = m.shm.u8;
  const frame = m.cpus[0].skb_data(m.shm.desc_skb[i]);
  f(u8, frame);
  u8[frame + IP + 10] = 0;
  u8[frame + IP + 11] = 0;
  const check = ip_fast_csum(u8, frame + IP, 5);
  u8[frame + IP + 10] = check >> 8;
  u8[frame + IP + 11] = check & 0xff;
}
/** Ten timestamped TCP segments of one flow, segment 5 rewritten by `f`; what GRO made of them. */
function gro10(f?: (u8: Uint8Array, frame: number) => void, flags: Record<string, string | number> = {}) {
  const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, 'pkt-size': 128, packets: 10, ...flags }));
  expect(m.send(10)).toBe(10);
  if (f) tamper(m, 5, f);
  m.settle();
  expect(m.sd(0, 'delivered')).toBe(10);
  expect(m.shm.f64[m.shm.skIdxF(0, m.shm.layout.SOCK.out_of_order)]).toBe(0);
  return { trains: m.sd(0, 'processed'), merged: m.sd(0, 'gro_merged') };
}

describe('GRO: what a merged train looks like (tcp_gro_receive, tcp4_gro_complete)', () => {
  it("the head carries the merged segments' FIN and PSH, and th->check holds the pseudo-header sum of the train", () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, 'pkt-size': 128, packets: 4 }));
    expect(m.send(4)).toBe(4);
    tamper(m, 3, (u8, frame) => {
      u8[frame + IP + 20 + 13] |= 0x08; // PSH on the last segment: it merges, then flushes the train
    });
    m.settle();
    expect(m.sd(0, 'gro_merged')).toBe(3);
    const u8 = m.shm.u8;
    const head = m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.rx_head)];
    const frame = m.cpus[0].skb_data(head);
    const th = frame + IP + 20;
    // tcp_flag_word(th2) |= flags & (TCP_FLAG_FIN | TCP_FLAG_PSH)
    expect(u8[th + 13] & 0x08).toBe(0x08);
    // tcp4_gro_complete: th->check = ~tcp_v4_check(skb->len - thoff, saddr, daddr, 0), the
    // folded pseudo-header sum over the train's TCP length (CHECKSUM_PARTIAL).
    const tcp_len = m.cpus[0].skb_len[head] - IP - 20;
    expect(tcp_len).toBe(90 + 3 * (90 - 32)); // the head's 90 TCP bytes (a 32-byte header with timestamps), then 3 payloads
    const expected = ~csum_fold(pseudo_header_sum(u8, frame, 6, tcp_len)) & 0xffff;
    expect((u8[th + 16] << 8) | u8[th + 17]).toBe(expected);
  });
});

describe('GRO: inet_gro_receive and tcp_gro_receive checks', () => {
  it('tcp_gro_receive merges timestamped segments whose options are equal (NOP NOP TS, doff 8)', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, 'pkt-size': 128, packets: 10 }));
    expect(m.cfg.tcp_timestamps).toBe(true);
    m.send(1);
    const frame = m.cpus[0].skb_data(m.shm.desc_skb[0]);
    expect(m.shm.u8[frame + TH + 12] >> 4).toBe(8);
    expect([...m.shm.u8.subarray(frame + TH + 20, frame + TH + 24)]).toEqual([1, 1, 8, 10]);
    expect(gro10()).toEqual({ trains: 1, merged: 9 });
  });

  it('tcp_gro_receive: a different TSval (options not equal byte for byte) ends the train', () => {
    // [0..4] goes up when 5 differs; 5 is held alone, and goes up when 6 differs from it: [6..9].
    expect(gro10((u8, fr) => (u8[fr + TH + 27] ^= 1))).toEqual({ trains: 3, merged: 7 });
  });

  it('tcp_gro_receive: a different window, ack_seq, or an ECE flag ends the train', () => {
    expect(gro10((u8, fr) => (u8[fr + TH + 15] ^= 1))).toEqual({ trains: 3, merged: 7 });
    expect(gro10((u8, fr) => (u8[fr + TH + 11] ^= 1))).toEqual({ trains: 3, merged: 7 });
    expect(gro10((u8, fr) => (u8[fr + TH + 13] |= 0x40))).toEqual({ trains: 3, merged: 7 });
  });

  it('inet_gro_receive: a different TTL or TOS ends the train', () => {
    expect(gro10((u8, fr) => (u8[fr + IP + 8] -= 1))).toEqual({ trains: 3, merged: 7 });
    expect(gro10((u8, fr) => (u8[fr + IP + 1] = 0x10))).toEqual({ trains: 3, merged: 7 });
  });

  it('inet_gro_receive: with DF the IP ID increments by one per segment; a jump ends the train', () => {
    expect(gro10((u8, fr) => (u8[fr + IP + 5] += 2))).toEqual({ trains: 3, merged: 7 });
  });

  it('inet_gro_receive: a fixed IP ID merges with DF (atomic), never without DF', () => {
    const fixed = (df: boolean) => (u8: Uint8Array, fr: number) => {
      u8[fr + IP + 4] = 0;
      u8[fr + IP + 5] = 7;
      u8[fr + IP + 6] = df ? 0x40 : 0;
    };
    const run = (df: boolean) => {
      const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, 'pkt-size': 128, packets: 10 }));
      m.send(10);
      for (let i = 0; i < 10; i++) tamper(m, i, fixed(df));
      m.settle();
      expect(m.sd(0, 'delivered')).toBe(10);
      return m.sd(0, 'gro_merged');
    };
    expect(run(true)).toBe(9);
    expect(run(false)).toBe(0);
  });
});

describe('socket accounting (__udp_enqueue_schedule_skb) and the TCP window', () => {
  it('UDP tests sk_rmem_alloc > sk_rcvbuf before charging the truesize ixgbe allocated (2,304 B)', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, flows: 1, packets: 200 }));
    expect(rxSkbTruesize(m.cfg, 60)).toBe(2304);
    m.send(200);
    m.settle(); // nobody reads: rmem_default 212,992 B takes 93 skbs, the 93rd going past it
    expect(m.sd(0, 'delivered')).toBe(93);
    expect(m.sd(0, 'drop_socket')).toBe(107);
    expect(m.conserved()).toBe(true);
  });

  it('a GRO train charges each segment its own truesize (skb_gro_receive), the head its frame, not the train', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, nic: 'virtio', proto: 'tcp', flows: 1, 'pkt-size': 1500, packets: 8 }));
    expect(m.send(8)).toBe(8);
    m.settle();
    expect(m.sd(0, 'gro_merged')).toBe(7);
    expect(m.sd(0, 'delivered')).toBe(8);
    // virtio: a GOOD_COPY_LEN head (768) and the 1,536-byte mergeable buffer per frame.
    expect(rxSkbTruesize(m.cfg, 1496)).toBe(768 + 1536);
    expect(m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.rmem_alloc)]).toBe(8 * (768 + 1536));
  });

  it('--sk-rcvbuf is setsockopt(SO_RCVBUF): the kernel doubles it', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, flows: 1, packets: 200, 'sk-rcvbuf': 23040 }));
    expect(m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.rcvbuf)]).toBe(46080);
    m.send(200);
    m.settle(); // 46,080 / 2,304 = 20 skbs fill it exactly; the 21st still fits the test
    expect(m.sd(0, 'delivered')).toBe(21);
  });

  it('a TCP sender stops at the window its socket advertises (tcp_rmem[1] / truesize) and goes on after a read', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, packets: 400 }));
    const W = Math.floor(131_072 / 2304); // 56 segments
    expect(m.send(400)).toBe(W);
    const stalls = () => m.shm.f64[m.shm.ctlF + m.shm.layout.CTL.tcp_window_stalls];
    expect(stalls()).toBe(1);
    m.settle();
    expect(m.sd(0, 'delivered')).toBe(W);
    expect(m.sd(0, 'drop_socket')).toBe(0);
    expect(m.send(400)).toBe(0); // still closed: nobody read
    expect(task_recvmsg(m.cpus[0], 0)).toBe(W); // tcp_cleanup_rbuf: the window reopens
    expect(m.send(400)).toBe(W);
    expect(stalls()).toBe(2);
    m.settle();
    expect(m.sd(0, 'delivered')).toBe(2 * W);
    expect(m.conserved()).toBe(true);
  });
});

describe('reading a socket gives its memory back: sock_rfree per TCP skb, udp_rmem_release in batches with its splice', () => {
  const rmem = (m: Machine) => m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.rmem_alloc)];
  /** recvmsg on CPU 0 until its first need_resched check: RECVMSG_WINDOW (32) skbs. */
  const read32 = (m: Machine) => {
    m.envs[0].need_resched = () => true;
    const n = task_recvmsg(m.cpus[0], 0);
    m.envs[0].need_resched = () => false;
    return n;
  };

  it('TCP: each skb read is uncharged at once (tcp_recvmsg → sk_eat_skb → sock_rfree) and the window edge moves with it', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, proto: 'tcp', flows: 1, gro: 'off', packets: 400 }));
    const T = rxSkbTruesize(m.cfg, 60);
    expect(m.send(40)).toBe(40);
    m.settle();
    expect(rmem(m)).toBe(40 * T);
    const edge = m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.wnd_end)];
    expect(read32(m)).toBe(32);
    // UDP's forward_deficit would still hold the 2 skbs read since its last quarter-of-rcvbuf release.
    expect(rmem(m)).toBe(8 * T);
    // tcp_select_window: rcv_nxt (40: all arrived) + the free space (131,072 - 8 × 2,304) in segments.
    expect(m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.wnd_end)]).toBe(40 + Math.floor((131_072 - 8 * T) / T));
    expect(m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.wnd_end)]).toBeGreaterThan(edge);
  });

  it('UDP: a release splices sk_receive_queue onto the reader queue (udp_rmem_release: skb_queue_splice_tail_init)', () => {
    const m = new Machine(config({ cpus: 1, queues: 1, flows: 1, packets: 400 }));
    const T = rxSkbTruesize(m.cfg, 60);
    const S = m.shm.layout.SOCK;
    const qlen = () => m.shm.i32[m.shm.skIdx(0, S.rx_qlen)];
    m.send(72);
    m.settle();
    // The first read splices all 72 into the reader queue, reads 32, releases after 24
    // (forward_deficit reaches rcvbuf / 4 = 53,248 B): 8 skbs' worth stay in the deficit.
    expect(read32(m)).toBe(32);
    expect(rmem(m)).toBe((72 - 24) * T);
    m.send(10);
    m.settle();
    expect(qlen()).toBe(10);
    // The 16th read reaches the quarter again: the release gives back 24 skbs' truesize and
    // moves the 10 queued since onto the reader queue, behind its 24 unread.
    expect(read32(m)).toBe(32);
    expect(qlen()).toBe(0);
    expect(rmem(m)).toBe((72 + 10 - 48) * T);
    // The rest, in order: 18 left in the reader queue.
    expect(task_recvmsg(m.cpus[0], 0)).toBe(18);
    expect(rmem(m)).toBe(0);
    expect(m.shm.i32[m.shm.skIdx(0, S.out_of_order)] ?? 0).toBe(0);
  });
});

describe('RFS records connected UDP sockets (sock_rps_record_flow, sock_rps_save_rxhash)', () => {
  const table = (m: Machine) => {
    const L = m.shm.layout;
    return Array.from(m.shm.i32.subarray(L.rpsSockFlowBase / 4, L.rpsSockFlowBase / 4 + 4096)).filter((v) => v !== RPS_NO_CPU).length;
  };
  for (const [mode, recorded] of [
    ['connected', true],
    ['unconnected', false],
  ] as const) {
    it(`a ${mode} UDP socket ${recorded ? 'is' : 'is not'} recorded in rps_sock_flow_table on recvmsg`, () => {
      const m = new Machine(
        config({ cpus: 2, queues: 1, flows: 1, packets: 10, 'rps-sock-flow-entries': 4096, 'rps-flow-cnt': 256, 'udp-sockets': mode }),
      );
      m.send(10);
      m.settle();
      expect(m.sd(0, 'delivered')).toBe(10);
      const hash = m.shm.i32[m.shm.skIdx(0, m.shm.layout.SOCK.rxhash)];
      expect(hash !== 0).toBe(recorded);
      task_recvmsg(m.cpus[1], 0);
      expect(table(m)).toBe(recorded ? 1 : 0);
    });
  }
});
