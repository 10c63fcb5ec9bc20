/* SPDX-License-Identifier: MIT */
/*
 * Loading and validation of dalio-agent's configuration (shards.yaml) with
 * libyaml's document API. Owns the schema: which fields exist, their
 * defaults and ranges, and the wording of every error message. See
 * agent/config.h and docs/configuration.md.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"

#define MAX_FILE_SIZE	      (1 << 20)
#define DEFAULT_HEARTBEAT_MS  50
#define DEFAULT_SUSPECT_AFTER 3
#define DEFAULT_FAIL_AFTER    6
#define MAX_HEARTBEAT_MS      60000
#define MIN_PEER_TIMEOUT_MS   50
#define PATH_LEN	      64

struct ctx {
	const char *name; /* file name used in messages */
	char *err;
	size_t errlen;
	yaml_document_t *doc;
	struct dalio_config *cfg;
};

/* Copies s into out for a message: printable ASCII (others as \xNN), at most max
 * characters of s, "..." when cut. */
static void quote_value(char *out, size_t outlen, const char *s, size_t max)
{
	size_t o = 0, i;

	for (i = 0; s[i] && i < max && o + 5 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7f)
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	if (s[i] && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void set_err(struct ctx *c, size_t line, size_t col, const char *path, const char *fmt,
		    va_list ap)
{
	int n;

	if (!c->err || c->errlen == 0)
		return;
	if (path && path[0])
		n = snprintf(c->err, c->errlen, "%s:%zu:%zu: %s: ", c->name, line, col, path);
	else
		n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name, line, col);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
}

/* Reports a problem at node n (1-based line and column of its first character). */
__attribute__((format(printf, 4, 5))) static int fail(struct ctx *c, const yaml_node_t *n,
						      const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(c, n->start_mark.line + 1, n->start_mark.column + 1, path, fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 5, 6))) static int fail_at(struct ctx *c, size_t line, size_t col,
							 const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(c, line, col, path, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		return n->data.scalar.length ? "a scalar" : "an empty value";
	default:
		return "nothing";
	}
}

static int expect_mapping(struct ctx *c, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, path, "expected a mapping, got %s", kind(n));
	return 0;
}

static int expect_sequence(struct ctx *c, const yaml_node_t *n, const char *path, const char *what)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, path, "expected a sequence of %s, got %s", what, kind(n));
	return 0;
}

/* The text of a scalar node; what describes the expected value in messages. */
static const char *scalar(struct ctx *c, const yaml_node_t *n, const char *path, const char *what)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE) {
		fail(c, n, path, "expected %s, got %s", what, kind(n));
		return NULL;
	}
	if (n->data.scalar.length == 0) {
		fail(c, n, path, "expected %s, got an empty value", what);
		return NULL;
	}
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		fail(c, n, path, "expected %s, got a value containing a NUL character", what);
		return NULL;
	}
	return s;
}

/* Decimal digits only: no sign, no spaces, no leading zeros, no trailing garbage. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	if (s[0] == '0' && s[1] != '\0')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int number(struct ctx *c, const yaml_node_t *n, const char *path, const char *what,
		  unsigned long min, unsigned long max, unsigned long *out)
{
	const char *s = scalar(c, n, path, what);
	char q[64];

	if (!s)
		return -1;
	if (parse_uint(s, min, max, out) == 0)
		return 0;
	quote_value(q, sizeof(q), s, 40);
	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return fail(c, n, path, "expected %s, got '%s' (no leading zeros)", what, q);
	return fail(c, n, path, "expected %s, got '%s'", what, q);
}

static bool looks_like_hostname(const char *s)
{
	for (; *s; s++)
		if (isalpha((unsigned char)*s))
			return true;
	return false;
}

/* Parses a dotted-quad IPv4 unicast address into *ip (network order). */
static int ipv4(struct ctx *c, const yaml_node_t *n, const char *path, const char *s, uint32_t *ip)
{
	struct in_addr a;
	uint32_t h;
	char q[64];

	quote_value(q, sizeof(q), s, 40);
	if (inet_pton(AF_INET, s, &a) != 1) {
		if (strchr(s, ':'))
			return fail(c, n, path,
				    "an IPv4 address is needed, got '%s' (IPv6 is not supported)",
				    q);
		if (looks_like_hostname(s))
			return fail(
				c, n, path,
				"an IPv4 address is needed, got '%s' (hostnames are not resolved)",
				q);
		return fail(c, n, path, "expected an IPv4 address (a.b.c.d), got '%s'", q);
	}
	h = ntohl(a.s_addr);
	if (h == 0 || h == 0xffffffffu || (h >> 28) == 0xe)
		return fail(c, n, path, "expected a unicast IPv4 address, got '%s'", q);
	*ip = a.s_addr;
	return 0;
}

