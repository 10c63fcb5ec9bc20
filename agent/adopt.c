/* SPDX-License-Identifier: MIT */
/* Re-adoption of a shard's live state after an agent restart; see adopt.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "adopt.h"
#include "log.h"

int adopt_lookup(const struct datapath_maps *m, const struct dalio_shard_def *s,
		 const struct replica_probe *probes, struct adopt_info *ad)
{
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	struct dalio_shard_state st;
	uint32_t key = s->id;

	memset(ad, 0, sizeof(*ad));
	if (bpf_map_lookup_elem(m->vip_map, &vk, &ad->cfg)) {
		if (errno == ENOENT)
			return 0;
		return -1;
	}
	ad->found = 1;
	memset(&st, 0, sizeof(st));
	if (bpf_map_lookup_elem_flags(m->shard_state, &key, &st, BPF_F_LOCK))
		return -1;
	ad->next_seq = st.next_seq;
	ad->max_completed = st.max_completed;
	ad->in_flight = st.in_flight;

	ad->same_replicas = ad->cfg.n_replicas == s->n_replicas;
	for (unsigned i = 0; i < s->n_replicas && ad->same_replicas; i++) {
		struct dalio_replica r;
		uint32_t idx = s->id * DALIO_MAX_REPLICAS + i;

		if (bpf_map_lookup_elem(m->replica_map, &idx, &r))
			return -1;
		ad->same_replicas =
			r.ip == s->replicas[i].ip && r.port == htons(s->replicas[i].port);
	}
	return adopt_decide(s, probes, ad);
}

int adopt_decide(const struct dalio_shard_def *s, const struct replica_probe *probes,
		 struct adopt_info *ad)
{
	ad->why = NULL;
	if (!ad->found)
		return 0;
	if (ad->cfg.shard != s->id) {
		ad->why = "the VIP served another shard id";
		return 0;
	}
	if (!ad->same_replicas) {
		ad->why = "its replicas changed in the configuration";
		return 0;
	}
	if (!ad->cfg.write_mask || !ad->next_seq) {
		ad->why = "it had no replica in its write set";
		return 0;
	}
	for (unsigned i = 0; i < s->n_replicas; i++) {
		if (!probes[i].answered)
			continue;
		if (probes[i].epoch > ad->cfg.epoch) {
			ad->why = "a replica has seen a newer epoch";
			return 0;
		}
		if (probes[i].applied >= ad->next_seq) {
			ad->why = "a replica applied writes the maps never sequenced";
			return 0;
		}
	}
	return 1;
}

int adopt_plan(const struct dalio_shard_def *s, const struct replica_probe *probes,
	       const struct adopt_info *ad, struct shard_plan *plan)
{
	int n = 0;

	memset(plan, 0, sizeof(*plan));
	plan->epoch = ad->cfg.epoch;
	plan->applied = ad->max_completed;
	for (unsigned i = 0; i < s->n_replicas; i++) {
		const char *addr = s->replicas[i].addr;
		uint32_t bit = 1u << i;

		if (!(ad->cfg.write_mask & bit)) {
			log_warn(
				"shard %u: replica %s was out of the write set before the restart: "
				"left out",
				s->id, addr);
			continue;
		}
		if (!probes[i].answered) {
			log_warn("shard %u: replica %s did not answer: left out", s->id, addr);
			continue;
		}
		if (!probes[i].have_mac) {
			log_warn("shard %u: replica %s: no neighbour entry: left out", s->id, addr);
			continue;
		}
		if (probes[i].applied < ad->max_completed) {
			log_warn(
				"shard %u: replica %s lost completed writes (applied %llu < %llu): "
				"left out",
				s->id, addr, (unsigned long long)probes[i].applied,
				(unsigned long long)ad->max_completed);
			continue;
		}
		plan->write_mask |= bit;
		plan->read_mask |= ad->cfg.read_mask & bit;
		n++;
	}
	return n;
}
