/* SPDX-License-Identifier: MIT */
/*
 * The linearizability search and the register model (see checker.h).
 *
 * Per key: the ops that matter become "call" entries (at invoke time) and,
 * for ok ops, "return" entries (at complete time) in one time-sorted doubly
 * linked list. The search repeatedly tries to linearize a call that appears
 * before the first return still in the list (its invocation precedes every
 * pending completion), lifting the call and its return out of the list; when
 * it reaches a return it must backtrack. Visited (linearized set, register
 * value) pairs are kept in a hash set so that no configuration is explored
 * twice. Unknown ops have a call but no return: they may be linearized at any
 * point after their invocation, and the search succeeds as soon as every ok op
 * is linearized, whatever unknown ops are left over.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"

/* ---- register model ---------------------------------------------------- */

enum { ST_NIL = 0, ST_INT = 1, ST_STR = 2 };

/* Register value. Two words, no padding, so records can be compared with memcmp. */
struct state {
	uint64_t kind;
	int64_t v; /* the integer (ST_INT) or the interned string id (ST_STR) */
};

/* One op of one key, reduced to what the model needs. */
struct kop {
	uint8_t type;	  /* enum lc_op_type */
	uint8_t status;	  /* enum lc_status */
	struct state val; /* write: value written; read: value read */
	int64_t delta;	  /* incr */
	int64_t result;	  /* incr with status ok */
	uint32_t hidx;	  /* index in the history */
	uint64_t invoke_ns;
};

enum step_outcome { STEP_OK, STEP_READ_MISMATCH, STEP_NOT_INT, STEP_OVERFLOW, STEP_INCR_MISMATCH };

static enum step_outcome model_step(const struct kop *o, struct state s, struct state *out)
{
	int64_t base, nv;

	switch (o->type) {
	case LC_OP_WRITE:
		*out = o->val;
		return STEP_OK;
	case LC_OP_READ:
		if (s.kind != o->val.kind || s.v != o->val.v)
			return STEP_READ_MISMATCH;
		*out = s;
		return STEP_OK;
	default:
		if (s.kind == ST_STR)
			return STEP_NOT_INT;
		base = s.kind == ST_INT ? s.v : 0;
		if (__builtin_add_overflow(base, o->delta, &nv))
			return STEP_OVERFLOW;
		if (o->status == LC_OK && nv != o->result)
			return STEP_INCR_MISMATCH;
		out->kind = ST_INT;
		out->v = nv;
		return STEP_OK;
	}
}

/* A token that Redis would treat as an integer (the canonical decimal form). */
static bool canonical_int(const char *s, int64_t *out)
{
	char buf[32];
	char *end;
	long long v;

	if (!*s || strlen(s) > 20)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	snprintf(buf, sizeof(buf), "%lld", v);
	if (strcmp(buf, s))
		return false;
	*out = v;
	return true;
}

/* ---- hashing and the visited-state cache ------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t state_hash(struct state s)
{
	return mix64(s.kind * 0x100000001b3ull ^ mix64((uint64_t)s.v));
}

/*
 * Open-addressing hash set of (linearized set, state) records, exact (no
 * fingerprints). The set is a bitset whose first ok_words words hold the ok
 * ops, sorted by invocation, and whose last unk_words words hold the unknown
 * ops. Because the search linearizes ok ops roughly in time order, the ok part
 * is all ones up to some word lo, all zeros from some word hi on, and only the
 * few words in between carry information; a record stores
 *   [state.kind, state.v, lo, hi, ok words lo..hi-1, unknown words]
 * which keeps records small even for keys with tens of thousands of ops. The
 * encoding is canonical, so equal sets give equal records.
 */
struct cache {
	size_t ok_words, unk_words;
	uint64_t *arena;	     /* records, back to back */
	size_t arena_len, arena_cap; /* in words */
	uint64_t *scratch;	     /* the record being looked up */
	uint64_t *slot_hash;
	uint64_t *slot_off; /* arena offset + 1; 0 = empty */
	size_t n_slots, n_recs;
	uint64_t max_bytes;
};

