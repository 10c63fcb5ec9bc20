/* SPDX-License-Identifier: MIT */
/*
 * Sending frames out of the right interface of a multi-homed LB, and the
 * devmap broadcast fan-out of writes (docs/lb-datapath.md, "Multi-homed LB").
 *
 * Every replica_map entry names the interface its replica is reached through
 * (and that interface's MAC); lb_cfg names the client-facing one. A frame whose
 * target sits behind the interface it came in on leaves with XDP_TX, exactly as
 * on a one-armed LB; otherwise it is redirected with the target interface's MAC
 * as source.
 *
 * Devmap fan-out: XDP cannot clone, but a redirect into a devmap with
 * BPF_F_BROADCAST sends one copy out of every interface in it, and each copy
 * passes the devmap egress program of its interface. That program knows only
 * the egress ifindex and the frame, so the frame carries what it needs: the
 * shard (the WRITE header's shard field) and the replicas to copy to (the mask
 * XDP chose when it sequenced the write, in the header's reserved field, which
 * is 0 again before the copy leaves the LB). Carrying the mask in the frame
 * keeps the copy set exactly the one recorded in the write's pending slot even
 * if the agent changes the write set in between, and it works where XDP
 * metadata does not reach the egress program.
 */
#ifndef DALIO_FWD_BPF_H
#define DALIO_FWD_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"
#include "dalio_maps.bpf.h"

/* lb_cfg[0]: fan-out mode and the client-facing interface. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dalio_lb_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_cfg SEC(".maps");

/* ifindex -> {ifindex, devmap egress program}: every interface a replica is
 * reached through, each once. Agent-written; the broadcast target. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, DALIO_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tx_ports SEC(".maps");

/* High byte of the WRITE's reserved field between XDP and the devmap egress
 * program; the low byte is the copy mask (DALIO_MAX_REPLICAS is 8). */
#define FWD_MASK_TAG  0xd100
#define FWD_TAG_MASK  0xff00
#define FWD_COPY_MASK 0x00ff

/* RFC 1624 update of a UDP checksum for one 16-bit word changed from o to n. */
static __always_inline void fwd_udp_csum_replace16(struct udphdr *udp, __u16 o, __u16 n)
{
	__u64 acc;
	__u16 check;

	if (udp->check == 0)
		return; /* no checksum: keep it that way */
	acc = (__u16)~udp->check + (__u32)(__u16)~o + (__u32)n;
	check = ~csum_fold(acc);
	udp->check = check ? check : 0xffff;
}

static __always_inline struct dalio_lb_cfg *fwd_lb_cfg(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&lb_cfg, &k);
}

/* Non-zero when writes fan out through the devmap. */
static __always_inline int fwd_fanout_devmap(void)
{
	struct dalio_lb_cfg *lc = fwd_lb_cfg();

	return lc && lc->fanout == DALIO_FANOUT_DEVMAP;
}

/*
 * Redirects to ifindex. An interface of tx_ports is reached through tx_ports
 * (its egress program passes frames without a copy mask unchanged): the kernel
 * keeps one egress program per device bulk queue, the one of the first frame
 * queued to that device in a NAPI poll, so a plain bpf_redirect to the same
 * device would either send the broadcast copies queued after it without their
 * rewrite, or run the egress program on the redirected frame.
 */
static __always_inline int fwd_redirect(__u32 ifindex)
{
	long rc = bpf_redirect_map(&tx_ports, ifindex, 0);

	if (rc == XDP_REDIRECT)
		return XDP_REDIRECT;
	return bpf_redirect(ifindex, 0); /* not in tx_ports (tc mode, clients) */
}

/*
 * Verdict for a frame already rewritten for replica rep (destination MAC
 * included): XDP_TX when rep sits behind the interface the frame came in on,
 * else a redirect to rep's interface with that interface's MAC as source.
 */
