/* SPDX-License-Identifier: MIT */
/*
 * Loading, pinning, attaching and detaching the LB's BPF programs. XDP is
 * attached through libxdp (which falls back to a single program where the
 * kernel refuses its multi-program dispatcher); tc through libbpf's clsact
 * helpers. Both objects pin their maps by name in one directory, so they share
 * them and a restarted agent finds them again.
 *
 * Restart (even after SIGKILL): XDP and tc stay attached and keep serving
 * with their maps. A new agent takes the maps of the dalio_lb program it
 * finds attached (re-pinning them if the pins are gone or stale), loads its
 * own programs on them, and swaps them in atomically on every interface (tc
 * filter replace, XDP_FLAGS_REPLACE of the old program), so no packet is
 * handled without a program. docs/operations.md.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "datapath.h"
#include "log.h"
#include "route.h"
#include "dalio_lb.skel.h"
#include "dalio_fanout.skel.h"

#define TC_HANDLE   0xda11
#define TC_PRIORITY 1

/* One interface the data path is attached to. */
struct dp_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	int has_replica; /* some replica is reached through it (a tx_ports entry in devmap mode) */
	struct xdp_program *xdp;
	int xdp_attached;
	int tc_attached;
	int tc_hook_created;
	unsigned payload_slots;
	__u32 old_xdp_id;   /* a running dalio_lb found here, replaced on attach */
	int old_xdp_legacy; /* ... attached alone (not in libxdp's dispatcher) */
};

struct datapath {
	char pin_dir[256];
	enum xdp_attach_mode mode;
	int fanout; /* DALIO_FANOUT_* */
	struct dalio_lb *lb;
	struct dalio_fanout *fanout_skel;
	unsigned payload_slots;
	/* ifaces[0] is lb.interface (clients); then every other interface a
	 * replica's route leaves by (a multi-homed LB). */
	unsigned n_ifaces;
	struct dp_iface ifaces[DALIO_MAX_IFACES];
	int adopted;	       /* found a running data path or pinned maps */
	__u32 replaced_xdp_id; /* the running dalio_lb on lb.interface */
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
	"vip_map", "replica_map", "shard_state",  "pending_ring", "dirty_map", "stats_map",
	"rr_map",  "client_map",  "payload_ring", "lb_cfg",	  "tx_ports",  "agent_state",
};

#define XDP_PROG_NAME "dalio_lb"

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

/* The entry of ifaces for ifindex, added (as name) if new; NULL when full. */
static struct dp_iface *iface_get(struct datapath *dp, int ifindex, const char *name)
{
	for (unsigned i = 0; i < dp->n_ifaces; i++)
		if (dp->ifaces[i].ifindex == ifindex)
			return &dp->ifaces[i];
	if (dp->n_ifaces == DALIO_MAX_IFACES)
		return NULL;
	snprintf(dp->ifaces[dp->n_ifaces].name, IF_NAMESIZE, "%s", name);
	dp->ifaces[dp->n_ifaces].ifindex = ifindex;
	return &dp->ifaces[dp->n_ifaces++];
}

/*
 * Finds the interface each configured replica is reached through (the route
 * the kernel would use), so the data path is attached wherever acks and read
 * replies arrive. In devmap mode a broadcast gives one copy per interface, so
 * two replicas of one shard behind the same interface are refused.
 */
