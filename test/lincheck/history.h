/* SPDX-License-Identifier: MIT */
/*
 * History files for the linearizability checker: the in-memory form of one
 * recorded operation per line, and the parser (from a file or from memory).
 * Format (docs/checker.md):
 *   <client> <op> <key> <arg> <result> <invoke_ns> <complete_ns> <status>
 */
#ifndef DALIO_LINCHECK_HISTORY_H
#define DALIO_LINCHECK_HISTORY_H

#include <stddef.h>
#include <stdint.h>

enum lc_op_type {
	LC_OP_WRITE, /* SET: arg = value written, result "-" */
	LC_OP_READ,  /* GET: arg "-", result = value read or nil */
	LC_OP_INCR,  /* INCRBY: arg = delta, result = new value */
};

enum lc_status {
	LC_OK,	    /* completed, result known */
	LC_FAIL,    /* definitely did not take effect */
	LC_UNKNOWN, /* may or may not have taken effect, at any time after invoke */
};

struct lc_op {
	long client;
	enum lc_op_type type;
	enum lc_status status;
	const char *key;
	const char *arg;     /* value written, or the delta as text; NULL for reads */
	const char *result;  /* value read (NULL = nil), new incr value; NULL if "-" */
	int64_t delta;	     /* incr only */
	int64_t incr_result; /* incr with status ok only */
	uint64_t invoke_ns;
	uint64_t complete_ns; /* meaningless for unknown ops */
	unsigned line;	      /* 1-based line in the source, for messages */
};

struct lc_history {
	char *name; /* file name (or the name given to lc_history_parse_string) */
	char *text; /* owned copy of the source; the ops' strings point into it */
	struct lc_op *ops;
	size_t n_ops;
};

/*
 * Parse a history. Returns 0 on success; on a syntax or I/O error returns -1,
 * writes "NAME:LINE: what is wrong" (or "NAME: ...") into err and leaves *h
 * empty. The history must be freed with lc_history_free.
 */
int lc_history_parse_file(const char *path, struct lc_history *h, char *err, size_t errlen);
int lc_history_parse_string(const char *text, const char *name, struct lc_history *h, char *err,
			    size_t errlen);
void lc_history_free(struct lc_history *h);

const char *lc_op_name(enum lc_op_type t);
const char *lc_status_name(enum lc_status s);

#endif
