/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: the stamped read queue. READs whose stamp is ahead of the
 * applied seq wait here until the replica catches up or their deadline
 * passes. A FIFO ring (deadlines arrive in order, since the wait is fixed);
 * entries served early are marked dead and skipped. No Redis in here.
 */
#ifndef DALIO_REPLICA_READS_H
#define DALIO_REPLICA_READS_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

struct rp_read {
	uint64_t stamp;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	int live;
	struct rp_pkt pkt;
};

struct rp_reads {
	struct rp_read *ring;
	uint32_t cap;	     /* a power of two */
	uint32_t head, tail; /* free-running; tail - head <= cap */
	uint32_t live;
};

/* The callback gets each read taken out of the queue, in arrival order. */
typedef void (*rp_read_fn)(void *ctx, const struct rp_pkt *pkt);

int rp_reads_init(struct rp_reads *q, uint32_t cap);
void rp_reads_free(struct rp_reads *q);
/* Queues a copy of pkt; -1 when the queue is full. */
int rp_reads_push(struct rp_reads *q, uint64_t stamp, uint64_t deadline_ns,
		  const struct rp_pkt *pkt);
/* Takes every read with stamp <= applied. Returns how many. */
size_t rp_reads_take_ready(struct rp_reads *q, uint64_t applied, rp_read_fn fn, void *ctx);
/* Takes every read whose deadline is <= now_ns. Returns how many. */
size_t rp_reads_take_expired(struct rp_reads *q, uint64_t now_ns, rp_read_fn fn, void *ctx);
/* The earliest deadline of a waiting read, or UINT64_MAX. */
uint64_t rp_reads_next_deadline(const struct rp_reads *q);

#endif /* DALIO_REPLICA_READS_H */
