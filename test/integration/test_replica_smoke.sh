#!/usr/bin/env bash
# Smoke test of dalio-replica against a real redis-server, on loopback only.
# Starts its own redis-server and dalio-replica on free high ports, plays the
# LB with crafted datagrams (python3) and checks every answer and Redis's
# state. Run by hand after `make`:  bash test/integration/replica_smoke.sh
# Exits non-zero on the first failed check. Kills only the PIDs it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${DALIO_REPLICA:-$ROOT/build/dalio-replica}
[[ -x $BIN ]] || { echo "replica_smoke: $BIN not built (run make)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "replica_smoke: redis-server not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/dalio-replica-smoke.XXXXXX)
REDIS_PID=
REPLICA_PID=

cleanup() {
	local pid
	for pid in $REPLICA_PID $REDIS_PID; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $REPLICA_PID $REDIS_PID; do
		# Bounded wait: 50 x 0.1 s, then SIGKILL.
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# Two free ports: TCP for Redis, UDP for the replica.
read -r RPORT UPORT < <(python3 -c '
import socket
t = socket.socket(); t.bind(("127.0.0.1", 0))
u = socket.socket(type=socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
print(t.getsockname()[1], u.getsockname()[1])')

redis-server --port "$RPORT" --save '' --appendonly no --bind 127.0.0.1 \
	--dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do
	redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
redis-cli -p "$RPORT" ping | grep -q PONG || { echo "replica_smoke: redis did not start" >&2; exit 1; }

start_replica() {
	"$BIN" --listen "127.0.0.1:$UPORT" --lb 127.0.0.1 --redis "127.0.0.1:$RPORT" \
		--shard 3 --index 2 --read-wait-ms 50 >>"$WORK/replica.log" 2>&1 &
	REPLICA_PID=$!
}

stop_replica() {
	kill -TERM "$REPLICA_PID"
	local rc=0
	wait "$REPLICA_PID" || rc=$?
	REPLICA_PID=
	[[ $rc == 0 ]] || { echo "replica_smoke: replica exited with $rc" >&2; cat "$WORK/replica.log" >&2; exit 1; }
}

start_replica
export ITDIR="$ROOT/test/integration" RPORT UPORT REDIS_PID PHASE=main

run_py() {
	python3 - <<'PY'
import os, socket, struct, subprocess, sys, time

RPORT, UPORT, PHASE = int(os.environ["RPORT"]), int(os.environ["UPORT"]), os.environ["PHASE"]
WRITE, ACK, READ, READ_REPLY, PING, PONG, NACK = 3, 4, 5, 6, 7, 8, 10
OK, STALE_EPOCH, NOT_READY = 0, 4, 5
SHARD = 3

sys.path.insert(0, os.environ["ITDIR"])
import fakelb
from fakelb import check, expect, lb, nacks, parse, pkt, rcli, recv, resp, send, silence
fakelb.init("replica_smoke", RPORT, UPORT)

def ping(epoch=1, rid=99):
    send(pkt(PING, epoch=epoch, rid=rid))
    (m,) = expect(1, "PING")
    check(m["type"] == PONG and m["status"] == OK and m["request_id"] == rid, f"PONG {m}")
    return m

# The replica may still be starting: PING until it answers (bounded).
for _ in range(50):
    send(pkt(PING, epoch=1, rid=7))
    m = recv(0.1)
    if m:
        break
else:
    fail("replica never answered PING")
while recv(0.05):  # late PONGs of the start-up loop
    pass

if PHASE == "restart":
    m = ping()
    check(m["seq"] == 10 and m["epoch"] == 2, f"after restart PONG has applied 10, epoch 2: {m}")
    # A duplicate from before the restart: not cached any more -> empty OK ACK.
    send(pkt(WRITE, ("INCR", "ctr"), seq=2, epoch=2))
    (a,) = expect(1, "uncached duplicate")
    check(a["type"] == ACK and a["status"] == OK and a["body"] == b"", f"uncached dup ACK {a}")
    check(rcli("GET", "ctr") == "3", "uncached duplicate not applied again")
    print(f"replica_smoke: restart phase: {fakelb.checks} checks passed")
    sys.exit(0)

# PING adopts epoch 1, persists it, reports applied 0.
m = ping()
check(m["epoch"] == 1 and m["seq"] == 0 and m["replica"] == 2, f"first PONG {m}")
check(rcli("GET", "__dalio:epoch") == "1", "epoch 1 persisted")

# Writes 1, 3, 2 out of order: all applied in seq order, one ACK each.
send(pkt(WRITE, ("SET", "k", "a"), seq=1, rid=11))
(a1,) = expect(1, "write seq 1")
check(a1["type"] == ACK and a1["seq"] == 1 and a1["body"] == b"+OK\r\n", f"ACK 1 {a1}")
check(a1["request_id"] == 11 and a1["client_id"] == 0xC11E and a1["origin_port"] == 4242
      and a1["origin_ip"] == 0x0A000001 and a1["origin_mac"] == b"\x02" * 6
      and a1["key_len"] == 0 and a1["replica"] == 2 and a1["shard"] == SHARD,
      f"ACK echoes the header {a1}")
t3 = time.monotonic()
send(pkt(WRITE, ("SET", "k", "c"), seq=3, rid=13))
silence("write seq 3 waits for seq 2")
check(rcli("GET", "k") == "a", "seq 3 not applied before seq 2")
# The gap outlived 5 ms: NACKs for seq 2 to the sender of seq 3, repeated with
# a doubling interval (5, 15, 35, 75, 155 ms after seq 3 arrived).
check(len(nacks) >= 3 and len(nacks) <= 6, f"3..6 NACKs in 0.3 s, got {len(nacks)}")
check(all(n["seq"] == 2 and n["stamp"] == 2 and n["epoch"] == 1 and n["shard"] == SHARD
          and n["replica"] == 2 and n["key_len"] == 0 and n["body"] == b"" for _, n in nacks),
      f"NACKs ask for seq 2..2: {nacks}")
check(nacks and 0.004 <= nacks[0][0] - t3 < 0.1, f"first NACK after about 5 ms: {nacks[:1]}")
check(len(nacks) < 3 or nacks[2][0] - nacks[1][0] > nacks[1][0] - nacks[0][0],
      "NACK intervals grow")
send(pkt(WRITE, ("INCR", "ctr"), seq=2, rid=12))
acks = expect(2, "write seq 2 releases seq 3")
nacks.clear()
check([a["seq"] for a in acks] == [2, 3], f"ACKs in seq order {acks}")
check(acks[0]["body"] == b":1\r\n" and acks[1]["body"] == b"+OK\r\n", f"ACK bodies {acks}")
check(rcli("GET", "k") == "c", "GET k shows the last write")
check(rcli("GET", "__dalio:applied") == "3", "applied 3 persisted")

# Duplicate of seq 2: the cached reply again, INCR applied once.
send(pkt(WRITE, ("INCR", "ctr"), seq=2, rid=12))
(d,) = expect(1, "duplicate seq 2")
check(d["type"] == ACK and d["seq"] == 2 and d["body"] == b":1\r\n", f"cached ACK {d}")
check(rcli("GET", "ctr") == "1", "duplicate INCR applied once")

# READ with stamp 10: NOT_READY after the wait (50 ms).
t0 = time.monotonic()
send(pkt(READ, ("GET", "k"), stamp=10, rid=21))
(r,) = expect(1, "read stamp 10")
waited = time.monotonic() - t0
check(r["type"] == READ_REPLY and r["status"] == NOT_READY and r["body"] == b"", f"NOT_READY {r}")
check(0.04 <= waited < 0.5, f"NOT_READY after about 50 ms, got {waited:.3f}s")

# READ with a reached stamp is served.
send(pkt(READ, ("GET", "k"), stamp=3, rid=22))
(r,) = expect(1, "read stamp 3")
check(r["status"] == OK and r["body"] == b"$1\r\nc\r\n" and r["request_id"] == 22, f"read {r}")

# A write sent as READ is refused and never executed.
send(pkt(READ, ("SET", "k", "x"), stamp=0, rid=23))
(r,) = expect(1, "write sent as read")
check(r["status"] == OK and r["body"] == b"-ERR dalio: 'SET' is a write; send it as a write\r\n",
      f"write as read refused {r}")
check(rcli("GET", "k") == "c", "write sent as read did not execute")

# From a non-LB source (127.0.0.2): ignored.
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind(("127.0.0.2", 0))
other.settimeout(0.3)
send(pkt(WRITE, ("SET", "k", "evil"), seq=4), other)
send(pkt(PING), other)
try:
    other.recv(2048)
    fail("answer to a non-LB source")
except socket.timeout:
    pass
check(rcli("GET", "k") == "c" and rcli("GET", "__dalio:applied") == "3", "non-LB write ignored")

# Wrong shard, older epoch, garbage: dropped without an answer.
send(pkt(WRITE, ("SET", "k", "s"), seq=4, shard=4))
send(pkt(WRITE, ("SET", "k", "s"), seq=4, epoch=0))
send(b"\x00" * 10)
send(b"DLIO" + b"\x00" * 100)
send(pkt(PONG))
send(pkt(WRITE, ("SET", "k", "x" * 1500), seq=4))  # over 1472 bytes
silence("dropped datagrams")
check(rcli("GET", "k") == "c", "dropped writes not applied")

# A refused write consumes its seq with a dalio error.
send(pkt(WRITE, ("SPOP", "k"), seq=4, rid=14))
(a,) = expect(1, "refused write")
check(a["body"] == b"-ERR dalio: 'SPOP' is not deterministic across replicas\r\n", f"refusal {a}")
check(rcli("GET", "__dalio:applied") == "4", "refused write consumed seq 4")

# A key that does not match the header is refused too.
send(pkt(WRITE, ("SET", "other", "v"), seq=5, rid=15, key=b"k"))
(a,) = expect(1, "key mismatch")
check(a["body"].startswith(b"-ERR dalio: 'SET' key does not match"), f"mismatch {a}")
check(rcli("EXISTS", "other") == "0", "mismatched write not applied")

# A queued read is answered as soon as its stamp is applied.
send(pkt(READ, ("GET", "k"), stamp=6, rid=24))
silence("read stamp 6 waits", 0.02)
send(pkt(WRITE, ("SET", "k", "d"), seq=6, rid=16))
got = expect(2, "write seq 6 releases read stamp 6")
byt = {m["type"]: m for m in got}
check(byt[ACK]["seq"] == 6 and byt[READ_REPLY]["body"] == b"$1\r\nd\r\n", f"queued read {got}")

# A runtime error inside EXEC is the write's reply; the seq is consumed.
send(pkt(WRITE, ("INCR", "k"), seq=7, rid=17))
(a,) = expect(1, "INCR on a string")
check(a["body"].startswith(b"-ERR value is not an integer"), f"runtime error reply {a}")
check(rcli("GET", "__dalio:applied") == "7", "seq 7 consumed")

# A nested/array reply and a nil round-trip through the encoder.
send(pkt(WRITE, ("RPUSH", "l", "x", "y"), seq=8, rid=18))
expect(1, "rpush")
send(pkt(READ, ("LRANGE", "l", "0", "-1"), stamp=8, rid=25))
(r,) = expect(1, "lrange")
check(r["body"] == b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n", f"array reply {r}")
send(pkt(READ, ("GET", "nokey"), stamp=8, rid=26))
(r,) = expect(1, "nil")
check(r["body"] == b"$-1\r\n", f"nil reply {r}")

# A stale READ gets STALE_EPOCH once a newer epoch was adopted (PING epoch 2).
m = ping(epoch=2)
check(m["epoch"] == 2 and m["seq"] == 8, f"PONG after epoch 2 {m}")
check(rcli("GET", "__dalio:epoch") == "2", "epoch 2 persisted")
send(pkt(READ, ("GET", "k"), stamp=0, epoch=1, rid=27))
(r,) = expect(1, "stale read")
check(r["status"] == STALE_EPOCH and r["body"] == b"", f"STALE_EPOCH {r}")
send(pkt(WRITE, ("SET", "k", "old"), seq=9, epoch=1))
silence("stale write dropped")
check(rcli("GET", "k") == "d", "stale write not applied")

# Redis stalls (SIGSTOP) past the replica's 2 s Redis timeout: no ACK, the
# replica reconnects once Redis is back, and the LB's retransmission is
# applied exactly once whether or not the first copy reached Redis.
import signal
REDIS_PID = int(os.environ["REDIS_PID"])
os.kill(REDIS_PID, signal.SIGSTOP)
try:
    send(pkt(WRITE, ("INCR", "ctr"), seq=9, epoch=2, rid=19))
    silence("write while Redis is stopped", 2.5)
finally:
    os.kill(REDIS_PID, signal.SIGCONT)
for _ in range(50):
    send(pkt(PING, epoch=2, rid=8))
    m = recv(0.1)
    if m:
        break
else:
    fail("replica did not come back after Redis resumed")
while recv(0.05):
    pass
send(pkt(WRITE, ("INCR", "ctr"), seq=9, epoch=2, rid=19))
(a,) = expect(1, "retransmitted seq 9")
check(a["type"] == ACK and a["seq"] == 9 and a["status"] == OK, f"ACK after the stall {a}")
check(rcli("GET", "ctr") == "2" and rcli("GET", "__dalio:applied") == "9",
      "seq 9 applied exactly once across the stall")

# Redis refuses for its own condition (OOM under maxmemory): the write is not
# consumed and not acked; once Redis accepts writes again the retransmission
# is applied.
rcli("CONFIG", "SET", "maxmemory", "1")
try:
    send(pkt(WRITE, ("INCR", "ctr"), seq=10, epoch=2, rid=20))
    silence("write refused with OOM")
    check(rcli("GET", "__dalio:applied") == "9", "OOM write not consumed")
    m = ping(epoch=2)
    check(m["seq"] == 9, f"PONG after OOM still reports applied 9: {m}")
finally:
    rcli("CONFIG", "SET", "maxmemory", "0")
send(pkt(WRITE, ("INCR", "ctr"), seq=10, epoch=2, rid=20))
(a,) = expect(1, "seq 10 after OOM cleared")
check(a["seq"] == 10 and a["body"] == b":3\r\n", f"ACK after OOM {a}")

check(not nacks, f"no NACK once the gap closed: {nacks}")
print(f"replica_smoke: main phase: {fakelb.checks} checks passed")
PY
}

run_py
stop_replica
grep -q "received" "$WORK/replica.log" || { echo "replica_smoke: no counters on exit" >&2; exit 1; }
grep -Eq "drop_not_lb +2 " "$WORK/replica.log" || { echo "replica_smoke: drop_not_lb is not 2" >&2; cat "$WORK/replica.log" >&2; exit 1; }

# Restart: state comes back from Redis.
start_replica
PHASE=restart run_py
grep -q "applied 10, epoch 2" "$WORK/replica.log" || { echo "replica_smoke: start-up line lacks the state" >&2; exit 1; }
stop_replica
[[ -n ${DALIO_SMOKE_LOG:-} ]] && cat "$WORK/replica.log"
echo "replica_smoke: OK"
