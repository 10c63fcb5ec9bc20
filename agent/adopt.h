/* SPDX-License-Identifier: MIT */
/*
 * Re-adopting a shard whose state is still live in the data path's maps
 * (the agent was restarted, even by SIGKILL, while XDP kept serving): the
 * sequencer, pending writes, dirty table and client table are kept, and so are
 * the epoch and the write/read sets. docs/operations.md explains when a shard
 * is re-adopted and when it gets a fresh start in a new epoch.
 */
#ifndef DALIO_AGENT_ADOPT_H
#define DALIO_AGENT_ADOPT_H

#include <stdint.h>

#include "config.h"
#include "datapath.h"
#include "probe.h"
#include "shardmap.h"

struct adopt_info {
	int found;		    /* vip_map serves this VIP:port as this shard */
	struct dalio_shard_cfg cfg; /* ... with this configuration */
	int same_replicas;	    /* replica_map holds the configured addresses in order */
	uint64_t next_seq, max_completed;
	uint32_t in_flight;
	const char *why; /* why the shard is not re-adopted (when found) */
};

/*
 * Reads what the maps hold for shard s and decides, with the replicas' first
 * answers (probes, epoch 0), whether it is the shard's live state. Returns 1
 * to re-adopt it, 0 for a fresh start (ad->why says why when ad->found), -1
 * if the maps cannot be read (errno set).
 *
 * Re-adopted only if: the VIP maps to the same shard with a non-empty write
 * set, the replicas are the configured ones, and no replica has seen a newer
 * epoch or applied a seq the sequencer has not handed out (either would mean
 * someone else has served the shard since).
 */
int adopt_lookup(const struct datapath_maps *m, const struct dalio_shard_def *s,
		 const struct replica_probe *probes, struct adopt_info *ad);

/* The decision of adopt_lookup() on what it read into ad (ad->why set when
 * found but not re-adopted). */
int adopt_decide(const struct dalio_shard_def *s, const struct replica_probe *probes,
		 struct adopt_info *ad);

/*
 * The plan for a re-adopted shard: its epoch, and its write and read sets
 * less the replicas that did not answer, have no neighbour entry, or lost
 * completed writes (applied < max_completed). plan->applied is the shard's
 * max_completed, so shard_install() leaves the live sequencer alone. Logs
 * each replica left out. Returns the number in the write set.
 */
int adopt_plan(const struct dalio_shard_def *s, const struct replica_probe *probes,
	       const struct adopt_info *ad, struct shard_plan *plan);

#endif
