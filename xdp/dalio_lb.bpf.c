// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * dalio_lb: the LB's XDP data path (pb mode, and vr mode's leader data path).
 *
 * For packets to a configured VIP:port it
 *   - sequences writes (per-shard counter under the shard lock), records them
 *     in the pending ring, marks their key's dirty bucket, and hands them to tc
 *     (XDP cannot clone) with metadata naming the replicas to copy to, or, on a
 *     multi-homed LB in devmap mode, broadcasts them through a devmap whose
 *     egress program (dalio_devmap_egress) makes each interface's copy;
 *   - counts acks from configured replicas and turns exactly the ack that
 *     completes a write into the client's reply;
 *   - stamps reads and forwards them to one replica, and rewrites the replica's
 *     answer back to the client.
 * In vr mode (docs/vr.md) writes go out as PREPARE with the commit number, a
 * write commits on f+1 PREPARE_OKs, and the PREPARE_OK that completes the
 * quorum is turned around into a COMMIT asking its sender for the result (L4).
 * Everything else passes untouched. Invariants: docs/lb-datapath.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"
#include "dalio_maps.bpf.h"
#include "dalio_fwd.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/*
 * Per-CPU scratch for the checksum snapshot of a rewrite: the program's stack
 * (512 bytes) cannot hold one per inlined rewrite. XDP runs to completion on
 * one CPU, and each rewrite takes and uses its snapshot before the next. No
 * state: not pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pkt_snapshot);
} snapshot_map SEC(".maps");

static __always_inline struct pkt_snapshot *snapshot_scratch(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&snapshot_map, &k);
}

#define RING_MASK   (DALIO_RING_SIZE - 1)
#define DIRTY_MASK  (DALIO_DIRTY_BUCKETS - 1)
#define SEQ_RETRIES 4

/* Swaps the packet's source and destination (MACs, addresses, ports), from
 * the snapshot taken before: back to its sender, from where it was sent to.
 * Checksums are the caller's (csum_fix after its other rewrites). */
static __always_inline void turn_around(struct dalio_pkt *p, const struct pkt_snapshot *old)
{
	__u8 mac[6];

	__builtin_memcpy(mac, p->eth->h_source, 6);
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, 6);
	__builtin_memcpy(p->eth->h_dest, mac, 6);
	p->ip->saddr = old->daddr;
	p->ip->daddr = old->saddr;
	p->udp->source = old->dport;
	p->udp->dest = old->sport;
}

/* Turns the packet around to its sender with a status (nothing else changes). */
static __always_inline int reply_status(struct dalio_pkt *p, __u8 status)
{
	struct pkt_snapshot *old = snapshot_scratch();

	if (!old)
		return XDP_DROP;
	snapshot_take(old, p, 1);
	turn_around(p, old);
	p->dh->type = DALIO_T_REPLY;
	p->dh->status = status;
	csum_fix(p, old, 1);
	return XDP_TX;
}

/*
 * vr (docs/vr.md L4): turns the PREPARE_OK that completed a quorum around into
 * COMMIT(seq, commit number) to its sender.
 */
static __always_inline int commit_to_sender(struct dalio_pkt *p, __u32 epoch, __u64 commit)
{
	struct pkt_snapshot *old = snapshot_scratch();

	if (!old)
		return XDP_DROP;
	snapshot_take(old, p, 1);
	turn_around(p, old);
	p->dh->type = DALIO_T_COMMIT;
	p->dh->status = DALIO_S_OK;
	p->dh->epoch = bpf_htonl(epoch);
	p->dh->stamp = bpf_cpu_to_be64(commit);
	csum_fix(p, old, 1);
	return XDP_TX;
}

/*
 * Sends a replica's answer (ACK or READ_REPLY) to the client named in the
 * echoed origin fields, from the VIP.
 */
static __always_inline int to_client(struct dalio_pkt *p)
{
	struct pkt_snapshot *old = snapshot_scratch();

	if (!old)
		return XDP_DROP;
	snapshot_take(old, p, 1);
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, 6);
	__builtin_memcpy(p->eth->h_dest, p->dh->origin_mac, 6);
	p->ip->saddr = old->daddr;
	p->ip->daddr = p->dh->origin_ip;
	p->udp->source = old->dport;
	p->udp->dest = p->dh->origin_port;
	p->dh->type = DALIO_T_REPLY;
	csum_fix(p, old, 1);
	return fwd_to_client(p);
}

