/* SPDX-License-Identifier: MIT */
/*
 * libdalio: the public client API. A client talks to one Dalio VIP over UDP,
 * sends single-key Redis commands as Dalio REQUEST datagrams and returns the
 * Redis reply as a hiredis redisReply. One client per thread: a client is not
 * safe for concurrent use.
 */
#ifndef DALIO_CLIENT_H
#define DALIO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "dalio/wire.h"

struct dalio_client;

struct dalio_opts {
	int timeout_ms;	    /* wait for a reply per try; default 200 */
	int max_retries;    /* retransmissions after the first try; default 8 */
	int backoff_ms;	    /* first delay before a retry; doubles per retry; default 5 */
	int backoff_max_ms; /* cap of the retry delay; default 1000 */
	uint16_t shard;	    /* shard id in the header; default DALIO_SHARD_ANY */
};

/* Fills opts with the defaults above. */
void dalio_opts_init(struct dalio_opts *opts);

/*
 * Outcome of one call, for history recorders.
 * tries:    datagrams sent for this call (0: refused locally, nothing sent).
 * definite: 1 when the call's effect is known: it got a reply, or every try
 *           was answered by a status that guarantees nothing was applied, or
 *           nothing was sent. 0 when at least one try went unanswered (or was
 *           answered STALE_EPOCH) and no OK reply came: a write may or may not
 *           have been applied.
 * status:   the last Dalio status received (DALIO_S_OK when none came).
 * replied:  1 when at least one REPLY for this call arrived.
 */
struct dalio_result {
	int tries;
	int definite;
	int status;
	int replied;
};

/*
 * Creates a client for the VIP at host_ip (dotted IPv4) and port. opts may be
 * NULL for the defaults. Returns NULL with a message in err on failure.
 */
struct dalio_client *dalio_connect(const char *host_ip, uint16_t port,
				   const struct dalio_opts *opts, char *err, size_t errlen);

void dalio_close(struct dalio_client *c);

/* The client's random 64-bit id (as put in every request header). */
uint64_t dalio_client_id(const struct dalio_client *c);

/*
 * Runs one Redis command: argv[0] is the command name, argv[1] the key.
 * argvlen may be NULL when every argument is a NUL-terminated string.
 * Returns 0 with *reply set (free it with freeReplyObject; it may be a Redis
 * error reply, REDIS_REPLY_ERROR), or -1 with a message in err. On -1 *reply
 * is NULL. res (may be NULL) receives the call's outcome.
 */
int dalio_command_argv_ex(struct dalio_client *c, int argc, const char **argv,
			  const size_t *argvlen, redisReply **reply, struct dalio_result *res,
			  char *err, size_t errlen);

/* As dalio_command_argv_ex without the outcome (see dalio_last_result). */
int dalio_command_argv(struct dalio_client *c, int argc, const char **argv, const size_t *argvlen,
		       redisReply **reply, char *err, size_t errlen);

/* Outcome of the client's most recent call. */
void dalio_last_result(const struct dalio_client *c, struct dalio_result *res);

/* Whether a status is worth retrying (BUSY, NOT_READY, NO_REPLICA, STALE_EPOCH). */
int dalio_status_retryable(unsigned status);

#endif /* DALIO_CLIENT_H */