enum { CACHE_PRESENT = 0, CACHE_ADDED = 1, CACHE_NOMEM = -1, CACHE_FULL = -2 };

static uint64_t cache_bytes(size_t arena_cap, size_t n_slots)
{
	return (uint64_t)arena_cap * 8 + (uint64_t)n_slots * 16;
}

static int cache_init(struct cache *c, size_t ok_words, size_t unk_words, uint64_t max_bytes)
{
	memset(c, 0, sizeof(*c));
	c->ok_words = ok_words;
	c->unk_words = unk_words;
	c->max_bytes = max_bytes;
	c->n_slots = 1024;
	c->slot_hash = calloc(c->n_slots, sizeof(*c->slot_hash));
	c->slot_off = calloc(c->n_slots, sizeof(*c->slot_off));
	c->scratch = malloc((ok_words + unk_words + 4) * sizeof(*c->scratch));
	return c->slot_hash && c->slot_off && c->scratch ? 0 : -1;
}

static void cache_free(struct cache *c)
{
	free(c->arena);
	free(c->scratch);
	free(c->slot_hash);
	free(c->slot_off);
	memset(c, 0, sizeof(*c));
}

static int cache_grow_slots(struct cache *c)
{
	size_t n = c->n_slots * 2, i, j;
	uint64_t *nh, *no;

	if (c->max_bytes && cache_bytes(c->arena_cap, n) > c->max_bytes)
		return CACHE_FULL;
	nh = calloc(n, sizeof(*nh));
	no = calloc(n, sizeof(*no));
	if (!nh || !no) {
		free(nh);
		free(no);
		return CACHE_NOMEM;
	}
	for (i = 0; i < c->n_slots; i++) {
		if (!c->slot_off[i])
			continue;
		for (j = c->slot_hash[i] & (n - 1); no[j]; j = (j + 1) & (n - 1))
			;
		nh[j] = c->slot_hash[i];
		no[j] = c->slot_off[i];
	}
	free(c->slot_hash);
	free(c->slot_off);
	c->slot_hash = nh;
	c->slot_off = no;
	c->n_slots = n;
	return 0;
}

/* Encode (bits, s) into c->scratch; returns the record length in words. */
static size_t cache_encode(struct cache *c, const uint64_t *bits, struct state s)
{
	size_t lo = 0, hi = c->ok_words, n = 0;
	uint64_t *r = c->scratch;

	while (lo < c->ok_words && bits[lo] == ~0ull)
		lo++;
	while (hi > lo && !bits[hi - 1])
		hi--;
	r[n++] = s.kind;
	r[n++] = (uint64_t)s.v;
	r[n++] = lo;
	r[n++] = hi;
	memcpy(r + n, bits + lo, (hi - lo) * 8);
	n += hi - lo;
	memcpy(r + n, bits + c->ok_words, c->unk_words * 8);
	return n + c->unk_words;
}

static size_t rec_len(const struct cache *c, const uint64_t *rec)
{
	return 4 + (size_t)(rec[3] - rec[2]) + c->unk_words;
}

/* Add (bits, s) unless present. */
static int cache_add(struct cache *c, const uint64_t *bits, struct state s, uint64_t hash)
{
	size_t mask = c->n_slots - 1, i, len = cache_encode(c, bits, s);
	const uint64_t *rec;
	int rc;

	for (i = hash & mask; c->slot_off[i]; i = (i + 1) & mask) {
		if (c->slot_hash[i] != hash)
			continue;
		rec = c->arena + c->slot_off[i] - 1;
		if (rec_len(c, rec) == len && !memcmp(rec, c->scratch, len * 8))
			return CACHE_PRESENT;
	}
	if (c->arena_cap - c->arena_len < len) {
		size_t ncap = c->arena_cap ? c->arena_cap * 2 : 4096;
		uint64_t *na;

		while (ncap - c->arena_len < len)
			ncap *= 2;
		if (c->max_bytes && cache_bytes(ncap, c->n_slots) > c->max_bytes)
			return CACHE_FULL;
		na = realloc(c->arena, ncap * 8);
		if (!na)
			return CACHE_NOMEM;
		c->arena = na;
		c->arena_cap = ncap;
	}
	memcpy(c->arena + c->arena_len, c->scratch, len * 8);
	c->slot_hash[i] = hash;
	c->slot_off[i] = c->arena_len + 1;
	c->arena_len += len;
	c->n_recs++;
	if (c->n_recs * 2 > c->n_slots) {
		rc = cache_grow_slots(c);
		if (rc)
			return rc;
	}
	return CACHE_ADDED;
}

