/* SPDX-License-Identifier: MIT */
/*
 * dalio-replica: what happens to each accepted message, and the Redis side.
 *
 * A batch is handled in three steps so that it costs one Redis round trip:
 *  1. plan (rp_handle): every datagram becomes ops; writes go through the
 *     gap buffer (order.c) and the ones now in order have their Redis
 *     commands appended to the pipeline, followed by the reads whose stamp
 *     they reach (reads.c);
 *  2. read all replies of the pipeline, in order;
 *  3. answer every op in order (ACK, READ_REPLY, PONG, ...).
 *
 * Each write runs as MULTI, command, SET __dalio:applied <seq>, EXEC, so the
 * applied seq is stored atomically with the data it describes. A Redis
 * failure (I/O error, or a refusal that depends on the server's condition
 * rather than on the command: OOM, MISCONF, READONLY, LOADING, ...) cuts the
 * batch short: nothing from that op on is answered, and the applied seq and
 * epoch are read back from Redis so the LB's retransmissions pick up there.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dalio/commands.h"
#include "replica.h"
#include "resp.h"

#define APPLIED_KEY	DALIO_RESERVED_PREFIX "applied"
#define EPOCH_KEY	DALIO_RESERVED_PREFIX "epoch"
#define REDIS_TIMEOUT_S 2

/* ---- Redis connection and state ---------------------------------------- */

static int get_u64(redisContext *rc, const char *key, uint64_t max, uint64_t *out, const char **err)
{
	redisReply *r = redisCommand(rc, "GET %s", key);
	char *end;
	int ret = -1;

	if (!r) {
		*err = rc->errstr[0] ? rc->errstr : "Redis connection lost";
		return -1;
	}
	if (r->type == REDIS_REPLY_NIL) {
		*out = 0;
		ret = 0;
	} else if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->str[0] >= '0' &&
		   r->str[0] <= '9') {
		errno = 0;
		*out = strtoull(r->str, &end, 10);
		if (!errno && *end == '\0' && *out <= max)
			ret = 0;
		else
			*err = "holds a value that is not a valid number";
	} else {
		*err = r->type == REDIS_REPLY_ERROR ? "GET failed" : "holds a non-numeric value";
	}
	freeReplyObject(r);
	return ret;
}

/* Reads __dalio:applied and __dalio:epoch and restarts ordering from them. */
static int load_state(struct rp_state *s, const char **err);

int rp_reload_state(struct rp_state *s, const char **err)
{
	return load_state(s, err);
}

int rp_get_applied(struct rp_state *s, uint64_t *applied, const char **err)
{
	return get_u64(s->rc, APPLIED_KEY, UINT64_MAX - RP_WINDOW, applied, err);
}

void rp_set_epoch(struct rp_state *s, uint32_t epoch)
{
	redisReply *r = redisCommand(s->rc, "SET %s %u", EPOCH_KEY, epoch);

	if (r)
		freeReplyObject(r);
	s->epoch = epoch;
}

static int load_state(struct rp_state *s, const char **err)
{
	uint64_t applied, epoch;

	if (get_u64(s->rc, APPLIED_KEY, UINT64_MAX - RP_WINDOW, &applied, err) ||
	    get_u64(s->rc, EPOCH_KEY, UINT32_MAX, &epoch, err))
		return -1;
	/* Writes behind a failed one may have reached Redis before we noticed. */
	if (s->lost_seq && applied >= s->lost_seq) {
		*err = "Redis applied writes past one it refused (a hole); the replica must be "
		       "rebuilt";
		s->fatal = 1;
		return -1;
	}
	s->lost_seq = 0;
	s->applied = applied;
	s->epoch = (uint32_t)epoch;
	s->reads_checked = 0;
	rp_order_reset(&s->order, applied);
	if (s->cfg.vr) {
		/* vr: the view is the vr log's (and --state-file's), not Redis's. */
		s->epoch = s->vl.view;
		rp_vrlog_set_applied(&s->vl, applied);
	}
	return 0;
}

int rp_redis_connect(struct rp_state *s, const char **err)
{
	struct timeval tv = {.tv_sec = REDIS_TIMEOUT_S};
	redisContext *rc;

	if (s->cfg.redis_unix)
		rc = redisConnectUnixWithTimeout(s->cfg.redis_host, tv);
	else
		rc = redisConnectWithTimeout(s->cfg.redis_host, s->cfg.redis_port, tv);
	if (!rc || rc->err) {
		static char buf[160];

		snprintf(buf, sizeof(buf), "cannot connect to Redis: %s",
			 rc ? rc->errstr : "out of memory");
		if (rc)
			redisFree(rc);
		*err = buf;
		return -1;
	}
	/* A hung server must not freeze the replica forever. */
	redisSetTimeout(rc, tv);
	s->rc = rc;
	s->pipe_broken = 0;
	if (load_state(s, err)) {
		static char buf[160];

		snprintf(buf, sizeof(buf), "cannot read " APPLIED_KEY "/" EPOCH_KEY ": %s", *err);
		*err = buf;
		redisFree(rc);
		s->rc = NULL;
		return -1;
	}
	return 0;
}

static void redis_drop(struct rp_state *s)
{
	if (s->rc)
		redisFree(s->rc);
	s->rc = NULL;
	s->reconnect_ns = s->now_ns; /* try again at once, then back off */
}

/* ---- planning ---------------------------------------------------------- */

