/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the replica's vr log (replica/vrlog.c): the replica rules
 * V1-V6 of docs/vr.md (views only grow, usable entries, vhead and synced,
 * when PREPARE_OK is sent, what is executed, entering a view, the view
 * change report), plus V7's recovering status, V8's lookup, the NACK gap and
 * the ring wrapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vrlog.h"

static struct rp_pkt mkpkt(uint64_t op, uint32_t view)
{
	struct rp_pkt p;

	memset(&p, 0, sizeof(p));
	p.len = sizeof(op) + sizeof(view);
	memcpy(p.data, &op, sizeof(op));
	memcpy(p.data + sizeof(op), &view, sizeof(view));
	return p;
}

static uint32_t view_of(const struct rp_vr_entry *e)
{
	uint32_t v;

	memcpy(&v, e->pkt.data + sizeof(uint64_t), sizeof(v));
	return v;
}

/* A PREPARE of op in view v with commit number stamp, as the daemon does:
 * V1/V5, store, raise commit. */
static enum rp_vr_offer prepare(struct rp_vrlog *l, uint32_t v, uint64_t op, uint64_t stamp)
{
	struct rp_pkt p = mkpkt(op, v);
	enum rp_vr_offer r;

	if (rp_vrlog_seen(l, v) == RP_VR_STALE)
		return RP_VR_WRONG_VIEW;
	r = rp_vrlog_offer(l, op, v, &p, op * 10);
	rp_vrlog_set_commit(l, stamp, 0);
	return r;
}

/* START_VIEW(v, n, c): V5 then n(v). */
static void start_view(struct rp_vrlog *l, uint32_t v, uint64_t n, uint64_t c)
{
	assert_int_not_equal(rp_vrlog_seen(l, v), RP_VR_STALE);
	rp_vrlog_set_commit(l, c, 0);
	rp_vrlog_set_nv(l, n);
}

/* Executes everything V4 allows; returns how many ops. */
static unsigned execute(struct rp_vrlog *l)
{
	const struct rp_vr_entry *e;
	unsigned n = 0;

	while ((e = rp_vrlog_next_exec(l))) {
		assert_int_equal(e->op, l->applied + 1);
		rp_vrlog_advance(l);
		n++;
	}
	return n;
}

static int setup(void **state)
{
	struct rp_vrlog *l = malloc(sizeof(*l));

	assert_non_null(l);
	assert_int_equal(rp_vrlog_init(l, 0, 0, 0), 0);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	rp_vrlog_free(*state);
	free(*state);
	return 0;
}

/* V1: PREPARE/COMMIT of an older view are dropped; a newer one enters it. */
static void test_v1_views_only_grow(void **state)
{
	struct rp_vrlog *l = *state;

	start_view(l, 2, 0, 0);
	assert_int_equal(l->view, 2);
	assert_int_equal(rp_vrlog_seen(l, 1), RP_VR_STALE);
	assert_int_equal(prepare(l, 1, 1, 0), RP_VR_WRONG_VIEW);
	assert_null(rp_vrlog_get(l, 1));
	assert_int_equal(rp_vrlog_seen(l, 2), RP_VR_CURRENT);
	assert_int_equal(rp_vrlog_seen(l, 3), RP_VR_ENTERED);
	assert_int_equal(l->view, 3);
	assert_int_equal(rp_vrlog_seen(l, 2), RP_VR_STALE);
	/* A store of a view other than the current one is refused. */
	struct rp_pkt p = mkpkt(1, 2);
	assert_int_equal(rp_vrlog_offer(l, 1, 2, &p, 0), RP_VR_WRONG_VIEW);
}

