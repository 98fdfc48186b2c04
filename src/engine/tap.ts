// --tap FILE: the reader side of the packet socket (kernel/af_packet.ts), as tcpdump reads its
// ring: each CPU's ring drained into one pcapng file, interface i = cpu i (if_name "cpuI"), so
// the CPU that ran the stack for a packet travels with it. Threads mode drains from the
// coordinator's monitor loop; sim mode every TAP_DRAIN_NS of virtual time (the control hook),
// which keeps the file and the drops deterministic. Setup and drain allocate; the CPUs do not.
// The file is written under the output rules (src/host/files.ts): into a temporary file,
// renamed into place at close. A failed write (a full disk) stops the writing, not the run:
// the rings are still drained, and the failure is reported after the run's result.

import { deferOutputFailure, OutputError, OutputStream } from '../host/files.js';
import type { Shm } from '../shm/memory.js';
import { TAP_RECORD_HDR, TAP_WRAP } from '../kernel/af_packet.js';
import { pcapng_epb, pcapng_epb_len, pcapng_idb, pcapng_shb } from '../uapi/pcapng_write.js';

/** tcpdump's default snaplen: every skb here is shorter, so caplen is the skb's length. */
export const TAP_SNAPLEN = 262144;
/** Sim mode: how often (virtual ns) the reader drains the rings. */
export const TAP_DRAIN_NS = 1_000_000;

export class TapWriter {
  private readonly out: OutputStream;
  private readonly tail: Int32Array;
  private closed = false;

  /** `epoch_ns`: the wall time of the CPUs' clock zero (a fixed date in sim mode). */
  constructor(
    private readonly shm: Shm,
    path: string,
    private readonly epoch_ns: bigint,
  ) {
    this.out = new OutputStream('--tap', path);
    this.tail = new Int32Array(shm.cfg.cpus);
    const head = [pcapng_shb('rxsmp')];
    for (let cpu = 0; cpu < shm.cfg.cpus; cpu++) head.push(pcapng_idb(`cpu${cpu}`, TAP_SNAPLEN));
    for (const b of head) this.out.write(b);
    // A file that cannot take even its header (/dev/full) stops the run before it starts.
    if (this.out.failed !== undefined) this.out.close();
  }

  /** Write out what every CPU's ring holds and free it. */
  drain(): void {
    if (this.closed) return;
    const shm = this.shm;
    const size = shm.layout.tapRingSize;
    const sd = shm.layout.sd;
    for (let cpu = 0; cpu < shm.cfg.cpus; cpu++) {
      const head = Atomics.load(shm.i32, shm.sdI[cpu]! + sd.tap_head);
      let tail = this.tail[cpu]!;
      if (head === tail) continue;
      const base = shm.layout.tapRingBase + cpu * size;
      // Two passes: size the output, then fill it.
      const recs: number[] = [];
      let bytes = 0;
      while (tail !== head) {
        const pos = tail & (size - 1);
        const len = shm.i32[(base + pos) >> 2]!;
        if (len === TAP_WRAP) {
          tail = (tail + size - pos) | 0;
          continue;
        }
        recs.push(base + pos, len);
        bytes += pcapng_epb_len(len);
        tail = (tail + TAP_RECORD_HDR + ((len + 7) & ~7)) | 0;
      }
      const out = new Uint8Array(bytes);
      let o = 0;
      for (let k = 0; k < recs.length; k += 2) {
        const at = recs[k]!;
        const len = recs[k + 1]!;
        const ts = this.epoch_ns + BigInt(Math.round(shm.f64[(at >> 3) + 1]!));
        o = pcapng_epb(out, o, cpu, ts, shm.u8, at + TAP_RECORD_HDR, len, len);
      }
      // Copied out: the ring space goes back to the CPU.
      this.tail[cpu] = tail;
      Atomics.store(shm.i32, shm.sdI[cpu]! + sd.tap_tail, tail);
      this.out.write(out);
    }
  }

  /** The last drain, and the file closed. */
  close(): void {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    try {
      this.out.close();
    } catch (e) {
      if (!(e instanceof OutputError)) throw e;
      deferOutputFailure(e);
    }
  }
}
