/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of libdalio (client/dalio.c) against an in-process fake VIP: a
 * UDP socket on 127.0.0.1 served by a thread that follows a per-test script
 * (drop, answer OK, answer a status, send stray replies first) and records
 * every request it receives.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dalio.h"
#include "dalio/codec.h"

#define MAX_REQ	       32
#define FAKE_POLL_MS   10
#define FAKE_MAX_POLLS 3000 /* the fake VIP thread lives 30 s at most */

enum act {
	A_DROP,		  /* record, do not answer */
	A_OK,		  /* REPLY status OK with body */
	A_STATUS,	  /* REPLY with status, empty body */
	A_STRAYS_THEN_OK, /* replies for other requests/clients first, then OK with body */
};

struct action {
	enum act act;
	uint8_t status;
	const char *body;
};

struct fake {
	int fd;
	uint16_t port;
	int running;
	pthread_t th;
	const struct action *script;
	int nscript;
	atomic_int stop;
	int nreq; /* read after fake_stop() only */
	uint8_t req[MAX_REQ][DALIO_MAX_DATAGRAM];
	size_t reqlen[MAX_REQ];
};

static struct fake fake;

static void reply_to(const struct sockaddr_in *to, uint64_t client_id, uint64_t request_id,
		     uint8_t type, uint8_t status, const char *body)
{
	struct dalio_msg m = {
		.type = type,
		.status = status,
		.client_id = client_id,
		.request_id = request_id,
		.body = (const uint8_t *)body,
		.body_len = body ? strlen(body) : 0,
	};
	uint8_t buf[DALIO_MAX_DATAGRAM];
	long n = dalio_encode(&m, buf, sizeof(buf), NULL);

	if (n > 0)
		sendto(fake.fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void *fake_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < FAKE_MAX_POLLS && !atomic_load(&fake.stop); i++) {
		struct pollfd pfd = {.fd = fake.fd, .events = POLLIN};
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		uint8_t buf[2048];
		struct dalio_msg m;
		const struct action *a;
		ssize_t len;
		int idx;

		if (poll(&pfd, 1, FAKE_POLL_MS) <= 0)
			continue;
		len = recvfrom(fake.fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
		if (len <= 0 || fake.nreq >= MAX_REQ)
			continue;
		idx = fake.nreq++;
		memcpy(fake.req[idx], buf, (size_t)len);
		fake.reqlen[idx] = (size_t)len;
		if (dalio_decode(buf, (size_t)len, &m, NULL) < 0)
			continue;
		a = idx < fake.nscript ? &fake.script[idx] : &(struct action){A_DROP, 0, NULL};
		switch (a->act) {
		case A_DROP:
			break;
		case A_OK:
			reply_to(&from, m.client_id, m.request_id, DALIO_T_REPLY, DALIO_S_OK,
				 a->body);
			break;
		case A_STATUS:
			reply_to(&from, m.client_id, m.request_id, DALIO_T_REPLY, a->status, NULL);
			break;
		case A_STRAYS_THEN_OK:
			/* a late reply of an earlier request */
			reply_to(&from, m.client_id, m.request_id - 1, DALIO_T_REPLY, DALIO_S_OK,
				 "$5\r\nstale\r\n");
			/* a reply meant for another client */
			reply_to(&from, m.client_id ^ 1, m.request_id, DALIO_T_REPLY, DALIO_S_OK,
				 "$5\r\nalien\r\n");
			/* right ids, wrong message type */
			reply_to(&from, m.client_id, m.request_id, DALIO_T_ACK, DALIO_S_OK,
				 "$5\r\nnotme\r\n");
			/* not a Dalio datagram at all */
			sendto(fake.fd, "hello", 5, 0, (struct sockaddr *)&from, sizeof(from));
			reply_to(&from, m.client_id, m.request_id, DALIO_T_REPLY, DALIO_S_OK,
				 a->body);
			break;
		}
	}
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t salen = sizeof(sa);

	(void)state;
	memset(&fake, 0, sizeof(fake));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fake.fd < 0 || bind(fake.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fake.fd, (struct sockaddr *)&sa, &salen) < 0)
		return -1;
	fake.port = ntohs(sa.sin_port);
	return 0;
}

static void fake_run(const struct action *script, int n)
{
	fake.script = script;
	fake.nscript = n;
	assert_int_equal(pthread_create(&fake.th, NULL, fake_main, NULL), 0);
	fake.running = 1;
}

/* Stops the fake VIP so that its recorded requests can be read. */
static void fake_stop(void)
{
	if (!fake.running)
		return;
	atomic_store(&fake.stop, 1);
	pthread_join(fake.th, NULL);
	fake.running = 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_stop();
	close(fake.fd);
	return 0;
}

