/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the LB's XDP program through BPF_PROG_TEST_RUN: crafted
 * packets in, verdict, rewritten packet and map state out. Needs root (or
 * CAP_BPF + CAP_NET_ADMIN); maps are not pinned.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dalio/codec.h"
#include "dalio/lb_types.h"
#include "dalio_lb.skel.h"
#include "devmap_egress_test.skel.h"

#define SHARD  3
#define VIP    "10.77.0.100"
#define VPORT  7379
#define CLIENT "10.77.0.2"
#define CPORT  40000
#define NREP   3

static const uint8_t lb_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
static const uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const char *rep_ip[NREP] = {"10.77.0.11", "10.77.0.12", "10.77.0.13"};
static const uint16_t rep_port = 7400;

struct fixture {
	struct dalio_lb *skel;
	int prog;
};

/* A frame as the test crafts it and as the program returns it. */
struct frame {
	uint16_t align_ip; /* puts the IP header (buf + 14) on a 4-byte boundary */
	uint8_t buf[2048];
	uint32_t len;
} __attribute__((aligned(8)));

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

/* Full UDP checksum over pseudo-header and datagram, as a receiver checks it. */
static uint16_t udp_csum(const struct iphdr *ip, const struct udphdr *udp, size_t ulen)
{
	uint32_t sum = sum16(&ip->saddr, 8, 0);

	sum += IPPROTO_UDP + (uint32_t)ulen;
	sum = sum16(udp, ulen, sum);
	return (uint16_t)~fold(sum);
}

static struct iphdr *frame_ip(struct frame *f)
{
	return (struct iphdr *)(f->buf + sizeof(struct ethhdr));
}

static struct udphdr *frame_udp(struct frame *f)
{
	return (struct udphdr *)(frame_ip(f) + 1);
}

static struct dalio_hdr *frame_dalio(struct frame *f)
{
	return (struct dalio_hdr *)(frame_udp(f) + 1);
}

/* Builds eth/IPv4/UDP around a Dalio payload with correct checksums. */
static void frame_build(struct frame *f, const uint8_t *smac, const char *sip, uint16_t sport,
			const char *dip, uint16_t dport, const void *payload, size_t plen)
{
	struct ethhdr *eth = (struct ethhdr *)f->buf;
	struct iphdr *ip = frame_ip(f);
	struct udphdr *udp = frame_udp(f);
	size_t ulen = sizeof(*udp) + plen;

	memset(f, 0, sizeof(*f));
	memcpy(eth->h_source, smac, 6);
	memcpy(eth->h_dest, lb_mac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + ulen));
	ip->saddr = ip4(sip);
	ip->daddr = ip4(dip);
	ip->check = htons((uint16_t)~fold(sum16(ip, sizeof(*ip), 0)));
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons((uint16_t)ulen);
	memcpy(udp + 1, payload, plen);
	udp->check = htons(udp_csum(ip, udp, ulen));
	if (!udp->check)
		udp->check = 0xffff;
	f->len = (uint32_t)(sizeof(*eth) + sizeof(*ip) + ulen);
}

static void assert_checksums_valid(struct frame *f)
{
	struct iphdr *ip = frame_ip(f);
	struct udphdr *udp = frame_udp(f);

	assert_int_equal(fold(sum16(ip, sizeof(*ip), 0)), 0xffff);
	assert_int_equal(udp_csum(ip, udp, ntohs(udp->len)), 0);
}

static size_t dalio_payload(uint8_t *out, uint8_t type, uint16_t flags, uint16_t shard,
			    uint64_t cid, uint64_t rid, uint64_t seq, const char *key,
			    const char *body)
{
	struct dalio_msg m = {
		.type = type,
		.flags = flags,
		.shard = shard,
		.client_id = cid,
		.request_id = rid,
		.seq = seq,
		.key = (const uint8_t *)key,
		.key_len = key ? (uint16_t)strlen(key) : 0,
		.body = (const uint8_t *)body,
		.body_len = body ? strlen(body) : 0,
	};
	long n = dalio_encode(&m, out, 1500, NULL);

	assert_true(n > 0);
	return (size_t)n;
}

/* Client request to the VIP. */
static void make_request(struct frame *f, int write, const char *key, uint64_t rid)
{
	uint8_t p[1500];
	const char *body = write ? "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
				 : "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	size_t n = dalio_payload(p, DALIO_T_REQUEST, write ? DALIO_F_WRITE : 0, DALIO_SHARD_ANY,
				 0xc11e47, rid, 0, key, body);

	frame_build(f, client_mac, CLIENT, CPORT, VIP, VPORT, p, n);
}

/* What a replica sends back for a WRITE or READ: the header echoed. */
static void make_answer(struct frame *f, const struct frame *orig, uint8_t type, const char *src_ip,
			uint16_t src_port)
{
	uint8_t p[1500];
	struct dalio_hdr h;
	const char *reply = "+OK\r\n";

	memcpy(&h, frame_dalio((struct frame *)orig), sizeof(h));
	h.type = type;
	h.key_len = 0;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), reply, strlen(reply));
	frame_build(f, client_mac, src_ip, src_port, VIP, VPORT, p, sizeof(h) + strlen(reply));
}

