/* SPDX-License-Identifier: MIT */
/*
 * dalio-ulb: the same replication coordinator as xdp/dalio_lb.bpf.c plus
 * tc/dalio_fanout.bpf.c, in plain Linux user space (UDP sockets). It is the
 * baseline the benchmarks measure Dalio against, so it keeps every guarantee
 * of the in-kernel data path (docs/lb-datapath.md, docs/exactly-once.md):
 *
 *   - per-shard sequencing without holes (a write that cannot be tracked is
 *     refused BUSY before it gets a seq);
 *   - a pending ring with ack bitmaps; exactly one reply per write;
 *   - a dirty-key table that counts pending writes per bucket (no false
 *     negatives) and stamps reads with the bucket's latest seq, or with the
 *     shard's highest completed seq for clean keys;
 *   - dirty reads prefer a replica whose ack for the latest write arrived;
 *   - an exactly-once client table (LRU, DALIO_MAX_CLIENTS entries): retries
 *     of pending writes are re-sent with the original seq to the replicas
 *     whose ack is missing, retries of completed writes become REPLAYs;
 *   - acks and read replies only from configured replicas (IP and port);
 *   - the same status codes.
 *
 * This file is the socket-free core (ulb/core.c), unit-tested on its own;
 * ulb/main.c owns the sockets, the configuration and replica probing.
 * The core is single-threaded: one thread owns a struct ulb.
 */
#ifndef DALIO_ULB_H
#define DALIO_ULB_H

#include <stddef.h>
#include <stdint.h>

#include "dalio/lb_types.h"
#include "dalio/wire.h"

#define ULB_CLIENT_BUCKETS (2 * DALIO_MAX_CLIENTS)
#define ULB_NIL		   UINT32_MAX

struct ulb_addr {
	uint32_t ip;   /* network order */
	uint16_t port; /* network order */
};

struct ulb_pending {
	uint64_t seq;
	uint64_t client_id;
	uint64_t request_id;
	uint64_t digest; /* hash of the request's payload with flags zeroed */
	uint32_t acked;
	uint32_t need;
	uint32_t bucket;
	uint16_t payload_len;
	uint8_t state; /* enum dalio_slot_state */
};

struct ulb_dirty {
	uint32_t pending;
	uint64_t latest_seq;
};

struct ulb_shard {
	/* configuration (like vip_map + replica_map) */
	uint32_t id;
	uint32_t epoch;
	uint32_t write_mask;
	uint32_t read_mask;
	unsigned n_replicas;
	struct ulb_addr replicas[DALIO_MAX_REPLICAS];
	struct ulb_addr vip;
	/* sequencer (like shard_state) */
	uint64_t next_seq; /* 0: not initialised, requests get NO_REPLICA */
	uint64_t max_completed;
	uint32_t in_flight;
	uint32_t rr;
	struct ulb_pending ring[DALIO_RING_SIZE];
	struct ulb_dirty dirty[DALIO_DIRTY_BUCKETS];
	uint64_t stats[DALIO_STAT_MAX];
};

/* Exactly-once client table: a hash table with an LRU list, like client_map. */
struct ulb_client {
	uint64_t client_id;
	uint64_t request_id;
	uint64_t seq;
	uint32_t shard;
	uint32_t hnext;		     /* hash chain */
	uint32_t lru_prev, lru_next; /* most recent at the head */
};

struct ulb_clients {
	uint32_t used;
	uint32_t capacity;
	uint32_t head, tail;
	uint32_t buckets[ULB_CLIENT_BUCKETS];
	struct ulb_client e[DALIO_MAX_CLIENTS];
};

/* Where the (rewritten in place) datagram has to go; n = 0: drop it. */
struct ulb_out {
	unsigned n;
	struct ulb_addr to[DALIO_MAX_REPLICAS];
};

/* Initialises a shard as the agent would program it; next_seq = applied + 1. */
void ulb_shard_init(struct ulb_shard *s, uint32_t id, struct ulb_addr vip, uint32_t epoch,
		    const struct ulb_addr *replicas, unsigned n_replicas, uint32_t write_mask,
		    uint32_t read_mask, uint64_t applied);

/* capacity: entries before the least recently used is evicted (<= DALIO_MAX_CLIENTS). */
void ulb_clients_init(struct ulb_clients *c, uint32_t capacity);

/*
 * Handles one datagram that arrived on the shard's VIP:port from `from`.
 * buf (len bytes, room for at least len) is rewritten in place into what is
 * to be sent (a WRITE, READ, REPLAY, REPLY or a status answer) and out says
 * to whom; out->n == 0 means drop. The length never changes.
 */
void ulb_handle(struct ulb_shard *s, struct ulb_clients *clients, uint8_t *buf, size_t len,
		struct ulb_addr from, struct ulb_out *out);

/* Hash of the payload as a retry compares it (flags zeroed). Exposed for tests. */
uint64_t ulb_request_digest(const uint8_t *buf, size_t len);

#endif /* DALIO_ULB_H */
