/* SPDX-License-Identifier: MIT */
/*
 * dalio-netem: a test-only network impairment shim for kernels without netem.
 *
 * It creates a TUN device in its network namespace, loads fault_tun.bpf.c and
 * attaches it to clsact ingress and/or egress of --dev. That program
 * redirects the UDP packets of the configured ports into the TUN device, so
 * dalio-netem read()s them as raw IPv4 packets. Each packet is then lost
 * (--loss), duplicated (--dup), held for a uniformly random delay (--delay,
 * which reorders packets whose delays overlap) and possibly held longer still
 * (--reorder), in a bounded queue ordered by release time, and finally
 * written back to the TUN fd. It arrives as ingress on the TUN device:
 *
 *  - inbound packets (to an address of --dev) are delivered to the local
 *    socket from there (rp_filter 0 on the TUN device);
 *  - outbound packets are forwarded out of --dev (ip_forward 1, accept_local
 *    on the TUN device because their source is a local address); they pass
 *    the tc program again with ingress_ifindex == the TUN's, and it lets them
 *    through.
 *
 * dalio-netem sets those sysctls in its own namespace. The PRNG is seeded
 * (--seed, printed at start) so a profile's decisions can be replayed.
 * Counters go to stderr on exit (SIGTERM, SIGINT) and on SIGUSR1. On exit the
 * tc filters are detached and every queued packet is sent at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fault_tun.skel.h"

#define MAX_RANGES   4 /* FAULT_TUN_RANGES in fault_tun.bpf.c */
#define MAX_ADDRS    16
#define SLOT_BYTES   2048 /* largest packet kept; bigger ones pass at once */
#define READ_BATCH   256  /* reads per wake-up, so releases are not starved */
#define TC_PRIORITY  7
#define TC_HANDLE    0xda1
#define TUN_TXQUEUE  10000
#define DEFAULT_QLEN 8192

#define log_msg(...) fprintf(stderr, "dalio-netem: " __VA_ARGS__)

enum dir { DIR_IN, DIR_OUT, NDIR };
static const char *const dir_name[NDIR] = {"in", "out"};

/* X(name, description) per direction. */
#define DIR_COUNTERS(X)                                                                            \
	X(read, "packets read from the TUN device")                                                \
	X(lost, "dropped by --loss")                                                               \
	X(duplicated, "extra copies made by --dup")                                                \
	X(held, "copies held by --reorder")                                                        \
	X(written, "packets written back")                                                         \
	X(overtaken, "written after a packet that was read later (reordered)")                     \
	X(queue_full, "dropped: queue full")

struct dir_stats {
#define FIELD(name, desc) uint64_t name;
	DIR_COUNTERS(FIELD)
#undef FIELD
};

struct profile {
	double loss, dup, reorder; /* probabilities 0..1 */
	uint64_t delay_min_ns, delay_max_ns, reorder_ns;
};

struct slot {
	uint16_t len;
	uint8_t dir;
	uint64_t idx; /* arrival number in its direction */
	uint8_t data[SLOT_BYTES];
};

struct entry { /* heap entry: release time, then arrival order */
	uint64_t at_ns;
	uint64_t order;
	uint32_t slot;
};

static struct {
	const char *dev;
	char tun[IFNAMSIZ];
	int ranges;
	uint16_t lo[MAX_RANGES], hi[MAX_RANGES];
	int hook_in, hook_out;
	struct profile p;
	uint32_t qlen;
	uint64_t seed;
	int have_seed;
} cfg;

static struct {
	int tun_fd;
	int tun_ifindex, dev_ifindex;
	uint32_t addrs[MAX_ADDRS]; /* of --dev, network order */
	int naddrs;
	struct fault_tun *skel;
	int attached_in, attached_out;
	uint64_t rng;
	struct slot *slots;
	uint32_t *free_slots;
	uint32_t nfree;
	struct entry *heap;
	uint32_t nheap, max_heap;
	uint64_t order;
	uint64_t next_idx[NDIR], max_written_idx[NDIR];
	struct dir_stats st[NDIR];
	uint64_t not_ipv4, oversize, write_errors;
} g;

static volatile sig_atomic_t stop_sig, dump_sig;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_sig = 1;
	else
		stop_sig = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: seedable, good enough for test decisions. */
