/* SPDX-License-Identifier: MIT */
/* LB failover heartbeat between an active and a standby agent; see peer.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dalio/codec.h"
#include "log.h"
#include "peer.h"

/* ---- the timeout logic (pure) ---- */

void peer_watch_init(struct peer_watch *w, unsigned timeout_ms, int64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	w->timeout_ms = timeout_ms;
	w->start_ms = now_ms;
}

void peer_watch_heard(struct peer_watch *w, int64_t now_ms, uint32_t epoch, uint64_t seq)
{
	if (now_ms > w->last_ms)
		w->last_ms = now_ms;
	w->last_epoch = epoch;
	w->last_seq = seq;
	w->heard++;
}

int64_t peer_watch_silence(const struct peer_watch *w, int64_t now_ms)
{
	int64_t since = w->last_ms > w->start_ms ? w->last_ms : w->start_ms;

	return now_ms > since ? now_ms - since : 0;
}

int peer_watch_due(struct peer_watch *w, int64_t now_ms)
{
	if (w->fired || peer_watch_silence(w, now_ms) < (int64_t)w->timeout_ms)
		return 0;
	w->fired = 1;
	return 1;
}

/* ---- socket and timers ---- */

enum peer_role { PEER_IDLE, PEER_STANDBY, PEER_ACTIVE };

static struct {
	struct loop *loop;
	const struct dalio_config *cfg;
	peer_epoch_fn epoch;
	peer_takeover_fn takeover;
	void *arg;
	int fd;
	enum peer_role role;
	int check_timer, send_timer; /* registered with the loop */
	struct peer_watch watch;
	uint64_t sent;	     /* heartbeats sent (their seq) */
	int64_t send_err_ms; /* last send error logged */
	int64_t rival_ms;    /* last "peer is active too" logged */
	char peer_str[INET_ADDRSTRLEN];
} pr = {.fd = -1};

/* Logs something at most once per second (returns 1 when it may log). */
static int rate_ok(int64_t *last, int64_t now)
{
	if (*last && now - *last < 1000)
		return 0;
	*last = now;
	return 1;
}

static void on_readable(void *arg, int fd)
{
	uint8_t buf[DALIO_MAX_DATAGRAM];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	struct dalio_msg m;
	const char *why;
	int64_t now;
	ssize_t n;

	(void)arg;
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		now = loop_now_ms();
		if (from.sin_family != AF_INET || from.sin_addr.s_addr != pr.cfg->peer_ip ||
		    ntohs(from.sin_port) != pr.cfg->peer_port) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
			log_debug("peer: ignoring a datagram from %s:%u (not lb.peer)", ip,
				  ntohs(from.sin_port));
			continue;
		}
		if (dalio_decode(buf, (size_t)n, &m, &why)) {
			log_debug("peer: bad datagram from %s: %s", pr.peer_str, why);
			continue;
		}
		if (m.type != DALIO_T_LB_HEARTBEAT) {
			log_debug("peer: ignoring %s from %s", dalio_type_name(m.type),
				  pr.peer_str);
			continue;
		}
		if (pr.role == PEER_ACTIVE) {
			/* Both sides think they are active: the other one has
			 * not been fenced (docs/vr.md). Say so, loudly. */
			if (rate_ok(&pr.rival_ms, now))
				log_warn("active: LB %s sends heartbeats too (epoch %u): it should "
					 "have been fenced",
					 pr.peer_str, m.epoch);
			continue;
		}
		if (pr.watch.heard == 0)
			log_info("standby: heard active LB %s (epoch %u, heartbeat %llu)",
				 pr.peer_str, m.epoch, (unsigned long long)m.seq);
		peer_watch_heard(&pr.watch, now, m.epoch, m.seq);
	}
}

