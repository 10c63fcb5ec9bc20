/* SPDX-License-Identifier: MIT */
/*
 * lincheck-gen: writes a random linearizable history (gen.h) to stdout, for
 * benchmarking dalio-lincheck and trying it out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gen.h"

int main(int argc, char **argv)
{
	struct lc_gen_params p = {.seed = 1,
				  .n_ops = 50000,
				  .n_keys = 20,
				  .n_clients = 8,
				  .jitter_ns = 200,
				  .unknown_pct = 1,
				  .fail_pct = 1};
	char *text;

	if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
		fputs("usage: lincheck-gen [OPS [KEYS [CLIENTS [SEED [JITTER_NS "
		      "[UNKNOWN_PCT]]]]]]\n",
		      stderr);
		return 2;
	}
	if (argc > 1)
		p.n_ops = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		p.n_keys = (unsigned)strtoul(argv[2], NULL, 10);
	if (argc > 3)
		p.n_clients = (unsigned)strtoul(argv[3], NULL, 10);
	if (argc > 4)
		p.seed = strtoull(argv[4], NULL, 10);
	if (argc > 5)
		p.jitter_ns = strtoull(argv[5], NULL, 10);
	if (argc > 6)
		p.unknown_pct = (unsigned)strtoul(argv[6], NULL, 10);
	text = lc_gen_history(&p);
	if (!text) {
		fputs("lincheck-gen: bad parameters or out of memory\n", stderr);
		return 2;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}
