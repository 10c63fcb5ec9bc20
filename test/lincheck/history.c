/* SPDX-License-Identifier: MIT */
/*
 * History parser for the linearizability checker (see history.h): reads a
 * whole file into memory, splits it into lines and fields in place, and
 * validates every field so that the checker only sees well-formed ops.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define N_FIELDS 8

const char *lc_op_name(enum lc_op_type t)
{
	switch (t) {
	case LC_OP_WRITE:
		return "w";
	case LC_OP_READ:
		return "r";
	case LC_OP_INCR:
		return "incr";
	}
	return "?";
}

const char *lc_status_name(enum lc_status s)
{
	switch (s) {
	case LC_OK:
		return "ok";
	case LC_FAIL:
		return "fail";
	case LC_UNKNOWN:
		return "unknown";
	}
	return "?";
}

static void set_err(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return;
	if (line)
		n = snprintf(err, errlen, "%s:%u: ", name, line);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Strict decimal parsers: the whole token must be consumed. */
static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Split a line into whitespace-separated fields, in place. */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		f[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

/* Parse one non-comment line into *op; returns false with err set. */
static bool parse_line(char *line, unsigned lineno, const char *name, struct lc_op *op, char *err,
		       size_t errlen)
{
	char *f[N_FIELDS];
	int64_t client;
	int n = split_fields(line, f, N_FIELDS);
	const char *opname, *arg, *res;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		set_err(err, errlen, name, lineno, __VA_ARGS__);                                   \
		return false;                                                                      \
	} while (0)

	if (n != N_FIELDS)
		FAIL("expected %d fields (client op key arg result invoke_ns complete_ns status), "
		     "got %s%d",
		     N_FIELDS, n > N_FIELDS ? "more than " : "", n > N_FIELDS ? N_FIELDS : n);
	memset(op, 0, sizeof(*op));
	op->line = lineno;

	if (!parse_i64(f[0], &client))
		FAIL("client '%s' is not an integer", f[0]);
	op->client = (long)client;

	if (!strcmp(f[7], "ok"))
		op->status = LC_OK;
	else if (!strcmp(f[7], "fail"))
		op->status = LC_FAIL;
	else if (!strcmp(f[7], "unknown"))
		op->status = LC_UNKNOWN;
	else
		FAIL("status '%s' is not one of ok, fail, unknown", f[7]);

	if (!parse_u64(f[5], &op->invoke_ns))
		FAIL("invoke_ns '%s' is not an unsigned integer", f[5]);
	if (op->status == LC_UNKNOWN && !strcmp(f[6], "-"))
		op->complete_ns = UINT64_MAX;
	else if (!parse_u64(f[6], &op->complete_ns))
		FAIL("complete_ns '%s' is not an unsigned integer", f[6]);
	if (op->status == LC_OK && op->complete_ns < op->invoke_ns)
		FAIL("complete_ns %llu is before invoke_ns %llu",
		     (unsigned long long)op->complete_ns, (unsigned long long)op->invoke_ns);

	op->key = f[2];
	opname = f[1];
	arg = f[3];
	res = f[4];
	if (!strcmp(opname, "w")) {
		op->type = LC_OP_WRITE;
		if (!strcmp(arg, "-") || !strcmp(arg, "nil"))
			FAIL("write needs a value; '%s' is reserved", arg);
		if (strcmp(res, "-"))
			FAIL("write result must be '-', got '%s'", res);
		op->arg = arg;
	} else if (!strcmp(opname, "r")) {
		op->type = LC_OP_READ;
		if (strcmp(arg, "-"))
			FAIL("read arg must be '-', got '%s'", arg);
		if (op->status == LC_OK && !strcmp(res, "-"))
			FAIL("read with status ok needs a result (a value or nil)");
		op->result = strcmp(res, "nil") ? res : NULL;
	} else if (!strcmp(opname, "incr")) {
		op->type = LC_OP_INCR;
		if (!parse_i64(arg, &op->delta))
			FAIL("incr delta '%s' is not a 64-bit integer", arg);
		op->arg = arg;
		if (op->status == LC_OK) {
			if (!parse_i64(res, &op->incr_result))
				FAIL("incr with status ok needs an integer result, got '%s'", res);
			op->result = res;
		} else if (strcmp(res, "-") && !parse_i64(res, &op->incr_result)) {
			FAIL("incr result '%s' is neither '-' nor an integer", res);
		}
	} else {
		FAIL("op '%s' is not one of w, r, incr", opname);
	}
	return true;
#undef FAIL
}

static int parse_owned(char *text, const char *name, struct lc_history *h, char *err, size_t errlen)
{
	size_t cap = 0;
	unsigned lineno = 0;
	char *p = text;

	memset(h, 0, sizeof(*h));
	h->text = text;
	h->name = strdup(name);
	if (!h->name) {
		set_err(err, errlen, name, 0, "out of memory");
		goto fail;
	}
	while (*p) {
		char *line = p, *nl = strchr(p, '\n'), *q;

		lineno++;
		if (nl) {
			*nl = '\0';
			p = nl + 1;
		} else {
			p += strlen(p);
		}
		for (q = line; *q == ' ' || *q == '\t' || *q == '\r'; q++)
			;
		if (!*q || *q == '#')
			continue;
		if (h->n_ops == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct lc_op *n = realloc(h->ops, ncap * sizeof(*n));

			if (!n) {
				set_err(err, errlen, name, lineno, "out of memory");
				goto fail;
			}
			h->ops = n;
			cap = ncap;
		}
		if (!parse_line(line, lineno, name, &h->ops[h->n_ops], err, errlen))
			goto fail;
		h->n_ops++;
	}
	return 0;
fail:
	lc_history_free(h);
	return -1;
}

int lc_history_parse_string(const char *text, const char *name, struct lc_history *h, char *err,
			    size_t errlen)
{
	char *copy = strdup(text);

	if (!copy) {
		memset(h, 0, sizeof(*h));
		set_err(err, errlen, name, 0, "out of memory");
		return -1;
	}
	return parse_owned(copy, name, h, err, errlen);
}

int lc_history_parse_file(const char *path, struct lc_history *h, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	memset(h, 0, sizeof(*h));
	if (!f) {
		set_err(err, errlen, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(buf, ncap + 1);

			if (!nb) {
				set_err(err, errlen, path, 0, "out of memory");
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		set_err(err, errlen, path, 0, "read error");
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		set_err(err, errlen, path, 0, "contains a NUL byte (not a text history)");
		free(buf);
		return -1;
	}
	return parse_owned(buf, path, h, err, errlen);
fail:
	fclose(f);
	free(buf);
	return -1;
}

void lc_history_free(struct lc_history *h)
{
	free(h->ops);
	free(h->text);
	free(h->name);
	memset(h, 0, sizeof(*h));
}