static struct dalio_client *client(int timeout_ms, int retries)
{
	struct dalio_opts o;
	struct dalio_client *c;
	char err[256];

	dalio_opts_init(&o);
	o.timeout_ms = timeout_ms;
	o.max_retries = retries;
	o.backoff_ms = 1;
	o.backoff_max_ms = 4;
	c = dalio_connect("127.0.0.1", fake.port, &o, err, sizeof(err));
	if (!c)
		fail_msg("dalio_connect: %s", err);
	return c;
}

static int cmd(struct dalio_client *c, redisReply **reply, struct dalio_result *res, char *err,
	       size_t errlen, int argc, ...)
{
	const char *argv[8];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 8; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	err[0] = '\0';
	return dalio_command_argv_ex(c, argc, argv, NULL, reply, res, err, errlen);
}

static struct dalio_msg req(int i)
{
	struct dalio_msg m;

	assert_true(i < fake.nreq);
	assert_int_equal(dalio_decode(fake.req[i], fake.reqlen[i], &m, NULL), 0);
	return m;
}

static void assert_contains(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("'%s' does not contain '%s'", s, needle);
}

static void test_wire_set_get(void **state)
{
	static const struct action script[] = {
		{A_OK, 0, "+OK\r\n"},
		{A_OK, 0, "$1\r\nv\r\n"},
		{A_OK, 0, "-ERR dalio: 'X' is refused\r\n"},
	};
	static const char set_resp[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	struct dalio_msg m;
	char err[256];

	(void)state;
	fake_run(script, 3);
	c = client(500, 2);

	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), 0);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	assert_string_equal(r->str, "OK");
	assert_int_equal(res.tries, 1);
	assert_int_equal(res.definite, 1);
	assert_int_equal(res.replied, 1);
	freeReplyObject(r);

	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "get", "k"), 0);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_int_equal(r->len, 1);
	assert_string_equal(r->str, "v");
	freeReplyObject(r);

	/* a Redis error reply is a reply, not a client error */
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "INCR", "k"), 0);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_contains(r->str, "refused");
	freeReplyObject(r);

	fake_stop();
	assert_int_equal(fake.nreq, 3);
	m = req(0);
	assert_int_equal(m.type, DALIO_T_REQUEST);
	assert_int_equal(m.flags, DALIO_F_WRITE);
	assert_int_equal(m.shard, DALIO_SHARD_ANY);
	assert_true(m.client_id == dalio_client_id(c));
	assert_true(m.request_id == 1);
	assert_int_equal(m.key_len, 1);
	assert_memory_equal(m.key, "k", 1);
	assert_int_equal(m.body_len, strlen(set_resp));
	assert_memory_equal(m.body, set_resp, m.body_len);
	assert_int_equal(m.status, 0);
	assert_true(m.seq == 0 && m.stamp == 0 && m.epoch == 0);

	m = req(1);
	assert_int_equal(m.flags, 0);
	assert_true(m.request_id == 2);
	assert_true(m.client_id == dalio_client_id(c));
	assert_int_equal(m.body_len, strlen("*2\r\n$3\r\nget\r\n$1\r\nk\r\n"));
	/* the command is sent as typed: Redis is case-insensitive */
	assert_memory_equal(m.body, "*2\r\n$3\r\nget\r\n$1\r\nk\r\n", m.body_len);

	m = req(2);
	assert_int_equal(m.flags, DALIO_F_WRITE);
	assert_true(m.request_id == 3);
	dalio_close(c);
}

static void test_shard_option(void **state)
{
	static const struct action script[] = {{A_OK, 0, "$-1\r\n"}};
	struct dalio_opts o;
	struct dalio_client *c;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 1);
	dalio_opts_init(&o);
	o.shard = 3;
	c = dalio_connect("127.0.0.1", fake.port, &o, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(cmd(c, &r, NULL, err, sizeof(err), 2, "GET", "k"), 0);
	assert_int_equal(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	fake_stop();
	assert_int_equal(req(0).shard, 3);
	dalio_close(c);
}

static void test_drop_then_retry(void **state)
{
	static const struct action script[] = {{A_DROP, 0, NULL}, {A_OK, 0, "+OK\r\n"}};
	struct dalio_client *c;
	struct dalio_result res;
	struct dalio_msg a, b;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 2);
	c = client(50, 3);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), 0);
	assert_string_equal(r->str, "OK");
	freeReplyObject(r);
	assert_int_equal(res.tries, 2);
	assert_int_equal(res.definite, 1);

	fake_stop();
	assert_int_equal(fake.nreq, 2);
	a = req(0);
	b = req(1);
	assert_int_equal(a.flags, DALIO_F_WRITE);
	assert_int_equal(b.flags, DALIO_F_WRITE | DALIO_F_RETRY);
	assert_true(a.request_id == b.request_id);
	assert_true(a.client_id == b.client_id);
	assert_int_equal(a.body_len, b.body_len);
	assert_memory_equal(a.body, b.body, a.body_len);
	dalio_close(c);
}

