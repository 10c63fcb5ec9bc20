/* SPDX-License-Identifier: MIT */
/* dalio-replica, vr mode: the log and view state; see vrlog.h and docs/vr.md. */
#include <stdlib.h>
#include <string.h>

#include "vrlog.h"

#define SLOT(op) ((op) & (RP_VR_LOG - 1))

_Static_assert((RP_VR_LOG & (RP_VR_LOG - 1)) == 0, "RP_VR_LOG is a power of two");

/* Extends vhead (V3) over the usable ops after it. vhead >= applied always:
 * every executed op was usable when it ran. */
static void extend_vhead(struct rp_vrlog *l)
{
	if (l->vh < l->applied)
		l->vh = l->applied;
	while (l->vh + 1 - l->applied <= RP_VR_LOG && rp_vrlog_usable(l, l->vh + 1))
		l->vh++;
}

/* vhead from scratch: after the view (V2's "current view") or applied changed. */
static void recompute_vhead(struct rp_vrlog *l)
{
	l->vh = l->applied;
	extend_vhead(l);
}

/* A replica starts in view `view` with `applied` executed (from Redis), and
 * knows nothing newer: commit = trusted = applied. `recovering`: V7. */
int rp_vrlog_init(struct rp_vrlog *l, uint64_t applied, uint32_t view, int recovering)
{
	memset(l, 0, sizeof(*l));
	l->ring = calloc(RP_VR_LOG, sizeof(*l->ring));
	l->want = calloc(RP_VR_LOG, sizeof(*l->want));
	if (!l->ring || !l->want) {
		rp_vrlog_free(l);
		return -1;
	}
	l->view = view;
	l->status = recovering ? RP_VR_RECOVERING : RP_VR_NORMAL;
	l->commit = l->applied = l->trusted = l->vh = l->oked = applied;
	l->n_v = RP_VR_UNKNOWN;
	return 0;
}

void rp_vrlog_free(struct rp_vrlog *l)
{
	free(l->ring);
	free(l->want);
	l->ring = NULL;
	l->want = NULL;
}

/* V2: op j is usable if the log holds it and it was prepared in the current
 * view or j <= trusted. */
int rp_vrlog_usable(const struct rp_vrlog *l, uint64_t j)
{
	const struct rp_vr_entry *e = &l->ring[SLOT(j)];

	return j && e->op == j && (e->view == l->view || j <= l->trusted);
}

/* V3: the largest k such that every op in (applied, k] is usable. */
uint64_t rp_vrlog_vhead(const struct rp_vrlog *l)
{
	return l->vh;
}

/* V3: normal in the current view (not copying) and vhead >= n(v), n(v) known. */
int rp_vrlog_synced(const struct rp_vrlog *l)
{
	return l->status == RP_VR_NORMAL && !l->copying && l->n_v != RP_VR_UNKNOWN &&
	       l->vh >= l->n_v;
}

/* The pair a view change would report now (V6). */
static void report_now(const struct rp_vrlog *l, uint32_t *view, uint64_t *op)
{
	if (rp_vrlog_synced(l)) {
		*view = l->view;
		*op = l->vh;
	} else {
		*view = l->report_view;
		*op = l->report_op;
	}
}

/*
 * V5: enter view `view`. Remembers the report pair as of now (computed in the
 * view being left), sets trusted = commit, status normal (a recovering
 * replica stays recovering until a SYNC has completed, V7), n(v) unknown.
 * Nothing is deleted: the new view's PREPAREs overwrite entries.
 *
 * trusted = max(trusted, min(commit, vhead)), vhead of the view being left:
 * commit alone can be learned (a COMMIT's stamp) before the entries of that
 * view arrive, and an older view's entry at such a position may be a version
 * that never committed. Up to vhead every entry is usable, so committed.
 */
static void raise_trusted(struct rp_vrlog *l)
{
	uint64_t t = l->commit < l->vh ? l->commit : l->vh;

	if (t > l->trusted)
		l->trusted = t;
}

void rp_vrlog_enter_view(struct rp_vrlog *l, uint32_t view)
{
	raise_trusted(l);
	report_now(l, &l->report_view, &l->report_op);
	l->view = view;
	if (l->status != RP_VR_RECOVERING || l->recovered) {
		l->status = RP_VR_NORMAL;
		l->recovered = 0;
	}
	l->n_v = RP_VR_UNKNOWN;
	l->oked = 0;
	l->top = 0;
	recompute_vhead(l);
}

/*
 * V1 for PREPARE, COMMIT and START_VIEW: a view below the current one is
 * stale; a newer one, or the one a view change is under way to, is entered
 * (V5). A recovering replica tracks views too (it stays recovering).
 */
enum rp_vr_seen rp_vrlog_seen(struct rp_vrlog *l, uint32_t view)
{
	if (view < l->view)
		return RP_VR_STALE;
	if (view > l->view || l->status == RP_VR_VIEW_CHANGE) {
		rp_vrlog_enter_view(l, view);
		return RP_VR_ENTERED;
	}
	return RP_VR_CURRENT;
}

