/* SPDX-License-Identifier: MIT */
/*
 * dalio-agent: the LB's control plane. Reads shards.yaml, loads and attaches
 * the XDP and tc programs, finds each shard's replicas and where their
 * sequence numbers stand, opens a new epoch, programs the maps, and keeps the
 * data path attached until SIGINT/SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "adopt.h"
#include "agent.h"
#include "agent_state.h"
#include "config.h"
#include "datapath.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "metrics.h"
#include "peer.h"
#include "probe.h"
#include "reload.h"
#include "retransmit.h"
#include "route.h"
#include "shardmap.h"
#include "vip.h"
#include "vr.h"

#define DEFAULT_WAIT_S 10
/* vr: how long the first probe waits for every replica before the view
 * change, which itself waits (up to --wait) only for f+1. */
#define VR_PROBE_MS 500
/* Exit status after SIGUSR2: the data path was left serving for the next
 * agent (dalio-agent.service restarts on it). */
#define EXIT_HANDOVER 75

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: dalio-agent --config FILE [options]\n"
		"\n"
		"Runs the Dalio replication coordinator on this load balancer: attaches the\n"
		"XDP/tc data path to lb.interface and serves every shard of FILE on its VIP.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   shards.yaml to serve (required)\n"
		"  -w, --wait SECONDS  how long to wait for replicas to answer at start (default "
		"%d)\n"
		"  -k, --keep-maps     leave the pinned maps in bpffs on exit (default: remove)\n"
		"  -s, --standby       start as the standby LB: attach the data path with no "
		"shard,\n"
		"                      take over when lb.peer goes silent (vr mode)\n"
		"  -v, --verbose       log libbpf/libxdp details and per-replica probing\n"
		"  -h, --help          this text\n"
		"\n"
		"Each shard's VIP must be assigned to this host (ip addr add VIP/32 dev IF);\n"
		"a --standby agent adds them itself when it takes over (lb.manage_vip).\n"
		"Stop with SIGINT or SIGTERM: the programs are detached and the maps unpinned.\n"
		"SIGUSR2 exits (status 75) leaving the data path serving; a new agent, like one\n"
		"restarted after SIGKILL or a crash, re-adopts the running programs and maps\n"
		"without a gap in traffic. Metrics: GET /metrics on lb.metrics.\n"
		"See docs/configuration.md and docs/operations.md.\n",
		DEFAULT_WAIT_S);
}

/* Set while libxdp probes for its dispatcher, whose expected failure on
 * kernels without freplace makes libbpf print load errors. */
