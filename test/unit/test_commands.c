/* SPDX-License-Identifier: MIT */
/* Unit tests of the command table (common/commands.c): kinds, refusals, arity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dalio/commands.h"

#define MAX_ARGS 8

/* Classifies a NULL-terminated list of words; *why gets the refusal reason. */
static enum dalio_cmd_kind classify(const char **why, const char *first, ...)
{
	const char *argv[MAX_ARGS];
	size_t lens[MAX_ARGS];
	int argc = 0;
	va_list ap;

	va_start(ap, first);
	for (const char *w = first; w && argc < MAX_ARGS; w = va_arg(ap, const char *)) {
		argv[argc] = w;
		lens[argc] = strlen(w);
		argc++;
	}
	va_end(ap);
	*why = NULL;
	return dalio_classify(argc, argv, lens, why);
}

#define REFUSED(needle, ...)                                                                       \
	do {                                                                                       \
		const char *why_;                                                                  \
		assert_int_equal(classify(&why_, __VA_ARGS__, NULL), DALIO_CMD_REFUSED);           \
		assert_non_null(why_);                                                             \
		if (!strstr(why_, needle))                                                         \
			fail_msg("reason '%s' lacks '%s'", why_, needle);                          \
	} while (0)

#define KIND(kind, ...)                                                                            \
	do {                                                                                       \
		const char *why_;                                                                  \
		enum dalio_cmd_kind k_ = classify(&why_, __VA_ARGS__, NULL);                       \
		if (k_ != (kind))                                                                  \
			fail_msg("kind %d, want %d (why: %s)", k_, (kind), why_ ? why_ : "-");     \
	} while (0)

static void test_basic_kinds(void **state)
{
	(void)state;
	KIND(DALIO_CMD_WRITE, "SET", "k", "v");
	KIND(DALIO_CMD_READ, "GET", "k");
	KIND(DALIO_CMD_WRITE, "INCR", "counter");
	KIND(DALIO_CMD_WRITE, "DEL", "k");
	KIND(DALIO_CMD_WRITE, "HSET", "h", "f", "v", "f2", "v2");
	KIND(DALIO_CMD_READ, "HGETALL", "h");
	KIND(DALIO_CMD_READ, "LRANGE", "l", "0", "-1");
	KIND(DALIO_CMD_WRITE, "LPUSH", "l", "a", "b");
	KIND(DALIO_CMD_WRITE, "ZADD", "z", "1", "m");
}

static void test_set_options(void **state)
{
	(void)state;
	KIND(DALIO_CMD_WRITE, "SET", "k", "v", "NX");
	KIND(DALIO_CMD_WRITE, "SET", "k", "v", "xx", "get");
	KIND(DALIO_CMD_WRITE, "SET", "k", "v", "KEEPTTL");
	REFUSED("expiry", "SET", "k", "v", "EX", "10");
	REFUSED("expiry", "SET", "k", "v", "PX", "100");
	REFUSED("expiry", "SET", "k", "v", "EXAT", "1700000000");
	REFUSED("expiry", "SET", "k", "v", "BOGUS");
}

static void test_multikey(void **state)
{
	(void)state;
	REFUSED("several keys", "MGET", "a", "b");
	REFUSED("several keys", "MSET", "a", "1", "b", "2");
	REFUSED("several keys", "RENAME", "a", "b");
	REFUSED("one key", "DEL", "a", "b");
	REFUSED("one key", "EXISTS", "a", "b");
	REFUSED("one key", "UNLINK", "a", "b");
}

static void test_nondeterministic(void **state)
{
	(void)state;
	REFUSED("not deterministic", "SPOP", "s");
	REFUSED("not deterministic", "SRANDMEMBER", "s");
	REFUSED("not deterministic", "EXPIRE", "k", "10");
	REFUSED("not deterministic", "SETEX", "k", "10", "v");
	REFUSED("not deterministic", "EVAL", "return 1", "0");
}

static void test_unknown(void **state)
{
	(void)state;
	REFUSED("not supported", "FOO", "k");
	REFUSED("not supported", "GETX", "k");
	REFUSED("not supported", "GE", "k"); /* a prefix of GET is not GET */
	REFUSED("not supported", "SUBSCRIBE", "ch");
}

static void test_reserved_prefix(void **state)
{
	(void)state;
	REFUSED("reserved", "SET", "__dalio:applied", "5");
	REFUSED("reserved", "GET", "__dalio:epoch");
	REFUSED("reserved", "DEL", "__dalio:");
	KIND(DALIO_CMD_READ, "GET", "__dalio"); /* no colon: an ordinary key */
	KIND(DALIO_CMD_READ, "GET", "x__dalio:applied");
}

static void test_case_insensitive(void **state)
{
	(void)state;
	KIND(DALIO_CMD_WRITE, "set", "k", "v");
	KIND(DALIO_CMD_WRITE, "SeT", "k", "v", "nx");
	KIND(DALIO_CMD_READ, "get", "k");
	KIND(DALIO_CMD_WRITE, "incrBY", "k", "5");
	REFUSED("not deterministic", "spop", "s");
	REFUSED("several keys", "mget", "a", "b");
}

static void test_arity(void **state)
{
	(void)state;
	REFUSED("wrong number", "GET");
	REFUSED("wrong number", "SET", "k");
	REFUSED("wrong number", "SET", "k", "v", "NX", "GET", "XX");
	REFUSED("wrong number", "INCRBY", "k");
	REFUSED("wrong number", "HSET", "h", "f");
	REFUSED("wrong number", "LRANGE", "l", "0");
}

static void test_empty(void **state)
{
	const char *why = NULL;
	const char *argv[1] = {""};
	size_t lens[1] = {0};

	(void)state;
	assert_int_equal(dalio_classify(0, argv, lens, &why), DALIO_CMD_REFUSED);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(dalio_classify(1, argv, lens, &why), DALIO_CMD_REFUSED);
	assert_non_null(why);
	/* why may be NULL */
	assert_int_equal(dalio_classify(1, argv, lens, NULL), DALIO_CMD_REFUSED);
}

/* Lengths, not NUL terminators, delimit the words. */
static void test_lengths_respected(void **state)
{
	const char *argv[2] = {"GETXYZ", "key"};
	size_t lens[2] = {3, 3};
	const char *why = NULL;

	(void)state;
	assert_int_equal(dalio_classify(2, argv, lens, &why), DALIO_CMD_READ);
	lens[0] = 6;
	assert_int_equal(dalio_classify(2, argv, lens, &why), DALIO_CMD_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_kinds),
		cmocka_unit_test(test_set_options),
		cmocka_unit_test(test_multikey),
		cmocka_unit_test(test_nondeterministic),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_reserved_prefix),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_arity),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_lengths_respected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
