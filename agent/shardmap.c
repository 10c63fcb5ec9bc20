/* SPDX-License-Identifier: MIT */
/* Shard planning and installation into the LB's maps; see shardmap.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dalio/lb_types.h"
#include "log.h"
#include "shardmap.h"

int shard_plan(const struct dalio_shard_def *s, const struct replica_probe *probes, uint32_t epoch,
	       struct shard_plan *plan)
{
	int n = 0;

	memset(plan, 0, sizeof(*plan));
	plan->epoch = epoch;
	for (unsigned i = 0; i < s->n_replicas; i++)
		if (probes[i].answered && probes[i].have_mac && probes[i].applied > plan->applied)
			plan->applied = probes[i].applied;
	for (unsigned i = 0; i < s->n_replicas; i++) {
		const char *addr = s->replicas[i].addr;

		if (!probes[i].answered) {
			log_warn("shard %u: replica %s did not answer: left out", s->id, addr);
			continue;
		}
		if (!probes[i].have_mac) {
			log_warn("shard %u: replica %s: no neighbour entry: left out", s->id, addr);
			continue;
		}
		if (probes[i].applied < plan->applied) {
			log_warn("shard %u: replica %s is behind (applied %llu < %llu): left out "
				 "until it catches up",
				 s->id, addr, (unsigned long long)probes[i].applied,
				 (unsigned long long)plan->applied);
			continue;
		}
		plan->write_mask |= 1u << i;
		plan->read_mask |= 1u << i;
		n++;
	}
	return n;
}

int shard_install(const struct datapath_maps *m, const struct dalio_shard_def *s,
		  const struct replica_probe *probes, const struct shard_plan *plan, char *err,
		  size_t errlen)
{
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	struct dalio_shard_cfg cfg = {
		.shard = s->id,
		.epoch = plan->epoch,
		.write_mask = plan->write_mask,
		.read_mask = plan->read_mask,
		.mode = (uint8_t)s->mode,
		.n_replicas = (uint8_t)s->n_replicas,
		/* vr: f+1 of the 2f+1 configured replicas, however many are up */
		.quorum = s->mode == DALIO_MODE_VR ? (uint8_t)shard_quorum(s) : 0,
	};
	struct dalio_shard_state st;
	uint32_t key = s->id;

	for (unsigned i = 0; i < DALIO_MAX_REPLICAS; i++) {
		struct dalio_replica r = {0};
		uint32_t idx = s->id * DALIO_MAX_REPLICAS + i;

		if (i < s->n_replicas) {
			r.ip = s->replicas[i].ip;
			r.port = htons(s->replicas[i].port);
			memcpy(r.mac, probes[i].mac, sizeof(r.mac));
			r.ifindex = (uint32_t)probes[i].ifindex;
			memcpy(r.src_mac, probes[i].src_mac, sizeof(r.src_mac));
			r.valid = probes[i].answered && probes[i].have_mac;
		}
		if (bpf_map_update_elem(m->replica_map, &idx, &r, BPF_ANY))
			goto fail;
	}
	/*
	 * Re-adopted maps keep their sequencer unless the replicas are ahead.
	 * User space cannot read-modify-write the value under the lock, so write
	 * only when something must be raised: a live sequencer (adopt.c) never
	 * needs it, and a write-back would undo the data path's updates since the
	 * lookup.
	 */
	memset(&st, 0, sizeof(st));
	if (bpf_map_lookup_elem_flags(m->shard_state, &key, &st, BPF_F_LOCK))
		goto fail;
	if (st.next_seq < plan->applied + 1 || st.max_completed < plan->applied) {
		if (st.next_seq < plan->applied + 1)
			st.next_seq = plan->applied + 1;
		if (st.max_completed < plan->applied)
			st.max_completed = plan->applied;
		if (bpf_map_update_elem(m->shard_state, &key, &st, BPF_F_LOCK))
			goto fail;
	}
	if (bpf_map_update_elem(m->vip_map, &vk, &cfg, BPF_ANY))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "shard %u: cannot update the BPF maps: %s", s->id, strerror(errno));
	return -1;
}
