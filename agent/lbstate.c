/* SPDX-License-Identifier: MIT */
/* Snapshots of a shard's data-path state from the LB's maps; see lbstate.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lbstate.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int lbstate_open_pinned(const char *pin_dir, struct datapath_maps *m, char *err, size_t errlen)
{
	static const char *const names[] = {"vip_map",	    "replica_map", "shard_state",
					    "pending_ring", "dirty_map",   "stats_map"};
	int *fds[] = {&m->vip_map,	&m->replica_map, &m->shard_state,
		      &m->pending_ring, &m->dirty_map,	 &m->stats_map};
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[i]);
		*fds[i] = bpf_obj_get_opts(path, &opts);
		if (*fds[i] < 0) {
			int e = errno;

			snprintf(err, errlen, "%s: %s", path, strerror(e));
			lbstate_close(m);
			errno = e;
			return -1;
		}
	}
	return 0;
}

void lbstate_close(struct datapath_maps *m)
{
	int *fds[] = {&m->vip_map,	&m->replica_map, &m->shard_state,
		      &m->pending_ring, &m->dirty_map,	 &m->stats_map};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/*
 * Reads entries [first, first + n) of the array map fd into vals (vsize bytes
 * each): a few BPF_MAP_LOOKUP_BATCH calls, or single lookups where the kernel
 * has no batch operations.
 */
static int read_range(int fd, uint32_t first, uint32_t n, void *vals, size_t vsize)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	uint32_t *keys = malloc(sizeof(*keys) * n), done = 0, prev = first - 1, out = 0;
	int rc = 0;

	if (!keys)
		return -1;
	while (done < n) {
		uint32_t count = n - done;

		rc = bpf_map_lookup_batch(fd, first || done ? &prev : NULL, &out, keys + done,
					  (char *)vals + (size_t)done * vsize, &count, &o);
		if (rc && errno != ENOENT)
			break;
		done += count;
		prev = out;
		if (rc || count == 0) { /* ENOENT: end of the map */
			rc = done == n ? 0 : -1;
			break;
		}
	}
	if (rc && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)) {
		rc = 0;
		for (uint32_t i = 0; i < n && !rc; i++) {
			uint32_t k = first + i;

			rc = bpf_map_lookup_elem(fd, &k, (char *)vals + (size_t)i * vsize);
		}
	}
	free(keys);
	return rc;
}

static int read_stats(int fd, uint32_t shard, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t sz = (sizeof(struct dalio_stats) + 7) / 8 * 8;
	char *buf;

	if (ncpu <= 0) {
		errno = ncpu ? -ncpu : EINVAL;
		return -1;
	}
	buf = calloc((size_t)ncpu, sz);
	if (!buf)
		return -1;
	if (bpf_map_lookup_elem(fd, &shard, buf)) {
		free(buf);
		return -1;
	}
	memset(sum, 0, sizeof(uint64_t) * DALIO_STAT_MAX);
	for (int c = 0; c < ncpu; c++) {
		const struct dalio_stats *st = (const void *)(buf + (size_t)c * sz);

		for (int i = 0; i < DALIO_STAT_MAX; i++)
			sum[i] += st->count[i];
	}
	free(buf);
	return 0;
}

int lbstate_read_counters(const struct datapath_maps *m, const struct dalio_shard_def *s,
			  struct lb_shard_snap *out)
{
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	struct dalio_shard_state st;
	uint32_t key = s->id;

	out->present = 0;
	memset(&out->cfg, 0, sizeof(out->cfg));
	if (bpf_map_lookup_elem(m->vip_map, &vk, &out->cfg) == 0)
		out->present = 1;
	else if (errno != ENOENT)
		return -1;
	memset(&st, 0, sizeof(st));
	if (bpf_map_lookup_elem_flags(m->shard_state, &key, &st, BPF_F_LOCK) &&
	    bpf_map_lookup_elem(m->shard_state, &key, &st))
		return -1;
	out->next_seq = st.next_seq;
	out->max_completed = st.max_completed;
	out->in_flight = st.in_flight;
	return read_stats(m->stats_map, key, out->stats);
}

int lbstate_scan_tables(const struct datapath_maps *m, const struct dalio_shard_def *s,
			struct lb_shard_snap *out)
{
	struct dalio_dirty *dirty = NULL;
	struct dalio_pending *ring = NULL;
	uint32_t key = s->id;
	uint64_t now = mono_ns();
	int rc = -1;

	out->dirty_buckets = out->pending_slots = 0;
	out->oldest_pending_ns = 0;
	dirty = calloc(DALIO_DIRTY_BUCKETS, sizeof(*dirty));
	ring = calloc(DALIO_RING_SIZE, sizeof(*ring));
	if (!dirty || !ring)
		goto out;
	if (read_range(m->dirty_map, key * DALIO_DIRTY_BUCKETS, DALIO_DIRTY_BUCKETS, dirty,
		       sizeof(*dirty)))
		goto out;
	for (uint32_t i = 0; i < DALIO_DIRTY_BUCKETS; i++)
		out->dirty_buckets += dirty[i].pending != 0;
	if (read_range(m->pending_ring, key * DALIO_RING_SIZE, DALIO_RING_SIZE, ring,
		       sizeof(*ring)))
		goto out;
	for (uint32_t i = 0; i < DALIO_RING_SIZE; i++) {
		if (ring[i].state != DALIO_SLOT_PENDING)
			continue;
		out->pending_slots++;
		if (ring[i].start_ns && ring[i].start_ns < now &&
		    now - ring[i].start_ns > out->oldest_pending_ns)
			out->oldest_pending_ns = now - ring[i].start_ns;
	}
	rc = 0;
out:
	free(dirty);
	free(ring);
	return rc;
}

int lbstate_read(const struct datapath_maps *m, const struct dalio_shard_def *s,
		 struct lb_shard_snap *out)
{
	memset(out, 0, sizeof(*out));
	if (lbstate_read_counters(m, s, out))
		return -1;
	return lbstate_scan_tables(m, s, out);
}
