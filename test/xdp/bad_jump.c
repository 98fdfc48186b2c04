/* A jump 1000 instructions past the end of a 4-instruction program: the loader must refuse it
 * ("jump out of range"), as the verifier's check_cfg does. Written in BPF assembly, since
 * clang never emits such a jump itself. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_bad_jump(struct xdp_md *ctx)
{
	asm volatile("r0 = 2\n"
		     "if r0 == 3 goto +1000\n"
		     "exit\n" ::: "r0");
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
