// The traffic generator: the wire in front of the NIC, on the device thread.
//
// Flows are real Ethernet/IPv4/UDP|TCP frames built once per flow as templates; each packet
// is its flow's template copied into a posted buffer by the NIC, then stamped with its
// per-flow index (payload bytes 0..3), IP id and TCP sequence number, checksums updated.
//
//   --rate max   closed loop: when the chosen queue has no posted descriptor the wire waits
//                (Atomics.wait on RDT) until the driver re-posts: it measures CPU capacity.
//                One queue full holds back all of them, as a NIC with one shared packet
//                buffer and flow control does.
//   --rate N     open loop at N packets per second: a full ring is an rx_missed drop.
//
// The wire has a line rate (--link-speed, wire.ts): closed loop, the generator takes no more
// frames than the wire has brought into the NIC's packet buffer; open loop, --rate is at most
// the line rate (a rate above it is paced at the line rate).
//
// TCP flows are senders that honour the receive window their socket advertises (sock.ts,
// wnd_end: a shared word per socket the reading task moves): a flow whose window is closed
// waits, and the wire carries other flows' packets meanwhile. Each time a flow finds its
// window closed is one tcp_window_stall (not a drop: the packet is not generated yet). When
// every pick is stalled the wire idles until a reader reopens a window.
//
// Every generated packet is counted in ctl.generated: delivered + drops must equal it.

import type { Shm } from '../shm/memory.js';
import type { Config } from '../config/schema.js';
import { nicModel } from '../config/nics.js';
import { Prng } from '../lib/prng.js';
import { FlowPicker } from './flow_dist.js';
import { FlowFrames } from './frames.js';
import { makeFlowTable, type FlowTable } from './flows.js';
import { IPPROTO_TCP } from '../uapi/inet.js';
import type { Replay, ReplayData } from './replay.js';
import { Nic, rssEngine } from './nic.js';
import { VirtioNetBackend, type FrameSource } from './virtio_net_backend.js';
import { HotPathWindow } from '../shm/hot_path.js';
import { openLoopPps, Wire } from './wire.js';

const BURST = 64;
/** Consecutive picks of window-stalled flows after which a burst ends (the wire idles). */
const STALL_PICKS = 64;
/** How long the wire idles when every pick found its window closed (a reader must run first). */
export const TCP_STALL_WAIT_NS = 2_000;
/**
 * A segment dropped on the way (ring, backlog, checksum...) never reaches its socket, so the
 * window it holds never reopens: the sender recovers once the socket's queue is empty, after
 * a loss probe's timeout (tcp_schedule_loss_probe: at least 10 ms) if no packet of the run is
 * still in flight (so the new window cannot overflow the socket), else after the
 * retransmission timeout (TCP_RTO_MIN, 200 ms). It goes on with a full window from its next
 * segment: there is no retransmission, the lost index stays a gap (a drop upstream, not
 * disorder, for the order check).
 */
export const TCP_LOSS_PROBE_NS = 10_000_000;
export const TCP_RTO_MIN_NS = 200_000_000;
/** Open loop: the shortest sleep between bursts (what fell due meanwhile comes as a burst). */
const OPEN_LOOP_QUANTUM_NS = 50_000;

/** The flows of a run: derived from the seed alone, so the engine builds the same sockets. */
export function runFlows(cfg: Config): FlowTable {
  return makeFlowTable(cfg.flows, new Prng(cfg.seed).fork(1), cfg.proto, cfg.ip);
}

/**
 * Every flow's frame (packet index 0), built once per run: the engine builds it for the
 * sockets (boot) and hands it to the device thread. The MACs say which flow.
 */
export function runFrames(cfg: Config, flows: FlowTable = runFlows(cfg)): FlowFrames {
  const f = new FlowFrames(flows, cfg.pkt_size - 4, 0x0a000000, 0x0b000001, cfg.tcp_timestamps); // the FCS is not DMA'd
  f.set_rss(rssEngine(cfg));
  return f;
}

