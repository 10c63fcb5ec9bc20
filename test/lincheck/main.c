/* SPDX-License-Identifier: MIT */
/*
 * dalio-lincheck: command-line front end of the linearizability checker.
 * Parses arguments, loads the history, runs the check and prints the report.
 * Exit status: 0 linearizable, 1 violation or undecided, 2 bad usage or input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "history.h"

static void usage(FILE *f)
{
	fputs("usage: dalio-lincheck HISTORY_FILE [--verbose] [--budget-steps N] [--budget-ms N]\n"
	      "                     [--budget-mb N]\n"
	      "  Checks a per-key register history (docs/checker.md) for linearizability.\n"
	      "  Budgets are per key; 0 means unlimited. Exit: 0 linearizable, 1 violation\n"
	      "  or budget exceeded, 2 bad usage or input.\n",
	      f);
}

static int parse_num(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "dalio-lincheck: %s needs a non-negative integer\n", opt);
	return -1;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool verbose = false;
	struct lc_budget budget;
	struct lc_history h;
	struct lc_report r;
	char err[512];
	uint64_t mb;
	int i, rc;

	lc_budget_default(&budget);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			verbose = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--budget-steps")) {
			if (parse_num(a, i + 1 < argc ? argv[++i] : NULL, &budget.max_steps))
				return 2;
		} else if (!strcmp(a, "--budget-ms")) {
			if (parse_num(a, i + 1 < argc ? argv[++i] : NULL, &budget.max_ms))
				return 2;
		} else if (!strcmp(a, "--budget-mb")) {
			if (parse_num(a, i + 1 < argc ? argv[++i] : NULL, &mb))
				return 2;
			budget.max_cache_bytes = mb << 20;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "dalio-lincheck: unknown option %s\n", a);
			usage(stderr);
			return 2;
		} else if (path) {
			fprintf(stderr, "dalio-lincheck: more than one history file\n");
			usage(stderr);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	if (lc_history_parse_file(path, &h, err, sizeof(err))) {
		fprintf(stderr, "dalio-lincheck: %s\n", err);
		return 2;
	}
	if (lc_check(&h, &budget, &r)) {
		fprintf(stderr, "dalio-lincheck: out of memory\n");
		lc_history_free(&h);
		return 2;
	}
	lc_report_print(stdout, &r, verbose);
	rc = lc_report_ok(&r) ? 0 : 1;
	lc_report_free(&r);
	lc_history_free(&h);
	return rc;
}
