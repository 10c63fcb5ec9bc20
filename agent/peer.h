/* SPDX-License-Identifier: MIT */
/*
 * LB failover heartbeat (docs/vr.md, "LB failover"): the active agent sends
 * LB_HEARTBEAT to lb.peer every lb.heartbeat_ms; a standby agent listens for
 * them and, after lb.peer_timeout_ms of silence, calls its takeover callback
 * once. Runs on the agent's event loop: one UDP socket bound to
 * 0.0.0.0:<lb.peer's port> (the same port on both LBs) and two timers.
 */
#ifndef DALIO_AGENT_PEER_H
#define DALIO_AGENT_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"

/*
 * The standby's view of the active peer, without sockets or clocks (unit
 * tested in test/unit/test_peer.c). Silence is measured from the last
 * heartbeat, or from start if none ever came; so the takeover never comes
 * before one full timeout after start.
 */
struct peer_watch {
	unsigned timeout_ms;
	int64_t start_ms;
	int64_t last_ms;     /* last heartbeat accepted (0: none yet) */
	uint32_t last_epoch; /* its epoch (highest view of the active's shards) */
	uint64_t last_seq;   /* its heartbeat count */
	uint64_t heard;	     /* heartbeats accepted */
	int fired;	     /* the takeover is due and was reported */
};

void peer_watch_init(struct peer_watch *w, unsigned timeout_ms, int64_t now_ms);
/* A heartbeat from the peer arrived at now_ms. */
void peer_watch_heard(struct peer_watch *w, int64_t now_ms, uint32_t epoch, uint64_t seq);
/* How long the peer has been silent at now_ms. */
int64_t peer_watch_silence(const struct peer_watch *w, int64_t now_ms);
/* 1 exactly once: the first call at which the silence reaches the timeout;
 * 0 before and after. */
int peer_watch_due(struct peer_watch *w, int64_t now_ms);

/* Highest epoch (view) among the caller's shards, sent in each heartbeat. */
typedef uint32_t (*peer_epoch_fn)(void *arg);
/* The active peer went silent for silent_ms: take over. Called once, from
 * the event loop. */
typedef void (*peer_takeover_fn)(void *arg, int64_t silent_ms);

/*
 * Opens the control socket on 0.0.0.0:cfg->peer_port and registers it with
 * l (cfg->peer_ip must be set; cfg must outlive the module). Starts neither
 * sending nor watching. 0, or -1 with a message in err.
 */
int peer_init(struct loop *l, const struct dalio_config *cfg, peer_epoch_fn epoch,
	      peer_takeover_fn takeover, void *arg, char *err, size_t errlen);
/* Standby: watch the peer's heartbeats; takeover is called after
 * cfg->peer_timeout_ms of silence. 0 or -1 (errno: no timer slot). */
int peer_start_standby(void);
/* Active: send a heartbeat now and every cfg->heartbeat_ms. Stops watching
 * (a standby that took over calls it after activating). 0 or -1. */
int peer_start_active(void);
/* Non-zero while the module is a standby that has not taken over. */
int peer_is_standby(void);
/* Closes the socket (the loop's timers stay registered but do nothing). */
void peer_close(void);

#endif /* DALIO_AGENT_PEER_H */
