/* SPDX-License-Identifier: MIT */
/* Unit tests of the datagram codec (common/codec.c): layout, round trip, rejects. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dalio/codec.h"

static struct dalio_msg sample(void)
{
	static const uint8_t key[] = "user:42";
	static const uint8_t body[] = "*2\r\n$3\r\nGET\r\n$7\r\nuser:42\r\n";
	struct dalio_msg m = {
		.type = DALIO_T_READ,
		.status = DALIO_S_NOT_READY,
		.replica = 0xab,
		.flags = DALIO_F_WRITE | DALIO_F_RETRY,
		.shard = 0x1234,
		.epoch = 0x01020304,
		.client_id = 0x1122334455667788ULL,
		.request_id = 0x99aabbccddeeff00ULL,
		.seq = 0x0102030405060708ULL,
		.stamp = 0x1112131415161718ULL,
		.origin_ip = htobe32(0x0a00000a), /* 10.0.0.10, network order */
		.origin_port = htobe16(1234),
		.origin_mac = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02},
		.key = key,
		.key_len = sizeof(key) - 1,
		.body = body,
		.body_len = sizeof(body) - 1,
	};
	return m;
}

/* Every header byte of sample() as it must appear on the wire. */
static void test_known_layout(void **state)
{
	static const uint8_t want[64] = {
		0x44, 0x4c, 0x49, 0x4f,				/* magic "DLIO" */
		0x01,						/* version */
		0x05,						/* type READ */
		0x00, 0x03,					/* flags WRITE|RETRY */
		0x12, 0x34,					/* shard */
		0x00, 0x07,					/* key_len */
		0x01, 0x02, 0x03, 0x04,				/* epoch */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* client_id */
		0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, /* request_id */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* seq */
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* stamp */
		0x0a, 0x00, 0x00, 0x0a,				/* origin_ip 10.0.0.10 */
		0x04, 0xd2,					/* origin_port 1234 */
		0x02, 0x42, 0xac, 0x11, 0x00, 0x02,		/* origin_mac */
		0xab,						/* replica */
		0x05,						/* status NOT_READY */
		0x00, 0x00,					/* reserved */
	};
	struct dalio_msg m = sample();
	uint8_t buf[DALIO_MAX_DATAGRAM];
	long n;

	(void)state;
	n = dalio_encode(&m, buf, sizeof(buf), NULL);
	assert_int_equal(n, 64 + m.key_len + m.body_len);
	assert_memory_equal(buf, want, 64);
	assert_memory_equal(buf + 64, "user:42", 7);
	assert_memory_equal(buf + 71, m.body, m.body_len);
}

static void test_round_trip(void **state)
{
	struct dalio_msg in = sample(), out;
	uint8_t buf[DALIO_MAX_DATAGRAM];
	const char *err = NULL;
	long n;

	(void)state;
	n = dalio_encode(&in, buf, sizeof(buf), &err);
	assert_true(n > 0);
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), 0);
	assert_int_equal(out.type, in.type);
	assert_int_equal(out.status, in.status);
	assert_int_equal(out.replica, in.replica);
	assert_int_equal(out.flags, in.flags);
	assert_int_equal(out.shard, in.shard);
	assert_int_equal(out.epoch, in.epoch);
	assert_true(out.client_id == in.client_id);
	assert_true(out.request_id == in.request_id);
	assert_true(out.seq == in.seq);
	assert_true(out.stamp == in.stamp);
	assert_int_equal(out.origin_ip, in.origin_ip);
	assert_int_equal(out.origin_port, in.origin_port);
	assert_memory_equal(out.origin_mac, in.origin_mac, 6);
	assert_int_equal(out.key_len, in.key_len);
	assert_ptr_equal(out.key, buf + 64);
	assert_memory_equal(out.key, in.key, in.key_len);
	assert_int_equal(out.body_len, in.body_len);
	assert_memory_equal(out.body, in.body, in.body_len);
}

static void test_round_trip_empty(void **state)
{
	struct dalio_msg in = {.type = DALIO_T_PING, .epoch = 7}, out;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(dalio_encode(&in, buf, sizeof(buf), NULL), 64);
	assert_int_equal(dalio_decode(buf, 64, &out, NULL), 0);
	assert_int_equal(out.type, DALIO_T_PING);
	assert_int_equal(out.epoch, 7);
	assert_int_equal(out.key_len, 0);
	assert_int_equal(out.body_len, 0);
}

static long encode_sample(uint8_t *buf, size_t cap)
{
	struct dalio_msg m = sample();

	return dalio_encode(&m, buf, cap, NULL);
}

static void test_truncated(void **state)
{
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct dalio_msg out;
	const char *err = NULL;

	(void)state;
	assert_true(encode_sample(buf, sizeof(buf)) > 0);
	for (size_t len = 0; len < 64; len++) {
		err = NULL;
		assert_int_equal(dalio_decode(buf, len, &out, &err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err, "shorter"));
	}
	/* header complete but key cut short */
	err = NULL;
	assert_int_equal(dalio_decode(buf, 64 + 6, &out, &err), -1);
	assert_non_null(strstr(err, "key length"));
	/* header + whole key, no body: fine */
	assert_int_equal(dalio_decode(buf, 64 + 7, &out, &err), 0);
	assert_int_equal(out.body_len, 0);
}

static void test_bad_magic(void **state)
{
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct dalio_msg out;
	const char *err = NULL;
	long n;

	(void)state;
	n = encode_sample(buf, sizeof(buf));
	buf[3] ^= 0x20; /* "DLIo" */
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
	assert_non_null(strstr(err, "magic"));
}

