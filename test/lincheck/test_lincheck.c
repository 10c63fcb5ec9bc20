/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the linearizability checker: hand-made histories that must
 * pass or fail, random linearizable-by-construction histories (and mutated
 * ones that must fail), budget handling, and parse errors.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "checker.h"
#include "gen.h"
#include "history.h"

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Parse text (must succeed) and check it with the default budget. */
static void run(const char *text, struct lc_history *h, struct lc_report *r)
{
	char err[256];
	struct lc_budget b;

	lc_budget_default(&b);
	if (lc_history_parse_string(text, "test", h, err, sizeof(err)))
		fail_msg("unexpected parse error: %s", err);
	assert_int_equal(lc_check(h, &b, r), 0);
}

static bool is_linearizable(const char *text)
{
	struct lc_history h;
	struct lc_report r;
	bool ok;

	run(text, &h, &r);
	ok = lc_report_ok(&r);
	if (!ok)
		lc_report_print(stderr, &r, true);
	lc_report_free(&r);
	lc_history_free(&h);
	return ok;
}

/* Expect a violation (not a budget problem) on key; return nothing. */
static void expect_violation(const char *text, const char *key)
{
	struct lc_history h;
	struct lc_report r;
	size_t i;
	bool found = false;

	run(text, &h, &r);
	assert_false(lc_report_ok(&r));
	for (i = 0; i < r.n_keys; i++) {
		if (strcmp(r.keys[i].key, key))
			continue;
		found = true;
		assert_int_equal(r.keys[i].verdict, LC_NOT_LINEARIZABLE);
		assert_non_null(r.keys[i].explanation);
	}
	assert_true(found);
	lc_report_free(&r);
	lc_history_free(&h);
}

/* ---- linearizable histories --------------------------------------------- */

static void test_empty_and_comments(void **state)
{
	(void)state;
	assert_true(is_linearizable(""));
	assert_true(is_linearizable("# only a comment\n\n   \n"));
}

static void test_sequential(void **state)
{
	(void)state;
	assert_true(is_linearizable("1 r k - nil 0 10 ok\n"
				    "1 w k a - 20 30 ok\n"
				    "2 r k - a 40 50 ok\n"
				    "1 w k b - 60 70 ok\n"
				    "2 r k - b 80 90 ok\n"));
}

static void test_concurrent_write_read_either_order(void **state)
{
	(void)state;
	/* The read overlaps the write: it may see the old or the new value. */
	assert_true(is_linearizable("1 w k a - 0 100 ok\n"
				    "2 r k - nil 10 20 ok\n"));
	assert_true(is_linearizable("1 w k a - 0 100 ok\n"
				    "2 r k - a 10 20 ok\n"));
	/* Touching intervals (complete == invoke) count as concurrent. */
	assert_true(is_linearizable("1 w k a - 0 50 ok\n"
				    "2 r k - nil 50 60 ok\n"));
}

static void test_concurrent_writes_consistent_reads(void **state)
{
	(void)state;
	/* a and b overlap; every reader agrees that b was last. */
	assert_true(is_linearizable("1 w k a - 0 100 ok\n"
				    "2 w k b - 10 90 ok\n"
				    "3 r k - a 20 30 ok\n"
				    "4 r k - b 40 50 ok\n"
				    "3 r k - b 110 120 ok\n"
				    "4 r k - b 130 140 ok\n"));
	/* Same writes, the opposite order, seen by overlapping readers. */
	assert_true(is_linearizable("1 w k a - 0 100 ok\n"
				    "2 w k b - 10 90 ok\n"
				    "3 r k - b 20 95 ok\n"
				    "4 r k - a 30 150 ok\n"
				    "3 r k - a 160 170 ok\n"));
}

static void test_incr_sequences(void **state)
{
	(void)state;
	assert_true(is_linearizable("1 incr c 1 1 0 10 ok\n"
				    "1 incr c 2 3 20 30 ok\n"
				    "2 r c - 3 40 50 ok\n"
				    "2 incr c -5 -2 60 70 ok\n"
				    "1 w c 10 - 80 90 ok\n"
				    "1 incr c 1 11 100 110 ok\n"));
	/* Concurrent incrs: results may come back in either order. */
	assert_true(is_linearizable("1 incr c 1 2 0 100 ok\n"
				    "2 incr c 1 1 10 90 ok\n"
				    "3 r c - 2 120 130 ok\n"));
}

