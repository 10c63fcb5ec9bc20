/* SPDX-License-Identifier: MIT */
/* dalio-replica: NACK timing for gaps in the write order; see nack.h. */
#include "nack.h"

int rp_nack_poll(struct rp_nack *n, const struct rp_order *o, uint64_t now_ns, struct rp_gap *gap)
{
	return rp_nack_poll_gap(n, rp_order_gap(o, RP_NACK_MAX_RANGE, gap), gap, now_ns);
}

int rp_nack_poll_gap(struct rp_nack *n, int have, struct rp_gap *gap, uint64_t now_ns)
{
	uint64_t backoff;

	if (!have) {
		n->head = 0;
		n->asked = 0;
		return 0;
	}
	if (gap->first != n->head &&
	    !(n->asked && gap->first > n->head && gap->first <= n->asked)) {
		/* A new gap: its clock started when the write after it arrived. */
		n->sent = 0;
		n->asked = 0;
		n->due_ns = gap->since_ns + RP_NACK_DELAY_NS;
	}
	n->head = gap->first;
	if (now_ns < n->due_ns)
		return 0;
	n->sent++;
	backoff = n->sent < 7 ? RP_NACK_DELAY_NS << n->sent : RP_NACK_MAX_BACKOFF_NS;
	if (backoff > RP_NACK_MAX_BACKOFF_NS)
		backoff = RP_NACK_MAX_BACKOFF_NS;
	n->due_ns = now_ns + backoff;
	n->asked = gap->last;
	return 1;
}

uint64_t rp_nack_deadline(const struct rp_nack *n)
{
	return n->head ? n->due_ns : UINT64_MAX;
}
