/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of dalio-agent's configuration parser (agent/config.c): the
 * example shards.yaml loads with every field right, valid variants get their
 * defaults, and each bad input is refused with the exact
 * "<file>:<line>:<col>: <field path>: <message>". Run from the repo root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "config.h"

#define EXAMPLE "shards.yaml"
#define CONFIGS "test/unit/configs/"
#define D10	"0123456789"
#define D50	D10 D10 D10 D10 D10

static struct dalio_config cfg;
static char err[512];

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void parse_ok(const char *yaml)
{
	int rc = dalio_config_parse_string(yaml, "ok.yaml", &cfg, err, sizeof(err));

	if (rc)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
}

static void check_replica(const struct dalio_shard_def *s, unsigned i, const char *addr,
			  const char *ipstr, uint16_t port, int line)
{
	assert_true(i < s->n_replicas);
	assert_string_equal(s->replicas[i].addr, addr);
	assert_int_equal(s->replicas[i].ip, ip(ipstr));
	assert_int_equal(s->replicas[i].port, port);
	assert_int_equal(s->replicas[i].line, line);
}

/* ---- the example ---- */

static void test_example(void **state)
{
	const struct dalio_shard_def *s;

	(void)state;
	if (dalio_config_load(EXAMPLE, &cfg, err, sizeof(err)))
		print_error("%s\n", err);
	assert_string_equal(err, "");
	assert_string_equal(cfg.path, EXAMPLE);
	assert_string_equal(cfg.interface, "lb0");
	assert_int_equal(cfg.xdp_mode, DALIO_XDP_NATIVE);
	assert_string_equal(cfg.pin_path, "/sys/fs/bpf/dalio");
	assert_int_equal(cfg.heartbeat_ms, 50);
	assert_int_equal(cfg.metrics_ip, ip("127.0.0.1"));
	assert_int_equal(cfg.metrics_port, 9464);
	assert_int_equal(cfg.n_shards, 2);

	s = &cfg.shards[0];
	assert_int_equal(s->id, 0);
	assert_string_equal(s->name, "users");
	assert_int_equal(s->vip, ip("10.77.0.100"));
	assert_int_equal(s->port, 7379);
	assert_int_equal(s->mode, DALIO_MODE_PB);
	assert_int_equal(s->line, 15);
	assert_int_equal(s->n_replicas, 3);
	check_replica(s, 0, "10.77.0.11:7400", "10.77.0.11", 7400, 20);
	check_replica(s, 1, "10.77.0.12:7400", "10.77.0.12", 7400, 20);
	check_replica(s, 2, "10.77.0.13:7400", "10.77.0.13", 7400, 20);

	s = &cfg.shards[1];
	assert_int_equal(s->id, 1);
	assert_string_equal(s->name, "sessions");
	assert_int_equal(s->vip, ip("10.77.0.101"));
	assert_int_equal(s->port, 7379);
	assert_int_equal(s->mode, DALIO_MODE_PB);
	assert_int_equal(s->line, 21);
	assert_int_equal(s->n_replicas, 3);
	check_replica(s, 0, "10.77.0.11:7401", "10.77.0.11", 7401, 26);
	check_replica(s, 1, "10.77.0.12:7401", "10.77.0.12", 7401, 26);
	check_replica(s, 2, "10.77.0.13:7401", "10.77.0.13", 7401, 26);
}

/* Every prefix of the example parses or fails with a located message, never crashes. */
static void test_example_prefixes(void **state)
{
	static char buf[1 << 16];
	size_t len, i;
	FILE *f;

	(void)state;
	f = fopen(EXAMPLE, "r");
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_true(len > 100);
	for (i = 0; i <= len; i++) {
		char saved = buf[i];

		buf[i] = '\0';
		if (dalio_config_parse_string(buf, "cut.yaml", &cfg, err, sizeof(err)) == 0)
			assert_in_range(cfg.n_shards, 1, 2);
		else
			assert_memory_equal(err, "cut.yaml:", 9);
		buf[i] = saved;
	}
}

/* ---- valid variants ---- */