static int run(struct fixture *fx, struct frame *in, struct frame *out, uint32_t *meta_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->buf, .data_size_in = in->len,
		    .data_out = out->buf, .data_size_out = sizeof(out->buf), .repeat = 1);
	int rc = bpf_prog_test_run_opts(fx->prog, &opts);

	assert_int_equal(rc, 0);
	out->len = opts.data_size_out;
	*meta_len = 0;
	/* test_run returns the frame from data_meta on: strip a Dalio meta. */
	if (out->len >= in->len + sizeof(struct dalio_meta)) {
		struct dalio_meta m;

		memcpy(&m, out->buf, sizeof(m));
		if (m.magic == DALIO_META_MAGIC) {
			*meta_len = sizeof(m);
			memmove(out->buf, out->buf + sizeof(m), out->len - sizeof(m));
			out->len -= (uint32_t)sizeof(m);
			memcpy(out->buf + out->len, &m, sizeof(m)); /* keep it after */
		}
	}
	return (int)opts.retval;
}

static struct dalio_shard_state get_state(struct fixture *fx)
{
	struct dalio_shard_state st;
	uint32_t k = SHARD;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.shard_state), &k, &st), 0);
	return st;
}

static struct dalio_dirty get_dirty(struct fixture *fx, const char *key)
{
	struct dalio_dirty d;
	uint32_t k = SHARD * DALIO_DIRTY_BUCKETS +
		     dalio_key_bucket(key, strlen(key), DALIO_DIRTY_BUCKETS);

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.dirty_map), &k, &d), 0);
	return d;
}

static uint64_t get_stat(struct fixture *fx, enum dalio_stat which)
{
	int ncpu = libbpf_num_possible_cpus();
	struct dalio_stats *per = calloc((size_t)ncpu, sizeof(*per));
	uint32_t k = SHARD;
	uint64_t total = 0;

	assert_non_null(per);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.stats_map), &k, per), 0);
	for (int i = 0; i < ncpu; i++)
		total += per[i].count[which];
	free(per);
	return total;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct bpf_map *map;
	struct dalio_vip_key vk = {.vip = ip4(VIP), .port = htons(VPORT)};
	struct dalio_shard_cfg cfg = {.shard = SHARD,
				      .epoch = 7,
				      .write_mask = 0x7,
				      .read_mask = 0x7,
				      .mode = DALIO_MODE_PB,
				      .n_replicas = NREP};
	struct dalio_shard_state st = {.next_seq = 1};
	uint32_t k = SHARD;

	assert_non_null(fx);
	fx->skel = dalio_lb__open();
	assert_non_null(fx->skel);
	bpf_object__for_each_map(map, fx->skel->obj)
		bpf_map__set_pin_path(map, NULL); /* private maps for the test */
	assert_int_equal(dalio_lb__load(fx->skel), 0);
	fx->prog = bpf_program__fd(fx->skel->progs.dalio_lb);
	for (uint32_t i = 0; i < NREP; i++) {
		struct dalio_replica r = {
			.ip = ip4(rep_ip[i]), .port = htons(rep_port), .valid = 1};
		uint32_t idx = SHARD * DALIO_MAX_REPLICAS + i;

		memset(r.mac, 0xa0 + (int)i, 6);
		assert_int_equal(
			bpf_map_update_elem(bpf_map__fd(fx->skel->maps.replica_map), &idx, &r, 0),
			0);
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.shard_state), &k, &st, 0),
			 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.vip_map), &vk, &cfg, 0), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	dalio_lb__destroy(fx->skel);
	free(fx);
	return 0;
}

/* Sends a write; returns its seq, checks the handoff to tc. */
static uint64_t do_write(struct fixture *fx, const char *key, uint64_t rid, struct frame *out)
{
	struct frame in;
	uint32_t meta_len;
	struct dalio_meta meta;
	struct dalio_hdr *h;

	make_request(&in, 1, key, rid);
	assert_int_equal(run(fx, &in, out, &meta_len), XDP_PASS);
	assert_int_equal(meta_len, sizeof(meta));
	memcpy(&meta, out->buf + out->len, sizeof(meta));
	assert_int_equal(meta.shard, SHARD);
	assert_int_equal(meta.mask, 0x7);
	h = frame_dalio(out);
	assert_int_equal(h->type, DALIO_T_WRITE);
	assert_int_equal(be32toh(h->epoch), 7);
	assert_int_equal(be16toh(h->shard), SHARD);
	assert_int_equal(h->origin_ip, ip4(CLIENT));
	assert_int_equal(ntohs(h->origin_port), CPORT);
	assert_memory_equal(h->origin_mac, client_mac, 6);
	assert_int_equal(frame_ip(out)->saddr, ip4(VIP));
	assert_checksums_valid(out);
	return be64toh(h->seq);
}

static void test_non_dalio_traffic_passes(void **state)
{
	struct fixture *fx = *state;
	struct frame in, out;
	uint32_t meta_len;
	uint8_t junk[64] = {1, 2, 3};
	struct ethhdr *eth = (struct ethhdr *)in.buf;

	/* ARP */
	memset(&in, 0, sizeof(in));
	eth->h_proto = htons(ETH_P_ARP);
	in.len = 60;
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_PASS);
	/* UDP to the LB's own address, to the VIP on another port, TCP to the VIP */
	frame_build(&in, client_mac, CLIENT, CPORT, "10.77.0.10", VPORT, junk, sizeof(junk));
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_PASS);
	frame_build(&in, client_mac, CLIENT, CPORT, VIP, 22, junk, sizeof(junk));
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_PASS);
	make_request(&in, 1, "k", 1);
	frame_ip(&in)->protocol = IPPROTO_TCP;
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_PASS);
	assert_memory_equal(out.buf, in.buf, in.len); /* untouched */
	assert_int_equal(get_state(fx).next_seq, 1);
}

