/* Drop UDP to the destination ports in the hash map drop_ports (key: the port in host order,
 * value: a counter of the frames dropped), pass everything else.
 *   --xdp test/xdp/drop_port.o --xdp-map drop_ports=53:0  */
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} drop_ports SEC(".maps");

SEC("xdp")
int xdp_drop_port(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tuple t = {};
	__u32 port;
	__u64 *dropped;

	if (parse_tuple(data, data_end, &t) < 0 || t.proto != IPPROTO_UDP)
		return XDP_PASS;
	port = bpf_ntohs(t.dport);
	dropped = bpf_map_lookup_elem(&drop_ports, &port);
	if (!dropped)
		return XDP_PASS;
	__sync_fetch_and_add(dropped, 1);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
