// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault_tun: test-only tc program that steers a host's Dalio UDP traffic
 * through dalio-netem (test/fault/dalio-netem.c), which impairs it (loss,
 * duplication, delay, reordering) and writes it back into the kernel.
 *
 * dalio-netem loads this program itself, sets the read-only configuration
 * below, and attaches it to clsact ingress and/or egress of the host's
 * interface. A packet whose UDP source or destination port is in one of the
 * configured ranges is bpf_redirect()ed to the egress of dalio-netem's TUN
 * device, i.e. handed to dalio-netem's read(). The TUN is L3 (ARPHRD_NONE),
 * so the kernel strips the Ethernet header on the way.
 *
 * What dalio-netem writes back arrives as ingress on the TUN device: inbound
 * packets are delivered to the local socket from there; outbound ones are
 * forwarded (ip_forward) out of the interface again, and pass this program a
 * second time with skb->ingress_ifindex == the TUN's ifindex: those are let
 * through, which is what keeps a packet from looping.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TC_ACT_OK	 0
#define FAULT_TUN_RANGES 4

/* Set by dalio-netem before loading. */
const volatile __u32 tun_ifindex = 0;
const volatile __u32 nranges = 0;
const volatile __u16 port_lo[FAULT_TUN_RANGES] = {};
const volatile __u16 port_hi[FAULT_TUN_RANGES] = {};

/* Per-CPU counters dalio-netem prints: [0] steered, [1] passed back. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} fault_tun_stats SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&fault_tun_stats, &i);

	if (v)
		(*v)++;
}

static __always_inline int port_match(__u16 port)
{
	for (__u32 i = 0; i < FAULT_TUN_RANGES; i++)
		if (i < nranges && port >= port_lo[i] && port <= port_hi[i])
			return 1;
	return 0;
}

SEC("tc")
int fault_tun(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct dalio_pkt p = {};

	if (!tun_ifindex || parse_udp(data, data_end, &p))
		return TC_ACT_OK;
	if (!port_match(bpf_ntohs(p.udp->source)) && !port_match(bpf_ntohs(p.udp->dest)))
		return TC_ACT_OK;
	if (skb->ingress_ifindex == tun_ifindex) {
		count(1); /* already impaired: came out of dalio-netem */
		return TC_ACT_OK;
	}
	count(0);
	return bpf_redirect(tun_ifindex, 0);
}
