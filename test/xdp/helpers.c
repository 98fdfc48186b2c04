/* The other helpers XDP programs use, on every frame: bpf_get_prandom_u32, bpf_ktime_get_ns,
 * bpf_get_smp_processor_id, bpf_csum_diff over the IPv4 header (stored in stats[1]: a valid
 * header folds to 0), bpf_printk (its format in .rodata), bpf_xdp_adjust_head and
 * bpf_xdp_adjust_tail, bpf_redirect and bpf_redirect_map into a devmap. */
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 2);
} tx_port SEC(".maps");

static __always_inline void stat_add(__u32 k, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("xdp")
int xdp_helpers(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u32 rnd = bpf_get_prandom_u32();
	__u64 now = bpf_ktime_get_ns();
	__u32 cpu = bpf_get_smp_processor_id();
	__s64 sum;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	stat_add(0, now & 0xff);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		sum = bpf_csum_diff(0, 0, (void *)iph, sizeof(*iph), 0);
		/* csum_fold */
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		stat_add(1, (~sum) & 0xffff);
		bpf_printk("csum %x cpu %u rnd %u", sum, cpu, rnd & 0xff);
	}
	if (rnd & 1) {
		if (bpf_xdp_adjust_head(ctx, -16) == 0) {
			data = (void *)(long)ctx->data;
			data_end = (void *)(long)ctx->data_end;
			if (data + 16 + sizeof(struct ethhdr) > data_end)
				return XDP_ABORTED;
			__builtin_memcpy(data, data + 16, 14);
			stat_add(2, 1);
		}
	} else if (rnd & 2) {
		if (bpf_xdp_adjust_tail(ctx, -4) == 0)
			stat_add(3, 1);
	}
	if ((rnd & 12) == 4)
		return bpf_redirect(1, 0);
	if ((rnd & 12) == 8)
		return bpf_redirect_map(&tx_port, rnd >> 31, XDP_PASS);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
