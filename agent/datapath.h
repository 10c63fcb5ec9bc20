/* SPDX-License-Identifier: MIT */
/*
 * The LB data path's lifecycle: load the XDP and tc objects with their maps
 * pinned under <pin_path>/<interface>, attach them, detach and unpin them.
 */
#ifndef DALIO_AGENT_DATAPATH_H
#define DALIO_AGENT_DATAPATH_H

#include "config.h"

struct datapath;

/* Opens and loads both programs; maps are created or re-adopted from bpffs. */
struct datapath *datapath_load(const struct dalio_config *cfg, char *err, size_t errlen);
/* Attaches tc ingress, then XDP. */
int datapath_attach(struct datapath *dp, char *err, size_t errlen);
/* Detaches what was attached, unpins the maps (if unpin), frees dp. */
void datapath_destroy(struct datapath *dp, int unpin);

/* Non-zero while libbpf's expected complaints are to be hidden (main.c). */
extern int libbpf_quiet;

/* Map file descriptors for the agent's writers and readers. */
struct datapath_maps {
	int vip_map, replica_map, shard_state, pending_ring, dirty_map, stats_map, payload_ring;
	unsigned payload_slots; /* payload_ring entries: (max shard id + 1) rings */
};
/* Entries of the payload ring for cfg's shards. */
unsigned datapath_payload_slots(const struct dalio_config *cfg);
void datapath_maps(const struct datapath *dp, struct datapath_maps *out);

#endif