static void test_garbage_dropped_without_state_change(void **state)
{
	struct fixture *fx = *state;
	struct frame in, out;
	uint32_t meta_len;
	uint8_t junk[20] = {0};
	struct dalio_hdr *h;

	/* too short for a Dalio header */
	frame_build(&in, client_mac, CLIENT, CPORT, VIP, VPORT, junk, sizeof(junk));
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_DROP);
	/* bad magic */
	make_request(&in, 1, "k", 1);
	frame_dalio(&in)->magic = htonl(0xdeadbeef);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_DROP);
	/* UDP length claims more than the frame holds (truncated) */
	make_request(&in, 1, "k", 1);
	in.len -= 10;
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_DROP);
	/* a type only replicas may send to the LB, from a client */
	make_request(&in, 1, "k", 1);
	frame_dalio(&in)->type = DALIO_T_WRITE;
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_DROP_MALFORMED), 4);
	/* key length past the datagram: answered BAD_REQUEST, nothing sequenced */
	make_request(&in, 1, "k", 1);
	h = frame_dalio(&in);
	h->key_len = htons(1000);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->status, DALIO_S_BAD_REQUEST);
	assert_int_equal(frame_ip(&out)->daddr, ip4(CLIENT));
	assert_int_equal(get_state(fx).next_seq, 1);
	assert_int_equal(get_state(fx).in_flight, 0);
}

static void test_writes_get_increasing_seqs_and_mark_dirty(void **state)
{
	struct fixture *fx = *state;
	struct frame out;

	assert_int_equal(get_dirty(fx, "alpha").pending, 0);
	assert_int_equal(do_write(fx, "alpha", 1, &out), 1);
	assert_int_equal(do_write(fx, "beta", 2, &out), 2);
	assert_int_equal(do_write(fx, "alpha", 3, &out), 3);
	assert_int_equal(get_dirty(fx, "alpha").pending, 2);
	assert_int_equal(get_dirty(fx, "alpha").latest_seq, 3);
	assert_int_equal(get_dirty(fx, "beta").pending, 1);
	assert_int_equal(get_state(fx).next_seq, 4);
	assert_int_equal(get_state(fx).in_flight, 3);
	assert_int_equal(get_stat(fx, DALIO_STAT_WRITES), 3);
}

static void test_acks_complete_write_exactly_once(void **state)
{
	struct fixture *fx = *state;
	struct frame w, ack, out;
	uint32_t meta_len;
	struct dalio_hdr *h;

	assert_int_equal(do_write(fx, "k1", 11, &w), 1);
	/* replica 0 and 1 ack: counted, consumed */
	make_answer(&ack, &w, DALIO_T_ACK, rep_ip[0], rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	/* duplicate ack from replica 0: dropped, not counted */
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_ACKS_DUP), 1);
	/* ack from a host that is not a replica (right IP, wrong port; wrong IP) */
	make_answer(&ack, &w, DALIO_T_ACK, rep_ip[2], 9999);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	make_answer(&ack, &w, DALIO_T_ACK, "10.77.0.66", rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_DROP_NOT_REPLICA), 2);
	make_answer(&ack, &w, DALIO_T_ACK, rep_ip[1], rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_ACKS), 2);
	assert_int_equal(get_dirty(fx, "k1").pending, 1);
	assert_int_equal(get_state(fx).max_completed, 0);
	/* the spoofed acks did not complete it: replica 2's ack does */
	make_answer(&ack, &w, DALIO_T_ACK, rep_ip[2], rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_TX);
	h = frame_dalio(&out);
	assert_int_equal(h->type, DALIO_T_REPLY);
	assert_int_equal(h->status, DALIO_S_OK);
	assert_int_equal(be64toh(h->request_id), 11);
	assert_int_equal(frame_ip(&out)->saddr, ip4(VIP));
	assert_int_equal(frame_ip(&out)->daddr, ip4(CLIENT));
	assert_int_equal(ntohs(frame_udp(&out)->source), VPORT);
	assert_int_equal(ntohs(frame_udp(&out)->dest), CPORT);
	assert_memory_equal(((struct ethhdr *)out.buf)->h_dest, client_mac, 6);
	assert_memory_equal(((struct ethhdr *)out.buf)->h_source, lb_mac, 6);
	assert_memory_equal((uint8_t *)(h + 1), "+OK\r\n", 5);
	assert_checksums_valid(&out);
	assert_int_equal(get_dirty(fx, "k1").pending, 0);
	assert_int_equal(get_state(fx).max_completed, 1);
	assert_int_equal(get_state(fx).in_flight, 0);
	/* a late duplicate after completion: dropped as stale, no second reply */
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_ACKS_STALE), 1);
	assert_int_equal(get_stat(fx, DALIO_STAT_REPLIES), 1);
}

/* vr mode (docs/vr.md): the shard's cfg with quorum f+1 = 2 of 3. */
static void set_vr(struct fixture *fx, uint32_t write_mask)
{
	struct dalio_vip_key vk = {.vip = ip4(VIP), .port = htons(VPORT)};
	struct dalio_shard_cfg cfg = {.shard = SHARD,
				      .epoch = 9,
				      .write_mask = write_mask,
				      .read_mask = 0x7,
				      .mode = DALIO_MODE_VR,
				      .n_replicas = NREP,
				      .quorum = 2};

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.vip_map), &vk, &cfg, 0), 0);
}

