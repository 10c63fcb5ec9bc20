/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: command line, start-up, and the single-threaded event loop
 * (poll on the UDP socket with a timer for read-wait expiry and Redis
 * reconnects), signals, and the counters printed on exit and on SIGUSR1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "replica.h"

#define RECONNECT_NS 500000000ull /* between Redis reconnect attempts */
#define MAX_ROUNDS   16		  /* batches per poll wake-up, so timers run */

static volatile sig_atomic_t stop_sig, dump_sig;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_sig = 1;
	else
		stop_sig = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dalio-replica --listen IP:PORT --lb IP[,IP...] --redis "
		"HOST:PORT|unix:/path\n"
		"                     --shard N [--index I] [--read-wait-ms MS]\n"
		"                     [--advertise-redis IP:PORT] [--mode pb|vr]\n"
		"                     [--state-file PATH] [--verbose]\n"
		"\n"
		"Dalio replica daemon: applies the LB's sequenced WRITEs to one Redis server in\n"
		"seq order, answers stamped READs and PINGs (see docs/protocol.md).\n"
		"\n"
		"  --listen IP:PORT     UDP address to receive Dalio datagrams on\n"
		"  --lb IP[,IP...]      the only source addresses accepted (any source port);\n"
		"                       everything else is dropped and counted (up to %d)\n"
		"  --redis HOST:PORT    the Redis server, or unix:/path/to/socket\n"
		"  --shard N            the shard this replica serves (0..65534)\n"
		"  --index I            this replica's index, echoed in answers (0..255, default "
		"0)\n"
		"  --read-wait-ms MS    how long a READ may wait for its stamp before NOT_READY\n"
		"                       (0..60000, default 20)\n"
		"  --advertise-redis IP:PORT  where other replicas reach this Redis for a full\n"
		"                       copy (SYNC); default: the --listen IP (the address the\n"
		"                       LB sees if that is 0.0.0.0) with the Redis port when\n"
		"                       Redis is on 127.0.0.1, else the --redis address\n"
		"  --mode pb|vr         replication mode of the shard (default pb): pb applies\n"
		"                       WRITEs in seq order and ACKs each; vr logs PREPAREs,\n"
		"                       answers PREPARE_OK, executes committed ops and takes\n"
		"                       part in view changes (docs/vr.md)\n"
		"  --state-file PATH    vr: where the last view entered is kept (written and\n"
		"                       fsynced before voting in it); a daemon that finds a\n"
		"                       view > 0 there at start is recovering and does not vote\n"
		"                       until a SYNC completes. Strongly advised in vr mode\n"
		"  --verbose            log every dropped datagram\n"
		"  --help               this text\n"
		"\n"
		"Counters go to stderr on exit and on SIGUSR1.\n",
		RP_MAX_LB);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

static int parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*addr = a.s_addr;
	return 0;
}

static int parse_listen(const char *arg, struct sockaddr_in *sa)
{
	char buf[64];
	char *colon;
	unsigned long port;
	uint32_t addr;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	if (parse_ipv4(buf, &addr) || parse_uint(colon + 1, 65535, &port) || port == 0)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = addr;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int parse_lb(const char *arg, struct rp_config *c)
{
	char buf[RP_MAX_LB * 16 + 1];
	char *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	c->nlb = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->nlb == RP_MAX_LB || parse_ipv4(tok, &c->lb[c->nlb]))
			return -1;
		c->nlb++;
	}
	return c->nlb ? 0 : -1;
}

static int parse_redis(const char *arg, struct rp_config *c)
{
	const char *colon;
	unsigned long port;
	size_t hl;

	if (!strncmp(arg, "unix:", 5)) {
		if (!arg[5] || strlen(arg + 5) >= sizeof(c->redis_host))
			return -1;
		strcpy(c->redis_host, arg + 5);
		c->redis_unix = 1;
		return 0;
	}
	colon = strrchr(arg, ':');
	if (!colon || colon == arg || parse_uint(colon + 1, 65535, &port) || port == 0)
		return -1;
	hl = (size_t)(colon - arg);
	if (hl >= sizeof(c->redis_host))
		return -1;
	memcpy(c->redis_host, arg, hl);
	c->redis_host[hl] = '\0';
	c->redis_port = (int)port;
	return 0;
}

