/* SPDX-License-Identifier: MIT */
/* Encoding and decoding of Dalio datagrams; see include/dalio/codec.h. */
#include <endian.h>
#include <string.h>

#include "dalio/codec.h"

#define SET_ERR(e, s)                                                                              \
	do {                                                                                       \
		if (e)                                                                             \
			*(e) = (s);                                                                \
	} while (0)

int dalio_decode(const void *buf, size_t len, struct dalio_msg *m, const char **err)
{
	struct dalio_hdr h;

	if (len < sizeof(h)) {
		SET_ERR(err, "datagram shorter than the Dalio header");
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	if (be32toh(h.magic) != DALIO_MAGIC) {
		SET_ERR(err, "bad magic (not a Dalio datagram)");
		return -1;
	}
	if (h.version != DALIO_VERSION) {
		SET_ERR(err, "unsupported protocol version");
		return -1;
	}
	if (h.type == 0 || h.type >= DALIO_T_MAX) {
		SET_ERR(err, "unknown message type");
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->type = h.type;
	m->status = h.status;
	m->replica = h.replica;
	m->flags = be16toh(h.flags);
	m->shard = be16toh(h.shard);
	m->key_len = be16toh(h.key_len);
	m->epoch = be32toh(h.epoch);
	m->client_id = be64toh(h.client_id);
	m->request_id = be64toh(h.request_id);
	m->seq = be64toh(h.seq);
	m->stamp = be64toh(h.stamp);
	m->origin_ip = h.origin_ip;
	m->origin_port = h.origin_port;
	memcpy(m->origin_mac, h.origin_mac, sizeof(m->origin_mac));
	if (m->key_len > DALIO_MAX_KEY || sizeof(h) + m->key_len > len) {
		SET_ERR(err, "key length runs past the datagram");
		return -1;
	}
	m->key = (const uint8_t *)buf + sizeof(h);
	m->body = m->key + m->key_len;
	m->body_len = len - sizeof(h) - m->key_len;
	return 0;
}

long dalio_encode(const struct dalio_msg *m, void *buf, size_t cap, const char **err)
{
	struct dalio_hdr h;
	size_t total = sizeof(h) + m->key_len + m->body_len;

	if (m->key_len > DALIO_MAX_KEY) {
		SET_ERR(err, "key longer than 256 bytes");
		return -1;
	}
	if (total > DALIO_MAX_DATAGRAM || total > cap) {
		SET_ERR(err, "request does not fit one 1472-byte datagram");
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.magic = htobe32(DALIO_MAGIC);
	h.version = DALIO_VERSION;
	h.type = m->type;
	h.status = m->status;
	h.replica = m->replica;
	h.flags = htobe16(m->flags);
	h.shard = htobe16(m->shard);
	h.key_len = htobe16(m->key_len);
	h.epoch = htobe32(m->epoch);
	h.client_id = htobe64(m->client_id);
	h.request_id = htobe64(m->request_id);
	h.seq = htobe64(m->seq);
	h.stamp = htobe64(m->stamp);
	h.origin_ip = m->origin_ip;
	h.origin_port = m->origin_port;
	memcpy(h.origin_mac, m->origin_mac, sizeof(h.origin_mac));
	memcpy(buf, &h, sizeof(h));
	if (m->key_len)
		memmove((uint8_t *)buf + sizeof(h), m->key, m->key_len);
	if (m->body_len)
		memmove((uint8_t *)buf + sizeof(h) + m->key_len, m->body, m->body_len);
	return (long)total;
}

const char *dalio_type_name(unsigned type)
{
	static const char *const names[DALIO_T_MAX] = {
		[DALIO_T_REQUEST] = "REQUEST",
		[DALIO_T_REPLY] = "REPLY",
		[DALIO_T_WRITE] = "WRITE",
		[DALIO_T_ACK] = "ACK",
		[DALIO_T_READ] = "READ",
		[DALIO_T_READ_REPLY] = "READ_REPLY",
		[DALIO_T_PING] = "PING",
		[DALIO_T_PONG] = "PONG",
		[DALIO_T_REPLAY] = "REPLAY",
		[DALIO_T_NACK] = "NACK",
		[DALIO_T_SYNC] = "SYNC",
		[DALIO_T_PREPARE] = "PREPARE",
		[DALIO_T_PREPARE_OK] = "PREPARE_OK",
		[DALIO_T_COMMIT] = "COMMIT",
		[DALIO_T_START_VIEW_CHANGE] = "START_VIEW_CHANGE",
		[DALIO_T_DO_VIEW_CHANGE] = "DO_VIEW_CHANGE",
		[DALIO_T_START_VIEW] = "START_VIEW",
		[DALIO_T_GET_LOG] = "GET_LOG",
		[DALIO_T_LOG_ENTRY] = "LOG_ENTRY",
		[DALIO_T_LB_HEARTBEAT] = "LB_HEARTBEAT",
	};
	return type < DALIO_T_MAX && names[type] ? names[type] : "UNKNOWN";
}

const char *dalio_status_name(unsigned status)
{
	static const char *const names[DALIO_S_MAX] = {
		[DALIO_S_OK] = "OK",
		[DALIO_S_BUSY] = "BUSY (too many writes in flight, retry)",
		[DALIO_S_UNKNOWN_SHARD] = "UNKNOWN_SHARD (this VIP does not serve that shard)",
		[DALIO_S_BAD_REQUEST] = "BAD_REQUEST (malformed request)",
		[DALIO_S_STALE_EPOCH] = "STALE_EPOCH (message from an older LB incarnation)",
		[DALIO_S_NOT_READY] = "NOT_READY (replica behind the read stamp, retry)",
		[DALIO_S_NO_REPLICA] = "NO_REPLICA (no in-sync replica, retry)",
		[DALIO_S_REPLY_LOST] = "REPLY_LOST (the write was applied exactly once, but its "
				       "reply is no longer cached)",
	};
	return status < DALIO_S_MAX && names[status] ? names[status] : "UNKNOWN_STATUS";
}

uint32_t dalio_key_bucket(const void *key, size_t len, uint32_t nbuckets)
{
	const uint8_t *p = key;
	uint64_t h = DALIO_FNV_OFFSET;

	for (size_t i = 0; i < len; i++)
		h = dalio_hash_step(h, p[i]);
	return (uint32_t)(h & (nbuckets - 1));
}