/* Sends a write in vr mode; returns its op number, checks the PREPARE. */
static uint64_t do_prepare(struct fixture *fx, const char *key, uint64_t rid, uint64_t commit,
			   struct frame *out)
{
	struct frame in;
	uint32_t meta_len;
	struct dalio_hdr *h;

	make_request(&in, 1, key, rid);
	assert_int_equal(run(fx, &in, out, &meta_len), XDP_PASS);
	assert_int_equal(meta_len, sizeof(struct dalio_meta));
	h = frame_dalio(out);
	assert_int_equal(h->type, DALIO_T_PREPARE);
	assert_int_equal(be32toh(h->epoch), 9);
	assert_int_equal(be64toh(h->stamp), commit); /* L1: the commit number rides along */
	assert_int_equal(h->origin_ip, ip4(CLIENT));
	assert_checksums_valid(out);
	return be64toh(h->seq);
}

static void test_vr_quorum_commit_turnaround_and_result(void **state)
{
	struct fixture *fx = *state;
	struct frame w1, w2, w3, ok, out;
	uint32_t meta_len;
	struct dalio_hdr *h;

	set_vr(fx, 0x7);
	assert_int_equal(do_prepare(fx, "k1", 11, 0, &w1), 1);
	assert_int_equal(do_prepare(fx, "k2", 12, 0, &w2), 2);
	/* one PREPARE_OK is not a quorum; a spoofed one never counts */
	make_answer(&ok, &w1, DALIO_T_PREPARE_OK, rep_ip[0], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP); /* duplicate */
	make_answer(&ok, &w1, DALIO_T_PREPARE_OK, "10.77.0.66", rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_DROP_NOT_REPLICA), 1);
	assert_int_equal(get_state(fx).max_completed, 0);
	assert_int_equal(get_dirty(fx, "k1").pending, 1);
	/* f+1 = 2: the second replica's PREPARE_OK commits op 1 and goes back to
	 * it as COMMIT(seq 1, commit 1) (L4) */
	make_answer(&ok, &w1, DALIO_T_PREPARE_OK, rep_ip[1], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_TX);
	h = frame_dalio(&out);
	assert_int_equal(h->type, DALIO_T_COMMIT);
	assert_int_equal(be64toh(h->seq), 1);
	assert_int_equal(be64toh(h->stamp), 1);
	assert_int_equal(be32toh(h->epoch), 9);
	assert_int_equal(frame_ip(&out)->saddr, ip4(VIP));
	assert_int_equal(frame_ip(&out)->daddr, ip4(rep_ip[1]));
	assert_int_equal(ntohs(frame_udp(&out)->source), VPORT);
	assert_int_equal(ntohs(frame_udp(&out)->dest), rep_port);
	assert_checksums_valid(&out);
	assert_int_equal(get_state(fx).max_completed, 1);
	assert_int_equal(get_state(fx).in_flight, 1);
	assert_int_equal(get_dirty(fx, "k1").pending, 0);
	assert_int_equal(get_stat(fx, DALIO_STAT_COMMITS), 1);
	/* the third PREPARE_OK is late: stale, no second COMMIT */
	make_answer(&ok, &w1, DALIO_T_PREPARE_OK, rep_ip[2], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_ACKS_STALE), 1);
	assert_int_equal(get_stat(fx, DALIO_STAT_COMMITS), 1);
	/* the next PREPARE carries commit 1 */
	assert_int_equal(do_prepare(fx, "k3", 13, 1, &w3), 3);
	/* the executed result (ACK) goes to the client from the VIP */
	make_answer(&ok, &w1, DALIO_T_ACK, rep_ip[1], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_TX);
	h = frame_dalio(&out);
	assert_int_equal(h->type, DALIO_T_REPLY);
	assert_int_equal(be64toh(h->request_id), 11);
	assert_int_equal(frame_ip(&out)->saddr, ip4(VIP));
	assert_int_equal(frame_ip(&out)->daddr, ip4(CLIENT));
	assert_memory_equal(((struct ethhdr *)out.buf)->h_dest, client_mac, 6);
	assert_checksums_valid(&out);
	make_answer(&ok, &w1, DALIO_T_ACK, "10.77.0.66", rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	/* L2: only write-set members count. With replica 2 out of the write set,
	 * replica 0 and 2 together are not a quorum for op 2. */
	set_vr(fx, 0x3);
	make_answer(&ok, &w2, DALIO_T_PREPARE_OK, rep_ip[0], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	make_answer(&ok, &w2, DALIO_T_PREPARE_OK, rep_ip[2], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_state(fx).max_completed, 1);
	make_answer(&ok, &w2, DALIO_T_PREPARE_OK, rep_ip[1], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_TX);
	assert_int_equal(get_state(fx).max_completed, 2);
}

static void test_vr_messages_refused_in_pb_mode(void **state)
{
	struct fixture *fx = *state;
	struct frame w, ok, out;
	uint32_t meta_len;

	assert_int_equal(do_write(fx, "k1", 11, &w), 1);
	/* a PREPARE_OK to a pb shard is not an ack */
	make_answer(&ok, &w, DALIO_T_PREPARE_OK, rep_ip[0], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	make_answer(&ok, &w, DALIO_T_PREPARE_OK, rep_ip[1], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	make_answer(&ok, &w, DALIO_T_PREPARE_OK, rep_ip[2], rep_port);
	assert_int_equal(run(fx, &ok, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_ACKS), 0);
	assert_int_equal(get_stat(fx, DALIO_STAT_DROP_MALFORMED), 3);
	assert_int_equal(get_state(fx).max_completed, 0);
}

static void test_clean_read_stamped_and_round_robin(void **state)
{
	struct fixture *fx = *state;
	struct frame w, ack, in, out;
	uint32_t meta_len, seen = 0;

	assert_int_equal(do_write(fx, "c", 1, &w), 1);
	for (int i = 0; i < NREP; i++) {
		make_answer(&ack, &w, DALIO_T_ACK, rep_ip[i], rep_port);
		run(fx, &ack, &out, &meta_len);
	}
	for (int i = 0; i < NREP; i++) {
		struct dalio_hdr *h;

		make_request(&in, 0, "c", 100 + (uint64_t)i);
		assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
		h = frame_dalio(&out);
		assert_int_equal(h->type, DALIO_T_READ);
		assert_int_equal(be64toh(h->stamp), 1);
		assert_int_equal(h->origin_ip, ip4(CLIENT));
		assert_int_equal(ntohs(frame_udp(&out)->dest), rep_port);
		assert_int_equal(frame_ip(&out)->daddr, ip4(rep_ip[h->replica]));
		assert_checksums_valid(&out);
		seen |= 1u << h->replica;
	}
	assert_int_equal(seen, 0x7); /* round robin visits every replica */
	assert_int_equal(get_stat(fx, DALIO_STAT_READS_CLEAN), 3);
	/* the replica's answer goes back to the client */
	make_answer(&ack, &out, DALIO_T_READ_REPLY, rep_ip[frame_dalio(&out)->replica], rep_port);
	assert_int_equal(run(fx, &ack, &in, &meta_len), XDP_TX);
	assert_int_equal(frame_ip(&in)->daddr, ip4(CLIENT));
	assert_int_equal(ntohs(frame_udp(&in)->dest), CPORT);
	assert_int_equal(frame_dalio(&in)->type, DALIO_T_REPLY);
	assert_checksums_valid(&in);
	/* and one from elsewhere does not */
	make_answer(&ack, &out, DALIO_T_READ_REPLY, "10.77.0.66", rep_port);
	assert_int_equal(run(fx, &ack, &in, &meta_len), XDP_DROP);
}

static void test_dirty_read_prefers_acked_replica(void **state)
{
	struct fixture *fx = *state;
	struct frame w, ack, in, out;
	uint32_t meta_len;
	struct dalio_hdr *h;

	assert_int_equal(do_write(fx, "d", 1, &w), 1);
	assert_int_equal(do_write(fx, "d", 2, &w), 2);
	make_answer(&ack, &w, DALIO_T_ACK, rep_ip[1], rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	for (int i = 0; i < 3; i++) {
		make_request(&in, 0, "d", 50 + (uint64_t)i);
		assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
		h = frame_dalio(&out);
		assert_int_equal(be64toh(h->stamp), 2); /* the key's latest write */
		assert_int_equal(h->replica, 1);	/* the one that has it */
	}
	assert_int_equal(get_stat(fx, DALIO_STAT_READS_DIRTY), 3);
	assert_int_equal(get_stat(fx, DALIO_STAT_READS_ACKED), 3);
}

static void test_write_refused_busy_when_slot_taken(void **state)
{
	struct fixture *fx = *state;
	struct frame in, out;
	uint32_t meta_len, idx = SHARD * DALIO_RING_SIZE + 1;
	struct dalio_pending stuck = {.seq = 1 - DALIO_RING_SIZE, .state = DALIO_SLOT_PENDING};

	/* The slot seq 1 needs still holds a write from a ring round ago. */
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(fx->skel->maps.pending_ring), &idx, &stuck, 0), 0);
	make_request(&in, 1, "b", 1);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->type, DALIO_T_REPLY);
	assert_int_equal(frame_dalio(&out)->status, DALIO_S_BUSY);
	assert_int_equal(frame_ip(&out)->daddr, ip4(CLIENT));
	assert_checksums_valid(&out);
	assert_int_equal(get_state(fx).next_seq, 1); /* no hole in the sequence */
	assert_int_equal(get_dirty(fx, "b").pending, 0);
	assert_int_equal(get_stat(fx, DALIO_STAT_REFUSED_BUSY), 1);
}

static void test_wrong_shard_and_uninitialised_shard(void **state)
{
	struct fixture *fx = *state;
	struct frame in, out;
	uint32_t meta_len, k = SHARD;
	struct dalio_shard_state zero = {0};

	make_request(&in, 1, "x", 1);
	frame_dalio(&in)->shard = htons(5);
	/* fix the checksum the edit broke: the program must see a sane frame */
	frame_udp(&in)->check = 0;
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->status, DALIO_S_UNKNOWN_SHARD);
	assert_int_equal(frame_udp(&out)->check, 0); /* no checksum stays none */
	assert_int_equal(get_state(fx).next_seq, 1);

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.shard_state), &k, &zero, 0),
			 0);
	make_request(&in, 1, "x", 2);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->status, DALIO_S_NO_REPLICA);
	assert_int_equal(get_state(fx).next_seq, 0);
}