static void on_check(void *arg, int64_t now)
{
	int64_t silent;

	(void)arg;
	if (pr.role != PEER_STANDBY || !peer_watch_due(&pr.watch, now))
		return;
	silent = peer_watch_silence(&pr.watch, now);
	if (pr.watch.heard)
		log_info("standby: active LB %s silent for %lld ms: taking over (last heartbeat "
			 "%llu, epoch %u)",
			 pr.peer_str, (long long)silent, (unsigned long long)pr.watch.last_seq,
			 pr.watch.last_epoch);
	else
		log_info("standby: active LB %s silent for %lld ms: taking over (no heartbeat "
			 "since start)",
			 pr.peer_str, (long long)silent);
	pr.role = PEER_IDLE;
	pr.takeover(pr.arg, silent);
}

static void send_heartbeat(void)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = pr.cfg->peer_ip,
				 .sin_port = htons(pr.cfg->peer_port)};
	struct dalio_msg m = {.type = DALIO_T_LB_HEARTBEAT, .shard = DALIO_SHARD_ANY};
	uint8_t buf[sizeof(struct dalio_hdr)];
	long len;

	m.epoch = pr.epoch ? pr.epoch(pr.arg) : 0;
	m.seq = ++pr.sent;
	len = dalio_encode(&m, buf, sizeof(buf), NULL);
	if (len <= 0)
		return;
	if (sendto(pr.fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0 &&
	    rate_ok(&pr.send_err_ms, loop_now_ms()))
		log_warn("active: cannot send a heartbeat to %s:%u: %s", pr.peer_str,
			 pr.cfg->peer_port, strerror(errno));
}

static void on_send(void *arg, int64_t now)
{
	(void)arg;
	(void)now;
	if (pr.role == PEER_ACTIVE && pr.fd >= 0)
		send_heartbeat();
}

int peer_init(struct loop *l, const struct dalio_config *cfg, peer_epoch_fn epoch,
	      peer_takeover_fn takeover, void *arg, char *err, size_t errlen)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(cfg->peer_port)};
	int one = 1;

	memset(&pr, 0, sizeof(pr));
	pr.fd = -1;
	pr.loop = l;
	pr.cfg = cfg;
	pr.epoch = epoch;
	pr.takeover = takeover;
	pr.arg = arg;
	inet_ntop(AF_INET, &cfg->peer_ip, pr.peer_str, sizeof(pr.peer_str));
	pr.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (pr.fd < 0 || setsockopt(pr.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(pr.fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    loop_add_fd(l, pr.fd, on_readable, NULL)) {
		snprintf(err, errlen, "lb.peer: cannot open the LB control port 0.0.0.0:%u: %s",
			 cfg->peer_port, strerror(errno));
		if (pr.fd >= 0)
			close(pr.fd);
		pr.fd = -1;
		return -1;
	}
	return 0;
}

int peer_start_standby(void)
{
	unsigned period = pr.cfg->peer_timeout_ms / 25;

	if (period < 2)
		period = 2;
	peer_watch_init(&pr.watch, pr.cfg->peer_timeout_ms, loop_now_ms());
	if (!pr.check_timer) {
		if (loop_add_timer(pr.loop, period, on_check, NULL))
			return -1;
		pr.check_timer = 1;
	}
	pr.role = PEER_STANDBY;
	log_info("standby: watching active LB %s:%u (takeover after %u ms without a "
		 "heartbeat)",
		 pr.peer_str, pr.cfg->peer_port, pr.cfg->peer_timeout_ms);
	return 0;
}

int peer_start_active(void)
{
	if (!pr.send_timer) {
		if (loop_add_timer(pr.loop, pr.cfg->heartbeat_ms, on_send, NULL))
			return -1;
		pr.send_timer = 1;
	}
	pr.role = PEER_ACTIVE;
	send_heartbeat();
	log_info("active: sending heartbeats to %s:%u every %u ms", pr.peer_str, pr.cfg->peer_port,
		 pr.cfg->heartbeat_ms);
	return 0;
}

int peer_is_standby(void)
{
	return pr.role == PEER_STANDBY;
}

void peer_close(void)
{
	if (pr.fd >= 0) {
		if (pr.loop)
			loop_del_fd(pr.loop, pr.fd);
		close(pr.fd);
	}
	pr.fd = -1;
	pr.role = PEER_IDLE;
}