/**
 * --pcap: the capture's flows with a template frame each (boot places each flow's socket behind
 * the queue its RSS picks, from the template's headers), and the capture's frames to send.
 */
export function replayFrames(replay: Replay, cfg: Pick<Config, 'rss_key' | 'rss_udp4' | 'rss_udp6'>): FlowFrames {
  const f = new FlowFrames(replay.flows, 128, 0x0a000000, 0x0b000001, false);
  f.set_replay(replay.data);
  f.set_rss(rssEngine(cfg));
  return f;
}

export class TrafficGenerator implements FrameSource {
  private readonly nic: Nic;
  private readonly frames: FlowFrames;
  /** --nic virtio: QEMU's receive side in front of the guest's virtqueues (else null). */
  readonly virtio: VirtioNetBackend | null;
  private readonly index: Int32Array;
  private readonly picker: FlowPicker;
  private readonly prng: Prng;
  private readonly frameLen: number;
  private generated = 0;
  private start_ns = 0;
  private sample = 0;
  private pending = -1;
  /** no_descriptor() counted the packet as missed (open loop). */
  private missed = false;
  /** --latency-sample and --bad-csum-rate, read per packet. */
  private readonly sample_every: number;
  private readonly bad_csum_rate: number;
  /** virtio: per flow (or, --pcap, per captured frame), the queue the host's tap picks. */
  private readonly tap_queue: Int32Array;
  /** Per flow: 1 for a TCP flow (window checked), else 0. */
  private readonly tcp: Uint8Array;
  /** Per flow: 1 while its window is closed (one stall counted per closing). */
  private readonly win_stalled: Uint8Array;
  /** When each flow's window closed (the tick's clock), for loss recovery. */
  private readonly stall_since: Float64Array;
  /** The window in segments a drained socket advertises, per flow: its SYN-ACK's. */
  private readonly wnd_full: Int32Array;
  /** Index of wnd_end in shm.i32 for socket (flow) 0, and the socket stride. */
  private readonly wnd_at: number;
  private readonly sk_stride: number;
  private stall_run = 0;
  /** The last burst ended because every pick found its window closed. */
  stalled = false;
  /** The wire's line rate (closed loop: its token bucket). */
  readonly wire: Wire;
  /** Open loop: packets per second, --rate capped at the line rate; 0 closed loop. */
  readonly pace_pps: number;
  /** --pcap: the capture's frames; the next one to send (in its pass), the pass, and (timed) when the last one left. */
  private readonly replay: ReplayData | null;
  private rp_i = 0;
  private rp_pass = 0;
  private rp_sched_ns = Number.NEGATIVE_INFINITY;
  /** FrameSource: the replayed frame last written's position in its flow. */
  replay_pos = 0;

