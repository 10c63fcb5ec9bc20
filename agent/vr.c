/* SPDX-License-Identifier: MIT */
/* vr mode's view change and log rebuild; see vr.h and docs/vr.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dalio/codec.h"
#include "dalio/lb_types.h"
#include "log.h"
#include "probe.h"
#include "vr.h"

#define RING_MASK	 (DALIO_RING_SIZE - 1)
#define VR_RESEND_MS	 20  /* START_VIEW_CHANGE / GET_LOG repeat */
#define VR_LOG_CHUNK	 256 /* ops per GET_LOG (the replica's cap) */
#define VR_OPTIONAL_ASKS 5   /* GET_LOGs for window entries that are not required */

static uint64_t heads[DALIO_MAX_SHARDS];

uint64_t vr_head(unsigned shard_id)
{
	return shard_id < DALIO_MAX_SHARDS ? heads[shard_id] : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A replica's DO_VIEW_CHANGE report. */
struct vote {
	uint32_t lnv;	 /* last normal view */
	uint64_t op;	 /* op number of its log */
	uint64_t commit; /* its commit number */
	uint64_t oldest; /* oldest op it holds (0: unknown) */
};

static int replica_of(const struct dalio_shard_def *s, const struct sockaddr_in *from)
{
	for (unsigned i = 0; i < s->n_replicas; i++)
		if (s->replicas[i].ip == from->sin_addr.s_addr &&
		    htons(s->replicas[i].port) == from->sin_port)
			return (int)i;
	return -1;
}

static void send_to(int fd, const struct dalio_shard_def *s, unsigned r, const struct dalio_msg *m)
{
	uint8_t buf[sizeof(struct dalio_hdr)];
	long len = dalio_encode(m, buf, sizeof(buf), NULL);
	struct sockaddr_in to = replica_sockaddr(&s->replicas[r]);

	if (len > 0)
		sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
}

static unsigned popcount(uint32_t m)
{
	return (unsigned)__builtin_popcount(m);
}

/* Waits up to ms for fd to become readable. */
static void wait_readable(int fd, int64_t ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (ms > 0)
		poll(&pfd, 1, (int)ms);
}

/*
 * Step 1: START_VIEW_CHANGE until f+1 DO_VIEW_CHANGEs of one view are in. A
 * STALE_EPOCH answer names a view at least as new: start over above it.
 */
static int collect_votes(int fd, const struct dalio_shard_def *s, uint32_t *view, int64_t deadline,
			 struct vote *votes, uint32_t *voters, uint32_t *recovering, char *err,
			 size_t errlen)
{
	unsigned quorum = shard_quorum(s);
	int64_t next_send = 0;

	*voters = *recovering = 0;
	while (popcount(*voters) < quorum) {
		int64_t now = now_ms();
		uint8_t buf[DALIO_MAX_DATAGRAM + 1];
		struct sockaddr_in from;
		struct dalio_msg m;
		int rc;

		if (now >= deadline) {
			snprintf(
				err, errlen,
				"shard %u: view change to view %u: %u of the %u replicas answered, "
				"%u recovering; a vr shard needs f+1 = %u",
				s->id, *view, popcount(*voters), s->n_replicas,
				popcount(*recovering), quorum);
			return -1;
		}
		if (now >= next_send) {
			struct dalio_msg svc = {.type = DALIO_T_START_VIEW_CHANGE,
						.shard = (uint16_t)s->id,
						.epoch = *view};

			for (unsigned r = 0; r < s->n_replicas; r++)
				if (!(*voters & (1u << r)))
					send_to(fd, s, r, &svc);
			next_send = now + VR_RESEND_MS;
		}
		wait_readable(fd, next_send - now);
		while ((rc = recv_msg(fd, buf, sizeof(buf), &m, &from)) >= 0) {
			int r;

			if (rc || m.type != DALIO_T_DO_VIEW_CHANGE || m.shard != s->id ||
			    (r = replica_of(s, &from)) < 0)
				continue;
			if (m.status == DALIO_S_STALE_EPOCH && m.epoch >= *view) {
				log_info("shard %u: replica %s is in view %u: view change to %u",
					 s->id, s->replicas[r].addr, m.epoch, m.epoch + 1);
				*view = m.epoch + 1;
				*voters = *recovering = 0;
				next_send = 0;
				break;
			}
			if (m.epoch != *view)
				continue;
			if (m.status == DALIO_S_NOT_READY) {
				*recovering |= 1u << r;
				continue;
			}
			if (m.status != DALIO_S_OK)
				continue;
			votes[r] = (struct vote){.lnv = (uint32_t)m.request_id,
						 .op = m.seq,
						 .commit = m.stamp,
						 .oldest = m.client_id};
			*voters |= 1u << r;
		}
	}
	return 0;
}

/* The fetched window [lo, head] of the chosen replica's log. */
struct window {
	uint64_t lo, head;
	uint8_t **msg; /* head - lo + 1 entries, NULL until fetched */
	uint16_t *len;
};

static void window_free(struct window *w)
{
	if (w->msg)
		for (uint64_t i = 0; i <= w->head - w->lo; i++)
			free(w->msg[i]);
	free(w->msg);
	free(w->len);
	memset(w, 0, sizeof(*w));
}

/*
 * Step 3: GET_LOG from replica r until every op in (must_from - 1, head] is in,
 * and the rest of the window has been asked for VR_OPTIONAL_ASKS times.
 */
static int fetch_log(int fd, const struct dalio_shard_def *s, unsigned r, uint32_t view,
		     uint64_t must_from, int64_t deadline, struct window *w, char *err,
		     size_t errlen)
{
	uint64_t n = w->head - w->lo + 1;
	int asks = 0;

	for (;;) {
		uint64_t missing_required = 0, missing = 0;
		int64_t until;

		for (uint64_t op = w->lo; op <= w->head; op++)
			if (!w->msg[op - w->lo]) {
				missing++;
				missing_required += op >= must_from;
			}
		if (!missing_required && (!missing || asks >= VR_OPTIONAL_ASKS))
			return 0;
		if (now_ms() >= deadline) {
			snprintf(err, errlen,
				 "shard %u: replica %s did not send ops %llu..%llu of its log "
				 "(%llu missing)",
				 s->id, s->replicas[r].addr, (unsigned long long)must_from,
				 (unsigned long long)w->head, (unsigned long long)missing_required);
			return -1;
		}
		/* Ask for every chunk that still has a hole. */
		for (uint64_t first = w->lo; first <= w->head; first += VR_LOG_CHUNK) {
			uint64_t last = first + VR_LOG_CHUNK - 1 > w->head
						? w->head
						: first + VR_LOG_CHUNK - 1;
			int hole = 0;

			for (uint64_t op = first; op <= last && !hole; op++)
				hole = !w->msg[op - w->lo];
			if (hole) {
				struct dalio_msg g = {.type = DALIO_T_GET_LOG,
						      .shard = (uint16_t)s->id,
						      .epoch = view,
						      .seq = first,
						      .stamp = last};

				send_to(fd, s, r, &g);
			}
		}
		asks++;
		until = now_ms() + VR_RESEND_MS;
		for (int64_t now = now_ms(); now < until; now = now_ms()) {
			uint8_t buf[DALIO_MAX_DATAGRAM + 1];
			struct sockaddr_in from;
			struct dalio_msg m;
			ssize_t len;
			socklen_t fl = sizeof(from);

			wait_readable(fd, until - now);
			while ((len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
					       (struct sockaddr *)&from, &fl)) > 0) {
				uint64_t i;

				fl = sizeof(from);
				if (dalio_decode(buf, (size_t)len, &m, NULL) ||
				    m.type != DALIO_T_LOG_ENTRY || m.shard != s->id ||
				    replica_of(s, &from) != (int)r || m.seq < w->lo ||
				    m.seq > w->head || m.key_len == 0)
					continue;
				i = m.seq - w->lo;
				if (i >= n || w->msg[i])
					continue;
				w->msg[i] = malloc((size_t)len);
				if (!w->msg[i]) {
					snprintf(err, errlen, "out of memory for the log window");
					return -1;
				}
				memcpy(w->msg[i], buf, (size_t)len);
				w->len[i] = (uint16_t)len;
			}
		}
	}
}

