/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of what dalio-agent exposes (agent/metrics_fmt.c), on a fake
 * configuration, fake replica states and fake map snapshots: exact values of
 * chosen series (sums of stats, lag, one-hot states, units), the Prometheus
 * text format as a whole (HELP/TYPE once per family and before its samples,
 * sample syntax, counters named *_total, no duplicate series), shards whose
 * maps cannot be read, shards removed by SIGHUP, label escaping, the status
 * table, and the state names (agent/agent_state.c).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_state.h"
#include "metrics_fmt.h"

static struct dalio_config cfg;
static struct shard_rt rt[DALIO_MAX_SHARDS];
static struct lb_shard_snap snap[DALIO_MAX_SHARDS];
static int ok[DALIO_MAX_SHARDS];

static const char yaml[] = "lb: {interface: lb0}\n"
			   "shards:\n"
			   "  - {id: 3, name: users, vip: 10.0.0.100, port: 7379,\n"
			   "     replicas: [10.0.0.11:7400, 10.0.0.12:7400, 10.0.0.13:7400]}\n"
			   "  - {id: 0, vip: 10.0.0.101, port: 7380, replicas: [10.0.0.11:7401]}\n";

static int setup(void **state)
{
	char err[256];
	struct lb_shard_snap *s = &snap[0];

	(void)state;
	memset(rt, 0, sizeof(rt));
	memset(snap, 0, sizeof(snap));
	assert_int_equal(dalio_config_parse_string(yaml, "t.yaml", &cfg, err, sizeof(err)), 0);
	ok[0] = ok[1] = 1;

	s->present = 1;
	s->cfg.epoch = 7;
	s->cfg.write_mask = 0x3;
	s->cfg.read_mask = 0x1;
	s->next_seq = 1001;
	s->max_completed = 998;
	s->in_flight = 2;
	s->dirty_buckets = 2;
	s->pending_slots = 2;
	s->oldest_pending_ns = 1500000000; /* 1.5 s */
	for (int i = 0; i < DALIO_STAT_MAX; i++)
		s->stats[i] = 100 + (uint64_t)i; /* distinct */

	rt[0].failovers = 4;
	rt[0].rep[0] = (struct replica_rt){.state = REPLICA_IN_SYNC,
					   .epoch = 7,
					   .applied = 990,
					   .rtt_ms = 0.25,
					   .last_pong_ms = 9000,
					   .pings = 50,
					   .pongs = 49,
					   .retransmits = 3,
					   .nacks = 2,
					   .failures = 1};
	rt[0].rep[1] = (struct replica_rt){.state = REPLICA_CATCHING_UP, .applied = 1000};
	rt[0].rep[2] = (struct replica_rt){.state = REPLICA_FAILED, .applied = 10};

	snap[1].present = 0;
	snap[1].next_seq = 1;
	rt[1].rep[0].state = REPLICA_JOINING;
	return 0;
}

static char *render(int (*fn)(FILE *, const struct metrics_view *), int with_rt)
{
	struct metrics_view v = {.cfg = &cfg,
				 .rt = with_rt ? rt : NULL,
				 .snap = snap,
				 .snap_ok = ok,
				 .now_ms = 10000,
				 .start_time = 1700000000.5,
				 .scrapes = 12};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, &v), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* The line must be in out, whole. */
