/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: when to ask the LB for writes missing behind a gap (NACK).
 *
 * Writes reach a replica in seq order unless the network reorders or loses
 * them. A gap in front of the buffer (order.h, rp_order_gap) that outlives
 * RP_NACK_DELAY_NS -- measured from when the first write after it was
 * buffered, so a write merely overtaken on the way has time to arrive -- is
 * reported with a NACK for the missing range, at most RP_NACK_MAX_RANGE seqs.
 * While the gap persists the NACK is repeated with a doubling interval,
 * 2 x RP_NACK_DELAY_NS up to RP_NACK_MAX_BACKOFF_NS. A gap that only shrank
 * from the front (some of the asked-for writes arrived, the rest are likely
 * right behind them) keeps that schedule; any other gap starts afresh, and is
 * asked for at once if the write after it has already waited long enough.
 *
 * Pure decision logic, no I/O: the caller sends the NACK. Unit-tested in
 * test/unit/test_replica_order.c.
 */
#ifndef DALIO_REPLICA_NACK_H
#define DALIO_REPLICA_NACK_H

#include <stdint.h>

#include "order.h"

#define RP_NACK_DELAY_NS       5000000ull   /* 5 ms: longer than reordering on a LAN */
#define RP_NACK_MAX_BACKOFF_NS 320000000ull /* repeat at least every 320 ms */
#define RP_NACK_MAX_RANGE      256	    /* seqs per NACK */

struct rp_nack {
	uint64_t head;	 /* first missing seq of the gap below; 0: no gap */
	uint64_t asked;	 /* last seq of the last NACK for it; 0: none sent */
	uint64_t due_ns; /* when a NACK for it is (next) due */
	uint32_t sent;	 /* NACKs sent for it */
};

/*
 * Looks at the gap in front of o's buffer at time now_ns. Returns 1 when a
 * NACK is due now and fills *gap with the range to ask for and where to send
 * it (the sender of the write after the gap); the caller must send it. Returns
 * 0 otherwise.
 */
int rp_nack_poll(struct rp_nack *n, const struct rp_order *o, uint64_t now_ns, struct rp_gap *gap);

/* The same with the gap found by the caller (have: whether there is one in
 * *gap); vr mode takes its gaps from the vr log (vrlog.h). */
int rp_nack_poll_gap(struct rp_nack *n, int have, struct rp_gap *gap, uint64_t now_ns);

/* When rp_nack_poll may next have something to send; UINT64_MAX if no gap is known. */
uint64_t rp_nack_deadline(const struct rp_nack *n);

#endif /* DALIO_REPLICA_NACK_H */
