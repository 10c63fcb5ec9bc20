// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * dalio_fanout: tc ingress program that copies a sequenced write to every
 * replica XDP named in the packet's metadata (XDP cannot clone).
 *
 * The copies are made iteratively on one skb: rewrite for replica i,
 * bpf_clone_redirect() it out of the replica's interface (on a one-armed LB the
 * one it came in on), rewrite for the next, and bpf_redirect() the original to
 * the last replica. No recursion, so the kernel's transmit recursion limit
 * never applies. Packets without Dalio metadata pass untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"
#include "dalio_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* Points p at the packet's headers again (clone_redirect invalidates them). */
static __always_inline int reparse(struct __sk_buff *skb, struct dalio_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (parse_udp(data, data_end, p))
		return -1;
	return parse_dalio(data_end, p);
}

SEC("tc")
int dalio_fanout(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct dalio_meta *meta = (void *)(long)skb->data_meta;
	__u32 shard, mask, ifindex = skb->ifindex;
	struct dalio_stats *st;
	struct dalio_pkt p = {};
	__u8 lb_mac[6];

	if ((void *)(meta + 1) > data || meta->magic != DALIO_META_MAGIC)
		return TC_ACT_OK;
	shard = meta->shard;
	mask = meta->mask;
	if (shard >= DALIO_MAX_SHARDS)
		return TC_ACT_SHOT;
	st = bpf_map_lookup_elem(&stats_map, &shard);
	if (bpf_skb_pull_data(skb, 0) || reparse(skb, &p))
		return TC_ACT_SHOT;
	__builtin_memcpy(lb_mac, p.eth->h_dest, 6);

	for (__u32 i = 0; i < DALIO_MAX_REPLICAS; i++) {
		struct dalio_replica *rep;
		struct pkt_snapshot old;
		__u32 out = ifindex;

		if (!(mask & (1u << i)))
			continue;
		mask &= ~(1u << i);
		rep = replica_lookup(shard, i);
		if (!rep || !rep->valid)
			continue;
		if (reparse(skb, &p))
			return TC_ACT_SHOT;
		snapshot_take(&old, &p, 0);
		if (rep->ifindex && rep->ifindex != ifindex) {
			/* multi-homed LB: out of the replica's own interface */
			out = rep->ifindex;
			__builtin_memcpy(p.eth->h_source, rep->src_mac, 6);
		} else {
			__builtin_memcpy(p.eth->h_source, lb_mac, 6);
		}
		__builtin_memcpy(p.eth->h_dest, rep->mac, 6);
		p.ip->daddr = rep->ip;
		p.udp->dest = rep->port;
		csum_fix(&p, &old, 0);
		stat_inc(st, DALIO_STAT_FANOUT_COPIES);
		if (!mask)
			return bpf_redirect(out, 0);
		bpf_clone_redirect(skb, out, 0);
	}
	return TC_ACT_SHOT;
}
