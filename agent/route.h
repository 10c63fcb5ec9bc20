/* SPDX-License-Identifier: MIT */
/*
 * Where the kernel sends traffic for a replica: the route's output interface
 * and next hop (rtnetlink RTM_GETROUTE through libmnl), that interface's MAC,
 * and the next hop's MAC from the neighbour table. On a one-armed LB every
 * replica resolves to lb.interface; on a multi-homed one each replica's
 * interface is where its copies, reads and replays leave.
 */
#ifndef DALIO_AGENT_ROUTE_H
#define DALIO_AGENT_ROUTE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "probe.h"

struct route_hop {
	int ifindex; /* output interface */
	char ifname[IF_NAMESIZE];
	uint32_t nexthop;   /* gateway, or the destination itself (network order) */
	uint8_t src_mac[6]; /* the output interface's MAC */
};

/* The MAC address of interface ifname. 0, or -1 (errno set). */
int route_iface_mac(const char *ifname, uint8_t mac[6]);

/* Asks the kernel's routing table for dst (network order). 0, or -1 with err set. */
int route_lookup(uint32_t dst, struct route_hop *hop, char *err, size_t errlen);

/*
 * Fills p's hop fields for replica i of shard s: ifindex and src_mac of the route's
 * interface, and mac/have_mac from the neighbour entry of its next hop there.
 * Leaves have_mac 0 (and logs why) when there is no route or no entry.
 */
void route_resolve_replica(const struct dalio_config *cfg, const struct dalio_shard_def *s,
			   unsigned i, struct replica_probe *p);

#endif
