/* Reads the byte at data + 100 without checking it against data_end: the verifier would refuse
 * this program ("invalid access to packet"); rxsmp runs it and ends every frame shorter than
 * 101 bytes as XDP_ABORTED, counted, and passes the longer ones. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_oob(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[100] == 0xff ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
