/* SPDX-License-Identifier: MIT */
/*
 * Dalio wire protocol v1: the one definition of what travels on the wire,
 * shared by the BPF programs (xdp/, tc/) and all user space (agent, replica,
 * client). Every multi-byte field is in network byte order.
 *
 * A datagram is: struct dalio_hdr (64 bytes) | key (key_len bytes) | body.
 * For requests, WRITE and READ the body is the RESP-encoded Redis command;
 * for REPLY, ACK and READ_REPLY it is the RESP-encoded Redis reply (and
 * key_len is 0). See docs/protocol.md for the rules around each field.
 */
#ifndef DALIO_WIRE_H
#define DALIO_WIRE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define DALIO_MAGIC   0x444c494fU /* "DLIO" */
#define DALIO_VERSION 1

/* Largest UDP payload we accept: a 1500-byte MTU minus IPv4 and UDP headers.
 * Requests must fit one unfragmented datagram. */
#define DALIO_MAX_DATAGRAM 1472
#define DALIO_MAX_KEY	   256
#define DALIO_SHARD_ANY	   0xffff

enum dalio_type {
	DALIO_T_REQUEST = 1,	/* client -> VIP */
	DALIO_T_REPLY = 2,	/* VIP -> client */
	DALIO_T_WRITE = 3,	/* LB -> replica: sequenced write */
	DALIO_T_ACK = 4,	/* replica -> LB: write applied, body = reply */
	DALIO_T_READ = 5,	/* LB -> replica: stamped read */
	DALIO_T_READ_REPLY = 6, /* replica -> LB: body = reply */
	DALIO_T_PING = 7,	/* agent -> replica: liveness, epoch announce */
	DALIO_T_PONG = 8,	/* replica -> agent: epoch, applied seq */
	DALIO_T_REPLAY = 9,	/* LB -> replica: resend the reply of write seq */
	DALIO_T_NACK = 10,	/* replica -> LB (agent): writes seq..stamp are missing */
	DALIO_T_SYNC = 11,	/* agent -> replica: copy the dataset from origin (Redis) */
	/* vr mode (docs/vr.md): epoch is the view, seq the op number. */
	DALIO_T_PREPARE = 12,	 /* LB -> replica: log op seq; stamp = commit number */
	DALIO_T_PREPARE_OK = 13, /* replica -> LB: ops <= seq are in my view-epoch log */
	DALIO_T_COMMIT = 14,	 /* LB -> replica: stamp = commit number; seq: reply for it */
	DALIO_T_START_VIEW_CHANGE = 15, /* agent -> replica: stop view < epoch, report your log */
	DALIO_T_DO_VIEW_CHANGE = 16,	/* replica -> agent: seq = op, stamp = commit, ... */
	DALIO_T_START_VIEW = 17,	/* agent -> replica: view epoch begins, log head seq */
	DALIO_T_GET_LOG = 18,		/* agent -> replica: send log entries seq..stamp */
	DALIO_T_LOG_ENTRY = 19,		/* replica -> agent: one log entry (a PREPARE's content) */
	DALIO_T_LB_HEARTBEAT = 20,	/* active agent -> standby agent: I am alive */
	DALIO_T_MAX
};

enum dalio_flag {
	DALIO_F_WRITE = 1 << 0, /* the request mutates state: sequence it */
	DALIO_F_RETRY = 1 << 1, /* client retransmission of a request */
};

enum dalio_status {
	DALIO_S_OK = 0,
	DALIO_S_BUSY = 1,	   /* retryable: the LB could not track the write */
	DALIO_S_UNKNOWN_SHARD = 2, /* header names a shard the VIP does not serve */
	DALIO_S_BAD_REQUEST = 3,   /* malformed request (key length, ...) */
	DALIO_S_STALE_EPOCH = 4,   /* message from an older LB incarnation */
	DALIO_S_NOT_READY = 5,	   /* retryable: replica behind the read stamp */
	DALIO_S_NO_REPLICA = 6,	   /* retryable: no in-sync replica for the op */
	DALIO_S_REPLY_LOST = 7,	   /* the write was applied once; its reply is gone */
	DALIO_S_MAX
};

struct dalio_hdr {
	__be32 magic;
	__u8 version;
	__u8 type;	/* enum dalio_type */
	__be16 flags;	/* enum dalio_flag */
	__be16 shard;	/* shard id, DALIO_SHARD_ANY from clients that don't care */
	__be16 key_len; /* bytes of key following the header */
	__be32 epoch;	/* LB incarnation (view in vr mode), set by the LB */
	__be64 client_id;
	__be64 request_id;
	__be64 seq;	  /* write sequence (op) number, set by the LB */
	__be64 stamp;	  /* reads: replica must have applied every seq <= stamp */
	__be32 origin_ip; /* client address, set by the LB, echoed by replicas */
	__be16 origin_port;
	__u8 origin_mac[6];
	__u8 replica;	 /* index of the answering replica (informational) */
	__u8 status;	 /* enum dalio_status */
	__be16 reserved; /* zero */
} __attribute__((packed));

_Static_assert(sizeof(struct dalio_hdr) == 64, "dalio_hdr is 64 bytes on the wire");

/*
 * Key hash used by the LB's dirty-key table. Shared so that tests can predict
 * buckets. FNV-1a, 64 bit; only the low bits are used as a bucket index.
 */
#define DALIO_FNV_OFFSET 0xcbf29ce484222325ULL
#define DALIO_FNV_PRIME	 0x100000001b3ULL

static inline __u64 dalio_hash_step(__u64 h, __u8 byte)
{
	return (h ^ byte) * DALIO_FNV_PRIME;
}

#endif /* DALIO_WIRE_H */
