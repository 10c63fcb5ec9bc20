/* SPDX-License-Identifier: MIT */
/*
 * Programming one shard into the LB's maps: replica addresses, sequencer
 * start point, and last the VIP entry that turns the data path on for it.
 */
#ifndef DALIO_AGENT_SHARDMAP_H
#define DALIO_AGENT_SHARDMAP_H

#include "config.h"
#include "datapath.h"
#include "probe.h"

struct shard_plan {
	uint32_t epoch;
	uint32_t write_mask;
	uint32_t read_mask;
	uint64_t applied; /* highest applied seq among the replicas in the sets */
};

/*
 * Decides the write/read sets from the probes: replicas that answered, whose
 * MAC is known and that have applied everything the most advanced one has.
 * Logs each replica left out and why. Returns the number in the sets.
 */
int shard_plan(const struct dalio_shard_def *s, const struct replica_probe *probes, uint32_t epoch,
	       struct shard_plan *plan);

/* Writes the plan into the maps. 0, or -1 with err set. */
int shard_install(const struct datapath_maps *m, const struct dalio_shard_def *s,
		  const struct replica_probe *probes, const struct shard_plan *plan, char *err,
		  size_t errlen);

#endif