static void test_unknown_write_observed(void **state)
{
	(void)state;
	/* Timed out, but a later read shows it took effect (after its invoke). */
	assert_true(is_linearizable("1 w k a - 0 10 ok\n"
				    "2 w k b - 20 30 unknown\n"
				    "3 r k - a 40 50 ok\n"
				    "3 r k - b 1000 1010 ok\n"));
	/* The complete_ns of an unknown op is meaningless; '-' is accepted. */
	assert_true(is_linearizable("2 w k b - 20 - unknown\n"
				    "3 r k - b 1000 1010 ok\n"));
}

static void test_unknown_write_never_observed(void **state)
{
	(void)state;
	assert_true(is_linearizable("1 w k a - 0 10 ok\n"
				    "2 w k b - 20 30 unknown\n"
				    "3 r k - a 40 50 ok\n"
				    "3 r k - a 1000 1010 ok\n"));
	/* Unknown incrs: one applied (seen by the next result), one not. */
	assert_true(is_linearizable("1 incr c 1 - 0 10 unknown\n"
				    "2 incr c 1 - 20 30 unknown\n"
				    "3 incr c 1 2 40 50 ok\n"
				    "3 r c - 2 60 70 ok\n"));
	/* An unknown write on a counter key, not applied: the next incr starts at 0. */
	assert_true(is_linearizable("1 w c 5 - 0 10 unknown\n"
				    "2 incr c 1 1 20 30 ok\n"
				    "2 r c - 1 40 50 ok\n"));
}

static void test_fail_and_unknown_reads_ignored(void **state)
{
	(void)state;
	assert_true(is_linearizable("1 w k a - 0 10 ok\n"
				    "2 w k z - 20 30 fail\n"
				    "3 r k - zzz 40 50 unknown\n"
				    "3 r k - a 60 70 ok\n"
				    "3 incr k 1 - 80 90 fail\n"));
}

/* ---- non-linearizable histories ----------------------------------------- */

static void test_stale_read(void **state)
{
	(void)state;
	expect_violation("1 w k a - 0 10 ok\n"
			 "1 w k b - 20 30 ok\n"
			 "2 r k - a 40 50 ok\n",
			 "k");
}

static void test_lost_acknowledged_write(void **state)
{
	(void)state;
	expect_violation("1 w k a - 0 10 ok\n"
			 "2 r k - a 20 30 ok\n"
			 "1 w k b - 40 50 ok\n"
			 "2 r k - a 60 70 ok\n"
			 "3 r k - a 80 90 ok\n"
			 "2 r k - a 100 110 ok\n",
			 "k");
}

static void test_read_of_unwritten_value(void **state)
{
	(void)state;
	expect_violation("1 w k a - 0 10 ok\n"
			 "2 r k - q 0 100 ok\n",
			 "k");
}

static void test_value_goes_back_in_time(void **state)
{
	(void)state;
	/* Both reads overlap the write, but they are sequential: new then old. */
	expect_violation("1 w k b - 0 100 ok\n"
			 "2 r k - b 10 20 ok\n"
			 "2 r k - nil 30 40 ok\n",
			 "k");
	/* Two concurrent writes: readers cannot disagree on their order. */
	expect_violation("1 w k a - 0 100 ok\n"
			 "2 w k b - 0 100 ok\n"
			 "3 r k - b 110 120 ok\n"
			 "4 r k - a 130 140 ok\n",
			 "k");
}

static void test_incr_skips_or_repeats(void **state)
{
	(void)state;
	expect_violation("1 incr c 1 1 0 10 ok\n"
			 "1 incr c 1 3 20 30 ok\n",
			 "c");
	expect_violation("1 incr c 1 1 0 10 ok\n"
			 "2 incr c 1 1 20 30 ok\n",
			 "c");
	/* Even when concurrent, two incrs by 1 cannot both return 1. */
	expect_violation("1 incr c 1 1 0 100 ok\n"
			 "2 incr c 1 1 10 90 ok\n",
			 "c");
	/* incr on a non-integer value cannot succeed. */
	expect_violation("1 w c abc - 0 10 ok\n"
			 "1 incr c 1 1 20 30 ok\n",
			 "c");
}