  constructor(
    private readonly shm: Shm,
    private readonly now_ns: () => number,
    frames?: FlowFrames,
    /** The closed-loop wire's RDT polls before it naps (Nic; DEVICE_SPIN_LOADS if not given). */
    spin_loads?: number,
  ) {
    const cfg = shm.cfg;
    this.nic = new Nic(shm, now_ns, spin_loads);
    this.frames = frames ?? runFrames(cfg);
    this.replay = this.frames.replay;
    // A replay's frames vary: the wire's line rate is counted at their mean size.
    const wire_size = this.replay !== null ? this.replay.wire_bytes_mean : cfg.pkt_size;
    this.wire = new Wire(cfg.link_speed, wire_size);
    this.pace_pps = openLoopPps({ rate: cfg.rate, link_speed: cfg.link_speed, pkt_size: wire_size });
    this.frameLen = cfg.pkt_size - 4; // the FCS is not DMA'd
    this.sample_every = cfg.latency_sample;
    this.bad_csum_rate = cfg.bad_csum_rate;
    this.index = new Int32Array(cfg.flows);
    this.tcp = new Uint8Array(cfg.flows);
    // A replayed TCP flow keeps the capture's timing: no receive window slows it.
    if (this.replay === null) for (let f = 0; f < cfg.flows; f++) this.tcp[f] = this.frames.flows.proto[f] === IPPROTO_TCP ? 1 : 0;
    this.win_stalled = new Uint8Array(cfg.flows);
    this.stall_since = new Float64Array(cfg.flows);
    this.wnd_at = shm.skIdx(0, shm.layout.SOCK.wnd_end);
    this.sk_stride = cfg.flows > 1 ? shm.skIdx(1, 0) - shm.skIdx(0, 0) : 0;
    // The window of the SYN-ACK (sock_table_init): the receiver's whole buffer, before any
    // segment was sent, so its right edge is the window itself.
    this.wnd_full = new Int32Array(cfg.flows);
    for (let f = 0; f < cfg.flows; f++) if (this.tcp[f] === 1) this.wnd_full[f] = shm.i32[this.wnd_at + f * this.sk_stride];
    this.virtio = nicModel(cfg.nic).rx_queue === 'virtqueue' ? new VirtioNetBackend(shm, this.frameLen) : null;
    this.virtio?.attach_source(this);
    // The host's multiqueue tap picks a flow's queue by its hash: once per flow (or captured frame).
    this.tap_queue = new Int32Array(0);
    if (this.virtio !== null) {
      const r = this.replay;
      const f = this.frames;
      const spread = this.virtio.spread;
      this.tap_queue =
        r === null
          ? Int32Array.from({ length: cfg.flows }, (_, i) => spread.select_queue(f.hdr, i * f.stride))
          : Int32Array.from({ length: r.count }, (_, i) => (r.len[i] === 0 ? 0 : spread.select_queue(r.bytes, r.off[i])));
    }
    this.prng = new Prng(cfg.seed).fork(2);
    this.picker = new FlowPicker(cfg.flows, cfg.flow_dist, cfg.zipf_s, new Prng(cfg.seed).fork(3));
    this.window = new HotPathWindow(shm, () => this.generated);
  }