static void test_busy_retried(void **state)
{
	static const struct action script[] = {
		{A_STATUS, DALIO_S_BUSY, NULL},
		{A_STATUS, DALIO_S_NO_REPLICA, NULL},
		{A_OK, 0, "+OK\r\n"},
	};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 3);
	c = client(500, 3);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), 0);
	freeReplyObject(r);
	assert_int_equal(res.tries, 3);
	assert_int_equal(res.definite, 1);
	fake_stop();
	assert_int_equal(fake.nreq, 3);
	assert_int_equal(req(0).flags, DALIO_F_WRITE);
	assert_int_equal(req(1).flags, DALIO_F_WRITE | DALIO_F_RETRY);
	assert_int_equal(req(2).flags, DALIO_F_WRITE | DALIO_F_RETRY);
	assert_true(req(2).request_id == req(0).request_id);
	dalio_close(c);
}

static void test_exhausted_timeout(void **state)
{
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = (redisReply *)&res; /* must be reset to NULL */
	char err[256];

	(void)state;
	fake_run(NULL, 0); /* drops everything */
	c = client(30, 2);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), -1);
	assert_null(r);
	assert_contains(err, "no reply from VIP");
	assert_contains(err, "after 3 tries");
	assert_int_equal(res.tries, 3);
	assert_int_equal(res.definite, 0);
	assert_int_equal(res.replied, 0);
	dalio_last_result(c, &res);
	assert_int_equal(res.tries, 3);
	assert_int_equal(res.definite, 0);
	fake_stop();
	assert_int_equal(fake.nreq, 3);
	assert_true(req(0).request_id == req(2).request_id);
	dalio_close(c);
}

static void test_exhausted_status(void **state)
{
	static const struct action script[] = {
		{A_STATUS, DALIO_S_NOT_READY, NULL},
		{A_STATUS, DALIO_S_NOT_READY, NULL},
		{A_STATUS, DALIO_S_NOT_READY, NULL},
	};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 3);
	c = client(500, 2);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "GET", "k"), -1);
	assert_null(r);
	assert_contains(err, "after 3 tries");
	assert_contains(err, "last status NOT_READY");
	assert_int_equal(res.tries, 3);
	assert_int_equal(res.status, DALIO_S_NOT_READY);
	/* every try was answered with a status that applies nothing */
	assert_int_equal(res.definite, 1);
	fake_stop();
	assert_int_equal(fake.nreq, 3);
	dalio_close(c);
}

/* A try that timed out may have been applied: a later BUSY does not make it definite. */
static void test_timeout_then_busy_is_unknown(void **state)
{
	static const struct action script[] = {
		{A_DROP, 0, NULL},
		{A_STATUS, DALIO_S_BUSY, NULL},
	};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 2);
	c = client(30, 1);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), -1);
	assert_contains(err, "last status BUSY");
	assert_int_equal(res.tries, 2);
	assert_int_equal(res.definite, 0);
	dalio_close(c);
}

static void test_non_retryable(void **state)
{
	static const struct action script[] = {
		{A_STATUS, DALIO_S_UNKNOWN_SHARD, NULL},
		{A_STATUS, DALIO_S_BAD_REQUEST, NULL},
	};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 2);
	c = client(500, 5);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "GET", "k"), -1);
	assert_contains(err, "UNKNOWN_SHARD");
	assert_int_equal(res.tries, 1);
	assert_int_equal(res.definite, 1);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), -1);
	assert_contains(err, "BAD_REQUEST");
	assert_int_equal(res.tries, 1);
	fake_stop();
	assert_int_equal(fake.nreq, 2);
	dalio_close(c);
}

static void test_stray_replies_ignored(void **state)
{
	static const struct action script[] = {{A_STRAYS_THEN_OK, 0, "$5\r\nfresh\r\n"}};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 1);
	c = client(500, 0);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "GET", "k"), 0);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "fresh");
	assert_int_equal(res.tries, 1);
	freeReplyObject(r);
	dalio_close(c);
}