static void test_read_of_failed_write(void **state)
{
	struct lc_history h;
	struct lc_report r;

	(void)state;
	expect_violation("1 w k a - 0 10 ok\n"
			 "2 w k x - 20 30 fail\n"
			 "3 r k - x 40 50 ok\n",
			 "k");
	/* The explanation names the stuck read and the failed write's line. */
	run("1 w k a - 0 10 ok\n"
	    "2 w k x - 20 30 fail\n"
	    "3 r k - x 40 50 ok\n",
	    &h, &r);
	assert_non_null(strstr(r.keys[0].explanation, "line 3: client 3 r -> \"x\""));
	assert_non_null(strstr(r.keys[0].explanation, "status fail (line 2)"));
	assert_non_null(strstr(r.keys[0].explanation, "register holds \"a\""));
	lc_report_free(&r);
	lc_history_free(&h);
}

static void test_keys_are_independent(void **state)
{
	struct lc_history h;
	struct lc_report r;

	(void)state;
	run("1 w good a - 0 10 ok\n"
	    "1 w bad a - 0 10 ok\n"
	    "2 r good - a 20 30 ok\n"
	    "2 r bad - nil 20 30 ok\n",
	    &h, &r);
	assert_int_equal(r.n_keys, 2);
	assert_int_equal(r.n_failed, 1);
	assert_string_equal(r.keys[0].key, "bad");
	assert_int_equal(r.keys[0].verdict, LC_NOT_LINEARIZABLE);
	assert_string_equal(r.keys[1].key, "good");
	assert_int_equal(r.keys[1].verdict, LC_LINEARIZABLE);
	lc_report_free(&r);
	lc_history_free(&h);
}

/* ---- budget ----------------------------------------------------------------- */

static void test_budget_exceeded_is_a_failure(void **state)
{
	struct lc_gen_params p = {.seed = 7,
				  .n_ops = 2000,
				  .n_keys = 1,
				  .n_clients = 6,
				  .jitter_ns = 100,
				  .unknown_pct = 5};
	struct lc_budget b = {.max_steps = 100};
	char *text = lc_gen_history(&p), err[256], *out = NULL;
	struct lc_history h;
	struct lc_report r;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(text);
	assert_int_equal(lc_history_parse_string(text, "gen", &h, err, sizeof(err)), 0);
	assert_int_equal(lc_check(&h, &b, &r), 0);
	assert_false(lc_report_ok(&r));
	assert_int_equal(r.keys[0].verdict, LC_BUDGET_EXCEEDED);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	lc_report_print(f, &r, false);
	fclose(f);
	assert_non_null(strstr(out, "unknown (budget exceeded)"));
	assert_non_null(strstr(out, "UNDECIDED, counted as a failure"));
	assert_null(strstr(out, ": linearizable\n"));
	free(out);
	lc_report_free(&r);
	lc_history_free(&h);

	/* With the default budget the same history passes. */
	assert_true(is_linearizable(text));
	free(text);
}

/* ---- random histories ------------------------------------------------------ */

static void test_random_linearizable_and_mutated(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 40; seed++) {
		struct lc_gen_params p = {.seed = seed,
					  .n_ops = 300 + seed * 20,
					  .n_keys = 1 + seed % 5,
					  .n_clients = 2 + seed % 7,
					  .jitter_ns = seed % 2 ? 50 : 400,
					  .unknown_pct = (unsigned)(seed % 4) * 3,
					  .fail_pct = 2};
		char *text = lc_gen_history(&p), err[256];
		struct lc_budget b;
		struct lc_history h;
		struct lc_report r;
		size_t i, n_reads = 0, pick;

		assert_non_null(text);
		lc_budget_default(&b);
		assert_int_equal(lc_history_parse_string(text, "gen", &h, err, sizeof(err)), 0);
		assert_int_equal(lc_check(&h, &b, &r), 0);
		if (!lc_report_ok(&r)) {
			lc_report_print(stderr, &r, true);
			fail_msg("seed %llu: generated history rejected", (unsigned long long)seed);
		}
		lc_report_free(&r);

		/* Make one ok read return a value nobody wrote: must fail on that key. */
		for (i = 0; i < h.n_ops; i++)
			n_reads += h.ops[i].type == LC_OP_READ && h.ops[i].status == LC_OK;
		assert_true(n_reads > 0);
		pick = (size_t)(seed * 7919) % n_reads;
		for (i = 0; i < h.n_ops; i++) {
			if (h.ops[i].type != LC_OP_READ || h.ops[i].status != LC_OK)
				continue;
			if (pick-- == 0)
				break;
		}
		h.ops[i].result = "never-written";
		assert_int_equal(lc_check(&h, &b, &r), 0);
		assert_false(lc_report_ok(&r));
		assert_int_equal(r.n_failed, 1);
		{
			size_t j;

			for (j = 0; j < r.n_keys; j++)
				if (!strcmp(r.keys[j].key, h.ops[i].key))
					assert_int_equal(r.keys[j].verdict, LC_NOT_LINEARIZABLE);
		}
		lc_report_free(&r);
		lc_history_free(&h);
		free(text);
	}
}

