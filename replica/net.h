/* SPDX-License-Identifier: MIT */
/* dalio-replica: receiving batches of datagrams; see net.c. */
#ifndef DALIO_REPLICA_NET_H
#define DALIO_REPLICA_NET_H

#include "pkt.h"

struct rp_state;

/*
 * Receives up to max (<= RP_BATCH) datagrams without blocking. Returns how
 * many (0 when none are waiting), or -1 on a socket error. A datagram
 * longer than DALIO_MAX_DATAGRAM comes back with len 0.
 */
int rp_recv_batch(struct rp_state *s, struct rp_pkt *pkts, int max);

#endif /* DALIO_REPLICA_NET_H */
