/* SPDX-License-Identifier: MIT */
/*
 * Re-sending writes from the payload ring (docs/retransmission.md): a timer
 * scans each shard's pending ring for writes whose acks are overdue, and a
 * socket on each VIP:port takes the replicas' NACKs.
 */
#ifndef DALIO_AGENT_RETRANSMIT_H
#define DALIO_AGENT_RETRANSMIT_H

#include <stddef.h>
#include <stdint.h>

struct agent;

#define RETX_TICK_MS	5
#define RETX_RTO_MS	25  /* first re-send of a write pending this long */
#define RETX_MAX_MS	400 /* backoff cap */
#define RETX_NACK_RANGE 256 /* seqs honoured per NACK */

/* Maps the rings, opens the VIP:port sockets, registers with the loop. */
int retransmit_init(struct agent *a, char *err, size_t errlen);
void retransmit_close(struct agent *a);
/* The VIP:port socket of shard si (index into cfg.shards), for SIGHUP. */
int retransmit_open_shard(struct agent *a, unsigned si, char *err, size_t errlen);
void retransmit_close_shard(struct agent *a, unsigned si);
/*
 * Sends write seq of shard (index si into cfg.shards) to replica r with the
 * shard's current epoch. 0 on success, -1 if the ring no longer holds seq
 * (overwritten by a later write, or never kept).
 */
int retransmit_send(struct agent *a, unsigned si, uint64_t seq, unsigned r);

#endif /* DALIO_AGENT_RETRANSMIT_H */
