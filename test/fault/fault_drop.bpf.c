// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault_drop: test-only tc program that drops DROP_PCT percent of the Dalio
 * datagrams (UDP with the Dalio magic) passing the hook it is attached to, at
 * random. This kernel has no netem; tests attach this to a client's ingress
 * and egress to lose requests and replies.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#ifndef DROP_PCT
#define DROP_PCT 40
#endif
#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

SEC("tc")
int fault_drop(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct dalio_pkt p = {};

	if (parse_udp(data, data_end, &p) || parse_dalio(data_end, &p))
		return TC_ACT_OK;
	return bpf_get_prandom_u32() % 100 < DROP_PCT ? TC_ACT_SHOT : TC_ACT_OK;
}
