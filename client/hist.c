/* SPDX-License-Identifier: MIT */
/* Log-linear latency histogram for dalio-bench; see client/hist.h. */
#include <math.h>
#include <string.h>

#include "hist.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * HIST_HALF)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS + 1;
	/* v >> shift keeps the top HIST_SUB_BITS bits: in [HIST_HALF, 2 * HIST_HALF) */
	return shift * HIST_HALF + (unsigned)(v >> shift);
}

uint64_t hist_bucket_low(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * HIST_HALF)
		return idx;
	shift = idx / HIST_HALF - 1;
	return (uint64_t)(idx % HIST_HALF + HIST_HALF) << shift;
}

uint64_t hist_bucket_high(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * HIST_HALF)
		return idx;
	shift = idx / HIST_HALF - 1;
	return hist_bucket_low(idx) + (((uint64_t)1 << shift) - 1);
}

void hist_record(struct hist *h, uint64_t v)
{
	h->buckets[hist_index(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t target, seen = 0;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	target = (uint64_t)ceil(q * (double)h->count);
	if (target == 0)
		target = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= target) {
			uint64_t v = hist_bucket_high(i);

			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
