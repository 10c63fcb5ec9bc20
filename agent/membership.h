/* SPDX-License-Identifier: MIT */
/*
 * Replica membership of each shard (docs/membership.md): heartbeats, failure
 * detection, failover (write/read sets in vip_map), catch-up with SYNC and
 * promotion back into the sets.
 */
#ifndef DALIO_AGENT_MEMBERSHIP_H
#define DALIO_AGENT_MEMBERSHIP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

/* A catching-up replica joins the sets when it is at most this far behind
 * (its PONG is a few ms old under load: thousands of writes at full rate). */
#define MEMBER_JOIN_LAG 1024
/* SYNC is sent again if the replica has not started it after this long. */
#define MEMBER_SYNC_RESEND_MS 1000

/* Takes the states from the installed sets, opens the PING sockets and
 * registers the heartbeat timer. 0 or -1 (message in err). */
int membership_init(struct agent *a, char *err, size_t errlen);
/* Per shard (index si into cfg.shards): heartbeat socket and replica states,
 * at start and when SIGHUP adds or removes a shard. */
int membership_open_shard(struct agent *a, unsigned si, char *err, size_t errlen);
void membership_close_shard(struct agent *a, unsigned si);
/* A replica slot taken into use (in_sync: already in the sets) or drained
 * out of the sets and forgotten (refused, -1, for the last in-sync one). */
void membership_add_replica(struct agent *a, unsigned si, unsigned r, int in_sync);
int membership_remove_replica(struct agent *a, unsigned si, unsigned r);
/* Index of the (not removed) replica of shard si at from, or -1. */
int membership_replica_of(const struct agent *a, unsigned si, const struct sockaddr_in *from);
/* The payload ring no longer holds seq of shard si. */
int membership_seq_gone(struct agent *a, unsigned si, uint64_t seq);
/* Replica r of shard si lost writes it cannot get back: fail it, so that it
 * rejoins through a full copy. */
void membership_resync(struct agent *a, unsigned si, unsigned r);

#endif /* DALIO_AGENT_MEMBERSHIP_H */
