/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: RESP in both directions. Parsing a request body (a RESP
 * array of bulk strings) into argv with hiredis's redisReader, encoding a
 * redisReply back into RESP2 for ACK and READ_REPLY bodies, and formatting
 * the replica's own "-ERR dalio: ..." errors.
 */
#ifndef DALIO_REPLICA_RESP_H
#define DALIO_REPLICA_RESP_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* A command in a datagram of at most 1472 bytes has far fewer arguments. */
#define RP_MAX_ARGS 256

struct rp_cmd {
	int argc;
	const char *argv[RP_MAX_ARGS];
	size_t argvlen[RP_MAX_ARGS];
	redisReply *owner; /* argv points into it; freed by rp_cmd_free */
};

/*
 * Parses body as exactly one RESP array of 1..RP_MAX_ARGS bulk strings, with
 * no trailing bytes. *rdr is reused across calls and replaced when a failed
 * parse left it in an unknown state. Returns 0, or -1 with *why set.
 */
int rp_cmd_parse(redisReader **rdr, const void *body, size_t len, struct rp_cmd *cmd,
		 const char **why);
void rp_cmd_free(struct rp_cmd *cmd);

/*
 * Encodes r as RESP2 into buf. Returns the length, or -1 when it does not fit
 * in cap bytes or holds a type RESP2 cannot express.
 */
long rp_resp_encode(const redisReply *r, char *buf, size_t cap);

/*
 * Writes "-ERR dalio: 'CMD' why\r\n" into buf (cmd upper-cased, cut to 32
 * bytes, CR/LF and other control bytes replaced). Always fits cap >= 64 (the
 * reason is cut short if needed). Returns the length.
 */
size_t rp_resp_error(char *buf, size_t cap, const char *cmd, size_t cmdlen, const char *why);

#endif /* DALIO_REPLICA_RESP_H */
