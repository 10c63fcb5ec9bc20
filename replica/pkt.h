/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: a received datagram kept for later (gap buffer, read queue),
 * and the size limits shared by the replica's parts.
 */
#ifndef DALIO_REPLICA_PKT_H
#define DALIO_REPLICA_PKT_H

#include <netinet/in.h>
#include <stdint.h>

#include "dalio/wire.h"

/* The largest body a reply can carry in one datagram (ACK, READ_REPLY). */
#define RP_MAX_BODY (DALIO_MAX_DATAGRAM - sizeof(struct dalio_hdr))

struct rp_pkt {
	struct sockaddr_in from; /* where the answer goes */
	uint16_t len;
	uint8_t data[DALIO_MAX_DATAGRAM];
};

#endif /* DALIO_REPLICA_PKT_H */
