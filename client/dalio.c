/* SPDX-License-Identifier: MIT */
/*
 * libdalio: one UDP client of a Dalio VIP. Owns request ids, the retry and
 * backoff policy, matching replies to requests, and turning a reply body into
 * a hiredis redisReply. See client/dalio.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dalio.h"
#include "dalio/codec.h"
#include "dalio/commands.h"

#define RECV_BUF 65536
/* Unrelated datagrams handled in one wait, at most (the wait is also bounded in time). */
#define MAX_DATAGRAMS_PER_WAIT 100000

struct dalio_client {
	int fd;
	struct dalio_opts o;
	uint64_t client_id;
	uint64_t next_request_id;
	uint64_t rng; /* xorshift state for backoff jitter */
	char peer[INET_ADDRSTRLEN + 8];
	struct dalio_result last;
	uint8_t sbuf[DALIO_MAX_DATAGRAM];
	uint8_t rbuf[RECV_BUF];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void dalio_opts_init(struct dalio_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = 200;
	opts->max_retries = 8;
	opts->backoff_ms = 5;
	opts->backoff_max_ms = 1000;
	opts->shard = DALIO_SHARD_ANY;
}

int dalio_status_retryable(unsigned status)
{
	return status == DALIO_S_BUSY || status == DALIO_S_NOT_READY ||
	       status == DALIO_S_NO_REPLICA || status == DALIO_S_STALE_EPOCH;
}

struct dalio_client *dalio_connect(const char *host_ip, uint16_t port,
				   const struct dalio_opts *opts, char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct dalio_client *c;
	uint64_t seed[2];

	if (!host_ip || inet_pton(AF_INET, host_ip, &sa.sin_addr) != 1) {
		seterr(err, errlen, "bad VIP address '%s' (want a dotted IPv4 address)",
		       host_ip ? host_ip : "(null)");
		return NULL;
	}
	if (port == 0) {
		seterr(err, errlen, "bad VIP port 0");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (opts)
		c->o = *opts;
	else
		dalio_opts_init(&c->o);
	if (c->o.timeout_ms <= 0 || c->o.max_retries < 0 || c->o.backoff_ms < 0 ||
	    c->o.backoff_max_ms < c->o.backoff_ms) {
		seterr(err, errlen,
		       "bad options: timeout_ms %d (> 0), max_retries %d (>= 0), "
		       "backoff_ms %d (>= 0), backoff_max_ms %d (>= backoff_ms)",
		       c->o.timeout_ms, c->o.max_retries, c->o.backoff_ms, c->o.backoff_max_ms);
		free(c);
		return NULL;
	}
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		seterr(err, errlen, "getrandom: %s", strerror(errno));
		free(c);
		return NULL;
	}
	c->client_id = seed[0] ? seed[0] : 1;
	c->rng = seed[1] ? seed[1] : 0x9e3779b97f4a7c15ULL;
	c->next_request_id = 1;
	snprintf(c->peer, sizeof(c->peer), "%s:%u", host_ip, port);
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		seterr(err, errlen, "socket: %s", strerror(errno));
		free(c);
		return NULL;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		seterr(err, errlen, "connect to %s: %s", c->peer, strerror(errno));
		close(c->fd);
		free(c);
		return NULL;
	}
	c->last.definite = 1;
	return c;
}

void dalio_close(struct dalio_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

uint64_t dalio_client_id(const struct dalio_client *c)
{
	return c->client_id;
}

void dalio_last_result(const struct dalio_client *c, struct dalio_result *res)
{
	*res = c->last;
}

/*
 * Waits until deadline for a REPLY to request_id of this client; anything
 * else (late replies of earlier requests, foreign datagrams) is dropped.
 * Returns 1 with *m filled (pointing into c->rbuf), 0 at the deadline.
 * *sock_errno keeps the last socket error seen (ECONNREFUSED, ...).
 */
static int wait_reply(struct dalio_client *c, uint64_t request_id, int64_t deadline,
		      struct dalio_msg *m, int *sock_errno)
{
	for (int i = 0; i < MAX_DATAGRAMS_PER_WAIT; i++) {
		int64_t left = deadline - now_ns();
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int timeout_ms, n;
		ssize_t len;

		if (left <= 0)
			return 0;
		timeout_ms = (int)((left + 999999) / 1000000);
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0) {
			if (errno != EINTR)
				*sock_errno = errno;
			continue;
		}
		if (n == 0)
			continue;
		len = recv(c->fd, c->rbuf, sizeof(c->rbuf), MSG_DONTWAIT);
		if (len < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
				*sock_errno = errno;
			continue;
		}
		if (dalio_decode(c->rbuf, (size_t)len, m, NULL) < 0)
			continue;
		if (m->type != DALIO_T_REPLY || m->client_id != c->client_id ||
		    m->request_id != request_id)
			continue;
		return 1;
	}
	return 0;
}