static struct rp_op *op_new(struct rp_state *s, enum rp_op_kind kind, const struct dalio_msg *m,
			    const struct sockaddr_in *to)
{
	struct rp_op *op;

	if (s->nops == s->capops) {
		size_t cap = s->capops ? s->capops * 2 : 256;
		struct rp_op *ops = realloc(s->ops, cap * sizeof(*ops));

		if (!ops) {
			rp_log("out of memory for %zu ops\n", cap);
			return NULL;
		}
		s->ops = ops;
		s->capops = cap;
	}
	op = &s->ops[s->nops++];
	memset(op, 0, offsetof(struct rp_op, err));
	op->kind = (uint8_t)kind;
	op->to = *to;
	op->m = *m;
	op->m.key = NULL;
	op->m.key_len = 0;
	op->m.body = NULL;
	op->m.body_len = 0;
	return op;
}

static void append(struct rp_state *s, struct rp_op *op, int argc, const char *const *argv,
		   const size_t *argvlen)
{
	/* hiredis only reads argv; its prototype just lacks the const. */
	if (redisAppendCommandArgv(s->rc, argc, (const char **)argv, argvlen) != REDIS_OK)
		s->pipe_broken = 1;
	op->nreplies++;
}

static void append_set(struct rp_state *s, struct rp_op *op, const char *key, uint64_t v)
{
	char num[24];
	const char *argv[3] = {"SET", key, num};
	size_t argvlen[3] = {3, strlen(key), 0};

	argvlen[2] = (size_t)snprintf(num, sizeof(num), "%" PRIu64, v);
	append(s, op, 3, argv, argvlen);
}

static void adopt_epoch(struct rp_state *s, const struct dalio_msg *m,
			const struct sockaddr_in *from)
{
	struct rp_op *op;

	if (m->epoch <= s->epoch)
		return;
	rp_log("adopting epoch %" PRIu32 " (was %" PRIu32 ")\n", m->epoch, s->epoch);
	s->epoch = m->epoch;
	s->st.epoch_changes++;
	if (s->sync.active)
		return; /* Redis is a read-only copy now: stored when the copy ends */
	op = op_new(s, RP_OP_EPOCH, m, from);
	if (op)
		append_set(s, op, EPOCH_KEY, m->epoch);
}

/* A reply made by the replica itself: no Redis involved. */
static void plan_reply(struct rp_state *s, const struct dalio_msg *m, const struct sockaddr_in *to,
		       uint8_t type, uint8_t status, const char *cmd, size_t cmdlen,
		       const char *why)
{
	struct rp_op *op = op_new(s, RP_OP_REPLY, m, to);

	if (!op)
		return;
	op->type = type;
	op->status = status;
	if (why)
		op->errlen = (uint16_t)rp_resp_error(op->err, sizeof(op->err), cmd, cmdlen, why);
}

static int key_matches(const struct rp_cmd *cmd, const struct dalio_msg *m)
{
	return cmd->argc >= 2 && cmd->argvlen[1] == m->key_len &&
	       !memcmp(cmd->argv[1], m->key, m->key_len);
}

/* Appends the Redis commands of the write in order now (m->seq == order.next,
 * or in vr the op after applied). Returns its op (valid until the next op_new). */
static struct rp_op *plan_write(struct rp_state *s, const struct rp_pkt *pkt,
				const struct dalio_msg *m)
{
	struct rp_op *op = op_new(s, RP_OP_WRITE, m, &pkt->from);
	struct rp_cmd cmd;
	const char *why = NULL;
	enum dalio_cmd_kind kind;

	if (!op) {
		s->pipe_broken = 1; /* the seq would be lost: fail the batch instead */
		return NULL;
	}
	op->m.seq = m->seq;
	if (rp_cmd_parse(&s->rdr, m->body, m->body_len, &cmd, &why)) {
		/* Every replica gets the same bytes and refuses them the same way,
		 * so the seq is consumed rather than stalling the shard. */
		op->errlen = (uint16_t)rp_resp_error(op->err, sizeof(op->err), NULL, 0, why);
	} else {
		kind = dalio_classify(cmd.argc, cmd.argv, cmd.argvlen, &why);
		if (kind == DALIO_CMD_REFUSED || !key_matches(&cmd, m)) {
			if (kind != DALIO_CMD_REFUSED)
				why = "key does not match the key in the Dalio header";
			op->errlen = (uint16_t)rp_resp_error(op->err, sizeof(op->err), cmd.argv[0],
							     cmd.argvlen[0], why);
		} else {
			static const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
			static const size_t multilen[] = {5}, execlen[] = {4};

			append(s, op, 1, multi, multilen);
			append(s, op, cmd.argc, cmd.argv, cmd.argvlen);
			append_set(s, op, APPLIED_KEY, m->seq);
			append(s, op, 1, exec, execlen);
		}
		rp_cmd_free(&cmd);
	}
	if (op->errlen) {
		op->kind = RP_OP_WRITE_REFUSED;
		append_set(s, op, APPLIED_KEY, m->seq);
	}
	return op;
}

/* The highest op executed or planned for execution ahead of anything planned
 * now: a read with a stamp up to it runs after the writes it must see. In vr
 * this is the executed head (only committed ops run), not the logged one. */
static uint64_t planned_head(const struct rp_state *s)
{
	return s->cfg.vr ? s->vl.applied : s->order.next - 1;
}

