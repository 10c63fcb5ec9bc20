/* SPDX-License-Identifier: MIT */
/* dalio-replica: full copy from another replica's Redis; see sync.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replica.h"
#include "sync.h"

void rp_sync_request(struct rp_state *s, const struct dalio_msg *m)
{
	struct rp_sync *y = &s->sync;

	if (m->epoch < s->epoch || !m->request_id || !m->origin_ip || !m->origin_port) {
		s->st.drop_malformed++;
		return;
	}
	if (m->request_id == y->done_id || (y->active && m->request_id == y->id))
		return; /* done already (PONG says so), or running */
	if (y->active) {
		rp_log("SYNC %" PRIu64 " replaces SYNC %" PRIu64 "\n", m->request_id, y->id);
	}
	y->active = 1;
	y->replicating = 0;
	y->id = m->request_id;
	y->target = m->seq;
	y->src_ip = m->origin_ip;
	y->src_port = m->origin_port;
	y->next_ns = s->now_ns;
	y->deadline_ns = s->now_ns + RP_SYNC_TIMEOUT_NS;
	/* Writes after target are kept until the copy is in; those at or below
	 * it arrive with the copy. */
	rp_order_reset(&s->order, m->seq);
	s->st.syncs++;
	rp_log("SYNC %" PRIu64 ": copying from Redis %s:%u up to seq %" PRIu64 "\n", y->id,
	       inet_ntoa((struct in_addr){y->src_ip}), ntohs(y->src_port), y->target);
}

uint64_t rp_sync_next_ns(const struct rp_state *s)
{
	return s->sync.active ? s->sync.next_ns : UINT64_MAX;
}

/* The link to the source is up and the initial transfer is over. */
static int link_up(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "INFO replication");
	int up = 0;

	if (r && r->type == REDIS_REPLY_STRING)
		up = strstr(r->str, "master_link_status:up") != NULL &&
		     strstr(r->str, "master_sync_in_progress:0") != NULL;
	if (r)
		freeReplyObject(r);
	return up;
}

static int command_ok(redisContext *rc, const char *fmt, const char *a, const char *b)
{
	redisReply *r = redisCommand(rc, fmt, a, b);
	int ok = r && r->type == REDIS_REPLY_STATUS;

	if (r)
		freeReplyObject(r);
	return ok;
}

/* Detaches from the source and restarts ordering from the copied state. */
static void finish(struct rp_state *s, int complete)
{
	struct rp_sync *y = &s->sync;
	uint32_t epoch = s->epoch;
	const char *err;

	if (!command_ok(s->rc, "REPLICAOF %s %s", "NO", "ONE")) {
		rp_log("SYNC %" PRIu64 ": REPLICAOF NO ONE failed; retrying\n", y->id);
		return;
	}
	y->active = 0;
	y->replicating = 0;
	if (rp_reload_state(s, &err)) {
		rp_log("SYNC %" PRIu64 ": cannot read the copied state: %s\n", y->id, err);
		return;
	}
	/* Epochs adopted while copying were kept in memory only. */
	if (epoch > s->epoch)
		rp_set_epoch(s, epoch);
	if (complete) {
		y->done_id = y->id;
		rp_log("SYNC %" PRIu64 " done: applied %" PRIu64 ", %u writes buffered after it\n",
		       y->id, s->applied, s->order.buffered);
	} else {
		rp_log("SYNC %" PRIu64 " timed out at applied %" PRIu64 "\n", y->id, s->applied);
	}
	rp_apply_buffered(s);
}

void rp_sync_step(struct rp_state *s)
{
	struct rp_sync *y = &s->sync;
	uint64_t applied;
	const char *err;

	if (!y->active || !s->rc || s->now_ns < y->next_ns)
		return;
	y->next_ns = s->now_ns + RP_SYNC_POLL_NS;
	if (!y->replicating) {
		char ip[INET_ADDRSTRLEN], port[8];

		inet_ntop(AF_INET, &y->src_ip, ip, sizeof(ip));
		snprintf(port, sizeof(port), "%u", ntohs(y->src_port));
		if (!command_ok(s->rc, "REPLICAOF %s %s", ip, port)) {
			rp_log("SYNC %" PRIu64 ": REPLICAOF %s %s refused\n", y->id, ip, port);
			return;
		}
		y->replicating = 1;
		return;
	}
	if (s->now_ns >= y->deadline_ns) {
		finish(s, 0);
		return;
	}
	/* Done when the copy has reached the target and the oldest write we
	 * hold: from there on our buffer (and NACKs) carry the rest. */
	if (!link_up(s->rc) || rp_get_applied(s, &applied, &err) || applied < y->target ||
	    applied + 1 < s->order.next)
		return;
	finish(s, 1);
}
