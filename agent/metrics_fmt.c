/* SPDX-License-Identifier: MIT */
/* Prometheus text exposition and status table; see metrics_fmt.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "agent_state.h"
#include "metrics_fmt.h"

#define NO_STAT (-1)
#define STR_(x) #x
#define STR(x)	STR_(x)

void metrics_escape(char *out, size_t outlen, const char *in)
{
	size_t o = 0;

	if (!outlen)
		return;
	for (; *in && o + 3 < outlen; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

/* Shards taken out by SIGHUP keep their slot but are not shown. */
static int shown(const struct metrics_view *v, unsigned i)
{
	return !v->rt || !v->rt[i].removed;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels every per-shard series carries: shard="<id>",name="<name>". */
static void shard_labels(char *out, size_t outlen, const struct dalio_shard_def *s)
{
	char name[2 * sizeof(s->name)];

	metrics_escape(name, sizeof(name), s->name);
	snprintf(out, outlen, "shard=\"%u\",name=\"%s\"", s->id, name);
}

static void replica_labels(char *out, size_t outlen, const struct dalio_shard_def *s, unsigned i)
{
	char sl[160], addr[2 * sizeof(s->replicas[i].addr)];

	shard_labels(sl, sizeof(sl), s);
	metrics_escape(addr, sizeof(addr), s->replicas[i].addr);
	snprintf(out, outlen, "%s,replica=\"%s\",index=\"%u\"", sl, addr, i);
}

static unsigned popcount(uint32_t x)
{
	return (unsigned)__builtin_popcount(x);
}

/* One value of a counter family with a kind-like label, from one or two stats. */
struct stat_item {
	const char *label; /* label value, NULL: no extra label */
	int a, b;	   /* stats summed (b may be NO_STAT) */
};

struct stat_family {
	const char *name, *help, *label; /* label: the extra label's name */
	struct stat_item items[5];
};

static const struct stat_family stat_families[] = {
	{"dalio_requests_total",
	 "Client requests handled by the data path: writes sequenced, reads forwarded.",
	 "kind",
	 {{"write", DALIO_STAT_WRITES, NO_STAT},
	  {"read", DALIO_STAT_READS_CLEAN, DALIO_STAT_READS_DIRTY}}},
	{"dalio_reads_total",
	 "Reads by the key's state: clean (stamped with the shard's completed seq), dirty "
	 "(key has pending writes), dirty_acked (dirty, sent to a replica that already acked).",
	 "kind",
	 {{"clean", DALIO_STAT_READS_CLEAN, NO_STAT},
	  {"dirty", DALIO_STAT_READS_DIRTY, NO_STAT},
	  {"dirty_acked", DALIO_STAT_READS_ACKED, NO_STAT}}},
	{"dalio_acks_total",
	 "Replica acks: counted, duplicate (replica already counted), stale (write no longer "
	 "pending).",
	 "result",
	 {{"counted", DALIO_STAT_ACKS, NO_STAT},
	  {"duplicate", DALIO_STAT_ACKS_DUP, NO_STAT},
	  {"stale", DALIO_STAT_ACKS_STALE, NO_STAT}}},
	{"dalio_replies_total",
	 "Replies sent to clients (completed writes and read answers).",
	 NULL,
	 {{NULL, DALIO_STAT_REPLIES, NO_STAT}}},
	{"dalio_fanout_copies_total",
	 "Write copies sent to replicas, by fan-out path (tc clones, devmap egress).",
	 "path",
	 {{"tc", DALIO_STAT_FANOUT_COPIES, NO_STAT},
	  {"devmap", DALIO_STAT_DEVMAP_COPIES, NO_STAT}}},
	{"dalio_devmap_skipped_total",
	 "Devmap broadcast copies dropped because no replica of the write is behind that "
	 "interface.",
	 NULL,
	 {{NULL, DALIO_STAT_DEVMAP_SKIPPED, NO_STAT}}},
	{"dalio_nacks_total",
	 "Replica NACKs (requests for missing writes) the data path passed to the agent.",
	 NULL,
	 {{NULL, DALIO_STAT_NACKS, NO_STAT}}},
	{"dalio_commits_total",
	 "vr mode: COMMITs the data path sent to the replica whose PREPARE_OK completed a "
	 "quorum (it then executes the op and returns its result).",
	 NULL,
	 {{NULL, DALIO_STAT_COMMITS, NO_STAT}}},
	{"dalio_refused_total",
	 "Requests answered with a retryable refusal: busy (pending ring slot or client table "
	 "full, or lost the race for the sequencer), no_replica (empty write or read set).",
	 "reason",
	 {{"busy", DALIO_STAT_REFUSED_BUSY, NO_STAT},
	  {"no_replica", DALIO_STAT_REFUSED_NOREP, NO_STAT}}},
	{"dalio_drops_total",
	 "Dalio packets to the VIP dropped or refused: malformed, not_replica (replica-only "
	 "message from a host that is not a configured replica), bad_shard (header names "
	 "another shard).",
	 "reason",
	 {{"malformed", DALIO_STAT_DROP_MALFORMED, NO_STAT},
	  {"not_replica", DALIO_STAT_DROP_NOT_REPLICA, NO_STAT},
	  {"bad_shard", DALIO_STAT_DROP_BAD_SHARD, NO_STAT}}},
	{"dalio_write_retries_total",
	 "Client retries of writes: resent (original pending: re-sent to unacked replicas), "
	 "replayed (completed: reply replayed), stale (older than the client's last), "
	 "mismatch (request id reused with other content).",
	 "result",
	 {{"resent", DALIO_STAT_RETRY_PENDING, NO_STAT},
	  {"replayed", DALIO_STAT_RETRY_REPLAYED, NO_STAT},
	  {"stale", DALIO_STAT_RETRY_STALE, NO_STAT},
	  {"mismatch", DALIO_STAT_RETRY_MISMATCH, NO_STAT}}},
};

static uint64_t lag_of(uint64_t completed, uint64_t applied)
{
	return completed > applied ? completed - applied : 0;
}

/* Per-shard gauges and counters that need no stats table. */
enum shard_gauge {
	G_UP,
	G_EPOCH,
	G_NEXT_SEQ,
	G_COMPLETED,
	G_PENDING,
	G_OLDEST,
	G_DIRTY,
	G_WSET,
	G_RSET,
	G_MAX
};

static const struct {
	const char *name, *type, *help;
} shard_gauges[G_MAX] = {
	[G_UP] = {"dalio_shard_up", "gauge",
		  "1 if the data path serves the shard's VIP:port (it is in vip_map)."},
	[G_EPOCH] = {"dalio_shard_epoch", "gauge", "The shard's epoch (LB incarnation)."},
	[G_NEXT_SEQ] = {"dalio_shard_next_seq", "gauge",
			"Next sequence number the shard's sequencer hands out."},
	[G_COMPLETED] = {"dalio_shard_completed_seq", "gauge",
			 "Highest sequence number whose write completed (acked by the write "
			 "set)."},
	[G_PENDING] = {"dalio_shard_pending_writes", "gauge",
		       "Writes sequenced and not yet acked by the whole write set."},
	[G_OLDEST] = {"dalio_shard_oldest_pending_write_seconds", "gauge",
		      "Age of the oldest pending write (0 when none)."},
	[G_DIRTY] = {"dalio_shard_dirty_buckets", "gauge",
		     "Dirty-key table buckets with pending writes (of " STR(
			     DALIO_DIRTY_BUCKETS) " per shard)."},
	[G_WSET] = {"dalio_shard_write_set_replicas", "gauge",
		    "Replicas every write must reach and be acked by."},
	[G_RSET] = {"dalio_shard_read_set_replicas", "gauge", "Replicas that may serve reads."},
};

static double shard_gauge(enum shard_gauge g, const struct lb_shard_snap *sn)
{
	switch (g) {
	case G_UP:
		return sn->present;
	case G_EPOCH:
		return sn->cfg.epoch;
	case G_NEXT_SEQ:
		return (double)sn->next_seq;
	case G_COMPLETED:
		return (double)sn->max_completed;
	case G_PENDING:
		return sn->in_flight;
	case G_OLDEST:
		return (double)sn->oldest_pending_ns / 1e9;
	case G_DIRTY:
		return sn->dirty_buckets;
	case G_WSET:
		return popcount(sn->cfg.write_mask);
	case G_RSET:
		return popcount(sn->cfg.read_mask);
	case G_MAX:
		break;
	}
	return 0;
}

enum replica_metric {
	R_STATE,
	R_IN_WSET,
	R_IN_RSET,
	R_EPOCH,
	R_APPLIED,
	R_LAG,
	R_RTT,
	R_PONG_AGE,
	R_PINGS,
	R_PONGS,
	R_RETRANSMITS,
	R_NACKS,
	R_FAILURES,
	R_MAX
};

static const struct {
	const char *name, *type, *help;
} replica_metrics[R_MAX] = {
	[R_STATE] = {"dalio_replica_state", "gauge",
		     "1 for the replica's membership state (joining, catching-up, in-sync, "
		     "suspected, failed, removed), 0 for the others."},
	[R_IN_WSET] = {"dalio_replica_in_write_set", "gauge",
		       "1 if the replica is in the shard's write set."},
	[R_IN_RSET] = {"dalio_replica_in_read_set", "gauge",
		       "1 if the replica is in the shard's read set."},
	[R_EPOCH] = {"dalio_replica_epoch", "gauge", "Epoch in the replica's last answer."},
	[R_APPLIED] = {"dalio_replica_applied_seq", "gauge",
		       "Highest sequence number the replica has applied (its last answer)."},
	[R_LAG] = {"dalio_replica_lag_writes", "gauge",
		   "Completed writes the replica had not applied at its last answer "
		   "(shard completed seq - applied, at least 0)."},
	[R_RTT] = {"dalio_replica_rtt_seconds", "gauge",
		   "Smoothed PING round trip to the replica."},
	[R_PONG_AGE] = {"dalio_replica_last_answer_age_seconds", "gauge",
			"Time since the replica last answered the agent."},
	[R_PINGS] = {"dalio_replica_pings_total", "counter", "PINGs the agent sent."},
	[R_PONGS] = {"dalio_replica_pongs_total", "counter", "PONGs the replica answered."},
	[R_RETRANSMITS] = {"dalio_replica_retransmits_total", "counter",
			   "Writes the agent re-sent to the replica."},
	[R_NACKS] = {"dalio_replica_nacks_total", "counter",
		     "NACKs (requests for missing writes) from the replica."},
	[R_FAILURES] = {"dalio_replica_failures_total", "counter",
			"Times the replica was declared failed."},
};

static double replica_value(enum replica_metric m, const struct replica_rt *x,
			    const struct lb_shard_snap *sn, unsigned i, int64_t now_ms)
{
	switch (m) {
	case R_IN_WSET:
		return (sn->cfg.write_mask >> i) & 1;
	case R_IN_RSET:
		return (sn->cfg.read_mask >> i) & 1;
	case R_EPOCH:
		return x->epoch;
	case R_APPLIED:
		return (double)x->applied;
	case R_LAG:
		return (double)lag_of(sn->max_completed, x->applied);
	case R_RTT:
		return x->rtt_ms / 1000.0;
	case R_PONG_AGE:
		return now_ms > x->last_pong_ms ? (double)(now_ms - x->last_pong_ms) / 1000.0 : 0;
	case R_PINGS:
		return (double)x->pings;
	case R_PONGS:
		return (double)x->pongs;
	case R_RETRANSMITS:
		return (double)x->retransmits;
	case R_NACKS:
		return (double)x->nacks;
	case R_FAILURES:
		return (double)x->failures;
	case R_STATE:
	case R_MAX:
		break;
	}
	return 0;
}

/* Integers print exactly; everything else with enough digits. */
static void value(FILE *f, double v)
{
	if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v)
		fprintf(f, "%llu\n", (unsigned long long)v);
	else
		fprintf(f, "%.9g\n", v);
}