static void test_defaults(void **state)
{
	(void)state;
	parse_ok("lb: {interface: eth0}\n"
		 "shards:\n"
		 "  - id: 7\n"
		 "    vip: 192.168.1.1\n"
		 "    port: 1\n"
		 "    replicas:\n"
		 "      - 192.168.1.2:65535\n");
	assert_string_equal(cfg.path, "ok.yaml");
	assert_string_equal(cfg.interface, "eth0");
	assert_int_equal(cfg.xdp_mode, DALIO_XDP_NATIVE);
	assert_string_equal(cfg.pin_path, DALIO_CFG_DEFAULT_PIN_PATH);
	assert_int_equal(cfg.heartbeat_ms, 50);
	assert_int_equal(cfg.metrics_ip, ip("127.0.0.1"));
	assert_int_equal(cfg.metrics_port, DALIO_CFG_DEFAULT_METRICS_PORT);
	assert_int_equal(cfg.fanout, DALIO_CFG_FANOUT_TC);
	assert_int_equal(cfg.n_shards, 1);
	assert_int_equal(cfg.shards[0].id, 7);
	assert_string_equal(cfg.shards[0].name, "shard7");
	assert_int_equal(cfg.shards[0].mode, DALIO_MODE_PB);
	assert_int_equal(cfg.shards[0].port, 1);
	assert_int_equal(cfg.shards[0].line, 3);
	check_replica(&cfg.shards[0], 0, "192.168.1.2:65535", "192.168.1.2", 65535, 7);
	assert_int_equal(cfg.shards[0].replicas[0].col, 9);
}

static void test_fanout(void **state)
{
	(void)state;
	parse_ok("lb: {interface: lb0, fanout: devmap}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.1.2:1, 10.0.2.2:1]}]\n");
	assert_int_equal(cfg.fanout, DALIO_CFG_FANOUT_DEVMAP);
	assert_int_equal(cfg.xdp_mode, DALIO_XDP_NATIVE);
	assert_int_equal(cfg.shards[0].replicas[1].line, 2);
	assert_int_equal(cfg.shards[0].replicas[1].col, 65);
	parse_ok("lb: {interface: lb0, fanout: tc, xdp_mode: skb}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.1.2:1]}]\n");
	assert_int_equal(cfg.fanout, DALIO_CFG_FANOUT_TC);
}

static void test_all_fields(void **state)
{
	const struct dalio_shard_def *s;

	(void)state;
	parse_ok("---\n"
		 "# comment\n"
		 "shards:\n"
		 "- id: 31\n"
		 "  name: a-b_c.9\n"
		 "  mode: vr\n"
		 "  port: \"6379\"\n"
		 "  vip: '10.1.2.3'\n"
		 "  replicas: [10.0.0.1:1, 10.0.0.1:2, 10.0.0.2:1, 10.0.0.3:1, 10.0.0.4:1]\n"
		 "- {id: 0, name: shard31, vip: 10.1.2.3, port: 6380, mode: pb,\n"
		 "   replicas: [1.1.1.1:1, 1.1.1.2:1, 1.1.1.3:1, 1.1.1.4:1,\n"
		 "              1.1.1.5:1, 1.1.1.6:1, 1.1.1.7:1, 1.1.1.8:1]}\n"
		 "lb:\n"
		 "  metrics: 0.0.0.0:65535\n"
		 "  heartbeat_ms: 60000\n"
		 "  pin_path: /sys/fs/bpf/other\n"
		 "  xdp_mode: skb\n"
		 "  interface: abcdefghijklmno\n"
		 "...\n");
	assert_string_equal(cfg.interface, "abcdefghijklmno");
	assert_int_equal(cfg.xdp_mode, DALIO_XDP_SKB);
	assert_string_equal(cfg.pin_path, "/sys/fs/bpf/other");
	assert_int_equal(cfg.heartbeat_ms, 60000);
	assert_int_equal(cfg.metrics_ip, 0);
	assert_int_equal(cfg.metrics_port, 65535);
	assert_int_equal(cfg.n_shards, 2);
	s = &cfg.shards[0];
	assert_int_equal(s->id, 31);
	assert_string_equal(s->name, "a-b_c.9");
	assert_int_equal(s->mode, DALIO_MODE_VR);
	assert_int_equal(s->port, 6379);
	assert_int_equal(s->vip, ip("10.1.2.3"));
	assert_int_equal(s->n_replicas, 5);
	check_replica(s, 1, "10.0.0.1:2", "10.0.0.1", 2, 9);
	s = &cfg.shards[1];
	assert_int_equal(s->id, 0);
	assert_string_equal(s->name, "shard31");
	assert_int_equal(s->mode, DALIO_MODE_PB);
	assert_int_equal(s->line, 10);
	assert_int_equal(s->n_replicas, 8);
	check_replica(s, 0, "1.1.1.1:1", "1.1.1.1", 1, 11);
	check_replica(s, 7, "1.1.1.8:1", "1.1.1.8", 1, 12);
}

/* n shards with ids 0..n-1 on 10.0.0.1:(1000+i). */
static char *many_shards(unsigned n)
{
	size_t cap = 200 + n * 100, o;
	char *y = malloc(cap);
	unsigned i;

	assert_non_null(y);
	o = (size_t)snprintf(y, cap, "lb: {interface: lb0}\nshards:\n");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(
			y + o, cap - o,
			"  - {id: %u, vip: 10.0.0.1, port: %u, replicas: [10.0.1.1:1]}\n", i % 40,
			1000 + i);
	return y;
}

