/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of replica/resp.c: the RESP2 encoder round-trips redisReply
 * trees through hiredis's own redisReader (nested arrays, nil, errors,
 * integers, binary strings), refuses what does not fit, and the request
 * parser accepts exactly one array of bulk strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

/* Parses RESP with hiredis; the test owns the reply. */
static redisReply *parse_reply(const char *buf, size_t len)
{
	redisReader *r = redisReaderCreate();
	void *out = NULL;

	assert_non_null(r);
	assert_int_equal(redisReaderFeed(r, buf, len), REDIS_OK);
	assert_int_equal(redisReaderGetReply(r, &out), REDIS_OK);
	assert_non_null(out);
	assert_int_equal(r->len - r->pos, 0); /* consumed exactly */
	redisReaderFree(r);
	return out;
}

static void assert_same(const redisReply *a, const redisReply *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case REDIS_REPLY_INTEGER:
		assert_true(a->integer == b->integer);
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		assert_int_equal(a->len, b->len);
		assert_memory_equal(a->str, b->str, a->len);
		break;
	case REDIS_REPLY_ARRAY:
		assert_int_equal(a->elements, b->elements);
		for (size_t i = 0; i < a->elements; i++)
			assert_same(a->element[i], b->element[i]);
		break;
	}
}

/* RESP -> redisReply -> our encoder -> same bytes -> same tree. */
static void round_trip(const char *resp, size_t len)
{
	char buf[2048];
	redisReply *a = parse_reply(resp, len), *b;
	long n = rp_resp_encode(a, buf, sizeof(buf));

	assert_int_equal(n, (long)len);
	assert_memory_equal(buf, resp, len);
	b = parse_reply(buf, (size_t)n);
	assert_same(a, b);
	freeReplyObject(a);
	freeReplyObject(b);
}

#define RT(lit) round_trip(lit, sizeof(lit) - 1)