static void plan_read(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m,
		      const struct rp_cmd *cmd)
{
	struct rp_op *op = op_new(s, RP_OP_READ, m, &pkt->from);

	if (op)
		append(s, op, cmd->argc, cmd->argv, cmd->argvlen);
}

/* A queued read whose stamp has been reached: it parsed when it arrived. */
static void read_ready(void *ctx, const struct rp_pkt *pkt)
{
	struct rp_state *s = ctx;
	struct dalio_msg m;
	struct rp_cmd cmd;
	const char *why;

	if (dalio_decode(pkt->data, pkt->len, &m, &why))
		return;
	if (s->cfg.vr && (s->vl.status != RP_VR_NORMAL || m.epoch < s->vl.view)) {
		s->st.reads_not_ready++;
		plan_reply(s, &m, &pkt->from, DALIO_T_READ_REPLY,
			   m.epoch < s->vl.view ? DALIO_S_STALE_EPOCH : DALIO_S_NOT_READY, NULL, 0,
			   NULL);
		return;
	}
	if (rp_cmd_parse(&s->rdr, m.body, m.body_len, &cmd, &why))
		return;
	plan_read(s, pkt, &m, &cmd);
	rp_cmd_free(&cmd);
}

static void read_expired(void *ctx, const struct rp_pkt *pkt)
{
	struct rp_state *s = ctx;
	struct dalio_msg m;

	if (dalio_decode(pkt->data, pkt->len, &m, NULL))
		return;
	s->st.reads_not_ready++;
	plan_reply(s, &m, &pkt->from, DALIO_T_READ_REPLY, DALIO_S_NOT_READY, NULL, 0, NULL);
}

/* Plans the buffered writes that are now in order. Bounded by RP_WINDOW:
 * each take empties a slot. */
static void plan_buffered(struct rp_state *s)
{
	const struct rp_pkt *next;
	struct dalio_msg nm;

	while ((next = rp_order_take(&s->order))) {
		if (dalio_decode(next->data, next->len, &nm, NULL) == 0)
			plan_write(s, next, &nm);
		rp_order_advance(&s->order);
	}
}

static void vr_send_oks(struct rp_state *s);

void rp_apply_buffered(struct rp_state *s)
{
	if (s->cfg.vr) {
		/* A copy ended (sync.c reloaded applied): execution resumes from it. */
		rp_vrlog_sync_done(&s->vl, s->applied, s->sync.done_id == s->sync.id);
		vr_send_oks(s);
		return;
	}
	plan_buffered(s);
}

static void handle_write(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	struct rp_op *op;

	if (m->shard != s->cfg.shard) {
		s->st.drop_shard++;
		return;
	}
	if (m->epoch < s->epoch) {
		s->st.drop_stale_epoch++;
		return;
	}
	if (m->seq == 0) { /* seq 0 is "nothing applied" and never a write */
		s->st.drop_malformed++;
		return;
	}
	adopt_epoch(s, m, &pkt->from);
	if (s->sync.active) {
		/* Nothing is applied while the copy runs (sync.h). */
		if (m->seq <= s->sync.target) {
			s->st.drop_syncing++;
			return;
		}
		/* Keep the newest writes: the copy streams the older ones. */
		if (m->seq - s->order.next >= RP_WINDOW)
			rp_order_reset(&s->order, m->seq - RP_WINDOW / 2);
		if (rp_order_stash(&s->order, m->seq, pkt, s->now_ns) == RP_BUFFERED)
			s->st.buffered++;
		else
			s->st.drop_too_far++;
		return;
	}
	switch (rp_order_offer(&s->order, m->seq, pkt, s->now_ns)) {
	case RP_DUP:
		op = op_new(s, RP_OP_DUP_ACK, m, &pkt->from);
		if (op)
			op->m.seq = m->seq;
		break;
	case RP_NEXT:
		plan_write(s, pkt, m);
		rp_order_advance(&s->order);
		plan_buffered(s);
		break;
	case RP_BUFFERED:
		s->st.buffered++;
		break;
	case RP_ALREADY_BUFFERED:
		s->st.dup_buffered++;
		break;
	case RP_TOO_FAR:
		s->st.drop_too_far++;
		break;
	}
}