static void test_shard_count(void **state)
{
	char *y;

	(void)state;
	y = many_shards(DALIO_MAX_SHARDS);
	parse_ok(y);
	assert_int_equal(cfg.n_shards, DALIO_MAX_SHARDS);
	assert_string_equal(cfg.shards[31].name, "shard31");
	assert_int_equal(cfg.shards[31].port, 1031);
	free(y);

	y = many_shards(DALIO_MAX_SHARDS + 1);
	assert_int_equal(dalio_config_parse_string(y, "many.yaml", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "many.yaml:35:5: shards: too many shards: 33 (at most 32)");
	assert_int_equal(cfg.n_shards, 0); /* cfg is zeroed on failure */
	free(y);
}

/* ---- files ---- */

static void expect_load_error(const char *path, const char *msg)
{
	assert_int_equal(dalio_config_load(path, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
}

static void test_files(void **state)
{
	(void)state;
	expect_load_error(CONFIGS "bad-port.yaml",
			  CONFIGS "bad-port.yaml:9:11: shards[1].port: expected a port number "
				  "1-65535, got 'abc'");
	expect_load_error(CONFIGS "bad-indent.yaml",
			  CONFIGS "bad-indent.yaml:5:14: YAML syntax error: mapping values are not "
				  "allowed in this context");
	expect_load_error(CONFIGS "empty.yaml", CONFIGS "empty.yaml:1:1: the configuration is "
							"empty (expected 'lb' and 'shards')");
	expect_load_error(CONFIGS "missing.yaml",
			  CONFIGS "missing.yaml: cannot open: No such file or directory");
	expect_load_error(CONFIGS, CONFIGS ": Is a directory");
}

static void test_pin_path_limit(void **state)
{
	(void)state;
	parse_ok("lb:\n  interface: lb0\n  pin_path: /" D50 D50 D50 D10 D10 D10 D10 "01234567\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(strlen(cfg.pin_path), 199);
}

static void test_metrics_off(void **state)
{
	(void)state;
	parse_ok("lb: {interface: lb0, metrics: off}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.metrics_port, 0);
	parse_ok("lb: {interface: lb0, metrics: \"10.0.0.9:1\"}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.metrics_ip, ip("10.0.0.9"));
	assert_int_equal(cfg.metrics_port, 1);
}

static void test_peer(void **state)
{
	(void)state;
	/* Absent: no peer, defaults for the rest. */
	parse_ok("lb: {interface: lb0}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.peer_ip, 0);
	assert_int_equal(cfg.peer_port, 0);
	assert_int_equal(cfg.peer_timeout_ms, DALIO_CFG_DEFAULT_PEER_TIMEOUT_MS);
	assert_int_equal(cfg.peer_timeout_ms, 500);
	assert_int_equal(cfg.manage_vip, 1);
	parse_ok("lb:\n  interface: lb0\n  peer: 10.77.0.9:7390\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.peer_ip, ip("10.77.0.9"));
	assert_int_equal(cfg.peer_port, 7390);
	assert_int_equal(cfg.peer_timeout_ms, 500);
	assert_int_equal(cfg.manage_vip, 1);
	parse_ok("lb: {interface: lb0, peer: \"10.77.0.10:65535\", peer_timeout_ms: 60000,\n"
		 "     manage_vip: false, heartbeat_ms: 30000}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.peer_ip, ip("10.77.0.10"));
	assert_int_equal(cfg.peer_port, 65535);
	assert_int_equal(cfg.peer_timeout_ms, 60000);
	assert_int_equal(cfg.manage_vip, 0);
	/* The lower bound, with a heartbeat fast enough for it; no peer: no cross check. */
	parse_ok("lb: {interface: lb0, peer: 10.0.0.9:1, peer_timeout_ms: 50, heartbeat_ms: 25,\n"
		 "     manage_vip: true}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.peer_timeout_ms, 50);
	assert_int_equal(cfg.manage_vip, 1);
	parse_ok("lb: {interface: lb0, peer_timeout_ms: 50, heartbeat_ms: 1000}\n"
		 "shards: [{id: 0, vip: 10.0.0.1, port: 1, replicas: [10.0.0.2:1]}]\n");
	assert_int_equal(cfg.peer_ip, 0);
}

static void test_err_buffer(void **state)
{
	char small[16];

	(void)state;
	/* No error buffer at all, and a short one: still refused, no overflow. */
	assert_int_equal(dalio_config_parse_string("- x", "x.yaml", &cfg, NULL, 0), -1);
	assert_int_equal(dalio_config_parse_string("- x", "x.yaml", &cfg, small, sizeof(small)),
			 -1);
	assert_string_equal(small, "x.yaml:1:1: top");
	assert_int_equal(dalio_config_parse_string("- x", NULL, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "<string>:1:1: top level: expected a mapping, got a sequence");
}

/* ---- bad inputs: one test per case ---- */

struct bad_case {
	const char *name;
	const char *yaml;
	const char *msg; /* expected message without the "bad.yaml:" prefix */
};

/* Lines 1-3. */
#define LB "lb:\n  interface: lb0\nshards:\n"
/* Lines 4-7: a valid shard 0. */
#define S0 "  - id: 0\n    vip: 10.0.0.1\n    port: 7379\n    replicas: [10.0.0.11:7400]\n"
/* Line 3: a complete lb and the start of shards. */
#define LB1 "lb: {interface: lb0}\nshards:\n"
/* A flow shard with the given extra fields, on one line. */
#define SHARD(extra) "  - {id: 1, vip: 10.0.0.1, port: 7379, replicas: [10.0.0.11:7400]" extra "}\n"

static const struct bad_case bad_cases[] = {
	/* syntax, document shape */
	{"syntax_flow", "lb: {interface: lb0\nshards: []\n",
	 "2:7: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping "
	 "that starts at line 1)"},
	{"syntax_tab", "lb:\n\tinterface: lb0\n",
	 "2:1: YAML syntax error: found character that cannot start any token (tabs cannot indent "
	 "YAML)"},
	{"syntax_alias", "lb: *nothing\n", "1:5: YAML syntax error: found undefined alias"},
	{"control_char", "lb:\n  interface: l\x01\n",
	 "2:15: invalid input: control characters are "
	 "not allowed"},
	{"bad_utf8", "lb:\n  interface: \xff\n",
	 "2:14: invalid input: invalid leading UTF-8 octet"},
	{"empty", "", "1:1: the configuration is empty (expected 'lb' and 'shards')"},
	{"only_comments", "# nothing\n\n",
	 "1:1: the configuration is empty (expected 'lb' and 'shards')"},
	{"top_sequence", "- lb\n", "1:1: top level: expected a mapping, got a sequence"},
	{"top_scalar", "lb0\n", "1:1: top level: expected a mapping, got a scalar"},
	{"two_documents", LB S0 "---\nlb: {}\n", "9:1: only one YAML document is allowed"},
	/* top level */
	{"unknown_top", LB S0 "shard: []\n",
	 "8:1: top level: unknown field 'shard' (expected one of: lb, shards)"},
	{"missing_lb", "shards:\n" S0, "1:1: lb: required field is missing"},
	{"missing_shards", "lb: {interface: lb0}\n", "1:1: shards: required field is missing"},
	{"duplicate_lb", LB S0 "lb: {interface: lb1}\n",
	 "8:1: lb: duplicate field (first given on line 1)"},
	{"non_scalar_key", "[lb]: 1\n", "1:1: top level: expected a field name, got a sequence"},
	{"empty_key", "\"\": 1\n", "1:1: top level: expected a field name, got an empty value"},
	/* lb */
	{"lb_scalar", "lb: lb0\nshards: []\n", "1:5: lb: expected a mapping, got a scalar"},
	{"lb_empty", "lb:\nshards: []\n", "1:4: lb: expected a mapping, got an empty value"},
	{"lb_unknown", "lb:\n  interface: lb0\n  xdp: native\n",
	 "3:3: lb: unknown field 'xdp' (expected one of: interface, xdp_mode, pin_path, "
	 "heartbeat_ms, suspect_after, fail_after, fanout, metrics, peer, peer_timeout_ms, "
	 "manage_vip)"},
	/* LB failover: lb.peer, lb.peer_timeout_ms, lb.manage_vip */
	{"peer_no_port", "lb:\n  interface: lb0\n  peer: 10.0.0.9\n",
	 "3:9: lb.peer: expected IP:PORT of the other LB (e.g. 10.0.0.9:7390), got '10.0.0.9'"},
	{"peer_bad_port", "lb:\n  interface: lb0\n  peer: 10.0.0.9:0\n",
	 "3:9: lb.peer: expected a port number 1-65535 after ':', got '10.0.0.9:0'"},
	{"peer_hostname", "lb:\n  interface: lb0\n  peer: lb2:7390\n",
	 "3:9: lb.peer: an IPv4 address is needed, got 'lb2' (hostnames are not resolved)"},
	{"peer_broadcast", "lb:\n  interface: lb0\n  peer: 255.255.255.255:7390\n",
	 "3:9: lb.peer: expected a unicast IPv4 address, got '255.255.255.255'"},
	{"peer_ipv6", "lb:\n  interface: lb0\n  peer: \"[fd00::9]:7390\"\n",
	 "3:9: lb.peer: expected IP:PORT of the other LB (e.g. 10.0.0.9:7390), got "
	 "'[fd00::9]:7390'"},
	{"peer_mapping", "lb:\n  interface: lb0\n  peer: {ip: 10.0.0.9}\n",
	 "3:9: lb.peer: expected IP:PORT of the other LB (e.g. 10.0.0.9:7390), got a mapping"},
	{"peer_timeout_small", "lb:\n  interface: lb0\n  peer_timeout_ms: 49\n",
	 "3:20: lb.peer_timeout_ms: expected a number of milliseconds 50-60000, got '49'"},
	{"peer_timeout_big", "lb:\n  interface: lb0\n  peer_timeout_ms: 60001\n",
	 "3:20: lb.peer_timeout_ms: expected a number of milliseconds 50-60000, got '60001'"},
	{"peer_timeout_unit", "lb:\n  interface: lb0\n  peer_timeout_ms: 1s\n",
	 "3:20: lb.peer_timeout_ms: expected a number of milliseconds 50-60000, got '1s'"},
	{"peer_timeout_vs_heartbeat",
	 "lb:\n  interface: lb0\n  heartbeat_ms: 100\n  peer: 10.0.0.9:7390\n  peer_timeout_ms: "
	 "199\nshards: []\n",
	 "5:20: lb.peer_timeout_ms: peer_timeout_ms (199) must be at least twice heartbeat_ms "
	 "(100)"},
	{"peer_default_timeout_vs_heartbeat",
	 "lb:\n  interface: lb0\n  heartbeat_ms: 300\n  peer: 10.0.0.9:7390\nshards: []\n",
	 "4:9: lb.peer: peer_timeout_ms (500) must be at least twice heartbeat_ms (300)"},
	{"manage_vip_yes", "lb:\n  interface: lb0\n  manage_vip: yes\n",
	 "3:15: lb.manage_vip: expected true or false, got 'yes'"},
	{"manage_vip_empty", "lb:\n  interface: lb0\n  manage_vip:\n",
	 "3:14: lb.manage_vip: expected true or false, got an empty value"},
	{"peer_duplicate", "lb:\n  interface: lb0\n  peer: 10.0.0.9:1\n  peer: 10.0.0.9:2\n",
	 "4:3: lb.peer: duplicate field (first given on line 3)"},
	{"fail_after_zero", "lb:\n  interface: lb0\n  fail_after: 0\n",
	 "3:15: lb.fail_after: expected a multiple of the heartbeat interval 1-100, got '0'"},
	{"suspect_after_big", "lb:\n  interface: lb0\n  suspect_after: 101\n",
	 "3:18: lb.suspect_after: expected a multiple of the heartbeat interval 1-100, got "
	 "'101'"},
	{"lb_duplicate", "lb:\n  interface: lb0\n  interface: lb1\n",
	 "3:3: lb.interface: duplicate field (first given on line 2)"},
	{"interface_missing", "lb:\n  xdp_mode: skb\nshards: []\n",
	 "2:3: lb.interface: required field is missing"},
	{"interface_list", "lb:\n  interface: [lb0]\n",
	 "2:14: lb.interface: expected a network interface name, got a sequence"},
	{"interface_empty", "lb:\n  interface:\nshards: []\n",
	 "2:13: lb.interface: expected a network interface name, got an empty value"},
	{"interface_long", "lb:\n  interface: abcdefghijklmnop\n",
	 "2:14: lb.interface: interface name 'abcdefghijklmnop' is too long (at most 15 "
	 "characters)"},
	{"interface_slash", "lb:\n  interface: a/b\n",
	 "2:14: lb.interface: 'a/b' is not a valid interface name"},
	{"interface_nul", "lb:\n  interface: \"a\\0b\"\n",
	 "2:14: lb.interface: expected a network interface name, got a value containing a NUL "
	 "character"},
	{"xdp_mode", "lb:\n  interface: lb0\n  xdp_mode: generic\n",
	 "3:13: lb.xdp_mode: expected native or skb, got 'generic'"},
	{"xdp_mode_case", "lb:\n  interface: lb0\n  xdp_mode: Native\n",
	 "3:13: lb.xdp_mode: expected native or skb, got 'Native'"},
	{"fanout", "lb:\n  interface: lb0\n  fanout: broadcast\n",
	 "3:11: lb.fanout: expected tc or devmap, got 'broadcast'"},
	{"fanout_list", "lb:\n  interface: lb0\n  fanout: [tc]\n",
	 "3:11: lb.fanout: expected tc or devmap, got a sequence"},
	{"fanout_devmap_skb",
	 "lb:\n  interface: lb0\n  fanout: devmap\n  xdp_mode: skb\nshards:\n" S0,
	 "3:11: lb.fanout: devmap fan-out needs native XDP (xdp_mode: native); with xdp_mode: "
	 "skb use fanout: tc"},
	{"pin_path_relative", "lb:\n  interface: lb0\n  pin_path: bpf/dalio\n",
	 "3:13: lb.pin_path: expected an absolute path, got 'bpf/dalio'"},
	{"pin_path_long",
	 "lb:\n  interface: lb0\n  pin_path: /" D50 D50 D50 D10 D10 D10 D10 "012345678\n",
	 "3:13: lb.pin_path: path is too long (at most 199 characters)"},
	{"heartbeat_zero", "lb:\n  interface: lb0\n  heartbeat_ms: 0\n",
	 "3:17: lb.heartbeat_ms: expected a number of milliseconds 1-60000, got '0'"},
	{"heartbeat_big", "lb:\n  interface: lb0\n  heartbeat_ms: 60001\n",
	 "3:17: lb.heartbeat_ms: expected a number of milliseconds 1-60000, got '60001'"},
	{"heartbeat_unit", "lb:\n  interface: lb0\n  heartbeat_ms: 50ms\n",
	 "3:17: lb.heartbeat_ms: expected a number of milliseconds 1-60000, got '50ms'"},
	{"heartbeat_negative", "lb:\n  interface: lb0\n  heartbeat_ms: -5\n",
	 "3:17: lb.heartbeat_ms: expected a number of milliseconds 1-60000, got '-5'"},
	{"heartbeat_float", "lb:\n  interface: lb0\n  heartbeat_ms: 1.5\n",
	 "3:17: lb.heartbeat_ms: expected a number of milliseconds 1-60000, got '1.5'"},
	{"metrics_no_port", "lb:\n  interface: lb0\n  metrics: 127.0.0.1\n",
	 "3:12: lb.metrics: expected IP:PORT (e.g. 127.0.0.1:9464) or off, got '127.0.0.1'"},
	{"metrics_on", "lb:\n  interface: lb0\n  metrics: on\n",
	 "3:12: lb.metrics: expected IP:PORT (e.g. 127.0.0.1:9464) or off, got 'on'"},
	{"metrics_hostname", "lb:\n  interface: lb0\n  metrics: localhost:9464\n",
	 "3:12: lb.metrics: expected an IPv4 address before ':' (IP:PORT (e.g. 127.0.0.1:9464) or "
	 "off), got 'localhost:9464'"},
	{"metrics_port_zero", "lb:\n  interface: lb0\n  metrics: 127.0.0.1:0\n",
	 "3:12: lb.metrics: expected a port number 1-65535 after ':', got '127.0.0.1:0'"},
	{"metrics_ipv6", "lb:\n  interface: lb0\n  metrics: \"[::1]:9464\"\n",
	 "3:12: lb.metrics: expected IP:PORT (e.g. 127.0.0.1:9464) or off, got '[::1]:9464'"},
	{"metrics_empty", "lb:\n  interface: lb0\n  metrics:\n",
	 "3:11: lb.metrics: expected IP:PORT (e.g. 127.0.0.1:9464) or off, got an empty value"},
	/* shards list */
	{"shards_empty_list", LB1 "  []\n", "3:3: shards: at least one shard is needed (1-32)"},
	{"shards_empty", LB1, "2:8: shards: expected a sequence of shards, got an empty value"},
	{"shards_mapping", LB1 "  id: 0\n",
	 "3:3: shards: expected a sequence of shards, got a "
	 "mapping"},
	{"shard_scalar", LB1 "  - 0\n", "3:5: shards[0]: expected a mapping, got a scalar"},
	/* shard fields */
	{"shard_unknown", LB S0 "  - id: 1\n    prot: 7379\n",
	 "9:5: shards[1]: unknown field 'prot' (expected one of: id, name, vip, port, mode, "
	 "replicas)"},
	{"shard_duplicate", LB S0 "    port: 7380\n",
	 "8:5: shards[0].port: duplicate field (first given on line 6)"},
	{"missing_id", LB "  - vip: 10.0.0.1\n    port: 1\n    replicas: [10.0.0.2:1]\n",
	 "4:5: shards[0].id: required field is missing"},
	{"missing_vip", LB S0 "  - id: 1\n    port: 1\n    replicas: [10.0.0.2:1]\n",
	 "8:5: shards[1].vip: required field is missing"},
	{"missing_port", LB1 "  - {id: 0, vip: 10.0.0.1, replicas: [10.0.0.2:1]}\n",
	 "3:5: shards[0].port: required field is missing"},
	{"missing_replicas", LB1 "  - {id: 0, vip: 10.0.0.1, port: 1}\n",
	 "3:5: shards[0].replicas: required field is missing"},
	{"id_range", LB1 "  - id: 32\n", "3:9: shards[0].id: expected a shard id 0-31, got '32'"},
	{"id_hex", LB1 "  - id: 0x1\n", "3:9: shards[0].id: expected a shard id 0-31, got '0x1'"},
	{"id_octal", LB1 "  - id: 01\n",
	 "3:9: shards[0].id: expected a shard id 0-31, got '01' (no leading zeros)"},
	{"id_plus", LB1 "  - id: +1\n", "3:9: shards[0].id: expected a shard id 0-31, got '+1'"},
	{"id_space", LB1 "  - id: \" 1\"\n",
	 "3:9: shards[0].id: expected a shard id 0-31, got ' 1'"},
	{"id_overflow", LB1 "  - id: 18446744073709551617\n",
	 "3:9: shards[0].id: expected a shard id 0-31, got '18446744073709551617'"},
	{"id_list", LB1 "  - id: [0]\n",
	 "3:9: shards[0].id: expected a shard id 0-31, got a "
	 "sequence"},
	{"id_duplicate", LB S0 "  - {id: 0, vip: 10.0.0.2, port: 1, replicas: [10.0.0.2:1]}\n",
	 "8:10: shards[1].id: duplicate shard id 0 (also shards[0], line 4)"},
	{"name_long", LB1 SHARD(", name: abcdefghijabcdefghijabcdefghijab"),
	 "3:74: shards[0].name: name 'abcdefghijabcdefghijabcdefghijab' is too long (at most 31 "
	 "characters)"},
	{"name_chars", LB1 SHARD(", name: \"a b\""),
	 "3:74: shards[0].name: name 'a b' may only contain letters, digits, '_', '-' and '.'"},
	{"name_duplicate",
	 LB S0 "  - {id: 1, name: shard0, vip: 10.0.0.1, port: 2, replicas: [1.1.1.1:1]}\n",
	 "8:19: shards[1].name: duplicate shard name 'shard0' (also shards[0], line 4)"},
	{"vip_hostname", LB1 "  - {id: 0, vip: redis.local}\n",
	 "3:18: shards[0].vip: an IPv4 address is needed, got 'redis.local' (hostnames are not "
	 "resolved)"},
	{"vip_short", LB1 "  - {id: 0, vip: 10.0.0}\n",
	 "3:18: shards[0].vip: expected an IPv4 address (a.b.c.d), got '10.0.0'"},
	{"vip_leading_zero", LB1 "  - {id: 0, vip: 10.0.0.01}\n",
	 "3:18: shards[0].vip: expected an IPv4 address (a.b.c.d), got '10.0.0.01'"},
	{"vip_ipv6", LB1 "  - {id: 0, vip: \"fd00::1\"}\n",
	 "3:18: shards[0].vip: an IPv4 address is needed, got 'fd00::1' (IPv6 is not supported)"},
	{"vip_with_port", LB1 "  - {id: 0, vip: \"10.0.0.1:7379\"}\n",
	 "3:18: shards[0].vip: an IPv4 address is needed, got '10.0.0.1:7379' (IPv6 is not "
	 "supported)"},
	{"vip_multicast", LB1 "  - {id: 0, vip: 239.1.1.1}\n",
	 "3:18: shards[0].vip: expected a unicast IPv4 address, got '239.1.1.1'"},
	{"vip_any", LB1 "  - {id: 0, vip: 0.0.0.0}\n",
	 "3:18: shards[0].vip: expected a unicast IPv4 address, got '0.0.0.0'"},
	{"port_word", LB S0 "  - id: 1\n    port: abc\n",
	 "9:11: shards[1].port: expected a port number 1-65535, got 'abc'"},
	{"port_zero", LB1 "  - {id: 0, port: 0}\n",
	 "3:19: shards[0].port: expected a port number 1-65535, got '0'"},
	{"port_big", LB1 "  - {id: 0, port: 65536}\n",
	 "3:19: shards[0].port: expected a port number 1-65535, got '65536'"},
	{"port_garbage", LB1 "  - {id: 0, port: 7379x}\n",
	 "3:19: shards[0].port: expected a port number 1-65535, got '7379x'"},
	{"vip_port_duplicate",
	 LB S0 "  - {id: 1, name: b, vip: 10.0.0.1, port: 7379, replicas: [1.1.1.1:1]}\n",
	 "8:27: shards[1].vip: 10.0.0.1:7379 is already served by shards[0] (line 4)"},
	{"mode", LB1 SHARD(", mode: raft"), "3:74: shards[0].mode: expected pb or vr, got 'raft'"},
	{"mode_list", LB1 SHARD(", mode: [pb]"),
	 "3:74: shards[0].mode: expected pb or vr, got a sequence"},
	{"vr_one", LB1 SHARD(", mode: vr"),
	 "3:50: shards[0].replicas: vr mode needs 2f+1 replicas (3, 5 or 7), got 1"},
	{"vr_even",
	 LB1 "  - id: 0\n    mode: vr\n    vip: 10.0.0.1\n    port: 1\n    replicas:\n"
	     "      - 10.0.0.2:1\n      - 10.0.0.3:1\n      - 10.0.0.4:1\n      - 10.0.0.5:1\n",
	 "8:7: shards[0].replicas: vr mode needs 2f+1 replicas (3, 5 or 7), got 4"},
	/* replicas */
	{"replicas_empty", LB1 "  - {id: 0, vip: 10.0.0.1, port: 1, replicas: []}\n",
	 "3:47: shards[0].replicas: at least one replica is needed (1-8)"},
	{"replicas_scalar", LB1 "  - {id: 0, vip: 10.0.0.1, port: 1, replicas: 10.0.0.2:1}\n",
	 "3:47: shards[0].replicas: expected a sequence of IP:PORT strings, got a scalar"},
	{"replicas_too_many",
	 LB1 "  - id: 0\n    replicas: [1.1.1.1:1, 1.1.1.2:1, 1.1.1.3:1, 1.1.1.4:1, 1.1.1.5:1,\n"
	     "               1.1.1.6:1, 1.1.1.7:1, 1.1.1.8:1, 1.1.1.9:1]\n",
	 "5:49: shards[0].replicas: too many replicas: 9 (at most 8 per shard)"},
	{"replica_no_port", LB "  - id: 0\n    replicas:\n      - 10.0.0.2\n",
	 "6:9: shards[0].replicas[0]: expected IP:PORT (e.g. 10.0.0.1:7400), got '10.0.0.2'"},
	{"replica_hostname",
	 LB "  - id: 0\n    replicas:\n      - 10.0.0.2:1\n      - redis1:7400\n",
	 "7:9: shards[0].replicas[1]: an IPv4 address is needed, got 'redis1' (hostnames are not "
	 "resolved)"},
	{"replica_ipv6", LB "  - id: 0\n    replicas:\n      - \"[fd00::1]:7400\"\n",
	 "6:9: shards[0].replicas[0]: an IPv4 address is needed, got '[fd00::1]:7400' (IPv6 is "
	 "not supported)"},
	{"replica_bad_port", LB "  - id: 0\n    replicas:\n      - 10.0.0.2:99999\n",
	 "6:9: shards[0].replicas[0]: expected a port number 1-65535 after ':', got "
	 "'10.0.0.2:99999'"},
	{"replica_empty_port", LB "  - id: 0\n    replicas:\n      - \"10.0.0.2:\"\n",
	 "6:9: shards[0].replicas[0]: expected a port number 1-65535 after ':', got '10.0.0.2:'"},
	{"replica_mapping", LB "  - id: 0\n    replicas:\n      - ip: 10.0.0.2\n",
	 "6:9: shards[0].replicas[0]: expected IP:PORT, got a mapping"},
	{"replica_long",
	 LB "  - id: 0\n    replicas:\n      - "
	    "10.0.0.2:1000000000000000000000000000000000000000000000000000000000\n",
	 "6:9: shards[0].replicas[0]: expected IP:PORT, got "
	 "'10.0.0.2:1000000000000000000000000000000...'"},
	{"replica_duplicate",
	 LB
	 "  - id: 0\n    replicas:\n      - 10.0.0.2:1\n      - 10.0.0.3:1\n      - 10.0.0.2:1\n",
	 "8:9: shards[0].replicas[2]: duplicate replica 10.0.0.2:1 (same as "
	 "shards[0].replicas[0])"},
	/* aliases cannot smuggle in a cycle or a different kind */
	{"alias_cycle", "lb: &a {interface: *a}\n",
	 "1:5: lb.interface: expected a network interface name, got a mapping"},
	{"alias_self_list", "lb: &a [*a]\n", "1:5: lb: expected a mapping, got a sequence"},
};

static void test_bad(void **state)
{
	const struct bad_case *c = *state;
	char want[600];
	int rc;

	snprintf(want, sizeof(want), "bad.yaml:%s", c->msg);
	memset(&cfg, 0xa5, sizeof(cfg));
	rc = dalio_config_parse_string(c->yaml, "bad.yaml", &cfg, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_string_equal(err, want);
	assert_int_equal(cfg.n_shards, 0);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_example),	    cmocka_unit_test(test_example_prefixes),
		cmocka_unit_test(test_defaults),    cmocka_unit_test(test_all_fields),
		cmocka_unit_test(test_shard_count), cmocka_unit_test(test_files),
		cmocka_unit_test(test_err_buffer),  cmocka_unit_test(test_pin_path_limit),
		cmocka_unit_test(test_metrics_off), cmocka_unit_test(test_fanout),
		cmocka_unit_test(test_peer),
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t nbad = sizeof(bad_cases) / sizeof(bad_cases[0]), i;
	struct CMUnitTest *tests = calloc(nfixed + nbad, sizeof(*tests));
	int rc;

	if (!tests)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	for (i = 0; i < nbad; i++) {
		tests[nfixed + i].name = bad_cases[i].name;
		tests[nfixed + i].test_func = test_bad;
		tests[nfixed + i].initial_state = (void *)&bad_cases[i];
	}
	rc = _cmocka_run_group_tests("config", tests, nfixed + nbad, NULL, NULL);
	free(tests);
	return rc;
}
