/* SPDX-License-Identifier: MIT */
/*
 * dalio-ulb's coordinator logic: the user-space twin of xdp/dalio_lb.bpf.c
 * (and of the fan-out in tc/dalio_fanout.bpf.c). Function by function it
 * follows the XDP program so that both keep the same invariants
 * (docs/lb-datapath.md I1-I8, docs/exactly-once.md). See ulb/ulb.h.
 */
#include <endian.h>
#include <string.h>

#include "ulb.h"

#define RING_MASK  (DALIO_RING_SIZE - 1)
#define DIRTY_MASK (DALIO_DIRTY_BUCKETS - 1)

static inline struct dalio_hdr *hdr(uint8_t *buf)
{
	return (struct dalio_hdr *)buf;
}

static inline void stat_inc(struct ulb_shard *s, enum dalio_stat which)
{
	s->stats[which]++;
}

void ulb_shard_init(struct ulb_shard *s, uint32_t id, struct ulb_addr vip, uint32_t epoch,
		    const struct ulb_addr *replicas, unsigned n_replicas, uint32_t write_mask,
		    uint32_t read_mask, uint64_t applied)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->vip = vip;
	s->epoch = epoch;
	if (n_replicas > DALIO_MAX_REPLICAS)
		n_replicas = DALIO_MAX_REPLICAS;
	s->n_replicas = n_replicas;
	memcpy(s->replicas, replicas, n_replicas * sizeof(*replicas));
	s->write_mask = write_mask & ((1u << n_replicas) - 1);
	s->read_mask = read_mask & ((1u << n_replicas) - 1);
	s->next_seq = applied + 1;
	s->max_completed = applied;
}

/* ---- exactly-once client table (LRU) ----------------------------------- */

void ulb_clients_init(struct ulb_clients *c, uint32_t capacity)
{
	if (capacity == 0 || capacity > DALIO_MAX_CLIENTS)
		capacity = DALIO_MAX_CLIENTS;
	c->used = 0;
	c->capacity = capacity;
	c->head = c->tail = ULB_NIL;
	for (uint32_t i = 0; i < ULB_CLIENT_BUCKETS; i++)
		c->buckets[i] = ULB_NIL;
}

static inline uint32_t client_bucket(uint64_t client_id, uint32_t shard)
{
	uint64_t h = (client_id ^ ((uint64_t)shard << 56)) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 32) & (ULB_CLIENT_BUCKETS - 1);
}

static void lru_unlink(struct ulb_clients *c, uint32_t i)
{
	struct ulb_client *e = &c->e[i];

	if (e->lru_prev != ULB_NIL)
		c->e[e->lru_prev].lru_next = e->lru_next;
	else
		c->head = e->lru_next;
	if (e->lru_next != ULB_NIL)
		c->e[e->lru_next].lru_prev = e->lru_prev;
	else
		c->tail = e->lru_prev;
}

static void lru_push_head(struct ulb_clients *c, uint32_t i)
{
	struct ulb_client *e = &c->e[i];

	e->lru_prev = ULB_NIL;
	e->lru_next = c->head;
	if (c->head != ULB_NIL)
		c->e[c->head].lru_prev = i;
	c->head = i;
	if (c->tail == ULB_NIL)
		c->tail = i;
}

/* The entry of (client_id, shard), created (evicting the LRU one) if missing. */
static struct ulb_client *client_get(struct ulb_clients *c, uint64_t client_id, uint32_t shard)
{
	uint32_t b = client_bucket(client_id, shard), i;
	struct ulb_client *e;

	for (i = c->buckets[b]; i != ULB_NIL; i = c->e[i].hnext) {
		e = &c->e[i];
		if (e->client_id == client_id && e->shard == shard) {
			if (c->head != i) {
				lru_unlink(c, i);
				lru_push_head(c, i);
			}
			return e;
		}
	}
	if (c->used < c->capacity) {
		i = c->used++;
	} else {
		/* Evict the least recently used entry, like an LRU hash map. */
		uint32_t *pp;

		i = c->tail;
		if (i == ULB_NIL)
			return NULL;
		lru_unlink(c, i);
		e = &c->e[i];
		for (pp = &c->buckets[client_bucket(e->client_id, e->shard)]; *pp != i;
		     pp = &c->e[*pp].hnext)
			;
		*pp = e->hnext;
	}
	e = &c->e[i];
	e->client_id = client_id;
	e->shard = shard;
	e->request_id = 0;
	e->seq = 0;
	e->hnext = c->buckets[b];
	c->buckets[b] = i;
	lru_push_head(c, i);
	return e;
}

