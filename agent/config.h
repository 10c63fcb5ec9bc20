/* SPDX-License-Identifier: MIT */
/*
 * dalio-agent's configuration: the in-memory form of shards.yaml and its
 * loader. Parsing and every validation rule live in agent/config.c; the
 * schema is described in docs/configuration.md.
 */
#ifndef DALIO_AGENT_CONFIG_H
#define DALIO_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "dalio/lb_types.h"

#define DALIO_CFG_DEFAULT_PIN_PATH "/sys/fs/bpf/dalio"
/* lb.metrics default: the agent's HTTP endpoint (Prometheus) on loopback. */
#define DALIO_CFG_DEFAULT_METRICS_PORT 9464
/* lb.peer_timeout_ms default. */
#define DALIO_CFG_DEFAULT_PEER_TIMEOUT_MS 500

enum dalio_xdp_mode { DALIO_XDP_NATIVE = 0, DALIO_XDP_SKB = 1 };
/* lb.fanout: how a write reaches every replica (values of lb_types.h's DALIO_FANOUT_*). */
enum dalio_fanout_mode { DALIO_CFG_FANOUT_TC = 0, DALIO_CFG_FANOUT_DEVMAP = 1 };

struct dalio_replica_def {
	char addr[64]; /* as written, "IP:PORT" */
	uint32_t ip;   /* network order */
	uint16_t port; /* host order */
	int line;      /* 1-based line in the file */
	int col;       /* and column */
};

struct dalio_shard_def {
	unsigned id;
	char name[32];
	uint32_t vip;  /* network order */
	uint16_t port; /* host order */
	int mode;      /* DALIO_MODE_PB or DALIO_MODE_VR */
	unsigned n_replicas;
	struct dalio_replica_def replicas[DALIO_MAX_REPLICAS];
	int line; /* 1-based line of the shard's first field */
};

/* vr: the f+1 of a shard's 2f+1 replicas that commit an op or a view. */
static inline unsigned shard_quorum(const struct dalio_shard_def *s)
{
	return s->n_replicas / 2 + 1;
}

struct dalio_config {
	char path[256];
	char interface[16];	      /* lb.interface, required */
	enum dalio_xdp_mode xdp_mode; /* lb.xdp_mode: native|skb, default native */
	char pin_path[200];	      /* lb.pin_path, default DALIO_CFG_DEFAULT_PIN_PATH */
	unsigned heartbeat_ms;	      /* lb.heartbeat_ms: PING period, default 50 */
	unsigned suspect_after;	      /* lb.suspect_after: silent intervals to suspect, default 3 */
	unsigned fail_after;	      /* lb.fail_after: silent intervals to fail, default 6 */
	enum dalio_fanout_mode fanout; /* lb.fanout: tc|devmap, default tc */
	uint32_t metrics_ip;	       /* lb.metrics address (network order), default 127.0.0.1 */
	uint16_t metrics_port;	       /* lb.metrics port (host order), default 9464; 0 = off */
	/* LB failover (docs/vr.md): the other LB, both configs name each other. */
	uint32_t peer_ip;	  /* lb.peer address (network order); 0 = no peer */
	uint16_t peer_port;	  /* lb.peer control port (host order), also our own */
	unsigned peer_timeout_ms; /* lb.peer_timeout_ms: silence before taking over, default 500 */
	int manage_vip; /* lb.manage_vip: add VIPs + gratuitous ARP on takeover, default 1 */
	unsigned n_shards;
	struct dalio_shard_def shards[DALIO_MAX_SHARDS];
};

/*
 * Both return 0 on success and fill cfg. On failure they return -1, zero cfg
 * and put one message in err (if err is not NULL):
 *   "<file>:<line>:<col>: <field path>: <what is wrong>"
 * e.g. "bad.yaml:9:11: shards[1].port: expected a port number 1-65535, got 'abc'".
 * Lines and columns are 1-based. Only the first problem found is reported.
 */
int dalio_config_load(const char *path, struct dalio_config *cfg, char *err, size_t errlen);
/* Parses the NUL-terminated yaml; name_for_errors is used as <file> and cfg->path. */
int dalio_config_parse_string(const char *yaml, const char *name_for_errors,
			      struct dalio_config *cfg, char *err, size_t errlen);

#endif /* DALIO_AGENT_CONFIG_H */
