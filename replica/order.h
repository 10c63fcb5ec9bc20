/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: write ordering without Redis. The gap buffer holds WRITEs
 * that arrived ahead of the next sequence number; the reply cache keeps the
 * ACK bodies of recent writes for retransmitted duplicates. Both are rings
 * indexed by seq modulo RP_WINDOW. Pure data structures, unit-tested alone.
 */
#ifndef DALIO_REPLICA_ORDER_H
#define DALIO_REPLICA_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* Writes buffered ahead of the next seq, and replies remembered behind it. */
#define RP_WINDOW 4096

enum rp_offer {
	RP_NEXT,	     /* seq is the next one: apply it now, then rp_order_advance */
	RP_DUP,		     /* seq was already applied (or is being applied) */
	RP_BUFFERED,	     /* a copy was stored until its predecessors arrive */
	RP_ALREADY_BUFFERED, /* the same seq is already waiting in the buffer */
	RP_TOO_FAR,	     /* seq is RP_WINDOW or more ahead of the next one: dropped */
};

struct rp_gap_slot {
	uint64_t seq;	/* 0: empty (seq 0 is never a write) */
	uint64_t at_ns; /* when it was buffered (the caller's clock) */
	struct rp_pkt pkt;
};

struct rp_order {
	uint64_t next; /* the next seq to apply: highest applied (or planned) + 1 */
	uint32_t buffered;
	struct rp_gap_slot *slots; /* RP_WINDOW */
};

int rp_order_init(struct rp_order *o, uint64_t applied);
void rp_order_free(struct rp_order *o);
/* Classifies seq; stores a copy of pkt, received at now_ns, when the answer
 * is RP_BUFFERED. */
enum rp_offer rp_order_offer(struct rp_order *o, uint64_t seq, const struct rp_pkt *pkt,
			     uint64_t now_ns);
/* Like rp_order_offer, but o->next itself is buffered too (RP_BUFFERED):
 * used while a full copy runs and nothing may be applied. */
enum rp_offer rp_order_stash(struct rp_order *o, uint64_t seq, const struct rp_pkt *pkt,
			     uint64_t now_ns);
/* The caller has applied (or queued the application of) o->next. */
void rp_order_advance(struct rp_order *o);
/*
 * The buffered write for o->next, removed from the buffer, or NULL. The
 * pointer stays valid until the next rp_order_offer.
 */
const struct rp_pkt *rp_order_take(struct rp_order *o);
/* Restart from applied (after re-reading it from Redis); keeps the buffered
 * writes that are still ahead of it and within the window. */
void rp_order_reset(struct rp_order *o, uint64_t applied);

/* The gap in front of the buffer: the writes missing before the first buffered one. */
struct rp_gap {
	uint64_t first, last;	 /* missing seqs, inclusive */
	uint64_t since_ns;	 /* when the write after the gap was buffered */
	struct sockaddr_in from; /* who sent that write (the LB's VIP:port) */
};

/*
 * Finds the gap in front of the buffer: o->next is missing and a later write
 * is buffered. Returns 0 if there is none (nothing buffered, or o->next
 * itself is buffered after a reset); otherwise fills *gap with first =
 * o->next and last = the seq before the first buffered write, but at most
 * first + cap - 1 (cap >= 1). Scans at most RP_WINDOW slots.
 */
int rp_order_gap(const struct rp_order *o, uint32_t cap, struct rp_gap *gap);

struct rp_cache_slot {
	uint64_t seq; /* 0: empty */
	uint16_t len;
	uint8_t body[RP_MAX_BODY];
};

struct rp_cache {
	struct rp_cache_slot *slots; /* RP_WINDOW */
};

int rp_cache_init(struct rp_cache *c);
void rp_cache_free(struct rp_cache *c);
/* Remembers body (cut to RP_MAX_BODY) as the reply of seq. */
void rp_cache_put(struct rp_cache *c, uint64_t seq, const void *body, size_t len);
/* The remembered reply of seq, or NULL if it has been overwritten or never stored. */
const uint8_t *rp_cache_get(const struct rp_cache *c, uint64_t seq, size_t *len);

#endif /* DALIO_REPLICA_ORDER_H */
