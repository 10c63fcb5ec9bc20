/* SPDX-License-Identifier: MIT */
/*
 * The agent's HTTP endpoint on lb.metrics: a small HTTP/1.0 server on the
 * agent's event loop (non-blocking, one request per connection, bounded
 * request size, at most METRICS_MAX_CONNS connections at a time (more wait in
 * the listen backlog), each closed once answered and the client has closed its
 * side, or after METRICS_CONN_TIMEOUT_MS). Serves
 *   GET /metrics  Prometheus text format (metrics_fmt.h), read from the maps
 *   GET /status   the dalio-ctl status table, with the agent's replica states
 */
#ifndef DALIO_AGENT_METRICS_H
#define DALIO_AGENT_METRICS_H

#include <stddef.h>

#include "agent.h"

#define METRICS_MAX_CONNS	8
#define METRICS_MAX_REQUEST	4096
#define METRICS_CONN_TIMEOUT_MS 5000
/* One shard's dirty table and pending ring are scanned every this many ms
 * (about 5 ms of work each); scrapes show the last scan. */
#define METRICS_SCAN_MS 100

/* Listens on cfg.metrics (nothing when it is off) and registers with a->loop.
 * 0, or -1 with err set (e.g. the port is taken). */
int metrics_start(struct agent *a, char *err, size_t errlen);
/* Closes the listener and every connection. */
void metrics_stop(struct agent *a);

#endif
