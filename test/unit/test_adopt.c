/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of re-adoption after an agent restart (agent/adopt.c): when the
 * state in the maps is taken as the shard's live state (epoch, sets and
 * sequencer kept) and when the shard gets a fresh start, and the plan for a
 * re-adopted shard (which replicas stay in its sets).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "adopt.h"

static struct dalio_config cfg;
static struct adopt_info ad;
static struct replica_probe probes[DALIO_MAX_REPLICAS];

static int setup(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(dalio_config_parse_string(
				 "lb: {interface: lb0}\n"
				 "shards:\n"
				 "  - {id: 2, vip: 10.0.0.100, port: 7379,\n"
				 "     replicas: [10.0.0.11:1, 10.0.0.12:1, 10.0.0.13:1]}\n",
				 "t.yaml", &cfg, err, sizeof(err)),
			 0);
	/* What the maps hold after a restart under load. */
	memset(&ad, 0, sizeof(ad));
	ad.found = 1;
	ad.cfg = (struct dalio_shard_cfg){.shard = 2,
					  .epoch = 5,
					  .write_mask = 0x7,
					  .read_mask = 0x7,
					  .mode = DALIO_MODE_PB,
					  .n_replicas = 3};
	ad.same_replicas = 1;
	ad.next_seq = 1000;
	ad.max_completed = 995;
	ad.in_flight = 4;
	/* Replicas at different points of the in-flight writes. */
	for (int i = 0; i < 3; i++)
		probes[i] = (struct replica_probe){
			.answered = 1, .epoch = 5, .applied = 995 + (uint64_t)i, .have_mac = 1};
	return 0;
}

static void test_adopted(void **state)
{
	struct shard_plan plan;

	(void)state;
	assert_int_equal(adopt_decide(&cfg.shards[0], probes, &ad), 1);
	assert_null(ad.why);
	/* Every replica stays, although they are at different applied seqs:
	 * fresh planning would leave the two behind out of the sets. */
	assert_int_equal(adopt_plan(&cfg.shards[0], probes, &ad, &plan), 3);
	assert_int_equal(plan.epoch, 5);
	assert_int_equal(plan.write_mask, 0x7);
	assert_int_equal(plan.read_mask, 0x7);
	/* shard_install must not touch the live sequencer. */
	assert_int_equal(plan.applied, 995);
}

static void test_sets_kept(void **state)
{
	struct shard_plan plan;

	(void)state;
	ad.cfg.write_mask = 0x3; /* replica 2 was out (failed) before the restart */
	ad.cfg.read_mask = 0x1;	 /* replica 1 did not serve reads */
	probes[1].answered = 1;
	assert_int_equal(adopt_decide(&cfg.shards[0], probes, &ad), 1);
	assert_int_equal(adopt_plan(&cfg.shards[0], probes, &ad, &plan), 2);
	assert_int_equal(plan.write_mask, 0x3);
	assert_int_equal(plan.read_mask, 0x1);

	/* Silent, no MAC, lost completed writes: left out. */
	ad.cfg.write_mask = ad.cfg.read_mask = 0x7;
	probes[0].answered = 0;
	probes[1].have_mac = 0;
	probes[2].applied = 990;
	assert_int_equal(adopt_decide(&cfg.shards[0], probes, &ad), 1);
	assert_int_equal(adopt_plan(&cfg.shards[0], probes, &ad, &plan), 0);
	assert_int_equal(plan.write_mask, 0);
	assert_int_equal(plan.read_mask, 0);
}

static void expect_fresh(const char *why)
{
	assert_int_equal(adopt_decide(&cfg.shards[0], probes, &ad), 0);
	assert_non_null(ad.why);
	assert_string_equal(ad.why, why);
}

static void test_fresh_start(void **state)
{
	(void)state;
	ad.found = 0;
	assert_int_equal(adopt_decide(&cfg.shards[0], probes, &ad), 0);
	assert_null(ad.why);
	setup(NULL);
	ad.cfg.shard = 3;
	expect_fresh("the VIP served another shard id");
	setup(NULL);
	ad.same_replicas = 0;
	expect_fresh("its replicas changed in the configuration");
	setup(NULL);
	ad.cfg.write_mask = 0;
	expect_fresh("it had no replica in its write set");
	setup(NULL);
	ad.next_seq = 0;
	expect_fresh("it had no replica in its write set");
	setup(NULL);
	probes[1].epoch = 6;
	expect_fresh("a replica has seen a newer epoch");
	setup(NULL);
	probes[2].applied = 1000; /* = next_seq: never handed out by these maps */
	expect_fresh("a replica applied writes the maps never sequenced");
	/* A replica that does not answer cannot veto. */
	probes[2].answered = 0;
	assert_int_equal(adopt_decide(&cfg.shards[0], probes, &ad), 1);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_adopted, setup),
		cmocka_unit_test_setup(test_sets_kept, setup),
		cmocka_unit_test_setup(test_fresh_start, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
