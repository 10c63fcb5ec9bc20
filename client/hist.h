/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram for dalio-bench: log-linear buckets in the manner of
 * HdrHistogram. Values below 2^HIST_SUB_BITS are exact; above, each power of
 * two is split into 2^(HIST_SUB_BITS-1) buckets, so a recorded value is off
 * by less than 2^(1-HIST_SUB_BITS) (under 1% with 8 bits). Not thread-safe:
 * one histogram per thread, merged at the end.
 */
#ifndef DALIO_HIST_H
#define DALIO_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 8
#define HIST_HALF     (1u << (HIST_SUB_BITS - 1))
#define HIST_BUCKETS  ((66 - HIST_SUB_BITS) * HIST_HALF)

struct hist {
	uint64_t count;
	uint64_t min, max;
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* Smallest bucket upper bound v such that at least q (0..1) of the values are <= v; 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Bucket helpers, exposed for tests. */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_high(unsigned idx);

#endif /* DALIO_HIST_H */