static void test_write_retries_are_sequenced_once(void **state)
{
	struct fixture *fx = *state;
	struct frame w, in, ack, out;
	uint32_t meta_len;
	struct dalio_hdr *h;

	struct dalio_meta meta;

	assert_int_equal(do_write(fx, "r", 7, &w), 1);
	make_answer(&ack, &w, DALIO_T_ACK, rep_ip[0], rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	/* the same request again while pending: re-sent with the original seq,
	 * only to the replicas whose ack is missing; no new seq */
	make_request(&in, 1, "r", 7);
	frame_dalio(&in)->flags |= htons(DALIO_F_RETRY);
	frame_udp(&in)->check = 0;
	frame_udp(&in)->check =
		htons(udp_csum(frame_ip(&in), frame_udp(&in), ntohs(frame_udp(&in)->len)));
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_PASS);
	assert_int_equal(meta_len, sizeof(meta));
	memcpy(&meta, out.buf + out.len, sizeof(meta));
	assert_int_equal(meta.mask, 0x6);
	assert_int_equal(frame_dalio(&out)->type, DALIO_T_WRITE);
	assert_int_equal(be64toh(frame_dalio(&out)->seq), 1);
	assert_checksums_valid(&out);
	assert_int_equal(get_state(fx).next_seq, 2);
	assert_int_equal(get_dirty(fx, "r").pending, 1);
	assert_int_equal(get_stat(fx, DALIO_STAT_RETRY_PENDING), 1);
	/* the same request id with other content is refused */
	make_request(&in, 1, "s", 7);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->status, DALIO_S_BAD_REQUEST);
	assert_int_equal(get_stat(fx, DALIO_STAT_RETRY_MISMATCH), 1);
	make_request(&in, 1, "r", 7);
	for (int i = 1; i < NREP; i++) {
		make_answer(&ack, &w, DALIO_T_ACK, rep_ip[i], rep_port);
		run(fx, &ack, &out, &meta_len);
	}
	assert_int_equal(get_stat(fx, DALIO_STAT_REPLIES), 1);
	/* after completion: replayed from a replica, still no new seq */
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	h = frame_dalio(&out);
	assert_int_equal(h->type, DALIO_T_REPLAY);
	assert_int_equal(be64toh(h->seq), 1);
	assert_int_equal(h->origin_ip, ip4(CLIENT));
	assert_int_equal(frame_ip(&out)->daddr, ip4(rep_ip[h->replica]));
	assert_checksums_valid(&out);
	assert_int_equal(get_state(fx).next_seq, 2);
	assert_int_equal(get_dirty(fx, "r").pending, 0);
	assert_int_equal(get_stat(fx, DALIO_STAT_RETRY_REPLAYED), 1);
	/* an older request of the same client: dropped */
	make_request(&in, 1, "r", 6);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_RETRY_STALE), 1);
	/* the next request is a new write */
	assert_int_equal(do_write(fx, "r", 8, &w), 2);
	/* request id 0 is refused */
	make_request(&in, 1, "r", 0);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->status, DALIO_S_BAD_REQUEST);
	assert_int_equal(get_state(fx).next_seq, 3);
}