static void has_line(const char *out, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = out; (p = strstr(p, line)); p++)
		if ((p == out || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
	print_error("missing line: [%s]\nin:\n%s\n", line, out);
	fail();
}

/* has_line with a number formatted in. */
__attribute__((format(printf, 2, 3))) static void stat_line(const char *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	has_line(out, line);
}

static void lacks(const char *out, const char *needle)
{
	if (strstr(out, needle)) {
		print_error("unexpected: %s\n", needle);
		fail();
	}
}

#define U3 "shard=\"3\",name=\"users\""
#define R0 U3 ",replica=\"10.0.0.11:7400\",index=\"0\""
#define R1 U3 ",replica=\"10.0.0.12:7400\",index=\"1\""
#define R2 U3 ",replica=\"10.0.0.13:7400\",index=\"2\""

static void test_values(void **state)
{
	char *out = render(metrics_format, 1);

	(void)state;
	has_line(out, "dalio_agent_start_time_seconds 1700000000.500");
	has_line(out, "dalio_metrics_scrapes_total 12");
	has_line(out, "dalio_shard_maps_readable{" U3 "} 1");
	has_line(out, "dalio_shard_up{" U3 "} 1");
	has_line(out, "dalio_shard_up{shard=\"0\",name=\"shard0\"} 0");
	has_line(out, "dalio_shard_epoch{" U3 "} 7");
	has_line(out, "dalio_shard_next_seq{" U3 "} 1001");
	has_line(out, "dalio_shard_completed_seq{" U3 "} 998");
	has_line(out, "dalio_shard_pending_writes{" U3 "} 2");
	has_line(out, "dalio_shard_oldest_pending_write_seconds{" U3 "} 1.5");
	has_line(out, "dalio_shard_dirty_buckets{" U3 "} 2");
	has_line(out, "dalio_shard_write_set_replicas{" U3 "} 2");
	has_line(out, "dalio_shard_read_set_replicas{" U3 "} 1");
	/* stats: value 100 + enum index */
	stat_line(out, "dalio_requests_total{" U3 ",kind=\"write\"} %d", 100 + DALIO_STAT_WRITES);
	stat_line(out, "dalio_requests_total{" U3 ",kind=\"read\"} %d",
		  200 + DALIO_STAT_READS_CLEAN + DALIO_STAT_READS_DIRTY);
	stat_line(out, "dalio_reads_total{" U3 ",kind=\"clean\"} %d", 100 + DALIO_STAT_READS_CLEAN);
	stat_line(out, "dalio_reads_total{" U3 ",kind=\"dirty\"} %d", 100 + DALIO_STAT_READS_DIRTY);
	stat_line(out, "dalio_reads_total{" U3 ",kind=\"dirty_acked\"} %d",
		  100 + DALIO_STAT_READS_ACKED);
	stat_line(out, "dalio_acks_total{" U3 ",result=\"counted\"} %d", 100 + DALIO_STAT_ACKS);
	stat_line(out, "dalio_acks_total{" U3 ",result=\"duplicate\"} %d",
		  100 + DALIO_STAT_ACKS_DUP);
	stat_line(out, "dalio_acks_total{" U3 ",result=\"stale\"} %d", 100 + DALIO_STAT_ACKS_STALE);
	stat_line(out, "dalio_replies_total{" U3 "} %d", 100 + DALIO_STAT_REPLIES);
	stat_line(out, "dalio_fanout_copies_total{" U3 ",path=\"tc\"} %d",
		  100 + DALIO_STAT_FANOUT_COPIES);
	stat_line(out, "dalio_fanout_copies_total{" U3 ",path=\"devmap\"} %d",
		  100 + DALIO_STAT_DEVMAP_COPIES);
	stat_line(out, "dalio_devmap_skipped_total{" U3 "} %d", 100 + DALIO_STAT_DEVMAP_SKIPPED);
	stat_line(out, "dalio_nacks_total{" U3 "} %d", 100 + DALIO_STAT_NACKS);
	stat_line(out, "dalio_refused_total{" U3 ",reason=\"busy\"} %d",
		  100 + DALIO_STAT_REFUSED_BUSY);
	stat_line(out, "dalio_refused_total{" U3 ",reason=\"no_replica\"} %d",
		  100 + DALIO_STAT_REFUSED_NOREP);
	stat_line(out, "dalio_drops_total{" U3 ",reason=\"malformed\"} %d",
		  100 + DALIO_STAT_DROP_MALFORMED);
	stat_line(out, "dalio_drops_total{" U3 ",reason=\"not_replica\"} %d",
		  100 + DALIO_STAT_DROP_NOT_REPLICA);
	stat_line(out, "dalio_drops_total{" U3 ",reason=\"bad_shard\"} %d",
		  100 + DALIO_STAT_DROP_BAD_SHARD);
	stat_line(out, "dalio_write_retries_total{" U3 ",result=\"resent\"} %d",
		  100 + DALIO_STAT_RETRY_PENDING);
	stat_line(out, "dalio_write_retries_total{" U3 ",result=\"replayed\"} %d",
		  100 + DALIO_STAT_RETRY_REPLAYED);
	stat_line(out, "dalio_write_retries_total{" U3 ",result=\"stale\"} %d",
		  100 + DALIO_STAT_RETRY_STALE);
	stat_line(out, "dalio_write_retries_total{" U3 ",result=\"mismatch\"} %d",
		  100 + DALIO_STAT_RETRY_MISMATCH);
	stat_line(out, "dalio_commits_total{" U3 "} %d", 100 + DALIO_STAT_COMMITS);
	/* a stat added after COMMITS needs a series (and a line here) */
	assert_int_equal(DALIO_STAT_COMMITS, DALIO_STAT_MAX - 1);
	has_line(out, "dalio_shard_failovers_total{" U3 "} 4");
	/* replicas */
	has_line(out, "dalio_replica_state{" R0 ",state=\"in-sync\"} 1");
	has_line(out, "dalio_replica_state{" R0 ",state=\"joining\"} 0");
	has_line(out, "dalio_replica_state{" R0 ",state=\"failed\"} 0");
	has_line(out, "dalio_replica_state{" R1 ",state=\"catching-up\"} 1");
	has_line(out, "dalio_replica_state{" R2 ",state=\"failed\"} 1");
	has_line(out, "dalio_replica_in_write_set{" R0 "} 1");
	has_line(out, "dalio_replica_in_write_set{" R2 "} 0");
	has_line(out, "dalio_replica_in_read_set{" R1 "} 0");
	has_line(out, "dalio_replica_epoch{" R0 "} 7");
	has_line(out, "dalio_replica_applied_seq{" R0 "} 990");
	has_line(out, "dalio_replica_lag_writes{" R0 "} 8");
	has_line(out, "dalio_replica_lag_writes{" R1 "} 0"); /* ahead of completed: 0 */
	has_line(out, "dalio_replica_lag_writes{" R2 "} 988");
	has_line(out, "dalio_replica_rtt_seconds{" R0 "} 0.00025");
	has_line(out, "dalio_replica_last_answer_age_seconds{" R0 "} 1");
	lacks(out, "dalio_replica_last_answer_age_seconds{" R1 "}"); /* never answered */
	has_line(out, "dalio_replica_pings_total{" R0 "} 50");
	has_line(out, "dalio_replica_pongs_total{" R0 "} 49");
	has_line(out, "dalio_replica_retransmits_total{" R0 "} 3");
	has_line(out, "dalio_replica_nacks_total{" R0 "} 2");
	has_line(out, "dalio_replica_failures_total{" R0 "} 1");
	has_line(out, "dalio_replica_state{shard=\"0\",name=\"shard0\",replica=\"10.0.0.11:7401\","
		      "index=\"0\",state=\"joining\"} 1");
	free(out);
}

/* Splits "name{labels} value" and checks its syntax. Returns the family's name
 * length; *series_len covers name and labels. */
static size_t check_sample(const char *line, size_t *series_len)
{
	const char *p = line, *brace, *sp;
	char *end;

	assert_true(isalpha((unsigned char)*p) || *p == '_');
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
		p++;
	brace = p;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			/* label="value" with escapes */
			assert_true(isalpha((unsigned char)*p) || *p == '_');
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			assert_int_equal(*p++, '=');
			assert_int_equal(*p++, '"');
			while (*p != '"') {
				assert_true(*p && *p != '\n');
				if (*p == '\\') {
					p++;
					assert_true(*p == '\\' || *p == '"' || *p == 'n');
				}
				p++;
			}
			p++;
			if (*p == ',')
				p++;
			else
				assert_int_equal(*p, '}');
		}
		p++;
	}
	sp = p;
	assert_int_equal(*sp, ' ');
	strtod(sp + 1, &end);
	assert_true(end > sp + 1 && *end == '\0');
	*series_len = (size_t)(sp - line);
	return (size_t)(brace - line);
}

