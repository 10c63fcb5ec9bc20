/* SPDX-License-Identifier: MIT */
/* The agent's pinned state for its successor and for dalio-ctl; see agent_state.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent_state.h"
#include "log.h"

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *agent_state_name(unsigned state)
{
	/* One table for the agent's logs, metrics and dalio-ctl. */
	static const char *const names[] = {
		[REPLICA_JOINING] = "joining", [REPLICA_CATCHING_UP] = "catching-up",
		[REPLICA_IN_SYNC] = "in-sync", [REPLICA_SUSPECTED] = "suspected",
		[REPLICA_FAILED] = "failed",   [REPLICA_REMOVED] = "removed",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

void agent_pin_dir(const struct dalio_config *cfg, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", cfg->pin_path, cfg->interface);
}

/* Does fd hold a map of exactly agent_state's layout? */
static int layout_ok(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.type == BPF_MAP_TYPE_ARRAY && info.key_size == sizeof(__u32) &&
	       info.value_size == sizeof(struct agent_state_shard) &&
	       info.max_entries == DALIO_MAX_SHARDS;
}

int agent_state_open(struct agent *a, char *err, size_t errlen)
{
	char dir[256], path[320];
	int fd;

	agent_pin_dir(&a->cfg, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, AGENT_STATE_MAP);
	fd = bpf_obj_get(path);
	if (fd >= 0 && !layout_ok(fd)) {
		log_warn("%s has another layout (older agent?): starting with a fresh one", path);
		close(fd);
		fd = -1;
		unlink(path);
	}
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, AGENT_STATE_MAP, sizeof(__u32),
				    sizeof(struct agent_state_shard), DALIO_MAX_SHARDS, NULL);
		if (fd < 0) {
			snprintf(err, errlen, "cannot create the %s map: %s", AGENT_STATE_MAP,
				 strerror(errno));
			return -1;
		}
		if (bpf_obj_pin(fd, path)) {
			snprintf(err, errlen, "cannot pin %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	a->state_fd = fd;
	return 0;
}

void agent_state_close(struct agent *a)
{
	if (a->state_fd >= 0)
		close(a->state_fd);
	a->state_fd = -1;
}

int agent_state_open_pinned(const char *pin_dir)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	char path[320];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, AGENT_STATE_MAP);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd >= 0 && !layout_ok(fd)) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

int agent_state_read(int fd, unsigned shard, struct agent_state_shard *out)
{
	__u32 key = shard;

	if (bpf_map_lookup_elem(fd, &key, out))
		return -1;
	return out->version == AGENT_STATE_VERSION && out->shard == shard ? 0 : 1;
}

/* Copies what rec holds for the configured replicas into rt: everything, or
 * (counters_only) the monotonic counters. */
static void restore(struct shard_rt *rt, const struct dalio_shard_def *s,
		    const struct agent_state_shard *rec, int counters_only)
{
	if (!counters_only)
		rt->epoch = rec->epoch;
	rt->failovers = rec->failovers;
	for (unsigned j = 0; j < s->n_replicas; j++) {
		for (unsigned k = 0; k < rec->n_replicas && k < DALIO_MAX_REPLICAS; k++) {
			const struct agent_state_replica *r = &rec->rep[k];
			struct replica_rt *x = &rt->rep[j];

			if (r->ip != s->replicas[j].ip || r->port != s->replicas[j].port)
				continue;
			x->pings = r->pings;
			x->pongs = r->pongs;
			x->retransmits = r->retransmits;
			x->nacks = r->nacks;
			x->failures = r->failures;
			if (!counters_only) {
				x->state = r->state <= REPLICA_REMOVED
						   ? (enum replica_state)r->state
						   : REPLICA_JOINING;
				x->epoch = r->epoch;
				x->applied = r->applied;
				x->since_ms = r->since_ms;
				x->last_pong_ms = r->last_pong_ms;
				x->rtt_ms = r->rtt_ms;
			}
			break;
		}
	}
}

static int restore_all(struct agent *a, int counters_only)
{
	int restored = 0;

	if (a->state_fd < 0)
		return 0;
	for (unsigned i = 0; i < a->cfg.n_shards; i++) {
		const struct dalio_shard_def *s = &a->cfg.shards[i];
		struct agent_state_shard rec;

		if (a->shards[i].removed || agent_state_read(a->state_fd, s->id, &rec))
			continue;
		restore(&a->shards[i], s, &rec, counters_only);
		restored++;
	}
	return restored;
}

int agent_state_load(struct agent *a)
{
	return restore_all(a, 0);
}

int agent_state_restore_counters(struct agent *a)
{
	return restore_all(a, 1);
}

int agent_state_save(const struct agent *a)
{
	int64_t now = mono_ms();
	int rc = 0;

	if (a->state_fd < 0)
		return 0;
	for (unsigned i = 0; i < a->cfg.n_shards; i++) {
		const struct dalio_shard_def *s = &a->cfg.shards[i];
		const struct shard_rt *rt = &a->shards[i];
		struct agent_state_shard rec;
		__u32 key = s->id;

		if (rt->removed) /* SIGHUP took it out; its id may come back in another slot */
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.version = AGENT_STATE_VERSION;
		rec.shard = s->id;
		rec.epoch = rt->epoch;
		rec.n_replicas = s->n_replicas;
		rec.failovers = rt->failovers;
		rec.saved_ms = now;
		rec.agent_pid = (int32_t)getpid();
		for (unsigned j = 0; j < s->n_replicas; j++) {
			const struct replica_rt *x = &rt->rep[j];
			struct agent_state_replica *r = &rec.rep[j];

			r->ip = s->replicas[j].ip;
			r->port = s->replicas[j].port;
			r->state = (uint8_t)x->state;
			r->epoch = x->epoch;
			r->applied = x->applied;
			r->since_ms = x->since_ms;
			r->last_pong_ms = x->last_pong_ms;
			r->rtt_ms = x->rtt_ms;
			r->pings = x->pings;
			r->pongs = x->pongs;
			r->retransmits = x->retransmits;
			r->nacks = x->nacks;
			r->failures = x->failures;
		}
		if (bpf_map_update_elem(a->state_fd, &key, &rec, BPF_ANY))
			rc = -1;
	}
	return rc;
}