/* V3: no PREPARE_OK before n(v) is known, nor before vhead reaches it. */
static void test_v3_no_ok_before_nv(void **state)
{
	struct rp_vrlog *l = *state;
	uint64_t a, b;

	assert_int_equal(prepare(l, 1, 1, 0), RP_VR_STORED); /* enters view 1 */
	assert_int_equal(prepare(l, 1, 2, 0), RP_VR_STORED);
	assert_int_equal(rp_vrlog_vhead(l), 2);
	assert_false(rp_vrlog_synced(l));
	assert_false(rp_vrlog_ok_range(l, &a, &b)); /* n(v) unknown */
	assert_false(rp_vrlog_ok_again(l, 1));
	rp_vrlog_set_nv(l, 4); /* PING/START_VIEW: n(1) = 4 */
	assert_false(rp_vrlog_synced(l));
	assert_false(rp_vrlog_ok_range(l, &a, &b)); /* vhead 2 < 4 */
	assert_int_equal(prepare(l, 1, 4, 0), RP_VR_STORED);
	assert_false(rp_vrlog_ok_range(l, &a, &b)); /* 3 missing: vhead still 2 */
	assert_int_equal(rp_vrlog_vhead(l), 2);
	assert_int_equal(prepare(l, 1, 3, 0), RP_VR_STORED);
	assert_true(rp_vrlog_synced(l));
	assert_true(rp_vrlog_ok_range(l, &a, &b));
	assert_int_equal(a, 1);
	assert_int_equal(b, 4);
	assert_false(rp_vrlog_ok_range(l, &a, &b)); /* nothing new */
	/* n(v) is learned once. */
	rp_vrlog_set_nv(l, 100);
	assert_int_equal(l->n_v, 4);
	/* Out of order afterwards: 6 waits for 5; then 5..6 together. */
	assert_int_equal(prepare(l, 1, 6, 0), RP_VR_STORED);
	assert_false(rp_vrlog_ok_range(l, &a, &b));
	assert_int_equal(prepare(l, 1, 5, 0), RP_VR_STORED);
	assert_true(rp_vrlog_ok_range(l, &a, &b));
	assert_int_equal(a, 5);
	assert_int_equal(b, 6);
	/* A duplicate of a held op is acked again; of a missing one, not. */
	assert_int_equal(prepare(l, 1, 5, 0), RP_VR_DUP);
	assert_true(rp_vrlog_ok_again(l, 5));
	assert_false(rp_vrlog_ok_again(l, 7));
}

/* V4: only committed, usable ops are executed, in order. */
static void test_v4_execute_committed_in_order(void **state)
{
	struct rp_vrlog *l = *state;

	start_view(l, 1, 0, 0);
	prepare(l, 1, 1, 0);
	prepare(l, 1, 3, 0);
	assert_int_equal(execute(l), 0); /* nothing committed */
	rp_vrlog_set_commit(l, 3, 0);
	assert_int_equal(execute(l), 1); /* 2 missing */
	assert_int_equal(l->applied, 1);
	prepare(l, 1, 2, 3);
	assert_int_equal(execute(l), 2);
	assert_int_equal(l->applied, 3);
	/* A PREPARE of an executed op is old. */
	assert_int_equal(prepare(l, 1, 2, 3), RP_VR_OLD);
	/* Commit does not go back. */
	rp_vrlog_set_commit(l, 1, 0);
	assert_int_equal(l->commit, 3);
}

/* V2/V5: an older view's entry above trusted is not usable and not executed
 * even if commit covers it; the new view's PREPARE overwrites it. Entries at
 * or below trusted stay usable. */