static int parse_args(int argc, char **argv, struct rp_config *c)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"lb", required_argument, NULL, 'b'},
		{"redis", required_argument, NULL, 'r'},
		{"shard", required_argument, NULL, 's'},
		{"index", required_argument, NULL, 'i'},
		{"read-wait-ms", required_argument, NULL, 'w'},
		{"advertise-redis", required_argument, NULL, 'a'},
		{"mode", required_argument, NULL, 'm'},
		{"state-file", required_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int have_listen = 0, have_lb = 0, have_redis = 0, have_shard = 0, o;
	unsigned long v;

	memset(c, 0, sizeof(*c));
	c->read_wait_ms = 20;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (parse_listen(optarg, &c->listen)) {
				rp_log("--listen: expected IPv4:PORT (e.g. 10.0.0.2:7000), got "
				       "'%s'\n",
				       optarg);
				return -1;
			}
			have_listen = 1;
			break;
		case 'b':
			if (parse_lb(optarg, c)) {
				rp_log("--lb: expected 1..%d comma-separated IPv4 addresses, got "
				       "'%s'\n",
				       RP_MAX_LB, optarg);
				return -1;
			}
			have_lb = 1;
			break;
		case 'r':
			if (parse_redis(optarg, c)) {
				rp_log("--redis: expected HOST:PORT or unix:/path, got '%s'\n",
				       optarg);
				return -1;
			}
			have_redis = 1;
			break;
		case 's':
			if (parse_uint(optarg, DALIO_SHARD_ANY - 1, &v)) {
				rp_log("--shard: expected 0..%d, got '%s'\n", DALIO_SHARD_ANY - 1,
				       optarg);
				return -1;
			}
			c->shard = (uint16_t)v;
			have_shard = 1;
			break;
		case 'i':
			if (parse_uint(optarg, 255, &v)) {
				rp_log("--index: expected 0..255, got '%s'\n", optarg);
				return -1;
			}
			c->index = (uint8_t)v;
			break;
		case 'w':
			if (parse_uint(optarg, 60000, &v)) {
				rp_log("--read-wait-ms: expected 0..60000, got '%s'\n", optarg);
				return -1;
			}
			c->read_wait_ms = (uint32_t)v;
			break;
		case 'a': {
			struct sockaddr_in sa;

			if (parse_listen(optarg, &sa)) {
				rp_log("--advertise-redis: expected IPv4:PORT, got '%s'\n", optarg);
				return -1;
			}
			c->adv_ip = sa.sin_addr.s_addr;
			c->adv_port = sa.sin_port;
			break;
		}
		case 'm':
			if (!strcmp(optarg, "pb")) {
				c->vr = 0;
			} else if (!strcmp(optarg, "vr")) {
				c->vr = 1;
			} else {
				rp_log("--mode: expected pb or vr, got '%s'\n", optarg);
				return -1;
			}
			break;
		case 'f':
			if (!*optarg || strlen(optarg) >= sizeof(c->state_file)) {
				rp_log("--state-file: expected a path of 1..%zu bytes, got '%s'\n",
				       sizeof(c->state_file) - 1, optarg);
				return -1;
			}
			strcpy(c->state_file, optarg);
			break;
		case 'v':
			c->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		rp_log("unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	/* Default: our Redis is reachable where we listen when it is local (an
	 * unspecified listen address leaves the IP to the agent: the PONG's
	 * source). */
	if (!c->adv_port && !c->redis_unix) {
		struct in_addr a;

		if (!strcmp(c->redis_host, "127.0.0.1") || !strcmp(c->redis_host, "localhost") ||
		    !strcmp(c->redis_host, "0.0.0.0")) {
			c->adv_ip = c->listen.sin_addr.s_addr;
			c->adv_port = htons((uint16_t)c->redis_port);
		} else if (inet_pton(AF_INET, c->redis_host, &a) == 1) {
			c->adv_ip = a.s_addr;
			c->adv_port = htons((uint16_t)c->redis_port);
		}
	}
	if (c->state_file[0] && !c->vr) {
		rp_log("--state-file is for --mode vr only\n");
		return -1;
	}
	if (!have_listen || !have_lb || !have_redis || !have_shard) {
		rp_log("missing %s (see --help)\n", !have_listen  ? "--listen"
						    : !have_lb	  ? "--lb"
						    : !have_redis ? "--redis"
								  : "--shard");
		return -1;
	}
	return 0;
}

