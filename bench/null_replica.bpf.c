// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * null_replica: a replica that costs (almost) nothing, for the benchmark's
 * coordinator-bound runs (bench/). Attached to a replica host's interface, it
 * answers every WRITE to UDP port 7400 with an ACK ("+OK") and every READ or
 * REPLAY with a READ_REPLY (nil), echoing the header like dalio-replica does,
 * without Redis and without looking at seq or stamp. The LB (Dalio or
 * dalio-ulb) still does all of its work: sequencing, fan-out, ack counting,
 * dirty keys, stamps. It stores nothing: only for measuring the coordinator.
 */
#include "answer.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("xdp")
int null_replica(struct xdp_md *ctx)
{
	int rc = answer(ctx, 7400, DALIO_T_WRITE, DALIO_T_ACK, DALIO_T_READ, DALIO_T_READ_REPLY);

	if (rc != XDP_PASS)
		return rc;
	return answer(ctx, 7400, DALIO_T_REPLAY, DALIO_T_READ_REPLY, 0, 0);
}