static uint64_t rng_next(void)
{
	uint64_t z = (g.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dalio-netem --dev IFACE [--tun NAME] [--ports LIST] [--direction "
		"both|in|out]\n"
		"                   [--loss PCT] [--dup PCT] [--delay MIN_MS-MAX_MS]\n"
		"                   [--reorder PCT] [--reorder-delay MS] [--queue N] [--seed N]\n"
		"\n"
		"Test-only packet impairment without netem: steers the UDP packets of LIST\n"
		"through a TUN device (tc BPF on IFACE) and writes them back after the profile.\n"
		"Runs until SIGTERM/SIGINT; counters go to stderr on exit and on SIGUSR1.\n"
		"\n"
		"  --dev IFACE          interface whose traffic is impaired (in this namespace)\n"
		"  --tun NAME           TUN device to create (default dnetem0)\n"
		"  --ports LIST         up to %d UDP ports or ranges matched as source or\n"
		"                       destination (default 7379,7400-7401)\n"
		"  --direction D        both (default), in (ingress of IFACE) or out (egress)\n"
		"  --loss PCT           drop PCT %% of the packets (0..100, decimals allowed)\n"
		"  --dup PCT            send PCT %% of the packets twice (the copy gets its own\n"
		"                       delay)\n"
		"  --delay MIN-MAX      hold each copy a uniformly random MIN..MAX ms\n"
		"                       (decimals allowed; copies whose delays overlap reorder)\n"
		"  --reorder PCT        hold PCT %% of the copies --reorder-delay ms longer, so\n"
		"                       the packets behind them overtake them\n"
		"  --reorder-delay MS   extra hold of --reorder (default 2)\n"
		"  --queue N            packets held at most (default %d); more are dropped\n"
		"  --seed N             PRNG seed (default: from the clock; printed)\n"
		"  --help               this text\n",
		MAX_RANGES, DEFAULT_QLEN);
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || !(*out >= min && *out <= max) ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

static int parse_ports(const char *arg)
{
	char buf[128], *save = NULL, *tok, *dash;
	uint64_t lo, hi;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	cfg.ranges = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (cfg.ranges == MAX_RANGES)
			return -1;
		dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (parse_u64(tok, 65535, &lo) || lo == 0)
			return -1;
		hi = lo;
		if (dash && (parse_u64(dash + 1, 65535, &hi) || hi < lo))
			return -1;
		cfg.lo[cfg.ranges] = (uint16_t)lo;
		cfg.hi[cfg.ranges] = (uint16_t)hi;
		cfg.ranges++;
	}
	return cfg.ranges ? 0 : -1;
}

static int parse_delay(const char *arg)
{
	char buf[64], *dash;
	double lo, hi;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_double(buf, 0, 10000, &lo))
		return -1;
	hi = lo;
	if (dash && (parse_double(dash + 1, 0, 10000, &hi) || hi < lo))
		return -1;
	cfg.p.delay_min_ns = (uint64_t)(lo * 1e6);
	cfg.p.delay_max_ns = (uint64_t)(hi * 1e6);
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dev", required_argument, NULL, 'd'},
		{"tun", required_argument, NULL, 't'},
		{"ports", required_argument, NULL, 'p'},
		{"direction", required_argument, NULL, 'D'},
		{"loss", required_argument, NULL, 'l'},
		{"dup", required_argument, NULL, 'u'},
		{"delay", required_argument, NULL, 'y'},
		{"reorder", required_argument, NULL, 'r'},
		{"reorder-delay", required_argument, NULL, 'R'},
		{"queue", required_argument, NULL, 'q'},
		{"seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	double d;
	uint64_t v;
	int o;

	strcpy(cfg.tun, "dnetem0");
	parse_ports("7379,7400-7401");
	cfg.hook_in = cfg.hook_out = 1;
	cfg.qlen = DEFAULT_QLEN;
	cfg.p.reorder_ns = 2000000;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			cfg.dev = optarg;
			break;
		case 't':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ) {
				log_msg("--tun: expected an interface name of 1..%d characters, "
					"got '%s'\n",
					IFNAMSIZ - 1, optarg);
				return -1;
			}
			strcpy(cfg.tun, optarg);
			break;
		case 'p':
			if (parse_ports(optarg)) {
				log_msg("--ports: expected up to %d ports or LO-HI ranges "
					"separated by commas, got '%s'\n",
					MAX_RANGES, optarg);
				return -1;
			}
			break;
		case 'D':
			if (!strcmp(optarg, "both"))
				cfg.hook_in = cfg.hook_out = 1;
			else if (!strcmp(optarg, "in"))
				cfg.hook_in = 1, cfg.hook_out = 0;
			else if (!strcmp(optarg, "out"))
				cfg.hook_in = 0, cfg.hook_out = 1;
			else {
				log_msg("--direction: expected both, in or out, got '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'l':
		case 'u':
		case 'r':
			if (parse_double(optarg, 0, 100, &d)) {
				log_msg("--%s: expected a percentage 0..100, got '%s'\n",
					o == 'l'   ? "loss"
					: o == 'u' ? "dup"
						   : "reorder",
					optarg);
				return -1;
			}
			*(o == 'l'   ? &cfg.p.loss
			  : o == 'u' ? &cfg.p.dup
				     : &cfg.p.reorder) = d / 100;
			break;
		case 'y':
			if (parse_delay(optarg)) {
				log_msg("--delay: expected MIN_MS-MAX_MS (0..10000, MIN <= MAX), "
					"got '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'R':
			if (parse_double(optarg, 0, 10000, &d)) {
				log_msg("--reorder-delay: expected 0..10000 ms, got '%s'\n",
					optarg);
				return -1;
			}
			cfg.p.reorder_ns = (uint64_t)(d * 1e6);
			break;
		case 'q':
			if (parse_u64(optarg, 1 << 20, &v) || v == 0) {
				log_msg("--queue: expected 1..%d packets, got '%s'\n", 1 << 20,
					optarg);
				return -1;
			}
			cfg.qlen = (uint32_t)v;
			break;
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &v)) {
				log_msg("--seed: expected an unsigned integer, got '%s'\n", optarg);
				return -1;
			}
			cfg.seed = v;
			cfg.have_seed = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		log_msg("unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!cfg.dev) {
		log_msg("missing --dev (see --help)\n");
		return -1;
	}
	return 0;
}

/* ---- set-up ------------------------------------------------------------ */

static int write_sysctl(const char *path, const char *value, int optional)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		if (optional)
			return 0;
		log_msg("cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = write(fd, value, strlen(value));
	close(fd);
	if (n != (ssize_t)strlen(value)) {
		log_msg("cannot write %s to %s: %s\n", value, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int read_sysctl_int(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* The kernel settings that let written-back packets reach their destination. */
static int set_sysctls(void)
{
	char path[128];

	/* The effective rp_filter is max(all, dev): all must be 0 as well. */
	if (read_sysctl_int("/proc/sys/net/ipv4/conf/all/rp_filter") != 0) {
		log_msg("setting net.ipv4.conf.all.rp_filter = 0 in this namespace\n");
		if (write_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0", 0))
			return -1;
	}
	if (write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", 0))
		return -1;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", cfg.tun);
	if (write_sysctl(path, "0", 0))
		return -1;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local", cfg.tun);
	if (write_sysctl(path, "1", 0))
		return -1;
	/* No IPv6 chatter (router solicitations) on the TUN device. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", cfg.tun);
	return write_sysctl(path, "1", 1);
}

static int tun_open(void)
{
	struct ifreq ifr;
	int fd, sock, ret = -1;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		log_msg("cannot open /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strcpy(ifr.ifr_name, cfg.tun);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		log_msg("cannot create TUN device %s: %s\n", cfg.tun, strerror(errno));
		close(fd);
		return -1;
	}
	g.tun_fd = fd;
	g.tun_ifindex = (int)if_nametoindex(cfg.tun);
	if (set_sysctls())
		return -1;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		log_msg("socket: %s\n", strerror(errno));
		return -1;
	}
	/* The redirect enqueues on the TUN's queue: make room for bursts. */
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, cfg.tun);
	ifr.ifr_qlen = TUN_TXQUEUE;
	if (ioctl(sock, SIOCSIFTXQLEN, &ifr))
		log_msg("warning: cannot set the txqueuelen of %s: %s\n", cfg.tun, strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, cfg.tun);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sock, SIOCSIFFLAGS, &ifr) == 0)
			ret = 0;
	}
	if (ret)
		log_msg("cannot bring %s up: %s\n", cfg.tun, strerror(errno));
	close(sock);
	return ret;
}

static int dev_addrs(void)
{
	struct ifaddrs *ifa, *i;

	g.dev_ifindex = (int)if_nametoindex(cfg.dev);
	if (!g.dev_ifindex) {
		log_msg("--dev %s: no such interface in this namespace\n", cfg.dev);
		return -1;
	}
	if (getifaddrs(&ifa)) {
		log_msg("getifaddrs: %s\n", strerror(errno));
		return -1;
	}
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, cfg.dev) && g.naddrs < MAX_ADDRS)
			g.addrs[g.naddrs++] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return 0;
}

static int tc_attach(enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = g.dev_ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY,
		    .prog_fd = bpf_program__fd(g.skel->progs.fault_tun));
	int rc = bpf_tc_hook_create(&hook);

	/* An existing clsact qdisc (another test's filters) is fine; it stays. */
	if (rc && rc != -EEXIST) {
		log_msg("cannot create clsact on %s: %s\n", cfg.dev, strerror(-rc));
		return -1;
	}
	rc = bpf_tc_attach(&hook, &tc);
	if (rc) {
		log_msg("cannot attach to %s %s: %s\n", cfg.dev,
			where == BPF_TC_INGRESS ? "ingress" : "egress", strerror(-rc));
		return -1;
	}
	return 0;
}

static void tc_detach(enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = g.dev_ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TC_HANDLE, .priority = TC_PRIORITY);

	bpf_tc_detach(&hook, &tc);
}