static __always_inline int fwd_to_replica(struct dalio_pkt *p, const struct dalio_replica *rep)
{
	__u32 ifindex = rep->ifindex;

	if (!ifindex || ifindex == p->ifindex)
		return XDP_TX;
	__builtin_memcpy(p->eth->h_source, rep->src_mac, 6);
	return fwd_redirect(ifindex);
}

/* The same for a frame rewritten for the client: out of lb_cfg's interface. */
static __always_inline int fwd_to_client(struct dalio_pkt *p)
{
	struct dalio_lb_cfg *lc = fwd_lb_cfg();
	__u32 ifindex;

	if (!lc)
		return XDP_TX;
	ifindex = lc->client_ifindex;
	if (!ifindex || ifindex == p->ifindex)
		return XDP_TX;
	__builtin_memcpy(p->eth->h_source, lc->client_mac, 6);
	return fwd_redirect(ifindex);
}

/*
 * Broadcasts a sequenced WRITE (already rewritten from the VIP) to every
 * interface of tx_ports; the egress program of each makes it the copy for the
 * replica of mask behind it, or drops it. The ingress interface is not
 * excluded: a replica may sit behind the interface the write came in on.
 */
static __always_inline int fwd_write_devmap(struct dalio_pkt *p, __u32 mask)
{
	__u16 o = p->dh->reserved, n = bpf_htons(FWD_MASK_TAG | (mask & FWD_COPY_MASK));

	p->dh->reserved = n;
	fwd_udp_csum_replace16(p->udp, o, n);
	return bpf_redirect_map(&tx_ports, 0, BPF_F_BROADCAST);
}

/*
 * The devmap egress program's work for one frame leaving by egress_ifindex.
 * A broadcast copy of a write (copy mask in reserved): find the replica of the
 * mask reached through that interface, rewrite the copy for it (MACs,
 * destination address and port, reserved back to 0, checksums) and send it, or
 * drop the copy when no such replica exists. The agent guarantees at most one
 * replica of a shard per interface in devmap mode. Any other frame was
 * redirected here already rewritten for its target (fwd_redirect): send it as
 * it is.
 */
static __always_inline int fwd_devmap_egress(struct xdp_md *ctx, __u32 egress_ifindex)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct dalio_replica *rep = NULL;
	struct pkt_snapshot old;
	struct dalio_pkt p = {};
	struct dalio_stats *st;
	__u32 shard, tag, mask;

	if (parse_udp(data, data_end, &p) || parse_dalio(data_end, &p))
		return XDP_PASS;
	tag = bpf_ntohs(p.dh->reserved);
	if ((p.dh->type != DALIO_T_WRITE && p.dh->type != DALIO_T_PREPARE) ||
	    (tag & FWD_TAG_MASK) != FWD_MASK_TAG)
		return XDP_PASS; /* not a broadcast copy */
	shard = bpf_ntohs(p.dh->shard);
	if (shard >= DALIO_MAX_SHARDS)
		return XDP_DROP;
	mask = tag & FWD_COPY_MASK;
	st = bpf_map_lookup_elem(&stats_map, &shard);
	for (__u32 i = 0; i < DALIO_MAX_REPLICAS; i++) {
		struct dalio_replica *r;

		if (!(mask & (1u << i)))
			continue;
		r = replica_lookup(shard, i);
		if (r && r->valid && r->ifindex == egress_ifindex) {
			rep = r;
			break;
		}
	}
	if (!rep) {
		stat_inc(st, DALIO_STAT_DEVMAP_SKIPPED);
		return XDP_DROP;
	}
	snapshot_take(&old, &p, 0);
	fwd_udp_csum_replace16(p.udp, p.dh->reserved, 0);
	p.dh->reserved = 0;
	__builtin_memcpy(p.eth->h_source, rep->src_mac, 6);
	__builtin_memcpy(p.eth->h_dest, rep->mac, 6);
	p.ip->daddr = rep->ip;
	p.udp->dest = rep->port;
	csum_fix(&p, &old, 0);
	stat_inc(st, DALIO_STAT_DEVMAP_COPIES);
	return XDP_PASS;
}

#endif /* DALIO_FWD_BPF_H */
