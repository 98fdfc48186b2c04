// net/core/skbuff.c, the little of it the receive path needs.

import type { KCpu } from './percpu.js';

/** kfree_skb: free an skb and every segment GRO chained to it (frag_list). */
export function kfree_skb(c: KCpu, skb: number): void {
  while (skb !== -1) {
    const next = c.skb_frag_next[skb]!;
    c.skb_frag_next[skb] = -1;
    c.skb_next[skb] = -1;
    c.cache.free(skb);
    skb = next;
  }
}