static int bpf_setup(void)
{
	g.skel = fault_tun__open();
	if (!g.skel) {
		log_msg("cannot open the fault_tun BPF object: %s\n", strerror(errno));
		return -1;
	}
	g.skel->rodata->tun_ifindex = (__u32)g.tun_ifindex;
	g.skel->rodata->nranges = (__u32)cfg.ranges;
	for (int i = 0; i < cfg.ranges; i++) {
		g.skel->rodata->port_lo[i] = cfg.lo[i];
		g.skel->rodata->port_hi[i] = cfg.hi[i];
	}
	if (fault_tun__load(g.skel)) {
		log_msg("cannot load the fault_tun BPF program: %s\n", strerror(errno));
		return -1;
	}
	if (cfg.hook_in) {
		if (tc_attach(BPF_TC_INGRESS))
			return -1;
		g.attached_in = 1;
	}
	if (cfg.hook_out) {
		if (tc_attach(BPF_TC_EGRESS))
			return -1;
		g.attached_out = 1;
	}
	return 0;
}

static void bpf_teardown(void)
{
	if (g.attached_in)
		tc_detach(BPF_TC_INGRESS);
	if (g.attached_out)
		tc_detach(BPF_TC_EGRESS);
	g.attached_in = g.attached_out = 0;
}