/* ---- cross-check against brute force on tiny random histories ------------- */

/* Exhaustive reference: try every real-time-respecting order of every subset. */
static bool brute_step(const struct lc_op *o, const char *st, char *out)
{
	char buf[32];
	long long v = 0;

	if (o->type == LC_OP_WRITE) {
		snprintf(out, 32, "%s", o->arg);
		return true;
	}
	if (o->type == LC_OP_READ) {
		if (o->result ? strcmp(st, o->result) : strcmp(st, "\x01nil"))
			return false;
		snprintf(out, 32, "%s", st);
		return true;
	}
	if (strcmp(st, "\x01nil")) {
		v = strtoll(st, NULL, 10);
		snprintf(buf, sizeof(buf), "%lld", v);
		if (strcmp(buf, st))
			return false;
	}
	v += o->delta;
	if (o->status == LC_OK && v != o->incr_result)
		return false;
	snprintf(out, 32, "%lld", v);
	return true;
}

static bool brute(const struct lc_op *ops, size_t n, bool *placed, const char *st)
{
	size_t i, j;
	bool all_ok = true;

	for (i = 0; i < n; i++)
		if (!placed[i] && ops[i].status == LC_OK)
			all_ok = false;
	if (all_ok)
		return true;
	for (i = 0; i < n; i++) {
		char next[32];
		bool blocked = false;

		if (placed[i])
			continue;
		for (j = 0; j < n; j++)
			if (!placed[j] && ops[j].status == LC_OK &&
			    ops[j].complete_ns < ops[i].invoke_ns)
				blocked = true;
		if (blocked || !brute_step(&ops[i], st, next))
			continue;
		placed[i] = true;
		if (brute(ops, n, placed, next))
			return true;
		placed[i] = false;
	}
	return false;
}

static void test_cross_check_brute_force(void **state)
{
	static const char *vals[] = {"a", "b", "1", "2", "01"};
	static const char *reads[] = {"nil", "a", "b", "1", "2", "3", "01"};
	uint64_t rng = 12345;
	unsigned iter, n_lin = 0, n_not = 0;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		char text[1024], err[256];
		size_t len = 0, i, n = 1 + (size_t)(xorshift(&rng) % 7), m = 0;
		struct lc_op kept[8];
		bool placed[8] = {false}, expect, got;
		struct lc_history h;
		struct lc_report r;
		struct lc_budget b;

		for (i = 0; i < n; i++) {
			unsigned t = (unsigned)(xorshift(&rng) % 3),
				 st = (unsigned)(xorshift(&rng) % 10);
			unsigned inv = (unsigned)(xorshift(&rng) % 20);
			unsigned comp = inv + (unsigned)(xorshift(&rng) % 10);
			const char *status = st < 7 ? "ok" : st < 9 ? "unknown" : "fail";

			if (t == 0)
				len += (size_t)snprintf(
					text + len, sizeof(text) - len, "1 w k %s - %u %u %s\n",
					vals[xorshift(&rng) % 5], inv, comp, status);
			else if (t == 1)
				len += (size_t)snprintf(
					text + len, sizeof(text) - len, "1 r k - %s %u %u %s\n",
					reads[xorshift(&rng) % 7], inv, comp, status);
			else
				len += (size_t)snprintf(
					text + len, sizeof(text) - len, "1 incr k %u %s %u %u %s\n",
					(unsigned)(xorshift(&rng) % 3),
					st < 7 ? reads[3 + xorshift(&rng) % 3] : "-", inv, comp,
					status);
		}
		assert_int_equal(lc_history_parse_string(text, "x", &h, err, sizeof(err)), 0);
		for (i = 0; i < h.n_ops; i++)
			if (h.ops[i].status != LC_FAIL &&
			    !(h.ops[i].status == LC_UNKNOWN && h.ops[i].type == LC_OP_READ))
				kept[m++] = h.ops[i];
		expect = brute(kept, m, placed, "\x01nil");
		lc_budget_default(&b);
		assert_int_equal(lc_check(&h, &b, &r), 0);
		got = lc_report_ok(&r);
		if (got != expect)
			fail_msg("checker says %d, brute force says %d for:\n%s", got, expect,
				 text);
		expect ? n_lin++ : n_not++;
		lc_report_free(&r);
		lc_history_free(&h);
	}
	/* Both outcomes must be well represented for the cross-check to mean anything. */
	assert_true(n_lin > 2000);
	assert_true(n_not > 2000);
}

