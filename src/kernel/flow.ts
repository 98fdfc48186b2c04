// skb_get_hash (include/linux/skbuff.h, net/core/flow_dissector.c): the device's RSS hash if
// it covered the 4-tuple, else the flow dissector's hash of the real header bytes, cached in
// the skb as a software hash.

import type { KCpu } from './percpu.js';
import { ___skb_get_hash } from './hash/flow_dissector.js';
import { SKB_FLAG_L4_HASH, SKB_FLAG_SW_HASH } from '../shm/layout.js';

export function skb_get_hash(c: KCpu, skb: number): number {
  if ((c.skb_flags[skb] & (SKB_FLAG_L4_HASH | SKB_FLAG_SW_HASH)) === 0) __skb_get_hash(c, skb);
  return c.skb_hash[skb];
}

/** __skb_get_hash: dissect the frame and set skb->hash, skb->sw_hash. */
function __skb_get_hash(c: KCpu, skb: number): void {
  c.skb_hash[skb] = ___skb_get_hash(c.u8, c.skb_data(skb), c.skb_len[skb]);
  c.skb_flags[skb] = c.skb_flags[skb] | SKB_FLAG_SW_HASH;
  c.count(c.SD.flow_dissected);
}
