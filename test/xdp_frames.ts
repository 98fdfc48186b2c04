// Real frames for the BPF engine's tests and bench/bpf.ts: generated flows (UDP and TCP, IPv4
// and IPv6) built by the device's own frame writer, laid out in one buffer as a driver's RX
// buffers are: each frame at XDP_PACKET_HEADROOM into a 2048-byte buffer.

import { Prng } from '../src/lib/prng.js';
import { makeFlows, type FlowSpec } from '../src/devices/flows.js';
import { buildFrameTemplate } from '../src/devices/frame_template.js';
import { frame_len_min } from '../src/uapi/inet.js';

export const XDP_PACKET_HEADROOM = 256;
export const BUF_SIZE = 2048;

export interface FrameSet {
  mem: Uint8Array;
  count: number;
  len: Int32Array;
  flows: FlowSpec[];
  /** The flow of frame i. */
  flowOf: Int32Array;
}

/** `count` frames of `frameLen` bytes (FCS excluded) over `nflows` flows of `proto`, from `seed`. */
export function makeFrames(
  count: number,
  nflows: number,
  seed: number,
  proto: 'udp' | 'tcp' | 'mix' = 'mix',
  ip: '4' | '6' | 'mix' = 'mix',
  frameLen: number | ((i: number) => number) = 60,
): FrameSet {
  const prng = new Prng(seed);
  const flows = makeFlows(nflows, prng, proto, ip);
  const mem = new Uint8Array(new SharedArrayBuffer(count * BUF_SIZE));
  const len = new Int32Array(count);
  const flowOf = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const f = flows[prng.nextInt(nflows)];
    flowOf[i] = flows.indexOf(f);
    const size = Math.max(typeof frameLen === 'number' ? frameLen : frameLen(i), frame_len_min(f.family ?? 4, f.proto, f.tsopt === true));
    buildFrameTemplate(mem, i * BUF_SIZE + XDP_PACKET_HEADROOM, f, size, 0x020000 + i, 0x030000);
    len[i] = size;
  }
  return { mem, count, len, flows, flowOf };
}
