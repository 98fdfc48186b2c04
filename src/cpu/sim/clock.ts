// The sim machine's virtual time (machine.ts): every entity's clock starts here.

/** Virtual time of the first step: ns 0 stands for "no timestamp" in the skb. */
export const SIM_T0_NS = 1_000_000;