/* Field paths are short ("shards[31].replicas[7]"); truncation is harmless anyway. */
static void join(char *out, const char *base, const char *field)
{
	int n;

	if (base[0])
		n = snprintf(out, PATH_LEN, "%s.%s", base, field);
	else
		n = snprintf(out, PATH_LEN, "%s", field);
	if (n < 0)
		out[0] = '\0';
}

static void index_path(char *out, const char *base, unsigned i)
{
	if (snprintf(out, PATH_LEN, "%s[%u]", base, i) < 0)
		out[0] = '\0';
}

/*
 * Mapping walker: checks every key against names (NULL-terminated, at most
 * 32), refuses unknown and duplicate keys, calls fn for each value in file
 * order, then reports the first missing field among the required ones (a
 * bitmask over names).
 */
typedef int (*field_fn)(struct ctx *c, int idx, yaml_node_t *val, const char *path, void *arg);

static int walk_mapping(struct ctx *c, yaml_node_t *map, const char *path, const char *const *names,
			uint32_t required, field_fn fn, void *arg)
{
	int first_line[32] = {0};
	uint32_t seen = 0;
	yaml_node_pair_t *p;
	char fpath[PATH_LEN];
	int i;

	if (expect_mapping(c, map, path[0] ? path : "top level"))
		return -1;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key;
		char q[64];

		if (!k || !v)
			return fail(c, map, path, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE || k->data.scalar.length == 0 ||
		    strlen((const char *)k->data.scalar.value) != k->data.scalar.length)
			return fail(c, k, path[0] ? path : "top level",
				    "expected a field name, got %s", kind(k));
		key = (const char *)k->data.scalar.value;
		for (i = 0; names[i]; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (!names[i]) {
			char list[200];
			size_t o = 0;
			int j;

			list[0] = '\0';
			for (j = 0; names[j] && o < sizeof(list); j++)
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
						      j ? ", " : "", names[j]);
			quote_value(q, sizeof(q), key, 40);
			return fail(c, k, path[0] ? path : "top level",
				    "unknown field '%s' (expected one of: %s)", q, list);
		}
		join(fpath, path, names[i]);
		if (seen & (1u << i))
			return fail(c, k, fpath, "duplicate field (first given on line %d)",
				    first_line[i]);
		seen |= 1u << i;
		first_line[i] = (int)k->start_mark.line + 1;
		if (fn(c, i, v, fpath, arg))
			return -1;
	}
	for (i = 0; names[i]; i++) {
		if ((required & (1u << i)) && !(seen & (1u << i))) {
			join(fpath, path, names[i]);
			return fail(c, map, fpath, "required field is missing");
		}
	}
	return 0;
}

/* ---- lb ---- */

enum {
	LB_INTERFACE,
	LB_XDP_MODE,
	LB_PIN_PATH,
	LB_HEARTBEAT_MS,
	LB_SUSPECT_AFTER,
	LB_FAIL_AFTER,
	LB_FANOUT,
	LB_METRICS,
	LB_PEER,
	LB_PEER_TIMEOUT_MS,
	LB_MANAGE_VIP
};
static const char *const lb_fields[] = {
	"interface", "xdp_mode", "pin_path", "heartbeat_ms",	"suspect_after", "fail_after",
	"fanout",    "metrics",	 "peer",     "peer_timeout_ms", "manage_vip",	 NULL};

/* Nodes of the lb section that cross-field checks point at. */
struct lb_state {
	yaml_node_t *fanout_node;
	yaml_node_t *peer_node, *peer_timeout_node;
};

static bool valid_ifname(const char *s)
{
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return false;
	return true;
}

