/* SPDX-License-Identifier: MIT */
/*
 * dalio-bench: load generator for a Dalio VIP, and for Redis's own
 * replication so that every system is measured by one tool (bench/). N
 * threads, each with its own client (a dalio_client, or hiredis connections in
 * --redis mode), run SET key:<i> <unique value> / GET key:<i> on keys chosen
 * uniformly or by a zipf law, closed-loop (each thread as fast as answers
 * come) or at a fixed total rate (--rate; latency is then measured from each
 * operation's scheduled start, so a stalled system cannot hide its queueing),
 * for a bounded time. It reports throughput and latency percentiles (text,
 * JSON or CSV), can write the latency CDF, and can record every operation to
 * a history file for the linearizability checker.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
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

#define MAX_CLIENTS	1024
#define MAX_REDIS_NODES 8
#define WAIT_TIMEOUT_MS 1000

enum dist { DIST_UNIFORM, DIST_ZIPF };
enum redis_reads { RR_PRIMARY, RR_REPLICAS };

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
	int csv;
	const char *cdf;
	const char *label;
	double rate; /* total ops/s over all clients; 0: closed loop */
	enum dist dist;
	double zipf_theta;
	/* --redis: Redis's own replication, no Dalio */
	int redis;
	int n_redis;
	char redis_host[MAX_REDIS_NODES][64];
	int redis_port[MAX_REDIS_NODES];
	long redis_wait; /* replicas WAIT must count after each write */
	enum redis_reads redis_reads;
};

/* YCSB's zipfian generator (Gray et al., "Quickly generating billion-record
 * synthetic databases"): rank 0 is the hottest key. */
static struct {
	double alpha, zetan, eta, theta;
	uint64_t n;
} zipf;

struct worker {
	int idx;
	pthread_t th;
	struct dalio_client *c;
	redisContext *rc[MAX_REDIS_NODES];
	unsigned rr; /* next replica for --redis-reads replicas */
	uint64_t rng;
	uint64_t nwrites;
	char *value; /* value_size + room for the unique prefix */
	int64_t last_complete;
	struct hist lat;	  /* ok ops invoked in the measured window, ns */
	struct hist lat_r, lat_w; /* the same, by kind */
	/* read by the progress printer while the thread runs */
	_Atomic uint64_t done_ok, done_err, tries_extra;
	/* measured window only */
	uint64_t m_ok, m_fail, m_unknown, m_retries;
	uint64_t m_late;    /* --rate: ops started after their scheduled time + 1 ms */
	uint64_t m_in_time; /* --rate: ok ops completed inside the measured window */
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

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !atomic_load(&stop_flag))
		;
}

static void zipf_init(uint64_t n, double theta)
{
	double zeta2 = 1.0 + pow(0.5, theta);

	zipf.n = n;
	zipf.theta = theta;
	zipf.zetan = 0;
	for (uint64_t i = 1; i <= n; i++)
		zipf.zetan += 1.0 / pow((double)i, theta);
	zipf.alpha = 1.0 / (1.0 - theta);
	zipf.eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / zipf.zetan);
}

static uint64_t zipf_next(uint64_t *s)
{
	double u = rng_unit(s), uz = u * zipf.zetan;
	uint64_t r;

	if (uz < 1.0 || zipf.n == 1)
		return 0;
	if (uz < 1.0 + pow(0.5, zipf.theta))
		return 1;
	r = (uint64_t)((double)zipf.n * pow(zipf.eta * u - zipf.eta + 1.0, zipf.alpha));
	return r >= zipf.n ? zipf.n - 1 : r;
}

