/* SPDX-License-Identifier: MIT */
/*
 * Shared by the benchmark's XDP responders (reflector.bpf.c,
 * null_replica.bpf.c): turns a Dalio datagram around to its sender as a
 * message of type `type` with the smallest body dalio-bench accepts ("+OK"
 * for a write, nil for a read), key_len 0, the rest of the header echoed,
 * the frame trimmed to fit, and XDP_TX. Anything else passes.
 */
#ifndef DALIO_BENCH_ANSWER_BPF_H
#define DALIO_BENCH_ANSWER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"

#define ANSWER_BODY_LEN 5

/* in_type -> out_type for Dalio datagrams to UDP port `port`. */
static __always_inline int answer(struct xdp_md *ctx, __u16 port, __u8 in_type, __u8 out_type,
				  __u8 in_type2, __u8 out_type2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct dalio_pkt p = {};
	__u8 mac[6], *body, out;
	__be32 addr;
	__be16 sport;
	int len, want, write;

	if (parse_udp(data, data_end, &p) || p.udp->dest != bpf_htons(port) ||
	    parse_dalio(data_end, &p))
		return XDP_PASS;
	if (p.dh->type == in_type)
		out = out_type;
	else if (in_type2 && p.dh->type == in_type2)
		out = out_type2;
	else
		return XDP_PASS;
	write = p.dh->type == DALIO_T_WRITE || !!(p.dh->flags & bpf_htons(DALIO_F_WRITE));
	len = (int)((long)data_end - (long)data);
	want = (int)(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr) +
		     sizeof(struct dalio_hdr) + ANSWER_BODY_LEN);
	body = (__u8 *)(p.dh + 1);
	if (len < want || (void *)(body + ANSWER_BODY_LEN) > data_end)
		return XDP_PASS;

	/* Rewrite everything in place first: the frame is only trimmed last. */
	__builtin_memcpy(mac, p.eth->h_source, 6);
	__builtin_memcpy(p.eth->h_source, p.eth->h_dest, 6);
	__builtin_memcpy(p.eth->h_dest, mac, 6);
	addr = p.ip->saddr;
	p.ip->saddr = p.ip->daddr;
	p.ip->daddr = addr;
	p.ip->tot_len = bpf_htons((__u16)(want - sizeof(struct ethhdr)));
	ip_csum_recompute(p.ip);
	sport = p.udp->source;
	p.udp->source = p.udp->dest;
	p.udp->dest = sport;
	p.udp->len = bpf_htons(
		(__u16)(sizeof(struct udphdr) + sizeof(struct dalio_hdr) + ANSWER_BODY_LEN));
	p.udp->check = 0; /* none: allowed for UDP over IPv4 */
	p.dh->type = out;
	p.dh->status = DALIO_S_OK;
	p.dh->key_len = 0;
	if (write)
		__builtin_memcpy(body, "+OK\r\n", ANSWER_BODY_LEN);
	else
		__builtin_memcpy(body, "$-1\r\n", ANSWER_BODY_LEN);
	if (len > want && bpf_xdp_adjust_tail(ctx, want - len))
		return XDP_DROP;
	return XDP_TX;
}

#endif /* DALIO_BENCH_ANSWER_BPF_H */
