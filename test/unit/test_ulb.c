/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of dalio-ulb's coordinator core (ulb/core.c): the same cases the
 * BPF_PROG_TEST_RUN tests check on the XDP data path (test/bpf/test_xdp_lb.c)
 * and the invariants of docs/lb-datapath.md, on crafted datagrams.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dalio/codec.h"
#include "ulb.h"

#define NREP 3

static struct ulb_shard *sh;
static struct ulb_clients *cl;
static const struct ulb_addr client_a = {.ip = 0x0200000a, .port = 0x1111};
static const struct ulb_addr client_b = {.ip = 0x0300000a, .port = 0x2222};
static struct ulb_addr reps[NREP];

static int setup(void **state)
{
	(void)state;
	sh = calloc(1, sizeof(*sh));
	cl = malloc(sizeof(*cl));
	if (!sh || !cl)
		return -1;
	for (int i = 0; i < NREP; i++)
		reps[i] = (struct ulb_addr){.ip = htonl(0x0a4d000b + (uint32_t)i),
					    .port = htons(7400)};
	ulb_shard_init(sh, 0, (struct ulb_addr){.ip = htonl(0x0a4d0064), .port = htons(7379)}, 5,
		       reps, NREP, 0x7, 0x7, 10);
	ulb_clients_init(cl, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(sh);
	free(cl);
	return 0;
}

/* A client REQUEST for `cmd key [val]`. Returns its length. */
static size_t request(uint8_t *buf, uint64_t cid, uint64_t rid, int write, const char *key,
		      const char *val)
{
	char body[256];
	struct dalio_msg m = {.type = DALIO_T_REQUEST,
			      .flags = (uint16_t)(write ? DALIO_F_WRITE : 0),
			      .shard = DALIO_SHARD_ANY,
			      .client_id = cid,
			      .request_id = rid};
	int n;

	if (write)
		n = snprintf(body, sizeof(body), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
			     strlen(key), key, strlen(val), val);
	else
		n = snprintf(body, sizeof(body), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key),
			     key);
	m.key = (const uint8_t *)key;
	m.key_len = (uint16_t)strlen(key);
	m.body = (const uint8_t *)body;
	m.body_len = (size_t)n;
	return (size_t)dalio_encode(&m, buf, DALIO_MAX_DATAGRAM, NULL);
}

/* A replica's ACK or READ_REPLY echoing hdr (as dalio-replica does). */
static size_t answer(uint8_t *buf, const uint8_t *fwd, uint8_t type, uint8_t status)
{
	struct dalio_hdr h;
	struct dalio_msg m;

	memcpy(&h, fwd, sizeof(h));
	h.key_len = 0; /* replicas echo the header without the key */
	assert_int_equal(dalio_decode(&h, sizeof(h), &m, NULL), 0);
	m.type = type;
	m.status = status;
	m.key = NULL;
	m.key_len = 0;
	m.body = (const uint8_t *)"+OK\r\n";
	m.body_len = 5;
	return (size_t)dalio_encode(&m, buf, DALIO_MAX_DATAGRAM, NULL);
}

static struct dalio_msg decoded(const uint8_t *buf, size_t len)
{
	struct dalio_msg m;

	assert_int_equal(dalio_decode(buf, len, &m, NULL), 0);
	return m;
}

static int same(struct ulb_addr a, struct ulb_addr b)
{
	return a.ip == b.ip && a.port == b.port;
}

/* Sends a write and returns its seq; out receives the copies. */
static uint64_t do_write(uint64_t cid, uint64_t rid, const char *key, uint8_t *buf, size_t *len)
{
	struct ulb_out out;

	*len = request(buf, cid, rid, 1, key, "v");
	ulb_handle(sh, cl, buf, *len, client_a, &out);
	assert_int_equal(out.n, NREP);
	assert_int_equal(decoded(buf, *len).type, DALIO_T_WRITE);
	return decoded(buf, *len).seq;
}

/* Acks seq from replica i; returns how many datagrams ulb sends. */
static unsigned do_ack(const uint8_t *write, int i, struct ulb_out *out, uint8_t *ack)
{
	size_t len = answer(ack, write, DALIO_T_ACK, DALIO_S_OK);

	ulb_handle(sh, cl, ack, len, reps[i], out);
	return out->n;
}