static redisContext *redis_open(int node, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = 2};
	redisContext *c = redisConnectWithTimeout(cfg.redis_host[node], cfg.redis_port[node], tv);

	if (!c || c->err) {
		snprintf(err, errlen, "cannot connect to Redis %s:%d: %s", cfg.redis_host[node],
			 cfg.redis_port[node], c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/*
 * --redis: one operation against Redis's own replication. A write goes to the
 * primary followed by WAIT <n> (pipelined): it counts as done only when n
 * replicas acknowledged it (the durability of Dalio's pb mode); otherwise its
 * outcome is unknown (it is applied on the primary and may be visible).
 * Reads go to the primary, or round-robin to the replicas (not linearizable).
 */
static int redis_command(struct worker *w, int is_read, int argc, const char **argv,
			 redisReply **reply, struct dalio_result *res, char *err, size_t errlen)
{
	int node = 0;
	redisContext *c;
	redisReply *wr = NULL;
	int wait = !is_read && cfg.redis_wait > 0;

	*res = (struct dalio_result){.tries = 1, .definite = 1, .status = DALIO_S_OK};
	*reply = NULL;
	if (is_read && cfg.redis_reads == RR_REPLICAS && cfg.n_redis > 1)
		node = 1 + (int)(w->rr++ % (unsigned)(cfg.n_redis - 1));
	if (!w->rc[node]) {
		w->rc[node] = redis_open(node, err, errlen);
		if (!w->rc[node]) {
			res->tries = 0;
			return -1;
		}
	}
	c = w->rc[node];
	redisAppendCommandArgv(c, argc, argv, NULL);
	if (wait)
		redisAppendCommand(c, "WAIT %ld %d", cfg.redis_wait, WAIT_TIMEOUT_MS);
	if (redisGetReply(c, (void **)reply) != REDIS_OK ||
	    (wait && redisGetReply(c, (void **)&wr) != REDIS_OK)) {
		snprintf(err, errlen, "Redis %s:%d: %s", cfg.redis_host[node], cfg.redis_port[node],
			 c->errstr);
		res->definite = 0;
		if (*reply)
			freeReplyObject(*reply);
		*reply = NULL;
		redisFree(c);
		w->rc[node] = NULL;
		return -1;
	}
	res->replied = 1;
	if (wait && (wr->type != REDIS_REPLY_INTEGER || wr->integer < cfg.redis_wait)) {
		snprintf(err, errlen, "WAIT %ld: only %lld replicas acknowledged in %d ms",
			 cfg.redis_wait, wr->type == REDIS_REPLY_INTEGER ? wr->integer : -1LL,
			 WAIT_TIMEOUT_MS);
		res->definite = 0;
		freeReplyObject(wr);
		freeReplyObject(*reply);
		*reply = NULL;
		return -1;
	}
	if (wr)
		freeReplyObject(wr);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char key[32], err[512];
	/* --rate: this thread's share, evenly spaced, with a random phase */
	double interval = cfg.rate > 0 ? (double)cfg.clients * 1e9 / cfg.rate : 0;
	double next = (double)t_start + interval * rng_unit(&w->rng);

	/* bounded by --duration: no op starts after t_end */
	while (!atomic_load(&stop_flag) && now_ns() < t_end) {
		uint64_t k = cfg.dist == DIST_ZIPF ? zipf_next(&w->rng)
						   : rng_next(&w->rng) % (uint64_t)cfg.keys;
		int is_read = rng_unit(&w->rng) < cfg.read_ratio;
		struct dalio_result res;
		redisReply *reply = NULL;
		const char *argv[3], *outcome;
		int64_t invoke, complete, start;
		int rc, argc, ok;

		if (interval > 0) {
			if ((int64_t)next >= t_end)
				break;
			if (now_ns() < (int64_t)next)
				sleep_until((int64_t)next);
			if (atomic_load(&stop_flag))
				break;
		}
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
		if (cfg.redis)
			rc = redis_command(w, is_read, argc, argv, &reply, &res, err, sizeof(err));
		else
			rc = dalio_command_argv_ex(w->c, argc, argv, NULL, &reply, &res, err,
						   sizeof(err));
		complete = now_ns();
		w->last_complete = complete;
		/* fixed rate: latency counts from the scheduled start */
		start = interval > 0 ? (int64_t)next : invoke;
		if (interval > 0) {
			if (invoke > start + 1000000)
				w->m_late++;
			next += interval;
		}

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
		if (ok && complete >= t_measure && complete <= t_end)
			w->m_in_time++;
		if (start >= t_measure) {
			if (ok) {
				w->m_ok++;
				hist_record(&w->lat, (uint64_t)(complete - start));
				hist_record(is_read ? &w->lat_r : &w->lat_w,
					    (uint64_t)(complete - start));
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
		"SET/GET load against a Dalio VIP (or, with --redis, Redis replication).\n"
		"  --host IP          VIP address (default 127.0.0.1)\n"
		"  --port N           VIP UDP port (default 7379)\n"
		"  --clients N        threads, one dalio client each (default 4)\n"
		"  --read-ratio R     fraction of GETs, 0..1 (default 0.5)\n"
		"  --keys K           keys key:0..key:K-1 (default 1000)\n"
		"  --dist D           key distribution: uniform (default) or zipf\n"
		"  --zipf-theta T     zipf skew, 0 < T < 1 (default 0.99; key:0 is the hottest)\n"
		"  --rate R           fixed total rate in ops/s, spread evenly over the clients\n"
		"                     (default 0: closed loop); latency then counts from each\n"
		"                     op's scheduled start\n"
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
		"  --csv              print the summary as a CSV header line and a value line\n"
		"  --cdf FILE         write the latency CDF: <latency_us> <fraction> lines\n"
		"  --label NAME       system name put in the JSON/CSV summary\n"
		"  --redis H:P[,H:P]  Redis native replication instead of Dalio: the first\n"
		"                     address is the primary, the others its replicas\n"
		"  --redis-wait N     after each SET: WAIT N replicas (default: all listed;\n"
		"                     an op whose WAIT falls short is counted as an error)\n"
		"  --redis-reads W    primary (default, linearizable) or replicas (round-robin,\n"
		"                     NOT linearizable: replicas lag the primary)\n"
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

/* --redis HOST:PORT[,HOST:PORT...] */
static int parse_redis(const char *arg)
{
	const char *p = arg;

	cfg.redis = 1;
	cfg.n_redis = 0;
	while (*p) {
		const char *end = strchr(p, ','), *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *e;
		long port;

		colon = memchr(p, ':', len);
		if (cfg.n_redis == MAX_REDIS_NODES || !colon || colon == p ||
		    (size_t)(colon - p) >= sizeof(cfg.redis_host[0]))
			goto bad;
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (errno || e != p + len || port < 1 || port > 65535)
			goto bad;
		memcpy(cfg.redis_host[cfg.n_redis], p, (size_t)(colon - p));
		cfg.redis_host[cfg.n_redis][colon - p] = '\0';
		cfg.redis_port[cfg.n_redis++] = (int)port;
		p += len;
		if (*p == ',')
			p++;
	}
	if (cfg.n_redis)
		return 0;
bad:
	fprintf(stderr,
		"dalio-bench: bad --redis '%s' (HOST:PORT of the primary, then of up to %d "
		"replicas, comma-separated)\n",
		arg, MAX_REDIS_NODES - 1);
	return -1;
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
		{"csv", no_argument, NULL, 'C'},
		{"cdf", required_argument, NULL, 'F'},
		{"label", required_argument, NULL, 'L'},
		{"rate", required_argument, NULL, 'q'},
		{"dist", required_argument, NULL, 'D'},
		{"zipf-theta", required_argument, NULL, 'z'},
		{"redis", required_argument, NULL, 'x'},
		{"redis-wait", required_argument, NULL, 'W'},
		{"redis-reads", required_argument, NULL, 'X'},
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
			      .shard = DALIO_SHARD_ANY,
			      .label = "",
			      .zipf_theta = 0.99,
			      .redis_wait = -1};
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
		case 'C':
			cfg.csv = 1;
			break;
		case 'F':
			cfg.cdf = optarg;
			break;
		case 'L':
			cfg.label = optarg;
			break;
		case 'q':
			bad = opt_double("rate", optarg, 0, 1e9, &cfg.rate);
			break;
		case 'D':
			if (!strcmp(optarg, "uniform")) {
				cfg.dist = DIST_UNIFORM;
			} else if (!strcmp(optarg, "zipf")) {
				cfg.dist = DIST_ZIPF;
			} else {
				fprintf(stderr, "dalio-bench: bad --dist '%s' (uniform or zipf)\n",
					optarg);
				bad = 1;
			}
			break;
		case 'z':
			bad = opt_double("zipf-theta", optarg, 0.01, 0.999, &cfg.zipf_theta);
			break;
		case 'x':
			bad = parse_redis(optarg);
			break;
		case 'W':
			bad = opt_long("redis-wait", optarg, 0, MAX_REDIS_NODES, &cfg.redis_wait);
			break;
		case 'X':
			if (!strcmp(optarg, "primary")) {
				cfg.redis_reads = RR_PRIMARY;
			} else if (!strcmp(optarg, "replicas")) {
				cfg.redis_reads = RR_REPLICAS;
			} else {
				fprintf(stderr,
					"dalio-bench: bad --redis-reads '%s' (primary or "
					"replicas)\n",
					optarg);
				bad = 1;
			}
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
	if (cfg.redis && cfg.redis_wait < 0)
		cfg.redis_wait = cfg.n_redis - 1;
	if (cfg.redis && cfg.redis_wait > cfg.n_redis - 1) {
		fprintf(stderr, "dalio-bench: --redis-wait %ld: only %d replicas listed\n",
			cfg.redis_wait, cfg.n_redis - 1);
		return -1;
	}
	if (cfg.dist == DIST_ZIPF && cfg.keys > 100000000) {
		fprintf(stderr, "dalio-bench: --dist zipf takes at most 100000000 keys\n");
		return -1;
	}
	return 0;
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

/* The CDF of the measured latencies: one "<upper bound us> <fraction <=>" line per bucket. */
static int write_cdf(const char *path, const struct hist *h)
{
	FILE *f = fopen(path, "w");
	uint64_t seen = 0;

	if (!f) {
		fprintf(stderr, "dalio-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# latency_us fraction (%" PRIu64 " ops)\n", h->count);
	for (unsigned i = 0; i < HIST_BUCKETS && h->count; i++) {
		uint64_t v;

		if (!h->buckets[i])
			continue;
		seen += h->buckets[i];
		v = hist_bucket_high(i);
		fprintf(f, "%.3f %.6f\n", (double)(v > h->max ? h->max : v) / 1000.0,
			(double)seen / (double)h->count);
	}
	if (fclose(f)) {
		fprintf(stderr, "dalio-bench: writing %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static const char *system_name(void)
{
	if (cfg.label[0])
		return cfg.label;
	if (!cfg.redis)
		return "dalio";
	return cfg.redis_reads == RR_REPLICAS ? "redis-replicas" : "redis-primary";
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct dalio_opts o;
	struct hist *all, *all_r, *all_w;
	uint64_t ok = 0, fail = 0, unknown = 0, retries = 0, late = 0, in_time = 0, tag;
	int64_t last = 0;
	double elapsed, rate;
	char err[512];
	int rc = 0;

	if (parse_args(argc, argv) < 0)
		return 2;
	if (getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag))
		tag = (uint64_t)now_ns();
	snprintf(run_tag, sizeof(run_tag), "%08" PRIx32, (uint32_t)tag);
	if (cfg.dist == DIST_ZIPF)
		zipf_init((uint64_t)cfg.keys, cfg.zipf_theta);

	dalio_opts_init(&o);
	o.timeout_ms = (int)cfg.timeout_ms;
	o.max_retries = (int)cfg.retries;
	o.shard = (uint16_t)cfg.shard;

	ws = calloc((size_t)cfg.clients, sizeof(*ws));
	all = malloc(sizeof(*all));
	all_r = malloc(sizeof(*all_r));
	all_w = malloc(sizeof(*all_w));
	if (!ws || !all || !all_r || !all_w) {
		fprintf(stderr, "dalio-bench: out of memory\n");
		return 1;
	}
	for (int i = 0; i < cfg.clients; i++) {
		struct worker *w = &ws[i];

		w->idx = i;
		w->rng = cfg.seed * 0x100000001b3ULL + (uint64_t)i + 1;
		w->value = malloc((size_t)cfg.value_size + 64);
		hist_init(&w->lat);
		hist_init(&w->lat_r);
		hist_init(&w->lat_w);
		if (cfg.redis) {
			/* connect up front, so a wrong address fails before the run */
			for (int n = 0; n < cfg.n_redis; n++) {
				w->rc[n] = redis_open(n, err, sizeof(err));
				if (!w->rc[n]) {
					fprintf(stderr, "dalio-bench: client %d: %s\n", i, err);
					return 1;
				}
			}
		} else {
			w->c = dalio_connect(cfg.host, (uint16_t)cfg.port, &o, err, sizeof(err));
			if (!w->c) {
				fprintf(stderr, "dalio-bench: client %d: %s\n", i, err);
				return 1;
			}
		}
		if (!w->value) {
			fprintf(stderr, "dalio-bench: out of memory\n");
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
	hist_init(all_r);
	hist_init(all_w);
	for (int i = 0; i < cfg.clients; i++) {
		pthread_join(ws[i].th, NULL);
		hist_merge(all, &ws[i].lat);
		hist_merge(all_r, &ws[i].lat_r);
		hist_merge(all_w, &ws[i].lat_w);
		ok += ws[i].m_ok;
		fail += ws[i].m_fail;
		unknown += ws[i].m_unknown;
		retries += ws[i].m_retries;
		late += ws[i].m_late;
		in_time += ws[i].m_in_time;
		if (ws[i].last_complete > last)
			last = ws[i].last_complete;
		dalio_close(ws[i].c);
		for (int n = 0; n < cfg.n_redis; n++)
			if (ws[i].rc[n])
				redisFree(ws[i].rc[n]);
		free(ws[i].value);
	}
	if (history && fclose(history) != 0) {
		fprintf(stderr, "dalio-bench: writing %s: %s\n", cfg.history, strerror(errno));
		rc = 1;
	}
	if (cfg.cdf && write_cdf(cfg.cdf, all))
		rc = 1;
	/* measured window: from the end of warmup to the last completion */
	elapsed = (double)((last > t_end ? last : t_end) - t_measure) / 1e9;
	if (atomic_load(&stop_flag) && last < t_end)
		elapsed = (double)(last - t_measure) / 1e9;
	rate = elapsed > 0 ? (double)ok / elapsed : 0;
	/* Fixed rate: ops run late when the system cannot keep up, so the
	 * throughput is what completed inside the window (latencies still count
	 * from the schedule of the ops scheduled in it). */
	if (cfg.rate > 0 && !atomic_load(&stop_flag))
		rate = (double)in_time / cfg.duration_s;

#define Q(h, q) (hist_quantile((h), (q)) / 1000)
	if (cfg.json)
		printf("{\"system\":\"%s\",\"ops\":%" PRIu64
		       ",\"ops_per_sec\":%.1f,\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
		       ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"read_p50_us\":%" PRIu64
		       ",\"read_p99_us\":%" PRIu64 ",\"write_p50_us\":%" PRIu64
		       ",\"write_p99_us\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"unknown\":%" PRIu64 ",\"retries\":%" PRIu64 ",\"late\":%" PRIu64
		       ",\"elapsed_s\":%.3f,\"clients\":%ld"
		       ",\"read_ratio\":%g,\"keys\":%ld,\"dist\":\"%s\",\"value_size\":%ld"
		       ",\"rate\":%g,\"duration_s\":%g"
		       ",\"warmup_s\":%g,\"seed\":%" PRIu64 ",\"run_tag\":\"%s\"}\n",
		       system_name(), ok, rate, Q(all, 0.5), Q(all, 0.99), Q(all, 0.999),
		       all->count ? all->max / 1000 : 0, Q(all_r, 0.5), Q(all_r, 0.99),
		       Q(all_w, 0.5), Q(all_w, 0.99), fail + unknown, fail, unknown, retries, late,
		       elapsed, cfg.clients, cfg.read_ratio, cfg.keys,
		       cfg.dist == DIST_ZIPF ? "zipf" : "uniform", cfg.value_size, cfg.rate,
		       cfg.duration_s, cfg.warmup_s, cfg.seed, run_tag);
	else if (cfg.csv)
		printf("system,clients,read_ratio,keys,dist,value_size,rate,ops,ops_per_sec,p50_us,"
		       "p99_us,p999_us,max_us,read_p99_us,write_p99_us,errors,retries,late\n"
		       "%s,%ld,%g,%ld,%s,%ld,%g,%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64
		       ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
		       system_name(), cfg.clients, cfg.read_ratio, cfg.keys,
		       cfg.dist == DIST_ZIPF ? "zipf" : "uniform", cfg.value_size, cfg.rate, ok,
		       rate, Q(all, 0.5), Q(all, 0.99), Q(all, 0.999),
		       all->count ? all->max / 1000 : 0, Q(all_r, 0.99), Q(all_w, 0.99),
		       fail + unknown, retries, late);
	else
		printf("ops=%" PRIu64 " ops/s=%.1f p50_us=%" PRIu64 " p99_us=%" PRIu64
		       " p999_us=%" PRIu64 " errors=%" PRIu64 " retries=%" PRIu64 "\n",
		       ok, rate, Q(all, 0.5), Q(all, 0.99), Q(all, 0.999), fail + unknown, retries);
#undef Q
	free(all);
	free(all_r);
	free(all_w);
	free(ws);
	return rc;
}
