/* SPDX-License-Identifier: MIT */
/* Failure detection, failover and rejoin; see membership.h and
 * docs/membership.md (states and invariants M1-M5). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent.h"
#include "agent_state.h"
#include "dalio/codec.h"
#include "log.h"
#include "membership.h"
#include "probe.h"
#include "route.h"
#include "vr.h"

/* Agent-private per-replica bookkeeping (what others may read is in
 * struct replica_rt). */
struct member {
	int64_t ping_ms;       /* when the last PING left */
	int64_t unanswered_ms; /* when the oldest unanswered PING left (0: none) */
	uint64_t ping_rid;     /* its request id */
	uint32_t redis_ip;     /* where other replicas reach its Redis (PONG origin) */
	uint16_t redis_port;   /* network order */
	uint8_t pong_status;   /* NOT_READY while it runs a SYNC */
	uint64_t sync_done;    /* id of the last SYNC it completed (PONG stamp) */
	uint64_t sync_id;      /* the SYNC we asked for */
	uint64_t sync_target;  /* applied seq it must reach */
	int64_t sync_ms;       /* when it was sent */
};

static struct {
	int fd[DALIO_MAX_SHARDS]; /* PING sockets, bound to VIP:0 */
	uint64_t cid;		  /* client id of our PINGs */
	uint64_t rid;
	uint64_t next_sync_id;
	struct member m[DALIO_MAX_SHARDS][DALIO_MAX_REPLICAS];
} ms;

static void set_state(struct agent *a, unsigned si, unsigned r, enum replica_state st, int64_t now)
{
	struct replica_rt *rt = &a->shards[si].rep[r];

	if (rt->state == st)
		return;
	log_info("shard %u: replica %s: %s -> %s", a->cfg.shards[si].id,
		 a->cfg.shards[si].replicas[r].addr, agent_state_name(rt->state),
		 agent_state_name(st));
	rt->state = st;
	rt->since_ms = now;
}

static int load_cfg(struct agent *a, unsigned si, struct dalio_shard_cfg *cfg)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};

	return bpf_map_lookup_elem(a->maps.vip_map, &vk, cfg);
}

/* Replaces the shard's masks in one map update (the value is swapped whole). */
static int store_masks(struct agent *a, unsigned si, uint32_t write, uint32_t read, uint32_t join)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	struct dalio_shard_cfg cfg;

	if (load_cfg(a, si, &cfg))
		return -1;
	cfg.write_mask = write;
	cfg.read_mask = read;
	cfg.join_mask = join;
	if (bpf_map_update_elem(a->maps.vip_map, &vk, &cfg, BPF_EXIST)) {
		log_error("shard %u: cannot update its replica sets: %s", s->id, strerror(errno));
		return -1;
	}
	return 0;
}

static int shard_seqs(struct agent *a, unsigned si, uint64_t *next, uint64_t *completed)
{
	uint32_t key = a->cfg.shards[si].id;
	struct dalio_shard_state st;

	if (bpf_map_lookup_elem_flags(a->maps.shard_state, &key, &st, BPF_F_LOCK))
		return -1;
	*next = st.next_seq;
	*completed = st.max_completed;
	return 0;
}

int membership_seq_gone(struct agent *a, unsigned si, uint64_t seq)
{
	uint64_t next, completed;

	return shard_seqs(a, si, &next, &completed) == 0 && seq + DALIO_RING_SIZE < next;
}

