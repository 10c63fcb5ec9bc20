/* SPDX-License-Identifier: MIT */
/*
 * The command table: every Redis command Dalio accepts, with its kind and
 * arity, plus the reasons given for refusing the others. Key is always argv[1].
 */
#include <strings.h>
#include <string.h>

#include "dalio/commands.h"

#define VAR (-1)

struct cmd_spec {
	const char *name;
	enum dalio_cmd_kind kind;
	int min_argc;
	int max_argc; /* VAR: no upper bound */
};

static const struct cmd_spec cmd_table[] = {
	/* strings */
	{"GET", DALIO_CMD_READ, 2, 2},
	{"STRLEN", DALIO_CMD_READ, 2, 2},
	{"GETRANGE", DALIO_CMD_READ, 4, 4},
	{"GETBIT", DALIO_CMD_READ, 3, 3},
	{"EXISTS", DALIO_CMD_READ, 2, 2},
	{"TYPE", DALIO_CMD_READ, 2, 2},
	{"SET", DALIO_CMD_WRITE, 3, 5},
	{"SETNX", DALIO_CMD_WRITE, 3, 3},
	{"GETSET", DALIO_CMD_WRITE, 3, 3},
	{"GETDEL", DALIO_CMD_WRITE, 2, 2},
	{"APPEND", DALIO_CMD_WRITE, 3, 3},
	{"SETRANGE", DALIO_CMD_WRITE, 4, 4},
	{"SETBIT", DALIO_CMD_WRITE, 4, 4},
	{"INCR", DALIO_CMD_WRITE, 2, 2},
	{"DECR", DALIO_CMD_WRITE, 2, 2},
	{"INCRBY", DALIO_CMD_WRITE, 3, 3},
	{"DECRBY", DALIO_CMD_WRITE, 3, 3},
	{"INCRBYFLOAT", DALIO_CMD_WRITE, 3, 3},
	{"DEL", DALIO_CMD_WRITE, 2, 2},
	{"UNLINK", DALIO_CMD_WRITE, 2, 2},
	{"PERSIST", DALIO_CMD_WRITE, 2, 2},
	/* hashes */
	{"HGET", DALIO_CMD_READ, 3, 3},
	{"HMGET", DALIO_CMD_READ, 3, VAR},
	{"HGETALL", DALIO_CMD_READ, 2, 2},
	{"HKEYS", DALIO_CMD_READ, 2, 2},
	{"HVALS", DALIO_CMD_READ, 2, 2},
	{"HLEN", DALIO_CMD_READ, 2, 2},
	{"HEXISTS", DALIO_CMD_READ, 3, 3},
	{"HSTRLEN", DALIO_CMD_READ, 3, 3},
	{"HSET", DALIO_CMD_WRITE, 4, VAR},
	{"HSETNX", DALIO_CMD_WRITE, 4, 4},
	{"HDEL", DALIO_CMD_WRITE, 3, VAR},
	{"HINCRBY", DALIO_CMD_WRITE, 4, 4},
	{"HINCRBYFLOAT", DALIO_CMD_WRITE, 4, 4},
	/* lists */
	{"LRANGE", DALIO_CMD_READ, 4, 4},
	{"LLEN", DALIO_CMD_READ, 2, 2},
	{"LINDEX", DALIO_CMD_READ, 3, 3},
	{"LPUSH", DALIO_CMD_WRITE, 3, VAR},
	{"RPUSH", DALIO_CMD_WRITE, 3, VAR},
	{"LPUSHX", DALIO_CMD_WRITE, 3, VAR},
	{"RPUSHX", DALIO_CMD_WRITE, 3, VAR},
	{"LPOP", DALIO_CMD_WRITE, 2, 3},
	{"RPOP", DALIO_CMD_WRITE, 2, 3},
	{"LSET", DALIO_CMD_WRITE, 4, 4},
	{"LREM", DALIO_CMD_WRITE, 4, 4},
	{"LTRIM", DALIO_CMD_WRITE, 4, 4},
	{"LINSERT", DALIO_CMD_WRITE, 5, 5},
	/* sets */
	{"SMEMBERS", DALIO_CMD_READ, 2, 2},
	{"SISMEMBER", DALIO_CMD_READ, 3, 3},
	{"SCARD", DALIO_CMD_READ, 2, 2},
	{"SADD", DALIO_CMD_WRITE, 3, VAR},
	{"SREM", DALIO_CMD_WRITE, 3, VAR},
	/* sorted sets */
	{"ZRANGE", DALIO_CMD_READ, 4, VAR},
	{"ZSCORE", DALIO_CMD_READ, 3, 3},
	{"ZCARD", DALIO_CMD_READ, 2, 2},
	{"ZRANK", DALIO_CMD_READ, 3, 3},
	{"ZCOUNT", DALIO_CMD_READ, 4, 4},
	{"ZADD", DALIO_CMD_WRITE, 4, VAR},
	{"ZREM", DALIO_CMD_WRITE, 3, VAR},
	{"ZINCRBY", DALIO_CMD_WRITE, 4, 4},
	{"ZREMRANGEBYSCORE", DALIO_CMD_WRITE, 4, 4},
	{"ZREMRANGEBYRANK", DALIO_CMD_WRITE, 4, 4},
};

