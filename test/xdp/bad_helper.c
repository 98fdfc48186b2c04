/* Calls helper 9999, which no kernel has: the loader must refuse it ("invalid func unknown#9999"). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static long (*bpf_no_such_helper)(void) = (void *)9999;

SEC("xdp")
int xdp_bad_helper(struct xdp_md *ctx)
{
	return bpf_no_such_helper() ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
