/* SPDX-License-Identifier: MIT */
/*
 * The LB's BPF maps, declared once and included by every program (xdp/, tc/).
 * All are pinned by name under the agent's pin path, so the XDP and tc objects
 * share one set of maps and a restarted agent finds the live state again.
 * Value layouts: include/dalio/lb_types.h.
 */
#ifndef DALIO_MAPS_BPF_H
#define DALIO_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "dalio/lb_types.h"

/* (VIP, port) -> shard configuration. Written by the agent only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DALIO_MAX_SHARDS);
	__type(key, struct dalio_vip_key);
	__type(value, struct dalio_shard_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip_map SEC(".maps");

/* shard * DALIO_MAX_REPLICAS + i -> replica address. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DALIO_MAX_SHARDS *DALIO_MAX_REPLICAS);
	__type(key, __u32);
	__type(value, struct dalio_replica);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} replica_map SEC(".maps");

/* shard -> sequencer state (spin-locked). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DALIO_MAX_SHARDS);
	__type(key, __u32);
	__type(value, struct dalio_shard_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shard_state SEC(".maps");

/* shard * DALIO_RING_SIZE + (seq % DALIO_RING_SIZE) -> pending write.
 * Mappable: the agent scans it for writes to re-send without syscalls. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DALIO_MAX_SHARDS *DALIO_RING_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct dalio_pending);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pending_ring SEC(".maps");

/* Same index -> the WRITE message of that seq. 1.5 KB per slot, so the agent
 * sizes it to the configured shards (max shard id + 1 rings) before loading;
 * a shard beyond its end simply has nothing to re-send. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DALIO_RING_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct dalio_payload);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} payload_ring SEC(".maps");

/* shard * DALIO_DIRTY_BUCKETS + bucket -> pending count, latest seq. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DALIO_MAX_SHARDS *DALIO_DIRTY_BUCKETS);
	__type(key, __u32);
	__type(value, struct dalio_dirty);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dirty_map SEC(".maps");

/* (client id, shard) -> last write request and its seq. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DALIO_MAX_CLIENTS);
	__type(key, struct dalio_client_key);
	__type(value, struct dalio_client_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} client_map SEC(".maps");

/* shard -> counters, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DALIO_MAX_SHARDS);
	__type(key, __u32);
	__type(value, struct dalio_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats_map SEC(".maps");

/* shard -> round-robin cursor for reads, per CPU (no cache-line bouncing). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DALIO_MAX_SHARDS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rr_map SEC(".maps");

static __always_inline void stat_inc(struct dalio_stats *st, enum dalio_stat which)
{
	if (st)
		st->count[which]++;
}

static __always_inline struct dalio_replica *replica_lookup(__u32 shard, __u32 i)
{
	__u32 idx = shard * DALIO_MAX_REPLICAS + i;

	return bpf_map_lookup_elem(&replica_map, &idx);
}

#endif /* DALIO_MAPS_BPF_H */
