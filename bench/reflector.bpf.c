// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * reflector: the ceiling for one pass through the LB (bench/). Attached to
 * the LB's interface instead of Dalio's data path, it answers every Dalio
 * REQUEST to UDP port 7379 itself with XDP_TX: addresses swapped, the header
 * turned into a REPLY (status OK, key_len 0) and the body replaced by the
 * smallest reply that dalio-bench accepts ("+OK" for a write, nil for a read),
 * the frame trimmed to fit. No maps, no state: parse, rewrite, transmit.
 * Everything else passes.
 */
#include "answer.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("xdp")
int reflector(struct xdp_md *ctx)
{
	return answer(ctx, 7379, DALIO_T_REQUEST, DALIO_T_REPLY, 0, 0);
}
