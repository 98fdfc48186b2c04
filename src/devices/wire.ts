// The wire in front of the NIC: its line rate (--link-speed), for both runtimes.
//
// A frame of pkt_size bytes (FCS included) takes (pkt_size + 20) * 8 bit times on the wire
// (20 = preamble, start delimiter and the inter-frame gap), so at link_speed Mbit/s the wire
// delivers at most one frame per frame_ns = (pkt_size + 20) * 8 * 1000 / link_speed ns.
//
// Frames land in the NIC's RX packet buffer, and the DMA engine moves them to posted
// descriptors faster than the wire brings them. The model is a token bucket:
//
//   arrived   frames the wire has delivered (since the run's start)
//   t_ns      when the wire finished frame `arrived`, or when it last stood paused
//   taken     frames the device has DMA'd (the generator's count, handed in)
//
// The wire delivers one frame per frame_ns while the buffer (arrived - taken) has room for
// PACKET_BUFFER_BYTES; a full buffer pauses it (802.3x flow control, as the closed loop
// does), and it starts again from the moment the device takes frames. So over any run the
// device DMAs at most (t - start) / frame_ns frames by time t: packets per second over the
// run (delivered / elapsed, elapsed from the first frame) never exceed the line rate. A
// burst after the CPUs fell behind may go faster, out of the buffer, as on the hardware.
//
// Numbers only: available() and next_ns() allocate nothing (the device's hot path).

import { lineRatePps, type Config } from '../config/schema.js';

/**
 * Open loop (--rate N): packets per second, N capped at the line rate; 0 for the closed loop
 * (--rate max, paced by the Wire's bucket instead).
 */
export function openLoopPps(cfg: Pick<Config, 'rate' | 'link_speed' | 'pkt_size'>): number {
  const line = lineRatePps(cfg);
  return line > 0 && cfg.rate > line ? line : cfg.rate;
}

/** The 82599's RX packet buffer: 512 KB. */
export const PACKET_BUFFER_BYTES = 512 * 1024;

export class Wire {
  /** Wire time of one frame (ns); 0: an unlimited wire. */
  readonly frame_ns: number;
  /** Frames the packet buffer holds. */
  readonly buffer_frames: number;
  private arrived = 0;
  private t_ns = 0;

  constructor(link_speed_mbit: number, pkt_size: number) {
    this.frame_ns = link_speed_mbit > 0 ? ((pkt_size + 20) * 8 * 1000) / link_speed_mbit : 0;
    this.buffer_frames = Math.max(1, Math.floor(PACKET_BUFFER_BYTES / pkt_size));
  }

  /** The first frame starts on the wire at t0_ns (the run's time zero); the buffer is empty. */
  start(t0_ns: number): void {
    this.arrived = 0;
    this.t_ns = t0_ns;
  }

  /**
   * Frames in the packet buffer at `now_ns`, with `taken` DMA'd so far (a large number for
   * an unlimited wire). Call it before taking frames: a full buffer pauses the wire until now.
   */
  available(now_ns: number, taken: number): number {
    if (this.frame_ns === 0) return 0x3fffffff;
    const room = taken + this.buffer_frames - this.arrived;
    if (room <= 0) {
      if (now_ns > this.t_ns) this.t_ns = now_ns; // paused until the device takes frames
    } else if (now_ns > this.t_ns) {
      // (+1e-9: next_ns() must make a frame available whatever the rounding.)
      const k = Math.floor((now_ns - this.t_ns) / this.frame_ns + 1e-9);
      if (k >= room) {
        this.arrived += room; // full, and paused from then until now (the device takes now)
        this.t_ns = now_ns;
      } else if (k > 0) {
        this.arrived += k;
        this.t_ns += k * this.frame_ns;
      }
    }
    return this.arrived - taken;
  }

  /** When the next frame will have arrived (valid after available() returned 0). */
  next_ns(): number {
    return this.t_ns + this.frame_ns;
  }
}