/* M1-M3: out of every set at once. The last in-sync replica stays. */
static void fail_replica(struct agent *a, unsigned si, unsigned r, int64_t now, const char *why)
{
	struct replica_rt *rt = &a->shards[si].rep[r];
	struct dalio_shard_cfg cfg;
	uint32_t bit = 1u << r;

	if (load_cfg(a, si, &cfg))
		return;
	if ((cfg.write_mask & bit) && !(cfg.write_mask & ~bit)) {
		if (rt->state != REPLICA_SUSPECTED)
			log_warn("shard %u: replica %s %s, but it is the last in-sync replica: "
				 "keeping it; writes wait for it",
				 a->cfg.shards[si].id, a->cfg.shards[si].replicas[r].addr, why);
		set_state(a, si, r, REPLICA_SUSPECTED, now);
		return;
	}
	if (store_masks(a, si, cfg.write_mask & ~bit, cfg.read_mask & ~bit, cfg.join_mask & ~bit))
		return;
	if (cfg.write_mask & bit)
		a->shards[si].failovers++;
	rt->failures++;
	log_warn("shard %u: replica %s %s: out of the write and read sets", a->cfg.shards[si].id,
		 a->cfg.shards[si].replicas[r].addr, why);
	set_state(a, si, r, REPLICA_FAILED, now);
}

void membership_resync(struct agent *a, unsigned si, unsigned r)
{
	fail_replica(a, si, r, loop_now_ms(), "lost writes the ring no longer holds");
}

static void send_msg(struct agent *a, unsigned si, unsigned r, const struct dalio_msg *m)
{
	struct sockaddr_in to = replica_sockaddr(&a->cfg.shards[si].replicas[r]);
	uint8_t buf[sizeof(struct dalio_hdr)];
	long len = dalio_encode(m, buf, sizeof(buf), NULL);

	if (len > 0)
		sendto(ms.fd[si], buf, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
}

/*
 * Makes sure replica_map holds r's current next-hop MAC (a replica that was
 * down at start has no neighbour entry then; one may have changed its MAC).
 * Our PINGs made the kernel resolve it. 0 when the entry is usable.
 */
static int refresh_replica(struct agent *a, unsigned si, unsigned r)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	uint32_t idx = s->id * DALIO_MAX_REPLICAS + r;
	struct replica_probe hop = {0};
	struct dalio_replica rep;

	if (bpf_map_lookup_elem(a->maps.replica_map, &idx, &rep))
		return -1;
	route_resolve_replica(&a->cfg, s, r, &hop); /* its interface and next hop */
	if (!hop.have_mac)
		return rep.valid ? 0 : -1;
	memcpy(rep.mac, hop.mac, sizeof(rep.mac));
	rep.ifindex = (uint32_t)hop.ifindex;
	memcpy(rep.src_mac, hop.src_mac, sizeof(rep.src_mac));
	rep.ip = s->replicas[r].ip;
	rep.port = htons(s->replicas[r].port);
	rep.valid = 1;
	return bpf_map_update_elem(a->maps.replica_map, &idx, &rep, BPF_ANY);
}

/* An in-sync replica whose Redis a joiner can copy from, or -1. */
static int sync_source(const struct agent *a, unsigned si)
{
	int src = -1;

	for (unsigned i = 0; i < a->cfg.shards[si].n_replicas; i++)
		if (a->shards[si].rep[i].state == REPLICA_IN_SYNC && ms.m[si][i].redis_ip &&
		    ms.m[si][i].redis_port)
			src = (int)i;
	return src;
}

/* SYNC: replica r copies src's Redis up to its target (sent again if lost). */
static void send_sync(struct agent *a, unsigned si, unsigned r, unsigned src, int64_t now)
{
	struct dalio_msg m = {.type = DALIO_T_SYNC,
			      .shard = (uint16_t)a->cfg.shards[si].id,
			      .epoch = a->shards[si].epoch,
			      .client_id = ms.cid,
			      .request_id = ms.m[si][r].sync_id,
			      .seq = ms.m[si][r].sync_target,
			      .origin_ip = ms.m[si][src].redis_ip,
			      .origin_port = ms.m[si][src].redis_port};

	ms.m[si][r].sync_ms = now;
	send_msg(a, si, r, &m);
}

