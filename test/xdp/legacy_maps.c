/* Maps in the legacy "maps" section (struct bpf_map_def, as samples/bpf wrote them before
 * BTF), an LRU hash and a percpu hash updated and deleted from the program: the loader's
 * legacy path and the hash maps' program-side update/delete. Passes every frame. */
#include "parse.h"

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") seen = {
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

struct bpf_map_def SEC("maps") per_proto = {
	.type = BPF_MAP_TYPE_PERCPU_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 8,
};

SEC("xdp")
int xdp_legacy(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tuple t = {};
	__u64 one = 1, *v;
	__u32 key, proto;

	if (parse_tuple(data, data_end, &t) < 0)
		return XDP_PASS;
	key = t.saddr ^ t.sport;
	v = bpf_map_lookup_elem(&seen, &key);
	if (!v)
		bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST);
	else if (__sync_fetch_and_add(v, 1) > 6)
		bpf_map_delete_elem(&seen, &key);
	proto = t.proto;
	v = bpf_map_lookup_elem(&per_proto, &proto);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&per_proto, &proto, &one, BPF_ANY);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
