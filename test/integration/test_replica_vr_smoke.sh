#!/usr/bin/env bash
# Smoke test of dalio-replica --mode vr (docs/vr.md, replica rules V1-V8)
# against a real redis-server, on loopback only, like test_replica_smoke.sh:
# starts its own redis-server and dalio-replica on free high ports, plays the
# LB and the agent with crafted datagrams (python3) and checks every answer
# and Redis's state. Exits non-zero on the first failed check. Kills only the
# PIDs it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${DALIO_REPLICA:-$ROOT/build/dalio-replica}
[[ -x $BIN ]] || { echo "replica_vr_smoke: $BIN not built (run make)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "replica_vr_smoke: redis-server not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/dalio-replica-vr-smoke.XXXXXX)
REDIS_PID=
REPLICA_PID=
SRC_PID=

cleanup() {
	local pid
	for pid in $REPLICA_PID $REDIS_PID $SRC_PID; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $REPLICA_PID $REDIS_PID $SRC_PID; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

read -r RPORT UPORT SPORT < <(python3 -c '
import socket
t = socket.socket(); t.bind(("127.0.0.1", 0))
u = socket.socket(type=socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
s = socket.socket(); s.bind(("127.0.0.1", 0))
print(t.getsockname()[1], u.getsockname()[1], s.getsockname()[1])')

redis-server --port "$RPORT" --save '' --appendonly no --bind 127.0.0.1 \
	--dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do
	redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
redis-cli -p "$RPORT" ping | grep -q PONG || { echo "replica_vr_smoke: redis did not start" >&2; exit 1; }

STATE=$WORK/view.state

# Bad option values are refused with a clear message.
if "$BIN" --listen "127.0.0.1:$UPORT" --lb 127.0.0.1 --redis "127.0.0.1:$RPORT" --shard 3 \
	--mode xx 2>"$WORK/bad.log"; then
	echo "replica_vr_smoke: --mode xx accepted" >&2; exit 1
fi
grep -q -- "--mode: expected pb or vr, got 'xx'" "$WORK/bad.log" ||
	{ echo "replica_vr_smoke: unclear --mode error" >&2; cat "$WORK/bad.log" >&2; exit 1; }

start_replica() {
	"$BIN" --listen "127.0.0.1:$UPORT" --lb 127.0.0.1 --redis "127.0.0.1:$RPORT" \
		--shard 3 --index 2 --read-wait-ms 50 --mode vr --state-file "$STATE" \
		>>"$WORK/replica.log" 2>&1 &
	REPLICA_PID=$!
}

stop_replica() {
	kill -TERM "$REPLICA_PID"
	local rc=0
	wait "$REPLICA_PID" || rc=$?
	REPLICA_PID=
	[[ $rc == 0 ]] || { echo "replica_vr_smoke: replica exited with $rc" >&2; cat "$WORK/replica.log" >&2; exit 1; }
}

start_replica
export ITDIR="$ROOT/test/integration" RPORT UPORT SPORT STATE PHASE=main

run_py() {
	python3 - <<'PY'
import os, socket, struct, subprocess, sys, time

RPORT, UPORT, PHASE = int(os.environ["RPORT"]), int(os.environ["UPORT"]), os.environ["PHASE"]
STATE = os.environ["STATE"]
ACK, READ, READ_REPLY, PING, PONG, NACK = 4, 5, 6, 7, 8, 10
PREPARE, PREPARE_OK, COMMIT, SVC, DVC, START_VIEW, GET_LOG, LOG_ENTRY = range(12, 20)
OK, STALE_EPOCH, NOT_READY = 0, 4, 5
SHARD = 3

sys.path.insert(0, os.environ["ITDIR"])
import fakelb
from fakelb import check, expect, lb, nacks, parse, pkt, rcli, recv, resp, send, silence
fakelb.init("replica_vr_smoke", RPORT, UPORT)

def ping(epoch, seq=0, rid=99, stamp=0):
    send(pkt(PING, epoch=epoch, seq=seq, rid=rid, stamp=stamp))
    (m,) = expect(1, "PING")
    check(m["type"] == PONG and m["request_id"] == rid, f"PONG {m}")
    return m

for _ in range(50):
    send(pkt(PING, epoch=0, rid=7))
    if recv(0.1):
        break
else:
    fail("replica never answered PING")
while recv(0.05):
    pass

if PHASE == "restart":
    # V7: the state file says view 2: recovering. No vote, nothing executed.
    m = ping(epoch=2, seq=5)
    check(m["status"] == NOT_READY and m["epoch"] == 2 and m["seq"] == 5,
          f"recovering PONG is NOT_READY, view 2, applied 5: {m}")
    send(pkt(SVC, epoch=3))
    (d,) = expect(1, "START_VIEW_CHANGE while recovering")
    check(d["type"] == DVC and d["status"] == NOT_READY, f"DO_VIEW_CHANGE NOT_READY {d}")
    send(pkt(START_VIEW, epoch=2, seq=5, stamp=5))
    send(pkt(PREPARE, ("SET", "k", "r"), seq=6, stamp=6, epoch=2, rid=16))
    silence("no PREPARE_OK while recovering")
    check(rcli("GET", "k") == "e" and rcli("GET", "__dalio:applied") == "5",
          "nothing executed while recovering")
    send(pkt(READ, ("GET", "k"), stamp=0, epoch=2, rid=40))
    (r,) = expect(1, "read while recovering")
    check(r["status"] == NOT_READY, f"read NOT_READY while recovering {r}")
    # SYNC from the other Redis up to op 6: afterwards it executes, but votes
    # only once it holds the LB's head of the first PING after the copy (8
    # here: it may have acknowledged up to there before it crashed), or from
    # the next view on.
    SPORT = int(os.environ["SPORT"])
    send(pkt(11, seq=6, epoch=2, rid=77) [:48] + struct.pack("!IH", 0x7F000001, SPORT)
         + pkt(11, seq=6, epoch=2, rid=77)[54:])
    for _ in range(100):
        m = ping(epoch=2, seq=5, stamp=8)
        if m["stamp"] == 77:
            break
        time.sleep(0.1)
    check(m["stamp"] == 77 and m["seq"] == 6, f"SYNC 77 done at applied 6: {m}")
    check(m["status"] == NOT_READY, f"still not voting after the copy: {m}")
    check(rcli("GET", "k") == "r", "the copy is in")
    send(pkt(PREPARE, ("SET", "k", "s"), seq=7, stamp=7, epoch=2, rid=17))
    silence("no PREPARE_OK before it holds the LB's head (8)")
    check(rcli("GET", "k") == "s" and rcli("GET", "__dalio:applied") == "7",
          "a committed op runs after the copy")
    send(pkt(SVC, epoch=3))
    (d,) = expect(1, "START_VIEW_CHANGE after the copy")
    check(d["status"] == NOT_READY, f"no vote before the next view {d}")
    send(pkt(START_VIEW, epoch=3, seq=7, stamp=7))
    send(pkt(PREPARE, ("SET", "k", "t"), seq=8, stamp=7, epoch=3, rid=18))
    (o,) = expect(1, "PREPARE_OK in view 3")
    check(o["type"] == PREPARE_OK and o["seq"] == 8 and o["epoch"] == 3, f"votes in view 3 {o}")
    check(open(STATE).read().strip() == "3", "state file holds view 3")
    m = ping(epoch=3, seq=7)
    check(m["status"] == OK and m["epoch"] == 3, f"normal in view 3 {m}")
    print(f"replica_vr_smoke: restart phase: {fakelb.checks} checks passed")
    sys.exit(0)

m = ping(epoch=0)
check(m["status"] == OK and m["epoch"] == 0 and m["seq"] == 0 and m["replica"] == 2,
      f"first PONG {m}")
check(not os.path.exists(STATE), "no state file before a view is entered")

# START_VIEW(1, n = 0, commit 0): enters view 1, recorded in the state file.
send(pkt(START_VIEW, epoch=1, seq=0, stamp=0))
silence("START_VIEW has no answer", 0.1)
check(open(STATE).read().strip() == "1", "state file holds view 1")

# PREPAREs 2, 3, then 1: PREPARE_OK only once they are contiguous, in order.
send(pkt(PREPARE, ("SET", "k", "b"), seq=2, rid=12))
send(pkt(PREPARE, ("INCR", "ctr"), seq=3, rid=13))
silence("PREPARE_OK waits for op 1")
send(pkt(PREPARE, ("SET", "k", "a"), seq=1, rid=11))
oks = expect(3, "PREPARE_OKs 1..3")
check([o["type"] for o in oks] == [PREPARE_OK] * 3 and [o["seq"] for o in oks] == [1, 2, 3],
      f"PREPARE_OK 1, 2, 3 in order: {oks}")
check(all(o["epoch"] == 1 and o["replica"] == 2 and o["shard"] == SHARD and o["body"] == b""
          for o in oks), f"PREPARE_OK fields {oks}")
nacks_before_fill = len(nacks)
check(nacks_before_fill >= 1 and nacks[0][1]["seq"] == 1 and nacks[0][1]["stamp"] == 1
      and nacks[0][1]["epoch"] == 1, f"NACK for op 1 while 2, 3 waited: {nacks}")
nacks.clear()
check(rcli("GET", "k") == "" and rcli("EXISTS", "__dalio:applied") == "0",
      "nothing reaches Redis before COMMIT")

# COMMIT(commit 2, seq 2): executes 1, 2 and ACKs 2 only.
send(pkt(COMMIT, seq=2, stamp=2, rid=0, cid=0))
(a,) = expect(1, "COMMIT seq 2")
check(a["type"] == ACK and a["seq"] == 2 and a["status"] == OK and a["body"] == b"+OK\r\n",
      f"ACK 2 {a}")
check(a["epoch"] == 1 and a["request_id"] == 12 and a["client_id"] == 0xC11E
      and a["origin_ip"] == 0x0A000001 and a["origin_port"] == 4242
      and a["origin_mac"] == b"\x02" * 6 and a["replica"] == 2 and a["key_len"] == 0,
      f"ACK 2 carries the PREPARE's client fields {a}")
silence("no ACK for op 1")
check(rcli("GET", "k") == "b" and rcli("GET", "__dalio:applied") == "2",
      "ops 1, 2 executed")
check(rcli("EXISTS", "ctr") == "0", "op 3 not executed before it is committed")

# A duplicate PREPARE of a held op is PREPARE_OKed again.
send(pkt(PREPARE, ("INCR", "ctr"), seq=3, rid=13))
(o,) = expect(1, "duplicate PREPARE 3")
check(o["type"] == PREPARE_OK and o["seq"] == 3, f"PREPARE_OK 3 again {o}")

# PREPARE 4 carries commit 3: op 3 runs, quietly.
send(pkt(PREPARE, ("SET", "k", "d"), seq=4, stamp=3, rid=14))
(o,) = expect(1, "PREPARE 4")
check(o["type"] == PREPARE_OK and o["seq"] == 4, f"PREPARE_OK 4 {o}")
silence("no ACK for op 3 (not asked)", 0.1)
check(rcli("GET", "ctr") == "1" and rcli("GET", "k") == "b", "op 3 executed, op 4 not")

# COMMIT(seq 3) for an op already executed: ACK from the reply cache.
send(pkt(COMMIT, seq=3, stamp=3))
(a,) = expect(1, "COMMIT seq 3")
check(a["type"] == ACK and a["seq"] == 3 and a["body"] == b":1\r\n" and a["request_id"] == 13,
      f"cached ACK 3 {a}")
check(rcli("GET", "ctr") == "1", "op 3 executed once")

# Reads: served once the stamp is executed, NOT_READY for an uncommitted one.
send(pkt(READ, ("GET", "k"), stamp=3, rid=21))
(r,) = expect(1, "read stamp 3")
check(r["type"] == READ_REPLY and r["status"] == OK and r["body"] == b"$1\r\nb\r\n", f"read {r}")
send(pkt(READ, ("GET", "k"), stamp=4, rid=22))
(r,) = expect(1, "read stamp 4")
check(r["status"] == NOT_READY, f"op 4 logged but not committed: NOT_READY {r}")

# START_VIEW_CHANGE(2): DO_VIEW_CHANGE with (last normal view 1, op 4), commit 3.
send(pkt(SVC, epoch=2))
(d,) = expect(1, "START_VIEW_CHANGE 2")
check(d["type"] == DVC and d["status"] == OK and d["epoch"] == 2 and d["request_id"] == 1
      and d["seq"] == 4 and d["stamp"] == 3 and d["client_id"] == 1 and d["replica"] == 2,
      f"DO_VIEW_CHANGE fields {d}")
send(pkt(SVC, epoch=2))
(d2,) = expect(1, "START_VIEW_CHANGE 2 again")
check(d2["type"] == DVC and (d2["request_id"], d2["seq"], d2["stamp"]) == (1, 4, 3),
      f"the same report again {d2}")
send(pkt(SVC, epoch=1))
(d3,) = expect(1, "START_VIEW_CHANGE 1")
check(d3["status"] == STALE_EPOCH and d3["epoch"] == 2, f"stale view change {d3}")
# In view change: old-view PREPAREs dropped, reads and PONG NOT_READY.
send(pkt(PREPARE, ("SET", "k", "old"), seq=5, stamp=4, epoch=1, rid=15))
silence("stale-view PREPARE dropped")
send(pkt(READ, ("GET", "k"), stamp=0, epoch=2, rid=23))
(r,) = expect(1, "read in view change")
check(r["status"] == NOT_READY, f"NOT_READY in view change {r}")
m = ping(epoch=2)
check(m["status"] == NOT_READY and m["epoch"] == 2 and m["seq"] == 3, f"PONG in view change {m}")

# GET_LOG 1..9: the stored PREPAREs of 1..4 as LOG_ENTRYs (view 1).
send(pkt(GET_LOG, seq=1, stamp=9))
ents = expect(4, "GET_LOG 1..9")
check([e["type"] for e in ents] == [LOG_ENTRY] * 4 and [e["seq"] for e in ents] == [1, 2, 3, 4],
      f"LOG_ENTRY 1..4 {ents}")
check(all(e["epoch"] == 1 and e["client_id"] == 0xC11E and e["request_id"] == 10 + e["seq"]
          for e in ents), f"LOG_ENTRY fields {ents}")
check(ents[3]["key"] == b"k" and ents[3]["body"] == resp("SET", "k", "d"), f"LOG_ENTRY 4 {ents[3]}")
silence("no more LOG_ENTRYs", 0.1)

# START_VIEW(2, n = 4, commit 3): op 4 is view 1's and above trusted (3):
# not usable, asked for with a NACK, no PREPARE_OK until view 2's copy.
nacks.clear()
send(pkt(START_VIEW, epoch=2, seq=4, stamp=3))
silence("START_VIEW 2: not synced yet", 0.2)
check(open(STATE).read().strip() == "2", "state file holds view 2")
check(nacks and nacks[0][1]["seq"] == 4 and nacks[0][1]["stamp"] == 4 and nacks[0][1]["epoch"] == 2,
      f"NACK for op 4 in view 2: {nacks}")
send(pkt(PREPARE, ("SET", "k", "e"), seq=5, stamp=4, epoch=2, rid=15))
silence("PREPARE 5: op 4 still unusable", 0.1)
check(rcli("GET", "k") == "b", "view 1's op 4 not executed though commit is 4")
send(pkt(PREPARE, ("SET", "k", "d"), seq=4, stamp=4, epoch=2, rid=14))
oks = expect(2, "PREPARE_OK 4, 5 in view 2")
check([(o["seq"], o["epoch"]) for o in oks] == [(4, 2), (5, 2)], f"PREPARE_OK 4, 5 {oks}")
time.sleep(0.05)
check(rcli("GET", "k") == "d", "op 4 executed once committed and usable")
send(pkt(COMMIT, seq=5, stamp=5, epoch=2))
(a,) = expect(1, "COMMIT seq 5")
check(a["type"] == ACK and a["seq"] == 5 and a["epoch"] == 2 and a["body"] == b"+OK\r\n"
      and a["request_id"] == 15, f"ACK 5 {a}")
check(rcli("GET", "k") == "e" and rcli("GET", "__dalio:applied") == "5", "op 5 executed")
m = ping(epoch=2)
check(m["status"] == OK and m["epoch"] == 2 and m["seq"] == 5, f"PONG normal in view 2 {m}")
# REPLAY as in pb: from the reply cache.
send(pkt(9, seq=3, epoch=2))
(r,) = expect(1, "REPLAY 3")
check(r["type"] == READ_REPLY and r["status"] == OK and r["body"] == b":1\r\n", f"REPLAY {r}")
# A pb WRITE is not a vr message.
send(pkt(3, ("SET", "k", "w"), seq=6, epoch=2))
silence("WRITE dropped in vr mode", 0.1)
check(rcli("GET", "k") == "e", "WRITE not applied in vr mode")
print(f"replica_vr_smoke: main phase: {fakelb.checks} checks passed")
PY
}

run_py
stop_replica
grep -q "vr: view 2 (normal), commit 5" "$WORK/replica.log" ||
	{ echo "replica_vr_smoke: no vr state on exit" >&2; cat "$WORK/replica.log" >&2; exit 1; }

# The Redis a SYNC copies from (another replica's, at applied 6).
mkdir "$WORK/src"
redis-server --port "$SPORT" --save '' --appendonly no --bind 127.0.0.1 \
	--repl-diskless-sync-delay 0 --dir "$WORK/src" >"$WORK/src.log" 2>&1 &
SRC_PID=$!
for _ in $(seq 50); do
	redis-cli -p "$SPORT" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
redis-cli -p "$SPORT" mset k r ctr 1 __dalio:applied 6 >/dev/null

# Restart with the state file: recovering (V7).
start_replica
PHASE=restart run_py
grep -q "recovering (no vote until a SYNC completes)" "$WORK/replica.log" ||
	{ echo "replica_vr_smoke: no recovering notice" >&2; exit 1; }
stop_replica
[[ -n ${DALIO_SMOKE_LOG:-} ]] && cat "$WORK/replica.log"
echo "replica_vr_smoke: OK"
