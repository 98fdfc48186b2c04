/* A cpumap entry with a second program (struct bpf_cpumap_val.bpf_prog), as 5.10 runs it in
 * the cpumap kthread (cpu_map_bpf_prog_run_xdp): the first program sends every frame to CPU 1,
 * the second counts them there and passes them on. In rxsmp the entry's bpf_prog fd N names
 * the object's Nth program section: here 2, the xdp_cpumap/count section.
 *   --xdp test/xdp/cpumap_prog.o --xdp-map cpu_map=1:0x4000000002000000  (qsize 64, program 2) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct bpf_cpumap_val));
	__uint(max_entries, 4);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} on_kthread SEC(".maps");

SEC("xdp")
int xdp_to_cpu1(struct xdp_md *ctx)
{
	return bpf_redirect_map(&cpu_map, 1, 0);
}

SEC("xdp_cpumap/count")
int xdp_count_on_kthread(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&on_kthread, &k);

	if (n)
		*n += 1;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