/* Step 4: the maps of the new view, from the window. */
static int rebuild_maps(const struct dalio_shard_def *s, const struct datapath_maps *maps,
			const struct vr_view *v, const struct window *w, char *err, size_t errlen)
{
	static struct dalio_pending pending[DALIO_RING_SIZE];
	static struct dalio_dirty dirty[DALIO_DIRTY_BUCKETS];
	static struct dalio_payload payload[DALIO_RING_SIZE];
	static uint32_t keys[DALIO_DIRTY_BUCKETS];
	uint32_t base = s->id * DALIO_RING_SIZE, count, shard = s->id;
	struct dalio_shard_state st = {0};
	int payload_ok = base + DALIO_RING_SIZE <= maps->payload_slots;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	memset(pending, 0, sizeof(pending));
	memset(dirty, 0, sizeof(dirty));
	memset(payload, 0, sizeof(payload));
	for (uint64_t op = w->lo; w->msg && op <= w->head; op++) {
		uint8_t *msg = w->msg[op - w->lo];
		struct dalio_hdr *h = (struct dalio_hdr *)msg;
		uint32_t slot = (uint32_t)(op & RING_MASK);
		struct dalio_client_key ck = {.shard = s->id};
		struct dalio_client_entry ce;
		struct dalio_msg m;

		if (!msg || dalio_decode(msg, w->len[op - w->lo], &m, NULL))
			continue;
		/* The entry as the data path sends it in this view. */
		h->type = DALIO_T_PREPARE;
		h->epoch = htonl(v->view);
		h->stamp = htobe64(v->commit);
		h->replica = 0;
		h->status = 0;
		h->reserved = 0;
		payload[slot].seq = op;
		payload[slot].len = w->len[op - w->lo];
		memcpy(payload[slot].data, msg, payload[slot].len);
		/* L7: a retry of any op of the window is recognised. */
		ck.client_id = m.client_id;
		ce = (struct dalio_client_entry){.request_id = m.request_id, .seq = op};
		if (m.request_id && bpf_map_update_elem(maps->client_map, &ck, &ce, BPF_ANY))
			log_warn("shard %u: client table full: a retry of op %llu may get a new op",
				 s->id, (unsigned long long)op);
		if (op <= v->commit)
			continue;
		/* Uncommitted: pending again, overdue at once, its key dirty. */
		pending[slot] = (struct dalio_pending){
			.seq = op,
			.client_id = m.client_id,
			.request_id = m.request_id,
			.bucket = dalio_key_bucket(m.key, m.key_len, DALIO_DIRTY_BUCKETS),
			.state = DALIO_SLOT_PENDING,
			.payload_len = payload[slot].len,
		};
		dirty[pending[slot].bucket].pending++;
		dirty[pending[slot].bucket].latest_seq = op;
	}
	for (uint32_t i = 0; i < DALIO_DIRTY_BUCKETS; i++)
		keys[i] = s->id * DALIO_DIRTY_BUCKETS + i;
	count = DALIO_DIRTY_BUCKETS;
	if (bpf_map_update_batch(maps->dirty_map, keys, dirty, &count, &opts))
		goto fail;
	for (uint32_t i = 0; i < DALIO_RING_SIZE; i++)
		keys[i] = base + i;
	count = DALIO_RING_SIZE;
	if (bpf_map_update_batch(maps->pending_ring, keys, pending, &count, &opts))
		goto fail;
	count = DALIO_RING_SIZE;
	/* Every slot of the shard: an entry of an older view must never be
	 * re-sent stamped with this one. */
	if (payload_ok && bpf_map_update_batch(maps->payload_ring, keys, payload, &count, &opts))
		goto fail;
	st.next_seq = v->head + 1;
	st.max_completed = v->commit;
	st.in_flight = (uint32_t)(v->head - v->commit);
	if (bpf_map_update_elem(maps->shard_state, &shard, &st, BPF_F_LOCK))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "shard %u: cannot rebuild the BPF maps: %s", s->id, strerror(errno));
	return -1;
}