int libbpf_quiet;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && !log_verbose)
		return 0;
	if (libbpf_quiet && !log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int libxdp_log(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	/* libxdp warns when it falls back from its dispatcher: that is expected
	 * on kernels without freplace, so only show it when asked. */
	(void)level;
	if (!log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * vr: always a new view (docs/vr.md): the maps are rebuilt from f+1 replicas'
 * logs, never re-adopted, then the view is installed and announced.
 */
static int bring_up_vr(const struct dalio_config *cfg, const struct dalio_shard_def *s,
		       const struct datapath_maps *maps, struct replica_probe *probes,
		       uint32_t min_view, int wait_ms)
{
	struct shard_plan plan = {0};
	struct vr_view v;
	char err[512];
	int n = 0;

	for (unsigned i = 0; i < s->n_replicas; i++)
		if (probes[i].answered)
			route_resolve_replica(cfg, s, i, &probes[i]);
	if (vr_view_change(s, maps, min_view, wait_ms, &v, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	plan.epoch = v.view;
	plan.applied = v.commit;
	for (unsigned i = 0; i < s->n_replicas; i++) {
		/* A recovering replica (V7) joins through membership's SYNC. */
		if (!probes[i].answered || !probes[i].have_mac || (v.recovering & (1u << i)))
			continue;
		plan.write_mask |= 1u << i;
		plan.read_mask |= 1u << i;
		n++;
	}
	if (shard_install(maps, s, probes, &plan, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	vr_start_view(s, &v);
	log_info("shard %u (%s), vr mode, view %u, next op %llu, commit %llu: %d of %u replicas "
		 "in the sets (quorum %u)",
		 s->id, s->name, v.view, (unsigned long long)v.head + 1,
		 (unsigned long long)v.commit, n, s->n_replicas, shard_quorum(s));
	return 0;
}

/* Finds the replicas, opens a new epoch on them, programs the shard. */
int agent_bring_up_shard(const struct dalio_config *cfg, const struct dalio_shard_def *s,
			 const struct datapath_maps *maps, int wait_ms)
{
	struct adopt_info ad;
	int adopted;
	struct replica_probe probes[DALIO_MAX_REPLICAS];
	struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};
	struct dalio_shard_cfg old;
	struct shard_plan plan;
	uint32_t epoch = 0;
	char err[512], vip[INET_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET, &s->vip, vip, sizeof(vip));
	/* vr needs f+1, not all: the view change waits for them. */
	n = probe_replicas(
		s, 0, s->mode == DALIO_MODE_VR && wait_ms > VR_PROBE_MS ? VR_PROBE_MS : wait_ms,
		probes, err, sizeof(err));
	if (n < 0) {
		log_error("shard %u (%s): %s", s->id, s->name, err);
		return -1;
	}
	for (unsigned i = 0; i < s->n_replicas; i++)
		if (probes[i].answered && probes[i].epoch > epoch)
			epoch = probes[i].epoch;
	if (bpf_map_lookup_elem(maps->vip_map, &vk, &old) == 0 && old.epoch > epoch)
		epoch = old.epoch;
	if (s->mode == DALIO_MODE_VR)
		return bring_up_vr(cfg, s, maps, probes, epoch, wait_ms);
	/* Live state in the maps (restart): keep its epoch, sets and sequencer. */
	adopted = adopt_lookup(maps, s, probes, &ad);
	if (adopted < 0) {
		log_error("shard %u: cannot read the BPF maps: %s", s->id, strerror(errno));
		return -1;
	}
	if (!adopted && ad.found)
		log_warn("shard %u (%s): not re-adopting the state in the maps: %s; new epoch",
			 s->id, s->name, ad.why);
	if (!adopted)
		epoch++;
	/* Announce the new epoch: replicas refuse anything older from now on. */
	if (n > 0) {
		struct replica_probe first[DALIO_MAX_REPLICAS];

		memcpy(first, probes, sizeof(first));
		n = probe_replicas(s, epoch, 2000, probes, err, sizeof(err));
		if (n < 0) {
			log_error("shard %u (%s): %s", s->id, s->name, err);
			return -1;
		}
		for (unsigned i = 0; i < s->n_replicas; i++)
			if (first[i].answered && !probes[i].answered)
				log_warn("shard %u: replica %s answered but did not take epoch %u",
					 s->id, s->replicas[i].addr, epoch);
	}
	for (unsigned i = 0; i < s->n_replicas; i++)
		if (probes[i].answered)
			route_resolve_replica(cfg, s, i, &probes[i]);
	n = adopted ? adopt_plan(s, probes, &ad, &plan) : shard_plan(s, probes, epoch, &plan);
	if (shard_install(maps, s, probes, &plan, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	if (adopted)
		log_info("shard %u (%s): re-adopted the live data path: epoch %u kept, next seq "
			 "%llu, %u write(s) in flight",
			 s->id, s->name, epoch, (unsigned long long)ad.next_seq, ad.in_flight);
	if (n == 0)
		log_warn("shard %u (%s): no usable replica: requests are answered NO_REPLICA",
			 s->id, s->name);
	log_info("shard %u (%s) on %s:%u, %s mode, epoch %u, next seq %llu: %d of %u replicas in "
		 "sync",
		 s->id, s->name, vip, s->port, s->mode == DALIO_MODE_VR ? "vr" : "pb", epoch,
		 (unsigned long long)(adopted ? ad.next_seq : plan.applied + 1), n, s->n_replicas);
	return 0;
}

static void save_state(void *arg, int64_t now_ms)
{
	(void)now_ms;
	if (agent_state_save(arg))
		log_warn("cannot save the agent state: %s", strerror(errno));
}

int agent_activate(struct agent *a, int wait_ms, char *err, size_t errlen)
{
	err[0] = '\0';
	for (unsigned i = 0; i < a->cfg.n_shards; i++)
		if (agent_bring_up_shard(&a->cfg, &a->cfg.shards[i], &a->maps, wait_ms))
			return -1; /* logged */
	if (!a->attached) {
		if (datapath_attach(a->dp, err, errlen))
			return -1;
		a->attached = 1;
		if (datapath_replaced_xdp_id(a->dp))
			log_info("replaced the running XDP program (id %u) and tc filter in place",
				 datapath_replaced_xdp_id(a->dp));
	}
	if (membership_init(a, err, errlen) || retransmit_init(a, err, errlen))
		return -1;
	/* Membership starts every replica afresh from the installed sets; the
	 * counters carry on from what the previous agent saved. */
	agent_state_restore_counters(a);
	agent_state_save(a);
	if (loop_add_timer(&a->loop, 1000, save_state, a)) {
		snprintf(err, errlen, "cannot add a timer: %s", strerror(errno));
		return -1;
	}
	a->active = 1;
	log_info("serving %u shard(s) on %s (%s XDP); pinned maps in %s/%s", a->cfg.n_shards,
		 a->cfg.interface, a->cfg.xdp_mode == DALIO_XDP_SKB ? "skb" : "native",
		 a->cfg.pin_path, a->cfg.interface);
	return 0;
}

uint32_t agent_highest_epoch(const struct agent *a)
{
	uint32_t e = 0;

	for (unsigned i = 0; i < a->cfg.n_shards; i++)
		if (!a->shards[i].removed && a->shards[i].epoch > e)
			e = a->shards[i].epoch;
	return e;
}

/* ---- LB failover (peer.h, docs/vr.md "LB failover") ---- */

static int takeover_wait_ms; /* --wait, for the shards' bring-up on takeover */
static int takeover_failed;

static uint32_t peer_epoch(void *arg)
{
	return agent_highest_epoch(arg);
}

/* The active LB went silent: VIPs, then the shards, then our own heartbeats. */
static void on_takeover(void *arg, int64_t silent_ms)
{
	struct agent *a = arg;
	char err[1024];

	(void)silent_ms;
	a->standby = 0;
	err[0] = '\0';
	if (a->cfg.manage_vip && vip_takeover(&a->cfg, err, sizeof(err)))
		goto fail;
	if (agent_activate(a, takeover_wait_ms, err, sizeof(err)))
		goto fail;
	if (peer_start_active()) {
		snprintf(err, sizeof(err), "cannot start the heartbeat timer: %s", strerror(errno));
		goto fail;
	}
	log_info("takeover done: this LB is now active");
	return;
fail:
	if (err[0])
		log_error("takeover failed: %s", err);
	else
		log_error("takeover failed");
	takeover_failed = 1;
	loop_stop(&a->loop);
}

/* Standby: the data path runs with no shard (vip_map empty: XDP passes
 * everything) until the takeover installs them. */
static int start_standby(struct agent *a, char *err, size_t errlen)
{
	for (unsigned i = 0; i < a->cfg.n_shards; i++) {
		const struct dalio_shard_def *s = &a->cfg.shards[i];
		struct dalio_vip_key vk = {.vip = s->vip, .port = htons(s->port)};

		if (bpf_map_delete_elem(a->maps.vip_map, &vk) == 0)
			log_warn("standby: shard %u (%s) was installed in the pinned maps: removed "
				 "until takeover",
				 s->id, s->name);
	}
	if (datapath_attach(a->dp, err, errlen))
		return -1;
	a->attached = 1;
	if (peer_start_standby()) {
		snprintf(err, errlen, "cannot add the standby timer: %s", strerror(errno));
		return -1;
	}
	log_info("standby: data path attached to %s with no shard (everything passes); %u "
		 "shard(s) to serve on takeover",
		 a->cfg.interface, a->cfg.n_shards);
	return 0;
}

static void on_signal(void *arg, int fd)
{
	struct agent *a = arg;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		if (a->standby) {
			log_info("SIGHUP: standby: the configuration is read at takeover; restart "
				 "the agent to change it");
			return;
		}
		agent_reload(a);
		return;
	}
	if (si.ssi_signo == SIGUSR2) {
		log_info("SIGUSR2: exiting, leaving the data path serving for the next agent");
		a->handover = 1;
		loop_stop(&a->loop);
		return;
	}
	log_info("%s: detaching", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	loop_stop(&a->loop);
}

/* Parses the command line into a; returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct agent *a, int *wait_s)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"wait", required_argument, NULL, 'w'},
		{"keep-maps", no_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"standby", no_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:w:kvhs", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c':
			a->config_path = optarg;
			break;
		case 'w':
			errno = 0;
			*wait_s = (int)strtol(optarg, &end, 10);
			if (errno || *end || *wait_s < 0 || *wait_s > 3600) {
				fprintf(stderr,
					"dalio-agent: --wait: expected 0-3600 seconds, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'k':
			a->keep_maps = 1;
			break;
		case 'v':
			log_verbose = 1;
			break;
		case 's':
			a->standby = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!a->config_path || optind != argc) {
		fprintf(stderr, "dalio-agent: %s\n",
			a->config_path ? "unexpected arguments" : "--config FILE is required");
		usage(stderr);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static struct agent a;
	int wait_s = DEFAULT_WAIT_S, rc, sfd;
	char err[1024];
	sigset_t set;

	rc = parse_args(argc, argv, &a, &wait_s);
	if (rc >= 0)
		return rc;
	if (dalio_config_load(a.config_path, &a.cfg, err, sizeof(err))) {
		fprintf(stderr, "dalio-agent: %s\n", err);
		return 2;
	}
	if (a.standby && !a.cfg.peer_ip) {
		fprintf(stderr,
			"dalio-agent: --standby needs lb.peer (the active LB's IP:PORT) in %s: "
			"without it there is nothing to watch and nobody to take over from\n",
			a.config_path);
		return 2;
	}
	takeover_wait_ms = wait_s * 1000;
	libbpf_set_print(libbpf_log);
	libxdp_set_print(libxdp_log);

	/* Signals arrive as events of the loop, through a signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0 || loop_init(&a.loop) || loop_add_fd(&a.loop, sfd, on_signal, &a)) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return 1;
	}

	rc = 1;
	a.state_fd = -1;
	/* Before touching the data path: a busy metrics port fails the start. */
	if (metrics_start(&a, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (a.cfg.peer_ip &&
	    peer_init(&a.loop, &a.cfg, peer_epoch, on_takeover, &a, err, sizeof(err))) {
		log_error("%s", err);
		metrics_stop(&a);
		return 1;
	}
	a.dp = datapath_load(&a.cfg, err, sizeof(err));
	if (!a.dp) {
		log_error("%s", err);
		return 1;
	}
	datapath_maps(a.dp, &a.maps);
	if (agent_state_open(&a, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	if (datapath_adopted(a.dp))
		log_info("found %s in %s/%s: re-adopting it (%d shard(s) with saved agent state)",
			 datapath_replaced_xdp_id(a.dp) ? "a running data path"
							: "pinned maps (no program attached)",
			 a.cfg.pin_path, a.cfg.interface, agent_state_load(&a));
	if (a.standby ? start_standby(&a, err, sizeof(err))
		      : agent_activate(&a, wait_s * 1000, err, sizeof(err))) {
		if (err[0])
			log_error("%s", err);
		goto out;
	}
	if (!a.standby && a.cfg.peer_ip && peer_start_active()) {
		log_error("cannot start the LB heartbeat timer: %s", strerror(errno));
		goto out;
	}
	if (loop_run(&a.loop)) {
		log_error("event loop: %s", strerror(errno));
		goto out;
	}
	rc = takeover_failed ? 1 : a.handover ? EXIT_HANDOVER : 0;
out:
	peer_close();
	retransmit_close(&a);
	if (!a.standby)
		agent_state_save(&a);
	agent_state_close(&a);
	metrics_stop(&a);
	if (a.handover || (rc && datapath_adopted(a.dp))) {
		/* Hand-over, or a failed restart: the data path keeps serving. */
		if (rc && !a.handover)
			log_warn("leaving the running data path attached and its maps pinned");
		datapath_release(a.dp);
	} else {
		datapath_destroy(a.dp, !a.keep_maps);
		vip_release(&a.cfg); /* only the VIPs a takeover added */
	}
	loop_close(&a.loop);
	close(sfd);
	return rc;
}
