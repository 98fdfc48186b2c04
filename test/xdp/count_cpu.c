/* Count frames and bytes per CPU in a percpu_array, pass them all (as xdp1 in samples/bpf). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct counters);
	__uint(max_entries, 1);
} rx_count SEC(".maps");

SEC("xdp")
int xdp_count_cpu(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct counters *c = bpf_map_lookup_elem(&rx_count, &key);

	if (!c)
		return XDP_ABORTED;
	c->packets++;
	c->bytes += ctx->data_end - ctx->data;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
