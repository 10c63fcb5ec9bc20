/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the standby's takeover timing (agent/peer.c's peer_watch):
 * silence counts from the last heartbeat, or from start when none came; the
 * takeover fires exactly once, never before one full timeout after start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "peer.h"

static void test_no_heartbeat(void **state)
{
	struct peer_watch w;

	(void)state;
	peer_watch_init(&w, 500, 1000);
	assert_int_equal(peer_watch_silence(&w, 1000), 0);
	assert_int_equal(peer_watch_due(&w, 1000), 0);
	assert_int_equal(peer_watch_due(&w, 1499), 0);
	assert_int_equal(peer_watch_silence(&w, 1499), 499);
	assert_int_equal(peer_watch_due(&w, 1500), 1);
	/* once */
	assert_int_equal(peer_watch_due(&w, 1500), 0);
	assert_int_equal(peer_watch_due(&w, 99999), 0);
	assert_int_equal(w.heard, 0);
}

static void test_heartbeats_keep_it_standing_by(void **state)
{
	struct peer_watch w;
	int64_t t;

	(void)state;
	peer_watch_init(&w, 500, 0);
	for (t = 50; t <= 10000; t += 50) {
		peer_watch_heard(&w, t, 3, (uint64_t)t / 50);
		assert_int_equal(peer_watch_due(&w, t + 49), 0);
	}
	assert_int_equal(w.heard, 200);
	assert_int_equal(w.last_epoch, 3);
	assert_int_equal(w.last_seq, 200);
	/* the last one came at 10000: silent from there */
	assert_int_equal(peer_watch_silence(&w, 10400), 400);
	assert_int_equal(peer_watch_due(&w, 10499), 0);
	assert_int_equal(peer_watch_due(&w, 10512), 1);
	assert_int_equal(peer_watch_silence(&w, 10512), 512);
	assert_int_equal(peer_watch_due(&w, 10600), 0);
}

static void test_gap_shorter_than_timeout(void **state)
{
	struct peer_watch w;

	(void)state;
	peer_watch_init(&w, 500, 0);
	peer_watch_heard(&w, 100, 1, 1);
	assert_int_equal(peer_watch_due(&w, 599), 0);
	peer_watch_heard(&w, 599, 1, 2); /* just in time */
	assert_int_equal(peer_watch_due(&w, 1098), 0);
	assert_int_equal(peer_watch_due(&w, 1099), 1);
}

static void test_never_before_one_timeout_after_start(void **state)
{
	struct peer_watch w;

	(void)state;
	/* A heartbeat timestamp from before start (clock skew between
	 * reading now and init) must not shorten the first timeout. */
	peer_watch_init(&w, 500, 1000);
	peer_watch_heard(&w, 900, 1, 1);
	assert_int_equal(peer_watch_silence(&w, 1200), 200);
	assert_int_equal(peer_watch_due(&w, 1499), 0);
	assert_int_equal(peer_watch_due(&w, 1500), 1);
}

static void test_out_of_order_time(void **state)
{
	struct peer_watch w;

	(void)state;
	peer_watch_init(&w, 100, 0);
	peer_watch_heard(&w, 80, 1, 2);
	peer_watch_heard(&w, 70, 1, 1); /* an older timestamp does not move last back */
	assert_int_equal(w.last_ms, 80);
	assert_int_equal(peer_watch_silence(&w, 50), 0); /* now before last: no silence */
	assert_int_equal(peer_watch_due(&w, 179), 0);
	assert_int_equal(peer_watch_due(&w, 180), 1);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_heartbeat),
		cmocka_unit_test(test_heartbeats_keep_it_standing_by),
		cmocka_unit_test(test_gap_shorter_than_timeout),
		cmocka_unit_test(test_never_before_one_timeout_after_start),
		cmocka_unit_test(test_out_of_order_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
