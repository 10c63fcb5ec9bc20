/* SPDX-License-Identifier: MIT */
/*
 * vr mode's host-side control operations (docs/vr.md, "View change"): the
 * view change an agent runs when it becomes a vr shard's leader (at start and
 * on takeover), the rebuild of the data path's log, sequencer, dirty table and
 * client table from a majority of the replicas' logs (DYAD's updateReplica,
 * with the log read back as in getNicLog), and START_VIEW.
 */
#ifndef DALIO_AGENT_VR_H
#define DALIO_AGENT_VR_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "datapath.h"

struct vr_view {
	uint32_t view;	     /* the view this agent now leads */
	uint64_t head;	     /* n(v): the op number the view starts from */
	uint64_t commit;     /* its commit number */
	uint32_t voters;     /* replicas whose DO_VIEW_CHANGE was counted */
	uint32_t recovering; /* replicas that answered NOT_READY (V7) */
	uint32_t fetched;    /* log entries installed in the payload ring */
};

/*
 * Runs the view change for vr shard s: a view above min_view and every view
 * the replicas report, DO_VIEW_CHANGE from f+1 of them within timeout_ms, the
 * log window fetched from the chosen one, and the maps rebuilt (everything
 * but vip_map, which the caller installs with out->view). The shard's vip_map
 * entry is removed first, so nothing is served from half-built state.
 * 0, or -1 with err set.
 */
int vr_view_change(const struct dalio_shard_def *s, const struct datapath_maps *maps,
		   uint32_t min_view, int timeout_ms, struct vr_view *out, char *err,
		   size_t errlen);

/* Sends START_VIEW(view, head, commit) to every replica of s (a few times:
 * PINGs repeat n(v) afterwards). */
void vr_start_view(const struct dalio_shard_def *s, const struct vr_view *v);

/* n(v) of the view the agent leads for shard id (0 if none): PINGs carry it. */
uint64_t vr_head(unsigned shard_id);

#endif
