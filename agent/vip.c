/* SPDX-License-Identifier: MIT */
/* VIP takeover: addresses through rtnetlink, gratuitous ARP; see vip.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "log.h"
#include "route.h"
#include "vip.h"

/* VIPs this agent added (network order), for vip_release. */
static struct {
	unsigned n;
	uint32_t ip[DALIO_MAX_SHARDS];
} added;

/* An ARP packet for Ethernet/IPv4 after the Ethernet header. */
struct arp_eth {
	struct arphdr h;
	uint8_t sha[ETH_ALEN];
	uint8_t spa[4];
	uint8_t tha[ETH_ALEN];
	uint8_t tpa[4];
} __attribute__((packed));

/* The distinct VIPs of cfg, in file order. */
static unsigned distinct_vips(const struct dalio_config *cfg, uint32_t *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_shards; i++) {
		unsigned j;

		for (j = 0; j < n && out[j] != cfg->shards[i].vip; j++)
			;
		if (j == n)
			out[n++] = cfg->shards[i].vip;
	}
	return n;
}

/* RTM_NEWADDR/RTM_DELADDR of ip/32 on ifindex. 0 or -errno. */
static int addr_change(int type, int ifindex, uint32_t ip)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned seq = (unsigned)time(NULL), portid;
	ssize_t n;
	int rc = 0;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, ip);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, ip);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0)
		rc = -errno;
out:
	mnl_socket_close(nl);
	return rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int vip_announce(const struct dalio_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_ll to = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_ARP),
				 .sll_halen = ETH_ALEN,
				 .sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	struct arp_eth pkt = {.h = {.ar_hrd = htons(ARPHRD_ETHER),
				    .ar_pro = htons(ETH_P_IP),
				    .ar_hln = ETH_ALEN,
				    .ar_pln = 4,
				    .ar_op = htons(ARPOP_REQUEST)}};
	uint32_t vips[DALIO_MAX_SHARDS];
	unsigned n = distinct_vips(cfg, vips), sent = 0;
	int ifindex = (int)if_nametoindex(cfg->interface), fd;

	if (!ifindex || route_iface_mac(cfg->interface, pkt.sha)) {
		snprintf(err, errlen, "gratuitous ARP: no MAC address on %s: %s", cfg->interface,
			 strerror(errno));
		return -1;
	}
	to.sll_ifindex = ifindex;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ARP));
	if (fd < 0) {
		snprintf(err, errlen, "gratuitous ARP: AF_PACKET socket: %s", strerror(errno));
		return -1;
	}
	for (unsigned round = 0; round < VIP_GARP_COUNT; round++) {
		if (round)
			sleep_ms(VIP_GARP_INTERVAL);
		for (unsigned i = 0; i < n; i++) {
			/* RFC 5227 announcement: sender = target = VIP. */
			memcpy(pkt.spa, &vips[i], 4);
			memcpy(pkt.tpa, &vips[i], 4);
			if (sendto(fd, &pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&to,
				   sizeof(to)) == (ssize_t)sizeof(pkt))
				sent++;
			else
				log_warn("gratuitous ARP on %s: %s", cfg->interface,
					 strerror(errno));
		}
	}
	close(fd);
	log_info("sent %u gratuitous ARP(s) for %u VIP(s) on %s", sent, n, cfg->interface);
	return 0;
}

int vip_takeover(const struct dalio_config *cfg, char *err, size_t errlen)
{
	uint32_t vips[DALIO_MAX_SHARDS];
	unsigned n = distinct_vips(cfg, vips);
	int ifindex = (int)if_nametoindex(cfg->interface);
	char ip[INET_ADDRSTRLEN];

	if (!ifindex) {
		snprintf(err, errlen, "lb.interface %s: %s", cfg->interface, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		int rc = addr_change(RTM_NEWADDR, ifindex, vips[i]);

		inet_ntop(AF_INET, &vips[i], ip, sizeof(ip));
		if (rc == -EEXIST) {
			log_info("VIP %s is already on %s", ip, cfg->interface);
			continue;
		}
		if (rc) {
			snprintf(err, errlen, "cannot add VIP %s/32 to %s: %s", ip, cfg->interface,
				 strerror(-rc));
			return -1;
		}
		added.ip[added.n++] = vips[i];
		log_info("added VIP %s/32 to %s", ip, cfg->interface);
	}
	if (vip_announce(cfg, err, errlen))
		log_warn("%s", err);
	return 0;
}

void vip_release(const struct dalio_config *cfg)
{
	int ifindex = (int)if_nametoindex(cfg->interface);
	char ip[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < added.n; i++) {
		int rc = ifindex ? addr_change(RTM_DELADDR, ifindex, added.ip[i]) : -ENODEV;

		inet_ntop(AF_INET, &added.ip[i], ip, sizeof(ip));
		if (rc && rc != -EADDRNOTAVAIL)
			log_warn("cannot remove VIP %s from %s: %s", ip, cfg->interface,
				 strerror(-rc));
		else
			log_info("removed VIP %s/32 from %s", ip, cfg->interface);
	}
	added.n = 0;
}
