#!/usr/bin/env bash
# Replica failure and rejoin under load (issue #4, docs/membership.md).
# Mixed reads/writes on shard 0 while replica r3 (its redis-server and
# dalio-replica) is SIGKILLed, then restarted empty. Checks: the agent
# declares it failed within its budget, writes never stall for more than 1 s,
# clients see no errors (retries only), the history is linearizable, r3 comes
# back through a full copy plus the tail and ends with the same dataset as the
# survivors, and every key reads the same through the VIP and on each replica.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dlfo$$"
trap 'topo_down' EXIT
topo_bringup || exit 1

vip=${TOPO_VIPS[0]}
keys=16
secs=${IT_FAILOVER_SECONDS:-12}
hist="$TOPO_DIR/history.txt"
bench_out="$TOPO_DIR/bench.out"

echo "== load on shard 0; SIGKILL r3 at 3 s, restart it at 6 s"
topo_exec cl "$TOPO_BUILD/dalio-bench" --host "$vip" --port 7379 --clients 4 --read-ratio 0.5 \
	--keys "$keys" --duration "$secs" --warmup 0 --timeout 100 --retries 40 \
	--history "$hist" >"$bench_out" 2>&1 &
bench=$!
sleep 3
kill -KILL "$TOPO_PID_replica_r3_0" "$TOPO_PID_redis_r3_0"
wait "$TOPO_PID_replica_r3_0" "$TOPO_PID_redis_r3_0" 2>/dev/null
sleep 3
topo_start_replica r3 0 2 || it_fail "r3 did not restart"
wait "$bench"
res=$(tail -1 "$bench_out")
echo "  bench: $res"

fail_line=$(grep -m1 "replica 10.77.0.13:7400 silent for" "$TOPO_DIR/agent.log")
if [ -n "$fail_line" ]; then
	detect=$(sed -n 's/.*silent for \([0-9]*\) ms.*/\1/p' <<<"$fail_line")
	if [ "$detect" -le 500 ]; then
		it_ok "r3 declared failed after $detect ms of silence (budget 500)"
	else
		it_fail "detection took $detect ms"
	fi
else
	it_fail "agent never declared r3 failed: $(tail -5 "$TOPO_DIR/agent.log")"
fi

# Longest time no write completed, over the whole run (includes the failover).
gap=$(awk '$2 == "w" && $8 == "ok" { print $7 }' "$hist" | sort -n |
	awk 'NR > 1 && $1 - prev > max { max = $1 - prev } { prev = $1 } END { printf "%d", max / 1e6 }')
if [ "${gap:-99999}" -le 1000 ]; then
	it_ok "longest write stall ${gap} ms (at most 1000)"
else
	it_fail "writes stalled for ${gap} ms"
fi

ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$res")
errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$res")
it_eq "no client-visible errors (retries allowed)" 0 "${errors:-?}"
if [ "${ops:-0}" -gt 1000 ]; then it_ok "$ops ops completed"; else it_fail "only '${ops:-?}' ops"; fi
if out=$("$TOPO_BUILD/dalio-lincheck" "$hist" 2>&1); then
	it_ok "history linearizable: $(tail -1 <<<"$out")"
else
	it_fail "linearizability: $(tail -8 <<<"$out")"
fi

echo "== r3 rejoins"
caught=""
for _ in $(seq 1 100); do
	caught=$(grep -m1 "replica 10.77.0.13:7400 caught up" "$TOPO_DIR/agent.log")
	[ -n "$caught" ] && break
	sleep 0.2
done
if [ -n "$caught" ]; then
	it_ok "r3 back in the sets: ${caught#*caught up }"
else
	it_fail "r3 did not catch up: $(grep 10.77.0.13 "$TOPO_DIR/agent.log" | tail -5)"
fi
grep -q "SYNC .* done" "$TOPO_DIR/replica-r3-0.log" &&
	it_ok "r3 caught up through a full copy (SYNC)" ||
	it_fail "no SYNC done in r3's log: $(tail -5 "$TOPO_DIR/replica-r3-0.log")"

# A few writes after the rejoin must reach r3 too (it is in the write set).
for i in 1 2 3; do
	topo_exec cl "$TOPO_BUILD/dalio-cli" -h "$vip" -p 7379 SET after-rejoin "$i" >/dev/null
done
sleep 0.5
it_eq "a write after the rejoin is on r3" 3 "$(topo_exec r3 redis-cli -p 6379 GET after-rejoin)"
it_digests_equal
it_keys_agree "$vip" "$keys"

it_summary