/*
 * The "IP:PORT" shape shared by lb.metrics and lb.peer: copies the part before
 * the one ':' into host (cap bytes) and points *port at the rest. q is s
 * quoted for messages. 0, or -1 after reporting "expected WHAT".
 */
static int split_ip_port(struct ctx *c, yaml_node_t *v, const char *path, const char *s,
			 const char *what, const char *q, char *host, size_t cap, const char **port)
{
	const char *colon = strrchr(s, ':');

	if (strlen(s) >= cap || !colon || strchr(s, ':') != colon)
		return fail(c, v, path, "expected %s, got '%s'", what, q);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = colon + 1;
	return 0;
}

/* lb.metrics: "IP:PORT" to listen on (0.0.0.0 for every address), or "off". */
static int metrics_addr(struct ctx *c, yaml_node_t *v, const char *path)
{
	static const char what[] = "IP:PORT (e.g. 127.0.0.1:9464) or off";
	const char *s = scalar(c, v, path, what);
	char buf[32], q[64];
	unsigned long port;
	struct in_addr a;
	const char *pstr;

	if (!s)
		return -1;
	if (strcmp(s, "off") == 0) {
		c->cfg->metrics_ip = 0;
		c->cfg->metrics_port = 0;
		return 0;
	}
	quote_value(q, sizeof(q), s, 40);
	if (split_ip_port(c, v, path, s, what, q, buf, sizeof(buf), &pstr))
		return -1;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return fail(c, v, path, "expected an IPv4 address before ':' (%s), got '%s'", what,
			    q);
	if (parse_uint(pstr, 1, 65535, &port))
		return fail(c, v, path, "expected a port number 1-65535 after ':', got '%s'", q);
	c->cfg->metrics_ip = a.s_addr;
	c->cfg->metrics_port = (uint16_t)port;
	return 0;
}

/* lb.peer: "IP:PORT" of the other LB's control port (LB failover). */
static int peer_addr(struct ctx *c, yaml_node_t *v, const char *path)
{
	static const char what[] = "IP:PORT of the other LB (e.g. 10.0.0.9:7390)";
	const char *s = scalar(c, v, path, what);
	char buf[32], q[64];
	unsigned long port;
	uint32_t ip;
	const char *pstr;

	if (!s)
		return -1;
	quote_value(q, sizeof(q), s, 40);
	if (split_ip_port(c, v, path, s, what, q, buf, sizeof(buf), &pstr))
		return -1;
	if (ipv4(c, v, path, buf, &ip))
		return -1;
	if (parse_uint(pstr, 1, 65535, &port))
		return fail(c, v, path, "expected a port number 1-65535 after ':', got '%s'", q);
	c->cfg->peer_ip = ip;
	c->cfg->peer_port = (uint16_t)port;
	return 0;
}