/* ---- per-key context ---------------------------------------------------- */

struct entry {
	struct entry *prev, *next;
	struct entry *match; /* call <-> return; NULL for the call of an unknown op */
	uint64_t time;
	uint32_t op; /* index in keyctx.ops */
	bool is_call;
};

#define MAX_PENDING_SHOWN 12
#define MAX_TAIL_SHOWN	  6

/* The furthest point the search reached before it had to backtrack. */
struct stuck {
	bool have;
	uint32_t blocker; /* op whose completion could not be passed */
	size_t depth;	  /* ops linearized at that point */
	struct state st;
	uint32_t pending[MAX_PENDING_SHOWN];
	size_t n_pending, n_pending_total;
	uint32_t tail[MAX_TAIL_SHOWN]; /* last linearized ops, oldest first */
	size_t n_tail;
};

struct keyctx {
	const struct lc_history *h;
	const char *key;
	const uint32_t *all; /* history indices of every op on the key */
	size_t n_all;
	struct kop *ops; /* the ops the search places: ok ops by invoke time, then unknown ops */
	size_t n, n_ok;
	const char **strs; /* interned non-integer values, sorted */
	size_t n_strs;
	struct stuck stuck;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Ok ops first, by invocation (so the cache's bitsets fill up from the left). */
static int cmp_kop(const void *a, const void *b)
{
	const struct kop *x = a, *y = b;

	if (x->status != y->status)
		return x->status == LC_OK ? -1 : y->status == LC_OK ? 1 : 0;
	if (x->invoke_ns != y->invoke_ns)
		return x->invoke_ns < y->invoke_ns ? -1 : 1;
	return x->hidx < y->hidx ? -1 : x->hidx > y->hidx;
}

static struct state value_state(const struct keyctx *k, const char *v)
{
	struct state s = {ST_NIL, 0};
	const char **p;

	if (!v)
		return s;
	if (canonical_int(v, &s.v)) {
		s.kind = ST_INT;
		return s;
	}
	p = bsearch(&v, k->strs, k->n_strs, sizeof(*k->strs), cmp_str);
	s.kind = ST_STR;
	s.v = p ? p - k->strs : -1; /* -1: a value nobody wrote; equal to no register value */
	return s;
}

static const struct lc_op *hop(const struct keyctx *k, uint32_t op)
{
	return &k->h->ops[k->ops[op].hidx];
}

/*
 * Choose the ops the search must place, intern values and precompute states.
 * Fail ops and unknown reads never matter. An unknown write whose value no ok
 * read returns, on a key without incrs, can always be left out: in any
 * linearization containing it, the next op on the register is a write (or
 * nothing), so removing it changes no result.
 */
static int keyctx_build(struct keyctx *k, struct lc_key_result *res)
{
	const struct lc_history *h = k->h;
	size_t i, n_strs = 0, j;
	bool has_incr = false;
	int64_t dummy;

	k->strs = malloc((k->n_all * 2 + 1) * sizeof(*k->strs));
	k->ops = malloc((k->n_all + 1) * sizeof(*k->ops));
	if (!k->strs || !k->ops)
		return -1;
	for (i = 0; i < k->n_all; i++) {
		const struct lc_op *o = &h->ops[k->all[i]];

		if (o->status == LC_FAIL)
			continue;
		if (o->type == LC_OP_INCR)
			has_incr = true;
		if (o->type == LC_OP_WRITE && !canonical_int(o->arg, &dummy))
			k->strs[n_strs++] = o->arg;
	}
	qsort(k->strs, n_strs, sizeof(*k->strs), cmp_str);
	for (i = 0, j = 0; i < n_strs; i++)
		if (!j || strcmp(k->strs[j - 1], k->strs[i]))
			k->strs[j++] = k->strs[i];
	k->n_strs = j;

	for (i = 0; i < k->n_all; i++) {
		const struct lc_op *o = &h->ops[k->all[i]];
		struct kop *ko = &k->ops[k->n];

		if (o->status == LC_FAIL || (o->status == LC_UNKNOWN && o->type == LC_OP_READ)) {
			res->n_ignored++;
			continue;
		}
		memset(ko, 0, sizeof(*ko));
		ko->type = (uint8_t)o->type;
		ko->status = (uint8_t)o->status;
		ko->hidx = k->all[i];
		ko->delta = o->delta;
		ko->result = o->incr_result;
		ko->invoke_ns = o->invoke_ns;
		if (o->type == LC_OP_WRITE)
			ko->val = value_state(k, o->arg);
		else if (o->type == LC_OP_READ)
			ko->val = value_state(k, o->result);
		k->n++;
	}

	if (!has_incr) {
		size_t w = 0;

		for (i = 0; i < k->n; i++) {
			struct kop *ko = &k->ops[i];
			bool observed = false;

			if (ko->type == LC_OP_WRITE && ko->status == LC_UNKNOWN) {
				for (j = 0; j < k->n && !observed; j++)
					observed = k->ops[j].type == LC_OP_READ &&
						   k->ops[j].val.kind == ko->val.kind &&
						   k->ops[j].val.v == ko->val.v;
				if (!observed) {
					res->n_ignored++;
					continue;
				}
			}
			k->ops[w++] = *ko;
		}
		k->n = w;
	}
	qsort(k->ops, k->n, sizeof(*k->ops), cmp_kop);
	for (i = 0; i < k->n; i++)
		if (k->ops[i].status == LC_UNKNOWN)
			res->n_unknown++;
	k->n_ok = k->n - res->n_unknown;
	res->n_searched = k->n;
	return 0;
}

/* ---- the search ---------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	/* Calls before returns at equal times: touching intervals count as concurrent. */
	if (x->is_call != y->is_call)
		return x->is_call ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

static void lift(struct entry *e)
{
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (e->match) {
		e->match->prev->next = e->match->next;
		if (e->match->next)
			e->match->next->prev = e->match->prev;
	}
}

static void unlift(struct entry *e)
{
	if (e->match) {
		e->match->prev->next = e->match;
		if (e->match->next)
			e->match->next->prev = e->match;
	}
	e->prev->next = e;
	if (e->next)
		e->next->prev = e;
}

/* Ok op i is bit i; unknown op n_ok + j is bit j of the words after the ok part. */
static void bit_flip(uint64_t *bits, size_t op, size_t n_ok, size_t ok_words)
{
	size_t pos = op < n_ok ? op : ok_words * 64 + (op - n_ok);

	bits[pos / 64] ^= 1ull << (pos % 64);
}

struct frame {
	struct entry *e;
	struct state st;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void note_stuck(struct keyctx *k, const struct entry *head, const struct entry *ret,
		       const struct frame *stack, size_t sp, struct state st)
{
	struct stuck *s = &k->stuck;
	const struct entry *e;
	size_t i;

	if (s->have) {
		uint64_t best = k->h->ops[k->ops[s->blocker].hidx].complete_ns;

		if (ret->time < best || (ret->time == best && sp <= s->depth))
			return;
	}
	s->have = true;
	s->blocker = ret->op;
	s->depth = sp;
	s->st = st;
	s->n_pending = s->n_pending_total = 0;
	for (e = head->next; e && e != ret; e = e->next) {
		if (s->n_pending < MAX_PENDING_SHOWN)
			s->pending[s->n_pending++] = e->op;
		s->n_pending_total++;
	}
	s->n_tail = sp < MAX_TAIL_SHOWN ? sp : MAX_TAIL_SHOWN;
	for (i = 0; i < s->n_tail; i++)
		s->tail[i] = stack[sp - s->n_tail + i].e->op;
}

static enum lc_verdict search(struct keyctx *k, const struct lc_budget *b,
			      struct lc_key_result *res, uint64_t *cache_entries)
{
	size_t n = k->n, n_entries = 0, sp = 0, remaining = 0, i;
	size_t ok_words = (k->n_ok + 63) / 64, unk_words = (n - k->n_ok + 63) / 64;
	struct entry *entries = NULL, head;
	struct frame *stack = NULL;
	uint64_t *bits = NULL, *zob = NULL, set_hash = 0, steps = 0;
	struct state st = {ST_NIL, 0};
	struct cache cache;
	enum lc_verdict v = LC_CHECK_ERROR;
	double t0 = now_ms();
	struct entry *e;

	if (cache_init(&cache, ok_words, unk_words, b->max_cache_bytes))
		goto out;
	entries = malloc((2 * n + 1) * sizeof(*entries));
	stack = malloc((n + 1) * sizeof(*stack));
	bits = calloc(ok_words + unk_words + 1, sizeof(*bits));
	zob = malloc((n + 1) * sizeof(*zob));
	if (!entries || !stack || !bits || !zob)
		goto out;

	for (i = 0; i < n; i++) {
		const struct lc_op *o = hop(k, (uint32_t)i);

		zob[i] = mix64(i * 0x2545f4914f6cdd1dull + 0x1234567);
		entries[n_entries++] =
			(struct entry){.time = o->invoke_ns, .op = i, .is_call = true};
		if (o->status == LC_OK) {
			entries[n_entries++] =
				(struct entry){.time = o->complete_ns, .op = i, .is_call = false};
			remaining++;
		}
	}
	qsort(entries, n_entries, sizeof(*entries), cmp_entry);
	{
		/* Link the list and pair calls with returns. */
		struct entry **call_of = calloc(n + 1, sizeof(*call_of));

		if (!call_of)
			goto out;
		head = (struct entry){0};
		head.next = n_entries ? &entries[0] : NULL;
		for (i = 0; i < n_entries; i++) {
			entries[i].prev = i ? &entries[i - 1] : &head;
			entries[i].next = i + 1 < n_entries ? &entries[i + 1] : NULL;
			if (entries[i].is_call) {
				call_of[entries[i].op] = &entries[i];
			} else {
				entries[i].match = call_of[entries[i].op];
				call_of[entries[i].op]->match = &entries[i];
			}
		}
		free(call_of);
	}

	e = head.next;
	while (remaining) {
		if (++steps % 4096 == 0 && b->max_ms && now_ms() - t0 > (double)b->max_ms) {
			v = LC_BUDGET_EXCEEDED;
			goto out;
		}
		if (b->max_steps && steps > b->max_steps) {
			v = LC_BUDGET_EXCEEDED;
			goto out;
		}
		if (e && e->is_call) {
			struct state ns;
			uint32_t op = e->op;

			if (model_step(&k->ops[op], st, &ns) == STEP_OK) {
				int rc;

				bit_flip(bits, op, k->n_ok, ok_words);
				set_hash ^= zob[op];
				rc = cache_add(&cache, bits, ns, mix64(set_hash ^ state_hash(ns)));
				if (rc == CACHE_ADDED) {
					stack[sp++] = (struct frame){e, st};
					st = ns;
					lift(e);
					if (e->match)
						remaining--;
					e = head.next;
					continue;
				}
				bit_flip(bits, op, k->n_ok, ok_words);
				set_hash ^= zob[op];
				if (rc == CACHE_FULL) {
					v = LC_BUDGET_EXCEEDED;
					goto out;
				}
				if (rc == CACHE_NOMEM)
					goto out;
			}
			e = e->next;
			continue;
		}
		/* A return (or, defensively, the end): nothing before it fits here. */
		if (e)
			note_stuck(k, &head, e, stack, sp, st);
		if (!sp) {
			v = LC_NOT_LINEARIZABLE;
			goto out;
		}
		sp--;
		e = stack[sp].e;
		st = stack[sp].st;
		bit_flip(bits, e->op, k->n_ok, ok_words);
		set_hash ^= zob[e->op];
		unlift(e);
		if (e->match)
			remaining++;
		e = e->next;
	}
	v = LC_LINEARIZABLE;
out:
	res->steps = steps;
	*cache_entries = cache.n_recs;
	cache_free(&cache);
	free(entries);
	free(stack);
	free(bits);
	free(zob);
	return v;
}

/* ---- explanations -------------------------------------------------------- */

static void print_state(FILE *f, const struct keyctx *k, struct state s)
{
	if (s.kind == ST_NIL)
		fputs("nil", f);
	else if (s.kind == ST_INT)
		fprintf(f, "%" PRId64, s.v);
	else if (s.v >= 0 && (size_t)s.v < k->n_strs)
		fprintf(f, "\"%s\"", k->strs[s.v]);
	else
		fputs("(a value never written)", f);
}

static void print_hop(FILE *f, const struct lc_op *o)
{
	fprintf(f, "line %u: client %ld %s", o->line, o->client, lc_op_name(o->type));
	if (o->type == LC_OP_WRITE)
		fprintf(f, " \"%s\"", o->arg);
	else if (o->type == LC_OP_READ && o->result)
		fprintf(f, " -> \"%s\"", o->result);
	else if (o->type == LC_OP_READ)
		fprintf(f, " -> nil");
	else if (o->status == LC_OK)
		fprintf(f, " %s -> %s", o->arg, o->result);
	else
		fprintf(f, " %s", o->arg);
	if (o->status == LC_UNKNOWN)
		fprintf(f, "  [%" PRIu64 ", never completed] unknown", o->invoke_ns);
	else
		fprintf(f, "  [%" PRIu64 ", %" PRIu64 "] %s", o->invoke_ns, o->complete_ns,
			lc_status_name(o->status));
}

/* Why a read's value cannot come from anywhere, if that is the case. */
static void print_value_origin(FILE *f, const struct keyctx *k, const struct lc_op *r)
{
	size_t i;
	const struct lc_op *failed = NULL;

	if (!r->result)
		return;
	for (i = 0; i < k->n_all; i++) {
		const struct lc_op *o = &k->h->ops[k->all[i]];

		if (o->type == LC_OP_WRITE && !strcmp(o->arg, r->result)) {
			if (o->status != LC_FAIL)
				return;
			failed = o;
		}
		if (o->type == LC_OP_INCR && o->status != LC_FAIL)
			return; /* incrs can produce integers nobody wrote */
	}
	if (failed)
		fprintf(f, "; only a write with status fail (line %u) wrote that value",
			failed->line);
	else
		fprintf(f, "; no write on this key wrote that value");
}

static void print_reason(FILE *f, const struct keyctx *k, uint32_t op, struct state st)
{
	const struct kop *ko = &k->ops[op];
	struct state ns;
	int64_t base;

	switch (model_step(ko, st, &ns)) {
	case STEP_OK:
		fputs("fits the register here, but every continuation was already explored and "
		      "failed",
		      f);
		break;
	case STEP_READ_MISMATCH:
		if (hop(k, op)->result)
			fprintf(f, "reads \"%s\"", hop(k, op)->result);
		else
			fputs("reads nil", f);
		fputs(" but the register holds ", f);
		print_state(f, k, st);
		print_value_origin(f, k, hop(k, op));
		break;
	case STEP_NOT_INT:
		fputs("incr on a non-integer value ", f);
		print_state(f, k, st);
		break;
	case STEP_OVERFLOW:
		fputs("incr would overflow a 64-bit integer", f);
		break;
	case STEP_INCR_MISMATCH:
		base = st.kind == ST_INT ? st.v : 0;
		fprintf(f, "returns %" PRId64 " but the register would become %" PRId64, ko->result,
			base + ko->delta);
		break;
	}
}

static void explain(struct keyctx *k, struct lc_key_result *res)
{
	const struct stuck *s = &k->stuck;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	if (res->verdict == LC_BUDGET_EXCEEDED) {
		fprintf(f,
			"  the search gave up after %" PRIu64 " steps, %.0f ms, %" PRIu64
			" cached states: the result for this key is UNKNOWN and the check fails\n"
			"  (raise --budget-steps / --budget-ms, or split the history)\n",
			res->steps, res->ms, res->cache_entries);
	} else if (res->verdict == LC_CHECK_ERROR) {
		fputs("  out of memory while checking this key\n", f);
	}
	if (s->have) {
		const struct lc_op *bl = hop(k, s->blocker);

		fprintf(f, "  %s no linearization gets past the completion of\n    ",
			res->verdict == LC_NOT_LINEARIZABLE ? "violation:" : "furthest point:");
		print_hop(f, bl);
		fprintf(f,
			"\n  deepest consistent prefix: %zu ops linearized, register = ", s->depth);
		print_state(f, k, s->st);
		fputc('\n', f);
		if (s->n_tail) {
			fputs("  last linearized ops (oldest first):\n", f);
			for (i = 0; i < s->n_tail; i++) {
				fputs("    ", f);
				print_hop(f, hop(k, s->tail[i]));
				fputc('\n', f);
			}
		}
		fprintf(f,
			"  ops invoked before that completion that could not be linearized next "
			"(%zu):\n",
			s->n_pending_total);
		for (i = 0; i < s->n_pending; i++) {
			fputs(s->pending[i] == s->blocker ? "  * " : "    ", f);
			print_hop(f, hop(k, s->pending[i]));
			fputs("\n        ", f);
			print_reason(f, k, s->pending[i], s->st);
			fputc('\n', f);
		}
		if (s->n_pending_total > s->n_pending)
			fprintf(f, "    ... and %zu more\n", s->n_pending_total - s->n_pending);
	}
	fclose(f);
	res->explanation = buf;
}

/* ---- driver -------------------------------------------------------------- */

void lc_budget_default(struct lc_budget *b)
{
	b->max_steps = LC_DEFAULT_MAX_STEPS;
	b->max_ms = LC_DEFAULT_MAX_MS;
	b->max_cache_bytes = LC_DEFAULT_MAX_CACHE_BYTES;
}

const char *lc_verdict_name(enum lc_verdict v)
{
	switch (v) {
	case LC_LINEARIZABLE:
		return "linearizable";
	case LC_NOT_LINEARIZABLE:
		return "NOT linearizable";
	case LC_BUDGET_EXCEEDED:
		return "unknown (budget exceeded)";
	case LC_CHECK_ERROR:
		return "error (out of memory)";
	}
	return "?";
}

static const struct lc_history *sort_hist;

static int cmp_by_key(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(sort_hist->ops[x].key, sort_hist->ops[y].key);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

static void check_key(const struct lc_history *h, const uint32_t *idx, size_t n,
		      const struct lc_budget *b, struct lc_key_result *res)
{
	struct keyctx k = {.h = h, .all = idx, .n_all = n, .key = h->ops[idx[0]].key};
	double t0 = now_ms();

	memset(res, 0, sizeof(*res));
	res->key = k.key;
	res->n_ops = n;
	if (keyctx_build(&k, res))
		res->verdict = LC_CHECK_ERROR;
	else
		res->verdict = search(&k, b, res, &res->cache_entries);
	res->ms = now_ms() - t0;
	if (res->verdict != LC_LINEARIZABLE)
		explain(&k, res);
	free(k.ops);
	free(k.strs);
}

int lc_check(const struct lc_history *h, const struct lc_budget *b, struct lc_report *r)
{
	uint32_t *idx;
	size_t i, start, nk = 0;
	double t0 = now_ms();

	memset(r, 0, sizeof(*r));
	r->n_ops = h->n_ops;
	if (!h->n_ops)
		return 0;
	if (h->n_ops >= UINT32_MAX)
		return -1;
	idx = malloc(h->n_ops * sizeof(*idx));
	r->keys = calloc(h->n_ops, sizeof(*r->keys));
	if (!idx || !r->keys) {
		free(idx);
		free(r->keys);
		r->keys = NULL;
		return -1;
	}
	for (i = 0; i < h->n_ops; i++)
		idx[i] = (uint32_t)i;
	sort_hist = h;
	qsort(idx, h->n_ops, sizeof(*idx), cmp_by_key);
	for (start = 0; start < h->n_ops; start = i) {
		for (i = start + 1;
		     i < h->n_ops && !strcmp(h->ops[idx[i]].key, h->ops[idx[start]].key); i++)
			;
		check_key(h, idx + start, i - start, b, &r->keys[nk]);
		if (r->keys[nk].verdict != LC_LINEARIZABLE)
			r->n_failed++;
		nk++;
	}
	r->n_keys = nk;
	r->ms = now_ms() - t0;
	free(idx);
	return 0;
}

void lc_report_free(struct lc_report *r)
{
	size_t i;

	for (i = 0; i < r->n_keys; i++)
		free(r->keys[i].explanation);
	free(r->keys);
	memset(r, 0, sizeof(*r));
}

bool lc_report_ok(const struct lc_report *r)
{
	return r->n_failed == 0;
}

void lc_report_print(FILE *out, const struct lc_report *r, bool verbose)
{
	size_t i, n_budget = 0, n_bad = 0;

	for (i = 0; i < r->n_keys; i++) {
		const struct lc_key_result *k = &r->keys[i];

		fprintf(out, "key %s: %s", k->key, lc_verdict_name(k->verdict));
		if (verbose)
			fprintf(out,
				" (%zu ops: %zu searched, %zu of them unknown, %zu ignored; "
				"%" PRIu64 " steps, %" PRIu64 " cached states, %.1f ms)",
				k->n_ops, k->n_searched, k->n_unknown, k->n_ignored, k->steps,
				k->cache_entries, k->ms);
		fputc('\n', out);
		if (k->explanation)
			fputs(k->explanation, out);
		if (k->verdict == LC_NOT_LINEARIZABLE)
			n_bad++;
		else if (k->verdict != LC_LINEARIZABLE)
			n_budget++;
	}
	fprintf(out, "checked %zu ops on %zu keys in %.0f ms: ", r->n_ops, r->n_keys, r->ms);
	if (lc_report_ok(r)) {
		fputs("linearizable\n", out);
		return;
	}
	if (n_bad) {
		fprintf(out, "NOT linearizable (violation on %zu key%s:", n_bad,
			n_bad == 1 ? "" : "s");
		for (i = 0; i < r->n_keys; i++)
			if (r->keys[i].verdict == LC_NOT_LINEARIZABLE)
				fprintf(out, " %s", r->keys[i].key);
		fputs(")", out);
	}
	if (n_budget) {
		fprintf(out, "%sUNDECIDED, counted as a failure (budget exceeded on %zu key%s:",
			n_bad ? "; " : "", n_budget, n_budget == 1 ? "" : "s");
		for (i = 0; i < r->n_keys; i++)
			if (r->keys[i].verdict != LC_LINEARIZABLE &&
			    r->keys[i].verdict != LC_NOT_LINEARIZABLE)
				fprintf(out, " %s", r->keys[i].key);
		fputs(")", out);
	}
	fputc('\n', out);
}
