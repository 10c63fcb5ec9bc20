/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: catching up with a full copy (docs/membership.md). On SYNC
 * from the agent the daemon makes its Redis a replica of an in-sync
 * replica's Redis, keeps new WRITEs buffered (nothing is applied), waits
 * until the copied __dalio:applied reaches the SYNC's target seq, detaches,
 * takes applied from the dataset and applies the buffered writes after it.
 */
#ifndef DALIO_REPLICA_SYNC_H
#define DALIO_REPLICA_SYNC_H

#include <stdint.h>

#define RP_SYNC_POLL_NS	   (20 * 1000000ull)	/* INFO replication every 20 ms */
#define RP_SYNC_TIMEOUT_NS (60 * 1000000000ull) /* give up (agent re-sends) */

struct rp_sync {
	int active;	   /* copying: WRITEs are stashed, not applied */
	int replicating;   /* REPLICAOF sent */
	uint64_t id;	   /* the SYNC being run */
	uint64_t done_id;  /* the last SYNC completed (echoed in PONG.stamp) */
	uint64_t target;   /* applied seq the copy must reach */
	uint32_t src_ip;   /* network order */
	uint16_t src_port; /* network order */
	uint64_t next_ns;  /* next progress check */
	uint64_t deadline_ns;
};

struct rp_state;
struct rp_pkt;
struct dalio_msg;

/* A SYNC message from the LB. */
void rp_sync_request(struct rp_state *s, const struct dalio_msg *m);
/* Drives a running copy; call between batches (no Redis replies pending). */
void rp_sync_step(struct rp_state *s);
/* ns until rp_sync_step wants to run, or UINT64_MAX. */
uint64_t rp_sync_next_ns(const struct rp_state *s);

#endif /* DALIO_REPLICA_SYNC_H */
