/* SPDX-License-Identifier: MIT */
/*
 * Packet helpers shared by the XDP and tc programs: bounds-checked parsing of
 * Ethernet/IPv4/UDP/Dalio headers and checksum repair after a rewrite.
 *
 * Checksum rule: the IPv4 header checksum is recomputed; the UDP checksum is
 * updated incrementally (RFC 1624) from a snapshot of every field the rewrite
 * may touch. A zero UDP checksum (none) stays zero; a computed zero is sent as
 * 0xffff.
 */
#ifndef DALIO_PKT_BPF_H
#define DALIO_PKT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dalio/wire.h"

#ifndef READ_ONCE
#define READ_ONCE(x)	 (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#endif

#define ETH_P_IP     0x0800
#define IPPROTO_UDP_ 17
#define IP_MF	     0x2000
#define IP_OFFMASK   0x1fff

struct dalio_pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	struct dalio_hdr *dh;
	__u32 payload_len; /* UDP payload bytes: header + key + body */
	__u32 ifindex;	   /* XDP: the interface the frame came in on */
};

/*
 * Finds an unfragmented IPv4/UDP packet without IP options. Returns 0 and
 * fills eth/ip/udp, or -1 for anything else (which is not Dalio's).
 */
static __always_inline int parse_udp(void *data, void *data_end, struct dalio_pkt *p)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->version != 4 ||
	    ip->protocol != IPPROTO_UDP_ || (ip->frag_off & bpf_htons(IP_MF | IP_OFFMASK)))
		return -1;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return -1;
	p->eth = eth;
	p->ip = ip;
	p->udp = udp;
	return 0;
}

/*
 * Validates the Dalio header after the UDP header: present, right magic and
 * version, UDP length consistent with the frame. Returns 0 or -1.
 */
static __always_inline int parse_dalio(void *data_end, struct dalio_pkt *p)
{
	struct dalio_hdr *dh = (void *)(p->udp + 1);
	__u32 udp_len, avail;

	if ((void *)(dh + 1) > data_end)
		return -1;
	if (dh->magic != bpf_htonl(DALIO_MAGIC) || dh->version != DALIO_VERSION)
		return -1;
	udp_len = bpf_ntohs(p->udp->len);
	avail = (__u32)((long)data_end - (long)p->udp);
	if (udp_len < sizeof(struct udphdr) + sizeof(*dh) || udp_len > avail)
		return -1;
	p->dh = dh;
	p->payload_len = udp_len - sizeof(struct udphdr);
	return 0;
}

/* Everything a rewrite may change that the UDP checksum covers. */
struct pkt_snapshot {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	struct dalio_hdr hdr;
};

static __always_inline void snapshot_take(struct pkt_snapshot *s, const struct dalio_pkt *p,
					  int with_hdr)
{
	s->saddr = p->ip->saddr;
	s->daddr = p->ip->daddr;
	s->sport = p->udp->source;
	s->dport = p->udp->dest;
	if (with_hdr)
		__builtin_memcpy(&s->hdr, p->dh, sizeof(s->hdr));
}

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Adds (~old + new) for n 16-bit words: the RFC 1624 update of a sum. */
static __always_inline __u64 csum_delta(__u64 acc, const __u16 *old, const __u16 *new, int n)
{
#pragma unroll
	for (int i = 0; i < n; i++)
		acc += (__u16)~old[i] + (__u32) new[i];
	return acc;
}

static __always_inline void ip_csum_recompute(struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;

	ip->check = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	ip->check = ~csum_fold(sum);
}

/*
 * Repairs both checksums after addresses, ports and (if with_hdr) the Dalio
 * header were rewritten in place; old is the snapshot taken before.
 */
static __always_inline void csum_fix(struct dalio_pkt *p, const struct pkt_snapshot *old,
				     int with_hdr)
{
	__u64 acc;
	__u16 check;

	ip_csum_recompute(p->ip);
	if (p->udp->check == 0)
		return; /* sender used no UDP checksum: keep it that way */
	acc = (__u16)~p->udp->check;
	acc = csum_delta(acc, (const __u16 *)&old->saddr, (const __u16 *)&p->ip->saddr, 4);
	acc = csum_delta(acc, (const __u16 *)&old->sport, (const __u16 *)&p->udp->source, 2);
	if (with_hdr)
		acc = csum_delta(acc, (const __u16 *)&old->hdr, (const __u16 *)p->dh,
				 sizeof(struct dalio_hdr) / 2);
	check = ~csum_fold(acc);
	p->udp->check = check ? check : 0xffff;
}

#endif /* DALIO_PKT_BPF_H */
