/* SPDX-License-Identifier: MIT */
/*
 * The agent's state after start-up: the configuration, the attached data path
 * and its maps, the event loop, and per shard/replica runtime state that the
 * membership, retransmission and metrics modules share. Single-threaded: only
 * callbacks of the event loop touch it.
 */
#ifndef DALIO_AGENT_AGENT_H
#define DALIO_AGENT_AGENT_H

#include <stdint.h>

#include "config.h"
#include "datapath.h"
#include "loop.h"

/* docs/membership.md: joining -> catching up -> in sync -> suspected -> failed. */
enum replica_state {
	REPLICA_JOINING = 0,	 /* configured, not (yet) answering */
	REPLICA_CATCHING_UP = 1, /* copying state; gets writes, not counted, no reads */
	REPLICA_IN_SYNC = 2,	 /* in the write and read sets */
	REPLICA_SUSPECTED = 3,	 /* in the sets, missed its deadline */
	REPLICA_FAILED = 4,	 /* out of the sets; must catch up to rejoin */
	REPLICA_REMOVED = 5,	 /* taken out of shards.yaml (SIGHUP); slot kept */
};

struct replica_rt {
	enum replica_state state;
	uint32_t epoch;	      /* from its last PONG */
	uint64_t applied;     /* from its last PONG */
	int64_t since_ms;     /* when it entered state */
	int64_t last_pong_ms; /* last PONG (or proof of life) */
	double rtt_ms;	      /* exponentially weighted PING round trip */
	uint64_t pings, pongs;
	uint64_t retransmits; /* writes the agent re-sent to it */
	uint64_t nacks;	      /* NACKs it sent */
	uint64_t failures;    /* times it was declared failed */
};

struct shard_rt {
	int removed; /* taken out of shards.yaml (SIGHUP); slot kept */
	uint32_t epoch;
	uint64_t failovers; /* write-set reductions */
	struct replica_rt rep[DALIO_MAX_REPLICAS];
};

struct agent {
	struct dalio_config cfg;
	const char *config_path;
	struct datapath *dp;
	struct datapath_maps maps;
	struct loop loop;
	int keep_maps;
	int state_fd;		 /* pinned agent_state map (agent_state.h), -1 if none */
	int handover;		 /* SIGUSR2: exit leaving the data path serving */
	struct metrics *metrics; /* HTTP endpoint (metrics.h), NULL when off */
	int standby;		 /* --standby: waiting for lb.peer to go silent (peer.h) */
	int attached;		 /* datapath_attach done */
	int active;		 /* agent_activate done: shards installed, membership running */
	/* Indexed like cfg.shards (position in the file, not shard id). */
	struct shard_rt shards[DALIO_MAX_SHARDS];
};

/* main.c: finds s's replicas, opens a new epoch on them, installs the shard. */
int agent_bring_up_shard(const struct dalio_config *cfg, const struct dalio_shard_def *s,
			 const struct datapath_maps *maps, int wait_ms);

/*
 * main.c: makes this agent the one serving cfg's shards: brings every shard up
 * (agent_bring_up_shard: probe the replicas, open a new epoch, install the
 * maps; needs the VIPs on this host), attaches the data path if it is not yet
 * (a normal start attaches after installing the shards, a standby before),
 * starts membership and retransmission and the agent-state timer. Called once,
 * from main() at a normal start or from the standby's takeover. 0, or -1 with
 * a message in err (the caller exits: a half-activated agent is not usable).
 */
int agent_activate(struct agent *a, int wait_ms, char *err, size_t errlen);
/* main.c: highest epoch (view) among the shards this agent serves. */
uint32_t agent_highest_epoch(const struct agent *a);

#endif /* DALIO_AGENT_AGENT_H */