/* CATCHING_UP: new writes reach it (join_mask); it copies the rest. */
static void start_catch_up(struct agent *a, unsigned si, unsigned r, int64_t now)
{
	struct dalio_shard_cfg cfg;
	uint64_t next, completed;
	int src;

	if (refresh_replica(a, si, r))
		return; /* no MAC yet: copies could not reach it */
	src = sync_source(a, si);
	if (src < 0 || load_cfg(a, si, &cfg))
		return; /* nobody to copy from yet */
	if (store_masks(a, si, cfg.write_mask, cfg.read_mask, cfg.join_mask | (1u << r)) ||
	    shard_seqs(a, si, &next, &completed))
		return;
	/* Every write up to target was sequenced before the joiner got copies;
	 * it waits for its copy of the source's dataset to reach target. */
	ms.m[si][r].sync_target = next - 1;
	ms.m[si][r].sync_id = ++ms.next_sync_id;
	set_state(a, si, r, REPLICA_CATCHING_UP, now);
	log_info("shard %u: replica %s copies from %s (up to seq %llu)", a->cfg.shards[si].id,
		 a->cfg.shards[si].replicas[r].addr, a->cfg.shards[si].replicas[src].addr,
		 (unsigned long long)(next - 1));
	send_sync(a, si, r, (unsigned)src, now);
}

static void promote(struct agent *a, unsigned si, unsigned r, int64_t now)
{
	struct dalio_shard_cfg cfg;
	uint32_t bit = 1u << r;

	if (load_cfg(a, si, &cfg) ||
	    store_masks(a, si, cfg.write_mask | bit, cfg.read_mask | bit, cfg.join_mask & ~bit))
		return;
	log_info("shard %u: replica %s caught up (applied %llu) in %lld ms: back in the sets",
		 a->cfg.shards[si].id, a->cfg.shards[si].replicas[r].addr,
		 (unsigned long long)a->shards[si].rep[r].applied,
		 (long long)(now - a->shards[si].rep[r].since_ms));
	set_state(a, si, r, REPLICA_IN_SYNC, now);
}

static void evaluate(struct agent *a, unsigned si, unsigned r, int64_t now)
{
	const struct dalio_config *c = &a->cfg;
	struct replica_rt *rt = &a->shards[si].rep[r];
	struct member *mb = &ms.m[si][r];
	double expect = c->heartbeat_ms + rt->rtt_ms;
	/* Silence counts from the oldest PING it has not answered, so a stall
	 * of the agent itself (no PINGs sent) is never blamed on a replica. */
	int64_t silence = mb->unanswered_ms ? now - mb->unanswered_ms : 0;
	uint64_t next, completed;
	int src;

	switch (rt->state) {
	case REPLICA_IN_SYNC:
	case REPLICA_SUSPECTED:
		if (silence > c->fail_after * expect) {
			char why[64];

			snprintf(why, sizeof(why), "silent for %lld ms", (long long)silence);
			fail_replica(a, si, r, now, why);
		} else if (silence > c->suspect_after * expect) {
			set_state(a, si, r, REPLICA_SUSPECTED, now);
		} else {
			set_state(a, si, r, REPLICA_IN_SYNC, now);
		}
		break;
	case REPLICA_JOINING:
	case REPLICA_FAILED:
		/* M5: it answers and has adopted this epoch: bring it back. A vr
		 * replica takes a view only from the view's leader messages, which
		 * it gets once it is catching up (join_mask). */
		if (rt->last_pong_ms > rt->since_ms && silence <= c->heartbeat_ms + rt->rtt_ms &&
		    (rt->epoch == a->shards[si].epoch ||
		     (a->cfg.shards[si].mode == DALIO_MODE_VR && rt->epoch <= a->shards[si].epoch)))
			start_catch_up(a, si, r, now);
		break;
	case REPLICA_REMOVED:
		break;
	case REPLICA_CATCHING_UP:
		if (silence > c->fail_after * expect) {
			fail_replica(a, si, r, now, "went silent while catching up");
			break;
		}
		if (mb->sync_done == mb->sync_id && mb->pong_status == DALIO_S_OK &&
		    shard_seqs(a, si, &next, &completed) == 0 &&
		    rt->applied + MEMBER_JOIN_LAG >= completed) {
			promote(a, si, r, now);
			break;
		}
		/* The SYNC was lost, or the replica restarted: ask again. */
		if (mb->sync_done != mb->sync_id && mb->pong_status == DALIO_S_OK &&
		    now - mb->sync_ms > MEMBER_SYNC_RESEND_MS && (src = sync_source(a, si)) >= 0)
			send_sync(a, si, r, (unsigned)src, now);
		break;
	}
}