/* ---- helpers ------------------------------------------------------------ */

uint64_t ulb_request_digest(const uint8_t *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, buf + i, 8);
		if (i == 0) /* flags are bytes 6..7: a retry sets DALIO_F_RETRY */
			w &= htole64(0x0000ffffffffffffULL);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ buf[i]) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

static int nth_bit(uint32_t mask, uint32_t n)
{
	int count = __builtin_popcount(mask);

	if (!count)
		return -1;
	n %= (uint32_t)count;
	while (n--)
		mask &= mask - 1;
	return __builtin_ctz(mask);
}

static int round_robin(struct ulb_shard *s, uint32_t mask)
{
	return nth_bit(mask, s->rr++);
}

static int replica_index(const struct ulb_shard *s, struct ulb_addr from)
{
	for (unsigned i = 0; i < s->n_replicas; i++)
		if (s->replicas[i].ip == from.ip && s->replicas[i].port == from.port)
			return (int)i;
	return -1;
}

static void to(struct ulb_out *out, struct ulb_addr a)
{
	out->to[out->n++] = a;
}

/* Turns the datagram around to its sender with a status. */
static void reply_status(uint8_t *buf, struct ulb_addr from, uint8_t status, struct ulb_out *out)
{
	hdr(buf)->type = DALIO_T_REPLY;
	hdr(buf)->status = status;
	to(out, from);
}

/* A replica's answer goes to the client named in the echoed origin fields. */
static void to_client(uint8_t *buf, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);

	h->type = DALIO_T_REPLY;
	to(out, (struct ulb_addr){.ip = h->origin_ip, .port = h->origin_port});
}

/* Rewrites the request into WRITE `seq` and addresses a copy to each replica of mask. */
static void send_write(struct ulb_shard *s, uint8_t *buf, struct ulb_addr from, uint64_t seq,
		       uint32_t mask, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);

	h->type = DALIO_T_WRITE;
	h->shard = htobe16((uint16_t)s->id);
	h->epoch = htobe32(s->epoch);
	h->seq = htobe64(seq);
	h->stamp = 0;
	h->origin_ip = from.ip;
	h->origin_port = from.port;
	memset(h->origin_mac, 0, sizeof(h->origin_mac));
	h->replica = 0;
	h->status = 0;
	h->reserved = 0;
	while (mask) {
		int i = __builtin_ctz(mask);

		mask &= mask - 1;
		if ((unsigned)i < s->n_replicas) {
			to(out, s->replicas[i]);
			stat_inc(s, DALIO_STAT_FANOUT_COPIES);
		}
	}
}

/* Sends the request to replica `pick` as `type` (READ or REPLAY), stamped. */
static void forward_to_replica(struct ulb_shard *s, uint8_t *buf, struct ulb_addr from, int pick,
			       uint8_t type, uint64_t seq, uint64_t stamp, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);

	if (pick < 0 || (unsigned)pick >= s->n_replicas) {
		stat_inc(s, DALIO_STAT_REFUSED_NOREP);
		reply_status(buf, from, DALIO_S_NO_REPLICA, out);
		return;
	}
	h->type = type;
	h->shard = htobe16((uint16_t)s->id);
	h->epoch = htobe32(s->epoch);
	h->seq = htobe64(seq);
	h->stamp = htobe64(stamp);
	h->origin_ip = from.ip;
	h->origin_port = from.port;
	memset(h->origin_mac, 0, sizeof(h->origin_mac));
	h->replica = (uint8_t)pick;
	h->status = 0;
	h->reserved = 0;
	to(out, s->replicas[pick]);
}

/* ---- requests ----------------------------------------------------------- */

