/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: the UDP side. Opens the socket, receives batches with
 * recvmmsg, filters sources against --lb, and sends answers in sendmmsg
 * batches. Never blocks: a full socket buffer drops (and counts) answers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "replica.h"

#define RP_RCVBUF (4 << 20)

int rp_net_open(struct rp_state *s)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int sz = RP_RCVBUF;

	if (fd < 0) {
		rp_log("socket: %s\n", strerror(errno));
		return -1;
	}
	/* SO_RCVBUFFORCE passes net.core.rmem_max when we may; else best effort. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)))
		rp_log("warning: cannot set SO_RCVBUF to %d: %s\n", sz, strerror(errno));
	if (bind(fd, (struct sockaddr *)&s->cfg.listen, sizeof(s->cfg.listen))) {
		rp_log("cannot listen on %s:%u: %s\n", inet_ntoa(s->cfg.listen.sin_addr),
		       ntohs(s->cfg.listen.sin_port), strerror(errno));
		close(fd);
		return -1;
	}
	s->fd = fd;
	return 0;
}

int rp_from_lb(const struct rp_state *s, const struct sockaddr_in *from)
{
	if (from->sin_family != AF_INET)
		return 0;
	for (int i = 0; i < s->cfg.nlb; i++)
		if (from->sin_addr.s_addr == s->cfg.lb[i])
			return 1;
	return 0;
}

int rp_recv_batch(struct rp_state *s, struct rp_pkt *pkts, int max)
{
	struct mmsghdr msgs[RP_BATCH];
	struct iovec iov[RP_BATCH];
	int n;

	if (max > RP_BATCH)
		max = RP_BATCH;
	memset(msgs, 0, sizeof(msgs[0]) * (size_t)max);
	for (int i = 0; i < max; i++) {
		iov[i].iov_base = pkts[i].data;
		iov[i].iov_len = sizeof(pkts[i].data);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &pkts[i].from;
		msgs[i].msg_hdr.msg_namelen = sizeof(pkts[i].from);
	}
	n = recvmmsg(s->fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		/* Oversize datagrams are marked with len 0 and dropped by the caller. */
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			pkts[i].len = 0;
		else
			pkts[i].len = (uint16_t)msgs[i].msg_len;
	}
	return n;
}

void rp_send(struct rp_state *s, const struct sockaddr_in *to, const struct dalio_msg *m)
{
	struct rp_out *o = s->out;
	const char *err;
	long len;

	if (o->n == RP_BATCH)
		rp_flush(s);
	len = dalio_encode(m, o->buf[o->n], sizeof(o->buf[o->n]), &err);
	if (len < 0) { /* callers keep bodies within RP_MAX_BODY */
		rp_log("cannot encode %s: %s\n", dalio_type_name(m->type), err);
		s->st.send_failed++;
		return;
	}
	o->to[o->n] = *to;
	o->iov[o->n].iov_base = o->buf[o->n];
	o->iov[o->n].iov_len = (size_t)len;
	o->n++;
}

void rp_flush(struct rp_state *s)
{
	struct rp_out *o = s->out;
	unsigned done = 0;

	for (unsigned i = 0; i < o->n; i++) {
		memset(&o->msgs[i], 0, sizeof(o->msgs[i]));
		o->msgs[i].msg_hdr.msg_iov = &o->iov[i];
		o->msgs[i].msg_hdr.msg_iovlen = 1;
		o->msgs[i].msg_hdr.msg_name = &o->to[i];
		o->msgs[i].msg_hdr.msg_namelen = sizeof(o->to[i]);
	}
	/* Bounded: each round either sends something or gives up. */
	while (done < o->n) {
		int k = sendmmsg(s->fd, o->msgs + done, o->n - done, MSG_DONTWAIT);

		if (k <= 0) {
			/* Skip the datagram that failed (EAGAIN, unreachable, ...). */
			s->st.send_failed++;
			done++;
			continue;
		}
		s->st.sent += (unsigned)k;
		done += (unsigned)k;
	}
	o->n = 0;
}