static int collect_ifaces(struct datapath *dp, const struct dalio_config *cfg, char *err,
			  size_t errlen)
{
	for (unsigned si = 0; si < cfg->n_shards; si++) {
		const struct dalio_shard_def *s = &cfg->shards[si];
		int ifindex[DALIO_MAX_REPLICAS] = {0};

		for (unsigned i = 0; i < s->n_replicas; i++) {
			const struct dalio_replica_def *r = &s->replicas[i];
			struct route_hop hop;
			struct dp_iface *ifc;
			char why[256];

			if (route_lookup(r->ip, &hop, why, sizeof(why))) {
				/* not fatal: the replica is left out like one that
				 * does not answer (shard_plan says so) */
				log_warn("%s:%d:%d: shards[%u].replicas[%u]: %s", cfg->path,
					 r->line, r->col, si, i, why);
				continue;
			}
			for (unsigned j = 0; j < i; j++) {
				if (cfg->fanout != DALIO_CFG_FANOUT_DEVMAP ||
				    ifindex[j] != hop.ifindex)
					continue;
				set_err(err, errlen,
					"%s:%d:%d: shards[%u].replicas[%u]: %s is reached through "
					"%s "
					"like shards[%u].replicas[%u] (%s): devmap fan-out sends "
					"one "
					"copy per interface, so each replica of a shard needs its "
					"own "
					"interface (or use lb.fanout: tc)",
					cfg->path, r->line, r->col, si, i, r->addr, hop.ifname, si,
					j, s->replicas[j].addr);
				return -1;
			}
			ifindex[i] = hop.ifindex;
			ifc = iface_get(dp, hop.ifindex, hop.ifname);
			if (!ifc) {
				set_err(err, errlen,
					"replicas are reached through more than %d interfaces",
					DALIO_MAX_IFACES);
				return -1;
			}
			ifc->has_replica = 1;
		}
	}
	return 0;
}

/*
 * Finds a dalio_lb program attached to ifc (a previous agent's). Another XDP
 * program there is an error, so is dalio_lb in the other XDP mode.
 */
static int find_running(struct datapath *dp, struct dp_iface *ifc, char *err, size_t errlen)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifc->ifindex);
	struct xdp_program *p = NULL;
	enum xdp_attach_mode mode;
	int rc = 0;

	if (libxdp_get_error(mp) || !mp)
		return 0; /* nothing attached */
	mode = xdp_multiprog__attach_mode(mp);
	ifc->old_xdp_legacy = xdp_multiprog__is_legacy(mp);
	if (ifc->old_xdp_legacy) {
		p = xdp_multiprog__main_prog(mp);
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (strcmp(xdp_program__name(p), XDP_PROG_NAME) == 0)
				break;
	}
	if (!p || strcmp(xdp_program__name(p), XDP_PROG_NAME) != 0) {
		set_err(err, errlen,
			"%s already runs another XDP program (%s, id %u): refusing to replace it",
			ifc->name, p ? xdp_program__name(p) : "dispatcher",
			p ? xdp_program__id(p) : 0);
		rc = -1;
	} else if (mode != dp->mode) {
		set_err(err, errlen,
			"%s runs dalio_lb in %s mode but the configuration says %s: stop the "
			"running data path first (SIGTERM to the agent, or ip link set %s xdp off)",
			ifc->name, mode == XDP_MODE_SKB ? "skb" : "native",
			dp->mode == XDP_MODE_SKB ? "skb" : "native", ifc->name);
		rc = -1;
	} else {
		ifc->old_xdp_id = xdp_program__id(p);
	}
	xdp_multiprog__close(mp);
	return rc;
}

/* Id of the tc fan-out program on ifc's ingress (0: none). */
static __u32 running_tc_id(const struct dp_iface *ifc)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int rc;

	libbpf_quiet = 1;
	rc = bpf_tc_query(&hook, &tc);
	libbpf_quiet = 0;
	return rc ? 0 : tc.prog_id;
}

/*
 * Makes both objects use the maps of the running program `id`: the live state.
 * A pin that is missing (e.g. the old agent's private bpffs died with it) is
 * made again by libbpf at load; a pin of another map (stale) is removed first.
 */