int vr_view_change(const struct dalio_shard_def *s, const struct datapath_maps *maps,
		   uint32_t min_view, int timeout_ms, struct vr_view *out, char *err, size_t errlen)
{
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	int64_t start = now_ms(), deadline = start + timeout_ms;
	struct vote votes[DALIO_MAX_REPLICAS] = {0};
	struct window w = {0};
	uint32_t view = min_view + 1, voters, recovering;
	uint64_t head = 0, commit = 0, must_from;
	int fd, chosen = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	/* Nothing is served while the maps are rebuilt. */
	if (bpf_map_delete_elem(maps->vip_map, &vk) && errno != ENOENT) {
		snprintf(err, errlen, "shard %u: cannot remove its vip_map entry: %s", s->id,
			 strerror(errno));
		return -1;
	}
	fd = probe_socket(s->vip, err, errlen);
	if (fd < 0)
		return -1;
	if (collect_votes(fd, s, &view, deadline, votes, &voters, &recovering, err, errlen))
		goto out;
	/* Step 2: VR's choice, the largest (last normal view, op number). */
	for (unsigned r = 0; r < s->n_replicas; r++) {
		if (!(voters & (1u << r)))
			continue;
		if (chosen < 0 || votes[r].lnv > votes[chosen].lnv ||
		    (votes[r].lnv == votes[chosen].lnv && votes[r].op > votes[chosen].op))
			chosen = (int)r;
		if (votes[r].commit > commit)
			commit = votes[r].commit;
	}
	head = votes[chosen].op;
	if (commit > head) {
		log_warn("shard %u: a replica reports commit %llu beyond the chosen log's head "
			 "%llu",
			 s->id, (unsigned long long)commit, (unsigned long long)head);
		commit = head;
	}
	/* An op is only sequenced once the one DALIO_RING_SIZE before it has
	 * completed (its slot was free): everything that far back is committed. */
	if (head > DALIO_RING_SIZE && commit < head - DALIO_RING_SIZE)
		commit = head - DALIO_RING_SIZE;
	must_from = commit + 1;
	if (head) {
		w.lo = head >= DALIO_RING_SIZE ? head - DALIO_RING_SIZE + 1 : 1;
		if (votes[chosen].oldest > w.lo && votes[chosen].oldest <= must_from)
			w.lo = votes[chosen].oldest;
		w.head = head;
		w.msg = calloc(head - w.lo + 1, sizeof(*w.msg));
		w.len = calloc(head - w.lo + 1, sizeof(*w.len));
		if (!w.msg || !w.len) {
			snprintf(err, errlen, "out of memory for the log window");
			goto out;
		}
		if (fetch_log(fd, s, (unsigned)chosen, view, must_from, deadline, &w, err, errlen))
			goto out;
	}
	*out = (struct vr_view){.view = view,
				.head = head,
				.commit = commit,
				.voters = voters,
				.recovering = recovering};
	for (uint64_t op = w.lo; w.msg && op <= w.head; op++)
		out->fetched += w.msg[op - w.lo] != NULL;
	if (rebuild_maps(s, maps, out, &w, err, errlen))
		goto out;
	heads[s->id] = head;
	log_info("shard %u (%s): view %u from replica %s's log (last normal view %u): op %llu, "
		 "commit %llu, %llu op(s) to re-prepare, %u log entries fetched, %u voter(s), %lld "
		 "ms",
		 s->id, s->name, view, s->replicas[chosen].addr, votes[chosen].lnv,
		 (unsigned long long)head, (unsigned long long)commit,
		 (unsigned long long)(head - commit), out->fetched, popcount(voters),
		 (long long)(now_ms() - start));
	rc = 0;
out:
	window_free(&w);
	close(fd);
	return rc;
}

void vr_start_view(const struct dalio_shard_def *s, const struct vr_view *v)
{
	struct dalio_msg sv = {.type = DALIO_T_START_VIEW,
			       .shard = (uint16_t)s->id,
			       .epoch = v->view,
			       .seq = v->head,
			       .stamp = v->commit};
	char err[256];
	int fd = probe_socket(s->vip, err, sizeof(err));

	if (fd < 0) {
		log_warn("shard %u: START_VIEW not sent: %s (PINGs carry the view)", s->id, err);
		return;
	}
	for (int i = 0; i < 3; i++) {
		for (unsigned r = 0; r < s->n_replicas; r++)
			send_to(fd, s, r, &sv);
		usleep(5000);
	}
	close(fd);
}