/* A write gets the next seq, copies go to every replica from the client's
 * origin, and only the ack that completes the set becomes the reply. */
static void test_write_fanout_and_completion(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM], a[DALIO_MAX_DATAGRAM];
	struct ulb_out out;
	struct dalio_msg m;
	size_t len;

	(void)state;
	len = request(w, 42, 1, 1, "k", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, NREP);
	for (int i = 0; i < NREP; i++)
		assert_true(same(out.to[i], reps[i]));
	m = decoded(w, len);
	assert_int_equal(m.type, DALIO_T_WRITE);
	assert_int_equal(m.seq, 11);
	assert_int_equal(m.epoch, 5);
	assert_int_equal(m.shard, 0);
	assert_int_equal(m.origin_ip, client_a.ip);
	assert_int_equal(m.origin_port, client_a.port);
	assert_int_equal(sh->in_flight, 1);

	assert_int_equal(do_ack(w, 0, &out, a), 0);
	assert_int_equal(do_ack(w, 0, &out, a), 0); /* duplicate */
	assert_int_equal(sh->stats[DALIO_STAT_ACKS_DUP], 1);
	assert_int_equal(do_ack(w, 2, &out, a), 0);
	assert_int_equal(sh->max_completed, 10);
	assert_int_equal(do_ack(w, 1, &out, a), 1);
	assert_true(same(out.to[0], client_a));
	assert_int_equal(((struct dalio_hdr *)a)->type, DALIO_T_REPLY);
	assert_int_equal(sh->max_completed, 11);
	assert_int_equal(sh->in_flight, 0);
	/* a late ack of the completed write is stale and dropped */
	assert_int_equal(do_ack(w, 1, &out, a), 0);
	assert_int_equal(sh->stats[DALIO_STAT_ACKS_STALE], 1);
	assert_int_equal(sh->stats[DALIO_STAT_REPLIES], 1);
}

/* Acks from a host that is not a configured replica (IP and port) never count. */
static void test_spoofed_ack_dropped(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM], a[DALIO_MAX_DATAGRAM];
	struct ulb_addr wrong_port = reps[0];
	struct ulb_out out;
	size_t len;

	(void)state;
	do_write(1, 1, "k", w, &len);
	wrong_port.port = htons(9999);
	len = answer(a, w, DALIO_T_ACK, 0);
	ulb_handle(sh, cl, a, len, wrong_port, &out);
	assert_int_equal(out.n, 0);
	len = answer(a, w, DALIO_T_ACK, 0);
	ulb_handle(sh, cl, a, len, client_b, &out);
	assert_int_equal(out.n, 0);
	len = answer(a, w, DALIO_T_READ_REPLY, 0);
	ulb_handle(sh, cl, a, len, client_b, &out);
	assert_int_equal(out.n, 0);
	assert_int_equal(sh->stats[DALIO_STAT_DROP_NOT_REPLICA], 3);
	assert_int_equal(sh->ring[11 & (DALIO_RING_SIZE - 1)].acked, 0);
}

/* Clean reads carry max_completed and rotate over the read set; dirty reads
 * carry the key's latest seq and prefer a replica that acked it. */
static void test_read_stamps(void **state)
{
	uint8_t r[DALIO_MAX_DATAGRAM], w[DALIO_MAX_DATAGRAM], a[DALIO_MAX_DATAGRAM];
	struct ulb_out out;
	struct dalio_msg m;
	size_t len, wlen;
	int seen = 0;

	(void)state;
	for (int i = 0; i < NREP; i++) {
		len = request(r, 7, 0, 0, "clean", NULL);
		ulb_handle(sh, cl, r, len, client_a, &out);
		assert_int_equal(out.n, 1);
		m = decoded(r, len);
		assert_int_equal(m.type, DALIO_T_READ);
		assert_int_equal(m.stamp, 10);
		assert_int_equal(m.origin_ip, client_a.ip);
		for (int j = 0; j < NREP; j++)
			if (same(out.to[0], reps[j]))
				seen |= 1 << j;
	}
	assert_int_equal(seen, 0x7);

	do_write(3, 1, "hot", w, &wlen);
	len = request(r, 7, 0, 0, "hot", NULL);
	ulb_handle(sh, cl, r, len, client_a, &out);
	assert_int_equal(decoded(r, len).stamp, 11);
	do_ack(w, 2, &out, a);
	for (int i = 0; i < 4; i++) {
		len = request(r, 7, 0, 0, "hot", NULL);
		ulb_handle(sh, cl, r, len, client_a, &out);
		assert_int_equal(out.n, 1);
		assert_true(same(out.to[0], reps[2]));
		assert_int_equal(decoded(r, len).stamp, 11);
	}
	/* a replica's READ_REPLY goes to the origin client */
	len = answer(a, r, DALIO_T_READ_REPLY, DALIO_S_OK);
	ulb_handle(sh, cl, a, len, reps[2], &out);
	assert_int_equal(out.n, 1);
	assert_true(same(out.to[0], client_a));
	assert_int_equal(decoded(a, len).type, DALIO_T_REPLY);
}

