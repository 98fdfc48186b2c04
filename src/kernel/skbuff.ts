// net/core/skbuff.c, the little of it the receive path needs.

import type { KCpu } from './percpu.js';
import type { Config } from '../config/schema.js';
import { nicModel } from '../config/nics.js';
import { VIRTIO_HEADROOM, virtioBufSize } from '../shm/layout.js';
import {
  csum_fold,
  csum_partial,
  frame_l4_proto,
  L4_CSUM_OK,
  L4_CSUM_SUM,
  l4_csum_precheck,
  l4_len,
  l4_offset,
  pseudo_header_sum,
  verify_l4_csum,
} from '../uapi/inet.js';

/**
 * kfree_skb: free an skb and every segment GRO chained to it (frag_list), each with the pages
 * holding the rest of its frame (skb_shinfo(skb)->frags: virtio's mergeable and big buffers).
 */
export function kfree_skb(c: KCpu, skb: number): void {
  // One buffer, no GRO segments, no pages: the common case, straight back to the cache.
  if (c.skb_frag_next[skb] === -1 && c.skb_frags[skb] === -1) {
    c.skb_next[skb] = -1;
    c.cache.free(skb);
    return;
  }
  kfree_skb_list(c, skb);
}

/** kfree_skb of an skb with GRO segments (frag_list) or pages (frags). */
function kfree_skb_list(c: KCpu, skb: number): void {
  const frags = c.skb_frags;
  while (skb !== -1) {
    const next = c.skb_frag_next[skb];
    c.skb_frag_next[skb] = -1;
    c.skb_next[skb] = -1;
    for (let page = frags[skb]; page !== -1; ) {
      const after = frags[page];
      frags[page] = -1;
      c.cache.free(page);
      page = after;
    }
    frags[skb] = -1;
    c.cache.free(skb);
    skb = next;
  }
}

/**
 * The L4 checksum over a whole frame (verify_l4_csum), the frame's pages included when it
 * arrived over several buffers: the head's bytes, then each page's. Every piece but the last
 * has an even length (buffers are whole cache lines; the head's L4 part is its length less
 * 34 or 54 header bytes), so their partial sums add without byte swaps.
 */
export function skb_verify_l4_csum(c: KCpu, skb: number): boolean {
  const shm = c.shm;
  const data = c.skb_data(skb);
  const data_len = shm.skb_data_len[skb];
  if (data_len === 0) return verify_l4_csum(c.u8, data);
  const u8 = c.u8;
  const proto = frame_l4_proto(u8, data);
  const l4 = l4_offset(u8, data);
  const pre = l4_csum_precheck(u8, proto, l4);
  if (pre !== L4_CSUM_SUM) return pre === L4_CSUM_OK;
  let left = l4_len(u8, data);
  let sum = pseudo_header_sum(u8, data, proto, left);
  let piece = data + c.skb_len[skb] - data_len - l4;
  if (piece > left) piece = left;
  sum = csum_partial(u8, l4, piece, sum);
  left -= piece;
  for (let page = shm.skb_frags[skb]; page !== -1 && left > 0; page = shm.skb_frags[page]) {
    piece = shm.skb_data_len[page];
    if (piece > left) piece = left;
    sum = csum_partial(u8, c.skb_data(page) + shm.skb_frag_off[page], piece, sum);
    left -= piece;
  }
  return left === 0 && csum_fold(sum) === 0;
}

/** SMP_CACHE_BYTES - 1: SKB_DATA_ALIGN rounds up to a cache line. */
const SKB_DATA_ALIGN_MASK = 63;
/** SKB_DATA_ALIGN(sizeof(struct sk_buff)): 224 bytes, aligned 256. */
const SKB_STRUCT_SIZE = 256;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 (bpf/vm.ts and shm/layout.ts hold the same figure for XDP). */
const SKB_SHARED_INFO_SIZE = 320;

/**
 * SKB_TRUESIZE(len): data (SKB_DATA_ALIGN'd), struct sk_buff and skb_shared_info: what an skb
 * of a `len`-byte head charges a socket.
 */
export function skbTruesize(len: number): number {
  return ((len + SKB_DATA_ALIGN_MASK) & ~SKB_DATA_ALIGN_MASK) + SKB_STRUCT_SIZE + SKB_SHARED_INFO_SIZE;
}

/** NET_SKB_PAD: headroom __netdev_alloc_skb / __napi_alloc_skb add (max(32, L1_CACHE_BYTES)). */
const NET_SKB_PAD = 64;
/** 3c59x's rx_copybreak and PKT_BUF_SZ (drivers/net/ethernet/3com/3c59x.c). */
const VORTEX_RX_COPYBREAK = 200;
const VORTEX_PKT_BUF_SZ = 1536;
/** virtio-net's GOOD_COPY_LEN: page_to_skb copies this much into a napi_alloc_skb head. */
const VIRTIO_GOOD_COPY_LEN = 128;
const VIRTIO_HDR_LEN = 12;

/**
 * skb->truesize of a received frame of `len` bytes (FCS excluded), as the 5.10 driver
 * allocated it; the one rule socket accounting (sk_rmem_alloc) and TCP's window use.
 * - build_skb (ixgbe): build_skb on half a 4 KiB page (ixgbe_build_skb: truesize = ixgbe_rx_pg_size / 2),
 *   so SKB_TRUESIZE(2048 - SKB_DATA_ALIGN(skb_shared_info)) = 2304 whatever the length.
 * - copybreak (legacy, 3c59x boomerang_rx): below rx_copybreak the frame is copied into
 *   netdev_alloc_skb(len + 2); else the ring's netdev_alloc_skb_ip_align(PKT_BUF_SZ) goes up.
 *   __netdev_alloc_skb adds NET_SKB_PAD.
 * - page_to_skb (virtio): a napi_alloc_skb(GOOD_COPY_LEN) head; a frame longer than that keeps
 *   its buffers as frags, each adding its truesize (mergeable: the 1536-byte buffer; big
 *   packets: PAGE_SIZE per page).
 * Start-up only: the CPUs read it from their table (KCpu.truesize_by_len).
 */
export function rxSkbTruesize(cfg: Config, len: number): number {
  const rule = nicModel(cfg.nic).truesize; // the NIC's driver's allocation (config/nics.ts)
  if (rule === 'build_skb') return skbTruesize(2048 - 320);
  if (rule === 'copybreak') return skbTruesize(NET_SKB_PAD + (len < VORTEX_RX_COPYBREAK ? len + 2 : VORTEX_PKT_BUF_SZ));
  const head = skbTruesize(NET_SKB_PAD + VIRTIO_GOOD_COPY_LEN);
  if (len <= VIRTIO_GOOD_COPY_LEN) return head;
  const room = virtioBufSize(cfg) - VIRTIO_HEADROOM;
  return head + Math.ceil((len + VIRTIO_HDR_LEN) / room) * room;
}