static int lb_field(struct ctx *c, int idx, yaml_node_t *v, const char *path, void *arg)
{
	struct dalio_config *cfg = c->cfg;
	struct lb_state *st = arg;
	unsigned long num;
	const char *s;
	char q[64];

	switch (idx) {
	case LB_INTERFACE:
		s = scalar(c, v, path, "a network interface name");
		if (!s)
			return -1;
		quote_value(q, sizeof(q), s, 40);
		if (strlen(s) >= sizeof(cfg->interface))
			return fail(c, v, path,
				    "interface name '%s' is too long (at most %zu characters)", q,
				    sizeof(cfg->interface) - 1);
		if (!valid_ifname(s))
			return fail(c, v, path, "'%s' is not a valid interface name", q);
		strcpy(cfg->interface, s);
		return 0;
	case LB_XDP_MODE:
		s = scalar(c, v, path, "native or skb");
		if (!s)
			return -1;
		if (strcmp(s, "native") == 0) {
			cfg->xdp_mode = DALIO_XDP_NATIVE;
		} else if (strcmp(s, "skb") == 0) {
			cfg->xdp_mode = DALIO_XDP_SKB;
		} else {
			quote_value(q, sizeof(q), s, 40);
			return fail(c, v, path, "expected native or skb, got '%s'", q);
		}
		return 0;
	case LB_PIN_PATH:
		s = scalar(c, v, path, "an absolute path");
		if (!s)
			return -1;
		quote_value(q, sizeof(q), s, 40);
		if (s[0] != '/')
			return fail(c, v, path, "expected an absolute path, got '%s'", q);
		if (strlen(s) >= sizeof(cfg->pin_path))
			return fail(c, v, path, "path is too long (at most %zu characters)",
				    sizeof(cfg->pin_path) - 1);
		strcpy(cfg->pin_path, s);
		return 0;
	case LB_HEARTBEAT_MS:
		if (number(c, v, path, "a number of milliseconds 1-60000", 1, MAX_HEARTBEAT_MS,
			   &num))
			return -1;
		cfg->heartbeat_ms = (unsigned)num;
		return 0;
	case LB_SUSPECT_AFTER:
	case LB_FAIL_AFTER:
		if (number(c, v, path, "a multiple of the heartbeat interval 1-100", 1, 100, &num))
			return -1;
		if (idx == LB_SUSPECT_AFTER)
			cfg->suspect_after = (unsigned)num;
		else
			cfg->fail_after = (unsigned)num;
		return 0;
	case LB_METRICS:
		return metrics_addr(c, v, path);
	case LB_PEER:
		st->peer_node = v;
		return peer_addr(c, v, path);
	case LB_PEER_TIMEOUT_MS:
		if (number(c, v, path, "a number of milliseconds 50-60000", MIN_PEER_TIMEOUT_MS,
			   MAX_HEARTBEAT_MS, &num))
			return -1;
		cfg->peer_timeout_ms = (unsigned)num;
		st->peer_timeout_node = v;
		return 0;
	case LB_MANAGE_VIP:
		s = scalar(c, v, path, "true or false");
		if (!s)
			return -1;
		if (strcmp(s, "true") == 0) {
			cfg->manage_vip = 1;
		} else if (strcmp(s, "false") == 0) {
			cfg->manage_vip = 0;
		} else {
			quote_value(q, sizeof(q), s, 40);
			return fail(c, v, path, "expected true or false, got '%s'", q);
		}
		return 0;
	case LB_FANOUT:
		s = scalar(c, v, path, "tc or devmap");
		if (!s)
			return -1;
		if (strcmp(s, "tc") == 0) {
			cfg->fanout = DALIO_CFG_FANOUT_TC;
		} else if (strcmp(s, "devmap") == 0) {
			cfg->fanout = DALIO_CFG_FANOUT_DEVMAP;
		} else {
			quote_value(q, sizeof(q), s, 40);
			return fail(c, v, path, "expected tc or devmap, got '%s'", q);
		}
		st->fanout_node = v;
		return 0;
	}
	return 0;
}

static int lb_section(struct ctx *c, yaml_node_t *v, const char *path)
{
	struct lb_state st = {0};
	char fpath[PATH_LEN];

	if (walk_mapping(c, v, path, lb_fields, 1u << LB_INTERFACE, lb_field, &st))
		return -1;
	if (c->cfg->fanout == DALIO_CFG_FANOUT_DEVMAP && c->cfg->xdp_mode == DALIO_XDP_SKB) {
		join(fpath, path, "fanout");
		return fail(c, st.fanout_node, fpath,
			    "devmap fan-out needs native XDP (xdp_mode: native); with xdp_mode: "
			    "skb use fanout: tc");
	}
	/* The standby must not take over between two heartbeats of a live peer. */
	if (c->cfg->peer_ip && c->cfg->peer_timeout_ms < 2 * c->cfg->heartbeat_ms) {
		join(fpath, path, st.peer_timeout_node ? "peer_timeout_ms" : "peer");
		return fail(c, st.peer_timeout_node ? st.peer_timeout_node : st.peer_node, fpath,
			    "peer_timeout_ms (%u) must be at least twice heartbeat_ms (%u)",
			    c->cfg->peer_timeout_ms, c->cfg->heartbeat_ms);
	}
	return 0;
}

/* ---- shards ---- */

enum { SH_ID, SH_NAME, SH_VIP, SH_PORT, SH_MODE, SH_REPLICAS };
static const char *const shard_fields[] = {"id", "name", "vip", "port", "mode", "replicas", NULL};
#define SHARD_REQUIRED ((1u << SH_ID) | (1u << SH_VIP) | (1u << SH_PORT) | (1u << SH_REPLICAS))

