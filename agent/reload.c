/* SPDX-License-Identifier: MIT */
/* Live reconfiguration on SIGHUP; see reload.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "agent.h"
#include "log.h"
#include "membership.h"
#include "probe.h"
#include "reload.h"
#include "retransmit.h"

#define NEW_SHARD_WAIT_MS 2000

static int find_shard(const struct agent *a, unsigned id)
{
	for (unsigned si = 0; si < a->cfg.n_shards; si++)
		if (!a->shards[si].removed && a->cfg.shards[si].id == id)
			return (int)si;
	return -1;
}

static int find_replica(const struct agent *a, unsigned si, const struct dalio_replica_def *rd)
{
	struct sockaddr_in sa = replica_sockaddr(rd);

	return membership_replica_of(a, si, &sa);
}

static int same_shard(const struct dalio_shard_def *x, const struct dalio_shard_def *y)
{
	return x->vip == y->vip && x->port == y->port && x->mode == y->mode;
}

static void remove_shard(struct agent *a, unsigned si)
{
	const struct dalio_shard_def *s = &a->cfg.shards[si];
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};

	/* The VIP stops being served at once; its pending writes get no reply
	 * (clients time out), exactly as if the LB had lost the shard. */
	if (bpf_map_delete_elem(a->maps.vip_map, &vk) && errno != ENOENT)
		log_error("shard %u: cannot remove it from vip_map: %s", s->id, strerror(errno));
	membership_close_shard(a, si);
	retransmit_close_shard(a, si);
	a->shards[si].removed = 1;
	log_info("SIGHUP: shard %u (%s) removed", s->id, s->name);
}

static void add_shard(struct agent *a, const struct dalio_shard_def *ns)
{
	char err[512];
	unsigned si = a->cfg.n_shards;

	if (si == DALIO_MAX_SHARDS) {
		log_error("SIGHUP: shard %u: no free shard slot (removed shards keep theirs until "
			  "a restart)",
			  ns->id);
		return;
	}
	a->cfg.shards[si] = *ns;
	memset(&a->shards[si], 0, sizeof(a->shards[si]));
	if (agent_bring_up_shard(&a->cfg, ns, &a->maps, NEW_SHARD_WAIT_MS))
		return;
	a->cfg.n_shards++;
	if (membership_open_shard(a, si, err, sizeof(err)) ||
	    retransmit_open_shard(a, si, err, sizeof(err))) {
		log_error("SIGHUP: %s", err);
		remove_shard(a, si);
		return;
	}
	log_info("SIGHUP: shard %u (%s) added", ns->id, ns->name);
}

/* Appends replica rd to shard si (slots are never reused while the agent
 * runs, so ack bits in pending writes always mean the same replica). */
static void add_replica(struct agent *a, unsigned si, const struct dalio_replica_def *rd)
{
	struct dalio_shard_def *s = &a->cfg.shards[si];
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	struct dalio_replica rep = {.ip = rd->ip, .port = htons(rd->port)};
	unsigned r = s->n_replicas;
	uint32_t idx = s->id * DALIO_MAX_REPLICAS + r;
	struct dalio_shard_cfg cfg;

	if (r == DALIO_MAX_REPLICAS) {
		log_error("SIGHUP: shard %u: cannot add %s: all %d replica slots used (removed "
			  "ones are freed by a restart)",
			  s->id, rd->addr, DALIO_MAX_REPLICAS);
		return;
	}
	if (bpf_map_update_elem(a->maps.replica_map, &idx, &rep, BPF_ANY) ||
	    bpf_map_lookup_elem(a->maps.vip_map, &vk, &cfg)) {
		log_error("SIGHUP: shard %u: cannot add %s: %s", s->id, rd->addr, strerror(errno));
		return;
	}
	cfg.n_replicas = (uint8_t)(r + 1);
	if (bpf_map_update_elem(a->maps.vip_map, &vk, &cfg, BPF_EXIST)) {
		log_error("SIGHUP: shard %u: cannot add %s: %s", s->id, rd->addr, strerror(errno));
		return;
	}
	s->replicas[r] = *rd;
	s->n_replicas = r + 1;
	membership_add_replica(a, si, r, 0);
	log_info("SIGHUP: shard %u: replica %s added: it joins once it answers and has caught up",
		 s->id, rd->addr);
}

static void update_shard(struct agent *a, unsigned si, const struct dalio_shard_def *ns)
{
	struct dalio_shard_def *s = &a->cfg.shards[si];

	for (unsigned r = 0; r < s->n_replicas; r++) {
		int keep = 0;

		if (a->shards[si].rep[r].state == REPLICA_REMOVED)
			continue;
		for (unsigned j = 0; j < ns->n_replicas; j++)
			keep |= ns->replicas[j].ip == s->replicas[r].ip &&
				ns->replicas[j].port == s->replicas[r].port;
		if (!keep && membership_remove_replica(a, si, r) == 0)
			log_info("SIGHUP: shard %u: replica %s drained and removed", s->id,
				 s->replicas[r].addr);
	}
	for (unsigned j = 0; j < ns->n_replicas; j++)
		if (find_replica(a, si, &ns->replicas[j]) < 0)
			add_replica(a, si, &ns->replicas[j]);
	memcpy(s->name, ns->name, sizeof(s->name));
}

void agent_reload(struct agent *a)
{
	static struct dalio_config nc;
	char err[1024];

	if (dalio_config_load(a->config_path, &nc, err, sizeof(err))) {
		log_error("SIGHUP: %s; the running configuration stays", err);
		return;
	}
	log_info("SIGHUP: re-reading %s", a->config_path);
	if (strcmp(nc.interface, a->cfg.interface) || nc.xdp_mode != a->cfg.xdp_mode ||
	    strcmp(nc.pin_path, a->cfg.pin_path) || nc.heartbeat_ms != a->cfg.heartbeat_ms ||
	    nc.fanout != a->cfg.fanout)
		log_warn("SIGHUP: lb.interface, lb.xdp_mode, lb.pin_path, lb.heartbeat_ms and "
			 "lb.fanout change only when the agent restarts");
	a->cfg.suspect_after = nc.suspect_after;
	a->cfg.fail_after = nc.fail_after;

	for (unsigned si = 0; si < a->cfg.n_shards; si++) {
		int keep = 0;

		if (a->shards[si].removed)
			continue;
		for (unsigned j = 0; j < nc.n_shards; j++)
			keep |= nc.shards[j].id == a->cfg.shards[si].id &&
				same_shard(&nc.shards[j], &a->cfg.shards[si]);
		if (!keep)
			remove_shard(a, si);
	}
	for (unsigned j = 0; j < nc.n_shards; j++) {
		int si = find_shard(a, nc.shards[j].id);

		if (si < 0)
			add_shard(a, &nc.shards[j]);
		else
			update_shard(a, (unsigned)si, &nc.shards[j]);
	}
}