int metrics_format(FILE *f, const struct metrics_view *v)
{
	const struct dalio_config *cfg = v->cfg;
	char l[320];

	family(f, "dalio_agent_start_time_seconds", "gauge",
	       "Start time of this dalio-agent process, Unix seconds.");
	fprintf(f, "dalio_agent_start_time_seconds %.3f\n", v->start_time);
	family(f, "dalio_metrics_scrapes_total", "counter", "Metrics requests served.");
	fprintf(f, "dalio_metrics_scrapes_total %llu\n", (unsigned long long)v->scrapes);
	family(f, "dalio_shard_maps_readable", "gauge",
	       "1 if the shard's state could be read from the BPF maps for this scrape.");
	for (unsigned i = 0; i < cfg->n_shards; i++) {
		if (!shown(v, i))
			continue;
		shard_labels(l, sizeof(l), &cfg->shards[i]);
		fprintf(f, "dalio_shard_maps_readable{%s} %d\n", l, v->snap_ok[i] ? 1 : 0);
	}

	for (int g = 0; g < G_MAX; g++) {
		family(f, shard_gauges[g].name, shard_gauges[g].type, shard_gauges[g].help);
		for (unsigned i = 0; i < cfg->n_shards; i++) {
			if (!shown(v, i))
				continue;
			if (!v->snap_ok[i])
				continue;
			shard_labels(l, sizeof(l), &cfg->shards[i]);
			fprintf(f, "%s{%s} ", shard_gauges[g].name, l);
			value(f, shard_gauge((enum shard_gauge)g, &v->snap[i]));
		}
	}

	for (size_t k = 0; k < sizeof(stat_families) / sizeof(stat_families[0]); k++) {
		const struct stat_family *fam = &stat_families[k];

		family(f, fam->name, "counter", fam->help);
		for (unsigned i = 0; i < cfg->n_shards; i++) {
			if (!shown(v, i))
				continue;
			if (!v->snap_ok[i])
				continue;
			shard_labels(l, sizeof(l), &cfg->shards[i]);
			for (int j = 0; j < 5 && (fam->items[j].label || j == 0); j++) {
				const struct stat_item *it = &fam->items[j];
				uint64_t n = v->snap[i].stats[it->a] +
					     (it->b == NO_STAT ? 0 : v->snap[i].stats[it->b]);

				if (fam->label)
					fprintf(f, "%s{%s,%s=\"%s\"} %llu\n", fam->name, l,
						fam->label, it->label, (unsigned long long)n);
				else
					fprintf(f, "%s{%s} %llu\n", fam->name, l,
						(unsigned long long)n);
			}
		}
	}

	if (v->rt) {
		family(f, "dalio_shard_failovers_total", "counter",
		       "Write-set reductions after replica failures.");
		for (unsigned i = 0; i < cfg->n_shards; i++) {
			if (!shown(v, i))
				continue;
			shard_labels(l, sizeof(l), &cfg->shards[i]);
			fprintf(f, "dalio_shard_failovers_total{%s} %llu\n", l,
				(unsigned long long)v->rt[i].failovers);
		}
		for (int m = 0; m < R_MAX; m++) {
			family(f, replica_metrics[m].name, replica_metrics[m].type,
			       replica_metrics[m].help);
			for (unsigned i = 0; i < cfg->n_shards; i++) {
				if (!shown(v, i))
					continue;
				const struct dalio_shard_def *s = &cfg->shards[i];

				for (unsigned r = 0; r < s->n_replicas; r++) {
					const struct replica_rt *x = &v->rt[i].rep[r];

					if ((m == R_IN_WSET || m == R_IN_RSET || m == R_LAG) &&
					    !v->snap_ok[i])
						continue;
					if (m == R_PONG_AGE && !x->last_pong_ms)
						continue;
					replica_labels(l, sizeof(l), s, r);
					if (m == R_STATE) {
						for (unsigned st = REPLICA_JOINING;
						     st <= REPLICA_REMOVED; st++)
							fprintf(f, "%s{%s,state=\"%s\"} %d\n",
								replica_metrics[m].name, l,
								agent_state_name(st),
								x->state == st);
						continue;
					}
					fprintf(f, "%s{%s} ", replica_metrics[m].name, l);
					value(f, replica_value((enum replica_metric)m, x,
							       &v->snap[i], r, v->now_ms));
				}
			}
		}
	}
	return ferror(f) ? -1 : 0;
}