static void handle_read(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	struct rp_cmd cmd;
	const char *why = NULL;
	enum dalio_cmd_kind kind;

	if (m->shard != s->cfg.shard) {
		s->st.drop_shard++;
		return;
	}
	if (m->epoch < (s->cfg.vr ? s->vl.view : s->epoch)) { /* V1 */
		s->st.reads_stale++;
		plan_reply(s, m, &pkt->from, DALIO_T_READ_REPLY, DALIO_S_STALE_EPOCH, NULL, 0,
			   NULL);
		return;
	}
	if (!s->cfg.vr)
		adopt_epoch(s, m, &pkt->from);
	/* Not in the read set, or (vr) changing views or recovering (V6, V7):
	 * answer, never guess. */
	if (s->sync.active || (s->cfg.vr && s->vl.status != RP_VR_NORMAL)) {
		s->st.reads_not_ready++;
		plan_reply(s, m, &pkt->from, DALIO_T_READ_REPLY, DALIO_S_NOT_READY, NULL, 0, NULL);
		return;
	}
	if (rp_cmd_parse(&s->rdr, m->body, m->body_len, &cmd, &why)) {
		s->st.reads_refused++;
		plan_reply(s, m, &pkt->from, DALIO_T_READ_REPLY, DALIO_S_OK, NULL, 0, why);
		return;
	}
	/* A write must never run through READ: it would reach one replica only. */
	kind = dalio_classify(cmd.argc, cmd.argv, cmd.argvlen, &why);
	if (kind != DALIO_CMD_READ || !key_matches(&cmd, m)) {
		if (kind == DALIO_CMD_WRITE)
			why = "is a write; send it as a write";
		else if (kind == DALIO_CMD_READ)
			why = "key does not match the key in the Dalio header";
		s->st.reads_refused++;
		plan_reply(s, m, &pkt->from, DALIO_T_READ_REPLY, DALIO_S_OK, cmd.argv[0],
			   cmd.argvlen[0], why);
	} else if (m->stamp <= planned_head(s)) {
		/* Every write up to the stamp is applied or ahead in the pipeline. */
		plan_read(s, pkt, m, &cmd);
	} else if (rp_reads_push(&s->reads, m->stamp,
				 s->now_ns + (uint64_t)s->cfg.read_wait_ms * 1000000u, pkt)) {
		s->st.reads_not_ready++;
		plan_reply(s, m, &pkt->from, DALIO_T_READ_REPLY, DALIO_S_NOT_READY, NULL, 0, NULL);
	} else {
		s->st.reads_queued++;
	}
	rp_cmd_free(&cmd);
}

/* The LB asks for the reply of a write whose original reply the client lost. */
static void handle_replay(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	struct rp_op *op;

	if (m->shard != s->cfg.shard) {
		s->st.drop_shard++;
		return;
	}
	op = op_new(s, RP_OP_REPLAY, m, &pkt->from);
	if (op)
		op->m.seq = m->seq;
}

static void handle_ping(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	if (m->shard != s->cfg.shard && m->shard != DALIO_SHARD_ANY) {
		s->st.drop_shard++;
		return;
	}
	if (s->cfg.vr) {
		/* vr: PING carries n(v) of the current view in seq (V5); only
		 * once that view is entered, not while changing to it. */
		if (m->epoch == s->vl.view && s->vl.status != RP_VR_VIEW_CHANGE) {
			rp_vrlog_set_nv(&s->vl, m->seq);
			/* and the LB's head in stamp (V7) */
			if (rp_vrlog_try_recover(&s->vl, m->stamp))
				rp_log("vr: recovered in view %" PRIu32
				       ": holds every op up to %" PRIu64 "; voting again\n",
				       s->vl.view, s->vl.vh);
		}
	} else {
		adopt_epoch(s, m, &pkt->from);
	}
	op_new(s, RP_OP_PONG, m, &pkt->from);
}

/* ---- vr mode (docs/vr.md) ---------------------------------------------- */

