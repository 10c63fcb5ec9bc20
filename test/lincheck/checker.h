/* SPDX-License-Identifier: MIT */
/*
 * Linearizability checker for per-key register histories (w / r / incr):
 * partitions a parsed history by key and runs a memoized backtracking search
 * (Wing & Gong, with Lowe's just-in-time linearization and a cache of
 * (linearized set, register value) pairs) on each key. See docs/checker.md.
 */
#ifndef DALIO_LINCHECK_CHECKER_H
#define DALIO_LINCHECK_CHECKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "history.h"

/* Per-key search limits; 0 means "no limit" for that dimension. */
struct lc_budget {
	uint64_t max_steps;	  /* search steps (attempts to linearize an op) */
	uint64_t max_ms;	  /* wall-clock time */
	uint64_t max_cache_bytes; /* memory for the visited-state cache */
};

#define LC_DEFAULT_MAX_STEPS	   50000000ull
#define LC_DEFAULT_MAX_MS	   10000ull
#define LC_DEFAULT_MAX_CACHE_BYTES (1024ull << 20)

enum lc_verdict {
	LC_LINEARIZABLE,
	LC_NOT_LINEARIZABLE,
	LC_BUDGET_EXCEEDED, /* unknown: the search gave up; counts as a failure */
	LC_CHECK_ERROR,	    /* out of memory; counts as a failure */
};

struct lc_key_result {
	const char *key; /* points into the history */
	enum lc_verdict verdict;
	size_t n_ops;	   /* ops on this key in the history */
	size_t n_searched; /* ops the search had to place (ok ops + kept unknown ops) */
	size_t n_unknown;  /* unknown writes/incrs kept in the search */
	size_t n_ignored;  /* fail ops, unknown reads, never-observable unknown writes */
	uint64_t steps;
	uint64_t cache_entries;
	double ms;
	char *explanation; /* multi-line text for violations and budget/error cases */
};

struct lc_report {
	size_t n_ops;
	size_t n_keys;
	double ms;
	struct lc_key_result *keys; /* sorted by key */
	size_t n_failed;	    /* keys whose verdict is not LC_LINEARIZABLE */
};

void lc_budget_default(struct lc_budget *b);

/*
 * Check every key of h. Returns 0 if the check ran (whatever the verdicts),
 * -1 if it could not allocate its bookkeeping. Free with lc_report_free.
 */
int lc_check(const struct lc_history *h, const struct lc_budget *b, struct lc_report *r);
void lc_report_free(struct lc_report *r);

/* True when every key is linearizable (budget or errors make it false). */
bool lc_report_ok(const struct lc_report *r);

/* Per-key lines, explanations for failed keys, and the summary line. */
void lc_report_print(FILE *out, const struct lc_report *r, bool verbose);

const char *lc_verdict_name(enum lc_verdict v);

#endif
