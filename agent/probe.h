/* SPDX-License-Identifier: MIT */
/*
 * Talking to a shard's replica daemons from the agent: PING/PONG to learn each
 * replica's epoch and applied sequence number (and to announce a new epoch),
 * and the next-hop MAC of each replica from the kernel's neighbour table.
 */
#ifndef DALIO_AGENT_PROBE_H
#define DALIO_AGENT_PROBE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dalio/codec.h"

struct replica_probe {
	int answered;
	uint32_t epoch;
	uint64_t applied;
	int have_mac;
	uint8_t mac[6]; /* next hop's MAC */
	int ifindex;	/* interface the route to the replica leaves by (route.h) */
	uint8_t src_mac[6];
};

/*
 * PINGs every replica of s from a socket bound to the shard's VIP, carrying
 * epoch (0 = only ask), until all have answered or timeout_ms passes. Fills
 * out[i] for replica i and returns how many answered, or -1 with err set when
 * the socket cannot be set up (e.g. the VIP is not assigned to this host).
 */
int probe_replicas(const struct dalio_shard_def *s, uint32_t epoch, int timeout_ms,
		   struct replica_probe *out, char *err, size_t errlen);

/* A blocking UDP socket bound to VIP:0 (answers to it pass the data path),
 * or -1 with err saying how to assign the VIP. */
int probe_socket(uint32_t vip, char *err, size_t errlen);

/* The UDP address of replica rd. */
struct sockaddr_in replica_sockaddr(const struct dalio_replica_def *rd);

/*
 * Takes one datagram from fd without blocking and decodes it into m (which
 * points into buf). Returns 0 for a Dalio message, 1 for a datagram that is
 * not one (skip it), -1 when nothing is waiting.
 */
int recv_msg(int fd, void *buf, size_t cap, struct dalio_msg *m, struct sockaddr_in *from);

/* Looks ip (network order) up in the neighbour table of ifname. 0 if found. */
int neigh_lookup(uint32_t ip, const char *ifname, uint8_t mac[6]);

#endif