static void handle_write_retry(struct ulb_shard *s, uint8_t *buf, size_t len, struct ulb_addr from,
			       uint64_t seq, struct ulb_out *out)
{
	struct ulb_pending *slot = &s->ring[seq & RING_MASK];

	if (slot->seq == seq && slot->state == DALIO_SLOT_PENDING) {
		uint32_t missing = slot->need & ~slot->acked;

		/* Same request id, other content: never let replicas diverge. */
		if (slot->payload_len != len || slot->digest != ulb_request_digest(buf, len)) {
			stat_inc(s, DALIO_STAT_RETRY_MISMATCH);
			reply_status(buf, from, DALIO_S_BAD_REQUEST, out);
			return;
		}
		stat_inc(s, DALIO_STAT_RETRY_PENDING);
		if (missing)
			send_write(s, buf, from, seq, missing, out);
		return;
	}
	stat_inc(s, DALIO_STAT_RETRY_REPLAYED);
	forward_to_replica(s, buf, from, round_robin(s, s->read_mask), DALIO_T_REPLAY, seq, seq,
			   out);
}

static void handle_write(struct ulb_shard *s, struct ulb_clients *clients, uint8_t *buf, size_t len,
			 struct ulb_addr from, uint32_t bucket, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);
	uint64_t client_id = be64toh(h->client_id), request_id = be64toh(h->request_id), seq;
	struct ulb_client *ce;
	struct ulb_pending *slot;
	struct ulb_dirty *dirty = &s->dirty[bucket];

	if (!s->write_mask) {
		stat_inc(s, DALIO_STAT_REFUSED_NOREP);
		reply_status(buf, from, DALIO_S_NO_REPLICA, out);
		return;
	}
	if (!request_id) { /* 0 is the client table's "nothing yet" */
		stat_inc(s, DALIO_STAT_DROP_MALFORMED);
		reply_status(buf, from, DALIO_S_BAD_REQUEST, out);
		return;
	}
	if (s->next_seq == 0) { /* not initialised */
		stat_inc(s, DALIO_STAT_REFUSED_NOREP);
		reply_status(buf, from, DALIO_S_NO_REPLICA, out);
		return;
	}
	ce = client_get(clients, client_id, s->id);
	if (!ce) { /* cannot track it: refuse, never sequence untracked */
		stat_inc(s, DALIO_STAT_REFUSED_BUSY);
		reply_status(buf, from, DALIO_S_BUSY, out);
		return;
	}
	if (ce->request_id >= request_id) {
		if (ce->request_id == request_id) {
			handle_write_retry(s, buf, len, from, ce->seq, out);
		} else {
			stat_inc(s, DALIO_STAT_RETRY_STALE);
		}
		return;
	}
	seq = s->next_seq;
	slot = &s->ring[seq & RING_MASK];
	if (slot->state != DALIO_SLOT_FREE) {
		/* Ring slot still taken: refused before next_seq moves (no hole). */
		stat_inc(s, DALIO_STAT_REFUSED_BUSY);
		reply_status(buf, from, DALIO_S_BUSY, out);
		return;
	}
	slot->state = DALIO_SLOT_PENDING;
	slot->seq = seq;
	slot->acked = 0;
	slot->need = s->write_mask;
	slot->bucket = bucket;
	slot->client_id = client_id;
	slot->request_id = request_id;
	slot->payload_len = (uint16_t)len;
	slot->digest = ulb_request_digest(buf, len);
	/* Dirty before any replica can see the write. */
	dirty->pending++;
	dirty->latest_seq = seq;
	s->next_seq = seq + 1;
	s->in_flight++;
	ce->request_id = request_id;
	ce->seq = seq;
	stat_inc(s, DALIO_STAT_WRITES);
	send_write(s, buf, from, seq, s->write_mask, out);
}

static void handle_read(struct ulb_shard *s, uint8_t *buf, struct ulb_addr from, uint32_t bucket,
			struct ulb_out *out)
{
	const struct ulb_dirty *dirty = &s->dirty[bucket];
	uint64_t stamp;
	int pick = -1;

	if (dirty->pending) {
		/* Dirty: the replica must have applied the key's latest write;
		 * prefer one whose ack for it has already arrived. */
		const struct ulb_pending *slot;

		stamp = dirty->latest_seq;
		slot = &s->ring[stamp & RING_MASK];
		stat_inc(s, DALIO_STAT_READS_DIRTY);
		if (slot->seq == stamp) {
			uint32_t acked = slot->acked & s->read_mask;

			if (acked) {
				pick = __builtin_ctz(acked);
				stat_inc(s, DALIO_STAT_READS_ACKED);
			}
		}
	} else {
		/* Clean: every completed write is at or below max_completed. */
		stamp = s->max_completed;
		stat_inc(s, DALIO_STAT_READS_CLEAN);
	}
	if (pick < 0)
		pick = round_robin(s, s->read_mask);
	forward_to_replica(s, buf, from, pick, DALIO_T_READ, 0, stamp, out);
}

