// net/core/skbuff.c, the little of it the receive path needs.

import type { KCpu } from './percpu.js';
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
    const next = c.skb_frag_next[skb]!;
    c.skb_frag_next[skb] = -1;
    c.skb_next[skb] = -1;
    for (let page = frags[skb]!; page !== -1; ) {
      const after = frags[page]!;
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
  const data_len = shm.skb_data_len[skb]!;
  if (data_len === 0) return verify_l4_csum(c.u8, data);
  const u8 = c.u8;
  const proto = frame_l4_proto(u8, data);
  const l4 = l4_offset(u8, data);
  const pre = l4_csum_precheck(u8, proto, l4);
  if (pre !== L4_CSUM_SUM) return pre === L4_CSUM_OK;
  let left = l4_len(u8, data);
  let sum = pseudo_header_sum(u8, data, proto, left);
  let piece = data + c.skb_len[skb]! - data_len - l4;
  if (piece > left) piece = left;
  sum = csum_partial(u8, l4, piece, sum);
  left -= piece;
  for (let page = shm.skb_frags[skb]!; page !== -1 && left > 0; page = shm.skb_frags[page]!) {
    piece = shm.skb_data_len[page]!;
    if (piece > left) piece = left;
    sum = csum_partial(u8, c.skb_data(page) + shm.skb_frag_off[page]!, piece, sum);
    left -= piece;
  }
  return left === 0 && csum_fold(sum) === 0;
}