/* No false negatives: with every key hashed into few buckets (colliding),
 * a read of any key with a pending write is stamped at or above it. */
static void test_dirty_no_false_negatives(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM], r[DALIO_MAX_DATAGRAM], a[DALIO_MAX_DATAGRAM];
	uint8_t copies[64][DALIO_MAX_DATAGRAM];
	uint64_t latest[64] = {0};
	int pending[64] = {0}, keyof[64];
	struct ulb_out out;
	char key[16];
	size_t len;
	unsigned rng = 1;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		int k = (int)((rng = rng * 1103515245 + 12345) >> 16) % 64;
		int slot = round % 64;

		if (round >= 64) { /* complete the write sequenced 64 rounds ago */
			for (int i = 0; i < NREP; i++)
				do_ack(copies[slot], i, &out, a);
			pending[keyof[slot]]--;
		}
		snprintf(key, sizeof(key), "k%d", k);
		len = request(w, 100 + (uint64_t)slot, (uint64_t)round + 1, 1, key, "v");
		ulb_handle(sh, cl, w, len, client_a, &out);
		assert_int_equal(out.n, NREP);
		memcpy(copies[slot], w, len);
		latest[k] = decoded(w, len).seq;
		pending[k]++;
		keyof[slot] = k;
		for (int q = 0; q < 64; q++) {
			snprintf(key, sizeof(key), "k%d", q);
			len = request(r, 9, 0, 0, key, NULL);
			ulb_handle(sh, cl, r, len, client_b, &out);
			/* dirty: the key's latest seq; clean: max_completed covers it */
			assert_true(decoded(r, len).stamp >= latest[q]);
			if (pending[q])
				assert_int_equal(decoded(r, len).type, DALIO_T_READ);
		}
	}
}

/* A taken ring slot refuses the write BUSY without moving next_seq (no hole). */
static void test_ring_full_busy_no_hole(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM];
	struct ulb_out out;
	size_t len;

	(void)state;
	for (int i = 0; i < DALIO_RING_SIZE; i++) {
		len = request(w, 1000 + (uint64_t)i, 1, 1, "x", "v");
		ulb_handle(sh, cl, w, len, client_a, &out);
		assert_int_equal(out.n, NREP);
	}
	len = request(w, 99999, 1, 1, "x", "v");
	ulb_handle(sh, cl, w, len, client_b, &out);
	assert_int_equal(out.n, 1);
	assert_true(same(out.to[0], client_b));
	assert_int_equal(decoded(w, len).type, DALIO_T_REPLY);
	assert_int_equal(decoded(w, len).status, DALIO_S_BUSY);
	assert_int_equal(sh->next_seq, 11 + DALIO_RING_SIZE);
}

/* Retries: pending -> re-sent with the original seq to unacked replicas only;
 * other content -> BAD_REQUEST; completed -> REPLAY; older id -> dropped. */