static void test_scalars(void **state)
{
	(void)state;
	RT("+OK\r\n");
	RT("+QUEUED\r\n");
	RT("-ERR value is not an integer or out of range\r\n");
	RT("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	RT(":0\r\n");
	RT(":-42\r\n");
	RT(":9223372036854775807\r\n");
	RT(":-9223372036854775808\r\n");
	RT("$-1\r\n");
	RT("$0\r\n\r\n");
	RT("$5\r\nhello\r\n");
	RT("$4\r\na\r\nb\r\n");	      /* CRLF inside a bulk string */
	RT("$3\r\n\x00\xff\x01\r\n"); /* binary */
}

static void test_arrays(void **state)
{
	(void)state;
	RT("*0\r\n");
	RT("*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
	RT("*3\r\n$1\r\na\r\n$-1\r\n:7\r\n");
	RT("*2\r\n*2\r\n:1\r\n-ERR inner\r\n*1\r\n*1\r\n+deep\r\n");
	/* A MULTI/EXEC result: the command's reply and SET's OK. */
	RT("*2\r\n:1\r\n+OK\r\n");
	RT("*3\r\n*0\r\n$-1\r\n*2\r\n$2\r\nab\r\n$0\r\n\r\n");
}

static void test_nil_array_becomes_nil(void **state)
{
	char buf[16];
	redisReply *r = parse_reply("*-1\r\n", 5);

	(void)state;
	/* hiredis turns a nil array into NIL; RESP2 clients read both as nil. */
	assert_int_equal(rp_resp_encode(r, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "$-1\r\n", 5);
	freeReplyObject(r);
}

static void test_does_not_fit(void **state)
{
	static const char big[] = "*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n";
	redisReply *r = parse_reply(big, sizeof(big) - 1);
	char buf[64];

	(void)state;
	for (size_t cap = 0; cap < sizeof(big) - 1; cap++)
		assert_int_equal(rp_resp_encode(r, buf, cap), -1);
	assert_int_equal(rp_resp_encode(r, buf, sizeof(big) - 1), (long)sizeof(big) - 1);
	freeReplyObject(r);
}

static void test_status_with_newline_refused(void **state)
{
	redisReply r = {.type = REDIS_REPLY_STATUS, .str = "a\r\nb", .len = 4};
	redisReply odd = {.type = 99};
	char buf[64];

	(void)state;
	assert_int_equal(rp_resp_encode(&r, buf, sizeof(buf)), -1);
	assert_int_equal(rp_resp_encode(&odd, buf, sizeof(buf)), -1);
}

static void test_error_format(void **state)
{
	char buf[256];
	size_t n;
	char why[300];

	(void)state;
	n = rp_resp_error(buf, sizeof(buf), "spop", 4, "is not deterministic across replicas");
	assert_int_equal(n, strlen("-ERR dalio: 'SPOP' is not deterministic across replicas\r\n"));
	assert_memory_equal(buf, "-ERR dalio: 'SPOP' is not deterministic across replicas\r\n", n);
	n = rp_resp_error(buf, sizeof(buf), "a\r\nb", 4, "x");
	assert_memory_equal(buf, "-ERR dalio: 'A??B' x\r\n", n);
	n = rp_resp_error(buf, sizeof(buf), NULL, 0, "malformed");
	assert_memory_equal(buf, "-ERR dalio: malformed\r\n", n);
	/* Long reasons are cut; the result is still one RESP error line. */
	memset(why, 'w', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	n = rp_resp_error(buf, 64, "GET", 3, why);
	assert_int_equal(n, 64);
	assert_memory_equal(buf + 62, "\r\n", 2);
	redisReply *r = parse_reply(buf, n);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
}

static void test_cmd_parse(void **state)
{
	static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\0w\r\n";
	redisReader *rdr = NULL;
	struct rp_cmd cmd;
	const char *why = NULL;

	(void)state;
	for (int round = 0; round < 3; round++) { /* the reader is reused */
		assert_int_equal(rp_cmd_parse(&rdr, set, sizeof(set) - 1, &cmd, &why), 0);
		assert_int_equal(cmd.argc, 3);
		assert_int_equal(cmd.argvlen[0], 3);
		assert_memory_equal(cmd.argv[0], "SET", 3);
		assert_memory_equal(cmd.argv[1], "k", 1);
		assert_int_equal(cmd.argvlen[2], 3);
		assert_memory_equal(cmd.argv[2], "v\0w", 3);
		rp_cmd_free(&cmd);
	}
	redisReaderFree(rdr);
}

static void test_cmd_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"+OK\r\n",
		"*0\r\n",
		"*1\r\n:1\r\n",				  /* not a bulk string */
		"*1\r\n*1\r\n$1\r\na\r\n",		  /* nested array */
		"*2\r\n$3\r\nGET\r\n",			  /* incomplete */
		"*1\r\n$3\r\nGET\r\n*1\r\n$3\r\nGET\r\n", /* two commands */
		"*1\r\n$3\r\nGET\r\nx",			  /* trailing byte */
		"*1\r\n$-1\r\n",			  /* nil element */
		"*999999999\r\n$1\r\na\r\n",		  /* absurd count */
		"*-1\r\n",
		"*x\r\n",
		"*1\r\n$5\r\nab\r\n", /* bulk shorter than its length */
	};
	static const char good[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	redisReader *rdr = NULL;
	struct rp_cmd cmd;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(rp_cmd_parse(&rdr, bad[i], strlen(bad[i]), &cmd, &why), -1);
		assert_non_null(why);
		/* The reader still works after any failure. */
		assert_int_equal(rp_cmd_parse(&rdr, good, sizeof(good) - 1, &cmd, &why), 0);
		assert_int_equal(cmd.argc, 2);
		rp_cmd_free(&cmd);
	}
	redisReaderFree(rdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_nil_array_becomes_nil),
		cmocka_unit_test(test_does_not_fit),
		cmocka_unit_test(test_status_with_newline_refused),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_cmd_parse),
		cmocka_unit_test(test_cmd_parse_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
