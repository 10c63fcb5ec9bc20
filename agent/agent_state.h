/* SPDX-License-Identifier: MIT */
/*
 * What a restarted dalio-agent (and dalio-ctl) needs from the agent that ran
 * before it, beyond the data path's own maps: per shard the epoch and the
 * failover count, per replica its membership state, last applied seq, round
 * trip and counters. Kept in a small BPF array map pinned beside the data
 * path's maps (<pin_path>/<interface>/agent_state), so it lives exactly as long
 * as they do: SIGKILL or a crash keeps it, a clean stop (SIGTERM) removes it
 * with them, a reboot loses both. No BPF program uses it.
 *
 * The agent saves once a second (and on exit), so states, counters and the
 * "saved" time stay fresh; the membership code may also call
 * agent_state_save() right after a state change.
 * docs/operations.md describes restarts and re-adoption.
 */
#ifndef DALIO_AGENT_AGENT_STATE_H
#define DALIO_AGENT_AGENT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"

#define AGENT_STATE_MAP	    "agent_state"
#define AGENT_STATE_VERSION 1

/* One replica's saved state; identified by address, not by position, so a
 * reordered config still finds its replicas. */
struct agent_state_replica {
	uint32_t ip;   /* network order */
	uint16_t port; /* host order */
	uint8_t state; /* enum replica_state */
	uint8_t pad0;
	uint32_t epoch;
	uint32_t pad1;
	uint64_t applied;
	int64_t since_ms;     /* CLOCK_MONOTONIC ms (pins do not outlive a reboot either) */
	int64_t last_pong_ms; /* CLOCK_MONOTONIC ms, 0 = never */
	double rtt_ms;
	uint64_t pings, pongs, retransmits, nacks, failures;
};

/* The map's value, key = shard id. An all-zero value (version 0) was never
 * written. */
struct agent_state_shard {
	uint32_t version; /* AGENT_STATE_VERSION */
	uint32_t shard;	  /* shard id */
	uint32_t epoch;
	uint32_t n_replicas;
	uint64_t failovers;
	int64_t saved_ms; /* CLOCK_MONOTONIC ms of the last save */
	int32_t agent_pid;
	uint32_t pad;
	struct agent_state_replica rep[DALIO_MAX_REPLICAS];
};

/* Label of a replica state as metrics and dalio-ctl print it: the names the
 * membership code logs ("in-sync", ...); "unknown" outside enum replica_state. */
const char *agent_state_name(unsigned state);

/* "<pin_path>/<interface>": where the data path's maps and agent_state live. */
void agent_pin_dir(const struct dalio_config *cfg, char *out, size_t outlen);

/*
 * Opens <pin dir>/agent_state, creating and pinning it if absent (or if it
 * has another layout: then it is replaced, and a warning says so). Sets
 * a->state_fd. 0, or -1 with err set.
 */
int agent_state_open(struct agent *a, char *err, size_t errlen);
void agent_state_close(struct agent *a);

/*
 * Restores a->shards[] (epoch, failovers, each configured replica's state,
 * applied seq, round trip and counters) from what the previous agent saved.
 * Returns how many shards were restored (0 when there was nothing: a fresh
 * start).
 */
int agent_state_load(struct agent *a);
/* The same for the monotonic counters only (failovers, pings, pongs,
 * retransmits, nacks, failures): after membership_init() has set every
 * replica's state afresh from the installed sets. */
int agent_state_restore_counters(struct agent *a);

/* Saves every configured shard's runtime state. 0, or -1 (errno set). */
int agent_state_save(const struct agent *a);

/* For dalio-ctl: opens the pinned map read-only. fd, or -1 (errno set). */
int agent_state_open_pinned(const char *pin_dir);
/* Reads shard id's record: 0 found, 1 never written or other version, -1 error. */
int agent_state_read(int fd, unsigned shard, struct agent_state_shard *out);

#endif