/* Index of the configured replica the packet came from, or -1. */
static __always_inline int replica_index(const struct dalio_pkt *p,
					 const struct dalio_shard_cfg *cfg)
{
	for (__u32 i = 0; i < DALIO_MAX_REPLICAS; i++) {
		struct dalio_replica *r;

		if (i >= cfg->n_replicas)
			break;
		r = replica_lookup(cfg->shard, i);
		if (r && r->valid && r->ip == p->ip->saddr && r->port == p->udp->source)
			return (int)i;
	}
	return -1;
}

/* Set bits of a replica mask. */
static __always_inline __u32 mask_count(__u32 mask)
{
	__u32 count = 0;

	for (int i = 0; i < DALIO_MAX_REPLICAS; i++)
		count += (mask >> i) & 1;
	return count;
}

/* The n-th (modulo its population) set bit of mask, or -1 if mask is empty. */
static __always_inline int nth_bit(__u32 mask, __u32 n)
{
	__u32 count = mask_count(mask);

	if (!count)
		return -1;
	n %= count;
	for (int i = 0; i < DALIO_MAX_REPLICAS; i++) {
		if (!((mask >> i) & 1))
			continue;
		if (n == 0)
			return i;
		n--;
	}
	return -1;
}

static __always_inline __u64 key_hash(const struct dalio_pkt *p, __u32 key_len, void *data_end)
{
	const __u8 *k = (const __u8 *)(p->dh + 1);
	__u64 h = DALIO_FNV_OFFSET;

	for (__u32 i = 0; i < DALIO_MAX_KEY; i++) {
		if (i >= key_len || (const void *)(k + i + 1) > data_end)
			break;
		h = dalio_hash_step(h, k[i]);
	}
	return h;
}

/*
 * The request's UDP checksum as if its flags were 0, so an original and its
 * retry (which adds DALIO_F_RETRY) compare equal. 0 when it has none.
 */
static __always_inline __u16 request_csum(const struct dalio_pkt *p)
{
	__u64 acc;
	__u16 c;

	if (!p->udp->check)
		return 0;
	acc = (__u16)~p->udp->check + (__u16)~p->dh->flags;
	c = ~csum_fold(acc);
	return c ? c : 0xffff;
}

/*
 * Keeps the WRITE message of seq (the packet's UDP payload, already rewritten)
 * in the payload ring for the agent's retransmissions. seq is cleared before
 * and set after the copy, so a concurrent reader can tell a torn copy.
 */
static __always_inline void keep_payload(struct xdp_md *ctx, const struct dalio_pkt *p, __u32 shard,
					 __u64 seq)
{
	__u32 idx = shard * DALIO_RING_SIZE + (__u32)(seq & RING_MASK);
	struct dalio_payload *pl = bpf_map_lookup_elem(&payload_ring, &idx);
	__u32 off = (__u32)((void *)p->dh - (void *)(long)ctx->data);
	__u32 len = p->payload_len;

	if (!pl)
		return; /* shard beyond the ring's size: nothing to re-send */
	WRITE_ONCE(pl->seq, 0);
	__asm__ __volatile__("" ::: "memory");
	if (len < sizeof(struct dalio_hdr) || len > sizeof(pl->data) ||
	    bpf_xdp_load_bytes(ctx, off, pl->data, len))
		return; /* stays 0: never handed out */
	pl->len = (__u16)len;
	__asm__ __volatile__("" ::: "memory");
	WRITE_ONCE(pl->seq, seq);
}

/* The shard's commit number (vr: every op <= it is committed, docs/vr.md L3). */
static __always_inline __u64 commit_number(__u32 shard)
{
	struct dalio_shard_state *ss = bpf_map_lookup_elem(&shard_state, &shard);

	return ss ? READ_ONCE(ss->max_completed) : 0;
}