/* ---- multi-homed LB and devmap fan-out (bpf/dalio_fwd.bpf.h) ---- */

/* test_run gives every frame the loopback device as ingress */
#define INGRESS_IFINDEX 1
#define REP_IF0		101 /* replica i is behind made-up ifindex REP_IF0 + i */
#define CLIENT_IF	7

static const uint8_t rep_if_mac[NREP][6] = {
	{0x02, 0, 0, 0, 1, 1}, {0x02, 0, 0, 0, 1, 2}, {0x02, 0, 0, 0, 1, 3}};
static const uint8_t client_if_mac[6] = {0x02, 0, 0, 0, 1, 0};
static struct devmap_egress_test *egress;

/* lb_cfg, and every replica behind its own interface (ifindex 0: ingress). */
static void set_multihomed(struct fixture *fx, uint32_t fanout, uint32_t client_ifindex,
			   uint32_t rep_if0)
{
	struct dalio_lb_cfg lc = {.fanout = fanout, .client_ifindex = client_ifindex};
	uint32_t k = 0;

	memcpy(lc.client_mac, client_if_mac, 6);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.lb_cfg), &k, &lc, 0), 0);
	for (uint32_t i = 0; i < NREP; i++) {
		uint32_t idx = SHARD * DALIO_MAX_REPLICAS + i;
		int fd = bpf_map__fd(fx->skel->maps.replica_map);
		struct dalio_replica r;

		assert_int_equal(bpf_map_lookup_elem(fd, &idx, &r), 0);
		r.ifindex = rep_if0 ? rep_if0 + i : 0;
		memcpy(r.src_mac, rep_if_mac[i], 6);
		assert_int_equal(bpf_map_update_elem(fd, &idx, &r, 0), 0);
	}
}

