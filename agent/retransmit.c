/* SPDX-License-Identifier: MIT */
/* Re-sending writes from the payload ring; see retransmit.h and
 * docs/retransmission.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent.h"
#include "dalio/codec.h"
#include "log.h"
#include "membership.h"
#include "probe.h"
#include "retransmit.h"

#define RING_MASK (DALIO_RING_SIZE - 1)

/* Per slot: when the agent may re-send it next, and the current backoff. */
struct retx_slot {
	uint64_t seq;
	int64_t next_ns;
	uint32_t rto_ms;
};

struct retx_shard {
	int fd; /* bound to VIP:port: re-sends leave from it, NACKs arrive on it */
	struct retx_slot *slots;
	uint64_t commit_sent; /* vr: the last commit number sent in a COMMIT */
};

static struct {
	const volatile struct dalio_pending *pending; /* mmapped pending_ring */
	size_t pending_len;
	const volatile struct dalio_payload *payload; /* mmapped payload_ring */
	size_t payload_len;
	unsigned payload_slots;
	struct retx_shard shard[DALIO_MAX_SHARDS];
} rx;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *map_ring(int fd, size_t value_size, size_t entries, size_t *len)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	*len = (value_size * entries + (size_t)page - 1) & ~((size_t)page - 1);
	p = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int retransmit_send(struct agent *a, unsigned si, uint64_t seq, unsigned r)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	uint32_t idx = s->id * DALIO_RING_SIZE + (uint32_t)(seq & RING_MASK);
	const volatile struct dalio_payload *pl;
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct dalio_hdr *h = (struct dalio_hdr *)buf;
	struct sockaddr_in to = replica_sockaddr(&s->replicas[r]);
	uint16_t len;

	if (idx >= rx.payload_slots)
		return -1;
	pl = &rx.payload[idx];
	/* R1: the same seq before and after the copy means an untorn copy. */
	if (pl->seq != seq)
		return -1;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	len = pl->len;
	if (len < sizeof(*h) || len > sizeof(buf))
		return -1;
	memcpy(buf, (const void *)pl->data, len);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (pl->seq != seq)
		return -1;
	h->epoch = htonl(a->shards[si].epoch);
	if (sendto(rx.shard[si].fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		log_debug("shard %u: re-send of seq %llu to %s: %s", s->id, (unsigned long long)seq,
			  s->replicas[r].addr, strerror(errno));
	a->shards[si].rep[r].retransmits++;
	return 0;
}

/* The write-set masks the data path uses now. */
static int shard_masks(struct agent *a, unsigned si, struct dalio_shard_cfg *out)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};

	return bpf_map_lookup_elem(a->maps.vip_map, &vk, out);
}

/* R3: re-send overdue writes of one shard. */
static void scan_shard(struct agent *a, unsigned si, int64_t now)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct retx_slot *rs = rx.shard[si].slots;
	struct dalio_shard_cfg cfg;

	if (shard_masks(a, si, &cfg))
		return;
	for (unsigned i = 0; i < DALIO_RING_SIZE; i++) {
		const volatile struct dalio_pending *p = &rx.pending[s->id * DALIO_RING_SIZE + i];
		uint64_t seq, start;
		uint32_t need, acked, missing;

		if (p->state != DALIO_SLOT_PENDING)
			continue;
		seq = p->seq;
		start = p->start_ns;
		need = p->need & cfg.write_mask;
		acked = p->acked;
		/* vr waits for a quorum of the write set: every member that has
		 * not PREPARE_OKed is missing (docs/vr.md L2). */
		if (!need || cfg.mode == DALIO_MODE_VR)
			need = cfg.write_mask;
		if (rs[i].seq != seq) { /* a new write in this slot */
			rs[i].seq = seq;
			rs[i].rto_ms = RETX_RTO_MS;
			rs[i].next_ns = (int64_t)start + (int64_t)RETX_RTO_MS * 1000000;
		}
		if (now < rs[i].next_ns)
			continue;
		missing = need & ~acked;
		if (!missing && cfg.mode == DALIO_MODE_VR) {
			/* the set shrank below a quorum: nothing to re-send */
		} else if (!missing) {
			/* M4: everyone still needed has acked, but the write is
			 * pending: its set shrank. One repeated ACK completes it. */
			uint32_t from = acked & cfg.write_mask;

			for (unsigned r = 0; r < s->n_replicas; r++)
				if (from & (1u << r)) {
					retransmit_send(a, si, seq, r);
					break;
				}
		} else {
			for (unsigned r = 0; r < s->n_replicas; r++)
				if (missing & (1u << r))
					retransmit_send(a, si, seq, r);
		}
		rs[i].rto_ms = rs[i].rto_ms * 2 > RETX_MAX_MS ? RETX_MAX_MS : rs[i].rto_ms * 2;
		rs[i].next_ns = now + (int64_t)rs[i].rto_ms * 1000000;
	}
}

/*
 * vr (docs/vr.md L5): replicas learn the commit number from the next PREPARE;
 * when none follows, an explicit COMMIT carries it to every replica the data
 * path sends PREPAREs to.
 */
static void send_commit(struct agent *a, unsigned si)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct dalio_shard_state st;
	struct dalio_shard_cfg cfg;
	uint32_t key = s->id;
	uint8_t buf[sizeof(struct dalio_hdr)];
	struct dalio_msg m = {.type = DALIO_T_COMMIT, .shard = (uint16_t)s->id};
	long len;

	if (s->mode != DALIO_MODE_VR || shard_masks(a, si, &cfg) ||
	    bpf_map_lookup_elem(a->maps.shard_state, &key, &st) ||
	    st.max_completed <= rx.shard[si].commit_sent)
		return;
	m.epoch = cfg.epoch;
	m.stamp = st.max_completed;
	len = dalio_encode(&m, buf, sizeof(buf), NULL);
	for (unsigned r = 0; r < s->n_replicas && len > 0; r++) {
		struct sockaddr_in to = replica_sockaddr(&s->replicas[r]);

		if ((cfg.write_mask | cfg.join_mask) & (1u << r))
			sendto(rx.shard[si].fd, buf, (size_t)len, 0, (struct sockaddr *)&to,
			       sizeof(to));
	}
	rx.shard[si].commit_sent = st.max_completed;
}

