/* SPDX-License-Identifier: MIT */
/*
 * Layout of the LB's BPF maps: keys, values and sizes shared by the BPF
 * programs (which own the data path) and dalio-agent (which fills the
 * configuration maps and reads state and counters). docs/lb-datapath.md says
 * which side writes which field and the invariants that tie them together.
 */
#ifndef DALIO_LB_TYPES_H
#define DALIO_LB_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h>
#endif

#include "dalio/wire.h"

#define DALIO_MAX_SHARDS   32
#define DALIO_MAX_REPLICAS 8
/* Pending-write ring per shard (a power of two): at most this many writes
 * of one shard can be in flight; the next is refused with DALIO_S_BUSY. */
#define DALIO_RING_SIZE 4096
/* Dirty-key buckets per shard (a power of two). */
#define DALIO_DIRTY_BUCKETS 16384

#define DALIO_MODE_PB 1
#define DALIO_MODE_VR 2

/* vip_map key: a shard is found by the address clients send to. */
struct dalio_vip_key {
	__be32 vip;
	__be16 port;
	__u16 pad; /* zero */
};

/*
 * vip_map value: a shard's configuration, written only by the agent. The map
 * is a hash map so that an update replaces the whole value at once: the data
 * path never sees half of an old and half of a new replica set.
 */
struct dalio_shard_cfg {
	__u32 shard;	  /* index into the per-shard arrays */
	__u32 epoch;	  /* LB incarnation stamped on every message */
	__u32 write_mask; /* replicas every write must reach and be acked by */
	__u32 read_mask;  /* replicas that may serve reads */
	__u32 join_mask;  /* catching-up replicas: get every write, not waited for */
	__u8 mode;	  /* DALIO_MODE_* */
	__u8 n_replicas;  /* valid entries in replica_map for this shard */
	__u8 quorum;	  /* vr: PREPARE_OKs of write_mask members that commit (f+1) */
	__u8 pad;
};

/* replica_map[shard * DALIO_MAX_REPLICAS + i]: where replica i lives. */
struct dalio_replica {
	__be32 ip;
	__be16 port;
	__u8 mac[6]; /* next-hop MAC, resolved by the agent from the neighbour table */
	__u32 valid;
	/* Interface the route to the replica leaves by, and that interface's MAC
	 * (the source of frames to the replica). 0: the interface the frame came
	 * in on (one-armed LB; XDP_TX, tc clones out of the same interface). */
	__u32 ifindex;
	__u8 src_mac[6];
	__u16 pad;
};

/*
 * lb_cfg[0]: how the LB sends frames, written by the agent (docs/lb-datapath.md,
 * "Multi-homed LB").
 */
#define DALIO_FANOUT_TC	    0 /* XDP hands writes to tc, which clones them */
#define DALIO_FANOUT_DEVMAP 1 /* XDP broadcasts them through tx_ports */
struct dalio_lb_cfg {
	__u32 fanout; /* DALIO_FANOUT_* */
	/* Interface clients are reached through (lb.interface) and its MAC; 0:
	 * replies leave by the interface the replica's answer came in on. */
	__u32 client_ifindex;
	__u8 client_mac[6];
	__u16 pad;
};
/* Most interfaces in tx_ports (the devmap of replica-facing interfaces). */
#define DALIO_MAX_IFACES 64

/* shard_state[shard]: the sequencer. Mutated only under the lock. */
struct dalio_shard_state {
	struct bpf_spin_lock lock;
	__u32 in_flight;     /* pending writes */
	__u64 next_seq;	     /* next sequence number to hand out */
	__u64 max_completed; /* highest seq whose write completed */
};

enum dalio_slot_state {
	DALIO_SLOT_FREE = 0,
	DALIO_SLOT_PENDING = 1,
};

/* pending_ring[shard * DALIO_RING_SIZE + (seq & (DALIO_RING_SIZE - 1))].
 * Written under the owning shard's lock. */
struct dalio_pending {
	__u64 seq;
	__u64 client_id;
	__u64 request_id;
	__u64 start_ns;
	__u32 acked; /* replicas whose ack (vr: PREPARE_OK) has arrived */
	__u32 need;  /* replicas that must ack (write_mask when sequenced) */
	__u32 bucket;
	__u32 state;	   /* enum dalio_slot_state */
	__u16 payload_len; /* UDP payload bytes of the request */
	__u16 csum;	   /* its UDP checksum with flags zeroed (0: none) */
	__u32 pad;
};