/* Commands refused with a specific reason rather than "not supported". */
static const char *const nondeterministic[] = {
	"SPOP",	   "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY", "EXPIRE",
	"PEXPIRE", "EXPIREAT",	  "PEXPIREAT",	"SETEX",       "PSETEX",    "GETEX",
	"EVAL",	   "EVALSHA",	  "FCALL",	"XADD",	       "TIME",	    "PFCOUNT",
};

static const char *const multikey[] = {
	"MGET",	   "MSET",	  "MSETNX",	 "RENAME",     "RENAMENX",    "COPY",
	"SMOVE",   "LMOVE",	  "RPOPLPUSH",	 "BLMOVE",     "SINTER",      "SUNION",
	"SDIFF",   "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", "ZUNIONSTORE", "ZINTERSTORE",
	"MULTI",   "EXEC",	  "WATCH",	 "KEYS",       "SCAN",	      "FLUSHALL",
	"FLUSHDB", "BLPOP",	  "BRPOP",	 "OBJECT",     "SORT",	      "BITOP",
};

static int in_list(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
			return 1;
	return 0;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* SET's options: relative expiry differs between replicas, so it is refused. */
static const char *check_set_options(int argc, const char *const *argv, const size_t *argvlen)
{
	for (int i = 3; i < argc; i++) {
		if (in_list(argv[i], argvlen[i],
			    (const char *const[]){"NX", "XX", "GET", "KEEPTTL"}, 4))
			continue;
		return "only supports the NX, XX, GET and KEEPTTL options (expiry is not "
		       "deterministic across replicas)";
	}
	return NULL;
}

enum dalio_cmd_kind dalio_classify(int argc, const char *const *argv, const size_t *argvlen,
				   const char **why)
{
	const char *reason =
		"is not supported by Dalio (only deterministic single-key commands are)";

	if (argc < 1 || argvlen[0] == 0) {
		reason = "is empty";
		goto refused;
	}
	if (in_list(argv[0], argvlen[0], nondeterministic, ARRAY_LEN(nondeterministic))) {
		reason = "is not deterministic across replicas";
		goto refused;
	}
	if (in_list(argv[0], argvlen[0], multikey, ARRAY_LEN(multikey))) {
		reason = "touches several keys or the whole keyspace";
		goto refused;
	}
	for (size_t i = 0; i < ARRAY_LEN(cmd_table); i++) {
		const struct cmd_spec *c = &cmd_table[i];

		if (strlen(c->name) != argvlen[0] || strncasecmp(c->name, argv[0], argvlen[0]))
			continue;
		if (argc < c->min_argc || (c->max_argc != VAR && argc > c->max_argc)) {
			reason = c->max_argc == 2 && argc > 2 && c->min_argc == 2
					 ? "takes exactly one key here (several keys are not "
					   "replicable)"
					 : "has the wrong number of arguments";
			goto refused;
		}
		if (argvlen[1] >= sizeof(DALIO_RESERVED_PREFIX) - 1 &&
		    !memcmp(argv[1], DALIO_RESERVED_PREFIX, sizeof(DALIO_RESERVED_PREFIX) - 1)) {
			reason = "names a key reserved by Dalio (prefix " DALIO_RESERVED_PREFIX ")";
			goto refused;
		}
		if (strcasecmp(c->name, "SET") == 0) {
			const char *bad = check_set_options(argc, argv, argvlen);

			if (bad) {
				reason = bad;
				goto refused;
			}
		}
		return c->kind;
	}
refused:
	if (why)
		*why = reason;
	return DALIO_CMD_REFUSED;
}