/*
 * Rewrites the request into WRITE `seq` (vr: PREPARE `seq` carrying the commit
 * number `commit`) from the VIP and hands it to tc with metadata naming the replicas
 * (mask) that get a copy; in devmap mode it is broadcast with the mask in the
 * frame instead (bpf/dalio_fwd.bpf.h). A fresh write (keep) is also kept in
 * the payload ring.
 */
static __always_inline int send_write(struct xdp_md *ctx, struct dalio_pkt *p,
				      const struct dalio_shard_cfg *cfg, __u64 seq, __u64 commit,
				      __u32 mask, int keep)
{
	struct pkt_snapshot *old = snapshot_scratch();
	struct dalio_meta *meta;
	void *data;

	int vr = cfg->mode == DALIO_MODE_VR;

	if (!old)
		return XDP_DROP;
	snapshot_take(old, p, 1);
	p->dh->type = vr ? DALIO_T_PREPARE : DALIO_T_WRITE;
	p->dh->shard = bpf_htons((__u16)cfg->shard);
	p->dh->epoch = bpf_htonl(cfg->epoch);
	p->dh->seq = bpf_cpu_to_be64(seq);
	p->dh->stamp = vr ? bpf_cpu_to_be64(commit) : 0;
	p->dh->origin_ip = old->saddr;
	p->dh->origin_port = old->sport;
	__builtin_memcpy(p->dh->origin_mac, p->eth->h_source, 6);
	p->dh->replica = 0;
	p->dh->status = 0;
	p->dh->reserved = 0;
	p->ip->saddr = old->daddr; /* copies leave from the VIP */
	p->udp->source = old->dport;
	csum_fix(p, old, 1);
	if (keep)
		keep_payload(ctx, p, cfg->shard, seq);
	if (fwd_fanout_devmap())
		return fwd_write_devmap(p, mask);

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return XDP_DROP;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > data)
		return XDP_DROP;
	meta->magic = DALIO_META_MAGIC;
	meta->shard = cfg->shard;
	meta->mask = mask;
	return XDP_PASS; /* tc ingress makes the copies */
}

/*
 * Sends the request to replica `pick` of the read set as `type` (READ, or
 * REPLAY of write `seq`), stamped, with the client's address as origin.
 */
static __always_inline int forward_to_replica(struct dalio_pkt *p,
					      const struct dalio_shard_cfg *cfg, int pick,
					      __u8 type, __u64 seq, __u64 stamp,
					      struct dalio_stats *st)
{
	struct dalio_replica *rep = pick < 0 ? NULL : replica_lookup(cfg->shard, (__u32)pick);
	struct pkt_snapshot *old = snapshot_scratch();

	if (!rep || !rep->valid) {
		stat_inc(st, DALIO_STAT_REFUSED_NOREP);
		return reply_status(p, DALIO_S_NO_REPLICA);
	}
	if (!old)
		return XDP_DROP;
	snapshot_take(old, p, 1);
	p->dh->type = type;
	p->dh->shard = bpf_htons((__u16)cfg->shard);
	p->dh->epoch = bpf_htonl(cfg->epoch);
	p->dh->seq = bpf_cpu_to_be64(seq);
	p->dh->stamp = bpf_cpu_to_be64(stamp);
	p->dh->origin_ip = old->saddr;
	p->dh->origin_port = old->sport;
	__builtin_memcpy(p->dh->origin_mac, p->eth->h_source, 6);
	p->dh->replica = (__u8)pick;
	p->dh->status = 0;
	p->dh->reserved = 0;
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, 6);
	__builtin_memcpy(p->eth->h_dest, rep->mac, 6);
	p->ip->saddr = old->daddr;
	p->ip->daddr = rep->ip;
	p->udp->source = old->dport;
	p->udp->dest = rep->port;
	csum_fix(p, old, 1);
	return fwd_to_replica(p, rep);
}

/* Next replica of mask in this CPU's round-robin order, or -1. */
static __always_inline int round_robin(__u32 shard, __u32 mask)
{
	__u32 *rr = bpf_map_lookup_elem(&rr_map, &shard);

	return nth_bit(mask, rr ? (*rr)++ : 0);
}

/*
 * A retry of the client's last write (docs/exactly-once.md). While the original
 * is pending, the retry (same bytes) is re-sent as WRITE with the original seq
 * to the replicas whose ack is missing: that repairs lost copies and lost acks
 * without a payload log on the LB. Once completed, it is replayed from a
 * replica's reply cache.
 */
