/* SPDX-License-Identifier: MIT */
/*
 * User-space encoding and decoding of Dalio datagrams (wire.h), in host byte
 * order. Used by the agent, the replica daemon, the client library and tests.
 */
#ifndef DALIO_CODEC_H
#define DALIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "dalio/wire.h"

/* Host-order view of a datagram. key and body point into the datagram. */
struct dalio_msg {
	uint8_t type;
	uint8_t status;
	uint8_t replica;
	uint16_t flags;
	uint16_t shard;
	uint32_t epoch;
	uint64_t client_id;
	uint64_t request_id;
	uint64_t seq;
	uint64_t stamp;
	uint32_t origin_ip;   /* network byte order, as on the wire */
	uint16_t origin_port; /* network byte order, as on the wire */
	uint8_t origin_mac[6];
	const uint8_t *key;
	uint16_t key_len;
	const uint8_t *body;
	size_t body_len;
};

/*
 * Parses buf. Returns 0, or -1 with *err (if not NULL) naming what is wrong:
 * short datagram, bad magic, unknown version or type, key past the end.
 */
int dalio_decode(const void *buf, size_t len, struct dalio_msg *m, const char **err);

/*
 * Writes header, m->key and m->body into buf. Returns the datagram length, or
 * -1 when it would exceed cap or DALIO_MAX_DATAGRAM, or the key is longer
 * than DALIO_MAX_KEY (*err says which).
 */
long dalio_encode(const struct dalio_msg *m, void *buf, size_t cap, const char **err);

/* Human-readable names, for logs and errors. */
const char *dalio_type_name(unsigned type);
const char *dalio_status_name(unsigned status);

/* The bucket index the LB uses for key in its dirty-key table. */
uint32_t dalio_key_bucket(const void *key, size_t len, uint32_t nbuckets);

#endif /* DALIO_CODEC_H */