static void test_malformed_body(void **state)
{
	static const struct action script[] = {{A_OK, 0, "garbage"}, {A_OK, 0, "$5\r\nab"}};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 2);
	c = client(500, 0);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", "v"), -1);
	assert_contains(err, "malformed");
	assert_null(r);
	/* the write ran but its reply is unreadable: unknown outcome */
	assert_int_equal(res.definite, 0);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "GET", "k"), -1);
	assert_contains(err, "incomplete");
	dalio_close(c);
}

/* After a locally refused call, the next request on the wire is request 1. */
static void assert_nothing_sent_before(struct dalio_client *c)
{
	redisReply *r = NULL;
	char err[256];

	assert_int_equal(cmd(c, &r, NULL, err, sizeof(err), 2, "GET", "k"), 0);
	freeReplyObject(r);
	fake_stop();
	assert_int_equal(fake.nreq, 1);
	assert_true(req(0).request_id == 1);
	assert_int_equal(req(0).flags, 0);
}

static void test_oversize_not_sent(void **state)
{
	static const struct action script[] = {{A_OK, 0, "$-1\r\n"}};
	static char big[1500];
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	fake_run(script, 1);
	c = client(500, 2);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "SET", "k", big), -1);
	assert_null(r);
	assert_contains(err, "request does not fit one 1472-byte datagram (");
	assert_int_equal(res.tries, 0);
	assert_int_equal(res.definite, 1);
	assert_nothing_sent_before(c);
	dalio_close(c);
}

static void test_largest_request_sent(void **state)
{
	static const struct action script[] = {{A_OK, 0, "+OK\r\n"}};
	/* 64 + 1 (key) + RESP of SET k <v>: 4 + 9 + 7 + "$NNNN\r\n" (7) + len + 2 */
	static char val[DALIO_MAX_DATAGRAM];
	size_t vlen = DALIO_MAX_DATAGRAM - 64 - 1 - (4 + 9 + 7) - 7 - 2;
	struct dalio_client *c;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	memset(val, 'y', vlen);
	val[vlen] = '\0';
	fake_run(script, 1);
	c = client(500, 0);
	assert_int_equal(cmd(c, &r, NULL, err, sizeof(err), 3, "SET", "k", val), 0);
	freeReplyObject(r);
	fake_stop();
	assert_int_equal(fake.reqlen[0], DALIO_MAX_DATAGRAM);
	val[vlen] = 'y';
	val[vlen + 1] = '\0';
	assert_int_equal(cmd(c, &r, NULL, err, sizeof(err), 3, "SET", "k", val), -1);
	assert_contains(err, "(1473 bytes)");
	dalio_close(c);
}

static void test_refused_not_sent(void **state)
{
	static const struct action script[] = {{A_OK, 0, "$-1\r\n"}};
	struct dalio_client *c;
	struct dalio_result res;
	redisReply *r = NULL;
	char err[256];

	(void)state;
	fake_run(script, 1);
	c = client(500, 2);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "spop", "s"), -1);
	assert_contains(err, "'SPOP'");
	assert_contains(err, "not deterministic");
	assert_int_equal(res.tries, 0);
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 3, "MGET", "a", "b"), -1);
	assert_contains(err, "'MGET'");
	assert_int_equal(cmd(c, &r, &res, err, sizeof(err), 2, "GET", ""), -1);
	assert_contains(err, "1..256");
	assert_nothing_sent_before(c);
	dalio_close(c);
}

static void test_connect_errors(void **state)
{
	struct dalio_opts o;
	char err[256];

	(void)state;
	assert_null(dalio_connect("not-an-ip", 7379, NULL, err, sizeof(err)));
	assert_contains(err, "not-an-ip");
	assert_null(dalio_connect("127.0.0.1", 0, NULL, err, sizeof(err)));
	dalio_opts_init(&o);
	o.timeout_ms = 0;
	assert_null(dalio_connect("127.0.0.1", 7379, &o, err, sizeof(err)));
	assert_contains(err, "timeout_ms");
}

/* Two clients get different random ids. */
static void test_client_ids_differ(void **state)
{
	struct dalio_client *a = client(100, 0), *b = client(100, 0);

	(void)state;
	assert_true(dalio_client_id(a) != dalio_client_id(b));
	assert_true(dalio_client_id(a) != 0);
	dalio_close(a);
	dalio_close(b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_wire_set_get),
		T(test_shard_option),
		T(test_drop_then_retry),
		T(test_busy_retried),
		T(test_exhausted_timeout),
		T(test_exhausted_status),
		T(test_timeout_then_busy_is_unknown),
		T(test_non_retryable),
		T(test_stray_replies_ignored),
		T(test_malformed_body),
		T(test_oversize_not_sent),
		T(test_largest_request_sent),
		T(test_refused_not_sent),
		T(test_connect_errors),
		T(test_client_ids_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