static void handle_request(struct ulb_shard *s, struct ulb_clients *clients, uint8_t *buf,
			   size_t len, struct ulb_addr from, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);
	uint16_t shard = be16toh(h->shard);
	uint32_t key_len = be16toh(h->key_len);
	const uint8_t *k = buf + sizeof(*h);
	uint64_t hash = DALIO_FNV_OFFSET;
	uint32_t bucket;

	if (shard != DALIO_SHARD_ANY && shard != s->id) {
		stat_inc(s, DALIO_STAT_DROP_BAD_SHARD);
		reply_status(buf, from, DALIO_S_UNKNOWN_SHARD, out);
		return;
	}
	if (key_len == 0 || key_len > DALIO_MAX_KEY || sizeof(*h) + key_len > len) {
		stat_inc(s, DALIO_STAT_DROP_MALFORMED);
		reply_status(buf, from, DALIO_S_BAD_REQUEST, out);
		return;
	}
	for (uint32_t i = 0; i < key_len; i++)
		hash = dalio_hash_step(hash, k[i]);
	bucket = (uint32_t)hash & DIRTY_MASK;
	if (be16toh(h->flags) & DALIO_F_WRITE)
		handle_write(s, clients, buf, len, from, bucket, out);
	else
		handle_read(s, buf, from, bucket, out);
}

/* ---- replica answers ---------------------------------------------------- */

static void handle_ack(struct ulb_shard *s, uint8_t *buf, struct ulb_addr from, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);
	uint64_t seq = be64toh(h->seq);
	struct ulb_pending *slot = &s->ring[seq & RING_MASK];
	int rep = replica_index(s, from);
	uint32_t bit;

	if (rep < 0) {
		stat_inc(s, DALIO_STAT_DROP_NOT_REPLICA);
		return;
	}
	bit = 1u << rep;
	if (slot->state != DALIO_SLOT_PENDING || slot->seq != seq) {
		stat_inc(s, DALIO_STAT_ACKS_STALE);
		return;
	}
	if (slot->acked & bit) {
		stat_inc(s, DALIO_STAT_ACKS_DUP);
		return;
	}
	stat_inc(s, DALIO_STAT_ACKS);
	slot->acked |= bit;
	if ((slot->acked & slot->need) != slot->need)
		return;
	/* Completion: publish max_completed, then let the key look clean. */
	slot->state = DALIO_SLOT_FREE;
	if (seq > s->max_completed)
		s->max_completed = seq;
	if (s->dirty[slot->bucket].pending)
		s->dirty[slot->bucket].pending--;
	if (s->in_flight)
		s->in_flight--;
	stat_inc(s, DALIO_STAT_REPLIES);
	h->status = DALIO_S_OK;
	to_client(buf, out);
}

void ulb_handle(struct ulb_shard *s, struct ulb_clients *clients, uint8_t *buf, size_t len,
		struct ulb_addr from, struct ulb_out *out)
{
	struct dalio_hdr *h = hdr(buf);

	out->n = 0;
	if (len < sizeof(*h) || h->magic != htobe32(DALIO_MAGIC) || h->version != DALIO_VERSION ||
	    len > DALIO_MAX_DATAGRAM) {
		stat_inc(s, DALIO_STAT_DROP_MALFORMED);
		return;
	}
	switch (h->type) {
	case DALIO_T_REQUEST:
		handle_request(s, clients, buf, len, from, out);
		return;
	case DALIO_T_ACK:
		handle_ack(s, buf, from, out);
		return;
	case DALIO_T_READ_REPLY:
		if (replica_index(s, from) < 0) {
			stat_inc(s, DALIO_STAT_DROP_NOT_REPLICA);
			return;
		}
		stat_inc(s, DALIO_STAT_REPLIES);
		to_client(buf, out);
		return;
	default:
		stat_inc(s, DALIO_STAT_DROP_MALFORMED);
		return;
	}
}