/* Delay before the retry that follows try number `try` (1-based), in ns, jittered. */
static int64_t backoff_ns(struct dalio_client *c, int try)
{
	int64_t d = c->o.backoff_ms;

	if (d <= 0)
		return 0;
	for (int i = 1; i < try && d < c->o.backoff_max_ms; i++)
		d *= 2;
	if (d > c->o.backoff_max_ms)
		d = c->o.backoff_max_ms;
	d *= 1000000;
	/* uniform in [d/2, d] */
	return d / 2 + (int64_t)(rng_next(&c->rng) % (uint64_t)(d / 2 + 1));
}

static int parse_body(const struct dalio_msg *m, redisReply **reply, char *err, size_t errlen)
{
	redisReader *r;
	void *out = NULL;
	int rc;

	if (m->body_len == 0) {
		seterr(err, errlen, "VIP answered OK with an empty reply body");
		return -1;
	}
	r = redisReaderCreate();
	if (!r) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	rc = redisReaderFeed(r, (const char *)m->body, m->body_len);
	if (rc == REDIS_OK)
		rc = redisReaderGetReply(r, &out);
	if (rc != REDIS_OK || !out) {
		seterr(err, errlen, "malformed RESP reply body (%zu bytes): %s", m->body_len,
		       rc != REDIS_OK ? r->errstr : "incomplete");
		if (out)
			freeReplyObject(out);
		redisReaderFree(r);
		return -1;
	}
	redisReaderFree(r);
	if (reply)
		*reply = out;
	else
		freeReplyObject(out);
	return 0;
}

/* Command name for messages: at most 64 bytes, upper case, unprintables as '?'. */
static void cmd_name(char *dst, size_t cap, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < cap && i < 64; i++) {
		unsigned char ch = (unsigned char)name[i];

		dst[i] = isprint(ch) ? (char)toupper(ch) : '?';
	}
	dst[i] = '\0';
}

enum verdict { V_DONE_OK, V_DONE_ERR, V_RETRY };

/* What to do with a REPLY to the current request. */
static enum verdict judge(const struct dalio_msg *m, redisReply **reply, struct dalio_result *res,
			  int in_doubt, char *err, size_t errlen)
{
	res->replied = 1;
	res->status = m->status;
	if (m->status == DALIO_S_OK) {
		if (parse_body(m, reply, err, errlen) < 0) {
			/* the command ran, but we cannot tell what it returned */
			res->definite = 0;
			return V_DONE_ERR;
		}
		res->definite = 1;
		return V_DONE_OK;
	}
	if (dalio_status_retryable(m->status))
		return V_RETRY;
	seterr(err, errlen, "VIP refused the request: status %s", dalio_status_name(m->status));
	res->definite = !in_doubt;
	return V_DONE_ERR;
}

