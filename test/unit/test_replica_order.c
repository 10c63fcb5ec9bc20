/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the replica's Redis-free ordering parts: the gap buffer
 * (replica/order.c) applies any arrival order in seq order exactly once, the
 * reply cache answers recent duplicates, and the stamped read queue
 * (replica/reads.c) releases reads by stamp and by deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

	switch (rp_order_offer(&a->o, seq, &p)) {
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
	assert_int_equal(rp_order_offer(&a->o, 3, &p), RP_BUFFERED);
	assert_int_equal(rp_order_offer(&a->o, 3, &p), RP_ALREADY_BUFFERED);
	assert_int_equal(a->o.buffered, 1);
	deliver(a, 2);
	assert_in_order(a, 1, 3);
	assert_int_equal(a->o.buffered, 0);
	assert_int_equal(rp_order_offer(&a->o, 2, &p), RP_DUP);
	assert_int_equal(rp_order_offer(&a->o, 3, &p), RP_DUP);
	assert_int_equal(rp_order_offer(&a->o, 4, &p), RP_NEXT);
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
	assert_int_equal(rp_order_offer(&a->o, 9, &nine), RP_NEXT);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),	cmocka_unit_test(test_one_three_two),
		cmocka_unit_test(test_reversed_window), cmocka_unit_test(test_shuffled_with_dups),
		cmocka_unit_test(test_reset),		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_reads_by_stamp),	cmocka_unit_test(test_reads_full_and_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
