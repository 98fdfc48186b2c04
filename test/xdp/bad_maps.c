/* Maps the loader must refuse, one program section each (load with FILE:SECTION):
 *   ringbuf:   a BPF_MAP_TYPE_RINGBUF map, a type rxsmp does not model;
 *   unknown:   a legacy map of type 99, no map type of Linux 5.10;
 *   cpumap:    bpf_map_lookup_elem on a cpumap, which 5.10's verifier refuses
 *              (check_map_func_compatibility: a cpumap takes only bpf_redirect_map). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type, key_size, value_size, max_entries, map_flags;
};

#ifdef RINGBUF
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int xdp_ringbuf(struct xdp_md *ctx)
{
	return bpf_ringbuf_output(&events, &ctx, 8, 0) ? XDP_DROP : XDP_PASS;
}
#endif

#ifdef UNKNOWN
struct bpf_map_def SEC("maps") odd = { .type = 99, .key_size = 4, .value_size = 4, .max_entries = 1 };

SEC("xdp")
int xdp_unknown(struct xdp_md *ctx)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&odd, &k) ? XDP_DROP : XDP_PASS;
}
#endif

#ifdef CPUMAP
struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct bpf_cpumap_val));
	__uint(max_entries, 4);
} cpu_map SEC(".maps");

SEC("xdp")
int xdp_cpumap_lookup(struct xdp_md *ctx)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&cpu_map, &k) ? bpf_redirect_map(&cpu_map, 0, 0) : XDP_PASS;
}
#endif

char _license[] SEC("license") = "GPL";
