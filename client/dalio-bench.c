/* SPDX-License-Identifier: MIT */
/*
 * dalio-bench: closed-loop load generator for a Dalio VIP. N threads, each
 * with its own dalio_client, run SET key:<i> <unique value> / GET key:<i> on
 * uniformly chosen keys for a bounded time, report throughput and latency
 * percentiles, and can record every operation to a history file for a
 * linearizability checker.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dalio.h"
#include "hist.h"

#define MAX_CLIENTS 1024

struct config {
	const char *host;
	long port;
	long clients;
	double read_ratio;
	long keys;
	long value_size;
	double duration_s;
	double warmup_s;
	uint64_t seed;
	int json;
	const char *history;
	long timeout_ms;
	long retries;
	long shard;
};

struct worker {
	int idx;
	pthread_t th;
	struct dalio_client *c;
	uint64_t rng;
	uint64_t nwrites;
	char *value; /* value_size + room for the unique prefix */
	int64_t last_complete;
	struct hist lat; /* ok ops invoked in the measured window, ns */
	/* read by the progress printer while the thread runs */
	_Atomic uint64_t done_ok, done_err, tries_extra;
	/* measured window only */
	uint64_t m_ok, m_fail, m_unknown, m_retries;
};

static struct config cfg;
static int64_t t_start, t_measure, t_end;
static FILE *history;
static char run_tag[20];
static atomic_int stop_flag;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: fine statistical quality, trivially seedable per thread */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

/* Writes s to f with bytes that would break the line format as \xHH. */
static void put_token(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch >= 127 || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			putc_unlocked(ch, f);
	}
}

static void record_history(const struct worker *w, char op, const char *key, const char *value,
			   const redisReply *reply, int64_t invoke, int64_t complete,
			   const char *outcome)
{
	flockfile(history);
	fprintf(history, "%d %c %s ", w->idx, op, key);
	if (value)
		put_token(history, value, strlen(value));
	else
		putc_unlocked('-', history);
	putc_unlocked(' ', history);
	if (op == 'r' && reply && reply->type == REDIS_REPLY_STRING)
		put_token(history, reply->str, reply->len);
	else if (op == 'r' && reply && reply->type == REDIS_REPLY_NIL)
		fputs("nil", history);
	else
		putc_unlocked('-', history);
	fprintf(history, " %" PRId64 " %" PRId64 " %s\n", invoke, complete, outcome);
	funlockfile(history);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char key[32], err[512];

	/* bounded by --duration: no op starts after t_end */
	while (!atomic_load(&stop_flag) && now_ns() < t_end) {
		uint64_t k = rng_next(&w->rng) % (uint64_t)cfg.keys;
		int is_read = rng_unit(&w->rng) < cfg.read_ratio;
		struct dalio_result res;
		redisReply *reply = NULL;
		const char *argv[3], *outcome;
		int64_t invoke, complete;
		int rc, argc, ok;

		snprintf(key, sizeof(key), "key:%" PRIu64, k);
		if (is_read) {
			argv[0] = "GET";
			argv[1] = key;
			argc = 2;
		} else {
			int n = snprintf(w->value, (size_t)cfg.value_size + 64, "%s-c%d-%" PRIu64,
					 run_tag, w->idx, ++w->nwrites);

			/* pad to --value-size; the unique prefix is never cut */
			if (n < cfg.value_size) {
				memset(w->value + n, '.', (size_t)(cfg.value_size - n));
				w->value[cfg.value_size] = '\0';
			}
			argv[0] = "SET";
			argv[1] = key;
			argv[2] = w->value;
			argc = 3;
		}

		invoke = now_ns();
		rc = dalio_command_argv_ex(w->c, argc, argv, NULL, &reply, &res, err, sizeof(err));
		complete = now_ns();
		w->last_complete = complete;

		ok = rc == 0 && reply->type != REDIS_REPLY_ERROR &&
		     (is_read ? reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL
			      : reply->type == REDIS_REPLY_STATUS);
		outcome = ok ? "ok" : res.definite ? "fail" : "unknown";
		if (history)
			record_history(w, is_read ? 'r' : 'w', key, is_read ? NULL : w->value,
				       reply, invoke, complete, outcome);

		if (ok)
			atomic_fetch_add_explicit(&w->done_ok, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&w->done_err, 1, memory_order_relaxed);
		if (res.tries > 1)
			atomic_fetch_add_explicit(&w->tries_extra, (uint64_t)(res.tries - 1),
						  memory_order_relaxed);
		if (invoke >= t_measure) {
			if (ok) {
				w->m_ok++;
				hist_record(&w->lat, (uint64_t)(complete - invoke));
			} else if (res.definite) {
				w->m_fail++;
			} else {
				w->m_unknown++;
			}
			if (res.tries > 1)
				w->m_retries += (uint64_t)(res.tries - 1);
		}
		if (reply)
			freeReplyObject(reply);
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dalio-bench [options]\n"
		"Closed-loop SET/GET load against a Dalio VIP.\n"
		"  --host IP          VIP address (default 127.0.0.1)\n"
		"  --port N           VIP UDP port (default 7379)\n"
		"  --clients N        threads, one dalio client each (default 4)\n"
		"  --read-ratio R     fraction of GETs, 0..1 (default 0.5)\n"
		"  --keys K           keys key:0..key:K-1, chosen uniformly (default 1000)\n"
		"  --value-size B     bytes per written value (default 16; values are unique\n"
		"                     per write, so they are never shorter than their id)\n"
		"  --duration S       measured seconds (default 10)\n"
		"  --warmup S         seconds before measuring (default 1)\n"
		"  --seed N           seed for keys and op mix (default 1)\n"
		"  --timeout MS       client wait per try (default 200)\n"
		"  --retries N        client retransmissions per op (default 8)\n"
		"  --shard N          shard id in requests (default any)\n"
		"  --history FILE     record every op (warmup included), one line each:\n"
		"                     <client> <w|r> <key> <value|-> <result|nil|-> <invoke_ns>\n"
		"                     <complete_ns> <ok|fail|unknown>   (CLOCK_MONOTONIC)\n"
		"  --json             print the summary as a JSON object\n"
		"  --help             this text\n");
}