static void sets(char *out, size_t outlen, const struct lb_shard_snap *sn, unsigned i)
{
	int w = (sn->cfg.write_mask >> i) & 1, r = (sn->cfg.read_mask >> i) & 1;

	snprintf(out, outlen, "%s", w && r ? "w,r" : w ? "w" : r ? "r" : "-");
}

int status_format(FILE *f, const struct metrics_view *v)
{
	const struct dalio_config *cfg = v->cfg;

	fprintf(f, "%-5s %-12s %-21s %-4s %-8s %6s %10s %10s %7s %6s %8s\n", "SHARD", "NAME",
		"VIP:PORT", "MODE", "STATE", "EPOCH", "NEXT_SEQ", "COMPLETED", "PENDING", "DIRTY",
		"OLDEST");
	for (unsigned i = 0; i < cfg->n_shards; i++) {
		if (!shown(v, i))
			continue;
		const struct dalio_shard_def *s = &cfg->shards[i];
		const struct lb_shard_snap *sn = &v->snap[i];
		char vip[INET_ADDRSTRLEN], ep[32];

		inet_ntop(AF_INET, &s->vip, vip, sizeof(vip));
		snprintf(ep, sizeof(ep), "%s:%u", vip, s->port);
		if (!v->snap_ok[i]) {
			fprintf(f, "%-5u %-12s %-21s %-4s %-8s (cannot read the maps)\n", s->id,
				s->name, ep, s->mode == DALIO_MODE_VR ? "vr" : "pb", "?");
			continue;
		}
		fprintf(f, "%-5u %-12s %-21s %-4s %-8s %6u %10llu %10llu %7u %6u %7.3fs\n", s->id,
			s->name, ep, s->mode == DALIO_MODE_VR ? "vr" : "pb",
			sn->present ? "serving" : "off", sn->cfg.epoch,
			(unsigned long long)sn->next_seq, (unsigned long long)sn->max_completed,
			sn->in_flight, sn->dirty_buckets, (double)sn->oldest_pending_ns / 1e9);
		fprintf(f, "      %-21s %-12s %10s %8s %-4s %8s %8s\n", "REPLICA", "STATE",
			"APPLIED", "LAG", "SETS", "RTT_MS", "SEEN");
		for (unsigned r = 0; r < s->n_replicas; r++) {
			const struct replica_rt *x = v->rt ? &v->rt[i].rep[r] : NULL;
			char set[8], seen[16] = "never";

			sets(set, sizeof(set), sn, r);
			if (!x) {
				fprintf(f, "      %-21s %-12s %10s %8s %-4s %8s %8s\n",
					s->replicas[r].addr, "?", "?", "?", set, "?", "?");
				continue;
			}
			/* APPLIED and LAG are as of the replica's last answer, SEEN ago. */
			if (x->last_pong_ms)
				snprintf(seen, sizeof(seen), "%.1fs",
					 v->now_ms > x->last_pong_ms
						 ? (double)(v->now_ms - x->last_pong_ms) / 1000
						 : 0.0);
			fprintf(f, "      %-21s %-12s %10llu %8llu %-4s %8.2f %8s\n",
				s->replicas[r].addr, agent_state_name(x->state),
				(unsigned long long)x->applied,
				(unsigned long long)lag_of(sn->max_completed, x->applied), set,
				x->rtt_ms, seen);
		}
	}
	return ferror(f) ? -1 : 0;
}