int rp_state_file_write(const struct rp_state *s, uint32_t view)
{
	char tmp[sizeof(s->cfg.state_file) + 8], dir[sizeof(s->cfg.state_file)];
	char buf[16];
	char *slash;
	int fd, len, ok;

	if (!s->cfg.state_file[0])
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->cfg.state_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rp_log("--state-file: cannot create %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%" PRIu32 "\n", view);
	ok = write(fd, buf, (size_t)len) == len && fsync(fd) == 0;
	if (close(fd) || !ok || rename(tmp, s->cfg.state_file)) {
		rp_log("--state-file: cannot write %s: %s\n", s->cfg.state_file, strerror(errno));
		return -1;
	}
	/* The rename itself must survive a crash too. */
	snprintf(dir, sizeof(dir), "%s", s->cfg.state_file);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* V1/V5 for a PREPARE, COMMIT or START_VIEW of `view`. Entering a view
 * writes it to --state-file before any PREPARE_OK of it can go out (V7). */
static enum rp_vr_seen vr_seen(struct rp_state *s, uint32_t view)
{
	uint32_t old = s->vl.view;
	enum rp_vr_seen r = rp_vrlog_seen(&s->vl, view);

	if (r != RP_VR_ENTERED)
		return r;
	s->epoch = view;
	s->st.epoch_changes++;
	rp_log("entering view %" PRIu32 " (was %" PRIu32 "%s): commit %" PRIu64 ", applied %" PRIu64
	       "\n",
	       view, old, s->vl.status == RP_VR_RECOVERING ? ", recovering" : "", s->vl.commit,
	       s->vl.applied);
	if (rp_state_file_write(s, view)) {
		/* Voting in a view we could forget would break V7: stop. */
		rp_log("fatal: cannot record view %" PRIu32 " in --state-file\n", view);
		s->fatal = 1;
	}
	return r;
}

/* A header like the stored PREPARE of op (client and origin fields), or a
 * bare one; key and body cleared. */
static void vr_header(const struct rp_state *s, uint64_t op, struct dalio_msg *m)
{
	const struct rp_vr_entry *e = rp_vrlog_get(&s->vl, op);

	memset(m, 0, sizeof(*m));
	if (e && dalio_decode(e->pkt.data, e->pkt.len, m, NULL))
		memset(m, 0, sizeof(*m));
	m->key = NULL;
	m->key_len = 0;
	m->body = NULL;
	m->body_len = 0;
	m->shard = s->cfg.shard;
	m->epoch = s->vl.view;
	m->seq = op;
	m->status = DALIO_S_OK;
	m->replica = s->cfg.index;
}

static void vr_send_ok(struct rp_state *s, uint64_t op)
{
	const struct rp_vr_entry *e = rp_vrlog_get(&s->vl, op);
	struct dalio_msg m;

	if (!s->vr_lb_set && !e)
		return;
	vr_header(s, op, &m);
	m.type = DALIO_T_PREPARE_OK;
	rp_send(s, s->vr_lb_set ? &s->vr_lb : &e->pkt.from, &m);
	s->st.vr_prepare_oks++;
}

/* V3: a PREPARE_OK for every op that became <= vhead while synced. Never
 * while a copy runs (the vr log says not synced then). */
static void vr_send_oks(struct rp_state *s)
{
	uint64_t first, last;

	if (s->fatal || !rp_vrlog_ok_range(&s->vl, &first, &last))
		return;
	for (uint64_t op = first; op <= last; op++)
		vr_send_ok(s, op);
}

static void handle_prepare(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	if (m->seq == 0) {
		s->st.drop_malformed++;
		return;
	}
	if (vr_seen(s, m->epoch) == RP_VR_STALE) {
		s->st.drop_stale_epoch++;
		return;
	}
	s->vr_lb = pkt->from;
	s->vr_lb_set = 1;
	switch (rp_vrlog_offer(&s->vl, m->seq, m->epoch, pkt, s->now_ns)) {
	case RP_VR_STORED:
		s->st.vr_prepares++;
		break;
	case RP_VR_DUP:
	case RP_VR_OLD:
		s->st.vr_dup_prepares++;
		/* V3: its PREPARE_OK was lost; say it again. */
		if (rp_vrlog_ok_again(&s->vl, m->seq))
			vr_send_ok(s, m->seq);
		break;
	case RP_VR_TOO_FAR:
	case RP_VR_WRONG_VIEW:
		s->st.drop_too_far++;
		break;
	}
	rp_vrlog_set_commit(&s->vl, m->stamp, s->now_ns);
}

/* V4: the commit number; seq != 0 asks for that op's result as an ACK. */
static void handle_commit(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	struct rp_op *op;
	struct dalio_msg h;

	if (vr_seen(s, m->epoch) == RP_VR_STALE) {
		s->st.drop_stale_epoch++;
		return;
	}
	s->st.vr_commits++;
	s->vr_lb = pkt->from;
	s->vr_lb_set = 1;
	rp_vrlog_set_commit(&s->vl, m->stamp, s->now_ns);
	if (!m->seq)
		return;
	if (m->seq > s->vl.applied) {
		/* Executed later (rp_run_batch): ACKed then. */
		rp_vrlog_want(&s->vl, m->seq);
		s->vr_want_to = pkt->from;
		return;
	}
	/* Already executed: from the reply cache. */
	vr_header(s, m->seq, &h);
	op = op_new(s, RP_OP_DUP_ACK, &h, &pkt->from);
	if (op)
		op->m.seq = m->seq;
}

static void handle_start_view(struct rp_state *s, const struct dalio_msg *m)
{
	if (vr_seen(s, m->epoch) == RP_VR_STALE) {
		s->st.drop_stale_epoch++;
		return;
	}
	rp_vrlog_set_commit(&s->vl, m->stamp, s->now_ns);
	if (m->epoch == s->vl.view)
		rp_vrlog_set_nv(&s->vl, m->seq);
}

/* V6/V7: answered to the sender (the agent). */
static void handle_start_view_change(struct rp_state *s, const struct rp_pkt *pkt,
				     const struct dalio_msg *m)
{
	struct rp_vr_report r;
	struct dalio_msg a;

	memset(&a, 0, sizeof(a));
	a.type = DALIO_T_DO_VIEW_CHANGE;
	a.shard = s->cfg.shard;
	a.replica = s->cfg.index;
	switch (rp_vrlog_start_view_change(&s->vl, m->epoch, &r)) {
	case RP_VR_SVC_REPORT:
		if (s->epoch != r.view)
			rp_log("view change to %" PRIu32 ": reporting view %" PRIu32 " op %" PRIu64
			       ", commit %" PRIu64 "\n",
			       r.view, r.normal, r.op, r.commit);
		s->epoch = r.view;
		a.epoch = r.view;
		a.request_id = r.normal;
		a.seq = r.op;
		a.stamp = r.commit;
		a.client_id = r.oldest;
		s->st.vr_view_changes++;
		break;
	case RP_VR_SVC_STALE:
		a.epoch = s->vl.view;
		a.status = DALIO_S_STALE_EPOCH;
		break;
	case RP_VR_SVC_NOT_READY:
		a.epoch = m->epoch;
		a.status = DALIO_S_NOT_READY;
		break;
	}
	rp_send(s, &pkt->from, &a);
}

#define RP_VR_GET_LOG_MAX 256

/* V8: a LOG_ENTRY for every op of seq..stamp the ring holds, at most 256. */
static void handle_get_log(struct rp_state *s, const struct rp_pkt *pkt, const struct dalio_msg *m)
{
	for (uint64_t op = m->seq; op && op <= m->stamp && op - m->seq < RP_VR_GET_LOG_MAX; op++) {
		const struct rp_vr_entry *e = rp_vrlog_get(&s->vl, op);
		struct dalio_msg le;

		if (!e || dalio_decode(e->pkt.data, e->pkt.len, &le, NULL))
			continue;
		le.type = DALIO_T_LOG_ENTRY;
		le.epoch = e->view;
		le.replica = s->cfg.index;
		le.status = DALIO_S_OK;
		rp_send(s, &pkt->from, &le);
		s->st.vr_log_entries++;
	}
}

/* V4: plans the committed, usable ops after applied, in order. Their ACKs
 * are sent only when a COMMIT asked for them; every reply is cached. */
static void vr_plan_exec(struct rp_state *s)
{
	const struct rp_vr_entry *e;
	struct dalio_msg m;

	while ((e = rp_vrlog_next_exec(&s->vl))) {
		uint64_t op_no = e->op;
		int want = rp_vrlog_wanted(&s->vl, op_no);
		struct rp_op *op = NULL;

		if (dalio_decode(e->pkt.data, e->pkt.len, &m, NULL) == 0)
			op = plan_write(s, &e->pkt, &m);
		if (op) {
			op->m.epoch = s->vl.view;
			op->quiet = !want;
			if (want)
				op->to = s->vr_want_to;
		}
		rp_vrlog_advance(&s->vl);
	}
}

void rp_handle(struct rp_state *s, const struct rp_pkt *pkt)
{
	struct dalio_msg m;
	const char *err;

	s->st.received++;
	if (!rp_from_lb(s, &pkt->from)) {
		s->st.drop_not_lb++;
		rp_vlog(s, "dropped a datagram from %s: not an LB address\n",
			inet_ntoa(pkt->from.sin_addr));
		return;
	}
	if (pkt->len == 0 || dalio_decode(pkt->data, pkt->len, &m, &err)) {
		s->st.drop_malformed++;
		rp_vlog(s, "dropped a datagram: %s\n", pkt->len ? err : "oversize");
		return;
	}
	if (s->cfg.vr
		    ? m.type != DALIO_T_PREPARE && m.type != DALIO_T_COMMIT &&
			      m.type != DALIO_T_START_VIEW_CHANGE && m.type != DALIO_T_START_VIEW &&
			      m.type != DALIO_T_GET_LOG && m.type != DALIO_T_READ &&
			      m.type != DALIO_T_PING && m.type != DALIO_T_REPLAY &&
			      m.type != DALIO_T_SYNC
		    : m.type != DALIO_T_WRITE && m.type != DALIO_T_READ && m.type != DALIO_T_PING &&
			      m.type != DALIO_T_REPLAY && m.type != DALIO_T_SYNC) {
		s->st.drop_type++;
		rp_vlog(s, "dropped a %s: not a message for a replica\n", dalio_type_name(m.type));
		return;
	}
	if (!s->rc) {
		s->st.drop_redis_down++;
		return;
	}
	if (s->cfg.vr && m.type != DALIO_T_PING && m.shard != s->cfg.shard) {
		s->st.drop_shard++;
		return;
	}
	if (m.type == DALIO_T_PREPARE)
		handle_prepare(s, pkt, &m);
	else if (m.type == DALIO_T_COMMIT)
		handle_commit(s, pkt, &m);
	else if (m.type == DALIO_T_START_VIEW)
		handle_start_view(s, &m);
	else if (m.type == DALIO_T_START_VIEW_CHANGE)
		handle_start_view_change(s, pkt, &m);
	else if (m.type == DALIO_T_GET_LOG)
		handle_get_log(s, pkt, &m);
	else if (m.type == DALIO_T_WRITE)
		handle_write(s, pkt, &m);
	else if (m.type == DALIO_T_READ)
		handle_read(s, pkt, &m);
	else if (m.type == DALIO_T_REPLAY)
		handle_replay(s, pkt, &m);
	else if (m.type == DALIO_T_SYNC) {
		rp_sync_request(s, &m);
		/* vr: PREPAREs are stashed, nothing executed, no vote meanwhile. */
		if (s->cfg.vr && s->sync.active)
			rp_vrlog_sync_start(&s->vl, s->sync.target);
	} else {
		handle_ping(s, pkt, &m);
	}
	if (s->cfg.vr)
		vr_send_oks(s);
}

/*
 * Asks the LB for the writes missing in front of the gap buffer once the gap
 * has outlived reordering, and again with backoff while it persists (nack.h).
 * The NACK goes to the address the buffered write came from (VIP:port).
 */
void rp_nack_tick(struct rp_state *s)
{
	struct rp_gap gap;
	struct dalio_msg m;

	/* While Redis is away the order state is about to be reloaded; while a
	 * full copy runs the gap in front of the buffer is the copy's job. */
	if (!s->rc || s->sync.active)
		return;
	if (s->cfg.vr) {
		/* V4: the vr log's gap, asked of the LB that sends the PREPAREs. */
		int have = s->vr_lb_set && s->vl.status != RP_VR_VIEW_CHANGE &&
			   rp_vrlog_can_execute(&s->vl) &&
			   rp_vrlog_gap(&s->vl, RP_NACK_MAX_RANGE, &gap.first, &gap.last,
					&gap.since_ns);

		gap.from = s->vr_lb;
		if (!rp_nack_poll_gap(&s->nack, have, &gap, s->now_ns))
			return;
	} else if (!rp_nack_poll(&s->nack, &s->order, s->now_ns, &gap)) {
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = DALIO_T_NACK;
	m.shard = s->cfg.shard;
	m.epoch = s->epoch;
	m.seq = gap.first;
	m.stamp = gap.last;
	m.replica = s->cfg.index;
	rp_send(s, &gap.from, &m);
	rp_flush(s);
	s->st.nacks++;
	s->st.nacked_seqs += gap.last - gap.first + 1;
	rp_vlog(s, "NACK %" PRIu64 "..%" PRIu64 " (NACK %" PRIu32 " for this gap)\n", gap.first,
		gap.last, s->nack.sent);
}

void rp_expire_reads(struct rp_state *s)
{
	rp_reads_take_expired(&s->reads, s->now_ns, read_expired, s);
}

/* ---- answering --------------------------------------------------------- */

static void answer(struct rp_state *s, const struct rp_op *op, uint8_t type, uint8_t status,
		   const void *body, size_t len)
{
	struct dalio_msg m = op->m;

	m.type = type;
	m.status = status;
	m.replica = s->cfg.index;
	m.key = NULL;
	m.key_len = 0;
	m.body = body;
	m.body_len = len;
	rp_send(s, &op->to, &m);
}

/* RESP-encodes r into buf; a reply over one datagram becomes an error. */
static size_t encode_reply(struct rp_state *s, const redisReply *r, char *buf)
{
	long len = rp_resp_encode(r, buf, RP_MAX_BODY);

	if (len >= 0)
		return (size_t)len;
	s->st.reply_too_big++;
	return rp_resp_error(buf, RP_MAX_BODY, NULL, 0,
			     "reply does not fit one 1472-byte datagram");
}

/* Errors that say something about the server, not the command: the write
 * did not happen and must not be consumed. */
static int server_condition(const redisReply *e)
{
	return !(e->len >= 4 && !memcmp(e->str, "ERR ", 4)) &&
	       !(e->len >= 10 && !memcmp(e->str, "WRONGTYPE ", 10));
}

static int is_ok(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_STATUS && r->len == 2 && !memcmp(r->str, "OK", 2);
}

enum write_result { W_APPLIED, W_ABORTED, W_FAILED };

/* What became of a MULTI/command/SET/EXEC op; *reply is what to ACK. */
static enum write_result write_result(const struct rp_op *op, const redisReply **reply)
{
	const redisReply *exec = op->r[3];

	if (op->nreplies != 4 || !op->r[3])
		return W_FAILED;
	if (exec->type == REDIS_REPLY_ARRAY && exec->elements == 2) {
		*reply = exec->element[0];
		return W_APPLIED;
	}
	if (exec->type != REDIS_REPLY_ERROR || !is_ok(op->r[0]))
		return W_FAILED;
	/* EXEC refused the transaction: report the command's queue-time error. */
	*reply = op->r[1]->type == REDIS_REPLY_ERROR   ? op->r[1]
		 : op->r[2]->type == REDIS_REPLY_ERROR ? op->r[2]
						       : exec;
	return server_condition(*reply) ? W_FAILED : W_ABORTED;
}

static void ack(struct rp_state *s, const struct rp_op *op, const void *body, size_t len)
{
	rp_cache_put(&s->cache, op->m.seq, body, len);
	s->applied = op->m.seq;
	if (!op->quiet)
		answer(s, op, DALIO_T_ACK, DALIO_S_OK, body, len);
}

/* Answers one op whose replies are all in. Returns -1 if the op failed. */
static int finish(struct rp_state *s, const struct rp_op *op, int *fixup)
{
	char body[RP_MAX_BODY];
	const redisReply *reply = NULL;
	const uint8_t *cached;
	size_t len;

	switch (op->kind) {
	case RP_OP_WRITE:
		switch (write_result(op, &reply)) {
		case W_FAILED:
			if (reply)
				rp_log("Redis refused seq %" PRIu64 ": %.*s\n", op->m.seq,
				       (int)reply->len, reply->str);
			return -1;
		case W_ABORTED:
			/* The command did nothing, and will do nothing on every replica;
			 * the seq is consumed and __dalio:applied set after the batch. */
			*fixup = 1;
			s->st.applied_error++;
			break;
		case W_APPLIED:
			if (!is_ok(op->r[3]->element[1]))
				rp_log("warning: SET " APPLIED_KEY " %" PRIu64 " in EXEC failed\n",
				       op->m.seq);
			s->st.applied++;
			break;
		}
		ack(s, op, body, encode_reply(s, reply, body));
		return 0;
	case RP_OP_WRITE_REFUSED:
		if (!is_ok(op->r[0]))
			return -1;
		s->st.refused++;
		ack(s, op, op->err, op->errlen);
		return 0;
	case RP_OP_DUP_ACK:
		/* Only the last RP_WINDOW replies are remembered, and none survive a
		 * restart: an older duplicate is acked OK with an empty body. Exactly
		 * once towards the client is the LB's job (a later issue). */
		cached = rp_cache_get(&s->cache, op->m.seq, &len);
		if (cached)
			s->st.dup++;
		else
			s->st.dup_uncached++;
		answer(s, op, DALIO_T_ACK, DALIO_S_OK, cached, cached ? len : 0);
		return 0;
	case RP_OP_EPOCH:
		return is_ok(op->r[0]) ? 0 : -1;
	case RP_OP_READ:
		s->st.reads_served++;
		len = encode_reply(s, op->r[0], body);
		answer(s, op, DALIO_T_READ_REPLY, DALIO_S_OK, body, len);
		return 0;
	case RP_OP_REPLY:
		answer(s, op, op->type, op->status, op->err, op->errlen);
		return 0;
	case RP_OP_REPLAY:
		/* Runs after the batch's earlier writes, so s->applied is current. */
		if (op->m.seq > s->applied) {
			answer(s, op, DALIO_T_READ_REPLY, DALIO_S_NOT_READY, NULL, 0);
			return 0;
		}
		cached = rp_cache_get(&s->cache, op->m.seq, &len);
		s->st.replays++;
		answer(s, op, DALIO_T_READ_REPLY, cached ? DALIO_S_OK : DALIO_S_REPLY_LOST, cached,
		       cached ? len : 0);
		return 0;
	case RP_OP_PONG: {
		struct rp_op pong = *op;

		s->st.pings++;
		pong.m.epoch = s->cfg.vr ? s->vl.view : s->epoch;
		pong.m.seq = s->applied;
		pong.m.stamp = s->sync.done_id;
		pong.m.origin_ip = s->cfg.adv_ip;
		pong.m.origin_port = s->cfg.adv_port;
		/* vr: also while recovering or changing views. */
		answer(s, &pong, DALIO_T_PONG,
		       s->sync.active || (s->cfg.vr && s->vl.status != RP_VR_NORMAL)
			       ? DALIO_S_NOT_READY
			       : DALIO_S_OK,
		       NULL, 0);
		return 0;
	}
	}
	return -1;
}

/* After a failure, a later write that did take effect leaves a hole. */
static int took_effect(const struct rp_op *op)
{
	const redisReply *reply = NULL;

	if (op->kind == RP_OP_WRITE)
		return write_result(op, &reply) != W_FAILED;
	if (op->kind == RP_OP_WRITE_REFUSED)
		return is_ok(op->r[0]);
	return 0;
}

void rp_run_batch(struct rp_state *s)
{
	size_t failed_at = SIZE_MAX;
	int io_failed = 0, fixup = 0;
	const char *err;

	/* After a state reload the next write may already be in the buffer.
	 * Never while a full copy runs: nothing is applied then (sync.h). */
	if (s->cfg.vr) {
		/* A copy that ended without its completion step (state reload failed). */
		if (s->vl.copying && !s->sync.active)
			rp_vrlog_sync_done(&s->vl, s->applied, 0);
		if (s->rc && !s->sync.active)
			vr_plan_exec(s);
	} else if (s->rc && s->order.buffered && !s->sync.active) {
		plan_buffered(s);
	}
	/* Reads whose stamp the planned writes reach run after those writes. */
	if (s->rc && s->reads.live && !s->sync.active && planned_head(s) > s->reads_checked) {
		s->reads_checked = planned_head(s);
		rp_reads_take_ready(&s->reads, planned_head(s), read_ready, s);
	}
	if (!s->nops)
		return;
	if (s->pipe_broken) {
		failed_at = 0;
		io_failed = 1;
	}
	/* One round trip: hiredis flushes the whole pipeline, then we read. */
	for (size_t i = 0; i < s->nops && !io_failed; i++) {
		struct rp_op *op = &s->ops[i];

		for (unsigned j = 0; j < op->nreplies; j++) {
			void *r = NULL;

			if (redisGetReply(s->rc, &r) != REDIS_OK || !r) {
				rp_log("Redis I/O error: %s (timeout %d s)\n",
				       s->rc->errstr[0] ? s->rc->errstr : "no reply",
				       REDIS_TIMEOUT_S);
				failed_at = i;
				io_failed = 1;
				break;
			}
			op->r[j] = r;
		}
	}
	for (size_t i = 0; i < s->nops; i++) {
		struct rp_op *op = &s->ops[i];

		if (i < failed_at && finish(s, op, &fixup) < 0) {
			failed_at = i;
			/* All its replies are in: Redis did not apply it. */
			if (op->kind == RP_OP_WRITE || op->kind == RP_OP_WRITE_REFUSED)
				s->lost_seq = op->m.seq;
		}
		if (i >= failed_at) {
			s->st.drop_after_failure++;
			if (s->lost_seq && i > failed_at && took_effect(op)) {
				rp_log("fatal: seq %" PRIu64
				       " took effect in Redis after seq %" PRIu64
				       " failed; the replica has a hole and must be rebuilt\n",
				       op->m.seq, s->lost_seq);
				s->fatal = 1;
			}
		}
	}
	for (size_t i = 0; i < s->nops; i++)
		for (unsigned j = 0; j < s->ops[i].nreplies; j++)
			if (s->ops[i].r[j])
				freeReplyObject(s->ops[i].r[j]);
	s->nops = 0;
	if (failed_at == SIZE_MAX && fixup) {
		/* Persist the seqs consumed by aborted transactions. If this is lost,
		 * a restart replays them, and they abort again without effect. */
		redisReply *r = redisCommand(s->rc, "SET " APPLIED_KEY " %" PRIu64, s->applied);

		if (!is_ok(r))
			rp_log("warning: could not persist " APPLIED_KEY " %" PRIu64 "\n",
			       s->applied);
		if (r)
			freeReplyObject(r);
		else
			io_failed = 1, failed_at = 0;
	}
	if (failed_at == SIZE_MAX || s->fatal)
		return;
	s->st.redis_failures++;
	if (!io_failed && load_state(s, &err) == 0) {
		rp_log("Redis failure: resuming from applied %" PRIu64 ", epoch %" PRIu32 "\n",
		       s->applied, s->epoch);
		return;
	}
	if (s->fatal)
		rp_log("fatal: %s\n", err);
	else
		rp_log("Redis connection lost; reconnecting\n");
	redis_drop(s);
}