/*
 * payload_ring[shard * DALIO_RING_SIZE + (seq % DALIO_RING_SIZE)]: the WRITE
 * message (UDP payload) of seq as it was fanned out, kept until the slot is
 * reused so the agent can re-send it (timeouts, NACKs, catch-up). The XDP
 * program zeroes seq, copies the bytes, then sets seq: a reader that sees the
 * same seq before and after copying has a whole message (x86 store order;
 * docs/retransmission.md).
 */
struct dalio_payload {
	__u64 seq;
	__u16 len;
	__u16 pad[3];
	__u8 data[DALIO_MAX_DATAGRAM];
};

/* dirty_map[shard * DALIO_DIRTY_BUCKETS + bucket]. A key is dirty while its
 * bucket's pending count is non-zero; latest_seq is the highest seq written to
 * any key of the bucket (a safe, possibly higher, stamp for each of them). */
struct dalio_dirty {
	__u32 pending;
	__u32 pad;
	__u64 latest_seq;
};

/* client_map: the last write of each client, for exactly-once retries
 * (docs/exactly-once.md). An LRU hash map of DALIO_MAX_CLIENTS entries. */
#define DALIO_MAX_CLIENTS 65536
struct dalio_client_key {
	__u64 client_id;
	__u32 shard;
	__u32 pad; /* zero */
};

struct dalio_client_entry {
	__u64 request_id; /* last write request sequenced for this client */
	__u64 seq;	  /* the seq it got */
};

/* Metadata XDP attaches to a sequenced write it hands to tc for fan-out. */
#define DALIO_META_MAGIC 0xda110fa0U
struct dalio_meta {
	__u32 magic;
	__u32 shard;
	__u32 mask; /* replicas to send copies to */
};

/* Per-shard counters (per-CPU array, one row per shard). */
enum dalio_stat {
	DALIO_STAT_WRITES,	     /* writes sequenced */
	DALIO_STAT_READS_CLEAN,	     /* reads forwarded with the shard stamp */
	DALIO_STAT_READS_DIRTY,	     /* reads of keys with pending writes */
	DALIO_STAT_READS_ACKED,	     /* dirty reads sent to a replica that acked */
	DALIO_STAT_ACKS,	     /* acks counted */
	DALIO_STAT_ACKS_DUP,	     /* acks for an already-counted replica */
	DALIO_STAT_ACKS_STALE,	     /* acks for a write no longer pending */
	DALIO_STAT_REPLIES,	     /* replies sent to clients */
	DALIO_STAT_FANOUT_COPIES,    /* write copies sent by tc */
	DALIO_STAT_DEVMAP_COPIES,    /* write copies sent by the devmap egress program */
	DALIO_STAT_DEVMAP_SKIPPED,   /* broadcast copies dropped: no replica there */
	DALIO_STAT_REFUSED_BUSY,     /* writes refused: pending ring full */
	DALIO_STAT_REFUSED_NOREP,    /* requests refused: no replica in the set */
	DALIO_STAT_DROP_MALFORMED,   /* truncated or garbage Dalio packets */
	DALIO_STAT_DROP_NOT_REPLICA, /* replica-only messages from elsewhere */
	DALIO_STAT_DROP_BAD_SHARD,   /* header shard does not match the VIP */
	DALIO_STAT_RETRY_PENDING,    /* write retries re-sent to unacked replicas */
	DALIO_STAT_RETRY_REPLAYED,   /* write retries answered by a REPLAY */
	DALIO_STAT_RETRY_STALE,	     /* retries of a request older than the last */
	DALIO_STAT_RETRY_MISMATCH,   /* request id reused with other content */
	DALIO_STAT_NACKS,	     /* replica NACKs passed up to the agent */
	DALIO_STAT_COMMITS,	     /* vr: COMMITs sent to the replica completing a quorum */
	DALIO_STAT_MAX
};

struct dalio_stats {
	__u64 count[DALIO_STAT_MAX];
};

#endif /* DALIO_LB_TYPES_H */
