/* A bounded loop (allowed since 5.3): sums the first 32 bytes of the frame, one byte an
 * iteration, and drops the frame when the sum is odd. clang keeps the loop, so the translator's
 * pc-dispatch form runs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *data_end = (void *)(long)ctx->data_end;
	__u32 sum = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 32; i++) {
		if (data + i + 1 > data_end)
			break;
		sum += data[i] * (i + 1);
	}
	return sum & 1 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
