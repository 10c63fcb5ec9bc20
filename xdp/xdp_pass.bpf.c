// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xdp_pass: passes every packet. Test topologies attach it to the bridge-side
 * peer of the LB's veth, because XDP_TX on a veth only delivers when the peer
 * has an XDP program too. Not needed on a real NIC.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
