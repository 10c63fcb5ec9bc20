/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: the daemon's configuration, counters and state, shared by
 * main.c (arguments, event loop), net.c (UDP batches) and apply.c (message
 * handling and the Redis pipeline).
 */
#ifndef DALIO_REPLICA_H
#define DALIO_REPLICA_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "dalio/codec.h"
#include "nack.h"
#include "order.h"
#include "pkt.h"
#include "reads.h"
#include "sync.h"
#include "vrlog.h"

#define RP_BATCH      64   /* datagrams per recvmmsg / sendmmsg */
#define RP_MAX_LB     16   /* --lb addresses */
#define RP_READ_QUEUE 4096 /* READs waiting for their stamp */

struct rp_config {
	struct sockaddr_in listen;
	uint32_t lb[RP_MAX_LB]; /* network byte order */
	int nlb;
	char redis_host[256]; /* or the socket path when redis_unix */
	int redis_port;
	int redis_unix;
	uint16_t shard;
	uint8_t index;
	uint32_t read_wait_ms;
	int verbose;
	uint32_t adv_ip;       /* --advertise-redis: where other replicas reach our Redis */
	uint16_t adv_port;     /* (network order; 0: not reachable, SYNC from us fails) */
	int vr;		       /* --mode vr (docs/vr.md); else pb */
	char state_file[1024]; /* --state-file: the last view entered (vr, V7); "" if none */
};

/* X(name, description) for every counter; printed in this order. */
#define RP_COUNTERS(X)                                                                             \
	X(received, "datagrams received")                                                          \
	X(applied, "writes applied")                                                               \
	X(applied_error, "writes consumed with a Redis error (EXECABORT)")                         \
	X(refused, "writes consumed with a dalio refusal")                                         \
	X(dup, "duplicate writes acked from the reply cache")                                      \
	X(replays, "replies replayed for a client's retry")                                        \
	X(dup_uncached, "duplicate writes acked with an empty body (not cached)")                  \
	X(buffered, "writes buffered ahead of a gap")                                              \
	X(dup_buffered, "duplicates of buffered writes")                                           \
	X(nacks, "NACKs sent for writes missing in front of buffered ones")                        \
	X(nacked_seqs, "seqs asked for by those NACKs")                                            \
	X(reads_served, "reads served")                                                            \
	X(reads_queued, "reads queued for their stamp")                                            \
	X(reads_not_ready, "reads answered NOT_READY")                                             \
	X(reads_stale, "reads answered STALE_EPOCH")                                               \
	X(reads_refused, "reads refused (a write or unsupported command)")                         \
	X(pings, "pings answered")                                                                 \
	X(epoch_changes, "epochs adopted")                                                         \
	X(sent, "datagrams sent")                                                                  \
	X(send_failed, "datagrams not sent (socket full or error)")                                \
	X(reply_too_big, "replies replaced by an error: over one datagram")                        \
	X(drop_not_lb, "dropped: source is not an LB")                                             \
	X(drop_malformed, "dropped: malformed or oversize datagram")                               \
	X(drop_type, "dropped: message type a replica does not take")                              \
	X(drop_shard, "dropped: other shard")                                                      \
	X(drop_stale_epoch, "dropped: write from an older epoch")                                  \
	X(drop_too_far, "dropped: write too far ahead of the gap buffer")                          \
	X(drop_redis_down, "dropped: Redis unavailable")                                           \
	X(drop_after_failure, "dropped: batch cut short by a Redis failure")                       \
	X(redis_failures, "Redis failures (reconnect or state reload)")                            \
	X(syncs, "full copies started (SYNC)")                                                     \
	X(drop_syncing, "dropped: at or below the running copy's target")                          \
	X(vr_prepares, "vr: PREPAREs stored")                                                      \
	X(vr_dup_prepares, "vr: duplicate PREPAREs")                                               \
	X(vr_prepare_oks, "vr: PREPARE_OKs sent")                                                  \
	X(vr_commits, "vr: COMMITs received")                                                      \
	X(vr_view_changes, "vr: START_VIEW_CHANGEs answered")                                      \
	X(vr_log_entries, "vr: LOG_ENTRYs sent")

struct rp_stats {
#define RP_FIELD(name, desc) uint64_t name;
	RP_COUNTERS(RP_FIELD)
#undef RP_FIELD
};

