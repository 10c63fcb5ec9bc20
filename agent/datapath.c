/* SPDX-License-Identifier: MIT */
/*
 * Loading, pinning, attaching and detaching the LB's BPF programs. XDP is
 * attached through libxdp (which falls back to a single program where the
 * kernel refuses its multi-program dispatcher); tc through libbpf's clsact
 * helpers. Both objects pin their maps by name in one directory, so they share
 * them and a restarted agent finds them again.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "datapath.h"
#include "dalio_lb.skel.h"
#include "dalio_fanout.skel.h"

#define TC_HANDLE   0xda11
#define TC_PRIORITY 1

struct datapath {
	char pin_dir[256];
	char ifname[IF_NAMESIZE];
	int ifindex;
	enum xdp_attach_mode mode;
	struct dalio_lb *lb;
	struct dalio_fanout *fanout;
	struct xdp_program *xdp;
	int xdp_attached;
	int tc_attached;
	int tc_hook_created;
	unsigned payload_slots;
};

unsigned datapath_payload_slots(const struct dalio_config *cfg)
{
	unsigned max_id = 0;

	for (unsigned i = 0; i < cfg->n_shards; i++)
		if (cfg->shards[i].id > max_id)
			max_id = cfg->shards[i].id;
	return (max_id + 1) * DALIO_RING_SIZE;
}

static const char *const pinned_maps[] = {
	"vip_map",   "replica_map", "shard_state", "pending_ring", "dirty_map",
	"stats_map", "rr_map",	    "client_map",  "payload_ring",
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* `ip netns exec` gives a fresh /sys without bpffs: mount one if needed. */
static int ensure_bpffs(const char *pin_path, char *err, size_t errlen)
{
	static const char root[] = "/sys/fs/bpf/";
	struct statfs st;
	char buf[256];

	if (strncmp(pin_path, root, sizeof(root) - 1) != 0) {
		set_err(err, errlen, "pin_path %s is not under /sys/fs/bpf", pin_path);
		return -1;
	}
	if ((statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
		set_err(err, errlen, "cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
		return -1;
	}
	/* mkdir -p of every component below /sys/fs/bpf, the last one included */
	snprintf(buf, sizeof(buf), "%s", pin_path);
	for (char *p = buf + sizeof(root) - 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST) {
			set_err(err, errlen, "cannot create %s: %s", buf, strerror(errno));
			return -1;
		}
		*p = c;
		if (!c)
			return 0;
	}
}

struct datapath *datapath_load(const struct dalio_config *cfg, char *err, size_t errlen)
{
	struct datapath *dp = calloc(1, sizeof(*dp));
	int rc;

	if (!dp) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(dp->ifname, sizeof(dp->ifname), "%s", cfg->interface);
	dp->ifindex = (int)if_nametoindex(cfg->interface);
	if (!dp->ifindex) {
		set_err(err, errlen, "%s: lb.interface: no interface named '%s' here", cfg->path,
			cfg->interface);
		goto fail;
	}
	dp->mode = cfg->xdp_mode == DALIO_XDP_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s/%s", cfg->pin_path, cfg->interface);
	if (ensure_bpffs(dp->pin_dir, err, errlen))
		goto fail;

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dp->pin_dir);
	dp->lb = dalio_lb__open_opts(&opts);
	dp->fanout = dalio_fanout__open_opts(&opts);
	if (!dp->lb || !dp->fanout) {
		set_err(err, errlen, "cannot open the BPF objects: %s", strerror(errno));
		goto fail;
	}
	/* One payload ring per shard id up to the highest configured (1.5 KB a
	 * slot); both objects declare the shared map, so both must agree. */
	dp->payload_slots = datapath_payload_slots(cfg);
	if (bpf_map__set_max_entries(dp->lb->maps.payload_ring, dp->payload_slots) ||
	    bpf_map__set_max_entries(dp->fanout->maps.payload_ring, dp->payload_slots)) {
		set_err(err, errlen, "cannot size the payload ring: %s", strerror(errno));
		goto fail;
	}
	rc = dalio_lb__load(dp->lb);
	if (!rc)
		rc = dalio_fanout__load(dp->fanout);
	if (rc) {
		set_err(err, errlen,
			"cannot load the BPF programs (%s). If %s holds maps from an older "
			"Dalio version, remove that directory and retry",
			strerror(-rc), dp->pin_dir);
		goto fail;
	}
	return dp;
fail:
	datapath_destroy(dp, 0);
	return NULL;
}

int datapath_attach(struct datapath *dp, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY,
		    .prog_fd = bpf_program__fd(dp->fanout->progs.dalio_fanout),
		    .flags = BPF_TC_F_REPLACE);
	int rc = bpf_tc_hook_create(&hook);

	if (rc && rc != -EEXIST) {
		set_err(err, errlen, "cannot create clsact on %s: %s", dp->ifname, strerror(-rc));
		return -1;
	}
	dp->tc_hook_created = rc == 0;
	rc = bpf_tc_attach(&hook, &tc);
	if (rc) {
		set_err(err, errlen, "cannot attach tc fan-out on %s: %s", dp->ifname,
			strerror(-rc));
		return -1;
	}
	dp->tc_attached = 1;

	dp->xdp = xdp_program__from_fd(bpf_program__fd(dp->lb->progs.dalio_lb));
	rc = libxdp_get_error(dp->xdp);
	if (rc) {
		dp->xdp = NULL;
		set_err(err, errlen, "libxdp cannot wrap the XDP program: %s", strerror(-rc));
		return -1;
	}
	libbpf_quiet = 1;
	rc = xdp_program__attach(dp->xdp, dp->ifindex, dp->mode, 0);
	libbpf_quiet = 0;
	if (rc) {
		char buf[128];

		libxdp_strerror(rc, buf, sizeof(buf));
		set_err(err, errlen, "cannot attach XDP (%s mode) on %s: %s",
			dp->mode == XDP_MODE_SKB ? "skb" : "native", dp->ifname, buf);
		return -1;
	}
	dp->xdp_attached = 1;
	return 0;
}

void datapath_maps(const struct datapath *dp, struct datapath_maps *out)
{
	out->vip_map = bpf_map__fd(dp->lb->maps.vip_map);
	out->replica_map = bpf_map__fd(dp->lb->maps.replica_map);
	out->shard_state = bpf_map__fd(dp->lb->maps.shard_state);
	out->pending_ring = bpf_map__fd(dp->lb->maps.pending_ring);
	out->dirty_map = bpf_map__fd(dp->lb->maps.dirty_map);
	out->stats_map = bpf_map__fd(dp->lb->maps.stats_map);
	out->payload_ring = bpf_map__fd(dp->lb->maps.payload_ring);
	out->payload_slots = dp->payload_slots;
}

void datapath_destroy(struct datapath *dp, int unpin)
{
	if (!dp)
		return;
	if (dp->xdp_attached)
		xdp_program__detach(dp->xdp, dp->ifindex, dp->mode, 0);
	if (dp->xdp)
		xdp_program__close(dp->xdp);
	if (dp->tc_attached) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY);

		bpf_tc_detach(&hook, &tc);
		if (dp->tc_hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	if (unpin && dp->pin_dir[0]) {
		char path[512];

		for (size_t i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, pinned_maps[i]);
			unlink(path);
		}
		rmdir(dp->pin_dir);
	}
	dalio_fanout__destroy(dp->fanout);
	dalio_lb__destroy(dp->lb);
	free(dp);
}
