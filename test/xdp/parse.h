/* Header parsing shared by the test programs: Ethernet, then IPv4 (any IHL) or IPv6 (no
 * extension headers), then the UDP or TCP ports. Every access is checked against data_end
 * as the verifier demands. */
#ifndef RXSMP_TEST_XDP_PARSE_H
#define RXSMP_TEST_XDP_PARSE_H
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct tuple {
	__u32 saddr;    /* IPv4 address, or the IPv6 address folded by xor */
	__u32 daddr;
	__u16 sport;    /* network order, as on the wire */
	__u16 dport;
	__u8 proto;
};

/* 0 when the frame is IPv4/IPv6 UDP or TCP and *t is filled in; -1 otherwise. */
static __always_inline int parse_tuple(void *data, void *data_end, struct tuple *t)
{
	struct ethhdr *eth = data;
	void *l4;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return -1;
		t->saddr = iph->saddr;
		t->daddr = iph->daddr;
		t->proto = iph->protocol;
		l4 = (void *)iph + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		t->saddr = ip6h->saddr.in6_u.u6_addr32[0] ^ ip6h->saddr.in6_u.u6_addr32[1] ^
			   ip6h->saddr.in6_u.u6_addr32[2] ^ ip6h->saddr.in6_u.u6_addr32[3];
		t->daddr = ip6h->daddr.in6_u.u6_addr32[0] ^ ip6h->daddr.in6_u.u6_addr32[1] ^
			   ip6h->daddr.in6_u.u6_addr32[2] ^ ip6h->daddr.in6_u.u6_addr32[3];
		t->proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		return -1;
	}
	if (t->proto != IPPROTO_UDP && t->proto != IPPROTO_TCP)
		return -1;
	/* UDP and TCP both start with the two ports. */
	if (l4 + 4 > data_end)
		return -1;
	t->sport = ((struct udphdr *)l4)->source;
	t->dport = ((struct udphdr *)l4)->dest;
	return 0;
}
#endif
