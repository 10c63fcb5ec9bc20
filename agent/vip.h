/* SPDX-License-Identifier: MIT */
/*
 * Moving the shards' VIPs to this LB when a standby takes over (lb.manage_vip,
 * docs/vr.md "LB failover"): VIP/32 on lb.interface through rtnetlink, then
 * gratuitous ARP so that clients and replicas send to this LB's MAC.
 */
#ifndef DALIO_AGENT_VIP_H
#define DALIO_AGENT_VIP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define VIP_GARP_COUNT	  3  /* gratuitous ARPs per VIP */
#define VIP_GARP_INTERVAL 20 /* ms between them */

/*
 * Adds every distinct shard VIP of cfg to cfg->interface (an address already
 * there is fine and is not ours to remove), then sends VIP_GARP_COUNT
 * gratuitous ARP requests for each, VIP_GARP_INTERVAL ms apart (blocks about
 * 40 ms). 0, or -1 with a message in err (the VIPs added so far stay and are
 * remembered for vip_release). A failed gratuitous ARP is only logged.
 */
int vip_takeover(const struct dalio_config *cfg, char *err, size_t errlen);
/* Sends the gratuitous ARPs for every shard VIP of cfg (no address change). */
int vip_announce(const struct dalio_config *cfg, char *err, size_t errlen);
/* Removes the VIPs vip_takeover added (not those that were there before). */
void vip_release(const struct dalio_config *cfg);

#endif /* DALIO_AGENT_VIP_H */