int dalio_command_argv_ex(struct dalio_client *c, int argc, const char **argv,
			  const size_t *argvlen, redisReply **reply, struct dalio_result *res,
			  char *err, size_t errlen)
{
	struct dalio_result r = {.tries = 0, .definite = 1, .status = DALIO_S_OK};
	size_t *lens = NULL;
	const char *why = NULL;
	enum dalio_cmd_kind kind;
	struct dalio_msg m;
	char *cmd = NULL;
	char name[80];
	int cmdlen, rc = -1, in_doubt = 0, sock_errno = 0, got_retryable = 0;
	long dlen;
	size_t total;
	uint16_t flags;

	if (reply)
		*reply = NULL;
	if (!c || argc < 1 || !argv) {
		seterr(err, errlen, "no command given");
		goto out;
	}
	lens = malloc(sizeof(*lens) * (size_t)argc);
	if (!lens) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = argvlen ? argvlen[i] : strlen(argv[i]);

	kind = dalio_classify(argc, (const char *const *)argv, lens, &why);
	cmd_name(name, sizeof(name), argv[0], lens[0]);
	if (kind == DALIO_CMD_REFUSED) {
		seterr(err, errlen, "'%s' %s (refused by the client, nothing sent)", name, why);
		goto out;
	}
	if (argc < 2) { /* the table has no key-less command; stay safe if it gets one */
		seterr(err, errlen, "'%s' has no key (Dalio routes every command by its key)",
		       name);
		goto out;
	}
	if (lens[1] == 0 || lens[1] > DALIO_MAX_KEY) {
		seterr(err, errlen, "'%s': key of %zu bytes (Dalio keys are 1..%d bytes)", name,
		       lens[1], DALIO_MAX_KEY);
		goto out;
	}
	cmdlen = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (cmdlen < 0) {
		seterr(err, errlen, "out of memory formatting the command");
		cmd = NULL;
		goto out;
	}
	total = sizeof(struct dalio_hdr) + lens[1] + (size_t)cmdlen;
	if (total > DALIO_MAX_DATAGRAM) {
		seterr(err, errlen, "request does not fit one %d-byte datagram (%zu bytes)",
		       DALIO_MAX_DATAGRAM, total);
		goto out;
	}

	flags = kind == DALIO_CMD_WRITE ? DALIO_F_WRITE : 0;
	memset(&m, 0, sizeof(m));
	m.type = DALIO_T_REQUEST;
	m.flags = flags;
	m.shard = c->o.shard;
	m.client_id = c->client_id;
	m.request_id = c->next_request_id++;
	m.key = (const uint8_t *)argv[1];
	m.key_len = (uint16_t)lens[1];
	m.body = (const uint8_t *)cmd;
	m.body_len = (size_t)cmdlen;
	dlen = dalio_encode(&m, c->sbuf, sizeof(c->sbuf), &why);
	if (dlen < 0) {
		seterr(err, errlen, "cannot encode request: %s", why);
		goto out;
	}

	for (int try = 1; try <= 1 + c->o.max_retries; try++) {
		int64_t deadline;
		struct dalio_msg rep;
		enum verdict v = V_RETRY;

		if (try > 1) {
			uint16_t f = htobe16(flags | DALIO_F_RETRY);

			memcpy(c->sbuf + offsetof(struct dalio_hdr, flags), &f, sizeof(f));
		}
		if (send(c->fd, c->sbuf, (size_t)dlen, 0) < 0)
			sock_errno = errno; /* counts as a lost try */
		r.tries = try;

		/* wait for the answer of this try */
		deadline = now_ns() + (int64_t)c->o.timeout_ms * 1000000;
		if (wait_reply(c, m.request_id, deadline, &rep, &sock_errno)) {
			v = judge(&rep, reply, &r, in_doubt, err, errlen);
			if (v == V_RETRY) {
				got_retryable = 1;
				if (rep.status == DALIO_S_STALE_EPOCH)
					in_doubt = 1;
			}
		} else {
			in_doubt = 1;
		}
		if (v == V_DONE_OK) {
			rc = 0;
			goto out;
		}
		if (v == V_DONE_ERR)
			goto out;
		if (try == 1 + c->o.max_retries)
			break;

		/* back off; an OK for an earlier try that arrives meanwhile still counts */
		deadline = now_ns() + backoff_ns(c, try);
		for (int k = 0; k < 64 && wait_reply(c, m.request_id, deadline, &rep, &sock_errno);
		     k++) {
			v = judge(&rep, reply, &r, in_doubt, err, errlen);
			if (v == V_DONE_OK) {
				rc = 0;
				goto out;
			}
			if (v == V_DONE_ERR)
				goto out;
			if (rep.status == DALIO_S_STALE_EPOCH)
				in_doubt = 1;
		}
	}

	r.definite = !in_doubt;
	if (got_retryable)
		seterr(err, errlen, "no usable reply from VIP %s after %d %s: last status %s",
		       c->peer, r.tries, r.tries == 1 ? "try" : "tries",
		       dalio_status_name((unsigned)r.status));
	else
		seterr(err, errlen, "no reply from VIP %s after %d %s (%d ms each)%s%s", c->peer,
		       r.tries, r.tries == 1 ? "try" : "tries", c->o.timeout_ms,
		       sock_errno ? "; last socket error: " : "",
		       sock_errno ? strerror(sock_errno) : "");
out:
	if (cmd)
		redisFreeCommand(cmd);
	free(lens);
	if (c)
		c->last = r;
	if (res)
		*res = r;
	return rc;
}

int dalio_command_argv(struct dalio_client *c, int argc, const char **argv, const size_t *argvlen,
		       redisReply **reply, char *err, size_t errlen)
{
	return dalio_command_argv_ex(c, argc, argv, argvlen, reply, NULL, err, errlen);
}
