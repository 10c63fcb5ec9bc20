/* SPDX-License-Identifier: MIT */
/*
 * Random history generator for testing and benchmarking the checker: runs a
 * real register model and writes a history that is linearizable by
 * construction (every op takes effect at a point inside its interval).
 */
#ifndef DALIO_LINCHECK_GEN_H
#define DALIO_LINCHECK_GEN_H

#include <stddef.h>
#include <stdint.h>

struct lc_gen_params {
	uint64_t seed;
	size_t n_ops;
	unsigned n_keys; /* key i is a counter (incr/r/w of integers) when i % 4 == 3 */
	unsigned n_clients;
	uint64_t jitter_ns;   /* max distance from an op's invoke/complete to its effect */
	unsigned unknown_pct; /* share of ops that time out (effect applied or not, 50/50) */
	unsigned fail_pct;    /* share of ops refused before sending (no effect) */
};

/* The history as text in the checker's format; malloc'd, NULL on OOM. */
char *lc_gen_history(const struct lc_gen_params *p);

#endif