static void test_v2_old_entry_above_trusted(void **state)
{
	struct rp_vrlog *l = *state;
	uint64_t a, b;

	start_view(l, 1, 0, 0);
	for (uint64_t op = 1; op <= 4; op++)
		prepare(l, 1, op, 0);
	rp_vrlog_set_commit(l, 2, 0); /* commit 2 known in view 1 */
	/* Enter view 2 (n(2) = 4, commit 4 in START_VIEW). */
	start_view(l, 2, 4, 4);
	assert_int_equal(l->trusted, 2);
	assert_int_equal(l->commit, 4);
	assert_true(rp_vrlog_usable(l, 1));
	assert_true(rp_vrlog_usable(l, 2));
	assert_false(rp_vrlog_usable(l, 3));
	assert_false(rp_vrlog_usable(l, 4));
	assert_int_equal(rp_vrlog_vhead(l), 2);
	assert_false(rp_vrlog_synced(l));
	assert_int_equal(execute(l), 2); /* 1, 2; not 3 although commit is 4 */
	assert_int_equal(l->applied, 2);
	assert_false(rp_vrlog_ok_range(l, &a, &b));
	/* The new view's PREPARE of 3 replaces view 1's: usable. */
	assert_int_equal(prepare(l, 2, 3, 4), RP_VR_STORED);
	assert_true(rp_vrlog_usable(l, 3));
	assert_int_equal(view_of(rp_vrlog_get(l, 3)), 2);
	assert_int_equal(rp_vrlog_get(l, 3)->view, 2);
	assert_int_equal(execute(l), 1);
	assert_int_equal(rp_vrlog_get(l, 4)->view, 1); /* V8: held, not usable */
	assert_int_equal(prepare(l, 2, 4, 4), RP_VR_STORED);
	assert_true(rp_vrlog_synced(l));
	assert_int_equal(execute(l), 1);
	assert_int_equal(l->applied, 4);
}

/* The NACK gap is the first missing or unusable op up to the next usable one. */
static void test_v4_gap(void **state)
{
	struct rp_vrlog *l = *state;
	uint64_t first, last, since;

	start_view(l, 1, 0, 0);
	assert_false(rp_vrlog_gap(l, 256, &first, &last, &since));
	prepare(l, 1, 1, 0);
	prepare(l, 1, 5, 0);
	assert_true(rp_vrlog_gap(l, 256, &first, &last, &since));
	assert_int_equal(first, 2);
	assert_int_equal(last, 4);
	assert_int_equal(since, 50); /* when op 5 arrived */
	assert_true(rp_vrlog_gap(l, 2, &first, &last, &since));
	assert_int_equal(last, 3); /* capped */
	/* Commit beyond everything held: the gap runs up to commit. */
	prepare(l, 1, 2, 0);
	prepare(l, 1, 3, 0);
	prepare(l, 1, 4, 0);
	assert_false(rp_vrlog_gap(l, 256, &first, &last, &since));
	rp_vrlog_set_commit(l, 9, 77);
	assert_true(rp_vrlog_gap(l, 256, &first, &last, &since));
	assert_int_equal(first, 6);
	assert_int_equal(last, 9);
	/* An older view's entries above trusted are asked for again. */
	start_view(l, 2, 9, 9); /* trusted = 9 */
	prepare(l, 2, 12, 9);
	rp_vrlog_enter_view(l, 3); /* trusted = 9, 12 is from view 2 */
	assert_false(rp_vrlog_usable(l, 12));
	prepare(l, 3, 14, 9);
	assert_true(rp_vrlog_gap(l, 256, &first, &last, &since));
	assert_int_equal(first, 6);
	assert_int_equal(last, 13);
}

/* V6: the report is (view, vhead) when synced, the remembered pair otherwise;
 * duplicate START_VIEW_CHANGE answered again; stale views refused. */