/* dalio_lb plus the egress wrapper on the same maps, in devmap mode. */
static int setup_devmap(void **state)
{
	struct fixture *fx;
	struct bpf_map *m;

	setup(state);
	fx = *state;
	egress = devmap_egress_test__open();
	assert_non_null(egress);
	bpf_object__for_each_map(m, egress->obj)
	{
		struct bpf_map *same =
			bpf_object__find_map_by_name(fx->skel->obj, bpf_map__name(m));

		bpf_map__set_pin_path(m, NULL);
		if (same)
			assert_int_equal(bpf_map__reuse_fd(m, bpf_map__fd(same)), 0);
	}
	assert_int_equal(devmap_egress_test__load(egress), 0);
	set_multihomed(fx, DALIO_FANOUT_DEVMAP, 0, REP_IF0);
	return 0;
}

static int teardown_devmap(void **state)
{
	devmap_egress_test__destroy(egress);
	egress = NULL;
	return teardown(state);
}

/* Runs the devmap egress code on in as if it left by ifindex. */
static int run_egress(struct frame *in, struct frame *out, uint32_t ifindex)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->buf, .data_size_in = in->len,
		    .data_out = out->buf, .data_size_out = sizeof(out->buf), .repeat = 1);

	egress->bss->egress_ifindex = ifindex;
	assert_int_equal(
		bpf_prog_test_run_opts(bpf_program__fd(egress->progs.devmap_egress_test), &opts),
		0);
	out->len = opts.data_size_out;
	return (int)opts.retval;
}

/* out is bcast made the copy for replica i: only its addresses changed. */
static void assert_copy_for(struct frame *out, struct frame *bcast, int i)
{
	struct ethhdr *eth = (struct ethhdr *)out->buf;
	struct dalio_hdr *h = frame_dalio(out), *b = frame_dalio(bcast);
	uint8_t mac[6];

	memset(mac, 0xa0 + i, 6);
	assert_int_equal(out->len, bcast->len);
	assert_memory_equal(eth->h_dest, mac, 6);
	assert_memory_equal(eth->h_source, rep_if_mac[i], 6);
	assert_int_equal(frame_ip(out)->daddr, ip4(rep_ip[i]));
	assert_int_equal(frame_ip(out)->saddr, ip4(VIP));
	assert_int_equal(ntohs(frame_udp(out)->dest), rep_port);
	assert_int_equal(ntohs(frame_udp(out)->source), VPORT);
	assert_int_equal(h->reserved, 0);
	assert_int_equal(h->type, DALIO_T_WRITE);
	assert_int_equal(h->seq, b->seq);
	assert_int_equal(h->origin_ip, ip4(CLIENT));
	assert_memory_equal((uint8_t *)(h + 1), (uint8_t *)(b + 1),
			    ntohs(frame_udp(out)->len) - sizeof(struct udphdr) - sizeof(*h));
	assert_checksums_valid(out);
}

static void test_devmap_write_broadcast_and_per_interface_copies(void **state)
{
	struct fixture *fx = *state;
	struct frame in, w, ack, out;
	uint32_t meta_len;

	/* the write leaves XDP as one broadcast, copy mask in the frame */
	make_request(&in, 1, "d", 1);
	assert_int_equal(run(fx, &in, &w, &meta_len), XDP_REDIRECT);
	assert_int_equal(meta_len, 0);
	assert_int_equal(frame_dalio(&w)->type, DALIO_T_WRITE);
	assert_int_equal(be64toh(frame_dalio(&w)->seq), 1);
	assert_int_equal(ntohs(frame_dalio(&w)->reserved), 0xd107);
	assert_checksums_valid(&w);
	assert_int_equal(get_dirty(fx, "d").pending, 1);
	/* each replica's interface turns it into that replica's copy */
	for (int i = 0; i < NREP; i++) {
		assert_int_equal(run_egress(&w, &out, REP_IF0 + (uint32_t)i), XDP_PASS);
		assert_copy_for(&out, &w, i);
	}
	/* an interface without a replica of the write drops its copy */
	assert_int_equal(run_egress(&w, &out, CLIENT_IF), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_DEVMAP_COPIES), 3);
	assert_int_equal(get_stat(fx, DALIO_STAT_DEVMAP_SKIPPED), 1);
	assert_int_equal(get_stat(fx, DALIO_STAT_FANOUT_COPIES), 0);
	/* a retry re-sends only to the replica whose ack is missing */
	for (int i = 0; i < 2; i++) {
		make_answer(&ack, &w, DALIO_T_ACK, rep_ip[i], rep_port);
		assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_DROP);
	}
	make_request(&in, 1, "d", 1);
	assert_int_equal(run(fx, &in, &w, &meta_len), XDP_REDIRECT);
	assert_int_equal(ntohs(frame_dalio(&w)->reserved), 0xd104);
	assert_int_equal(run_egress(&w, &out, REP_IF0), XDP_DROP);
	assert_int_equal(run_egress(&w, &out, REP_IF0 + 1), XDP_DROP);
	assert_int_equal(run_egress(&w, &out, REP_IF0 + 2), XDP_PASS);
	assert_copy_for(&out, &w, 2);
	assert_int_equal(get_state(fx).next_seq, 2);
	/* the last ack completes it: the reply leaves XDP_TX (clients are behind
	 * the ingress interface here: lb_cfg names none) */
	make_answer(&ack, &out, DALIO_T_ACK, rep_ip[2], rep_port);
	assert_int_equal(run(fx, &ack, &out, &meta_len), XDP_TX);
	assert_int_equal(frame_dalio(&out)->type, DALIO_T_REPLY);
	assert_checksums_valid(&out);
}

