// net/packet/af_packet.c for --tap: a packet socket bound to ETH_P_ALL, as tcpdump opens one.
//
// dev_add_pack(ETH_P_ALL) puts the socket's handler on ptype_all, so __netif_receive_skb_core
// hands it every skb first (deliver_skb: a reference, skb->users++), on the CPU that runs the
// stack, before the protocol handler: a GRO-merged skb is one tapped packet, with the length
// inet_gro_complete / ipv6_gro_complete wrote, and RPS shows as which CPU tapped the packet.
// tpacket_rcv copies the bytes (skb_copy_bits: the linear part, the page frags, the frag_list)
// into the socket's ring with a timestamp, or counts a drop (tp_drops) when the ring is full.
// Here each CPU has its own ring in shared memory (the socket's buffer, split across CPUs:
// the copy stays on the tapping CPU's cache lines) that the engine reads and writes out as
// pcapng (engine/tap.ts). The copy is real work on the tapping CPU, as in Linux; in sim mode it
// is priced per packet (cost model tap_ns).
//
// Ring records (8-byte aligned): i32 length, i32 0, f64 timestamp (ns, the CPU's clock), the
// bytes, padded to 8. A record that would cross the end is preceded by a wrap mark (length
// TAP_WRAP) and written at the start. Offsets (sd.tap_head written here, sd.tap_tail by the
// reader) grow and wrap as int32; the ring's size is a power of two.

import type { KCpu } from './percpu.js';
import { payload_offset } from '../uapi/inet.js';

export const TAP_RECORD_HDR = 16;
export const TAP_WRAP = -1;

/** skb_copy_bits of one skb's own frame from byte `from` (linear part, then page frags) to u8[to]; returns bytes copied. */
function copy_frame(c: KCpu, skb: number, from: number, len: number, to: number): number {
  const u8 = c.u8;
  const shm = c.shm;
  const data = c.skb_data(skb);
  const linear = len - shm.skb_data_len[skb]!;
  let n = 0;
  for (let k = from; k < linear; k++) u8[to + n++] = u8[data + k]!;
  let skip = from > linear ? from - linear : 0;
  for (let page = shm.skb_frags[skb]!; page !== -1 && n < len - from; page = shm.skb_frags[page]!) {
    const at = c.skb_data(page) + shm.skb_frag_off[page]!;
    const plen = shm.skb_data_len[page]!;
    for (let k = skip; k < plen; k++) u8[to + n++] = u8[at + k]!;
    skip = skip > plen ? skip - plen : 0;
  }
  return n;
}

/**
 * packet_rcv for the tap: the skb as a packet socket copies it, into this CPU's ring; a full
 * ring is a drop. Softirq context, on the CPU running __netif_receive_skb_core.
 */
export function packet_rcv_tap(c: KCpu, skb: number): void {
  const shm = c.shm;
  const sd = c.sd;
  const size = shm.layout.tapRingSize;
  // The frag_list (GRO's merged segments) adds each segment's payload after the head's frame.
  let merged = 0;
  for (let seg = c.skb_frag_next[skb]!; seg !== -1; seg = c.skb_frag_next[seg]!) {
    merged += c.skb_len[seg]! - (payload_offset(c.u8, c.skb_data(seg)) - c.skb_data(seg));
  }
  const len = c.skb_len[skb]!;
  const need = TAP_RECORD_HDR + ((len + 7) & ~7);
  const i32 = c.i32;
  const head = i32[c.sdI + sd.tap_head]!;
  const tail = Atomics.load(i32, c.sdI + sd.tap_tail);
  let pos = head & (size - 1);
  const wrap = pos + need > size ? size - pos : 0;
  if (((head - tail) | 0) + wrap + need > size) {
    c.f64[c.sdF + sd.tap_drops]! += 1;
    return;
  }
  const base = shm.layout.tapRingBase + c.cpu * size;
  if (wrap !== 0) {
    i32[(base + pos) >> 2] = TAP_WRAP;
    pos = 0;
  }
  const at = base + pos;
  i32[at >> 2] = len;
  i32[(at >> 2) + 1] = 0;
  c.f64[(at >> 3) + 1] = c.env.now_ns();
  let to = at + TAP_RECORD_HDR;
  to += copy_frame(c, skb, 0, len - merged, to); // the head's own frame: linear part and page frags
  for (let seg = c.skb_frag_next[skb]!; seg !== -1; seg = c.skb_frag_next[seg]!) {
    const data = c.skb_data(seg);
    to += copy_frame(c, seg, payload_offset(c.u8, data) - data, c.skb_len[seg]!, to);
  }
  c.f64[c.sdF + sd.tap_packets]! += 1;
  c.f64[c.sdF + sd.tap_bytes]! += len;
  Atomics.store(i32, c.sdI + sd.tap_head, (head + wrap + need) | 0);
}