static __always_inline int handle_write_retry(struct xdp_md *ctx, struct dalio_pkt *p,
					      const struct dalio_shard_cfg *cfg, __u64 seq,
					      struct dalio_stats *st)
{
	__u32 idx = cfg->shard * DALIO_RING_SIZE + (__u32)(seq & RING_MASK);
	struct dalio_pending *slot = bpf_map_lookup_elem(&pending_ring, &idx);

	if (slot && READ_ONCE(slot->seq) == seq && READ_ONCE(slot->state) == DALIO_SLOT_PENDING) {
		__u32 missing = READ_ONCE(slot->need) & ~READ_ONCE(slot->acked);
		__u16 csum = READ_ONCE(slot->csum);

		/* Same request id, other content: never let replicas diverge. */
		if (READ_ONCE(slot->payload_len) != p->payload_len ||
		    (csum && request_csum(p) != csum)) {
			stat_inc(st, DALIO_STAT_RETRY_MISMATCH);
			return reply_status(p, DALIO_S_BAD_REQUEST);
		}
		stat_inc(st, DALIO_STAT_RETRY_PENDING);
		if (!missing)
			return XDP_DROP; /* completing right now */
		return send_write(ctx, p, cfg, seq, commit_number(cfg->shard), missing, 0);
	}
	stat_inc(st, DALIO_STAT_RETRY_REPLAYED);
	return forward_to_replica(p, cfg, round_robin(cfg->shard, cfg->read_mask), DALIO_T_REPLAY,
				  seq, seq, st);
}

static __always_inline int handle_write(struct xdp_md *ctx, struct dalio_pkt *p,
					const struct dalio_shard_cfg *cfg,
					struct dalio_dirty *dirty, __u32 bucket,
					struct dalio_stats *st)
{
	__u32 shard = cfg->shard, need = cfg->write_mask;
	struct dalio_shard_state *ss = bpf_map_lookup_elem(&shard_state, &shard);
	__u64 client_id = bpf_be64_to_cpu(p->dh->client_id);
	__u64 request_id = bpf_be64_to_cpu(p->dh->request_id);
	__u64 now = bpf_ktime_get_ns(), seq = 0;
	struct dalio_client_key ck = {.client_id = client_id, .shard = shard};
	struct dalio_client_entry *ce;
	__u16 csum = request_csum(p), payload_len = (__u16)p->payload_len;
	int uninit = 0, retry = 0, stale = 0;