static void test_devmap_egress_passes_other_frames_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct frame in, r, out;
	uint32_t meta_len;
	struct ethhdr *eth;
	int pick;

	/* a read for a replica on another interface: redirected with that
	 * interface's MAC, and its egress program must leave it alone (reads
	 * share the device's bulk queue with broadcast copies) */
	make_request(&in, 0, "e", 50);
	assert_int_equal(run(fx, &in, &r, &meta_len), XDP_REDIRECT);
	pick = frame_dalio(&r)->replica;
	assert_true(pick >= 0 && pick < NREP);
	eth = (struct ethhdr *)r.buf;
	assert_memory_equal(eth->h_source, rep_if_mac[pick], 6);
	assert_int_equal(frame_ip(&r)->daddr, ip4(rep_ip[pick]));
	assert_checksums_valid(&r);
	assert_int_equal(run_egress(&r, &out, REP_IF0 + (uint32_t)pick), XDP_PASS);
	assert_int_equal(out.len, r.len);
	assert_memory_equal(out.buf, r.buf, r.len);
	/* not Dalio at all: passes unchanged */
	memset(&in, 0, sizeof(in));
	((struct ethhdr *)in.buf)->h_proto = htons(ETH_P_ARP);
	in.len = 60;
	assert_int_equal(run_egress(&in, &out, REP_IF0), XDP_PASS);
	assert_memory_equal(out.buf, in.buf, in.len);
	/* a tagged write naming a shard that cannot exist: dropped */
	make_request(&in, 1, "e", 51);
	assert_int_equal(run(fx, &in, &r, &meta_len), XDP_REDIRECT);
	frame_dalio(&r)->shard = htons(DALIO_MAX_SHARDS);
	assert_int_equal(run_egress(&r, &out, REP_IF0), XDP_DROP);
	assert_int_equal(get_stat(fx, DALIO_STAT_DEVMAP_COPIES), 0);
}

static void test_multihomed_tc_mode_and_client_interface(void **state)
{
	struct fixture *fx = *state;
	struct frame w, ack, in, out;
	uint32_t meta_len;
	struct ethhdr *eth = (struct ethhdr *)out.buf;

	/* tc fan-out on a multi-homed LB: the handoff to tc is unchanged */
	set_multihomed(fx, DALIO_FANOUT_TC, CLIENT_IF, REP_IF0);
	assert_int_equal(do_write(fx, "m", 1, &w), 1);
	assert_int_equal(ntohs(frame_dalio(&w)->reserved), 0);
	/* the completing ack came in on a replica's interface: the reply leaves
	 * by the client interface with its MAC */
	for (int i = 0; i < NREP; i++) {
		make_answer(&ack, &w, DALIO_T_ACK, rep_ip[i], rep_port);
		assert_int_equal(run(fx, &ack, &out, &meta_len),
				 i < NREP - 1 ? XDP_DROP : XDP_REDIRECT);
	}
	assert_memory_equal(eth->h_source, client_if_mac, 6);
	assert_memory_equal(eth->h_dest, client_mac, 6);
	assert_int_equal(frame_ip(&out)->daddr, ip4(CLIENT));
	assert_checksums_valid(&out);
	/* one-armed: every interface is the ingress one, XDP_TX as before */
	set_multihomed(fx, DALIO_FANOUT_TC, INGRESS_IFINDEX, INGRESS_IFINDEX);
	for (int i = 0; i < NREP; i++) {
		uint32_t idx = SHARD * DALIO_MAX_REPLICAS + (uint32_t)i;
		struct dalio_replica r;

		bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.replica_map), &idx, &r);
		r.ifindex = INGRESS_IFINDEX;
		bpf_map_update_elem(bpf_map__fd(fx->skel->maps.replica_map), &idx, &r, 0);
	}
	make_request(&in, 0, "m", 60);
	assert_int_equal(run(fx, &in, &out, &meta_len), XDP_TX);
	assert_memory_equal(eth->h_source, lb_mac, 6);
	assert_int_equal(do_write(fx, "m", 2, &w), 2);
	for (int i = 0; i < NREP; i++) {
		make_answer(&ack, &w, DALIO_T_ACK, rep_ip[i], rep_port);
		assert_int_equal(run(fx, &ack, &out, &meta_len), i < NREP - 1 ? XDP_DROP : XDP_TX);
	}
	assert_memory_equal(eth->h_source, lb_mac, 6);
	assert_memory_equal(eth->h_dest, client_mac, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_non_dalio_traffic_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_dropped_without_state_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writes_get_increasing_seqs_and_mark_dirty,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_acks_complete_write_exactly_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vr_quorum_commit_turnaround_and_result, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vr_messages_refused_in_pb_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_clean_read_stamped_and_round_robin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dirty_read_prefers_acked_replica, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_refused_busy_when_slot_taken, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_shard_and_uninitialised_shard, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_retries_are_sequenced_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_devmap_write_broadcast_and_per_interface_copies, setup_devmap,
			teardown_devmap),
		cmocka_unit_test_setup_teardown(test_devmap_egress_passes_other_frames_unchanged,
						setup_devmap, teardown_devmap),
		cmocka_unit_test_setup_teardown(test_multihomed_tc_mode_and_client_interface,
						setup_devmap, teardown_devmap),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_xdp_lb: needs root for BPF_PROG_TEST_RUN\n");
		return 1;
	}
	return cmocka_run_group_tests_name("xdp_lb", tests, NULL, NULL);
}