static void test_exactly_once_retries(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM], a[DALIO_MAX_DATAGRAM], orig[DALIO_MAX_DATAGRAM];
	struct ulb_out out;
	struct dalio_msg m;
	size_t len;
	uint64_t seq;

	(void)state;
	seq = do_write(77, 5, "e", w, &len);
	memcpy(orig, w, len);
	do_ack(orig, 1, &out, a);

	len = request(w, 77, 5, 1, "e", "v");
	w[7] |= DALIO_F_RETRY; /* flags, low byte in network order */
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, 2);
	assert_true(same(out.to[0], reps[0]) && same(out.to[1], reps[2]));
	m = decoded(w, len);
	assert_int_equal(m.type, DALIO_T_WRITE);
	assert_int_equal(m.seq, seq);
	assert_int_equal(sh->next_seq, seq + 1);

	len = request(w, 77, 5, 1, "e", "other");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(decoded(w, len).status, DALIO_S_BAD_REQUEST);

	do_ack(orig, 0, &out, a);
	assert_int_equal(do_ack(orig, 2, &out, a), 1);
	len = request(w, 77, 5, 1, "e", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, 1);
	m = decoded(w, len);
	assert_int_equal(m.type, DALIO_T_REPLAY);
	assert_int_equal(m.seq, seq);
	assert_int_equal(m.stamp, seq);

	len = request(w, 77, 4, 1, "e", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, 0);
	assert_int_equal(sh->stats[DALIO_STAT_RETRY_STALE], 1);

	len = request(w, 77, 6, 1, "e", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).seq, seq + 1);
}

/* Bad input gets the status the XDP program gives, or is dropped. */
static void test_statuses(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM];
	struct ulb_out out;
	size_t len;

	(void)state;
	len = request(w, 1, 1, 1, "k", "v");
	w[8] = 0, w[9] = 3; /* shard 3 */
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).status, DALIO_S_UNKNOWN_SHARD);

	len = request(w, 1, 1, 1, "k", "v");
	w[10] = 0x01, w[11] = 0x01; /* key_len 257 */
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(((struct dalio_hdr *)w)->status, DALIO_S_BAD_REQUEST);

	len = request(w, 1, 0, 1, "k", "v"); /* request id 0 */
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).status, DALIO_S_BAD_REQUEST);

	len = request(w, 1, 1, 1, "k", "v");
	w[0] ^= 0xff; /* not Dalio */
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(out.n, 0);
	ulb_handle(sh, cl, w, 10, client_a, &out); /* truncated */
	assert_int_equal(out.n, 0);

	sh->write_mask = 0;
	sh->read_mask = 0;
	len = request(w, 1, 1, 1, "k", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).status, DALIO_S_NO_REPLICA);
	len = request(w, 1, 0, 0, "k", NULL);
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).status, DALIO_S_NO_REPLICA);
	assert_int_equal(sh->next_seq, 11);
}

/* The client table evicts the least recently used client when full. */
static void test_client_table_lru(void **state)
{
	uint8_t w[DALIO_MAX_DATAGRAM];
	struct ulb_out out;
	size_t len;

	(void)state;
	ulb_clients_init(cl, 2);
	for (uint64_t c = 1; c <= 2; c++) {
		len = request(w, c, 1, 1, "k", "v");
		ulb_handle(sh, cl, w, len, client_a, &out);
	}
	/* client 1 is touched again (a new write), so client 2 is the LRU one */
	len = request(w, 1, 2, 1, "k", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	len = request(w, 3, 1, 1, "k", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(sh->next_seq, 15);
	/* client 1's retry of request 2 is still recognised (not sequenced again) */
	len = request(w, 1, 2, 1, "k", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).seq, 13);
	assert_int_equal(sh->next_seq, 15);
	/* client 2 was evicted: its retry would be sequenced again */
	len = request(w, 2, 1, 1, "k", "v");
	ulb_handle(sh, cl, w, len, client_a, &out);
	assert_int_equal(decoded(w, len).seq, 15);
}

/* The retry digest ignores the flags and sees every other byte. */
static void test_digest(void **state)
{
	uint8_t a[DALIO_MAX_DATAGRAM], b[DALIO_MAX_DATAGRAM];
	size_t la = request(a, 1, 1, 1, "key", "value"), lb;

	(void)state;
	memcpy(b, a, la);
	b[7] |= DALIO_F_RETRY;
	assert_true(ulb_request_digest(a, la) == ulb_request_digest(b, la));
	lb = request(b, 1, 1, 1, "key", "valuf");
	assert_true(ulb_request_digest(a, la) != ulb_request_digest(b, lb));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_fanout_and_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofed_ack_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_stamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_no_false_negatives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_full_busy_no_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exactly_once_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_table_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
