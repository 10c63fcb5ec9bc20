/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: RESP parsing of request bodies and RESP2 encoding of Redis
 * replies; see resp.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "resp.h"

static void reader_reset(redisReader **rdr)
{
	if (*rdr)
		redisReaderFree(*rdr);
	*rdr = redisReaderCreate();
}

/* The top-level count of "*N\r\n", or -1. Checked before hiredis allocates
 * an element vector for it. */
static long array_count(const char *p, size_t len)
{
	long n = 0;
	size_t i = 1;

	if (len < 4 || p[0] != '*')
		return -1;
	for (; i < len && i < 8 && isdigit((unsigned char)p[i]); i++)
		n = n * 10 + (p[i] - '0');
	if (i == 1 || i + 1 >= len || p[i] != '\r' || p[i + 1] != '\n')
		return -1;
	return n;
}

int rp_cmd_parse(redisReader **rdr, const void *body, size_t len, struct rp_cmd *cmd,
		 const char **why)
{
	void *out = NULL;
	redisReply *r;
	long n = array_count(body, len);

	cmd->argc = 0;
	cmd->owner = NULL;
	if (n < 1 || n > RP_MAX_ARGS || (size_t)n * 4 > len) {
		*why = "body is not a RESP array of 1..256 bulk strings";
		return -1;
	}
	if (!*rdr)
		reader_reset(rdr);
	if (!*rdr) {
		*why = "out of memory";
		return -1;
	}
	if (redisReaderFeed(*rdr, body, len) != REDIS_OK ||
	    redisReaderGetReply(*rdr, &out) != REDIS_OK || !out) {
		if (out)
			freeReplyObject(out);
		reader_reset(rdr);
		*why = "body is not a complete RESP command";
		return -1;
	}
	r = out;
	if ((*rdr)->len != (*rdr)->pos) {
		freeReplyObject(r);
		reader_reset(rdr);
		*why = "body has bytes after the RESP command";
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements > RP_MAX_ARGS) {
		freeReplyObject(r);
		*why = "body is not a RESP array of 1..256 bulk strings";
		return -1;
	}
	for (size_t i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			*why = "body is not a RESP array of bulk strings";
			return -1;
		}
		cmd->argv[i] = r->element[i]->str;
		cmd->argvlen[i] = r->element[i]->len;
	}
	cmd->argc = (int)r->elements;
	cmd->owner = r;
	return 0;
}

void rp_cmd_free(struct rp_cmd *cmd)
{
	if (cmd->owner)
		freeReplyObject(cmd->owner);
	cmd->owner = NULL;
	cmd->argc = 0;
}

struct out {
	char *buf;
	size_t cap, len;
	int full;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void put_line(struct out *o, char prefix, long long n)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "%c%lld\r\n", prefix, n);

	put(o, tmp, (size_t)k);
}

static void put_simple(struct out *o, char prefix, const char *s, size_t n)
{
	put(o, &prefix, 1);
	/* A status or error line cannot carry CR or LF; Redis never sends one. */
	if (memchr(s, '\r', n) || memchr(s, '\n', n)) {
		o->full = 1;
		return;
	}
	put(o, s, n);
	put(o, "\r\n", 2);
}

static void encode(struct out *o, const redisReply *r, int depth)
{
	if (depth > 8) { /* hiredis itself does not nest deeper */
		o->full = 1;
		return;
	}
	switch (r->type) {
	case REDIS_REPLY_STRING:
		put_line(o, '$', (long long)r->len);
		put(o, r->str, r->len);
		put(o, "\r\n", 2);
		break;
	case REDIS_REPLY_STATUS:
		put_simple(o, '+', r->str, r->len);
		break;
	case REDIS_REPLY_ERROR:
		put_simple(o, '-', r->str, r->len);
		break;
	case REDIS_REPLY_INTEGER:
		put_line(o, ':', r->integer);
		break;
	case REDIS_REPLY_NIL:
		put(o, "$-1\r\n", 5);
		break;
	case REDIS_REPLY_ARRAY:
		put_line(o, '*', (long long)r->elements);
		for (size_t i = 0; i < r->elements && !o->full; i++)
			encode(o, r->element[i], depth + 1);
		break;
	default: /* RESP3 types: we never send HELLO 3, so Redis never sends them */
		o->full = 1;
		break;
	}
}

long rp_resp_encode(const redisReply *r, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	encode(&o, r, 0);
	return o.full ? -1 : (long)o.len;
}

static size_t put_clean(char *dst, size_t room, const char *s, size_t n, int upper)
{
	size_t k = 0;

	for (; k < n && k < room; k++) {
		unsigned char c = (unsigned char)s[k];

		dst[k] = (c < 0x20 || c == 0x7f) ? '?' : upper ? (char)toupper(c) : (char)c;
	}
	return k;
}

size_t rp_resp_error(char *buf, size_t cap, const char *cmd, size_t cmdlen, const char *why)
{
	static const char pre[] = "-ERR dalio: ";
	size_t len = 0;

	if (cap < 64)
		return 0;
	cap -= 2; /* keep room for CRLF */
	memcpy(buf, pre, sizeof(pre) - 1);
	len = sizeof(pre) - 1;
	if (cmd) {
		buf[len++] = '\'';
		len += put_clean(buf + len, cmdlen < 32 ? cmdlen : 32, cmd, cmdlen, 1);
		buf[len++] = '\'';
		buf[len++] = ' ';
	}
	len += put_clean(buf + len, cap - len, why, strlen(why), 0);
	buf[len++] = '\r';
	buf[len++] = '\n';
	return len;
}