static int adopt_running_maps(struct datapath *dp, __u32 id, char *err, size_t errlen)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info), ids[64], n;
	int pfd = bpf_prog_get_fd_by_id(id), rc = -1;

	if (pfd < 0) {
		set_err(err, errlen, "cannot open the running program (id %u): %s", id,
			strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len)) {
		set_err(err, errlen, "cannot read the running program's maps: %s", strerror(errno));
		goto out;
	}
	n = info.nr_map_ids < sizeof(ids) / sizeof(ids[0]) ? info.nr_map_ids
							   : sizeof(ids) / sizeof(ids[0]);
	for (__u32 i = 0; i < n; i++) {
		struct bpf_map_info mi;
		__u32 mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);
		struct bpf_map *lm, *fm;
		char path[512];
		int pin, is_payload;

		if (mfd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen)) {
			close(mfd);
			continue;
		}
		lm = bpf_object__find_map_by_name(dp->lb->obj, mi.name);
		fm = bpf_object__find_map_by_name(dp->fanout_skel->obj, mi.name);
		if (!lm)
			lm = fm;
		/* Only pinned maps are shared state (not .rodata and the like). */
		if (!lm || !bpf_map__pin_path(lm)) {
			close(mfd);
			continue;
		}
		/* The payload ring is sized by the configuration (SIGHUP may have
		 * added shards since): keep the running one's size. */
		is_payload = strcmp(mi.name, "payload_ring") == 0;
		if (is_payload)
			dp->payload_slots = mi.max_entries;
		if (bpf_map__type(lm) != mi.type || bpf_map__key_size(lm) != mi.key_size ||
		    bpf_map__value_size(lm) != mi.value_size ||
		    (!is_payload && bpf_map__max_entries(lm) != mi.max_entries)) {
			set_err(err, errlen,
				"the running data path's map %s has another layout than this "
				"agent's (type %u, key %u, value %u bytes, %u entries; expected "
				"%u, %u, %u, %u): an upgrade across map layouts needs a stop "
				"(SIGTERM) and a fresh start",
				mi.name, mi.type, mi.key_size, mi.value_size, mi.max_entries,
				bpf_map__type(lm), bpf_map__key_size(lm), bpf_map__value_size(lm),
				bpf_map__max_entries(lm));
			close(mfd);
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, mi.name);
		pin = bpf_obj_get(path);
		if (pin >= 0) {
			struct bpf_map_info pi;
			__u32 plen = sizeof(pi);

			memset(&pi, 0, sizeof(pi));
			if (bpf_obj_get_info_by_fd(pin, &pi, &plen) == 0 && pi.id != mi.id) {
				log_warn("%s is not the running program's map: re-pinning the "
					 "live one",
					 path);
				unlink(path);
			}
			close(pin);
		}
		lm = bpf_object__find_map_by_name(dp->lb->obj, mi.name);
		if ((lm && bpf_map__reuse_fd(lm, mfd)) || (fm && bpf_map__reuse_fd(fm, mfd))) {
			set_err(err, errlen, "cannot re-adopt map %s: %s", mi.name,
				strerror(errno));
			close(mfd);
			goto out;
		}
		close(mfd);
	}
	rc = 0;
out:
	close(pfd);
	return rc;
}

/*
 * The kernel adds BPF_F_RDONLY_PROG to every devmap's flags, and libbpf 1.1
 * then refuses to reuse a pinned devmap ("parameter mismatch"), which would
 * make every start with pins left (e.g. --keep-maps) fail. Reuse pinned
 * devmaps here instead, after the same layout checks.
 */
static int reuse_pinned_devmaps(struct datapath *dp, char *err, size_t errlen)
{
	struct bpf_object *objs[] = {dp->lb->obj, dp->fanout_skel->obj};
	struct bpf_map *m;

	for (size_t o = 0; o < sizeof(objs) / sizeof(objs[0]); o++) {
		bpf_object__for_each_map(m, objs[o])
		{
			struct bpf_map_info mi;
			__u32 len = sizeof(mi);
			const char *path = bpf_map__pin_path(m);
			int fd, ok;

			if ((bpf_map__type(m) != BPF_MAP_TYPE_DEVMAP &&
			     bpf_map__type(m) != BPF_MAP_TYPE_DEVMAP_HASH) ||
			    !path || bpf_map__fd(m) >= 0)
				continue;
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue; /* not pinned: libbpf creates it */
			memset(&mi, 0, sizeof(mi));
			ok = bpf_obj_get_info_by_fd(fd, &mi, &len) == 0 &&
			     mi.type == bpf_map__type(m) && mi.key_size == bpf_map__key_size(m) &&
			     mi.value_size == bpf_map__value_size(m) &&
			     mi.max_entries == bpf_map__max_entries(m);
			if (!ok || bpf_map__reuse_fd(m, fd)) {
				set_err(err, errlen,
					"%s has another layout than this agent's %s: stop the "
					"running data path and remove it",
					path, bpf_map__name(m));
				close(fd);
				return -1;
			}
			close(fd);
		}
	}
	return 0;
}