struct shard_state {
	struct dalio_shard_def *s;
	unsigned idx;
	yaml_node_t *map, *name_node, *vip_node, *mode_node, *replicas_node;
	bool has_name;
};

static bool valid_name(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static int replica(struct ctx *c, yaml_node_t *v, const char *path, struct dalio_replica_def *r)
{
	const char *s = scalar(c, v, path, "IP:PORT");
	char buf[sizeof(r->addr)], q[64];
	unsigned long port;
	char *colon;

	if (!s)
		return -1;
	quote_value(q, sizeof(q), s, 40);
	if (strlen(s) >= sizeof(buf))
		return fail(c, v, path, "expected IP:PORT, got '%s'", q);
	strcpy(buf, s);
	colon = strrchr(buf, ':');
	if (!colon || strchr(buf, ':') != colon) {
		if (colon || strchr(buf, '['))
			return fail(c, v, path,
				    "an IPv4 address is needed, got '%s' (IPv6 is not supported)",
				    q);
		return fail(c, v, path, "expected IP:PORT (e.g. 10.0.0.1:7400), got '%s'", q);
	}
	*colon = '\0';
	if (ipv4(c, v, path, buf, &r->ip))
		return -1;
	if (parse_uint(colon + 1, 1, 65535, &port))
		return fail(c, v, path, "expected a port number 1-65535 after ':', got '%s'", q);
	strcpy(r->addr, s);
	r->port = (uint16_t)port;
	r->line = (int)v->start_mark.line + 1;
	r->col = (int)v->start_mark.column + 1;
	return 0;
}

static int replicas(struct ctx *c, yaml_node_t *v, const char *path, struct dalio_shard_def *sh)
{
	yaml_node_item_t *it;
	char epath[PATH_LEN];
	unsigned n = 0, j;

	if (expect_sequence(c, v, path, "IP:PORT strings"))
		return -1;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		struct dalio_replica_def *r;

		index_path(epath, path, n);
		if (!e)
			return fail(c, v, epath, "malformed sequence");
		if (n >= DALIO_MAX_REPLICAS)
			return fail(
				c, e, path, "too many replicas: %zu (at most %d per shard)",
				(size_t)(v->data.sequence.items.top - v->data.sequence.items.start),
				DALIO_MAX_REPLICAS);
		r = &sh->replicas[n];
		if (replica(c, e, epath, r))
			return -1;
		for (j = 0; j < n; j++)
			if (sh->replicas[j].ip == r->ip && sh->replicas[j].port == r->port)
				return fail(c, e, epath, "duplicate replica %s (same as %s[%u])",
					    r->addr, path, j);
	}
	if (n == 0)
		return fail(c, v, path, "at least one replica is needed (1-%d)",
			    DALIO_MAX_REPLICAS);
	sh->n_replicas = n;
	return 0;
}

static int shard_field(struct ctx *c, int idx, yaml_node_t *v, const char *path, void *arg)
{
	struct shard_state *st = arg;
	struct dalio_shard_def *sh = st->s;
	unsigned long num;
	const char *s;
	char q[64];
	unsigned j;

	switch (idx) {
	case SH_ID:
		snprintf(q, sizeof(q), "a shard id 0-%d", DALIO_MAX_SHARDS - 1);
		if (number(c, v, path, q, 0, DALIO_MAX_SHARDS - 1, &num))
			return -1;
		for (j = 0; j < st->idx; j++)
			if (c->cfg->shards[j].id == num)
				return fail(c, v, path,
					    "duplicate shard id %lu (also shards[%u], line %d)",
					    num, j, c->cfg->shards[j].line);
		sh->id = (unsigned)num;
		return 0;
	case SH_NAME:
		s = scalar(c, v, path, "a shard name");
		if (!s)
			return -1;
		quote_value(q, sizeof(q), s, 40);
		if (strlen(s) >= sizeof(sh->name))
			return fail(c, v, path, "name '%s' is too long (at most %zu characters)", q,
				    sizeof(sh->name) - 1);
		if (!valid_name(s))
			return fail(c, v, path,
				    "name '%s' may only contain letters, digits, '_', '-' and '.'",
				    q);
		strcpy(sh->name, s);
		st->name_node = v;
		st->has_name = true;
		return 0;
	case SH_VIP:
		s = scalar(c, v, path, "an IPv4 address");
		if (!s || ipv4(c, v, path, s, &sh->vip))
			return -1;
		st->vip_node = v;
		return 0;
	case SH_PORT:
		if (number(c, v, path, "a port number 1-65535", 1, 65535, &num))
			return -1;
		sh->port = (uint16_t)num;
		return 0;
	case SH_MODE:
		s = scalar(c, v, path, "pb or vr");
		if (!s)
			return -1;
		if (strcmp(s, "pb") == 0) {
			sh->mode = DALIO_MODE_PB;
		} else if (strcmp(s, "vr") == 0) {
			sh->mode = DALIO_MODE_VR;
		} else {
			quote_value(q, sizeof(q), s, 40);
			return fail(c, v, path, "expected pb or vr, got '%s'", q);
		}
		st->mode_node = v;
		return 0;
	case SH_REPLICAS:
		st->replicas_node = v;
		return replicas(c, v, path, sh);
	}
	return 0;
}

