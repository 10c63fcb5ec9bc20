/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the replica's Redis-free ordering parts: the gap buffer
 * (replica/order.c) applies any arrival order in seq order exactly once, the
 * reply cache answers recent duplicates, the stamped read queue
 * (replica/reads.c) releases reads by stamp and by deadline, and the NACK
 * timing (replica/nack.c) asks for missing writes only when a gap outlives
 * reordering, with backoff and a bounded range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nack.h"
#include "order.h"
#include "reads.h"

static struct rp_pkt mkpkt(uint64_t tag)
{
	struct rp_pkt p;

	memset(&p, 0, sizeof(p));
	p.from.sin_port = (uint16_t)tag;
	p.len = sizeof(tag);
	memcpy(p.data, &tag, sizeof(tag));
	return p;
}

static uint64_t tag_of(const struct rp_pkt *p)
{
	uint64_t tag;

	assert_int_equal(p->len, sizeof(tag));
	memcpy(&tag, p->data, sizeof(tag));
	return tag;
}

/* The replica's use of the buffer: offer, then apply what is in order. */
struct applier {
	struct rp_order o;
	uint64_t applied[2 * RP_WINDOW + 16];
	size_t n;
	size_t dups, too_far;
};

static void deliver(struct applier *a, uint64_t seq)
{
	struct rp_pkt p = mkpkt(seq);
	const struct rp_pkt *next;

	switch (rp_order_offer(&a->o, seq, &p, 0)) {
	case RP_NEXT:
		a->applied[a->n++] = seq;
		rp_order_advance(&a->o);
		while ((next = rp_order_take(&a->o))) {
			assert_int_equal(tag_of(next), a->o.next);
			a->applied[a->n++] = tag_of(next);
			rp_order_advance(&a->o);
		}
		break;
	case RP_DUP:
	case RP_ALREADY_BUFFERED:
		a->dups++;
		break;
	case RP_BUFFERED:
		break;
	case RP_TOO_FAR:
		a->too_far++;
		break;
	}
}

static void assert_in_order(const struct applier *a, uint64_t first, size_t n)
{
	assert_int_equal(a->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(a->applied[i], first + i);
}

static struct applier *applier_new(uint64_t applied)
{
	struct applier *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	assert_int_equal(rp_order_init(&a->o, applied), 0);
	return a;
}

static void applier_free(struct applier *a)
{
	rp_order_free(&a->o);
	free(a);
}

static void test_in_order(void **state)
{
	struct applier *a = applier_new(0);

	(void)state;
	for (uint64_t s = 1; s <= 100; s++)
		deliver(a, s);
	assert_in_order(a, 1, 100);
	assert_int_equal(a->o.buffered, 0);
	applier_free(a);
}

static void test_one_three_two(void **state)
{
	struct applier *a = applier_new(0);
	struct rp_pkt p = mkpkt(3);

	(void)state;
	deliver(a, 1);
	assert_int_equal(rp_order_offer(&a->o, 3, &p, 0), RP_BUFFERED);
	assert_int_equal(rp_order_offer(&a->o, 3, &p, 0), RP_ALREADY_BUFFERED);
	assert_int_equal(a->o.buffered, 1);
	deliver(a, 2);
	assert_in_order(a, 1, 3);
	assert_int_equal(a->o.buffered, 0);
	assert_int_equal(rp_order_offer(&a->o, 2, &p, 0), RP_DUP);
	assert_int_equal(rp_order_offer(&a->o, 3, &p, 0), RP_DUP);
	assert_int_equal(rp_order_offer(&a->o, 4, &p, 0), RP_NEXT);
	applier_free(a);
}

static void test_reversed_window(void **state)
{
	struct applier *a = applier_new(1000);

	(void)state;
	/* The whole window arrives backwards: all buffered, then all applied. */
	for (uint64_t s = 1000 + RP_WINDOW; s >= 1002; s--)
		deliver(a, s);
	assert_int_equal(a->n, 0);
	assert_int_equal(a->o.buffered, RP_WINDOW - 1);
	deliver(a, 1000 + RP_WINDOW + 1); /* one past the window */
	assert_int_equal(a->too_far, 1);
	deliver(a, 1001);
	assert_in_order(a, 1001, RP_WINDOW);
	assert_int_equal(a->o.buffered, 0);
	applier_free(a);
}

/* Random permutations with duplicates: each seq applied once, in order. */
static void test_shuffled_with_dups(void **state)
{
	enum { N = 3000 };
	static uint64_t seqs[2 * N];

	(void)state;
	srand(12345);
	for (int round = 0; round < 20; round++) {
		struct applier *a = applier_new(0);
		size_t n = 0;

		for (uint64_t s = 1; s <= N; s++) {
			seqs[n++] = s;
			if (rand() % 4 == 0)
				seqs[n++] = s;
		}
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = (size_t)rand() % (i + 1);
			uint64_t t = seqs[i];

			seqs[i] = seqs[j];
			seqs[j] = t;
		}
		for (size_t i = 0; i < n; i++)
			deliver(a, seqs[i]);
		assert_int_equal(a->too_far, 0); /* N < RP_WINDOW */
		assert_in_order(a, 1, N);
		assert_int_equal(a->dups, n - N);
		applier_free(a);
	}
}

