// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Test-only wrapper of the devmap egress program's code. The kernel refuses
 * BPF_PROG_TEST_RUN for devmap egress programs (EINVAL), and refuses a
 * non-zero egress_ifindex in the context of other XDP programs, so this plain
 * XDP program runs the same fwd_devmap_egress() with the egress ifindex taken
 * from a global the test sets. The test shares its maps with dalio_lb's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "dalio_fwd.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__u32 egress_ifindex;

SEC("xdp")
int devmap_egress_test(struct xdp_md *ctx)
{
	return fwd_devmap_egress(ctx, egress_ifindex);
}