static int alloc_queue(void)
{
	g.slots = calloc(cfg.qlen, sizeof(*g.slots));
	g.free_slots = calloc(cfg.qlen, sizeof(*g.free_slots));
	g.heap = calloc(cfg.qlen, sizeof(*g.heap));
	if (!g.slots || !g.free_slots || !g.heap) {
		log_msg("out of memory for a queue of %" PRIu32 " packets\n", cfg.qlen);
		return -1;
	}
	for (uint32_t i = 0; i < cfg.qlen; i++)
		g.free_slots[i] = cfg.qlen - 1 - i;
	g.nfree = cfg.qlen;
	return 0;
}

/* ---- the queue: a binary min-heap on (release time, arrival order) ------ */

static int entry_before(const struct entry *a, const struct entry *b)
{
	return a->at_ns < b->at_ns || (a->at_ns == b->at_ns && a->order < b->order);
}

static void heap_push(struct entry e)
{
	uint32_t i = g.nheap++;

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!entry_before(&e, &g.heap[parent]))
			break;
		g.heap[i] = g.heap[parent];
		i = parent;
	}
	g.heap[i] = e;
	if (g.nheap > g.max_heap)
		g.max_heap = g.nheap;
}

static struct entry heap_pop(void)
{
	struct entry top = g.heap[0], last = g.heap[--g.nheap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= g.nheap)
			break;
		if (c + 1 < g.nheap && entry_before(&g.heap[c + 1], &g.heap[c]))
			c++;
		if (!entry_before(&g.heap[c], &last))
			break;
		g.heap[i] = g.heap[c];
		i = c;
	}
	if (g.nheap)
		g.heap[i] = last;
	return top;
}

