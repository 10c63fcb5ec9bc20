/* SPDX-License-Identifier: MIT */
/*
 * SIGHUP: re-reads shards.yaml and applies what changed to the running data
 * path without stopping it: shards added or removed, replicas added (they
 * join and catch up), drained and removed, failure-detection multiples.
 * docs/membership.md, "Live changes".
 */
#ifndef DALIO_AGENT_RELOAD_H
#define DALIO_AGENT_RELOAD_H

struct agent;

void agent_reload(struct agent *a);

#endif /* DALIO_AGENT_RELOAD_H */