static void on_tick(void *arg, int64_t now_ms)
{
	struct agent *a = arg;
	int64_t now = mono_ns();

	(void)now_ms;
	for (unsigned si = 0; si < a->cfg.n_shards; si++) {
		if (a->shards[si].removed)
			continue;
		scan_shard(a, si, now);
		send_commit(a, si);
	}
}

/* R4: a replica asks for writes seq..stamp. */
static void on_nack(struct agent *a, unsigned si, const struct dalio_msg *m,
		    const struct sockaddr_in *from)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	uint64_t last = m->stamp < m->seq ? m->seq : m->stamp;
	int r = membership_replica_of(a, si, from);

	if (r < 0 || !m->seq)
		return;
	a->shards[si].rep[r].nacks++;
	if (last - m->seq >= RETX_NACK_RANGE)
		last = m->seq + RETX_NACK_RANGE - 1;
	for (uint64_t seq = m->seq; seq <= last; seq++) {
		if (retransmit_send(a, si, seq, (unsigned)r) == 0)
			continue;
		if (membership_seq_gone(a, si, seq)) {
			log_warn("shard %u: replica %s asks for seq %llu, which the payload ring "
				 "no longer holds: it needs a full copy",
				 s->id, s->replicas[r].addr, (unsigned long long)seq);
			membership_resync(a, si, (unsigned)r);
			return;
		}
	}
}

static void on_readable(void *arg, int fd)
{
	struct agent *a = arg;
	unsigned si = 0;

	while (si < a->cfg.n_shards && (rx.shard[si].fd != fd || a->shards[si].removed))
		si++;
	for (int i = 0; i < 64 && si < a->cfg.n_shards; i++) {
		uint8_t buf[DALIO_MAX_DATAGRAM + 1];
		struct sockaddr_in from;
		struct dalio_msg m;
		int rc = recv_msg(fd, buf, sizeof(buf), &m, &from);

		if (rc < 0)
			break;
		if (rc == 0 && m.type == DALIO_T_NACK && m.shard == a->cfg.shards[si].id)
			on_nack(a, si, &m, &from);
	}
}

int retransmit_open_shard(struct agent *a, unsigned si, char *err, size_t errlen)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct sockaddr_in addr = {
		.sin_family = AF_INET, .sin_addr.s_addr = s->vip, .sin_port = htons(s->port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	rx.shard[si].fd = fd;
	if (!rx.shard[si].slots)
		rx.shard[si].slots = calloc(DALIO_RING_SIZE, sizeof(struct retx_slot));
	else
		memset(rx.shard[si].slots, 0, DALIO_RING_SIZE * sizeof(struct retx_slot));
	if (fd < 0 || !rx.shard[si].slots || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    loop_add_fd(&a->loop, fd, on_readable, a)) {
		snprintf(err, errlen, "shard %u: cannot open the re-send socket on %s:%u: %s",
			 s->id, inet_ntoa(addr.sin_addr), s->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		rx.shard[si].fd = -1;
		return -1;
	}
	if ((s->id + 1) * DALIO_RING_SIZE > rx.payload_slots)
		log_warn("shard %u: its id is beyond the payload ring sized at start: writes are "
			 "not re-sent by the agent (client retries still repair them) until the "
			 "agent restarts",
			 s->id);
	return 0;
}

void retransmit_close_shard(struct agent *a, unsigned si)
{
	if (rx.shard[si].fd >= 0) {
		loop_del_fd(&a->loop, rx.shard[si].fd);
		close(rx.shard[si].fd);
	}
	rx.shard[si].fd = -1;
}

int retransmit_init(struct agent *a, char *err, size_t errlen)
{
	rx.payload_slots = a->maps.payload_slots;
	rx.pending = map_ring(a->maps.pending_ring, sizeof(struct dalio_pending),
			      (size_t)DALIO_MAX_SHARDS * DALIO_RING_SIZE, &rx.pending_len);
	rx.payload = map_ring(a->maps.payload_ring, sizeof(struct dalio_payload), rx.payload_slots,
			      &rx.payload_len);
	if (!rx.pending || !rx.payload) {
		snprintf(err, errlen, "cannot map the pending/payload rings: %s", strerror(errno));
		return -1;
	}
	for (unsigned si = 0; si < DALIO_MAX_SHARDS; si++)
		rx.shard[si].fd = -1;
	for (unsigned si = 0; si < a->cfg.n_shards; si++)
		if (retransmit_open_shard(a, si, err, errlen))
			return -1;
	if (loop_add_timer(&a->loop, RETX_TICK_MS, on_tick, a)) {
		snprintf(err, errlen, "cannot add the re-send timer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void retransmit_close(struct agent *a)
{
	(void)a;
	for (unsigned si = 0; si < DALIO_MAX_SHARDS; si++) {
		if (rx.shard[si].fd >= 0 && rx.shard[si].slots)
			close(rx.shard[si].fd);
		free(rx.shard[si].slots);
		rx.shard[si].slots = NULL;
	}
	if (rx.pending)
		munmap((void *)rx.pending, rx.pending_len);
	if (rx.payload)
		munmap((void *)rx.payload, rx.payload_len);
	memset(&rx, 0, sizeof(rx));
}