/*
 * vr: the view recorded in --state-file by an earlier run (V7), 0 if there is
 * no file. -1 (logged) if it cannot be read or does not hold a view.
 */
static int read_state_file(const char *path, uint32_t *view)
{
	FILE *f = fopen(path, "r");
	char buf[32], *end;
	unsigned long v;

	*view = 0;
	if (!f) {
		if (errno == ENOENT)
			return 0;
		rp_log("--state-file: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!fgets(buf, sizeof(buf), f)) {
		buf[0] = '\0';
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (!buf[0] || *end || errno || v > UINT32_MAX) {
		rp_log("--state-file: %s does not hold a view number (got '%s'); remove it only "
		       "if this replica never took part in a vr view\n",
		       path, buf);
		return -1;
	}
	*view = (uint32_t)v;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void print_stats(const struct rp_state *s)
{
	rp_log("applied %" PRIu64 ", epoch %" PRIu32 ", buffered now %" PRIu32
	       ", reads waiting %" PRIu32 "\n",
	       s->applied, s->epoch, s->order.buffered, s->reads.live);
	if (s->cfg.vr)
		rp_log("vr: view %" PRIu32 " (%s), commit %" PRIu64 ", vhead %" PRIu64
		       ", trusted %" PRIu64 "\n",
		       s->vl.view,
		       s->vl.status == RP_VR_NORMAL	   ? "normal"
		       : s->vl.status == RP_VR_VIEW_CHANGE ? "view change"
							   : "recovering",
		       s->vl.commit, rp_vrlog_vhead(&s->vl), s->vl.trusted);
#define RP_PRINT(name, desc)                                                                       \
	fprintf(stderr, "  %-20s %12" PRIu64 "  %s\n", #name, s->st.name, desc);
	RP_COUNTERS(RP_PRINT)
#undef RP_PRINT
}

static int poll_timeout_ms(const struct rp_state *s)
{
	uint64_t next = rp_reads_next_deadline(&s->reads);

	if (rp_sync_next_ns(s) < next)
		next = rp_sync_next_ns(s);
	/* rp_nack_tick does nothing while Redis is away: no busy wake-ups then. */
	if (s->rc && !s->sync.active && rp_nack_deadline(&s->nack) < next)
		next = rp_nack_deadline(&s->nack);

	if (!s->rc && s->reconnect_ns < next)
		next = s->reconnect_ns;
	if (next == UINT64_MAX)
		return 1000;
	if (next <= s->now_ns)
		return 0;
	next = (next - s->now_ns + 999999) / 1000000;
	return next > 1000 ? 1000 : (int)next;
}

static void try_reconnect(struct rp_state *s, int *down_logged)
{
	const char *err;

	if (rp_redis_connect(s, &err) == 0) {
		rp_log("Redis is back: applied %" PRIu64 ", epoch %" PRIu32 "\n", s->applied,
		       s->epoch);
		*down_logged = 0;
		return;
	}
	if (s->fatal)
		rp_log("fatal: %s\n", err);
	else if (!*down_logged)
		rp_log("%s; retrying every %llu ms\n", err, RECONNECT_NS / 1000000);
	*down_logged = 1;
	s->reconnect_ns = s->now_ns + RECONNECT_NS;
}

int main(int argc, char **argv)
{
	static struct rp_state s;
	static struct rp_pkt pkts[RP_BATCH];
	struct sigaction sa;
	const char *err;
	int down_logged = 0;

	if (parse_args(argc, argv, &s.cfg))
		return 2;
	s.fd = -1;
	s.out = calloc(1, sizeof(*s.out));
	if (!s.out || rp_order_init(&s.order, 0) || rp_cache_init(&s.cache) ||
	    rp_reads_init(&s.reads, RP_READ_QUEUE)) {
		rp_log("out of memory\n");
		return 1;
	}
	if (s.cfg.vr) {
		uint32_t view = 0;

		if (s.cfg.state_file[0] && read_state_file(s.cfg.state_file, &view))
			return 1;
		if (rp_vrlog_init(&s.vl, 0, view, view > 0)) {
			rp_log("out of memory\n");
			return 1;
		}
		if (!s.cfg.state_file[0])
			rp_log("warning: vr mode without --state-file: a restarted replica cannot "
			       "know it must not vote (docs/vr.md V7)\n");
		else if (view > 0)
			rp_log("vr: %s says view %" PRIu32 ": recovering (no vote until a SYNC "
			       "completes)\n",
			       s.cfg.state_file, view);
	}
	s.now_ns = mono_ns();
	if (rp_redis_connect(&s, &err)) {
		rp_log("%s\n", err);
		return 1;
	}
	if (rp_net_open(&s))
		return 1;
	rp_log("shard %u index %u on %s:%u; Redis %s%s%.0d: applied %" PRIu64 ", epoch %" PRIu32
	       "\n",
	       s.cfg.shard, s.cfg.index, inet_ntoa(s.cfg.listen.sin_addr),
	       ntohs(s.cfg.listen.sin_port), s.cfg.redis_host, s.cfg.redis_unix ? "" : ":",
	       s.cfg.redis_port, s.applied, s.epoch);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	while (!stop_sig && !s.fatal) {
		struct pollfd pfd = {.fd = s.fd, .events = POLLIN};
		int ready = poll(&pfd, 1, poll_timeout_ms(&s));

		if (ready < 0 && errno != EINTR) {
			rp_log("poll: %s\n", strerror(errno));
			break;
		}
		s.now_ns = mono_ns();
		if (dump_sig) {
			dump_sig = 0;
			print_stats(&s);
		}
		if (!s.rc && s.now_ns >= s.reconnect_ns)
			try_reconnect(&s, &down_logged);
		rp_expire_reads(&s);
		for (int round = 0; ready > 0 && (pfd.revents & POLLIN) && round < MAX_ROUNDS;
		     round++) {
			int n = rp_recv_batch(&s, pkts, RP_BATCH);

			if (n < 0) {
				rp_log("recvmmsg: %s\n", strerror(errno));
				break;
			}
			s.now_ns = mono_ns();
			for (int i = 0; i < n; i++)
				rp_handle(&s, &pkts[i]);
			rp_run_batch(&s);
			rp_flush(&s);
			if (n < RP_BATCH || s.fatal)
				break;
		}
		rp_run_batch(&s);
		rp_flush(&s);
		if (s.sync.active && s.rc) {
			rp_sync_step(&s);
			rp_run_batch(&s);
			rp_flush(&s);
		}
		rp_nack_tick(&s);
	}
	if (stop_sig)
		rp_log("stopping on signal %d\n", (int)stop_sig);
	print_stats(&s);
	if (s.rc)
		redisFree(s.rc);
	if (s.rdr)
		redisReaderFree(s.rdr);
	close(s.fd);
	rp_order_free(&s.order);
	rp_cache_free(&s.cache);
	rp_reads_free(&s.reads);
	if (s.cfg.vr)
		rp_vrlog_free(&s.vl);
	free(s.ops);
	free(s.out);
	return s.fatal ? 3 : 0;
}
