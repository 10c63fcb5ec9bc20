/* SPDX-License-Identifier: MIT */
/* Route, interface MAC and next-hop MAC of a replica; see route.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "log.h"
#include "route.h"

struct route_reply {
	int type;
	int ifindex;
	uint32_t gateway;
};

static int route_attr(const struct nlattr *attr, void *data)
{
	struct route_reply *r = data;

	switch (mnl_attr_get_type(attr)) {
	case RTA_OIF:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			r->ifindex = (int)mnl_attr_get_u32(attr);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			r->gateway = mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

static int route_msg(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_reply *r = data;

	r->type = rtm->rtm_type;
	return mnl_attr_parse(nlh, sizeof(*rtm), route_attr, r);
}

int route_iface_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int route_lookup(uint32_t dst, struct route_hop *hop, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], ip[INET_ADDRSTRLEN];
	struct route_reply r = {.type = -1};
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	unsigned seq = (unsigned)time(NULL), portid;
	ssize_t n;
	int rc = -1;

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	memset(hop, 0, sizeof(*hop));
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "route to %s: cannot open rtnetlink: %s", ip,
			 strerror(errno));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	mnl_attr_put_u32(nlh, RTA_DST, dst);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, errlen, "route to %s: rtnetlink: %s", ip, strerror(errno));
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, (size_t)n, seq, portid, route_msg, &r) < 0) {
		snprintf(err, errlen, "no route to %s: %s", ip, strerror(errno));
		goto out;
	}
	if (r.type == RTN_LOCAL) {
		snprintf(err, errlen, "%s is an address of this host, not a replica", ip);
		goto out;
	}
	if (r.type != RTN_UNICAST || r.ifindex <= 0 ||
	    !if_indextoname((unsigned)r.ifindex, hop->ifname)) {
		snprintf(err, errlen, "no usable route to %s", ip);
		goto out;
	}
	if (route_iface_mac(hop->ifname, hop->src_mac)) {
		snprintf(err, errlen, "route to %s: no MAC address on %s: %s", ip, hop->ifname,
			 strerror(errno));
		goto out;
	}
	hop->ifindex = r.ifindex;
	hop->nexthop = r.gateway ? r.gateway : dst;
	rc = 0;
out:
	if (nl)
		mnl_socket_close(nl);
	return rc;
}

void route_resolve_replica(const struct dalio_config *cfg, const struct dalio_shard_def *s,
			   unsigned i, struct replica_probe *p)
{
	const struct dalio_replica_def *r = &s->replicas[i];
	struct route_hop hop;
	char err[256];

	p->have_mac = 0;
	if (route_lookup(r->ip, &hop, err, sizeof(err))) {
		log_warn("%s:%d:%d: shard %u replica %s: %s", cfg->path, r->line, r->col, s->id,
			 r->addr, err);
		return;
	}
	p->ifindex = hop.ifindex;
	memcpy(p->src_mac, hop.src_mac, sizeof(p->src_mac));
	p->have_mac = neigh_lookup(hop.nexthop, hop.ifname, p->mac) == 0;
}