struct datapath *datapath_load(const struct dalio_config *cfg, char *err, size_t errlen)
{
	struct datapath *dp = calloc(1, sizeof(*dp));
	int rc, ifindex;

	if (!dp) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	ifindex = (int)if_nametoindex(cfg->interface);
	if (!ifindex) {
		set_err(err, errlen, "%s: lb.interface: no interface named '%s' here", cfg->path,
			cfg->interface);
		goto fail;
	}
	iface_get(dp, ifindex, cfg->interface);
	dp->mode = cfg->xdp_mode == DALIO_XDP_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	dp->fanout = cfg->fanout == DALIO_CFG_FANOUT_DEVMAP ? DALIO_FANOUT_DEVMAP : DALIO_FANOUT_TC;
	if (collect_ifaces(dp, cfg, err, errlen))
		goto fail;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s/%s", cfg->pin_path, cfg->interface);
	if (ensure_bpffs(dp->pin_dir, err, errlen))
		goto fail;
	for (unsigned i = 0; i < dp->n_ifaces; i++)
		if (find_running(dp, &dp->ifaces[i], err, errlen))
			goto fail;
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/shard_state", dp->pin_dir);
		dp->replaced_xdp_id = dp->ifaces[0].old_xdp_id;
		dp->adopted = access(path, F_OK) == 0;
		for (unsigned i = 0; i < dp->n_ifaces; i++)
			dp->adopted |= dp->ifaces[i].old_xdp_id != 0;
	}

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dp->pin_dir);
	dp->lb = dalio_lb__open_opts(&opts);
	dp->fanout_skel = dalio_fanout__open_opts(&opts);
	if (!dp->lb || !dp->fanout_skel) {
		set_err(err, errlen, "cannot open the BPF objects: %s", strerror(errno));
		goto fail;
	}
	/* One payload ring per shard id up to the highest configured (1.5 KB a
	 * slot); both objects declare the shared map, so both must agree. */
	dp->payload_slots = datapath_payload_slots(cfg);
	if (bpf_map__set_max_entries(dp->lb->maps.payload_ring, dp->payload_slots) ||
	    bpf_map__set_max_entries(dp->fanout_skel->maps.payload_ring, dp->payload_slots)) {
		set_err(err, errlen, "cannot size the payload ring: %s", strerror(errno));
		goto fail;
	}
	/* A running data path: its programs' maps are the live state. */
	for (unsigned i = 0; i < dp->n_ifaces; i++) {
		struct dp_iface *ifc = &dp->ifaces[i];
		__u32 tc_id = running_tc_id(ifc);

		if ((ifc->old_xdp_id && adopt_running_maps(dp, ifc->old_xdp_id, err, errlen)) ||
		    (tc_id && adopt_running_maps(dp, tc_id, err, errlen)))
			goto fail;
	}
	if (reuse_pinned_devmaps(dp, err, errlen))
		goto fail;
	rc = dalio_lb__load(dp->lb);
	if (!rc)
		rc = dalio_fanout__load(dp->fanout_skel);
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