static int shard(struct ctx *c, yaml_node_t *map, const char *path, unsigned idx)
{
	struct dalio_shard_def *sh = &c->cfg->shards[idx];
	struct shard_state st = {.s = sh, .idx = idx, .map = map};
	char fpath[PATH_LEN];
	char addr[INET_ADDRSTRLEN];
	unsigned j;

	memset(sh, 0, sizeof(*sh));
	sh->mode = DALIO_MODE_PB;
	sh->line = (int)map->start_mark.line + 1;
	if (walk_mapping(c, map, path, shard_fields, SHARD_REQUIRED, shard_field, &st))
		return -1;
	if (sh->mode == DALIO_MODE_VR && (sh->n_replicas < 3 || sh->n_replicas % 2 == 0)) {
		join(fpath, path, "replicas");
		return fail(c, st.replicas_node, fpath,
			    "vr mode needs 2f+1 replicas (3, 5 or 7), got %u", sh->n_replicas);
	}
	if (!st.has_name)
		snprintf(sh->name, sizeof(sh->name), "shard%u", sh->id);
	for (j = 0; j < idx; j++) {
		const struct dalio_shard_def *o = &c->cfg->shards[j];

		if (o->vip == sh->vip && o->port == sh->port) {
			inet_ntop(AF_INET, &sh->vip, addr, sizeof(addr));
			join(fpath, path, "vip");
			return fail(c, st.vip_node, fpath,
				    "%s:%u is already served by shards[%u] (line %d)", addr,
				    sh->port, j, o->line);
		}
		if (strcmp(o->name, sh->name) == 0) {
			join(fpath, path, "name");
			return fail(c, st.has_name ? st.name_node : map, fpath,
				    "duplicate shard name '%s' (also shards[%u], line %d)",
				    sh->name, j, o->line);
		}
	}
	return 0;
}

static int shards(struct ctx *c, yaml_node_t *v, const char *path)
{
	yaml_node_item_t *it;
	char epath[PATH_LEN];
	unsigned n = 0;

	if (expect_sequence(c, v, path, "shards"))
		return -1;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, n++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);

		index_path(epath, path, n);
		if (!e)
			return fail(c, v, epath, "malformed sequence");
		if (n >= DALIO_MAX_SHARDS)
			return fail(
				c, e, path, "too many shards: %zu (at most %d)",
				(size_t)(v->data.sequence.items.top - v->data.sequence.items.start),
				DALIO_MAX_SHARDS);
		if (shard(c, e, epath, n))
			return -1;
		c->cfg->n_shards = n + 1;
	}
	if (n == 0)
		return fail(c, v, path, "at least one shard is needed (1-%d)", DALIO_MAX_SHARDS);
	return 0;
}

/* ---- top level ---- */

enum { TOP_LB, TOP_SHARDS };
static const char *const top_fields[] = {"lb", "shards", NULL};

static int top_field(struct ctx *c, int idx, yaml_node_t *v, const char *path, void *arg)
{
	(void)arg;
	if (idx == TOP_LB)
		return lb_section(c, v, path);
	return shards(c, v, path);
}

