// net/packet/af_packet.c for --tap: a packet socket bound to ETH_P_ALL, as tcpdump opens one.
//
// dev_add_pack(ETH_P_ALL) puts the socket's handler on ptype_all, so __netif_receive_skb_core
// hands it every skb first (deliver_skb: a reference, skb->users++), on the CPU that runs the
// stack, before the protocol handler: a GRO-merged skb is one tapped packet, with the length
// inet_gro_complete / ipv6_gro_complete wrote, and RPS shows as which CPU tapped the packet.
// tpacket_rcv claims room in the socket's one ring under sk_receive_queue.lock (every CPU that
// delivers to the socket shares it), takes the timestamp, copies the bytes (skb_copy_bits: the
// linear part, the page frags, the frag_list) after unlocking, then marks the frame ready
// (TP_STATUS_USER); a full ring is a drop (tp_drops). Here the ring is in shared memory; the
// engine reads it and writes pcapng (engine/tap.ts). The copy is real work on the tapping CPU,
// as in Linux; in sim mode it is priced per packet (cost model tap_ns).
//
// Ring records (8-byte aligned): i32 length (0 while the copy is under way: the status word,
// stored last), i32 the CPU, f64 timestamp (ns, the CPU's clock, taken under the lock: with
// one clock for all CPUs, threads mode's, ring order is time order; sim mode's per-CPU clocks
// may differ by a step, which the reader sorts out), the bytes, padded to 8. A record that would
// cross the end is preceded by a wrap mark (length TAP_WRAP) and written at the start.
// Offsets (ctl.tap_head written here under ctl.tap_lock, ctl.tap_tail by the reader) grow
// and wrap as int32; the size is a power of two.

import type { KCpu } from './percpu.js';
import { payload_offset } from '../uapi/inet.js';
import { spin_lock, spin_unlock } from '../shm/spinlock.js';

export const TAP_RECORD_HDR = 16;
export const TAP_WRAP = -1;
/** A record's header fields: the length (the status word) and the CPU as i32 words, the timestamp as an f64, from the record's start. */
export const TAP_REC_LEN_I32 = 0;
export const TAP_REC_CPU_I32 = 1;
export const TAP_REC_TSTAMP_F64 = 1;

/** skb_copy_bits of one skb's own frame from byte `from` (linear part, then page frags) to u8[to]; returns bytes copied. */
function copy_frame(c: KCpu, skb: number, from: number, len: number, to: number): number {
  const u8 = c.u8;
  const shm = c.shm;
  const data = c.skb_data(skb);
  const linear = len - shm.skb_data_len[skb];
  let n = 0;
  for (let k = from; k < linear; k++) u8[to + n++] = u8[data + k];
  let skip = from > linear ? from - linear : 0;
  for (let page = shm.skb_frags[skb]; page !== -1 && n < len - from; page = shm.skb_frags[page]) {
    const at = c.skb_data(page) + shm.skb_frag_off[page];
    const plen = shm.skb_data_len[page];
    for (let k = skip; k < plen; k++) u8[to + n++] = u8[at + k];
    skip = skip > plen ? skip - plen : 0;
  }
  return n;
}

/**
 * tpacket_rcv for the tap: the skb as a packet socket copies it, into the socket's ring; a
 * full ring is a drop. Softirq context, on the CPU running __netif_receive_skb_core.
 */
export function packet_rcv_tap(c: KCpu, skb: number): void {
  const shm = c.shm;
  const SD = c.SD;
  const CTL = c.layout.CTL;
  const size = shm.layout.tapRingSize;
  // The frag_list (GRO's merged segments) adds each segment's payload after the head's frame.
  let merged = 0;
  for (let seg = c.skb_frag_next[skb]; seg !== -1; seg = c.skb_frag_next[seg]) {
    merged += c.skb_len[seg] - (payload_offset(c.u8, c.skb_data(seg)) - c.skb_data(seg));
  }
  const len = c.skb_len[skb];
  const need = TAP_RECORD_HDR + ((len + 7) & ~7);
  const i32 = c.i32;
  const base = shm.layout.tapRingBase;
  spin_lock(i32, c.ctlI + CTL.tap_lock);
  const head = i32[c.ctlI + CTL.tap_head];
  const tail = Atomics.load(i32, c.ctlI + CTL.tap_tail);
  let pos = head & (size - 1);
  const wrap = pos + need > size ? size - pos : 0;
  if (((head - tail) | 0) + wrap + need > size) {
    spin_unlock(i32, c.ctlI + CTL.tap_lock);
    c.f64[c.sdF + SD.tap_drops] += 1;
    return;
  }
  if (wrap !== 0) {
    Atomics.store(i32, (base + pos) >> 2, TAP_WRAP);
    pos = 0;
  }
  const at = base + pos;
  Atomics.store(i32, (at >> 2) + TAP_REC_LEN_I32, 0); // TP_STATUS_KERNEL: the reader waits here until the copy is done
  i32[(at >> 2) + TAP_REC_CPU_I32] = c.cpu;
  c.f64[(at >> 3) + TAP_REC_TSTAMP_F64] = c.env.now_ns();
  Atomics.store(i32, c.ctlI + CTL.tap_head, (head + wrap + need) | 0);
  spin_unlock(i32, c.ctlI + CTL.tap_lock);
  let to = at + TAP_RECORD_HDR;
  to += copy_frame(c, skb, 0, len - merged, to); // the head's own frame: linear part and page frags
  for (let seg = c.skb_frag_next[skb]; seg !== -1; seg = c.skb_frag_next[seg]) {
    const data = c.skb_data(seg);
    to += copy_frame(c, seg, payload_offset(c.u8, data) - data, c.skb_len[seg], to);
  }
  c.f64[c.sdF + SD.tap_packets] += 1;
  c.f64[c.sdF + SD.tap_bytes] += len;
  Atomics.store(i32, (at >> 2) + TAP_REC_LEN_I32, len); // __packet_set_status(TP_STATUS_USER): the reader may take it
}