static void test_format(void **state)
{
	char *out = render(metrics_format, 1), *save = NULL, *line;
	char types[64][80], series[1024][200];
	int ntypes = 0, nseries = 0, helped = 0;

	(void)state;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[80], kind[16];
		size_t flen, slen;
		int t;

		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%79s", name), 1);
			assert_true(strlen(line) > 8 + strlen(name)); /* has a text */
			for (t = 0; t < ntypes; t++)
				assert_string_not_equal(types[t], name);
			helped = 1;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_true(helped); /* HELP right before TYPE */
			helped = 0;
			assert_int_equal(sscanf(line + 7, "%79s %15s", name, kind), 2);
			assert_true(strcmp(kind, "counter") == 0 || strcmp(kind, "gauge") == 0);
			if (strcmp(kind, "counter") == 0)
				assert_string_equal(name + strlen(name) - 6, "_total");
			for (t = 0; t < ntypes; t++)
				assert_string_not_equal(types[t], name);
			assert_true(ntypes < 64);
			strcpy(types[ntypes++], name);
			continue;
		}
		assert_int_not_equal(line[0], '#');
		flen = check_sample(line, &slen);
		/* samples belong to the family whose TYPE came last */
		assert_true(ntypes > 0);
		assert_int_equal(flen, strlen(types[ntypes - 1]));
		assert_memory_equal(line, types[ntypes - 1], flen);
		assert_true(slen < sizeof(series[0]));
		for (int s = 0; s < nseries; s++)
			assert_false(strlen(series[s]) == slen &&
				     memcmp(series[s], line, slen) == 0);
		assert_true(nseries < 1024);
		memcpy(series[nseries], line, slen);
		series[nseries++][slen] = '\0';
	}
	assert_true(ntypes > 30);
	assert_true(nseries > 100);
	free(out);
}

