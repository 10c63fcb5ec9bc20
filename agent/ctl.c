/* SPDX-License-Identifier: MIT */
/*
 * dalio-ctl: operator's view of a running Dalio LB. `dalio-ctl status` prints
 * a per-shard table read straight from the pinned maps (so it works while
 * dalio-agent is down: the data path keeps serving without it) plus the replica
 * states the agent saves in its pinned agent_state map.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_state.h"
#include "lbstate.h"
#include "metrics_fmt.h"

#define DEFAULT_CONFIG "/etc/dalio/shards.yaml"
/* The agent saves its state every second: older than this, it is not running. */
#define STALE_MS 3000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: dalio-ctl [--config FILE] status\n"
		"\n"
		"Shows the state of the Dalio load balancer configured by FILE\n"
		"(default %s).\n"
		"\n"
		"Commands:\n"
		"  status   per shard: VIP, mode, serving or not, epoch, next sequence number,\n"
		"           highest completed one, pending writes, dirty-table buckets in use,\n"
		"           age of the oldest pending write; per replica: membership state,\n"
		"           applied sequence number, lag behind the completed writes, write/read\n"
		"           set, round trip\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   shards.yaml the agent runs with\n"
		"  -h, --help          this text\n"
		"\n"
		"Where the data comes from: the data path's numbers are read directly from the\n"
		"BPF maps pinned under <lb.pin_path>/<lb.interface>, so they are live even while\n"
		"dalio-agent is down. Replica states come from the agent_state map that\n"
		"dalio-agent saves there every second; the header says how old it is. Run as\n"
		"root, in the mount namespace where the agent pins its maps and (for the XDP\n"
		"line) the network namespace of lb.interface. The agent serves the same table\n"
		"at GET /status and Prometheus metrics at GET /metrics on lb.metrics.\n"
		"\n"
		"Exit status: 0 shown, 1 no state to show, 2 usage or configuration error.\n",
		DEFAULT_CONFIG);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Is the agent that saved age_ms ago as pid still running? It saves every
 * second, so an old save means no; else ask /proc (the pid may be reused) or,
 * without /proc, the kernel.
 */
static int agent_alive(int pid, int64_t age_ms)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (age_ms > STALE_MS || pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (f) {
		int ok = fgets(comm, sizeof(comm), f) != NULL;

		fclose(f);
		return ok && strncmp(comm, "dalio-agent", 11) == 0;
	}
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* One line on what XDP program, if any, runs on the interface. */
static void print_xdp(const char *ifname)
{
	unsigned ifindex = if_nametoindex(ifname);
	struct bpf_prog_info info;
	__u32 id = 0, len = sizeof(info);
	int fd;

	if (!ifindex) {
		printf("xdp:   interface %s is not in this network namespace\n", ifname);
		return;
	}
	if (bpf_xdp_query_id((int)ifindex, 0, &id) || !id) {
		printf("xdp:   no XDP program on %s: Dalio traffic is not served\n", ifname);
		return;
	}
	memset(&info, 0, sizeof(info));
	fd = bpf_prog_get_fd_by_id(id);
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		printf("xdp:   %s (id %u) on %s\n", info.name, id, ifname);
	else
		printf("xdp:   program id %u on %s\n", id, ifname);
	if (fd >= 0)
		close(fd);
}

static int status(const char *config)
{
	static struct agent a;
	static struct lb_shard_snap snap[DALIO_MAX_SHARDS];
	int ok[DALIO_MAX_SHARDS] = {0}, have_rt = 0, rc = 0;
	struct agent_state_shard rec;
	char err[1024], dir[256];
	struct metrics_view v;

	if (dalio_config_load(config, &a.cfg, err, sizeof(err))) {
		fprintf(stderr, "dalio-ctl: %s\n", err);
		return 2;
	}
	agent_pin_dir(&a.cfg, dir, sizeof(dir));
	if (lbstate_open_pinned(dir, &a.maps, err, sizeof(err))) {
		fprintf(stderr,
			"dalio-ctl: no Dalio maps under %s (%s): is dalio-agent running? (the "
			"directory is lb.pin_path/lb.interface of %s)\n",
			dir, strerror(errno), config);
		return 1;
	}
	printf("lb:    %s, maps in %s\n", a.cfg.interface, dir);
	print_xdp(a.cfg.interface);

	a.state_fd = agent_state_open_pinned(dir);
	if (a.state_fd < 0) {
		printf("agent: no saved agent state in %s (%s): replica states unknown\n", dir,
		       strerror(errno));
	} else if (agent_state_read(a.state_fd, a.cfg.shards[0].id, &rec) != 0) {
		printf("agent: has not saved its state yet: replica states unknown\n");
	} else {
		int64_t age = mono_ms() - rec.saved_ms;

		have_rt = agent_state_load(&a) > 0;
		if (agent_alive(rec.agent_pid, age))
			printf("agent: pid %d, state saved %.1f s ago\n", rec.agent_pid,
			       (double)age / 1000);
		else
			printf("agent: state saved %.1f s ago by pid %d: is dalio-agent running? "
			       "(the data path keeps serving without it; replica states below are "
			       "as last saved)\n",
			       (double)age / 1000, rec.agent_pid);
	}
	printf("\n");

	for (unsigned i = 0; i < a.cfg.n_shards; i++) {
		ok[i] = lbstate_read(&a.maps, &a.cfg.shards[i], &snap[i]) == 0;
		if (!ok[i]) {
			fprintf(stderr, "dalio-ctl: shard %u: cannot read the maps: %s\n",
				a.cfg.shards[i].id, strerror(errno));
			rc = 1;
		}
	}
	memset(&v, 0, sizeof(v));
	v.cfg = &a.cfg;
	v.rt = have_rt ? a.shards : NULL;
	v.snap = snap;
	v.snap_ok = ok;
	v.now_ms = mono_ms();
	if (status_format(stdout, &v) || fflush(stdout))
		rc = 1;
	if (a.state_fd >= 0)
		close(a.state_fd);
	lbstate_close(&a.maps);
	return rc;
}

/* libbpf's own messages would repeat what we say; keep its warnings only. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = DEFAULT_CONFIG;
	int c;

	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	libbpf_set_print(libbpf_log);
	if (optind == argc) {
		fprintf(stderr, "dalio-ctl: a command is needed (status)\n");
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "status") == 0 && optind + 1 == argc)
		return status(config);
	if (strcmp(argv[optind], "status") == 0)
		fprintf(stderr, "dalio-ctl: status takes no arguments\n");
	else
		fprintf(stderr, "dalio-ctl: unknown command '%s' (expected: status)\n",
			argv[optind]);
	usage(stderr);
	return 2;
}
