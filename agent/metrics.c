/* SPDX-License-Identifier: MIT */
/* The agent's HTTP endpoint (Prometheus metrics, status); see metrics.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "metrics_fmt.h"

struct metrics;

struct conn {
	int fd; /* -1: free */
	int64_t start_ms;
	size_t in_len;
	char in[METRICS_MAX_REQUEST];
	char *out; /* the whole response once the request is read */
	size_t out_len, out_off;
	int draining; /* response sent, write side shut: reading until EOF */
	struct metrics *m;
};

/* The last table scan of a shard (lbstate_scan_tables), refreshed in the
 * background one shard per METRICS_SCAN_MS so that a scrape never blocks the
 * loop for a scan of every shard. */
struct scan {
	int valid;
	int64_t at_ms;
	uint32_t dirty_buckets, pending_slots;
	uint64_t oldest_pending_ns;
};

struct metrics {
	struct agent *a;
	unsigned next_scan;
	struct scan scans[DALIO_MAX_SHARDS];
	int lfd;
	int paused; /* all connections busy: the listener is out of the loop */
	uint64_t scrapes;
	double start_time;
	struct conn conns[METRICS_MAX_CONNS];
};

static void on_accept(void *arg, int lfd);

static void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	loop_del_fd(&c->m->a->loop, c->fd);
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->in_len = c->out_len = c->out_off = 0;
	c->draining = 0;
	if (c->m->paused && loop_add_fd(&c->m->a->loop, c->m->lfd, on_accept, c->m) == 0)
		c->m->paused = 0;
}

static void scan_shard(struct metrics *m, unsigned i, int64_t now_ms)
{
	const struct dalio_config *cfg = &m->a->cfg;
	struct lb_shard_snap sn;
	struct scan *sc = &m->scans[i];

	if (lbstate_scan_tables(&m->a->maps, &cfg->shards[i], &sn)) {
		if (sc->valid)
			log_warn("metrics: cannot read shard %u's tables: %s", cfg->shards[i].id,
				 strerror(errno));
		sc->valid = 0;
		return;
	}
	sc->valid = 1;
	sc->at_ms = now_ms;
	sc->dirty_buckets = sn.dirty_buckets;
	sc->pending_slots = sn.pending_slots;
	sc->oldest_pending_ns = sn.oldest_pending_ns;
}

static void scan_next(void *arg, int64_t now_ms)
{
	struct metrics *m = arg;

	scan_shard(m, m->next_scan++ % m->a->cfg.n_shards, now_ms);
}

/* The body of a route, or NULL (out of memory). */
static char *body_for(struct metrics *m, int is_metrics, size_t *len)
{
	const struct dalio_config *cfg = &m->a->cfg;
	struct lb_shard_snap *snap = calloc(DALIO_MAX_SHARDS, sizeof(*snap));
	int ok[DALIO_MAX_SHARDS] = {0};
	char *buf = NULL;
	FILE *f;

	if (!snap)
		return NULL;
	for (unsigned i = 0; i < cfg->n_shards; i++) {
		const struct scan *sc = &m->scans[i];
		int64_t now = loop_now_ms();

		if (!sc->valid) /* not scanned yet (just started) */
			scan_shard(m, i, now);
		ok[i] = lbstate_read_counters(&m->a->maps, &cfg->shards[i], &snap[i]) == 0 &&
			sc->valid;
		if (!ok[i])
			continue;
		snap[i].dirty_buckets = sc->dirty_buckets;
		snap[i].pending_slots = sc->pending_slots;
		/* The oldest write seen pending at the scan has aged since. */
		if (sc->oldest_pending_ns && snap[i].in_flight)
			snap[i].oldest_pending_ns =
				sc->oldest_pending_ns + (uint64_t)(now - sc->at_ms) * 1000000u;
	}
	f = open_memstream(&buf, len);
	if (f) {
		struct metrics_view v = {.cfg = cfg,
					 .rt = m->a->shards,
					 .snap = snap,
					 .snap_ok = ok,
					 .now_ms = loop_now_ms(),
					 .start_time = m->start_time,
					 .scrapes = m->scrapes};
		int rc = is_metrics ? metrics_format(f, &v) : status_format(f, &v);

		if (fclose(f) || rc) {
			free(buf);
			buf = NULL;
		}
	}
	free(snap);
	return buf;
}