enum rp_op_kind {
	RP_OP_WRITE,	     /* MULTI, command, SET applied, EXEC -> ACK */
	RP_OP_WRITE_REFUSED, /* SET applied -> ACK with op->err */
	RP_OP_DUP_ACK,	     /* no Redis: ACK from the reply cache */
	RP_OP_EPOCH,	     /* SET __dalio:epoch */
	RP_OP_READ,	     /* the command -> READ_REPLY */
	RP_OP_REPLY,	     /* no Redis: answer with op->status and op->err */
	RP_OP_PONG,	     /* no Redis: PONG with the state after the batch */
	RP_OP_REPLAY,	     /* no Redis: READ_REPLY from the reply cache */
};

/* One planned step of a batch; its Redis replies come back in order. */
struct rp_op {
	uint8_t kind;
	uint8_t nreplies; /* Redis replies this op owns */
	uint8_t type;	  /* RP_OP_REPLY: message type of the answer */
	uint8_t status;	  /* RP_OP_REPLY: status of the answer */
	uint8_t quiet;	  /* RP_OP_WRITE*: cache the reply, send no ACK (vr) */
	struct sockaddr_in to;
	struct dalio_msg m; /* header to echo; key and body cleared */
	redisReply *r[4];
	uint16_t errlen;
	char err[200]; /* a body made by the replica (RESP error) */
};

struct rp_out {
	unsigned n;
	struct mmsghdr msgs[RP_BATCH];
	struct iovec iov[RP_BATCH];
	struct sockaddr_in to[RP_BATCH];
	uint8_t buf[RP_BATCH][DALIO_MAX_DATAGRAM];
};

struct rp_state {
	struct rp_config cfg;
	struct rp_stats st;
	int fd;
	redisContext *rc;	/* NULL while Redis is unreachable */
	redisReader *rdr;	/* parses request bodies */
	uint64_t applied;	/* highest seq confirmed applied in Redis */
	uint32_t epoch;		/* highest epoch adopted */
	uint64_t reads_checked; /* applied when the read queue was last scanned */
	uint64_t now_ns;
	uint64_t reconnect_ns; /* next reconnect attempt while rc == NULL */
	int fatal;	       /* state diverged: stop */
	uint64_t lost_seq;     /* a write Redis refused; later ones must not be applied */
	int pipe_broken;       /* an append failed: the batch's replies are unusable */
	struct rp_order order; /* order.next - 1 = highest seq planned */
	struct rp_sync sync;   /* a full copy in progress (sync.h) */
	struct rp_nack nack;   /* when to ask for the writes missing behind a gap */
	struct rp_cache cache;
	struct rp_reads reads;
	struct rp_op *ops;
	size_t nops, capops;
	struct rp_out *out;
	struct rp_vrlog vl;	  /* vr mode: the log and view state */
	struct sockaddr_in vr_lb; /* vr: sender of the last PREPARE/COMMIT (VIP:port) */
	int vr_lb_set;
	struct sockaddr_in vr_want_to; /* vr: where ACKs asked for by COMMIT go */
};

#define rp_log(...) fprintf(stderr, "dalio-replica: " __VA_ARGS__)
#define rp_vlog(s, ...)                                                                            \
	do {                                                                                       \
		if ((s)->cfg.verbose)                                                              \
			rp_log(__VA_ARGS__);                                                       \
	} while (0)

/* apply.c */
int rp_redis_connect(struct rp_state *s, const char **err);
void rp_handle(struct rp_state *s, const struct rp_pkt *pkt);
void rp_expire_reads(struct rp_state *s);
void rp_run_batch(struct rp_state *s);
/* For sync.c: re-read applied/epoch from Redis and restart ordering there;
 * store an epoch; read the applied seq; plan the buffered writes now in order. */
int rp_reload_state(struct rp_state *s, const char **err);
void rp_set_epoch(struct rp_state *s, uint32_t epoch);
int rp_get_applied(struct rp_state *s, uint64_t *applied, const char **err);
void rp_apply_buffered(struct rp_state *s);
void rp_nack_tick(struct rp_state *s);
/* vr: write the view to --state-file (V7); -1 on failure (logged). */
int rp_state_file_write(const struct rp_state *s, uint32_t view);

/* net.c */
int rp_net_open(struct rp_state *s);
int rp_from_lb(const struct rp_state *s, const struct sockaddr_in *from);
void rp_send(struct rp_state *s, const struct sockaddr_in *to, const struct dalio_msg *m);
void rp_flush(struct rp_state *s);

#endif /* DALIO_REPLICA_H */