/*
 * Stores a PREPARE of op `op` prepared in `view` (the current view: V1 is
 * the caller's rp_vrlog_seen). A held entry of an older view is overwritten
 * (V5: that makes it usable, V2); the same op of the same view is a
 * duplicate. Ops at or below applied are stored too (for GET_LOG, V8) unless
 * their slot already holds a newer op.
 */
enum rp_vr_offer rp_vrlog_offer(struct rp_vrlog *l, uint64_t op, uint32_t view,
				const struct rp_pkt *pkt, uint64_t now_ns)
{
	struct rp_vr_entry *e;

	if (view != l->view || !op)
		return RP_VR_WRONG_VIEW;
	if (op > l->applied && op - l->applied > RP_VR_LOG)
		return RP_VR_TOO_FAR;
	e = &l->ring[SLOT(op)];
	if (e->op > op)
		return RP_VR_OLD;
	if (e->op == op && e->view == view)
		return op <= l->applied ? RP_VR_OLD : RP_VR_DUP;
	e->op = op;
	e->view = view;
	e->at_ns = now_ns;
	e->pkt.from = pkt->from;
	e->pkt.len = pkt->len;
	memcpy(e->pkt.data, pkt->data, pkt->len);
	if (op > l->top)
		l->top = op;
	extend_vhead(l);
	return op <= l->applied ? RP_VR_OLD : RP_VR_STORED;
}

/* The commit number (from a PREPARE's or COMMIT's stamp, START_VIEW) only grows. */
void rp_vrlog_set_commit(struct rp_vrlog *l, uint64_t commit, uint64_t now_ns)
{
	if (commit > l->commit) {
		l->commit = commit;
		l->commit_ns = now_ns;
	}
}

/* V5: n(v) of the current view, from START_VIEW or PING; learned once. */
void rp_vrlog_set_nv(struct rp_vrlog *l, uint64_t n_v)
{
	if (l->n_v == RP_VR_UNKNOWN)
		l->n_v = n_v;
}

/* The oldest op the ring holds, 0 if none (DO_VIEW_CHANGE's client_id). */
uint64_t rp_vrlog_oldest(const struct rp_vrlog *l)
{
	uint64_t oldest = 0;

	for (size_t i = 0; i < RP_VR_LOG; i++)
		if (l->ring[i].op && (!oldest || l->ring[i].op < oldest))
			oldest = l->ring[i].op;
	return oldest;
}

/*
 * V6 (and V7): START_VIEW_CHANGE(view). A newer view: status view-change for
 * it, and the report is (view, vhead) if synced in the current view, else the
 * pair remembered when it was entered. The same view while changing to it:
 * the same report again (the agent retries). Otherwise STALE (the answer
 * carries the replica's view). A recovering replica answers NOT_READY.
 */
enum rp_vr_svc rp_vrlog_start_view_change(struct rp_vrlog *l, uint32_t view, struct rp_vr_report *r)
{
	if (l->status == RP_VR_RECOVERING)
		return RP_VR_SVC_NOT_READY;
	if (view > l->view) {
		raise_trusted(l); /* as V5: vhead of the view being left */
		report_now(l, &l->report_view, &l->report_op);
		l->view = view;
		l->status = RP_VR_VIEW_CHANGE;
		l->n_v = RP_VR_UNKNOWN;
		l->oked = 0;
		l->top = 0;
		recompute_vhead(l);
	} else if (view < l->view || l->status != RP_VR_VIEW_CHANGE) {
		return RP_VR_SVC_STALE;
	}
	r->view = l->view;
	r->normal = l->report_view;
	r->op = l->report_op;
	r->commit = l->commit;
	r->oldest = rp_vrlog_oldest(l);
	return RP_VR_SVC_REPORT;
}

/* V7: nothing is executed while recovering (until a SYNC completed) or
 * while a copy runs. */
int rp_vrlog_can_execute(const struct rp_vrlog *l)
{
	return !l->copying && (l->status != RP_VR_RECOVERING || l->recovered);
}

/* V4: the entry to execute next (op applied + 1), if it is committed and
 * usable; NULL otherwise. The caller executes it, then rp_vrlog_advance. */
const struct rp_vr_entry *rp_vrlog_next_exec(const struct rp_vrlog *l)
{
	uint64_t j = l->applied + 1;

	if (!rp_vrlog_can_execute(l) || j > l->commit || !rp_vrlog_usable(l, j))
		return NULL;
	return &l->ring[SLOT(j)];
}

/* V4: op applied + 1 has been executed (or planned for execution in order). */
void rp_vrlog_advance(struct rp_vrlog *l)
{
	l->applied++;
	l->want[SLOT(l->applied)] = 0;
	extend_vhead(l);
}

/*
 * V3: the ops that became PREPARE_OK-able since the last call: (max(oked,
 * applied), vhead] when synced. Returns 0 if there are none; else fills the
 * inclusive range, which the caller must PREPARE_OK, one op each.
 */