static int attach_tc(struct datapath *dp, struct dp_iface *ifc, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY,
		    .prog_fd = bpf_program__fd(dp->fanout_skel->progs.dalio_fanout),
		    .flags = BPF_TC_F_REPLACE);
	int rc;

	libbpf_quiet = 1; /* the clsact of a running data path exists: EEXIST */
	rc = bpf_tc_hook_create(&hook);
	libbpf_quiet = 0;
	if (rc && rc != -EEXIST) {
		set_err(err, errlen, "cannot create clsact on %s: %s", ifc->name, strerror(-rc));
		return -1;
	}
	ifc->tc_hook_created = rc == 0;
	rc = bpf_tc_attach(&hook, &tc);
	if (rc) {
		set_err(err, errlen, "cannot attach tc fan-out on %s: %s", ifc->name,
			strerror(-rc));
		return -1;
	}
	ifc->tc_attached = 1;
	return 0;
}

static int attach_xdp(struct datapath *dp, struct dp_iface *ifc, char *err, size_t errlen)
{
	int rc;

	if (ifc->old_xdp_id && !ifc->old_xdp_legacy) {
		/* Inside libxdp's dispatcher: there is no atomic swap of one
		 * component, so keep the running program (same maps). */
		ifc->xdp = xdp_program__from_id(ifc->old_xdp_id);
		rc = libxdp_get_error(ifc->xdp);
		if (rc) {
			ifc->xdp = NULL;
			set_err(err, errlen, "libxdp cannot open the running XDP program: %s",
				strerror(-rc));
			return -1;
		}
		ifc->xdp_attached = 1;
		return 0;
	}
	ifc->xdp = xdp_program__from_fd(bpf_program__fd(dp->lb->progs.dalio_lb));
	rc = libxdp_get_error(ifc->xdp);
	if (rc) {
		ifc->xdp = NULL;
		set_err(err, errlen, "libxdp cannot wrap the XDP program: %s", strerror(-rc));
		return -1;
	}
	if (ifc->old_xdp_id) {
		/* libxdp has no replace for a single program: swap it atomically
		 * with the kernel's XDP_FLAGS_REPLACE, which fails if the running
		 * program is no longer the one found at load. */
		int old_fd = bpf_prog_get_fd_by_id(ifc->old_xdp_id);
		LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = old_fd);
		__u32 flags = XDP_FLAGS_REPLACE |
			      (dp->mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		rc = old_fd < 0
			     ? -errno
			     : bpf_xdp_attach(ifc->ifindex, xdp_program__fd(ifc->xdp), flags, &xo);
		if (old_fd >= 0)
			close(old_fd);
		if (rc) {
			set_err(err, errlen,
				"cannot replace the running XDP program (id %u) on %s: %s",
				ifc->old_xdp_id, ifc->name, strerror(-rc));
			return -1;
		}
		ifc->xdp_attached = 1;
		return 0;
	}
	libbpf_quiet = 1;
	rc = xdp_program__attach(ifc->xdp, ifc->ifindex, dp->mode, 0);
	libbpf_quiet = 0;
	if (rc) {
		char buf[128];

		libxdp_strerror(rc, buf, sizeof(buf));
		set_err(err, errlen, "cannot attach XDP (%s mode) on %s: %s",
			dp->mode == XDP_MODE_SKB ? "skb" : "native", ifc->name, buf);
		return -1;
	}
	ifc->xdp_attached = 1;
	return 0;
}

/* lb_cfg, and in devmap mode one tx_ports entry (with the egress program) per
 * interface that has a replica behind it. */