static void test_reset(void **state)
{
	struct applier *a = applier_new(0);
	struct rp_pkt nine = mkpkt(9);
	const struct rp_pkt *p;

	(void)state;
	deliver(a, 1);
	deliver(a, 5);
	deliver(a, 9);
	deliver(a, 20);
	assert_int_equal(a->o.buffered, 3);
	/* Redis says 8 is applied (a batch was cut short): 5 is gone, 9 and 20 stay. */
	rp_order_reset(&a->o, 8);
	assert_int_equal(a->o.next, 9);
	assert_int_equal(a->o.buffered, 2);
	a->n = 0;
	deliver(a, 5); /* now a duplicate */
	assert_int_equal(a->dups, 1);
	assert_int_equal(a->n, 0);
	/* 9 is next and buffered: a fresh copy of 9 supersedes the buffered one. */
	assert_int_equal(rp_order_offer(&a->o, 9, &nine, 0), RP_NEXT);
	assert_int_equal(a->o.buffered, 1);
	assert_null(rp_order_take(&a->o));
	rp_order_advance(&a->o); /* 9 applied */
	for (uint64_t s = 10; s <= 19; s++)
		deliver(a, s);
	assert_in_order(a, 10, 11); /* 20 came out of the buffer */
	assert_int_equal(a->o.buffered, 0);
	applier_free(a);

	/* Or the replica takes the buffered next itself (rp_run_batch does). */
	a = applier_new(0);
	deliver(a, 1);
	deliver(a, 5);
	rp_order_reset(&a->o, 4);
	p = rp_order_take(&a->o);
	assert_non_null(p);
	assert_int_equal(tag_of(p), 5);
	assert_int_equal(a->o.buffered, 0);
	applier_free(a);
}

static void test_cache(void **state)
{
	struct rp_cache c;
	const uint8_t *b;
	size_t len = 0;
	static uint8_t big[RP_MAX_BODY + 100];

	(void)state;
	assert_int_equal(rp_cache_init(&c), 0);
	assert_null(rp_cache_get(&c, 0, &len));
	assert_null(rp_cache_get(&c, 1, &len));
	for (uint64_t s = 1; s <= 3 * RP_WINDOW; s++) {
		char body[32];
		int n = snprintf(body, sizeof(body), ":%llu\r\n", (unsigned long long)s);

		rp_cache_put(&c, s, body, (size_t)n);
	}
	/* The last RP_WINDOW replies are there, older ones are not. */
	b = rp_cache_get(&c, 3 * RP_WINDOW, &len);
	assert_non_null(b);
	assert_int_equal(len, strlen(":12288\r\n"));
	assert_memory_equal(b, ":12288\r\n", len);
	assert_non_null(rp_cache_get(&c, 2 * RP_WINDOW + 1, &len));
	assert_null(rp_cache_get(&c, 2 * RP_WINDOW, &len));
	assert_null(rp_cache_get(&c, 1, &len));
	memset(big, 'x', sizeof(big));
	rp_cache_put(&c, 7, big, sizeof(big));
	assert_non_null(rp_cache_get(&c, 7, &len));
	assert_int_equal(len, RP_MAX_BODY);
	rp_cache_free(&c);
}

/* ---- read queue ---- */

struct taken {
	uint64_t tags[64];
	size_t n;
};

