/* XDP's software RPS: redirect each frame into a cpumap, the CPU chosen by a hash of its
 * 4-tuple (addresses, ports, protocol), so that a flow stays on one CPU. After the kernel's
 * samples/bpf/xdp_redirect_cpu_kern.c (xdp_prognum5_lb_hash_ip_pairs): cpus_count holds how
 * many CPUs are in use, cpus_available which ones, cpu_map their queues.
 *   --xdp test/xdp/cpumap.o --xdp-map cpu_map=1:192 --xdp-map cpus_available=0:1 --xdp-map cpus_count=0:1 */
#include "parse.h"

#define MAX_CPUS 64

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct bpf_cpumap_val));
	__uint(max_entries, MAX_CPUS);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, MAX_CPUS);
} cpus_available SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cpus_count SEC(".maps");

/* Bob Jenkins' final mix (jhash's __jhash_final), as the sample's hash_func01.h mixes. */
#define rol32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static __always_inline __u32 hash_tuple(const struct tuple *t)
{
	__u32 a = t->saddr, b = t->daddr, c = ((__u32)t->sport << 16 | t->dport) + t->proto;

	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

SEC("xdp")
int xdp_cpumap_hash(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tuple t = {};
	__u32 key0 = 0, cpu_idx, *cpu_max, *cpu_dest;

	cpu_max = bpf_map_lookup_elem(&cpus_count, &key0);
	if (!cpu_max || *cpu_max == 0)
		return XDP_ABORTED;
	if (parse_tuple(data, data_end, &t) < 0)
		cpu_idx = 0;
	else
		cpu_idx = hash_tuple(&t) % *cpu_max;
	cpu_dest = bpf_map_lookup_elem(&cpus_available, &cpu_idx);
	if (!cpu_dest)
		return XDP_ABORTED;
	if (*cpu_dest >= MAX_CPUS)
		return XDP_ABORTED;
	return bpf_redirect_map(&cpu_map, *cpu_dest, 0);
}

char _license[] SEC("license") = "GPL";