static int opt_long(const char *name, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "dalio-bench: bad --%s '%s' (%ld..%ld)\n", name, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int opt_double(const char *name, const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "dalio-bench: bad --%s '%s' (%g..%g)\n", name, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"clients", required_argument, NULL, 'c'},
		{"read-ratio", required_argument, NULL, 'r'},
		{"keys", required_argument, NULL, 'k'},
		{"value-size", required_argument, NULL, 'v'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"seed", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"retries", required_argument, NULL, 'R'},
		{"shard", required_argument, NULL, 'S'},
		{"history", required_argument, NULL, 'H'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, '?' + 256},
		{NULL, 0, NULL, 0},
	};
	long seed;
	int opt;

	cfg = (struct config){.host = "127.0.0.1",
			      .port = 7379,
			      .clients = 4,
			      .read_ratio = 0.5,
			      .keys = 1000,
			      .value_size = 16,
			      .duration_s = 10,
			      .warmup_s = 1,
			      .seed = 1,
			      .timeout_ms = 200,
			      .retries = 8,
			      .shard = DALIO_SHARD_ANY};
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int bad = 0;

		switch (opt) {
		case 'h':
			cfg.host = optarg;
			break;
		case 'p':
			bad = opt_long("port", optarg, 1, 65535, &cfg.port);
			break;
		case 'c':
			bad = opt_long("clients", optarg, 1, MAX_CLIENTS, &cfg.clients);
			break;
		case 'r':
			bad = opt_double("read-ratio", optarg, 0, 1, &cfg.read_ratio);
			break;
		case 'k':
			bad = opt_long("keys", optarg, 1, 1000000000, &cfg.keys);
			break;
		case 'v':
			bad = opt_long("value-size", optarg, 1, 1400, &cfg.value_size);
			break;
		case 'd':
			bad = opt_double("duration", optarg, 0.001, 86400, &cfg.duration_s);
			break;
		case 'w':
			bad = opt_double("warmup", optarg, 0, 86400, &cfg.warmup_s);
			break;
		case 's':
			bad = opt_long("seed", optarg, 0, LONG_MAX, &seed);
			cfg.seed = (uint64_t)seed;
			break;
		case 't':
			bad = opt_long("timeout", optarg, 1, 600000, &cfg.timeout_ms);
			break;
		case 'R':
			bad = opt_long("retries", optarg, 0, 1000, &cfg.retries);
			break;
		case 'S':
			bad = opt_long("shard", optarg, 0, 65535, &cfg.shard);
			break;
		case 'H':
			cfg.history = optarg;
			break;
		case 'j':
			cfg.json = 1;
			break;
		case '?' + 256:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "dalio-bench: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !atomic_load(&stop_flag))
		;
}