static void test_unreadable_and_no_rt(void **state)
{
	char *out;

	(void)state;
	ok[0] = 0;
	out = render(metrics_format, 0);
	has_line(out, "dalio_shard_maps_readable{" U3 "} 0");
	has_line(out, "dalio_shard_maps_readable{shard=\"0\",name=\"shard0\"} 1");
	lacks(out, "dalio_shard_next_seq{" U3 "}");
	lacks(out, "dalio_requests_total{" U3);
	has_line(out, "dalio_shard_next_seq{shard=\"0\",name=\"shard0\"} 1");
	lacks(out, "dalio_replica_"); /* no agent view: no replica series */
	lacks(out, "dalio_shard_failovers_total");
	free(out);
	ok[0] = 1;
}

static void test_removed_shard(void **state)
{
	char *out;

	(void)state;
	rt[1].removed = 1; /* SIGHUP took shard 0 out; its slot stays */
	rt[0].rep[2].state = REPLICA_REMOVED;
	out = render(metrics_format, 1);
	lacks(out, "shard=\"0\"");
	has_line(out, "dalio_replica_state{" R2 ",state=\"removed\"} 1");
	has_line(out, "dalio_replica_state{" R2 ",state=\"failed\"} 0");
	free(out);
	out = render(status_format, 1);
	lacks(out, "shard0");
	has_line(out, "      10.0.0.13:7400        removed              10      988 -        0.00 "
		      "   never");
	free(out);
}

static void test_escape(void **state)
{
	char buf[64], tiny[6];

	(void)state;
	metrics_escape(buf, sizeof(buf), "a\"b\\c\nd");
	assert_string_equal(buf, "a\\\"b\\\\c\\nd");
	metrics_escape(tiny, sizeof(tiny), "\"\"\"\"");
	assert_string_equal(tiny, "\\\"\\\""); /* never half an escape */
	metrics_escape(tiny, sizeof(tiny), "abcdefgh");
	assert_string_equal(tiny, "abc");
}

static void test_status(void **state)
{
	char *out;

	(void)state;
	out = render(status_format, 1);
	assert_memory_equal(out, "SHARD NAME ", 11);
	has_line(out, "3     users        10.0.0.100:7379       pb   serving       7       1001 "
		      "       998       2      2   1.500s");
	has_line(out, "      10.0.0.11:7400        in-sync             990        8 w,r      0.25 "
		      "    1.0s");
	has_line(out, "      10.0.0.12:7400        catching-up        1000        0 w        0.00 "
		      "   never");
	has_line(out, "      10.0.0.13:7400        failed               10      988 -        0.00 "
		      "   never");
	has_line(out, "0     shard0       10.0.0.101:7380       pb   off           0          1 "
		      "         0       0      0   0.000s");
	free(out);

	ok[1] = 0;
	out = render(status_format, 0);
	has_line(out, "      10.0.0.11:7400        ?                     ?        ? w,r         ? "
		      "       ?");
	has_line(out,
		 "0     shard0       10.0.0.101:7380       pb   ?        (cannot read the maps)");
	free(out);
	ok[1] = 1;
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(agent_state_name(REPLICA_JOINING), "joining");
	assert_string_equal(agent_state_name(REPLICA_CATCHING_UP), "catching-up");
	assert_string_equal(agent_state_name(REPLICA_IN_SYNC), "in-sync");
	assert_string_equal(agent_state_name(REPLICA_SUSPECTED), "suspected");
	assert_string_equal(agent_state_name(REPLICA_FAILED), "failed");
	assert_string_equal(agent_state_name(REPLICA_REMOVED), "removed");
	assert_string_equal(agent_state_name(99), "unknown");
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_values, setup),
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test_setup(test_unreadable_and_no_rt, setup),
		cmocka_unit_test_setup(test_removed_shard, setup),
		cmocka_unit_test(test_escape),
		cmocka_unit_test_setup(test_status, setup),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
