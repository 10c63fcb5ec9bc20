/* SPDX-License-Identifier: MIT */
/*
 * Random linearizable history generator (see gen.h). A global clock picks
 * strictly increasing linearization points; each op is given to a client that
 * is idle at that point, its interval is stretched around the point by a
 * random jitter, and its result is computed from the model at that point.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

struct reg {
	bool set;
	char val[32];
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

char *lc_gen_history(const struct lc_gen_params *p)
{
	struct reg *regs = calloc(p->n_keys ? p->n_keys : 1, sizeof(*regs));
	uint64_t *busy = calloc(p->n_clients ? p->n_clients : 1, sizeof(*busy));
	uint64_t rng = p->seed, now = 1000000, seq = 0;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!regs || !busy || !f || !p->n_keys || !p->n_clients)
		goto fail;
	fprintf(f, "# generated: seed %" PRIu64 ", %zu ops, %u keys, %u clients\n", p->seed,
		p->n_ops, p->n_keys, p->n_clients);
	for (i = 0; i < p->n_ops; i++) {
		unsigned c, k = (unsigned)rng_below(&rng, p->n_keys), tries;
		bool counter = k % 4 == 3, unknown = false, fail = false, applied;
		struct reg *r = &regs[k];
		uint64_t roll = rng_below(&rng, 100), inv, comp;
		char arg[32] = "-", res[32] = "-";
		const char *op;

		/* Advance the clock until some client is idle. */
		for (;;) {
			now += 1 + rng_below(&rng, 10);
			c = (unsigned)rng_below(&rng, p->n_clients);
			for (tries = 0; tries < p->n_clients && busy[c] >= now; tries++)
				c = (c + 1) % p->n_clients;
			if (busy[c] < now)
				break;
		}
		inv = now - rng_below(&rng, p->jitter_ns + 1);
		if (inv <= busy[c])
			inv = busy[c] + 1;
		comp = now + rng_below(&rng, p->jitter_ns + 1);
		busy[c] = comp;

		if (rng_below(&rng, 100) < p->unknown_pct)
			unknown = true;
		else if (rng_below(&rng, 100) < p->fail_pct)
			fail = true;
		applied = !fail && (!unknown || rng_below(&rng, 2));

		if (roll < 45) {
			op = "r";
			if (!unknown && !fail)
				snprintf(res, sizeof(res), "%s", r->set ? r->val : "nil");
		} else if (counter && roll < 85) {
			int64_t d = (int64_t)rng_below(&rng, 5) - 1, v = r->set ? atoll(r->val) : 0;

			op = "incr";
			snprintf(arg, sizeof(arg), "%" PRId64, d);
			if (applied)
				snprintf(r->val, sizeof(r->val), "%" PRId64, v + d);
			if (applied)
				r->set = true;
			if (!unknown && !fail)
				snprintf(res, sizeof(res), "%" PRId64, v + d);
		} else {
			op = "w";
			if (counter)
				snprintf(arg, sizeof(arg), "%" PRIu64, rng_below(&rng, 1000));
			else if (rng_below(&rng, 5) == 0)
				snprintf(arg, sizeof(arg), "p%" PRIu64, rng_below(&rng, 4));
			else
				snprintf(arg, sizeof(arg), "v%" PRIu64, ++seq);
			if (applied) {
				snprintf(r->val, sizeof(r->val), "%s", arg);
				r->set = true;
			}
		}
		fprintf(f, "%u %s key%u %s %s %" PRIu64 " %" PRIu64 " %s\n", c, op, k, arg, res,
			inv, comp,
			unknown ? "unknown"
			: fail	? "fail"
				: "ok");
	}
	if (fclose(f)) {
		f = NULL;
		goto fail;
	}
	free(regs);
	free(busy);
	return buf;
fail:
	if (f)
		fclose(f);
	free(buf);
	free(regs);
	free(busy);
	return NULL;
}