/* ---- packets ----------------------------------------------------------- */

static enum dir classify(const uint8_t *pkt)
{
	uint32_t daddr;

	memcpy(&daddr, pkt + offsetof(struct iphdr, daddr), sizeof(daddr));
	for (int i = 0; i < g.naddrs; i++)
		if (g.addrs[i] == daddr)
			return DIR_IN;
	return DIR_OUT;
}

static void emit(const uint8_t *data, size_t len, enum dir d, uint64_t idx)
{
	if (write(g.tun_fd, data, len) != (ssize_t)len) {
		g.write_errors++;
		return;
	}
	g.st[d].written++;
	if (idx < g.max_written_idx[d])
		g.st[d].overtaken++;
	else
		g.max_written_idx[d] = idx;
}

static uint64_t pick_delay(void)
{
	uint64_t span = cfg.p.delay_max_ns - cfg.p.delay_min_ns;

	return cfg.p.delay_min_ns + (span ? (uint64_t)(rng_unit() * (double)(span + 1)) : 0);
}

/* One copy of a packet: straight back out, or into the queue. */
static void schedule(const uint8_t *data, size_t len, enum dir d, uint64_t idx, uint64_t now)
{
	uint64_t at = now + pick_delay();
	uint32_t si;
	struct slot *s;

	if (cfg.p.reorder > 0 && rng_unit() < cfg.p.reorder) {
		at += cfg.p.reorder_ns;
		g.st[d].held++;
	}
	/* Nothing held and nothing to wait for: keep the fast path. */
	if (at <= now && g.nheap == 0) {
		emit(data, len, d, idx);
		return;
	}
	if (!g.nfree) {
		g.st[d].queue_full++;
		return;
	}
	si = g.free_slots[--g.nfree];
	s = &g.slots[si];
	memcpy(s->data, data, len);
	s->len = (uint16_t)len;
	s->dir = (uint8_t)d;
	s->idx = idx;
	heap_push((struct entry){.at_ns = at, .order = g.order++, .slot = si});
}

static void handle_packet(const uint8_t *data, size_t len, uint64_t now)
{
	enum dir d;
	uint64_t idx;
	int copies = 1;

	if (len < sizeof(struct iphdr) || (data[0] >> 4) != 4) {
		g.not_ipv4++;
		return;
	}
	d = classify(data);
	idx = g.next_idx[d]++;
	g.st[d].read++;
	if (len > SLOT_BYTES) { /* cannot be held: pass it unimpaired */
		g.oversize++;
		emit(data, len, d, idx);
		return;
	}
	if (cfg.p.loss > 0 && rng_unit() < cfg.p.loss) {
		g.st[d].lost++;
		return;
	}
	if (cfg.p.dup > 0 && rng_unit() < cfg.p.dup) {
		g.st[d].duplicated++;
		copies = 2;
	}
	for (int i = 0; i < copies; i++)
		schedule(data, len, d, idx, now);
}

/* Writes every queued packet due by `until`. */
static void release(uint64_t until)
{
	while (g.nheap && g.heap[0].at_ns <= until) {
		struct entry e = heap_pop();
		struct slot *s = &g.slots[e.slot];

		emit(s->data, s->len, (enum dir)s->dir, s->idx);
		g.free_slots[g.nfree++] = e.slot;
	}
}

/* Reads what the TUN device holds, at most READ_BATCH packets. Returns -1 on
 * a fatal error. */
static int read_batch(void)
{
	static uint8_t buf[65536];

	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = read(g.tun_fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			log_msg("read %s: %s\n", cfg.tun, strerror(errno));
			return -1;
		}
		handle_packet(buf, (size_t)n, now_ns());
	}
	return 0;
}