static int program_forwarding(struct datapath *dp, char *err, size_t errlen)
{
	struct dalio_lb_cfg lc = {.fanout = (uint32_t)dp->fanout,
				  .client_ifindex = (uint32_t)dp->ifaces[0].ifindex};
	int egress = bpf_program__fd(dp->lb->progs.dalio_devmap_egress);
	struct ifreq ifr;
	uint32_t key = 0;
	int fd;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dp->ifaces[0].name);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		set_err(err, errlen, "no MAC address on %s: %s", dp->ifaces[0].name,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	memcpy(lc.client_mac, ifr.ifr_hwaddr.sa_data, sizeof(lc.client_mac));
	for (unsigned i = 0; i < dp->n_ifaces; i++) {
		struct bpf_devmap_val v = {.ifindex = (uint32_t)dp->ifaces[i].ifindex,
					   .bpf_prog.fd = egress};
		uint32_t k = v.ifindex;
		int rc = 0;

		if (dp->fanout == DALIO_FANOUT_DEVMAP && dp->ifaces[i].has_replica)
			rc = bpf_map_update_elem(bpf_map__fd(dp->lb->maps.tx_ports), &k, &v, 0);
		else
			bpf_map_delete_elem(bpf_map__fd(dp->lb->maps.tx_ports), &k);
		if (rc) {
			set_err(err, errlen, "cannot add %s to the devmap: %s", dp->ifaces[i].name,
				strerror(errno));
			return -1;
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(dp->lb->maps.lb_cfg), &key, &lc, 0)) {
		set_err(err, errlen, "cannot update lb_cfg: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int datapath_attach(struct datapath *dp, char *err, size_t errlen)
{
	if (program_forwarding(dp, err, errlen))
		return -1;
	/* Replica-facing interfaces first, lb.interface (where requests come
	 * in) last: each interface gets tc (tc mode) before XDP. */
	for (unsigned n = dp->n_ifaces; n-- > 0;) {
		struct dp_iface *ifc = &dp->ifaces[n];

		if (dp->fanout == DALIO_FANOUT_TC && attach_tc(dp, ifc, err, errlen))
			return -1;
		if (attach_xdp(dp, ifc, err, errlen))
			return -1;
	}
	if (dp->n_ifaces > 1) {
		char list[DALIO_MAX_IFACES * (IF_NAMESIZE + 1)];
		size_t o = 0;

		for (unsigned i = 1; i < dp->n_ifaces && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i > 1 ? " " : "",
					      dp->ifaces[i].name);
		log_info("multi-homed: replicas reached through %s; %s fan-out", list,
			 dp->fanout == DALIO_FANOUT_DEVMAP ? "devmap" : "tc");
	} else if (dp->fanout == DALIO_FANOUT_DEVMAP) {
		log_info("devmap fan-out through %s", dp->ifaces[0].name);
	}
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
	out->client_map = bpf_map__fd(dp->lb->maps.client_map);
	out->payload_slots = dp->payload_slots;
}

int datapath_adopted(const struct datapath *dp)
{
	return dp && dp->adopted;
}

unsigned datapath_replaced_xdp_id(const struct datapath *dp)
{
	return dp ? dp->replaced_xdp_id : 0;
}

void datapath_release(struct datapath *dp)
{
	if (!dp)
		return;
	for (unsigned i = 0; i < dp->n_ifaces; i++)
		dp->ifaces[i].xdp_attached = dp->ifaces[i].tc_attached = 0;
	datapath_destroy(dp, 0);
}

static void detach_iface(struct datapath *dp, struct dp_iface *ifc)
{
	if (ifc->xdp_attached)
		xdp_program__detach(ifc->xdp, ifc->ifindex, dp->mode, 0);
	if (ifc->xdp)
		xdp_program__close(ifc->xdp);
	if (ifc->tc_attached) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY);

		bpf_tc_detach(&hook, &tc);
		if (ifc->tc_hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
}

void datapath_destroy(struct datapath *dp, int unpin)
{
	if (!dp)
		return;
	/* lb.interface first: no new requests, then the replica-facing ones */
	for (unsigned i = 0; i < dp->n_ifaces; i++)
		detach_iface(dp, &dp->ifaces[i]);
	if (unpin && dp->pin_dir[0]) {
		char path[512];

		for (size_t i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, pinned_maps[i]);
			unlink(path);
		}
		rmdir(dp->pin_dir);
	}
	dalio_fanout__destroy(dp->fanout_skel);
	dalio_lb__destroy(dp->lb);
	free(dp);
}