static void on_readable(void *arg, int fd);

static void on_tick(void *arg, int64_t now)
{
	struct agent *a = arg;

	/* PONGs that queued up while the agent was busy count first. */
	for (unsigned si = 0; si < a->cfg.n_shards; si++)
		if (!a->shards[si].removed)
			on_readable(a, ms.fd[si]);
	for (unsigned si = 0; si < a->cfg.n_shards; si++) {
		const struct dalio_shard_def *s = &a->cfg.shards[si];

		if (a->shards[si].removed)
			continue;
		uint64_t next = 0, completed = 0;

		/* vr: the head, for a recovering replica (docs/vr.md V7) */
		if (s->mode == DALIO_MODE_VR)
			shard_seqs(a, si, &next, &completed);
		for (unsigned r = 0; r < s->n_replicas; r++) {
			if (a->shards[si].rep[r].state == REPLICA_REMOVED)
				continue;
			struct dalio_msg m = {.type = DALIO_T_PING,
					      .shard = (uint16_t)s->id,
					      .epoch = a->shards[si].epoch,
					      .client_id = ms.cid,
					      .request_id = ++ms.rid,
					      /* vr: n(v), for a replica that missed
					       * START_VIEW (docs/vr.md) */
					      .seq = s->mode == DALIO_MODE_VR ? vr_head(s->id) : 0,
					      .stamp = next ? next - 1 : 0};

			evaluate(a, si, r, now);
			ms.m[si][r].ping_ms = now;
			if (!ms.m[si][r].unanswered_ms)
				ms.m[si][r].unanswered_ms = now;
			ms.m[si][r].ping_rid = m.request_id;
			a->shards[si].rep[r].pings++;
			send_msg(a, si, r, &m);
		}
	}
}

int membership_replica_of(const struct agent *a, unsigned si, const struct sockaddr_in *from)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];

	/* A removed slot keeps its address (for logs and metrics); a replica
	 * added again with that address lives in a newer slot. */
	for (unsigned r = 0; r < s->n_replicas; r++)
		if (a->shards[si].rep[r].state != REPLICA_REMOVED &&
		    s->replicas[r].ip == from->sin_addr.s_addr &&
		    htons(s->replicas[r].port) == from->sin_port)
			return (int)r;
	return -1;
}

static void on_pong(struct agent *a, unsigned si, const struct dalio_msg *m,
		    const struct sockaddr_in *from, int64_t now)
{
	int r = membership_replica_of(a, si, from);
	struct replica_rt *rt;
	struct member *mb;

	if (r < 0)
		return;
	rt = &a->shards[si].rep[r];
	mb = &ms.m[si][r];
	if (m->request_id == mb->ping_rid) {
		double sample = (double)(now - mb->ping_ms);

		rt->rtt_ms = rt->pongs ? rt->rtt_ms + (sample - rt->rtt_ms) / 8 : sample;
	}
	rt->pongs++;
	rt->last_pong_ms = now;
	rt->epoch = m->epoch;
	rt->applied = m->seq;
	/* Its Redis; an unset address means "where you see me". */
	mb->redis_ip = m->origin_ip ? m->origin_ip : from->sin_addr.s_addr;
	mb->redis_port = m->origin_port;
	mb->unanswered_ms = 0;
	mb->pong_status = m->status;
	mb->sync_done = m->stamp;
}

static void on_readable(void *arg, int fd)
{
	struct agent *a = arg;
	int64_t now = loop_now_ms();
	unsigned si = 0;

	while (si < a->cfg.n_shards && (ms.fd[si] != fd || a->shards[si].removed))
		si++;
	for (int i = 0; i < 64 && si < a->cfg.n_shards; i++) {
		uint8_t buf[DALIO_MAX_DATAGRAM + 1];
		struct sockaddr_in from;
		struct dalio_msg m;
		int rc = recv_msg(fd, buf, sizeof(buf), &m, &from);

		if (rc < 0)
			break;
		if (rc == 0 && m.type == DALIO_T_PONG && m.client_id == ms.cid)
			on_pong(a, si, &m, &from, now);
	}
}