static void take(void *ctx, const struct rp_pkt *p)
{
	struct taken *t = ctx;

	t->tags[t->n++] = tag_of(p);
}

static void test_reads_by_stamp(void **state)
{
	struct rp_reads q;
	struct taken t = {.n = 0};
	struct rp_pkt p;

	(void)state;
	assert_int_equal(rp_reads_init(&q, 8), 0);
	assert_int_equal(rp_reads_next_deadline(&q), UINT64_MAX);
	for (uint64_t i = 0; i < 4; i++) {
		p = mkpkt(100 + i);
		/* stamps 10, 5, 20, 5 */
		assert_int_equal(rp_reads_push(&q, i == 0 ? 10 : i == 2 ? 20 : 5, 1000 + i, &p), 0);
	}
	assert_int_equal(rp_reads_next_deadline(&q), 1000);
	assert_int_equal(rp_reads_take_ready(&q, 4, take, &t), 0);
	assert_int_equal(rp_reads_take_ready(&q, 5, take, &t), 2);
	assert_int_equal(t.tags[0], 101);
	assert_int_equal(t.tags[1], 103);
	assert_int_equal(rp_reads_take_ready(&q, 10, take, &t), 1);
	assert_int_equal(t.tags[2], 100);
	assert_int_equal(q.live, 1);
	assert_int_equal(rp_reads_next_deadline(&q), 1002);
	/* Not yet expired, then expired. */
	assert_int_equal(rp_reads_take_expired(&q, 1001, take, &t), 0);
	assert_int_equal(rp_reads_take_expired(&q, 1002, take, &t), 1);
	assert_int_equal(t.tags[3], 102);
	assert_int_equal(q.live, 0);
	assert_int_equal(rp_reads_next_deadline(&q), UINT64_MAX);
	rp_reads_free(&q);
}