	if (!ss)
		return XDP_DROP;
	if (!need) {
		stat_inc(st, DALIO_STAT_REFUSED_NOREP);
		return reply_status(p, DALIO_S_NO_REPLICA);
	}
	if (!request_id) { /* 0 is the client table's "nothing yet" */
		stat_inc(st, DALIO_STAT_DROP_MALFORMED);
		return reply_status(p, DALIO_S_BAD_REQUEST);
	}
	ce = bpf_map_lookup_elem(&client_map, &ck);
	if (!ce) {
		struct dalio_client_entry fresh = {};

		bpf_map_update_elem(&client_map, &ck, &fresh, BPF_NOEXIST);
		ce = bpf_map_lookup_elem(&client_map, &ck);
	}
	if (!ce) { /* cannot track it: refuse, never sequence untracked */
		stat_inc(st, DALIO_STAT_REFUSED_BUSY);
		return reply_status(p, DALIO_S_BUSY);
	}
	/*
	 * Claim slot seq % RING and seq itself in one critical section, so a
	 * refused write never leaves a hole in the sequence. The slot pointer is
	 * looked up before the lock (no helper calls under it) from a guess of
	 * next_seq that is re-checked under the lock.
	 */
	for (int attempt = 0; attempt < SEQ_RETRIES; attempt++) {
		__u64 guess = READ_ONCE(ss->next_seq);
		__u32 idx = shard * DALIO_RING_SIZE + (__u32)(guess & RING_MASK);
		struct dalio_pending *slot = bpf_map_lookup_elem(&pending_ring, &idx);

		if (!slot || guess == 0) { /* 0: the agent has not initialised the shard */
			uninit = 1;
			break;
		}
		bpf_spin_lock(&ss->lock);
		/* Check-and-set of the client's last request shares the critical
		 * section with sequencing: two copies cannot both get a seq. */
		if (ce->request_id >= request_id) {
			retry = ce->request_id == request_id;
			stale = !retry;
			seq = ce->seq;
			bpf_spin_unlock(&ss->lock);
			break;
		}
		if (ss->next_seq != guess) {
			bpf_spin_unlock(&ss->lock);
			continue;
		}
		if (slot->state != DALIO_SLOT_FREE) {
			bpf_spin_unlock(&ss->lock);
			break;
		}
		slot->state = DALIO_SLOT_PENDING;
		slot->seq = guess;
		slot->acked = 0;
		slot->need = need;
		slot->bucket = bucket;
		slot->client_id = client_id;
		slot->request_id = request_id;
		slot->start_ns = now;
		slot->payload_len = payload_len;
		slot->csum = csum;
		/* Dirty before anyone can see the write: a read after this point
		 * is stamped with at least this seq. */
		dirty->pending++;
		dirty->latest_seq = guess;
		ss->next_seq = guess + 1;
		ss->in_flight++;
		ce->request_id = request_id;
		ce->seq = guess;
		bpf_spin_unlock(&ss->lock);
		seq = guess;
		break;
	}
	if (retry)
		return handle_write_retry(ctx, p, cfg, seq, st);
	if (stale) {
		stat_inc(st, DALIO_STAT_RETRY_STALE);
		return XDP_DROP;
	}
	if (!seq) {
		/* Ring slot still taken, or lost the race for next_seq SEQ_RETRIES
		 * times: retryable. Shard not initialised: no replica yet. */
		stat_inc(st, uninit ? DALIO_STAT_REFUSED_NOREP : DALIO_STAT_REFUSED_BUSY);
		return reply_status(p, uninit ? DALIO_S_NO_REPLICA : DALIO_S_BUSY);
	}
	stat_inc(st, DALIO_STAT_WRITES);
	/* Catching-up replicas get every new write too, but are not waited for. */
	return send_write(ctx, p, cfg, seq, READ_ONCE(ss->max_completed), need | cfg->join_mask, 1);
}

static __always_inline int handle_read(struct dalio_pkt *p, const struct dalio_shard_cfg *cfg,
				       const struct dalio_dirty *dirty, struct dalio_stats *st)
{
	__u32 shard = cfg->shard, mask = cfg->read_mask;
	struct dalio_shard_state *ss = bpf_map_lookup_elem(&shard_state, &shard);
	__u64 stamp;
	int pick = -1;

	if (!ss)
		return XDP_DROP;
	if (READ_ONCE(dirty->pending)) {
		/* Dirty: the replica must have applied the key's latest write.
		 * Prefer a replica whose ack for it has already arrived. */
		__u32 idx;
		struct dalio_pending *slot;

		stamp = READ_ONCE(dirty->latest_seq);
		idx = shard * DALIO_RING_SIZE + (__u32)(stamp & RING_MASK);
		slot = bpf_map_lookup_elem(&pending_ring, &idx);
		stat_inc(st, DALIO_STAT_READS_DIRTY);
		if (slot && READ_ONCE(slot->seq) == stamp) {
			__u32 acked = READ_ONCE(slot->acked) & mask;

			if (acked) {
				pick = nth_bit(acked, 0);
				stat_inc(st, DALIO_STAT_READS_ACKED);
			}
		}
	} else {
		/* Clean: every completed write is at or below max_completed. */
		stamp = READ_ONCE(ss->max_completed);
		stat_inc(st, DALIO_STAT_READS_CLEAN);
	}
	if (pick < 0)
		pick = round_robin(shard, mask);
	return forward_to_replica(p, cfg, pick, DALIO_T_READ, 0, stamp, st);
}