int rp_vrlog_ok_range(struct rp_vrlog *l, uint64_t *first, uint64_t *last)
{
	uint64_t from = l->oked > l->applied ? l->oked : l->applied;

	if (!rp_vrlog_synced(l) || l->vh <= from)
		return 0;
	*first = from + 1;
	*last = l->vh;
	l->oked = l->vh;
	return 1;
}

/* V3: a duplicate PREPARE of op is PREPARE_OKed again (its ack was lost). */
int rp_vrlog_ok_again(const struct rp_vrlog *l, uint64_t op)
{
	return rp_vrlog_synced(l) && op && op <= l->vh;
}

/*
 * V4: the gap to NACK: the first missing or unusable op above applied
 * (vhead + 1) up to the op before the next usable one, at most cap ops. The
 * ops known to exist end at the highest of commit, n(v) and the highest op
 * held from the current view; nothing beyond is asked for. *since_ns: when
 * the op after the gap arrived (or commit grew past it). Returns 0 if none.
 */
int rp_vrlog_gap(const struct rp_vrlog *l, uint32_t cap, uint64_t *first, uint64_t *last,
		 uint64_t *since_ns)
{
	uint64_t limit = l->commit, j;

	if (l->top > limit)
		limit = l->top;
	if (l->n_v != RP_VR_UNKNOWN && l->n_v > limit)
		limit = l->n_v;
	if (limit <= l->vh || !cap)
		return 0;
	*first = l->vh + 1;
	for (j = *first + 1; j <= limit && j - *first < cap; j++) {
		if (rp_vrlog_usable(l, j)) {
			*last = j - 1;
			*since_ns = l->ring[SLOT(j)].at_ns;
			return 1;
		}
	}
	*last = j - 1;
	*since_ns = l->commit_ns;
	if (l->top > *last && l->ring[SLOT(l->top)].op == l->top)
		*since_ns = l->ring[SLOT(l->top)].at_ns;
	return 1;
}

/* V8: the held entry of op (usable or not), or NULL. */
const struct rp_vr_entry *rp_vrlog_get(const struct rp_vrlog *l, uint64_t op)
{
	const struct rp_vr_entry *e = &l->ring[SLOT(op)];

	return op && e->op == op ? e : NULL;
}

/* V4: a COMMIT asked for op's result; answered once op is executed. */
void rp_vrlog_want(struct rp_vrlog *l, uint64_t op)
{
	if (op > l->applied && op - l->applied <= RP_VR_LOG)
		l->want[SLOT(op)] = op;
}

/* Whether a COMMIT asked for op's result (op about to be executed). */
int rp_vrlog_wanted(struct rp_vrlog *l, uint64_t op)
{
	return op && l->want[SLOT(op)] == op;
}

/* applied as re-read from Redis (after a Redis failure, or a copy). */
void rp_vrlog_set_applied(struct rp_vrlog *l, uint64_t applied)
{
	l->applied = applied;
	if (l->commit < applied)
		l->commit = applied;
	recompute_vhead(l);
}

/* A SYNC starts: PREPAREs are stashed (no vote, nothing executed) and ops up
 * to its target arrive with the copy. */
void rp_vrlog_sync_start(struct rp_vrlog *l, uint64_t target)
{
	l->copying = 1;
	if (target > l->applied)
		rp_vrlog_set_applied(l, target);
}

/*
 * The copy is in: applied = the copied __dalio:applied, commit = max(commit,
 * applied), trusted = max(trusted, applied) (executed ops are committed). A
 * recovering replica that completed a copy becomes normal in the next view it
 * enters (V7).
 */
void rp_vrlog_sync_done(struct rp_vrlog *l, uint64_t applied, int complete)
{
	l->copying = 0;
	if (l->trusted < applied)
		l->trusted = applied;
	rp_vrlog_set_applied(l, applied);
	if (complete && l->status == RP_VR_RECOVERING) {
		l->recovered = 1;
		l->recover_to = RP_VR_UNKNOWN;
	}
}

/*
 * V7. The replica may have PREPARE_OKed ops before it crashed that its copy
 * does not hold; every such op is at or below the LB's head when the LB
 * PINGs it after the copy. Holding every op up to there (from this view's
 * leader: the join set gets every PREPARE, NACKs fill gaps), it can vote
 * again without ever reporting less than it acknowledged.
 */
int rp_vrlog_try_recover(struct rp_vrlog *l, uint64_t lb_head)
{
	if (l->status != RP_VR_RECOVERING || !l->recovered)
		return 0;
	if (l->recover_to == RP_VR_UNKNOWN)
		l->recover_to = lb_head;
	if (l->n_v == RP_VR_UNKNOWN || l->vh < l->n_v || l->vh < l->recover_to)
		return 0;
	l->status = RP_VR_NORMAL;
	l->recovered = 0;
	return 1;
}