/* Prints one progress line per second to stderr until t_end or a signal. */
static void progress(struct worker *ws, int n)
{
	int tty = isatty(STDERR_FILENO);
	uint64_t prev = 0;
	int64_t tick = t_start;

	for (long sec = 1; sec <= (long)(cfg.warmup_s + cfg.duration_s) + 1; sec++) {
		uint64_t ok = 0, errs = 0, extra = 0;

		tick += 1000000000;
		if (tick > t_end)
			tick = t_end;
		sleep_until(tick);
		if (atomic_load(&stop_flag))
			break;
		for (int i = 0; i < n; i++) {
			ok += atomic_load_explicit(&ws[i].done_ok, memory_order_relaxed);
			errs += atomic_load_explicit(&ws[i].done_err, memory_order_relaxed);
			extra += atomic_load_explicit(&ws[i].tries_extra, memory_order_relaxed);
		}
		fprintf(stderr,
			"%s[%5.1fs %s] ops=%" PRIu64 " ops/s=%" PRIu64 " errors=%" PRIu64
			" retries=%" PRIu64 "%s",
			tty ? "\r" : "", (double)(tick - t_start) / 1e9,
			tick <= t_measure ? "warmup" : "run", ok, ok - prev, errs, extra,
			tty ? "   " : "\n");
		prev = ok;
		if (tick >= t_end)
			break;
	}
	if (tty)
		fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct dalio_opts o;
	struct hist *all;
	uint64_t ok = 0, fail = 0, unknown = 0, retries = 0, tag;
	int64_t last = 0;
	double elapsed, rate;
	char err[512];
	int rc = 0;

	if (parse_args(argc, argv) < 0)
		return 2;
	if (getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag))
		tag = (uint64_t)now_ns();
	snprintf(run_tag, sizeof(run_tag), "%08" PRIx32, (uint32_t)tag);

	dalio_opts_init(&o);
	o.timeout_ms = (int)cfg.timeout_ms;
	o.max_retries = (int)cfg.retries;
	o.shard = (uint16_t)cfg.shard;

	ws = calloc((size_t)cfg.clients, sizeof(*ws));
	all = malloc(sizeof(*all));
	if (!ws || !all) {
		fprintf(stderr, "dalio-bench: out of memory\n");
		return 1;
	}
	for (int i = 0; i < cfg.clients; i++) {
		struct worker *w = &ws[i];

		w->idx = i;
		w->rng = cfg.seed * 0x100000001b3ULL + (uint64_t)i + 1;
		w->value = malloc((size_t)cfg.value_size + 64);
		hist_init(&w->lat);
		w->c = dalio_connect(cfg.host, (uint16_t)cfg.port, &o, err, sizeof(err));
		if (!w->c || !w->value) {
			fprintf(stderr, "dalio-bench: client %d: %s\n", i,
				w->c ? "out of memory" : err);
			return 1;
		}
	}
	if (cfg.history) {
		history = fopen(cfg.history, "w");
		if (!history) {
			fprintf(stderr, "dalio-bench: %s: %s\n", cfg.history, strerror(errno));
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t_start = now_ns();
	t_measure = t_start + (int64_t)(cfg.warmup_s * 1e9);
	t_end = t_measure + (int64_t)(cfg.duration_s * 1e9);
	for (int i = 0; i < cfg.clients; i++) {
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
			fprintf(stderr, "dalio-bench: cannot start thread %d\n", i);
			atomic_store(&stop_flag, 1);
			for (int j = 0; j < i; j++)
				pthread_join(ws[j].th, NULL);
			return 1;
		}
	}
	progress(ws, (int)cfg.clients);

	hist_init(all);
	for (int i = 0; i < cfg.clients; i++) {
		pthread_join(ws[i].th, NULL);
		hist_merge(all, &ws[i].lat);
		ok += ws[i].m_ok;
		fail += ws[i].m_fail;
		unknown += ws[i].m_unknown;
		retries += ws[i].m_retries;
		if (ws[i].last_complete > last)
			last = ws[i].last_complete;
		dalio_close(ws[i].c);
		free(ws[i].value);
	}
	if (history && fclose(history) != 0) {
		fprintf(stderr, "dalio-bench: writing %s: %s\n", cfg.history, strerror(errno));
		rc = 1;
	}
	/* measured window: from the end of warmup to the last completion */
	elapsed = (double)((last > t_end ? last : t_end) - t_measure) / 1e9;
	if (atomic_load(&stop_flag) && last < t_end)
		elapsed = (double)(last - t_measure) / 1e9;
	rate = elapsed > 0 ? (double)ok / elapsed : 0;

	if (cfg.json)
		printf("{\"ops\":%" PRIu64 ",\"ops_per_sec\":%.1f,\"p50_us\":%" PRIu64
		       ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64
		       ",\"errors\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"unknown\":%" PRIu64
		       ",\"retries\":%" PRIu64 ",\"elapsed_s\":%.3f,\"clients\":%ld"
		       ",\"read_ratio\":%g,\"keys\":%ld,\"value_size\":%ld,\"duration_s\":%g"
		       ",\"warmup_s\":%g,\"seed\":%" PRIu64 ",\"run_tag\":\"%s\"}\n",
		       ok, rate, hist_quantile(all, 0.5) / 1000, hist_quantile(all, 0.99) / 1000,
		       hist_quantile(all, 0.999) / 1000, all->count ? all->max / 1000 : 0,
		       fail + unknown, fail, unknown, retries, elapsed, cfg.clients, cfg.read_ratio,
		       cfg.keys, cfg.value_size, cfg.duration_s, cfg.warmup_s, cfg.seed, run_tag);
	else
		printf("ops=%" PRIu64 " ops/s=%.1f p50_us=%" PRIu64 " p99_us=%" PRIu64
		       " p999_us=%" PRIu64 " errors=%" PRIu64 " retries=%" PRIu64 "\n",
		       ok, rate, hist_quantile(all, 0.5) / 1000, hist_quantile(all, 0.99) / 1000,
		       hist_quantile(all, 0.999) / 1000, fail + unknown, retries);
	free(all);
	free(ws);
	return rc;
}
