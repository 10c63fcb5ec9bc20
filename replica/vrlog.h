/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica, vr mode: the replica's log and view state (docs/vr.md,
 * "Replica rules" V1-V8). A ring of RP_VR_LOG entries {op, view, the PREPARE
 * as received}, indexed by op modulo RP_VR_LOG, and the numbers the rules are
 * stated in: view, status, commit, applied, trusted, n(v) and the report pair
 * a view change answers with. Pure data structure: no I/O, no Redis; the
 * daemon (apply.c) sends and executes what these functions decide.
 * Unit-tested in test/unit/test_replica_vrlog.c.
 */
#ifndef DALIO_REPLICA_VRLOG_H
#define DALIO_REPLICA_VRLOG_H

#include <stdint.h>

#include "pkt.h"

#define RP_VR_LOG     8192	 /* entries held; a power of two */
#define RP_VR_UNKNOWN UINT64_MAX /* n(v) not learned yet */

enum rp_vr_status {
	RP_VR_NORMAL,
	RP_VR_VIEW_CHANGE, /* answered START_VIEW_CHANGE(view): no READs */
	RP_VR_RECOVERING,  /* restarted after being in a view (V7): no vote */
};

struct rp_vr_entry {
	uint64_t op;	/* 0: empty (op 0 is never a write) */
	uint32_t view;	/* the view it was prepared in */
	uint64_t at_ns; /* when it was stored (the caller's clock) */
	struct rp_pkt pkt;
};

struct rp_vrlog {
	struct rp_vr_entry *ring; /* RP_VR_LOG */
	uint64_t *want;		  /* RP_VR_LOG: ops whose result a COMMIT asked for */
	uint32_t view;
	uint8_t status;	      /* enum rp_vr_status */
	uint8_t copying;      /* a SYNC runs: nothing is executed, no vote */
	uint8_t recovered;    /* RECOVERING, but a SYNC completed (rp_vrlog_try_recover) */
	uint64_t recover_to;  /* recovered: the LB's head it must hold first, or RP_VR_UNKNOWN */
	uint64_t commit;      /* highest op known committed */
	uint64_t applied;     /* highest op executed (or planned for execution) */
	uint64_t trusted;     /* commit when the current view was entered (V2) */
	uint64_t n_v;	      /* the current view's start head n(v), or RP_VR_UNKNOWN */
	uint64_t vh;	      /* vhead (V3), kept current */
	uint64_t oked;	      /* highest op PREPARE_OKed in the current view */
	uint64_t top;	      /* highest op stored in the current view */
	uint64_t commit_ns;   /* when commit last grew */
	uint32_t report_view; /* the pair remembered when the view was entered (V5) */
	uint64_t report_op;
};

/* What a message's view means for the replica (V1, V5). */
enum rp_vr_seen {
	RP_VR_STALE,   /* older than the view: drop (READ: STALE_EPOCH) */
	RP_VR_CURRENT, /* the current view */
	RP_VR_ENTERED, /* a newer view (or the one being changed to): entered it now */
};

enum rp_vr_offer {
	RP_VR_STORED,	  /* new (or replaced an older view's entry) */
	RP_VR_DUP,	  /* the same op of the same view is held already */
	RP_VR_OLD,	  /* op <= applied: already executed */
	RP_VR_TOO_FAR,	  /* op > applied + RP_VR_LOG: no slot for it */
	RP_VR_WRONG_VIEW, /* not the current view (call rp_vrlog_seen first) */
};

/* A DO_VIEW_CHANGE's content. */
struct rp_vr_report {
	uint32_t view;	 /* the view being changed to (the answer's epoch) */
	uint32_t normal; /* last normal view reported */
	uint64_t op;	 /* op number reported */
	uint64_t commit;
	uint64_t oldest; /* oldest op held; 0 if none */
};

enum rp_vr_svc {
	RP_VR_SVC_REPORT,    /* answer DO_VIEW_CHANGE with *report */
	RP_VR_SVC_STALE,     /* answer STALE_EPOCH with the replica's view */
	RP_VR_SVC_NOT_READY, /* recovering (V7): answer NOT_READY */
};

int rp_vrlog_init(struct rp_vrlog *l, uint64_t applied, uint32_t view, int recovering);
void rp_vrlog_free(struct rp_vrlog *l);

int rp_vrlog_usable(const struct rp_vrlog *l, uint64_t j);
uint64_t rp_vrlog_vhead(const struct rp_vrlog *l);
int rp_vrlog_synced(const struct rp_vrlog *l);

enum rp_vr_seen rp_vrlog_seen(struct rp_vrlog *l, uint32_t view);
void rp_vrlog_enter_view(struct rp_vrlog *l, uint32_t view);
enum rp_vr_offer rp_vrlog_offer(struct rp_vrlog *l, uint64_t op, uint32_t view,
				const struct rp_pkt *pkt, uint64_t now_ns);
void rp_vrlog_set_commit(struct rp_vrlog *l, uint64_t commit, uint64_t now_ns);
void rp_vrlog_set_nv(struct rp_vrlog *l, uint64_t n_v);
/* V7: a recovering replica whose copy is in becomes normal in the current view
 * once it holds every op up to lb_head (the LB's head in the first PING after
 * the copy) and is synced. 1 when it just did. */
int rp_vrlog_try_recover(struct rp_vrlog *l, uint64_t lb_head);
enum rp_vr_svc rp_vrlog_start_view_change(struct rp_vrlog *l, uint32_t view,
					  struct rp_vr_report *report);

int rp_vrlog_can_execute(const struct rp_vrlog *l);
const struct rp_vr_entry *rp_vrlog_next_exec(const struct rp_vrlog *l);
void rp_vrlog_advance(struct rp_vrlog *l);
int rp_vrlog_ok_range(struct rp_vrlog *l, uint64_t *first, uint64_t *last);
int rp_vrlog_ok_again(const struct rp_vrlog *l, uint64_t op);
int rp_vrlog_gap(const struct rp_vrlog *l, uint32_t cap, uint64_t *first, uint64_t *last,
		 uint64_t *since_ns);
const struct rp_vr_entry *rp_vrlog_get(const struct rp_vrlog *l, uint64_t op);
uint64_t rp_vrlog_oldest(const struct rp_vrlog *l);

void rp_vrlog_want(struct rp_vrlog *l, uint64_t op);
int rp_vrlog_wanted(struct rp_vrlog *l, uint64_t op);

void rp_vrlog_set_applied(struct rp_vrlog *l, uint64_t applied);
void rp_vrlog_sync_start(struct rp_vrlog *l, uint64_t target);
void rp_vrlog_sync_done(struct rp_vrlog *l, uint64_t applied, int complete);

#endif /* DALIO_REPLICA_VRLOG_H */
