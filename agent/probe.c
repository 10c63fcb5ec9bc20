/* SPDX-License-Identifier: MIT */
/* Replica probing (PING/PONG) and neighbour-table MAC lookup; see probe.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dalio/codec.h"
#include "probe.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int probe_socket(uint32_t vip, char *err, size_t errlen)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = vip};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char ip[INET_ADDRSTRLEN];

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		inet_ntop(AF_INET, &vip, ip, sizeof(ip));
		snprintf(err, errlen,
			 "cannot bind to VIP %s (%s): the VIP must be assigned to this LB, "
			 "e.g. 'ip addr add %s/32 dev <interface>'",
			 ip, strerror(errno), ip);
		close(fd);
		return -1;
	}
	return fd;
}

struct sockaddr_in replica_sockaddr(const struct dalio_replica_def *rd)
{
	return (struct sockaddr_in){
		.sin_family = AF_INET, .sin_addr.s_addr = rd->ip, .sin_port = htons(rd->port)};
}

int recv_msg(int fd, void *buf, size_t cap, struct dalio_msg *m, struct sockaddr_in *from)
{
	socklen_t fl = sizeof(*from);
	ssize_t n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)from, &fl);

	if (n < 0)
		return -1;
	return dalio_decode(buf, (size_t)n, m, NULL) ? 1 : 0;
}

static void send_pings(int fd, const struct dalio_shard_def *s, uint32_t epoch, uint64_t cid,
		       uint64_t rid, const struct replica_probe *out)
{
	struct dalio_msg m = {.type = DALIO_T_PING,
			      .shard = (uint16_t)s->id,
			      .epoch = epoch,
			      .client_id = cid,
			      .request_id = rid};
	uint8_t buf[sizeof(struct dalio_hdr)];
	long len = dalio_encode(&m, buf, sizeof(buf), NULL);

	for (unsigned i = 0; i < s->n_replicas; i++) {
		struct sockaddr_in to = replica_sockaddr(&s->replicas[i]);

		if (out[i].answered && (!epoch || out[i].epoch == epoch))
			continue;
		sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
	}
}

int probe_replicas(const struct dalio_shard_def *s, uint32_t epoch, int timeout_ms,
		   struct replica_probe *out, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms, next_send = 0;
	uint64_t cid = 0, rid = 0;
	int fd = probe_socket(s->vip, err, errlen), answered = 0;

	if (fd < 0)
		return -1;
	if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
		cid = (uint64_t)now_ms();
	memset(out, 0, sizeof(*out) * s->n_replicas);
	while (answered < (int)s->n_replicas) {
		int64_t now = now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint8_t buf[2048];
		struct sockaddr_in from;
		struct dalio_msg m;

		if (now >= deadline)
			break;
		if (now >= next_send) {
			send_pings(fd, s, epoch, cid, ++rid, out);
			next_send = now + 100;
		}
		if (poll(&pfd, 1, (int)(next_send - now)) <= 0)
			continue;
		if (recv_msg(fd, buf, sizeof(buf), &m, &from) || m.type != DALIO_T_PONG ||
		    m.client_id != cid)
			continue;
		for (unsigned i = 0; i < s->n_replicas; i++) {
			if (s->replicas[i].ip != from.sin_addr.s_addr ||
			    htons(s->replicas[i].port) != from.sin_port)
				continue;
			if (epoch && m.epoch != epoch)
				break; /* not adopted yet: keep pinging */
			if (!out[i].answered)
				answered++;
			out[i].answered = 1;
			out[i].epoch = m.epoch;
			out[i].applied = m.seq;
		}
	}
	close(fd);
	return answered;
}

int neigh_lookup(uint32_t ip, const char *ifname, uint8_t mac[6])
{
	FILE *f = fopen("/proc/net/arp", "r");
	char line[256], ipbuf[64], hw[64], dev[64];
	unsigned type, flags, b[6];
	int found = -1;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return -1;
	}
	while (found && fgets(line, sizeof(line), f)) {
		struct in_addr a;

		if (sscanf(line, "%63s 0x%x 0x%x %63s %*s %63s", ipbuf, &type, &flags, hw, dev) !=
		    5)
			continue;
		if (!(flags & 0x2) || strcmp(dev, ifname) || inet_pton(AF_INET, ipbuf, &a) != 1 ||
		    a.s_addr != ip)
			continue;
		if (sscanf(hw, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
			continue;
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)b[i];
		found = 0;
	}
	fclose(f);
	return found;
}