  /**
   * --device inline: a turn of the device on the CPU that hosts it (the CPU of queue 0's
   * interrupt, cpu/runtime.ts), which never sleeps here: closed loop, every free descriptor
   * an arrival takes (the ring's worth at most, so a turn refills what the driver posted);
   * then the write-backs' interrupts, and the ITR's held ones. `wake_at_ns` says when the
   * device next needs a turn on its own (a line rate's next frame, a TCP stall's end, an ITR
   * interval); Infinity: when a driver posts descriptors (rx_ring_refill kicks the hosting
   * CPU when the device waits on another CPU's ring).
   */
  inline_turn(): void {
    const shm = this.shm;
    this.wake_at_ns = Infinity;
    if (Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.gen_done) === 0) {
      this.burst(this.due(shm.cfg.ring_size), false);
      if (this.stalled) this.wake_at_ns = this.now_ns() + TCP_STALL_WAIT_NS;
      else if (this.pending >= 0) this.nic.wait_inline(this.nic.rss_queue(this.frames.rss_hash[this.pending]));
    } else if (this.virtio === null) {
      if (this.nic.service_throttled()) this.wake_at_ns = this.now_ns() + this.nic.itr_wait_ms(true, 1) * 1e6;
      return;
    }
    if (this.nic.any_throttled()) {
      const at = this.now_ns() + this.nic.itr_wait_ms(true, 1) * 1e6;
      if (at < this.wake_at_ns) this.wake_at_ns = at;
    }
  }

  /** --device inline: the device runs on a CPU's thread (inline_turn), never waiting. */
  private inline = false;
  /** --device inline: when the device next needs a turn (ns on the run's clock; Infinity: when a driver posts descriptors). */
  wake_at_ns = Infinity;

  /** Run inline, on the CPU `cpu` (its thread calls inline_turn). */
  set_inline(cpu: number): void {
    this.inline = true;
    Atomics.store(this.shm.i32, this.shm.ctlI + this.shm.layout.CTL.device_cpu, cpu);
  }

  /** The measured window of the device's hot path (no allocation in steady state). */
  readonly window: HotPathWindow;

  /** The device thread's loop: generate until done, then keep the interrupt logic alive until stop. */
  run(): void {
    const shm = this.shm;
    const CTL = shm.layout.CTL;
    const ctl = shm.ctlI;
    this.wait_for_cpus();
    this.start();
    while (Atomics.load(shm.i32, ctl + CTL.stop) === 0) {
      if (this.window.state !== 2) this.window.check();
      if (Atomics.load(shm.i32, ctl + CTL.gen_done) !== 0) {
        // virtio: packets still held in the net queues go to the guest as it kicks.
        if (this.virtio !== null) {
          Atomics.wait(shm.i32, ctl + CTL.stop, 0, this.virtio.service() ? 0.05 : 5);
          continue;
        }
        const held = this.nic.service_throttled();
        Atomics.wait(shm.i32, ctl + CTL.stop, 0, this.nic.itr_wait_ms(held, 5));
        continue;
      }
      this.burst(this.due(), true);
      // Every TCP sender waits for its window: nap until a reader has run.
      if (this.stalled) Atomics.wait(shm.i32, ctl + CTL.stop, 0, TCP_STALL_WAIT_NS / 1e6);
    }
    // Stopped before the loop saw gen_done (the host kept this thread off its core while the
    // CPUs drained the last packets): the window ends here, as a CPU's does.
    if (this.window.state === 1) this.window.close();
  }

  /** Generation starts now: the run's time zero. */
  start(): void {
    this.start_ns = this.now_ns();
    this.wire.start(this.start_ns);
    this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.start_ns] = this.start_ns;
  }

  /**
   * Put up to `n` packets on the wire and signal the interrupts. With `wait` false (a caller
   * that also runs the CPUs, single-threaded) a full ring at --rate max ends the burst
   * instead of waiting. Returns the packets generated.
   */
  burst(n: number, wait: boolean): number {
    const before = this.generated;
    const shm = this.shm;
    // After generation (--packets reached, --duration over, or interrupted) a burst only
    // flushes and signals: virtio's held packets go to the guest as it kicks, nothing new.
    const done_before = Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.gen_done) !== 0;
    if (done_before) n = 0;
    this.stalled = false;
    this.stall_run = 0;
    const end = before + n;
    if (this.virtio !== null) {
      this.virtio.service(); // kicks since the last burst: flush what the net queues hold
      while (this.generated < end) if (!this.virtio_packet(this.virtio, wait)) break;
    } else if (this.replay !== null) {
      while (this.generated < end) if (!this.replay_packet(this.replay, wait)) break;
      this.publish();
      this.nic.signal();
      this.nic.service_throttled();
    } else {
      while (this.generated < end) if (!this.one_packet(wait)) break;
      this.publish();
      this.nic.signal();
      this.nic.service_throttled();
    }
    if (!done_before && this.finished()) {
      shm.f64[shm.ctlF + shm.layout.CTL.gen_end_ns] = this.now_ns();
      Atomics.store(shm.i32, shm.ctlI + shm.layout.CTL.gen_done, 1);
    }
    return this.generated - before;
  }

  wait_for_cpus(): void {
    const shm = this.shm;
    const at = shm.ctlI + shm.layout.CTL.cpus_ready;
    for (;;) {
      const ready = Atomics.load(shm.i32, at);
      if (ready >= shm.cfg.cpus || Atomics.load(shm.i32, shm.ctlI + shm.layout.CTL.stop) !== 0 || this.interrupted()) return;
      Atomics.wait(shm.i32, at, ready, 50);
    }
  }

  /** The coordinator stopped generation early (SIGINT, SIGTERM: an interrupted run). */
  private interrupted(): boolean {
    return Atomics.load(this.shm.i32, this.shm.ctlI + this.shm.layout.CTL.gen_stop) !== 0;
  }

  private finished(): boolean {
    const cfg = this.shm.cfg;
    if (this.generated >= cfg.packets || this.interrupted()) return true;
    // The tick's clock: precise enough for a duration, and free to read.
    return cfg.duration_s > 0 && this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.clock_ns] - this.start_ns >= cfg.duration_s * 1e9;
  }

  /** How many packets to put on the wire now (sleeping first when the next is far off). */
  private due(burst = BURST): number {
    const cfg = this.shm.cfg;
    if (this.interrupted()) return 0; // burst(0) ends generation
    const left = cfg.packets - this.generated;
    if (cfg.pcap_timing) return this.due_timed(left);
    if (this.pace_pps === 0) {
      const n = left < burst ? left : burst;
      if (this.wire.frame_ns === 0) return n;
      // Closed loop behind a line rate: what the wire has brought (wire.ts). The tick's clock
      // first (free to read, and never ahead of real time, so never over-credits); Node's
      // clock (a read allocates) only when that is not enough for the burst: when the wire,
      // not the CPUs, is the bottleneck.
      const shm = this.shm;
      let avail = this.wire.available(shm.f64[shm.ctlF + shm.layout.CTL.clock_ns], this.generated);
      if (avail >= n) return n;
      const now = this.now_ns();
      avail = this.wire.available(now, this.generated);
      if (avail <= 0) {
        this.sleep_until(this.wire.next_ns(), now);
        return 0;
      }
      return n < avail ? n : avail;
    }
    const now = this.now_ns();
    const target = Math.floor(((now - this.start_ns) * this.pace_pps) / 1e9);
    let n = target - this.generated;
    if (n <= 0) {
      this.sleep_until(((this.generated + 1) * 1e9) / this.pace_pps + this.start_ns, now);
      return 0;
    }
    const cap = this.shm.cfg.ring_size;
    if (n > cap) n = cap;
    return n < left ? n : left;
  }

  /**
   * --pcap-timing: the frames whose capture time has come (a pass lasts period_ns, then the
   * capture starts again), each no earlier than the line rate lets it follow the one before.
   */
  private due_timed(left: number): number {
    const now = this.now_ns();
    const n = this.timed_count(now - this.start_ns, Math.min(left, this.shm.cfg.ring_size));
    if (n === 0) this.sleep_until(this.start_ns + this.replay_due_ns(), now);
    return n;
  }

  /** When replayed frame i of pass `pass` is due (ns after the start), the frame before it due at `prev`. */
  private timed_at(r: ReplayData, i: number, pass: number, prev: number): number {
    const t = pass * r.period_ns + r.ts_ns[i];
    const wire = prev + this.wire.frame_ns;
    return t > wire ? t : wire;
  }

  /** --pcap-timing: when the next frame is due (ns after the start). The sim's device waits for it. */
  replay_due_ns(): number {
    return this.timed_at(this.replay!, this.rp_i, this.rp_pass, this.rp_sched_ns);
  }

  /** --pcap-timing: how many frames are due `elapsed_ns` after the start (at most `max`). */
  timed_count(elapsed_ns: number, max: number): number {
    const r = this.replay!;
    let i = this.rp_i;
    let pass = this.rp_pass;
    let t = this.rp_sched_ns;
    let n = 0;
    while (n < max) {
      t = this.timed_at(r, i, pass, t);
      if (t > elapsed_ns) break;
      n++;
      if (++i === r.count) {
        i = 0;
        pass++;
      }
    }
    return n;
  }

  /**
   * Sleep until the next packet is due instead of spinning: the emulated CPUs need the host's
   * cores. A sleep lasts at least some tens of µs, so at high rates packets come in bursts of
   * what fell due meanwhile (up to a ring's worth), as behind an interrupt moderating switch.
   * Never less than OPEN_LOOP_QUANTUM_NS: at high rates the next packet is always less than a
   * microsecond away, and a wire that waited for exactly that would spin a core.
   */
  private sleep_until(t_ns: number, now: number): void {
    if (this.inline) {
      this.wake_at_ns = t_ns; // the CPU hosting the device waits, not the device
      return;
    }
    const held = this.nic.service_throttled();
    const ms = Math.min(Math.max(t_ns - now, OPEN_LOOP_QUANTUM_NS) / 1e6, this.nic.itr_wait_ms(held, Infinity));
    Atomics.wait(this.shm.i32, this.shm.ctlI + this.shm.layout.CTL.stop, 0, ms);
  }

  /**
   * Pick the next flow whose sender may send: a TCP flow at the right edge of the window its
   * socket advertised waits (one stall per closing). -1 when STALL_PICKS picks in a row found
   * closed windows: the burst ends and the wire idles (`stalled`).
   */
  private pick(): number {
    for (;;) {
      const flow = this.picker.next();
      if (this.tcp[flow] === 0) return flow;
      const wnd_end = Atomics.load(this.shm.i32, this.wnd_at + flow * this.sk_stride);
      if (((wnd_end - this.index[flow]) | 0) > 0) {
        this.win_stalled[flow] = 0;
        this.stall_run = 0;
        return flow;
      }
      const now = this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.clock_ns];
      if (this.win_stalled[flow] === 0) {
        this.win_stalled[flow] = 1;
        this.stall_since[flow] = now;
        this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.tcp_window_stalls] += 1;
      } else if (this.loss_recovery_due(flow, now - this.stall_since[flow])) {
        // Loss recovery: what was in flight is delivered or lost by now; reopen from here.
        Atomics.compareExchange(this.shm.i32, this.wnd_at + flow * this.sk_stride, wnd_end, (this.index[flow] + this.wnd_full[flow]) | 0);
        this.stall_since[flow] = now;
      }
      if (++this.stall_run >= STALL_PICKS) {
        this.stalled = true;
        return -1;
      }
    }
  }

  /** A window closed for `stalled_ns` is taken as lost (TCP_LOSS_PROBE_NS). Off the hot path. */
  private loss_recovery_due(flow: number, stalled_ns: number): boolean {
    if (stalled_ns < TCP_LOSS_PROBE_NS) return false;
    const shm = this.shm;
    this.publish(); // the misses of this burst, so far

    // The socket holds nothing (a plain read: a hint, as a probe's ACK is)...
    if (Atomics.load(shm.i32, shm.skIdx(flow, shm.layout.SOCK.rmem_alloc)) !== 0) return false;
    // ...and every packet generated is delivered or dropped, or the RTO has passed.
    return stalled_ns >= TCP_RTO_MIN_NS || shm.packetsDone() === this.generated;
  }

  /**
   * One packet from the wire to the NIC: its flow's frame copied and stamped into the next
   * descriptor of the queue RSS picks, written back. False if the burst must end (ring full,
   * or stop). The per-packet path: no header parse, no hash, counters kept until the burst ends.
   */
  private one_packet(wait: boolean): boolean {
    const nic = this.nic;
    // A packet that found its ring full in a non-waiting burst is still the next one.
    const flow = this.pending >= 0 ? this.pending : this.pick();
    if (flow < 0) return false;
    this.pending = -1;
    const frames = this.frames;
    const hash = frames.rss_hash[flow];
    const q = nic.rss_queue(hash);
    if (!nic.has_descriptor(q) && !this.no_descriptor(q, flow, wait)) return false;
    if (this.missed) {
      this.missed = false;
      this.index[flow] += 1;
      this.generated++;
      return true;
    }
    const index = this.index[flow];
    this.index[flow] = index + 1;
    const corrupt = this.bad_csum_rate > 0 && this.corrupt(flow);
    if (corrupt) this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.generated_bad_ip_csum] += 1;
    this.generated++;
    nic.rx_frame(q, frames, flow, index, corrupt, this.sample_every === 0 ? 0 : this.latency_sample(), hash);
    return true;
  }

  /**
   * No posted descriptor on queue q. Open loop: the frame is missed (rx_missed; `missed` set,
   * true). Closed loop: the wire waits for the driver (true once a descriptor is posted), or,
   * in a burst that must not wait, the packet stays next (`pending`, false); false on stop.
   */
  private no_descriptor(q: number, flow: number, wait: boolean): boolean {
    const nic = this.nic;
    if (this.shm.cfg.rate !== 0 || this.shm.cfg.pcap_timing) {
      nic.miss(q);
      this.missed = true;
      return true;
    }
    if (!wait) {
      this.pending = flow;
      return false;
    }
    // Closed loop: tell the CPUs what is already there, then wait for the driver.
    this.publish();
    nic.signal();
    let held = nic.service_throttled();
    while (!nic.wait_descriptor(q, nic.itr_wait_ms(held, 1))) {
      held = nic.service_throttled();
      if (Atomics.load(this.shm.i32, this.shm.ctlI + this.shm.layout.CTL.stop) !== 0 || this.interrupted()) return false;
    }
    return true;
  }

  /**
   * --pcap: the capture's next frame from the wire to the NIC, as one_packet does for a flow's.
   * A snaplen-truncated frame is counted and dropped here: the NIC never sees it whole.
   */
  private replay_packet(r: ReplayData, wait: boolean): boolean {
    const i = this.rp_i;
    const len = r.len[i];
    if (len === 0) return this.replay_truncated();
    const nic = this.nic;
    const frames = this.frames;
    const hash = frames.replay_rss_hash[i];
    const q = nic.rss_queue(hash);
    // A frame that found its ring full in a non-waiting burst is still the next one (rp_i).
    if (!nic.has_descriptor(q) && !this.no_descriptor(q, -1, wait)) {
      this.pending = -1;
      return false;
    }
    if (this.missed) {
      this.missed = false;
      this.replay_next();
      this.generated++;
      return true;
    }
    nic.dma_replay(q, frames, i, this.replay_position(r, i));
    const tstamp = this.latency_sample();
    this.replay_next();
    this.generated++;
    nic.writeback(q, len, tstamp, hash, frames.replay_rss_type[i]);
    return true;
  }

  /**
   * A snaplen-truncated frame: generated, and dropped before the NIC (packets.dropped.snaplen).
   * Counted generated first, as every other drop is: the coordinator reads the drops, then
   * `generated`, and must never see a drop of a packet not yet generated.
   */
  private replay_truncated(): boolean {
    this.replay_next();
    this.count_generated();
    this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.replay_snaplen] += 1;
    return true;
  }

  /** Frame i's position in its flow, counting the passes before this one. */
  private replay_position(r: ReplayData, i: number): number {
    const f = r.flow[i];
    return f < 0 ? 0 : (r.pos[i] + this.rp_pass * r.flow_frames[f]) | 0;
  }

  private replay_next(): void {
    if (this.shm.cfg.pcap_timing) this.rp_sched_ns = this.replay_due_ns();
    if (++this.rp_i === this.replay!.count) {
      this.rp_i = 0;
      this.rp_pass++;
    }
  }

  /** The latency sample's DMA time for this packet, or 0 (not sampled). */
  private latency_sample(): number {
    const every = this.sample_every;
    if (every === 0 || ++this.sample < every) return 0;
    this.sample = 0;
    return this.now_ns();
  }

  /** --pcap with virtio: the capture's next frame to QEMU's tap backend, as virtio_packet does. */
  private replay_virtio_packet(r: ReplayData, vn: VirtioNetBackend, wait: boolean): boolean {
    const i = this.rp_i;
    if (r.len[i] === 0) return this.replay_truncated();
    const q = this.tap_queue[i];
    if (this.shm.cfg.rate === 0 && !this.shm.cfg.pcap_timing && !vn.can_take(q)) {
      if (!wait) return false;
      while (!vn.wait_buffers(q, 1)) {
        if (Atomics.load(this.shm.i32, this.shm.ctlI + this.shm.layout.CTL.stop) !== 0 || this.interrupted()) return false;
      }
    }
    const tstamp = this.latency_sample();
    const pass = this.rp_pass;
    this.replay_next();
    this.count_generated();
    if (vn.full(q)) {
      vn.drop(q);
      return true;
    }
    const len = this.frame_into(i, pass, false, this.shm.u8, vn.staging);
    vn.send(q, i, pass, false, tstamp, len);
    return true;
  }

  /**
   * One packet from the wire to QEMU's tap backend (virtio): the tap's queue pick, then
   * qemu_net_queue_send. Closed loop: the wire waits while the guest has no buffers. Open
   * loop: a packet that finds no buffer is held in the net queue, or dropped at its bound.
   */
  private virtio_packet(vn: VirtioNetBackend, wait: boolean): boolean {
    if (this.replay !== null) return this.replay_virtio_packet(this.replay, vn, wait);
    const cfg = this.shm.cfg;
    const flow = this.pending >= 0 ? this.pending : this.pick();
    if (flow < 0) return false;
    this.pending = -1;
    const q = this.tap_queue[flow];
    if (cfg.rate === 0 && !vn.can_take(q)) {
      if (!wait) {
        this.pending = flow;
        return false;
      }
      while (!vn.wait_buffers(q, 1)) {
        if (Atomics.load(this.shm.i32, this.shm.ctlI + this.shm.layout.CTL.stop) !== 0 || this.interrupted()) return false;
      }
    }
    const index = this.index[flow];
    this.index[flow] = index + 1;
    const corrupt = this.corrupt(flow);
    if (corrupt) this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.generated_bad_ip_csum] += 1;
    let tstamp = 0;
    if (cfg.latency_sample !== 0 && ++this.sample >= cfg.latency_sample) {
      this.sample = 0;
      tstamp = this.now_ns();
    }
    this.count_generated();
    if (vn.full(q)) {
      vn.drop(q);
      return true;
    }
    vn.send(q, flow, index, corrupt, tstamp, this.frame_into(flow, index, corrupt, this.shm.u8, vn.staging));
    return true;
  }

  /**
   * FrameSource: packet `index` of `flow` (its template, stamped), at `at` of `out`; or, with
   * --pcap, capture frame `flow` of pass `index`. Returns the frame's length.
   */
  frame_into(flow: number, index: number, corrupt: boolean, out: Uint8Array, at: number): number {
    const r = this.replay;
    const i32 = this.shm.i32;
    if (out !== this.shm.u8) throw new Error('frame_into: frames are written into shared memory');
    if (r !== null) {
      this.frames.copy_replay(i32, at >> 2, flow);
      const f = r.flow[flow];
      this.replay_pos = f < 0 ? 0 : (r.pos[flow] + index * r.flow_frames[f]) | 0;
      return r.len[flow];
    }
    this.frames.copy(i32, at >> 2, flow);
    this.frames.stamp(out, at, flow, index, corrupt);
    return this.frameLen;
  }

  /**
   * --bad-csum-rate: does this packet get a damaged IPv4 header checksum? Drawn for every
   * packet (IPv6 ones too, so the draws do not depend on the families); an IPv6 header has no
   * checksum to damage.
   */
  private corrupt(flow: number): boolean {
    const rate = this.bad_csum_rate;
    return rate > 0 && this.prng.nextFloat() < rate && this.frames.flows.family[flow] === 4;
  }

  /** A packet generated (the virtio path: QEMU's backend publishes each frame as it writes it). */
  private count_generated(): void {
    this.generated++;
    this.publish();
  }

  /**
   * Write `generated`, then the NIC's counters kept since: the engine's drain reads accounted
   * packets (misses among them) before generated, so none may be counted before it is.
   */
  private publish(): void {
    this.shm.f64[this.shm.ctlF + this.shm.layout.CTL.generated] = this.generated;
    this.nic.flush_counters();
  }
}
