/* SPDX-License-Identifier: MIT */
/*
 * A snapshot of one shard's data-path state read from the LB's maps: its
 * configuration, sequencer, dirty-table occupancy, pending writes and counters
 * summed over CPUs. Read by the agent's metrics endpoint and by dalio-ctl
 * (which opens the pinned maps itself, so it works while the agent is down).
 * The snapshot struct has no libbpf types, so formatting code and its tests
 * need no BPF.
 */
#ifndef DALIO_AGENT_LBSTATE_H
#define DALIO_AGENT_LBSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "datapath.h"

struct lb_shard_snap {
	int present;		    /* vip_map serves the shard's VIP:port */
	struct dalio_shard_cfg cfg; /* epoch, write/read sets (when present) */
	uint64_t next_seq, max_completed;
	uint32_t in_flight;		/* shard_state's pending-write count */
	uint32_t dirty_buckets;		/* dirty_map buckets with pending writes */
	uint32_t pending_slots;		/* pending_ring slots holding a pending write */
	uint64_t oldest_pending_ns;	/* age of the oldest pending write (0: none) */
	uint64_t stats[DALIO_STAT_MAX]; /* stats_map, summed over CPUs */
};

/* Opens the maps pinned in pin_dir (read-only). 0, or -1 with err set. */
int lbstate_open_pinned(const char *pin_dir, struct datapath_maps *m, char *err, size_t errlen);
void lbstate_close(struct datapath_maps *m);

/* Fills out for shard s from the maps. 0, or -1 (errno set). */
int lbstate_read(const struct datapath_maps *m, const struct dalio_shard_def *s,
		 struct lb_shard_snap *out);
/* Its two halves. The counters are a few lookups (microseconds): presence,
 * configuration, sequencer, stats. The scan reads the shard's whole dirty
 * table and pending ring (about 5 ms): dirty_buckets, pending_slots,
 * oldest_pending_ns (age at the time of the scan). */
int lbstate_read_counters(const struct datapath_maps *m, const struct dalio_shard_def *s,
			  struct lb_shard_snap *out);
int lbstate_scan_tables(const struct datapath_maps *m, const struct dalio_shard_def *s,
			struct lb_shard_snap *out);

#endif
