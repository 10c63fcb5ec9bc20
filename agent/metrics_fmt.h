/* SPDX-License-Identifier: MIT */
/*
 * Formatting of what the agent exposes, split from reading the maps so it can
 * be unit-tested on fake state: the Prometheus text exposition (GET /metrics)
 * and the per-shard status table (GET /status and dalio-ctl status).
 * Series and their meaning: docs/operations.md.
 */
#ifndef DALIO_AGENT_METRICS_FMT_H
#define DALIO_AGENT_METRICS_FMT_H

#include <stdint.h>
#include <stdio.h>

#include "agent.h"
#include "lbstate.h"

/* Everything one scrape shows; arrays indexed like cfg->shards. */
struct metrics_view {
	const struct dalio_config *cfg;
	const struct shard_rt *rt;	  /* NULL: the agent's view is unknown (dalio-ctl) */
	const struct lb_shard_snap *snap; /* data path state */
	const int *snap_ok;		  /* snap[i] could be read */
	int64_t now_ms;			  /* CLOCK_MONOTONIC, for ages */
	double start_time;		  /* agent start, Unix seconds */
	uint64_t scrapes;		  /* scrapes served so far, this one included */
};

/* Writes the Prometheus text format (version 0.0.4) to f. 0, or -1 on a write error. */
int metrics_format(FILE *f, const struct metrics_view *v);

/*
 * Writes the status table: per shard its VIP, mode, epoch, next seq, highest
 * completed seq, pending writes, dirty buckets, oldest pending write; per
 * replica its state, applied seq, lag behind the shard's completed writes,
 * whether it is in the write/read set, and its round trip. v->rt may be NULL
 * (states shown as "?"). 0, or -1 on a write error.
 */
int status_format(FILE *f, const struct metrics_view *v);

/* Escapes a Prometheus label value (\ " and newline) into out. */
void metrics_escape(char *out, size_t outlen, const char *in);

#endif
