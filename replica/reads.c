/* SPDX-License-Identifier: MIT */
/* dalio-replica: stamped read queue; see reads.h. */
#include <stdlib.h>
#include <string.h>

#include "reads.h"

int rp_reads_init(struct rp_reads *q, uint32_t cap)
{
	memset(q, 0, sizeof(*q));
	if (!cap || (cap & (cap - 1)))
		return -1;
	q->ring = calloc(cap, sizeof(*q->ring));
	q->cap = cap;
	return q->ring ? 0 : -1;
}

void rp_reads_free(struct rp_reads *q)
{
	free(q->ring);
	q->ring = NULL;
}

static struct rp_read *at(const struct rp_reads *q, uint32_t i)
{
	return &q->ring[i & (q->cap - 1)];
}

/* Drops dead entries at the head so their slots can be reused. */
static void trim(struct rp_reads *q)
{
	while (q->head != q->tail && !at(q, q->head)->live)
		q->head++;
}

int rp_reads_push(struct rp_reads *q, uint64_t stamp, uint64_t deadline_ns,
		  const struct rp_pkt *pkt)
{
	struct rp_read *r;

	trim(q);
	if (q->tail - q->head >= q->cap)
		return -1;
	r = at(q, q->tail++);
	r->stamp = stamp;
	r->deadline_ns = deadline_ns;
	r->live = 1;
	r->pkt.from = pkt->from;
	r->pkt.len = pkt->len;
	memcpy(r->pkt.data, pkt->data, pkt->len);
	q->live++;
	return 0;
}

size_t rp_reads_take_ready(struct rp_reads *q, uint64_t applied, rp_read_fn fn, void *ctx)
{
	size_t n = 0;

	for (uint32_t i = q->head; i != q->tail && q->live; i++) {
		struct rp_read *r = at(q, i);

		if (!r->live || r->stamp > applied)
			continue;
		r->live = 0;
		q->live--;
		n++;
		fn(ctx, &r->pkt);
	}
	trim(q);
	return n;
}

size_t rp_reads_take_expired(struct rp_reads *q, uint64_t now_ns, rp_read_fn fn, void *ctx)
{
	size_t n = 0;

	trim(q);
	while (q->head != q->tail) {
		struct rp_read *r = at(q, q->head);

		if (r->live) {
			if (r->deadline_ns > now_ns)
				break;
			r->live = 0;
			q->live--;
			n++;
			fn(ctx, &r->pkt);
		}
		q->head++;
	}
	return n;
}

uint64_t rp_reads_next_deadline(const struct rp_reads *q)
{
	for (uint32_t i = q->head; i != q->tail; i++)
		if (at(q, i)->live)
			return at(q, i)->deadline_ns;
	return UINT64_MAX;
}