static void test_v6_view_change(void **state)
{
	struct rp_vrlog *l = *state;
	struct rp_vr_report r;

	start_view(l, 1, 0, 0);
	for (uint64_t op = 1; op <= 5; op++)
		prepare(l, 1, op, 3);
	assert_true(rp_vrlog_synced(l));
	assert_int_equal(rp_vrlog_start_view_change(l, 2, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.view, 2);
	assert_int_equal(r.normal, 1);
	assert_int_equal(r.op, 5);
	assert_int_equal(r.commit, 3);
	assert_int_equal(r.oldest, 1);
	assert_int_equal(l->status, RP_VR_VIEW_CHANGE);
	/* In view change: lower views dropped, no vote. */
	assert_int_equal(rp_vrlog_seen(l, 1), RP_VR_STALE);
	assert_false(rp_vrlog_synced(l));
	/* Retry of the same view: the same report. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(rp_vrlog_start_view_change(l, 2, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.normal, 1);
	assert_int_equal(r.op, 5);
	/* Older or equal views otherwise: stale. */
	assert_int_equal(rp_vrlog_start_view_change(l, 1, &r), RP_VR_SVC_STALE);
	/* START_VIEW(2, n = 7, c = 5): normal in 2, not synced until 7. */
	start_view(l, 2, 7, 5);
	assert_int_equal(l->status, RP_VR_NORMAL);
	assert_int_equal(rp_vrlog_start_view_change(l, 2, &r), RP_VR_SVC_STALE);
	prepare(l, 2, 6, 5);
	assert_false(rp_vrlog_synced(l));
	/* Not synced in 2: a change to 3 reports what was remembered on entering
	 * 2 -- (1, 5) -- although 6 is held in view 2. */
	assert_int_equal(rp_vrlog_start_view_change(l, 3, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.normal, 1);
	assert_int_equal(r.op, 5);
	/* Skipping: START_VIEW_CHANGE(5) while changing to 3 reports the same. */
	assert_int_equal(rp_vrlog_start_view_change(l, 5, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.view, 5);
	assert_int_equal(r.normal, 1);
	assert_int_equal(r.op, 5);
	/* A PREPARE of the view being changed to enters it. */
	assert_int_equal(rp_vrlog_seen(l, 5), RP_VR_ENTERED);
	assert_int_equal(l->status, RP_VR_NORMAL);
	assert_int_equal(l->view, 5);
	rp_vrlog_set_nv(l, 6);
	for (uint64_t op = 6; op <= 8; op++)
		prepare(l, 5, op, 5);
	/* Ops 4 and 5 are view-1 entries above what was trusted: commit 5 was
	 * learned in view 2 before view 2's versions arrived. They are not
	 * usable (V5: trusted = min(commit, vhead)) until view 5 re-sends them. */
	assert_false(rp_vrlog_synced(l));
	prepare(l, 5, 4, 5);
	prepare(l, 5, 5, 5);
	assert_true(rp_vrlog_synced(l));
	assert_int_equal(rp_vrlog_start_view_change(l, 6, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.normal, 5);
	assert_int_equal(r.op, 8);
}

/* V5: entering a view remembers the synced pair of the view left. */
static void test_v5_enter_remembers(void **state)
{
	struct rp_vrlog *l = *state;
	struct rp_vr_report r;
	uint64_t a, b;

	start_view(l, 1, 2, 0);
	prepare(l, 1, 1, 0);
	prepare(l, 1, 2, 0);
	prepare(l, 1, 3, 1);
	assert_true(rp_vrlog_ok_range(l, &a, &b));
	start_view(l, 4, RP_VR_UNKNOWN, 1); /* straight to 4 */
	assert_int_equal(l->trusted, 1);
	assert_int_equal(l->report_view, 1);
	assert_int_equal(l->report_op, 3);
	assert_int_equal(l->n_v, RP_VR_UNKNOWN);
	assert_false(rp_vrlog_ok_range(l, &a, &b)); /* new view, n(v) unknown */
	/* Entries are kept (nothing deleted), GET_LOG still sees them. */
	assert_non_null(rp_vrlog_get(l, 3));
	assert_int_equal(rp_vrlog_start_view_change(l, 5, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.normal, 1);
	assert_int_equal(r.op, 3);
	/* A fresh replica reports (0, 0). */
	struct rp_vrlog f;
	assert_int_equal(rp_vrlog_init(&f, 0, 0, 0), 0);
	assert_int_equal(rp_vrlog_start_view_change(&f, 1, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.normal, 0);
	assert_int_equal(r.op, 0);
	assert_int_equal(r.oldest, 0);
	rp_vrlog_free(&f);
}

/* V7: a recovering replica does not vote or execute until a SYNC completed,
 * then it is normal in the next view it enters. */
static void test_v7_recovering(void **state)
{
	struct rp_vrlog l;
	struct rp_vr_report r;
	uint64_t a, b;

	(void)state;
	assert_int_equal(rp_vrlog_init(&l, 10, 3, 1), 0);
	assert_int_equal(l.status, RP_VR_RECOVERING);
	assert_int_equal(rp_vrlog_start_view_change(&l, 4, &r), RP_VR_SVC_NOT_READY);
	assert_int_equal(rp_vrlog_seen(&l, 2), RP_VR_STALE);
	assert_int_equal(prepare(&l, 3, 11, 11), RP_VR_STORED);
	rp_vrlog_set_nv(&l, 11);
	assert_false(rp_vrlog_synced(&l));
	assert_false(rp_vrlog_ok_range(&l, &a, &b));
	assert_null(rp_vrlog_next_exec(&l));
	start_view(&l, 4, 11, 11); /* still recovering */
	assert_int_equal(l.status, RP_VR_RECOVERING);
	assert_int_equal(l.view, 4);
	/* The copy: applied 11 from the source. Executes, does not vote yet. */
	rp_vrlog_sync_start(&l, 11);
	assert_null(rp_vrlog_next_exec(&l));
	rp_vrlog_sync_done(&l, 11, 1);
	assert_int_equal(l.applied, 11);
	assert_int_equal(l.trusted, 11);
	assert_true(rp_vrlog_can_execute(&l));
	assert_int_equal(rp_vrlog_start_view_change(&l, 5, &r), RP_VR_SVC_NOT_READY);
	start_view(&l, 5, 11, 11);
	assert_int_equal(l.status, RP_VR_NORMAL);
	assert_true(rp_vrlog_synced(&l));
	assert_int_equal(rp_vrlog_start_view_change(&l, 6, &r), RP_VR_SVC_REPORT);
	assert_int_equal(r.normal, 5);
	assert_int_equal(r.op, 11);
	rp_vrlog_free(&l);
}

/* V7 within the current view: after the copy, the replica votes again only
 * once it holds every op up to the LB's head of the first PING after it. */
static void test_v7_recover_in_view(void **state)
{
	struct rp_vrlog l;
	struct rp_vr_report r;
	uint64_t a, b;

	(void)state;
	assert_int_equal(rp_vrlog_init(&l, 0, 2, 1), 0);
	assert_int_equal(prepare(&l, 3, 21, 0), RP_VR_STORED); /* join set: view 3 */
	rp_vrlog_set_nv(&l, 5);
	assert_int_equal(rp_vrlog_try_recover(&l, 30), 0); /* no copy yet */
	rp_vrlog_sync_start(&l, 20);
	rp_vrlog_sync_done(&l, 20, 1);
	/* The LB's head is 23: ops 21..23 first (it may have acked 23 before). */
	assert_int_equal(rp_vrlog_try_recover(&l, 23), 0);
	assert_int_equal(l.status, RP_VR_RECOVERING);
	assert_false(rp_vrlog_ok_range(&l, &a, &b));
	assert_int_equal(rp_vrlog_start_view_change(&l, 4, &r), RP_VR_SVC_NOT_READY);
	assert_int_equal(l.view, 3);
	assert_int_equal(prepare(&l, 3, 22, 20), RP_VR_STORED);
	assert_int_equal(rp_vrlog_try_recover(&l, 99), 0); /* the first head counts */
	assert_int_equal(prepare(&l, 3, 23, 20), RP_VR_STORED);
	assert_int_equal(rp_vrlog_try_recover(&l, 99), 1);
	assert_int_equal(l.status, RP_VR_NORMAL);
	assert_true(rp_vrlog_synced(&l));
	assert_true(rp_vrlog_ok_range(&l, &a, &b));
	assert_int_equal(b, 23);
	rp_vrlog_free(&l);
}

/* SYNC: stashed PREPAREs, no vote; afterwards applied/commit/trusted. */
static void test_sync(void **state)
{
	struct rp_vrlog *l = *state;
	uint64_t a, b;

	start_view(l, 1, 0, 0);
	rp_vrlog_sync_start(l, 100);
	assert_int_equal(prepare(l, 1, 101, 50), RP_VR_STORED);
	assert_int_equal(prepare(l, 1, 90, 50), RP_VR_OLD);
	assert_false(rp_vrlog_synced(l));
	assert_false(rp_vrlog_ok_range(l, &a, &b));
	assert_null(rp_vrlog_next_exec(l));
	rp_vrlog_sync_done(l, 100, 1);
	assert_int_equal(l->applied, 100);
	assert_int_equal(l->commit, 100);
	assert_int_equal(l->trusted, 100);
	assert_true(rp_vrlog_ok_range(l, &a, &b));
	assert_int_equal(a, 101);
	assert_int_equal(b, 101);
	rp_vrlog_set_commit(l, 101, 0);
	assert_int_equal(execute(l), 1);
}

/* The ring wraps: RP_VR_LOG ops ahead of applied at most; old slots reused. */
static void test_ring_wrap(void **state)
{
	struct rp_vrlog *l = *state;
	uint64_t a, b, total = 0;

	start_view(l, 1, 0, 0);
	for (uint64_t op = 1; op <= RP_VR_LOG; op++)
		assert_int_equal(prepare(l, 1, op, 0), RP_VR_STORED);
	assert_int_equal(prepare(l, 1, RP_VR_LOG + 1, 0), RP_VR_TOO_FAR);
	assert_int_equal(rp_vrlog_vhead(l), RP_VR_LOG);
	assert_true(rp_vrlog_ok_range(l, &a, &b));
	assert_int_equal(b - a + 1, RP_VR_LOG);
	rp_vrlog_set_commit(l, 10, 0);
	assert_int_equal(execute(l), 10);
	for (uint64_t op = RP_VR_LOG + 1; op <= RP_VR_LOG + 10; op++)
		assert_int_equal(prepare(l, 1, op, 0), RP_VR_STORED);
	assert_null(rp_vrlog_get(l, 1)); /* overwritten by RP_VR_LOG + 1 */
	assert_non_null(rp_vrlog_get(l, 11));
	assert_int_equal(rp_vrlog_oldest(l), 11);
	/* A late PREPARE of an op whose slot holds a newer one is old. */
	assert_int_equal(prepare(l, 1, 5, 0), RP_VR_OLD);
	assert_int_equal(rp_vrlog_get(l, 5 + RP_VR_LOG)->op, 5 + RP_VR_LOG);
	assert_true(rp_vrlog_ok_range(l, &a, &b));
	assert_int_equal(a, RP_VR_LOG + 1);
	assert_int_equal(b, RP_VR_LOG + 10);
	/* Execute far beyond one ring. */
	for (uint64_t op = RP_VR_LOG + 11; op <= 3 * RP_VR_LOG; op++) {
		rp_vrlog_set_commit(l, op - 100, 0);
		total += execute(l);
		assert_int_equal(prepare(l, 1, op, 0), RP_VR_STORED);
	}
	assert_int_equal(l->applied, 3 * RP_VR_LOG - 100);
	assert_int_equal(total, 3 * RP_VR_LOG - 110);
	assert_int_equal(rp_vrlog_vhead(l), 3 * RP_VR_LOG);
}

/* A COMMIT's request for a result is remembered for that op only. */
static void test_want(void **state)
{
	struct rp_vrlog *l = *state;

	start_view(l, 1, 0, 0);
	rp_vrlog_want(l, 3);
	assert_true(rp_vrlog_wanted(l, 3));
	assert_false(rp_vrlog_wanted(l, 3 + RP_VR_LOG));
	assert_false(rp_vrlog_wanted(l, 2));
	for (uint64_t op = 1; op <= 3; op++)
		prepare(l, 1, op, 3);
	execute(l);
	assert_false(rp_vrlog_wanted(l, 3)); /* consumed by execution */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v1_views_only_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v3_no_ok_before_nv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_execute_committed_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v2_old_entry_above_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v6_view_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v5_enter_remembers, setup, teardown),
		cmocka_unit_test(test_v7_recovering),
		cmocka_unit_test(test_v7_recover_in_view),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_want, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