/* Line and column (1-based) of byte offset off in buf. */
static void offset_to_mark(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int yaml_error(struct ctx *c, yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	size_t line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail_at(c, 1, 1, NULL, "out of memory while parsing");
	case YAML_READER_ERROR:
		offset_to_mark(buf, len, p->problem_offset, &line, &col);
		return fail_at(c, line, col, NULL, "invalid input: %s", problem);
	default:
		if (p->problem_mark.index < len && buf[p->problem_mark.index] == '\t')
			return fail_at(c, p->problem_mark.line + 1, p->problem_mark.column + 1,
				       NULL, "YAML syntax error: %s (tabs cannot indent YAML)",
				       problem);
		if (p->context)
			return fail_at(c, p->problem_mark.line + 1, p->problem_mark.column + 1,
				       NULL, "YAML syntax error: %s (%s that starts at line %zu)",
				       problem, p->context, p->context_mark.line + 1);
		return fail_at(c, p->problem_mark.line + 1, p->problem_mark.column + 1, NULL,
			       "YAML syntax error: %s", problem);
	}
}

static int parse_buffer(const char *buf, size_t len, const char *name, struct dalio_config *cfg,
			char *err, size_t errlen)
{
	struct ctx c = {.name = name, .err = err, .errlen = errlen, .cfg = cfg};
	yaml_document_t doc, extra;
	yaml_parser_t parser;
	yaml_node_t *root, *x;
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	cfg->xdp_mode = DALIO_XDP_NATIVE;
	snprintf(cfg->pin_path, sizeof(cfg->pin_path), "%s", DALIO_CFG_DEFAULT_PIN_PATH);
	cfg->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
	cfg->suspect_after = DEFAULT_SUSPECT_AFTER;
	cfg->fail_after = DEFAULT_FAIL_AFTER;
	cfg->metrics_ip = htonl(INADDR_LOOPBACK);
	cfg->metrics_port = DALIO_CFG_DEFAULT_METRICS_PORT;
	cfg->peer_timeout_ms = DALIO_CFG_DEFAULT_PEER_TIMEOUT_MS;
	cfg->manage_vip = 1;

	if (!yaml_parser_initialize(&parser))
		return fail_at(&c, 1, 1, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_error(&c, &parser, buf, len);
		goto out_parser;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		fail_at(&c, 1, 1, NULL, "the configuration is empty (expected 'lb' and 'shards')");
		goto out_doc;
	}
	if (walk_mapping(&c, root, "", top_fields, (1u << TOP_LB) | (1u << TOP_SHARDS), top_field,
			 NULL))
		goto out_doc;
	/* A second document would silently be ignored: refuse it (empty ones are harmless). */
	for (;;) {
		if (!yaml_parser_load(&parser, &extra)) {
			yaml_error(&c, &parser, buf, len);
			break;
		}
		x = yaml_document_get_root_node(&extra);
		if (!x) {
			rc = 0;
		} else if (x->type != YAML_SCALAR_NODE || x->data.scalar.length) {
			fail(&c, x, NULL, "only one YAML document is allowed");
			x = NULL;
		}
		yaml_document_delete(&extra);
		if (!x)
			break;
	}
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	if (rc) {
		memset(cfg, 0, sizeof(*cfg));
		snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	}
	return rc;
}

int dalio_config_parse_string(const char *yaml, const char *name_for_errors,
			      struct dalio_config *cfg, char *err, size_t errlen)
{
	const char *name = name_for_errors ? name_for_errors : "<string>";

	if (err && errlen)
		err[0] = '\0';
	return parse_buffer(yaml, strlen(yaml), name, cfg, err, errlen);
}

int dalio_config_load(const char *path, struct dalio_config *cfg, char *err, size_t errlen)
{
	size_t len = 0, n;
	char *buf;
	FILE *f;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "r");
	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(MAX_FILE_SIZE + 1);
	if (!buf) {
		fclose(f);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while ((n = fread(buf + len, 1, MAX_FILE_SIZE + 1 - len, f)) > 0) {
		len += n;
		if (len > MAX_FILE_SIZE)
			break;
	}
	if (ferror(f) || len > MAX_FILE_SIZE) {
		int e = errno;

		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 ferror(f) ? strerror(e) : "file is larger than 1 MiB");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[len] = '\0';
	rc = parse_buffer(buf, len, path, cfg, err, errlen);
	free(buf);
	return rc;
}
