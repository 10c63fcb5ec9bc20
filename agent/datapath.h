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
/* Frees dp but leaves the programs attached and the maps pinned: the data
 * path keeps serving for the next agent (hand-over, or a failed restart). */
void datapath_release(struct datapath *dp);
/* Non-zero if datapath_load found a running data path or pinned maps. */
int datapath_adopted(const struct datapath *dp);
/* Id of the running dalio_lb that datapath_attach replaces (0: none). */
unsigned datapath_replaced_xdp_id(const struct datapath *dp);

/* Non-zero while libbpf's expected complaints are to be hidden (main.c). */
extern int libbpf_quiet;

/* Map file descriptors for the agent's writers and readers. */
struct datapath_maps {
	int vip_map, replica_map, shard_state, pending_ring, dirty_map, stats_map, payload_ring;
	int client_map;
	unsigned payload_slots; /* payload_ring entries: (max shard id + 1) rings */
};
/* Entries of the payload ring for cfg's shards. */
unsigned datapath_payload_slots(const struct dalio_config *cfg);
void datapath_maps(const struct datapath *dp, struct datapath_maps *out);

#endif
