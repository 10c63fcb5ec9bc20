/* SPDX-License-Identifier: MIT */
/*
 * Which Redis commands Dalio replicates, serves as reads, or refuses. Shared
 * by the client library (to flag writes) and the replica daemon (which has
 * the last word: it re-checks every command it executes).
 */
#ifndef DALIO_COMMANDS_H
#define DALIO_COMMANDS_H

#include <stddef.h>

enum dalio_cmd_kind {
	DALIO_CMD_REFUSED = 0, /* not replicable: multi-key, non-deterministic, ... */
	DALIO_CMD_READ,	       /* single-key read, served by one replica */
	DALIO_CMD_WRITE,       /* deterministic single-key write, sequenced */
};

/* Keys with this prefix belong to Dalio (applied sequence, epoch). */
#define DALIO_RESERVED_PREFIX "__dalio:"

/*
 * Classifies argv (argv[0] is the command name, argv[1] the key). On
 * DALIO_CMD_REFUSED, *why (if not NULL) points at a static message naming
 * the reason; the caller prefixes the command name.
 */
enum dalio_cmd_kind dalio_classify(int argc, const char *const *argv, const size_t *argvlen,
				   const char **why);

#endif /* DALIO_COMMANDS_H */
