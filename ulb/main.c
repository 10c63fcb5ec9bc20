/* SPDX-License-Identifier: MIT */
/*
 * dalio-ulb: Dalio's replication coordinator in plain Linux user space, the
 * baseline of the benchmarks (bench/). Run it on the LB *instead of*
 * dalio-agent: it reads the same shards.yaml (with the agent's parser), binds
 * every shard's VIP:port with a UDP socket, finds the replicas and opens a new
 * epoch on them (PING/PONG, as the agent does), then serves: one thread,
 * epoll over the shard sockets, recvmmsg/sendmmsg batches, the coordinator
 * logic of ulb/core.c applied to each datagram in place.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dalio/codec.h"
#include "ulb.h"

#define MAX_BATCH 256
#define BUF_SIZE  2048
#define SOCK_BUF  (4 << 20)

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dalio-ulb --config FILE [options]\n"
		"\n"
		"Dalio's coordinator in user space (the benchmarks' baseline): same protocol\n"
		"and guarantees as the XDP data path, over UDP sockets bound to each shard's\n"
		"VIP:port. Run it on the LB instead of dalio-agent.\n"
		"\n"
		"  -c, --config FILE   shards.yaml (the agent's format; lb.* is ignored)\n"
		"  -w, --wait SECONDS  how long to wait for replicas to answer at start (default "
		"10)\n"
		"  -C, --cpu N         pin the thread to CPU N\n"
		"  -b, --batch N       datagrams per recvmmsg (1-%d, default 64)\n"
		"  -h, --help          this text\n"
		"\n"
		"Counters go to stderr on exit (SIGINT/SIGTERM).\n",
		MAX_BATCH);
}

struct shard_rt {
	const struct dalio_shard_def *def;
	struct ulb_shard *s;
	int fd;
};

static int open_vip_socket(const struct dalio_shard_def *d)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_addr.s_addr = d->vip, .sin_port = htons(d->port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), v = SOCK_BUF;
	struct timeval tv = {.tv_sec = 1}; /* a blocking receive wakes up to see a signal */
	char ip[INET_ADDRSTRLEN];

	if (fd < 0) {
		fprintf(stderr, "dalio-ulb: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		inet_ntop(AF_INET, &d->vip, ip, sizeof(ip));
		fprintf(stderr,
			"dalio-ulb: shard %u: cannot bind %s:%u (%s): the VIP must be assigned "
			"to this host and no dalio-agent/other process may hold the port\n",
			d->id, ip, d->port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct probe {
	int answered;
	uint32_t epoch;
	uint64_t applied;
};

/* PINGs the replicas (carrying epoch, 0 = only ask) until all answer with it. */
static int probe(int fd, const struct dalio_shard_def *d, uint32_t epoch, int timeout_ms,
		 struct probe *out)
{
	int64_t deadline = now_ms() + timeout_ms, next_send = 0;
	uint64_t cid;
	int answered = 0;

	if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
		cid = (uint64_t)now_ms();
	memset(out, 0, sizeof(*out) * d->n_replicas);
	while (answered < (int)d->n_replicas && !stop_sig) {
		int64_t now = now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint8_t buf[BUF_SIZE];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct dalio_msg m;
		ssize_t n;

		if (now >= deadline)
			break;
		if (now >= next_send) {
			struct dalio_msg p = {.type = DALIO_T_PING,
					      .shard = (uint16_t)d->id,
					      .epoch = epoch,
					      .client_id = cid,
					      .request_id = 1};
			long len = dalio_encode(&p, buf, sizeof(buf), NULL);

			for (unsigned i = 0; i < d->n_replicas; i++) {
				struct sockaddr_in to = {.sin_family = AF_INET,
							 .sin_addr.s_addr = d->replicas[i].ip,
							 .sin_port = htons(d->replicas[i].port)};

				if (!out[i].answered)
					sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&to,
					       sizeof(to));
			}
			next_send = now + 100;
		}
		if (poll(&pfd, 1, (int)(next_send - now)) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0 || dalio_decode(buf, (size_t)n, &m, NULL) || m.type != DALIO_T_PONG ||
		    m.client_id != cid)
			continue;
		for (unsigned i = 0; i < d->n_replicas; i++) {
			if (d->replicas[i].ip != from.sin_addr.s_addr ||
			    htons(d->replicas[i].port) != from.sin_port || out[i].answered)
				continue;
			if (epoch && m.epoch != epoch)
				break; /* not adopted yet: keep pinging */
			out[i].answered = 1;
			out[i].epoch = m.epoch;
			out[i].applied = m.seq;
			answered++;
		}
	}
	return answered;
}

/* Finds the replicas, opens a new epoch, programs the shard like the agent. */
static int bring_up(struct shard_rt *rt, int wait_ms)
{
	const struct dalio_shard_def *d = rt->def;
	struct ulb_addr reps[DALIO_MAX_REPLICAS];
	struct probe p[DALIO_MAX_REPLICAS];
	uint32_t epoch = 0, mask = 0;
	uint64_t applied = 0;
	char ip[INET_ADDRSTRLEN];
	int n = probe(rt->fd, d, 0, wait_ms, p);

	for (unsigned i = 0; i < d->n_replicas; i++) {
		reps[i].ip = d->replicas[i].ip;
		reps[i].port = htons(d->replicas[i].port);
		if (p[i].answered && p[i].epoch > epoch)
			epoch = p[i].epoch;
	}
	epoch++;
	if (n > 0)
		n = probe(rt->fd, d, epoch, 2000, p);
	for (unsigned i = 0; i < d->n_replicas; i++)
		if (p[i].answered && p[i].applied > applied)
			applied = p[i].applied;
	n = 0;
	for (unsigned i = 0; i < d->n_replicas; i++) {
		if (!p[i].answered) {
			fprintf(stderr,
				"dalio-ulb: shard %u: replica %s did not answer: left out\n", d->id,
				d->replicas[i].addr);
		} else if (p[i].applied < applied) {
			fprintf(stderr,
				"dalio-ulb: shard %u: replica %s is behind (applied %" PRIu64
				" < %" PRIu64 "): left out\n",
				d->id, d->replicas[i].addr, p[i].applied, applied);
		} else {
			mask |= 1u << i;
			n++;
		}
	}
	ulb_shard_init(rt->s, d->id, (struct ulb_addr){.ip = d->vip, .port = htons(d->port)}, epoch,
		       reps, d->n_replicas, mask, mask, applied);
	inet_ntop(AF_INET, &d->vip, ip, sizeof(ip));
	fprintf(stderr,
		"dalio-ulb: shard %u (%s) on %s:%u, epoch %u, next seq %" PRIu64
		": %d of %u replicas in sync\n",
		d->id, d->name, ip, d->port, epoch, applied + 1, n, d->n_replicas);
	return 0;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "dalio-ulb: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

/* Receive buffers and the send batch; outputs point into the receive buffers. */
struct io {
	int batch;
	struct mmsghdr in[MAX_BATCH];
	struct iovec iin[MAX_BATCH];
	struct sockaddr_in from[MAX_BATCH];
	uint8_t buf[MAX_BATCH][BUF_SIZE];
	unsigned nout;
	struct mmsghdr out[MAX_BATCH * DALIO_MAX_REPLICAS];
	struct iovec iout[MAX_BATCH * DALIO_MAX_REPLICAS];
	struct sockaddr_in to[MAX_BATCH * DALIO_MAX_REPLICAS];
	uint64_t send_failed, received, sent;
};

static void flush(struct io *io, int fd)
{
	unsigned done = 0;

	while (done < io->nout) {
		int n = sendmmsg(fd, io->out + done, io->nout - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* drop the one that fails (e.g. unreachable), keep going */
			io->send_failed++;
			done++;
			continue;
		}
		done += (unsigned)n;
		io->sent += (uint64_t)n;
	}
	io->nout = 0;
}

/*
 * Drains the shard's socket: recvmmsg, handle each datagram, sendmmsg. With
 * block set, the first recvmmsg waits for a datagram (MSG_WAITFORONE), so a
 * single-shard LB needs no epoll_wait: one syscall per batch in, one out.
 */
static void serve(struct shard_rt *rt, struct ulb_clients *clients, struct io *io, int block)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		int n;

		for (int i = 0; i < io->batch; i++) {
			io->iin[i].iov_base = io->buf[i];
			io->iin[i].iov_len = BUF_SIZE;
			io->in[i].msg_hdr = (struct msghdr){.msg_name = &io->from[i],
							    .msg_namelen = sizeof(io->from[i]),
							    .msg_iov = &io->iin[i],
							    .msg_iovlen = 1};
		}
		n = recvmmsg(rt->fd, io->in, (unsigned)io->batch,
			     block && rounds == 0 ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		io->received += (uint64_t)n;
		for (int i = 0; i < n; i++) {
			struct ulb_addr from = {.ip = io->from[i].sin_addr.s_addr,
						.port = io->from[i].sin_port};
			size_t len = io->in[i].msg_len;
			struct ulb_out o;

			if (io->in[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = DALIO_MAX_DATAGRAM + 1; /* oversize: dropped as malformed */
			ulb_handle(rt->s, clients, io->buf[i], len, from, &o);
			for (unsigned j = 0; j < o.n; j++) {
				unsigned k = io->nout++;

				io->to[k] = (struct sockaddr_in){.sin_family = AF_INET,
								 .sin_addr.s_addr = o.to[j].ip,
								 .sin_port = o.to[j].port};
				io->iout[k].iov_base = io->buf[i];
				io->iout[k].iov_len = len;
				io->out[k].msg_hdr =
					(struct msghdr){.msg_name = &io->to[k],
							.msg_namelen = sizeof(io->to[k]),
							.msg_iov = &io->iout[k],
							.msg_iovlen = 1};
			}
		}
		flush(io, rt->fd);
		if (n < io->batch)
			return;
	}
}

static const char *const stat_names[DALIO_STAT_MAX] = {
	"writes",	  "reads_clean",    "reads_dirty",	"reads_acked",	  "acks",
	"acks_dup",	  "acks_stale",	    "replies",		"fanout_copies",  "refused_busy",
	"refused_norep",  "drop_malformed", "drop_not_replica", "drop_bad_shard", "retry_pending",
	"retry_replayed", "retry_stale",    "retry_mismatch",
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"wait", required_argument, NULL, 'w'},
		{"cpu", required_argument, NULL, 'C'},	  {"batch", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	static struct dalio_config cfg;
	static struct shard_rt rt[DALIO_MAX_SHARDS];
	static struct io io;
	struct ulb_clients *clients;
	const char *config_path = NULL;
	int wait_s = 10, cpu = -1, c, ep, rc = 0;
	struct sigaction sa;
	char err[1024];

	io.batch = 64;
	while ((c = getopt_long(argc, argv, "c:w:C:b:h", opts, NULL)) != -1) {
		char *end;
		long v = 0;

		if (c == 'w' || c == 'C' || c == 'b') {
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 3600 ||
			    (c == 'b' && (v < 1 || v > MAX_BATCH))) {
				fprintf(stderr, "dalio-ulb: bad value '%s' for --%s\n", optarg,
					c == 'w'   ? "wait"
					: c == 'C' ? "cpu"
						   : "batch");
				return 2;
			}
		}
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'w':
			wait_s = (int)v;
			break;
		case 'C':
			cpu = (int)v;
			break;
		case 'b':
			io.batch = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || optind != argc) {
		fprintf(stderr, "dalio-ulb: %s\n",
			config_path ? "unexpected arguments" : "--config FILE is required");
		usage(stderr);
		return 2;
	}
	if (dalio_config_load(config_path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "dalio-ulb: %s\n", err);
		return 2;
	}
	if (cpu >= 0)
		pin_cpu(cpu);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	clients = malloc(sizeof(*clients));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!clients || ep < 0) {
		fprintf(stderr, "dalio-ulb: out of memory\n");
		return 1;
	}
	ulb_clients_init(clients, DALIO_MAX_CLIENTS);
	for (unsigned i = 0; i < cfg.n_shards; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		rt[i].def = &cfg.shards[i];
		rt[i].s = calloc(1, sizeof(*rt[i].s));
		rt[i].fd = open_vip_socket(rt[i].def);
		if (!rt[i].s || rt[i].fd < 0)
			return 1;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, rt[i].fd, &ev)) {
			fprintf(stderr, "dalio-ulb: epoll_ctl: %s\n", strerror(errno));
			return 1;
		}
	}
	for (unsigned i = 0; i < cfg.n_shards && !stop_sig; i++)
		bring_up(&rt[i], wait_s * 1000);
	fprintf(stderr, "dalio-ulb: serving %u shard(s)%s\n", cfg.n_shards,
		cpu >= 0 ? "" : " (unpinned)");

	/* One shard: block in recvmmsg itself (a signal interrupts it). */
	while (!stop_sig && cfg.n_shards == 1)
		serve(&rt[0], clients, &io, 1);
	while (!stop_sig) {
		struct epoll_event evs[DALIO_MAX_SHARDS];
		int n = epoll_wait(ep, evs, DALIO_MAX_SHARDS, 1000);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "dalio-ulb: epoll_wait: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++)
			serve(&rt[evs[i].data.u32], clients, &io, 0);
	}
	if (stop_sig)
		fprintf(stderr, "dalio-ulb: stopping on signal %d\n", (int)stop_sig);
	fprintf(stderr,
		"dalio-ulb: received %" PRIu64 ", sent %" PRIu64 ", send failures %" PRIu64 "\n",
		io.received, io.sent, io.send_failed);
	for (unsigned i = 0; i < cfg.n_shards; i++) {
		fprintf(stderr, "dalio-ulb: shard %u: next seq %" PRIu64 ", in flight %u\n",
			rt[i].s->id, rt[i].s->next_seq, rt[i].s->in_flight);
		for (int k = 0; k < DALIO_STAT_MAX; k++)
			if (rt[i].s->stats[k])
				fprintf(stderr, "  %-18s %12" PRIu64 "\n", stat_names[k],
					rt[i].s->stats[k]);
		close(rt[i].fd);
		free(rt[i].s);
	}
	free(clients);
	close(ep);
	return rc;
}