static void test_reads_full_and_wrap(void **state)
{
	struct rp_reads q;
	struct taken t = {.n = 0};
	struct rp_pkt p = mkpkt(1);

	(void)state;
	assert_int_equal(rp_reads_init(&q, 3), -1); /* not a power of two */
	assert_int_equal(rp_reads_init(&q, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rp_reads_push(&q, 50, 10, &p), 0);
	assert_int_equal(rp_reads_push(&q, 50, 10, &p), -1); /* full: NOT_READY at once */
	/* Many rounds through the ring: slots are reused once the head moves. */
	for (uint64_t round = 0; round < 100; round++) {
		t.n = 0;
		assert_int_equal(rp_reads_take_expired(&q, 10 + round, take, &t), 4);
		for (uint64_t i = 0; i < 4; i++) {
			p = mkpkt(round * 4 + i);
			assert_int_equal(rp_reads_push(&q, 50, 11 + round, &p), 0);
		}
		assert_int_equal(rp_reads_push(&q, 50, 11 + round, &p), -1);
	}
	t.n = 0;
	assert_int_equal(rp_reads_take_ready(&q, 50, take, &t), 4);
	assert_int_equal(t.tags[0], 99 * 4);
	assert_int_equal(q.live, 0);
	rp_reads_free(&q);
}

/* ---- NACK timing ---- */

#define MS 1000000ull

/* Offers seq as if it arrived at t from the sender tagged `from`. */
static enum rp_offer offer_at(struct rp_order *o, uint64_t seq, uint64_t t, uint16_t from)
{
	struct rp_pkt p = mkpkt(seq);

	p.from.sin_port = from;
	return rp_order_offer(o, seq, &p, t);
}

static void test_gap_range(void **state)
{
	struct rp_order o;
	struct rp_gap g;

	(void)state;
	assert_int_equal(rp_order_init(&o, 0), 0);
	assert_int_equal(rp_order_gap(&o, 256, &g), 0); /* nothing buffered */
	assert_int_equal(offer_at(&o, 5, 100, 7), RP_BUFFERED);
	assert_int_equal(offer_at(&o, 3, 200, 8), RP_BUFFERED);
	assert_int_equal(rp_order_gap(&o, 256, &g), 1);
	/* 1 and 2 are missing; the first buffered write (3) dates the gap. */
	assert_int_equal(g.first, 1);
	assert_int_equal(g.last, 2);
	assert_int_equal(g.since_ns, 200);
	assert_int_equal(g.from.sin_port, 8);
	assert_int_equal(rp_order_gap(&o, 1, &g), 1);
	assert_int_equal(g.last, 1); /* capped */
	rp_order_free(&o);

	/* A long gap is capped at the range limit. */
	assert_int_equal(rp_order_init(&o, 1000), 0);
	assert_int_equal(offer_at(&o, 1000 + RP_WINDOW, 5, 1), RP_BUFFERED);
	assert_int_equal(rp_order_gap(&o, 256, &g), 1);
	assert_int_equal(g.first, 1001);
	assert_int_equal(g.last, 1256);
	assert_int_equal(rp_order_gap(&o, RP_WINDOW, &g), 1);
	assert_int_equal(g.last, 1000 + RP_WINDOW - 1);
	rp_order_free(&o);

	/* After a reset the next write may sit in the buffer: that is no gap. */
	assert_int_equal(rp_order_init(&o, 0), 0);
	assert_int_equal(offer_at(&o, 5, 1, 1), RP_BUFFERED);
	rp_order_reset(&o, 4);
	assert_int_equal(rp_order_gap(&o, 256, &g), 0);
	rp_order_free(&o);
}

static void test_nack_after_delay_with_backoff(void **state)
{
	struct rp_order o;
	struct rp_nack n = {0};
	struct rp_gap g;
	uint64_t t0 = 1000 * MS, t, expect;

	(void)state;
	assert_int_equal(rp_order_init(&o, 0), 0);
	assert_int_equal(rp_nack_poll(&n, &o, t0, &g), 0);
	assert_int_equal(rp_nack_deadline(&n), UINT64_MAX);
	/* 1 and 2 applied; 4 and 5 arrive, 3 does not. */
	assert_int_equal(offer_at(&o, 1, t0, 1), RP_NEXT);
	rp_order_advance(&o);
	assert_int_equal(offer_at(&o, 2, t0, 1), RP_NEXT);
	rp_order_advance(&o);
	assert_int_equal(offer_at(&o, 4, t0, 9), RP_BUFFERED);
	assert_int_equal(offer_at(&o, 5, t0 + 1 * MS, 9), RP_BUFFERED);
	/* Not before the gap is RP_NACK_DELAY_NS old. */
	assert_int_equal(rp_nack_poll(&n, &o, t0 + RP_NACK_DELAY_NS - 1, &g), 0);
	assert_int_equal(rp_nack_deadline(&n), t0 + RP_NACK_DELAY_NS);
	assert_int_equal(rp_nack_poll(&n, &o, t0 + RP_NACK_DELAY_NS, &g), 1);
	assert_int_equal(g.first, 3);
	assert_int_equal(g.last, 3);
	assert_int_equal(g.from.sin_port, 9); /* back to where the writes come from */
	/* Repeated while the gap persists, each interval twice the last, capped. */
	t = t0 + RP_NACK_DELAY_NS;
	for (int i = 1; i <= 12; i++) {
		expect = RP_NACK_DELAY_NS << i;
		if (i >= 7 || expect > RP_NACK_MAX_BACKOFF_NS)
			expect = RP_NACK_MAX_BACKOFF_NS;
		assert_int_equal(rp_nack_deadline(&n), t + expect);
		assert_int_equal(rp_nack_poll(&n, &o, t + expect - 1, &g), 0);
		assert_int_equal(rp_nack_poll(&n, &o, t + expect, &g), 1);
		assert_int_equal(g.first, 3);
		t += expect;
	}
	assert_int_equal(n.sent, 13);
	/* 3 arrives: 3, 4, 5 apply, no gap, no NACK, no deadline. */
	assert_int_equal(offer_at(&o, 3, t, 1), RP_NEXT);
	rp_order_advance(&o);
	while (rp_order_take(&o))
		rp_order_advance(&o);
	assert_int_equal(o.next, 6);
	assert_int_equal(rp_nack_poll(&n, &o, t + 1000 * MS, &g), 0);
	assert_int_equal(rp_nack_deadline(&n), UINT64_MAX);
	rp_order_free(&o);
}

static void test_nack_not_for_reordering(void **state)
{
	struct rp_order o;
	struct rp_nack n = {0};
	struct rp_gap g;

	(void)state;
	assert_int_equal(rp_order_init(&o, 0), 0);
	/* 2 overtakes 1 by 4 ms: no NACK. */
	assert_int_equal(offer_at(&o, 2, 10 * MS, 1), RP_BUFFERED);
	assert_int_equal(rp_nack_poll(&n, &o, 12 * MS, &g), 0);
	assert_int_equal(offer_at(&o, 1, 14 * MS, 1), RP_NEXT);
	rp_order_advance(&o);
	assert_non_null(rp_order_take(&o));
	rp_order_advance(&o);
	assert_int_equal(rp_nack_poll(&n, &o, 100 * MS, &g), 0);
	assert_int_equal(rp_nack_deadline(&n), UINT64_MAX);
	assert_int_equal(n.sent, 0);
	rp_order_free(&o);
}

static void test_nack_next_gap(void **state)
{
	struct rp_order o;
	struct rp_nack n = {0};
	struct rp_gap g;

	(void)state;
	assert_int_equal(rp_order_init(&o, 0), 0);
	/* Two holes: 1 and 3..4. 2 and 5 arrive at 0 ms. */
	assert_int_equal(offer_at(&o, 2, 0, 1), RP_BUFFERED);
	assert_int_equal(offer_at(&o, 5, 0, 1), RP_BUFFERED);
	assert_int_equal(rp_nack_poll(&n, &o, 5 * MS, &g), 1);
	assert_int_equal(g.first, 1);
	assert_int_equal(g.last, 1);
	/* 1 arrives at 6 ms: 1, 2 apply; the next hole is 3..4, and the write after
	 * it (5) has waited 6 ms already: NACK at once, backoff starts afresh. */
	assert_int_equal(offer_at(&o, 1, 6 * MS, 1), RP_NEXT);
	rp_order_advance(&o);
	assert_non_null(rp_order_take(&o));
	rp_order_advance(&o);
	assert_int_equal(rp_nack_poll(&n, &o, 6 * MS, &g), 1);
	assert_int_equal(g.first, 3);
	assert_int_equal(g.last, 4);
	assert_int_equal(n.sent, 1);
	assert_int_equal(rp_nack_deadline(&n), 6 * MS + 2 * RP_NACK_DELAY_NS);
	/* 3 arrives: the gap shrank to 4, which the last NACK asked for too:
	 * its resend is likely right behind, so the schedule is kept. */
	assert_int_equal(offer_at(&o, 3, 7 * MS, 1), RP_NEXT);
	rp_order_advance(&o);
	assert_int_equal(rp_nack_poll(&n, &o, 7 * MS, &g), 0);
	assert_int_equal(rp_nack_deadline(&n), 6 * MS + 2 * RP_NACK_DELAY_NS);
	assert_int_equal(rp_nack_poll(&n, &o, 6 * MS + 2 * RP_NACK_DELAY_NS, &g), 1);
	assert_int_equal(g.first, 4);
	assert_int_equal(g.last, 4);
	assert_int_equal(n.sent, 2);
	/* 4 arrives, 5 applies; 7 arrives without 6: a new gap, a fresh clock. */
	assert_int_equal(offer_at(&o, 4, 20 * MS, 1), RP_NEXT);
	rp_order_advance(&o);
	assert_non_null(rp_order_take(&o));
	rp_order_advance(&o);
	assert_int_equal(offer_at(&o, 7, 21 * MS, 1), RP_BUFFERED);
	assert_int_equal(rp_nack_poll(&n, &o, 22 * MS, &g), 0);
	assert_int_equal(rp_nack_deadline(&n), 21 * MS + RP_NACK_DELAY_NS);
	assert_int_equal(rp_nack_poll(&n, &o, 21 * MS + RP_NACK_DELAY_NS, &g), 1);
	assert_int_equal(g.first, 6);
	assert_int_equal(n.sent, 1);
	rp_order_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_one_three_two),
		cmocka_unit_test(test_reversed_window),
		cmocka_unit_test(test_shuffled_with_dups),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_reads_by_stamp),
		cmocka_unit_test(test_reads_full_and_wrap),
		cmocka_unit_test(test_gap_range),
		cmocka_unit_test(test_nack_after_delay_with_backoff),
		cmocka_unit_test(test_nack_not_for_reordering),
		cmocka_unit_test(test_nack_next_gap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
