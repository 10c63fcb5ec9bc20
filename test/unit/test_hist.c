/* SPDX-License-Identifier: MIT */
/* Unit tests of dalio-bench's log-linear latency histogram (client/hist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

/* Every value falls in a bucket whose bounds contain it; buckets are ordered. */
static void test_bucket_bounds(void **state)
{
	uint64_t vals[] = {0, 1, 255, 256, 257, 511, 512, 1000, 123456789, UINT64_MAX};
	unsigned prev = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		unsigned idx = hist_index(vals[i]);

		assert_true(idx < HIST_BUCKETS);
		assert_true(hist_bucket_low(idx) <= vals[i]);
		assert_true(vals[i] <= hist_bucket_high(idx));
		assert_true(idx >= prev);
		prev = idx;
	}
	/* exact below 2^HIST_SUB_BITS, then contiguous buckets */
	for (unsigned idx = 0; idx + 1 < HIST_BUCKETS; idx++)
		assert_true(hist_bucket_high(idx) + 1 == hist_bucket_low(idx + 1));
	assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

/* Relative error of a bucket is below 1% for HIST_SUB_BITS = 8. */
static void test_precision(void **state)
{
	(void)state;
	for (uint64_t v = 1; v < (1ULL << 40); v = v * 3 + 1) {
		unsigned idx = hist_index(v);
		uint64_t width = hist_bucket_high(idx) - hist_bucket_low(idx);

		assert_true((double)width <= (double)v / 100.0 + 1);
	}
}

static void test_quantiles_and_merge(void **state)
{
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	hist_init(a);
	hist_init(b);
	assert_int_equal(hist_quantile(a, 0.5), 0);
	for (uint64_t v = 1; v <= 100; v++)
		hist_record(a, v);
	for (uint64_t v = 101; v <= 1000; v++)
		hist_record(b, v * 1000);
	assert_int_equal(hist_quantile(a, 0.5), 50);
	assert_int_equal(hist_quantile(a, 0.99), 99);
	assert_int_equal(hist_quantile(a, 1.0), 100);
	hist_merge(a, b);
	assert_int_equal(a->count, 1000);
	assert_int_equal(a->min, 1);
	assert_int_equal(a->max, 1000000);
	/* 500th value is 500000, within a bucket's 1% */
	assert_true(hist_quantile(a, 0.5) >= 500000 && hist_quantile(a, 0.5) <= 505000);
	assert_true(hist_quantile(a, 0.999) >= 999000 && hist_quantile(a, 0.999) <= 1000000);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_precision),
		cmocka_unit_test(test_quantiles_and_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