int membership_open_shard(struct agent *a, unsigned si, char *err, size_t errlen)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = s->vip};
	struct dalio_shard_cfg cfg;
	int64_t now = loop_now_ms();
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ms.fd[si] = fd;
	memset(ms.m[si], 0, sizeof(ms.m[si]));
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    loop_add_fd(&a->loop, fd, on_readable, a) || load_cfg(a, si, &cfg)) {
		snprintf(err, errlen, "shard %u: cannot open its heartbeat socket: %s", s->id,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		ms.fd[si] = -1;
		return -1;
	}
	a->shards[si].epoch = cfg.epoch;
	for (unsigned r = 0; r < s->n_replicas; r++)
		membership_add_replica(a, si, r, (cfg.write_mask >> r) & 1);
	(void)now;
	return 0;
}

void membership_close_shard(struct agent *a, unsigned si)
{
	if (ms.fd[si] >= 0) {
		loop_del_fd(&a->loop, ms.fd[si]);
		close(ms.fd[si]);
	}
	ms.fd[si] = -1;
}

void membership_add_replica(struct agent *a, unsigned si, unsigned r, int in_sync)
{
	struct replica_rt *rt = &a->shards[si].rep[r];
	int64_t now = loop_now_ms();

	memset(rt, 0, sizeof(*rt));
	memset(&ms.m[si][r], 0, sizeof(ms.m[si][r]));
	rt->state = in_sync ? REPLICA_IN_SYNC : REPLICA_JOINING;
	rt->since_ms = now;
	rt->last_pong_ms = in_sync ? now : 0;
}

int membership_remove_replica(struct agent *a, unsigned si, unsigned r)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	uint32_t idx = s->id * DALIO_MAX_REPLICAS + r, bit = 1u << r;
	struct dalio_replica rep = {0};
	struct dalio_shard_cfg cfg;

	if (load_cfg(a, si, &cfg))
		return -1;
	if ((cfg.write_mask & bit) && !(cfg.write_mask & ~bit)) {
		log_error("shard %u: cannot remove %s: it is the last in-sync replica (add another "
			  "and let it catch up first)",
			  s->id, s->replicas[r].addr);
		return -1;
	}
	/* Out of every set first, then its address: the data path never
	 * sees a set naming an invalid replica. */
	if (store_masks(a, si, cfg.write_mask & ~bit, cfg.read_mask & ~bit, cfg.join_mask & ~bit) ||
	    bpf_map_update_elem(a->maps.replica_map, &idx, &rep, BPF_ANY))
		return -1;
	set_state(a, si, r, REPLICA_REMOVED, loop_now_ms());
	return 0;
}

int membership_init(struct agent *a, char *err, size_t errlen)
{
	int64_t now = loop_now_ms();

	if (getrandom(&ms.cid, sizeof(ms.cid), 0) != sizeof(ms.cid))
		ms.cid = (uint64_t)now;
	if (getrandom(&ms.next_sync_id, sizeof(ms.next_sync_id), 0) != sizeof(ms.next_sync_id))
		ms.next_sync_id = (uint64_t)now << 20;
	ms.next_sync_id &= ~0ULL >> 2; /* never 0, never close to wrapping */
	for (unsigned si = 0; si < DALIO_MAX_SHARDS; si++)
		ms.fd[si] = -1;
	for (unsigned si = 0; si < a->cfg.n_shards; si++)
		if (membership_open_shard(a, si, err, errlen))
			return -1;
	if (loop_add_timer(&a->loop, a->cfg.heartbeat_ms, on_tick, a)) {
		snprintf(err, errlen, "cannot add the heartbeat timer: %s", strerror(errno));
		return -1;
	}
	return 0;
}
