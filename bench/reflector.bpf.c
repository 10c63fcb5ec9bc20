// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * reflector: the ceiling for one pass through the LB (bench/). Attached to
 * the LB's interface instead of Dalio's data path, it answers every Dalio
 * REQUEST to UDP port 7379 itself with XDP_TX: addresses swapped, the header
 * turned into a REPLY (status OK, key_len 0) and the body replaced by the
 * smallest reply that dalio-bench accepts ("+OK" for a write, nil for a read),
 * the frame trimmed to fit. No maps, no state: parse, rewrite, transmit.
 * Everything else passes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio_pkt.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define REFLECT_PORT 7379
#define BODY_LEN     5

SEC("xdp")
int reflector(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct dalio_pkt p = {};
	__u8 mac[6], *body;
	__be32 addr;
	__be16 port;
	int len, want, write;

	if (parse_udp(data, data_end, &p) || p.udp->dest != bpf_htons(REFLECT_PORT) ||
	    parse_dalio(data_end, &p) || p.dh->type != DALIO_T_REQUEST)
		return XDP_PASS;
	write = !!(p.dh->flags & bpf_htons(DALIO_F_WRITE));
	len = (int)((long)data_end - (long)data);
	want = (int)(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr) +
		     sizeof(struct dalio_hdr) + BODY_LEN);
	body = (__u8 *)(p.dh + 1);
	if (len < want || (void *)(body + BODY_LEN) > data_end)
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
	port = p.udp->source;
	p.udp->source = p.udp->dest;
	p.udp->dest = port;
	p.udp->len = bpf_htons((__u16)(sizeof(struct udphdr) + sizeof(struct dalio_hdr) + BODY_LEN));
	p.udp->check = 0; /* none: allowed for UDP over IPv4 */
	p.dh->type = DALIO_T_REPLY;
	p.dh->status = DALIO_S_OK;
	p.dh->key_len = 0;
	if (write)
		__builtin_memcpy(body, "+OK\r\n", BODY_LEN);
	else
		__builtin_memcpy(body, "$-1\r\n", BODY_LEN);
	if (len > want && bpf_xdp_adjust_tail(ctx, want - len))
		return XDP_DROP;
	return XDP_TX;
}