static __always_inline int handle_request(struct xdp_md *ctx, struct dalio_pkt *p,
					  const struct dalio_shard_cfg *cfg, struct dalio_stats *st,
					  void *data_end)
{
	__u16 shard = bpf_ntohs(p->dh->shard);
	__u32 key_len = bpf_ntohs(p->dh->key_len);
	__u32 bucket, idx;
	struct dalio_dirty *dirty;

	if (shard != DALIO_SHARD_ANY && shard != cfg->shard) {
		stat_inc(st, DALIO_STAT_DROP_BAD_SHARD);
		return reply_status(p, DALIO_S_UNKNOWN_SHARD);
	}
	if (key_len == 0 || key_len > DALIO_MAX_KEY ||
	    sizeof(struct dalio_hdr) + key_len > p->payload_len) {
		stat_inc(st, DALIO_STAT_DROP_MALFORMED);
		return reply_status(p, DALIO_S_BAD_REQUEST);
	}
	bucket = (__u32)key_hash(p, key_len, data_end) & DIRTY_MASK;
	idx = cfg->shard * DALIO_DIRTY_BUCKETS + bucket;
	dirty = bpf_map_lookup_elem(&dirty_map, &idx);
	if (!dirty)
		return XDP_DROP;
	if (p->dh->flags & bpf_htons(DALIO_F_WRITE))
		return handle_write(ctx, p, cfg, dirty, bucket, st);
	return handle_read(p, cfg, dirty, st);
}

/*
 * Whether the acks in `acked` complete a write: pb (docs/lb-datapath.md) waits
 * for every replica of `need` still in the write set (the whole current write
 * set if all of those left); vr (docs/vr.md L2) for `quorum` PREPARE_OKs of
 * write-set members.
 */
static __always_inline int acks_complete(const struct dalio_shard_cfg *cfg, __u32 need, __u32 acked)
{
	__u32 write_mask = cfg->write_mask;

	if (cfg->mode == DALIO_MODE_VR)
		return cfg->quorum && mask_count(acked & write_mask) >= cfg->quorum;
	need &= write_mask;
	if (!need)
		need = write_mask;
	return need && (acked & need) == need;
}

/*
 * An ACK (pb) or PREPARE_OK (vr) of write seq from a configured replica. The
 * ack that completes the write is turned into the client's reply (pb), or
 * around into a COMMIT asking its sender for the op's result (vr, L4).
 */
static __always_inline int handle_ack(struct dalio_pkt *p, const struct dalio_shard_cfg *cfg,
				      struct dalio_stats *st)
{
	__u32 shard = cfg->shard, idx, bit;
	__u64 commit = 0;
	struct dalio_shard_state *ss = bpf_map_lookup_elem(&shard_state, &shard);
	__u64 seq = bpf_be64_to_cpu(p->dh->seq);
	struct dalio_pending *slot;
	struct dalio_dirty *dirty;
	int rep = replica_index(p, cfg), complete = 0, dup = 0, stale = 0;

	if (rep < 0) {
		stat_inc(st, DALIO_STAT_DROP_NOT_REPLICA);
		return XDP_DROP;
	}
	if (!ss)
		return XDP_DROP;
	bit = 1u << rep;
	idx = shard * DALIO_RING_SIZE + (__u32)(seq & RING_MASK);
	slot = bpf_map_lookup_elem(&pending_ring, &idx);
	if (!slot)
		return XDP_DROP;
	/* The slot's bucket only changes when the slot is reused, which the
	 * seq check under the lock detects. */
	idx = shard * DALIO_DIRTY_BUCKETS + (READ_ONCE(slot->bucket) & DIRTY_MASK);
	dirty = bpf_map_lookup_elem(&dirty_map, &idx);
	if (!dirty)
		return XDP_DROP;

	bpf_spin_lock(&ss->lock);
	if (slot->state != DALIO_SLOT_PENDING || slot->seq != seq ||
	    shard * DALIO_DIRTY_BUCKETS + (slot->bucket & DIRTY_MASK) != idx) {
		stale = 1;
	} else {
		/* pb waits only for replicas still in the write set: a failed
		 * one leaves it (docs/membership.md). If all that were needed
		 * have left, the current set's ack is enough: each of them
		 * applies in seq order. A duplicate ack can complete the write
		 * when the set shrank after the first one: the agent asks for
		 * it. */
		dup = (slot->acked & bit) != 0;
		slot->acked |= bit;
		if (acks_complete(cfg, slot->need, slot->acked)) {
			/* Completion order matters to lock-free readers: raise
			 * max_completed before the key can look clean. */
			slot->state = DALIO_SLOT_FREE;
			if (seq > ss->max_completed)
				ss->max_completed = seq;
			if (dirty->pending)
				dirty->pending--;
			if (ss->in_flight)
				ss->in_flight--;
			commit = ss->max_completed;
			complete = 1;
		}
	}
	bpf_spin_unlock(&ss->lock);