/* Builds c->out: status line, headers, body. */
static void respond(struct conn *c)
{
	const char *status = "200 OK", *ctype = "text/plain; charset=utf-8";
	char method[16] = "", path[256] = "", *body = NULL, *q;
	size_t blen = 0;
	FILE *f;

	if (!strstr(c->in, "\n\n") && !strstr(c->in, "\r\n\r\n")) {
		status = "431 Request Header Fields Too Large";
	} else if (sscanf(c->in, "%15s %255s", method, path) != 2) {
		status = "400 Bad Request";
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = "405 Method Not Allowed";
	} else {
		if ((q = strchr(path, '?')))
			*q = '\0';
		if (strcmp(path, "/metrics") == 0) {
			c->m->scrapes++;
			ctype = "text/plain; version=0.0.4; charset=utf-8";
			body = body_for(c->m, 1, &blen);
		} else if (strcmp(path, "/status") == 0) {
			body = body_for(c->m, 0, &blen);
		} else if (strcmp(path, "/") == 0) {
			body = strdup("dalio-agent: GET /metrics (Prometheus), GET /status\n");
			blen = body ? strlen(body) : 0;
		} else {
			status = "404 Not Found";
		}
		if (!body && strncmp(status, "200", 3) == 0)
			status = "500 Internal Server Error";
	}
	if (strncmp(status, "200", 3) != 0) {
		free(body);
		if (asprintf(&body, "%s\n", status) < 0)
			body = NULL;
		blen = body ? strlen(body) : 0;
	}
	f = open_memstream(&c->out, &c->out_len);
	if (!f) {
		free(body);
		conn_close(c);
		return;
	}
	fprintf(f,
		"HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: "
		"close\r\n\r\n",
		status, ctype, blen);
	if (body && strcmp(method, "HEAD") != 0)
		fwrite(body, 1, blen, f);
	free(body);
	if (fclose(f)) {
		c->out = NULL;
		conn_close(c);
	}
}

static void on_conn(void *arg, int fd)
{
	struct conn *c = arg;
	char scratch[1024];
	ssize_t n;

	if (c->draining) {
		/* Closing with unread input would reset the connection and
		 * could destroy the response before the client reads it. */
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	if (!c->out) {
		n = recv(fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			return;
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		if (!strstr(c->in, "\r\n\r\n") && !strstr(c->in, "\n\n") &&
		    c->in_len < sizeof(c->in) - 1)
			return; /* headers not complete yet */
		respond(c);
		if (!c->out)
			return;
	} else {
		/* Discard anything more the client sends, so a readable socket
		 * does not wake the loop over and over while we wait to write. */
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0) {
			conn_close(c);
			return;
		}
	}
	while (c->out_off < c->out_len) {
		n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (loop_want_write(&c->m->a->loop, fd, 1))
				conn_close(c);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	c->draining = 1;
	if (loop_want_write(&c->m->a->loop, fd, 0))
		conn_close(c);
}

static void on_accept(void *arg, int lfd)
{
	struct metrics *m = arg;

	for (int k = 0; k < 16; k++) {
		struct conn *c = NULL;
		int fd;

		for (int i = 0; i < METRICS_MAX_CONNS && !c; i++)
			if (m->conns[i].fd < 0)
				c = &m->conns[i];
		if (!c) {
			/* All busy: leave new ones in the backlog, and the listener
			 * out of the loop until a connection closes. */
			loop_del_fd(&m->a->loop, lfd);
			m->paused = 1;
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (loop_add_fd(&m->a->loop, fd, on_conn, c)) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->start_ms = loop_now_ms();
		c->in_len = 0;
	}
}

static void on_timer(void *arg, int64_t now_ms)
{
	struct metrics *m = arg;

	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		if (m->conns[i].fd >= 0 && now_ms - m->conns[i].start_ms > METRICS_CONN_TIMEOUT_MS)
			conn_close(&m->conns[i]);
}

int metrics_start(struct agent *a, char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = a->cfg.metrics_ip,
				 .sin_port = htons(a->cfg.metrics_port)};
	char ip[INET_ADDRSTRLEN];
	struct metrics *m;
	struct timespec ts;
	int one = 1;

	a->metrics = NULL;
	if (!a->cfg.metrics_port)
		return 0;
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->a = a;
	for (int i = 0; i < METRICS_MAX_CONNS; i++) {
		m->conns[i].fd = -1;
		m->conns[i].m = m;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(m->lfd, 16)) {
		snprintf(err, errlen,
			 "%s: lb.metrics: cannot listen on %s:%u: %s (set lb.metrics to another "
			 "IP:PORT, or off)",
			 a->cfg.path, ip, a->cfg.metrics_port, strerror(errno));
		goto fail;
	}
	if (loop_add_fd(&a->loop, m->lfd, on_accept, m) ||
	    loop_add_timer(&a->loop, 1000, on_timer, m) ||
	    loop_add_timer(&a->loop, METRICS_SCAN_MS, scan_next, m)) {
		snprintf(err, errlen, "metrics: cannot register with the event loop: %s",
			 strerror(errno));
		goto fail;
	}
	a->metrics = m;
	log_info("metrics on http://%s:%u/metrics", ip, a->cfg.metrics_port);
	return 0;
fail:
	if (m->lfd >= 0) {
		loop_del_fd(&a->loop, m->lfd);
		close(m->lfd);
	}
	free(m);
	return -1;
}

void metrics_stop(struct agent *a)
{
	struct metrics *m = a->metrics;

	if (!m)
		return;
	m->paused = 0;
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		conn_close(&m->conns[i]);
	loop_del_fd(&a->loop, m->lfd);
	close(m->lfd);
	free(m);
	a->metrics = NULL;
}
