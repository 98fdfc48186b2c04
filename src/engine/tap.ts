// --tap FILE: the reader side of the packet socket (kernel/af_packet.ts), as tcpdump reads its
// ring: the socket's one ring, shared by every CPU, drained into one pcapng file, interface i =
// cpu i (if_name "cpuI"), so the CPU that ran the stack for a packet travels with it. Threads
// mode drains from the coordinator's monitor loop; sim mode every TAP_DRAIN_NS of virtual time
// (the control hook), which keeps the file and the drops deterministic.
//
// Records leave in time order across the interfaces: each drain sorts what it read by
// timestamp (stable: ties keep ring order) and writes what is older than the drain's horizon,
// holding back the rest, which a CPU whose clock lags (sim mode's per-CPU clocks, by up to a
// step) could still precede. At the end, everything, then an Interface Statistics Block per
// interface with what it received and dropped, as dumpcap closes a capture. Setup and drain
// allocate; the CPUs do not. The file is written under the output rules (src/host/files.ts):
// into a temporary file, renamed into place at close. A failed write (a full disk) stops the
// writing, not the run: the ring is still drained, and the failure is reported after the
// run's result.

import { deferOutputFailure, OutputError, OutputStream } from '../host/files.js';
import type { Shm } from '../shm/memory.js';
import { TAP_RECORD_HDR, TAP_REC_CPU_I32, TAP_REC_LEN_I32, TAP_REC_TSTAMP_F64, TAP_WRAP } from '../kernel/af_packet.js';
import { pcapng_epb, pcapng_epb_len, pcapng_idb, pcapng_isb, pcapng_shb } from '../uapi/pcapng_write.js';

/** tcpdump's default snaplen: every skb here is shorter, so caplen is the skb's length. */
export const TAP_SNAPLEN = 262144;
/** Sim mode: how often (virtual ns) the reader drains the ring. */
export const TAP_DRAIN_NS = 1_000_000;
/** A drain writes records older than its time less this; later ones wait for the next drain. */
export const TAP_HOLD_NS = 1_000_000;

interface TapRecord {
  ts: number;
  cpu: number;
  bytes: Uint8Array;
}

export class TapWriter {
  private readonly out: OutputStream;
  private tail = 0;
  private closed = false;
  /** Read from the ring, not yet written: sorted by time at each drain. */
  private pending: TapRecord[] = [];
  /** Per interface: records written (isb_ifrecv). */
  private readonly written: Float64Array;

  /**
   * `epoch_ns`: the wall time of the CPUs' clock zero (a fixed date in sim mode); `start_ns`:
   * the capture's start on the CPUs' clock (isb_starttime).
   */
  constructor(
    private readonly shm: Shm,
    path: string,
    private readonly epoch_ns: bigint,
    private readonly start_ns: number,
  ) {
    this.out = new OutputStream('--tap', path);
    this.written = new Float64Array(shm.cfg.cpus);
    const head = [pcapng_shb('rxsmp')];
    for (let cpu = 0; cpu < shm.cfg.cpus; cpu++) head.push(pcapng_idb(`cpu${cpu}`, TAP_SNAPLEN));
    for (const b of head) this.out.write(b);
    // A file that cannot take even its header (/dev/full) stops the run before it starts.
    if (this.out.failed !== undefined) this.out.close();
  }

  /**
   * Take what the ring holds (up to the first record still being copied) and free it, then
   * write, in time order, what is older than `now_ns` (the CPUs' clock) less TAP_HOLD_NS.
   */
  drain(now_ns: number): void {
    if (this.closed) return;
    this.read_ring();
    this.write_upto(now_ns - TAP_HOLD_NS);
  }

  private read_ring(): void {
    const shm = this.shm;
    const size = shm.layout.tapRingSize;
    const CTL = shm.layout.CTL;
    const base = shm.layout.tapRingBase;
    const head = Atomics.load(shm.i32, shm.ctlI + CTL.tap_head);
    let tail = this.tail;
    while (tail !== head) {
      const pos = tail & (size - 1);
      const len = Atomics.load(shm.i32, ((base + pos) >> 2) + TAP_REC_LEN_I32);
      if (len === 0) break; // tpacket_rcv still copying: TP_STATUS_KERNEL
      if (len === TAP_WRAP) {
        tail = (tail + size - pos) | 0;
        continue;
      }
      const at = base + pos;
      const from = at + TAP_RECORD_HDR;
      this.pending.push({
        ts: shm.f64[(at >> 3) + TAP_REC_TSTAMP_F64],
        cpu: shm.i32[(at >> 2) + TAP_REC_CPU_I32],
        bytes: shm.u8.slice(from, from + len),
      });
      tail = (tail + TAP_RECORD_HDR + ((len + 7) & ~7)) | 0;
    }
    // Copied out: the ring space goes back to the CPUs.
    this.tail = tail;
    Atomics.store(shm.i32, shm.ctlI + CTL.tap_tail, tail);
  }

  /** Sort what is pending by time and write the records up to `horizon_ns`. */
  private write_upto(horizon_ns: number): void {
    const p = this.pending;
    if (p.length === 0) return;
    p.sort((a, b) => a.ts - b.ts);
    let n = 0;
    let bytes = 0;
    while (n < p.length && p[n].ts <= horizon_ns) bytes += pcapng_epb_len(p[n++].bytes.length);
    if (n === 0) return;
    const out = new Uint8Array(bytes);
    let o = 0;
    for (let k = 0; k < n; k++) {
      const r = p[k];
      o = pcapng_epb(out, o, r.cpu, this.epoch_ns + BigInt(Math.round(r.ts)), r.bytes, 0, r.bytes.length, r.bytes.length);
      this.written[r.cpu] += 1;
    }
    this.pending = p.slice(n);
    this.out.write(out);
  }

  /**
   * The last drain, every record written, then an Interface Statistics Block per interface
   * (isb_ifrecv: its records in the file; isb_ifdrop: tp_drops on its CPU), the file closed.
   * `end_ns`: the capture's end on the CPUs' clock.
   */
  close(end_ns: number): void {
    if (this.closed) return;
    this.read_ring();
    this.write_upto(Infinity);
    const shm = this.shm;
    const start = this.epoch_ns + BigInt(Math.round(this.start_ns));
    const end = this.epoch_ns + BigInt(Math.round(Math.max(end_ns, this.start_ns)));
    for (let cpu = 0; cpu < shm.cfg.cpus; cpu++) {
      const drops = shm.f64[shm.sdF[cpu] + shm.layout.SD.tap_drops];
      this.out.write(pcapng_isb(cpu, 'Counters provided by rxsmp', start, end, this.written[cpu], drops));
    }
    this.closed = true;
    try {
      this.out.close();
    } catch (e) {
      if (!(e instanceof OutputError)) throw e;
      deferOutputFailure(e);
    }
  }
}
