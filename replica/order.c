/* SPDX-License-Identifier: MIT */
/* dalio-replica: gap buffer and reply cache; see order.h. */
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define SLOT(seq) ((seq) & (RP_WINDOW - 1))

_Static_assert((RP_WINDOW & (RP_WINDOW - 1)) == 0, "RP_WINDOW is a power of two");

int rp_order_init(struct rp_order *o, uint64_t applied)
{
	o->next = applied + 1;
	o->buffered = 0;
	o->slots = calloc(RP_WINDOW, sizeof(*o->slots));
	return o->slots ? 0 : -1;
}

void rp_order_free(struct rp_order *o)
{
	free(o->slots);
	o->slots = NULL;
}

/* Keeps a copy of pkt, received at now_ns, in seq's slot (seq within the window). */
static enum rp_offer store(struct rp_order *o, uint64_t seq, const struct rp_pkt *pkt,
			   uint64_t now_ns)
{
	struct rp_gap_slot *s = &o->slots[SLOT(seq)];

	if (s->seq == seq)
		return RP_ALREADY_BUFFERED;
	/* A slot can only hold a seq from the window, so a non-empty slot with
	 * another seq is stale (left behind by a reset); reuse it. */
	if (!s->seq)
		o->buffered++;
	s->seq = seq;
	s->at_ns = now_ns;
	s->pkt.from = pkt->from;
	s->pkt.len = pkt->len;
	memcpy(s->pkt.data, pkt->data, pkt->len);
	return RP_BUFFERED;
}

enum rp_offer rp_order_offer(struct rp_order *o, uint64_t seq, const struct rp_pkt *pkt,
			     uint64_t now_ns)
{
	struct rp_gap_slot *s;

	if (seq < o->next)
		return RP_DUP;
	if (seq == o->next) {
		/* After a reset, next may be buffered already: this copy supersedes it. */
		s = &o->slots[SLOT(seq)];
		if (s->seq == seq) {
			s->seq = 0;
			o->buffered--;
		}
		return RP_NEXT;
	}
	/* Slots hold next .. next + RP_WINDOW - 1. */
	if (seq - o->next >= RP_WINDOW)
		return RP_TOO_FAR;
	return store(o, seq, pkt, now_ns);
}

enum rp_offer rp_order_stash(struct rp_order *o, uint64_t seq, const struct rp_pkt *pkt,
			     uint64_t now_ns)
{
	if (seq < o->next)
		return RP_DUP;
	if (seq - o->next >= RP_WINDOW)
		return RP_TOO_FAR;
	return store(o, seq, pkt, now_ns);
}

void rp_order_advance(struct rp_order *o)
{
	o->next++;
}

const struct rp_pkt *rp_order_take(struct rp_order *o)
{
	struct rp_gap_slot *s = &o->slots[SLOT(o->next)];

	if (s->seq != o->next)
		return NULL;
	s->seq = 0;
	o->buffered--;
	return &s->pkt;
}

void rp_order_reset(struct rp_order *o, uint64_t applied)
{
	o->next = applied + 1;
	o->buffered = 0;
	for (size_t i = 0; i < RP_WINDOW; i++) {
		struct rp_gap_slot *s = &o->slots[i];

		if (s->seq && (s->seq < o->next || s->seq - o->next >= RP_WINDOW))
			s->seq = 0;
		if (s->seq)
			o->buffered++;
	}
}

int rp_order_gap(const struct rp_order *o, uint32_t cap, struct rp_gap *gap)
{
	const struct rp_gap_slot *s;

	if (!o->buffered || o->slots[SLOT(o->next)].seq == o->next)
		return 0;
	for (uint64_t seq = o->next + 1; seq - o->next < RP_WINDOW; seq++) {
		s = &o->slots[SLOT(seq)];
		if (s->seq != seq)
			continue;
		gap->first = o->next;
		gap->last = seq - o->next > cap ? o->next + cap - 1 : seq - 1;
		gap->since_ns = s->at_ns;
		gap->from = s->pkt.from;
		return 1;
	}
	return 0;
}

int rp_cache_init(struct rp_cache *c)
{
	c->slots = calloc(RP_WINDOW, sizeof(*c->slots));
	return c->slots ? 0 : -1;
}

void rp_cache_free(struct rp_cache *c)
{
	free(c->slots);
	c->slots = NULL;
}

void rp_cache_put(struct rp_cache *c, uint64_t seq, const void *body, size_t len)
{
	struct rp_cache_slot *s = &c->slots[SLOT(seq)];

	if (len > sizeof(s->body))
		len = sizeof(s->body);
	s->seq = seq;
	s->len = (uint16_t)len;
	memcpy(s->body, body, len);
}

const uint8_t *rp_cache_get(const struct rp_cache *c, uint64_t seq, size_t *len)
{
	const struct rp_cache_slot *s = &c->slots[SLOT(seq)];

	if (!seq || s->seq != seq)
		return NULL;
	*len = s->len;
	return s->body;
}