static void test_bad_version(void **state)
{
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct dalio_msg out;
	const char *err = NULL;
	long n;

	(void)state;
	n = encode_sample(buf, sizeof(buf));
	buf[4] = 2;
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
	assert_non_null(strstr(err, "version"));
	buf[4] = 0;
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
}

static void test_unknown_type(void **state)
{
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct dalio_msg out;
	const char *err = NULL;
	long n;

	(void)state;
	n = encode_sample(buf, sizeof(buf));
	buf[5] = 0;
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
	assert_non_null(strstr(err, "type"));
	buf[5] = DALIO_T_MAX;
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
	buf[5] = 0xff;
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
	for (unsigned t = 1; t < DALIO_T_MAX; t++) {
		buf[5] = (uint8_t)t;
		assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), 0);
		assert_int_equal(out.type, t);
	}
}

static void test_key_len_past_end(void **state)
{
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct dalio_msg out;
	const char *err = NULL;
	long n;

	(void)state;
	n = encode_sample(buf, sizeof(buf));
	/* key_len = 1000: beyond this datagram */
	buf[10] = 0x03;
	buf[11] = 0xe8;
	assert_int_equal(dalio_decode(buf, (size_t)n, &out, &err), -1);
	assert_non_null(err);
	/* key_len = 300 with enough bytes present: still refused (> 256) */
	memset(buf + 64, 'k', 400);
	buf[10] = 0x01;
	buf[11] = 0x2c;
	assert_int_equal(dalio_decode(buf, 64 + 400, &out, NULL), -1);
	/* key_len = 256 with the bytes present: fine */
	buf[10] = 0x01;
	buf[11] = 0x00;
	assert_int_equal(dalio_decode(buf, 64 + 400, &out, NULL), 0);
	assert_int_equal(out.key_len, 256);
	assert_int_equal(out.body_len, 400 - 256);
}

static void test_encode_key_too_long(void **state)
{
	static uint8_t key[DALIO_MAX_KEY + 1];
	struct dalio_msg m = {.type = DALIO_T_REQUEST, .key = key};
	uint8_t buf[DALIO_MAX_DATAGRAM];
	const char *err = NULL;

	(void)state;
	memset(key, 'k', sizeof(key));
	m.key_len = DALIO_MAX_KEY + 1;
	assert_int_equal(dalio_encode(&m, buf, sizeof(buf), &err), -1);
	assert_non_null(strstr(err, "256"));
	m.key_len = DALIO_MAX_KEY;
	assert_int_equal(dalio_encode(&m, buf, sizeof(buf), &err), 64 + DALIO_MAX_KEY);
}

static void test_encode_oversize(void **state)
{
	static uint8_t body[DALIO_MAX_DATAGRAM];
	struct dalio_msg m = {.type = DALIO_T_REQUEST, .key = (const uint8_t *)"k", .key_len = 1};
	static uint8_t buf[2 * DALIO_MAX_DATAGRAM];
	const char *err = NULL;

	(void)state;
	m.body = body;
	m.body_len = DALIO_MAX_DATAGRAM - 64 - 1; /* exactly 1472 */
	assert_int_equal(dalio_encode(&m, buf, sizeof(buf), &err), DALIO_MAX_DATAGRAM);
	m.body_len++; /* 1473: refused even though buf has room */
	assert_int_equal(dalio_encode(&m, buf, sizeof(buf), &err), -1);
	assert_non_null(strstr(err, "1472"));
	/* a cap smaller than the datagram is refused too */
	m.body_len = 10;
	assert_int_equal(dalio_encode(&m, buf, 64 + 1 + 9, &err), -1);
	assert_int_equal(dalio_encode(&m, buf, 64 + 1 + 10, &err), 64 + 1 + 10);
}

/* FNV-1a 64 of the reference vectors, masked to the bucket count. */
static void test_key_bucket(void **state)
{
	(void)state;
	assert_int_equal(dalio_key_bucket("", 0, 1u << 31), 0xcbf29ce484222325ULL & 0x7fffffff);
	assert_int_equal(dalio_key_bucket("a", 1, 1u << 31), 0xaf63dc4c8601ec8cULL & 0x7fffffff);
	assert_int_equal(dalio_key_bucket("foobar", 6, 1u << 31),
			 0x85944171f73967e8ULL & 0x7fffffff);
	assert_int_equal(dalio_key_bucket("foobar", 6, 1024), 0x85944171f73967e8ULL & 1023);
	assert_int_equal(dalio_key_bucket("a", 1, 1), 0);
	/* stable across calls and only depends on the bytes */
	assert_int_equal(dalio_key_bucket("key:17", 6, 4096), dalio_key_bucket("key:17", 6, 4096));
	for (uint32_t nb = 1; nb <= 65536; nb *= 2)
		assert_true(dalio_key_bucket("key:17", 6, nb) < nb);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(dalio_type_name(DALIO_T_REQUEST), "REQUEST");
	assert_string_equal(dalio_type_name(DALIO_T_PONG), "PONG");
	assert_string_equal(dalio_type_name(0), "UNKNOWN");
	assert_string_equal(dalio_type_name(200), "UNKNOWN");
	assert_string_equal(dalio_status_name(DALIO_S_OK), "OK");
	assert_non_null(strstr(dalio_status_name(DALIO_S_NOT_READY), "NOT_READY"));
	assert_non_null(strstr(dalio_status_name(DALIO_S_BAD_REQUEST), "BAD_REQUEST"));
	assert_string_equal(dalio_status_name(DALIO_S_MAX), "UNKNOWN_STATUS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_layout),	    cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_empty),    cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_magic),	    cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_unknown_type),	    cmocka_unit_test(test_key_len_past_end),
		cmocka_unit_test(test_encode_key_too_long), cmocka_unit_test(test_encode_oversize),
		cmocka_unit_test(test_key_bucket),	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