	if (stale) {
		stat_inc(st, DALIO_STAT_ACKS_STALE);
		return XDP_DROP;
	}
	stat_inc(st, dup ? DALIO_STAT_ACKS_DUP : DALIO_STAT_ACKS);
	if (!complete)
		return XDP_DROP;
	if (cfg->mode == DALIO_MODE_VR) {
		/* The sender holds every op <= seq (V3): it can execute through
		 * seq now and answer with the result (an ACK, forwarded below). */
		stat_inc(st, DALIO_STAT_COMMITS);
		return commit_to_sender(p, cfg->epoch, commit);
	}
	stat_inc(st, DALIO_STAT_REPLIES);
	p->dh->status = DALIO_S_OK;
	return to_client(p);
}

/* A replica's answer (READ_REPLY, or in vr the ACK with an executed op's
 * result) goes to the client named in it, if it comes from a replica. */
static __always_inline int replica_answer(struct dalio_pkt *p, const struct dalio_shard_cfg *cfg,
					  struct dalio_stats *st)
{
	if (replica_index(p, cfg) < 0) {
		stat_inc(st, DALIO_STAT_DROP_NOT_REPLICA);
		return XDP_DROP;
	}
	stat_inc(st, DALIO_STAT_REPLIES);
	return to_client(p);
}

SEC("xdp")
int dalio_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct dalio_vip_key vk = {};
	struct dalio_shard_cfg *cfg;
	struct dalio_stats *st;
	struct dalio_pkt p = {};
	__u32 shard;
	__u8 type;

	if (parse_udp(data, data_end, &p))
		return XDP_PASS;
	p.ifindex = ctx->ingress_ifindex;
	vk.vip = p.ip->daddr;
	vk.port = p.udp->dest;
	cfg = bpf_map_lookup_elem(&vip_map, &vk);
	if (!cfg)
		return XDP_PASS; /* not a VIP: not ours */
	shard = cfg->shard;
	st = bpf_map_lookup_elem(&stats_map, &shard);
	if (parse_dalio(data_end, &p)) {
		stat_inc(st, DALIO_STAT_DROP_MALFORMED);
		return XDP_DROP;
	}
	/* vr: a PREPARE_OK is counted like pb's ACK, and an ACK carries an
	 * executed op's result to its client like a READ_REPLY. Mapped first so
	 * that each handler is inlined once (the stack is nearly full). */
	type = p.dh->type;
	if (cfg->mode == DALIO_MODE_VR && type == DALIO_T_ACK)
		type = DALIO_T_READ_REPLY;
	else if (type == DALIO_T_PREPARE_OK)
		type = cfg->mode == DALIO_MODE_VR ? DALIO_T_ACK : 0;
	switch (type) {
	case DALIO_T_REQUEST:
		return handle_request(ctx, &p, cfg, st, data_end);
	case DALIO_T_ACK:
		return handle_ack(&p, cfg, st);
	case DALIO_T_READ_REPLY:
		return replica_answer(&p, cfg, st);
	case DALIO_T_NACK:
		/* The agent re-sends the missing writes from the payload ring. */
		if (replica_index(&p, cfg) < 0) {
			stat_inc(st, DALIO_STAT_DROP_NOT_REPLICA);
			return XDP_DROP;
		}
		stat_inc(st, DALIO_STAT_NACKS);
		return XDP_PASS;
	default:
		break;
	}
	stat_inc(st, DALIO_STAT_DROP_MALFORMED);
	return XDP_DROP;
}

/* Devmap egress: makes each broadcast copy of a write the copy for the replica
 * behind its interface (bpf/dalio_fwd.bpf.h). */
SEC("xdp/devmap")
int dalio_devmap_egress(struct xdp_md *ctx)
{
	return fwd_devmap_egress(ctx, ctx->egress_ifindex);
}