/* ---- parse errors ------------------------------------------------------------ */

static void expect_parse_error(const char *text, const char *needle)
{
	struct lc_history h;
	char err[256];

	assert_int_equal(lc_history_parse_string(text, "hist.txt", &h, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not contain '%s'", err, needle);
	assert_null(h.ops);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("1 w k a - 0 10 ok\n1 w k a - 0 10\n", "hist.txt:2: expected 8 fields");
	expect_parse_error("1 w k a - 0 10 ok extra\n", "hist.txt:1: expected 8 fields");
	expect_parse_error("# c\n\n1 x k a - 0 10 ok\n", "hist.txt:3: op 'x'");
	expect_parse_error("one w k a - 0 10 ok\n", "hist.txt:1: client 'one'");
	expect_parse_error("1 w k a - 0 10 done\n", "hist.txt:1: status 'done'");
	expect_parse_error("1 w k a - -5 10 ok\n", "hist.txt:1: invoke_ns '-5'");
	expect_parse_error("1 w k a - 0 1x ok\n", "hist.txt:1: complete_ns '1x'");
	expect_parse_error("1 w k a - 20 10 ok\n", "hist.txt:1: complete_ns 10 is before");
	expect_parse_error("1 w k a b 0 10 ok\n", "hist.txt:1: write result must be '-'");
	expect_parse_error("1 w k nil - 0 10 ok\n", "hist.txt:1: write needs a value");
	expect_parse_error("1 r k a a 0 10 ok\n", "hist.txt:1: read arg must be '-'");
	expect_parse_error("1 r k - - 0 10 ok\n", "hist.txt:1: read with status ok needs");
	expect_parse_error("1 incr k x 1 0 10 ok\n", "hist.txt:1: incr delta 'x'");
	expect_parse_error("1 incr k 1 - 0 10 ok\n", "hist.txt:1: incr with status ok needs");
	expect_parse_error("1 incr k 99999999999999999999 1 0 10 ok\n", "incr delta");
	expect_parse_error("1 w k a - 0 - ok\n", "complete_ns '-'");
}

static void test_parse_file(void **state)
{
	char path[] = "/tmp/test_lincheck_XXXXXX", err[512];
	const char *text = "# hdr\n1 w k a - 0 10 ok\n2 r k - a 20 30 ok\n2 r k - a 40 x ok\n";
	struct lc_history h;
	size_t keep;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(lc_history_parse_file(path, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":4: complete_ns 'x'"));

	/* Fix the last line; the file parses and checks. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	keep = (size_t)(strstr(text, "2 r k - a 40") - text);
	assert_int_equal(write(fd, text, keep), (ssize_t)keep);
	close(fd);
	assert_int_equal(lc_history_parse_file(path, &h, err, sizeof(err)), 0);
	assert_int_equal(h.n_ops, 2);
	assert_int_equal(h.ops[1].line, 3);
	assert_string_equal(h.ops[1].result, "a");
	lc_history_free(&h);
	unlink(path);

	assert_int_equal(lc_history_parse_file("/nonexistent/hist", &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/hist: cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_comments),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_concurrent_write_read_either_order),
		cmocka_unit_test(test_concurrent_writes_consistent_reads),
		cmocka_unit_test(test_incr_sequences),
		cmocka_unit_test(test_unknown_write_observed),
		cmocka_unit_test(test_unknown_write_never_observed),
		cmocka_unit_test(test_fail_and_unknown_reads_ignored),
		cmocka_unit_test(test_stale_read),
		cmocka_unit_test(test_lost_acknowledged_write),
		cmocka_unit_test(test_read_of_unwritten_value),
		cmocka_unit_test(test_value_goes_back_in_time),
		cmocka_unit_test(test_incr_skips_or_repeats),
		cmocka_unit_test(test_read_of_failed_write),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_budget_exceeded_is_a_failure),
		cmocka_unit_test(test_random_linearizable_and_mutated),
		cmocka_unit_test(test_cross_check_brute_force),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