static void print_stats(void)
{
	uint64_t bpf[2] = {0, 0};
	int ncpu = libbpf_num_possible_cpus();

	if (g.skel && ncpu > 0) {
		uint64_t *v = calloc((size_t)ncpu, sizeof(*v));

		for (uint32_t k = 0; v && k < 2; k++)
			if (!bpf_map__lookup_elem(g.skel->maps.fault_tun_stats, &k, sizeof(k), v,
						  sizeof(*v) * (size_t)ncpu, 0))
				for (int c = 0; c < ncpu; c++)
					bpf[k] += v[c];
		free(v);
	}
	log_msg("dev %s tun %s: loss %.2f%% dup %.2f%% delay %.3f-%.3f ms reorder %.2f%% "
		"(+%.3f ms) seed %" PRIu64 "\n",
		cfg.dev, cfg.tun, cfg.p.loss * 100, cfg.p.dup * 100, cfg.p.delay_min_ns / 1e6,
		cfg.p.delay_max_ns / 1e6, cfg.p.reorder * 100, cfg.p.reorder_ns / 1e6, cfg.seed);
	for (int d = 0; d < NDIR; d++) {
		char n[32];

#define PRINT(name, desc)                                                                          \
	snprintf(n, sizeof(n), "%s_%s", dir_name[d], #name);                                       \
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", n, g.st[d].name, desc);
		DIR_COUNTERS(PRINT)
#undef PRINT
	}
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "steered", bpf[0],
		"packets the tc program redirected into the TUN device");
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "passed_back", bpf[1],
		"written-back packets the tc program let out");
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "queued_max", (uint64_t)g.max_heap,
		"most packets held at once");
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "queued_now", (uint64_t)g.nheap,
		"packets held now");
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "oversize", g.oversize,
		"packets too big to hold, passed at once");
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "not_ipv4", g.not_ipv4,
		"non-IPv4 packets read and dropped");
	fprintf(stderr, "  %-16s %12" PRIu64 "  %s\n", "write_errors", g.write_errors,
		"packets the TUN device refused");
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* bpf_tc_hook_create on an existing clsact is expected (-EEXIST). */
	if (level != LIBBPF_WARN || strstr(fmt, "Kernel error message"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, orig;
	int rc = 1;

	if (parse_args(argc, argv))
		return 2;
	g.tun_fd = -1;
	if (!cfg.have_seed)
		cfg.seed = now_ns() ^ ((uint64_t)getpid() << 32);
	g.rng = cfg.seed;
	libbpf_set_print(libbpf_quiet);
	/* Delays are a few ms: ask for timer wake-ups without the 50 us slack. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* Signals are only taken inside ppoll, so none is missed between checks. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &orig);

	if (alloc_queue() || dev_addrs() || tun_open() || bpf_setup())
		goto out;
	log_msg("ready: dev %s (ifindex %d) -> tun %s (ifindex %d), seed %" PRIu64 "\n", cfg.dev,
		g.dev_ifindex, cfg.tun, g.tun_ifindex, cfg.seed);
	rc = 0;
	while (!stop_sig) {
		struct pollfd pfd = {.fd = g.tun_fd, .events = POLLIN};
		struct timespec ts, *tsp = NULL;
		uint64_t now = now_ns();
		int n;

		release(now);
		if (g.nheap) {
			uint64_t wait = g.heap[0].at_ns > now ? g.heap[0].at_ns - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000000ull);
			ts.tv_nsec = (long)(wait % 1000000000ull);
			tsp = &ts;
		}
		n = ppoll(&pfd, 1, tsp, &orig);
		if (n < 0 && errno != EINTR) {
			log_msg("ppoll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (dump_sig) {
			dump_sig = 0;
			print_stats();
		}
		if (n > 0 && (pfd.revents & POLLIN) && read_batch()) {
			rc = 1;
			break;
		}
	}
	/* Nothing new is steered after the detach; flush what was. */
	bpf_teardown();
	for (int i = 0; i < 64 && read_batch() == 0; i++) {
		struct pollfd pfd = {.fd = g.tun_fd, .events = POLLIN};

		if (poll(&pfd, 1, 0) <= 0)
			break;
	}
	release(UINT64_MAX);
	if (stop_sig)
		log_msg("stopping on signal %d\n", (int)stop_sig);
	print_stats();
out:
	bpf_teardown();
	fault_tun__destroy(g.skel);
	if (g.tun_fd >= 0)
		close(g.tun_fd);
	free(g.slots);
	free(g.free_slots);
	free(g.heap);
	return rc;
}
