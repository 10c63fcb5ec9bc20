#!/usr/bin/env bash
# Restarting dalio-agent under load does not interrupt traffic: while concurrent
# clients hammer both shards, the agent is SIGKILLed and restarted. The XDP and
# tc programs keep serving while it is down; the new agent re-adopts the pinned
# maps (same map ids, same epoch, sequencer and counters continue) and swaps its
# programs in atomically. Afterwards: no client errors (retries allowed), the
# histories are linearizable, the replicas agree, /metrics and `dalio-ctl
# status` show the expected state. Then a SIGUSR2 hand-over keeps the data path
# for the next agent, and SIGTERM still detaches and unpins everything.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dlrs$$"
trap 'topo_down' EXIT
topo_bringup || exit 1

CONF=$TOPO_DIR/agent.yaml
DUR=${IT_RESTART_SECONDS:-8}
PINS=$TOPO_PIN/lb0
ctl() { topo_lb_exec "$TOPO_BUILD/dalio-ctl" --config "$CONF" "$@"; }
scrape() { topo_lb_exec curl -s --max-time 2 "http://127.0.0.1:9464$1"; }
# metric NAME LABELS: the sample's value in the last scrape ($TOPO_DIR/metrics.txt).
metric() { awk -v k="$1{$2}" '$1 == k { print $2 }' "$TOPO_DIR/metrics.txt"; }
# ctl_field SHARD COLUMN: a column of the shard's row in `dalio-ctl status`
# (SHARD NAME VIP:PORT MODE STATE EPOCH NEXT_SEQ COMPLETED PENDING DIRTY OLDEST).
ctl_field() { ctl status 2>/dev/null | awk -v s="$1" -v c="$2" '$1 == s && NF == 11 { print $c }'; }
map_id() { bpftool -j map show pinned "$PINS/$1" 2>/dev/null | sed -n 's/^{"id":\([0-9]*\),.*/\1/p'; }
xdp_id() { ip -n "$(topo_ns lb)" -d link show lb0 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; }
ms() { echo $(($(date +%s%N) / 1000000)); }

MAPS=(vip_map shard_state pending_ring dirty_map client_map stats_map agent_state)
ids() {
	local m out=()
	for m in "${MAPS[@]}"; do out+=("$m=$(map_id "$m")"); done
	echo "${out[*]}"
}

echo "== before: some writes, the pinned maps"
for i in $(seq 1 10); do
	topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 SET "pre:$i" "$i" >/dev/null
done
ids_before=$(ids)
xdp_before=$(xdp_id)
epoch_before=$(ctl_field 0 6)
echo "  maps: $ids_before; xdp id $xdp_before; epoch $epoch_before"
if ! grep -qE '=( |$)' <<<"$ids_before" && [ -n "$xdp_before" ]; then it_ok "maps pinned under $PINS, XDP attached"; else it_fail "pins or XDP missing: $ids_before / '$xdp_before'"; fi

echo "== load on both shards; SIGKILL the agent after 2 s, restart it 1 s later"
for s in "${TOPO_SHARDS[@]}"; do
	topo_bg "bench$s" "$TOPO_DIR/bench-$s.out" ip netns exec "$(topo_ns cl)" \
		"$TOPO_BUILD/dalio-bench" --host "${TOPO_VIPS[$s]}" --port 7379 --clients 4 \
		--read-ratio 0.5 --keys 20 --duration "$DUR" --warmup 0 --timeout 50 --retries 40 \
		--seed $((s + 7)) --history "$TOPO_DIR/history-$s.txt"
done
sleep 2
old=$TOPO_PID_agent
seq_kill=$(ctl_field 0 7)
kill -KILL "$old"
wait "$old" 2>/dev/null
topo_forget_pid "$old"
t_kill=$(ms)
sleep 1
seq_down=$(ctl_field 0 7)
echo "  next seq of shard 0: $seq_kill at the kill, $seq_down one second later"
if [ "${seq_down:-0}" -gt "${seq_kill:-0}" ]; then it_ok "writes kept being sequenced while the agent was down"; else it_fail "no progress while the agent was down: '$seq_kill' -> '$seq_down'"; fi
it_eq "XDP program still attached while the agent is down" "$xdp_before" "$(xdp_id)"
out=$(ctl status 2>&1)
if [[ "$out" == *"is dalio-agent running?"* ]]; then it_ok "dalio-ctl status says the agent is down"; else it_fail "dalio-ctl status with the agent down: $out"; fi

t_start=$(ms)
if ! topo_start_agent shards.yaml agent2.log; then
	it_fail "restarted agent did not come up"
	it_summary
	exit 1
fi
t_up=$(ms)
echo "  restarted agent serving $((t_up - t_start)) ms after its start, $((t_up - t_kill)) ms after the kill"
sed 's/^/  | /' "$TOPO_DIR/agent2.log"
n=$(grep -c "re-adopted the live data path: epoch $epoch_before kept" "$TOPO_DIR/agent2.log")
it_eq "both shards re-adopted with their epoch" 2 "$n"
it_eq "same maps after the restart (ids)" "$ids_before" "$(ids)"
xdp_after=$(xdp_id)
if [ -n "$xdp_after" ] && [ "$xdp_after" != "$xdp_before" ] &&
	grep -q "replaced the running XDP program (id $xdp_before)" "$TOPO_DIR/agent2.log"; then
	it_ok "new XDP program $xdp_after swapped in for $xdp_before"
else
	it_fail "XDP program not replaced: before $xdp_before, after '$xdp_after'"
fi

for s in "${TOPO_SHARDS[@]}"; do
	pidvar="TOPO_PID_bench$s"
	wait "${!pidvar}"
	topo_forget_pid "${!pidvar}"
done

echo "== clients saw no errors; histories linearizable; replicas agree"
for s in "${TOPO_SHARDS[@]}"; do
	res=$(tail -1 "$TOPO_DIR/bench-$s.out")
	echo "  bench shard $s: $res"
	ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$res")
	errs=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$res")
	retries=$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' <<<"$res")
	if [ "${ops:-0}" -gt 500 ]; then it_ok "shard $s: $ops ops across the restart ($retries retries)"; else it_fail "shard $s: only '${ops:-?}' ops"; fi
	it_eq "shard $s: no client errors across the restart" 0 "${errs:-missing}"
	if out=$("$TOPO_BUILD/dalio-lincheck" "$TOPO_DIR/history-$s.txt" 2>&1); then
		it_ok "shard $s: history linearizable: $(tail -1 <<<"$out")"
	else
		it_fail "shard $s: linearizability: $(tail -5 <<<"$out")"
	fi
done
sleep 0.5
for s in "${TOPO_SHARDS[@]}"; do
	d=()
	for r in "${TOPO_REPLICAS[@]}"; do
		d+=("$(topo_exec "$r" redis-cli -p $((6379 + s)) DEBUG DIGEST)")
	done
	if [ "${d[0]}" == "${d[1]}" ] && [ "${d[1]}" == "${d[2]}" ]; then it_ok "shard $s: replica datasets identical"; else it_fail "shard $s: digests differ: ${d[*]}"; fi
done

echo "== the sequencer and counters continued (metrics, dalio-ctl)"
scrape /metrics >"$TOPO_DIR/metrics.txt"
for s in "${TOPO_SHARDS[@]}"; do
	name=$(awk -v s="$s" '$1 == s && NF == 11 { print $2 }' <(ctl status))
	l="shard=\"$s\",name=\"$name\""
	writes=$(metric dalio_requests_total "$l,kind=\"write\"")
	next=$(metric dalio_shard_next_seq "$l")
	# Every sequenced write was counted once, from the first agent's start on:
	# a sequencer or counters started afresh by the restart would break this.
	it_eq "shard $s: writes counted == next_seq - 1 (both kept across the restart)" \
		"$((${next:-0} - 1))" "${writes:-missing}"
	it_eq "shard $s: acks counted == 3 x writes" "$((3 * ${writes:-0}))" \
		"$(metric dalio_acks_total "$l,result=\"counted\"")"
	it_eq "shard $s: epoch unchanged" "$epoch_before" "$(metric dalio_shard_epoch "$l")"
	it_eq "shard $s: no pending writes left" 0 "$(metric dalio_shard_pending_writes "$l")"
	it_eq "shard $s: dirty table empty" 0 "$(metric dalio_shard_dirty_buckets "$l")"
	insync=$(grep -c "^dalio_replica_state{$l,replica=\"[0-9.:]*\",index=\"[0-9]\",state=\"in-sync\"} 1$" "$TOPO_DIR/metrics.txt")
	it_eq "shard $s: 3 replicas in-sync in the metrics" 3 "$insync"
done
for fam in dalio_reads_total dalio_acks_total dalio_drops_total dalio_refused_total \
	dalio_write_retries_total dalio_shard_failovers_total dalio_replica_applied_seq \
	dalio_replica_retransmits_total; do
	if grep -q "^# TYPE $fam " "$TOPO_DIR/metrics.txt" && grep -q "^$fam{" "$TOPO_DIR/metrics.txt"; then
		it_ok "/metrics has $fam"
	else
		it_fail "/metrics lacks $fam"
	fi
done
it_eq "HTTP 404 for an unknown path" "404" "$(topo_lb_exec curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:9464/nope)"
# raw REQUEST: the status line of the agent's answer
http_raw() { topo_lb_exec timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9464; printf "%b" "$1" >&3; head -1 <&3' _ "$1" | tr -d '\r'; }
it_eq "HTTP 405 for POST" "HTTP/1.0 405 Method Not Allowed" "$(http_raw 'POST /metrics HTTP/1.0\r\n\r\n')"
it_eq "HTTP 431 for a request over 4 KiB" "HTTP/1.0 431 Request Header Fields Too Large" \
	"$(http_raw "GET /$(head -c 6000 /dev/zero | tr '\0' a)")"

st=$(ctl status)
echo "$st" | sed 's/^/  | /'
if grep -qE '^SHARD +NAME +VIP:PORT +MODE +STATE +EPOCH +NEXT_SEQ +COMPLETED +PENDING +DIRTY +OLDEST' <<<"$st"; then it_ok "dalio-ctl status prints the table header"; else it_fail "no table header"; fi
it_eq "dalio-ctl status: replicas in-sync" 6 "$(grep -cE '^ +10\.77\.0\.1[123]:740[01] +in-sync ' <<<"$st")"
# REPLICA STATE APPLIED LAG SETS RTT_MS SEEN: every replica has applied every write
it_eq "dalio-ctl status: no replica lags after the load" 6 \
	"$(awk '$1 ~ /^10\.77\.0\.1[123]:740[01]$/ && $4 == 0 && $5 == "w,r"' <<<"$st" | wc -l)"
if [[ "$st" == *"agent: pid $TOPO_PID_agent, state saved"* ]]; then it_ok "dalio-ctl status names the running agent"; else it_fail "agent line: $(grep agent: <<<"$st")"; fi
it_eq "dalio-ctl status next seq matches the metrics (shard 1)" "$next" "$(ctl_field 1 7)"

echo "== SIGUSR2: the agent hands the data path over to the next one"
old=$TOPO_PID_agent
xdp_before=$(xdp_id)
kill -USR2 "$old"
wait "$old"
rc=$?
topo_forget_pid "$old"
it_eq "agent exit status after SIGUSR2" 75 "$rc"
it_eq "XDP still attached after the hand-over" "$xdp_before" "$(xdp_id)"
out=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 INCR handover 2>&1)
it_eq "served without an agent" "(integer) 1" "$out"
topo_start_agent shards.yaml agent3.log || it_fail "agent did not come back after the hand-over"
n=$(grep -c "re-adopted the live data path" "$TOPO_DIR/agent3.log")
it_eq "both shards re-adopted after the hand-over" 2 "$n"
it_eq "same maps after the hand-over" "$ids_before" "$(ids)"
out=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 INCR handover 2>&1)
it_eq "INCR continues after the hand-over" "(integer) 2" "$out"

echo "== SIGTERM still detaches and unpins"
topo_stop_pid "$TOPO_PID_agent"
topo_forget_pid "$TOPO_PID_agent"
grep -q "SIGTERM: detaching" "$TOPO_DIR/agent3.log" && it_ok "agent logged its detach" || it_fail "agent did not log a detach"
it_eq "no XDP program left on lb0" "" "$(xdp_id)"
filters=$(tc -n "$(topo_ns lb)" filter show dev lb0 ingress 2>/dev/null | grep -c bpf)
it_eq "no tc filter left on lb0" 0 "$filters"
if [ -e "$PINS" ]; then it_fail "pins left in $PINS: $(ls "$PINS")"; else it_ok "pin directory $PINS removed"; fi
out=$(ctl status 2>&1)
rc=$?
it_eq "dalio-ctl status exit status without maps" 1 "$rc"
if [[ "$out" == *"no Dalio maps under $PINS"*"is dalio-agent running?"* ]]; then it_ok "dalio-ctl explains the missing maps"; else it_fail "dalio-ctl said: $out"; fi

echo "== pins lost with a private bpffs ('ip netns exec'): maps found through the running program"
# `ip netns exec` mounts a fresh /sys for the agent: its pins die with it. A
# restarted agent must still find the live maps, through the attached program.
# (ip execs the agent: the PID is the agent's.)
start_ne() {
	topo_bg agent_ne "$TOPO_DIR/$1" ip netns exec "$(topo_ns lb)" "$TOPO_BUILD/dalio-agent" \
		--config "$CONF"
	for i in $(seq 1 100); do
		grep -q serving "$TOPO_DIR/$1" && return 0
		sleep 0.1
	done
	return 1
}
start_ne agent-ne1.log || it_fail "agent under ip netns exec did not come up"
topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[1]}" -p 7379 INCR ne >/dev/null
old=$TOPO_PID_agent_ne
kill -KILL "$old"
wait "$old" 2>/dev/null
topo_forget_pid "$old"
start_ne agent-ne2.log || it_fail "restarted agent under ip netns exec did not come up"
n=$(grep -c "re-adopted the live data path" "$TOPO_DIR/agent-ne2.log")
it_eq "both shards re-adopted without pins" 2 "$n"
out=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[1]}" -p 7379 INCR ne 2>&1)
it_eq "INCR continues after the restart" "(integer) 2" "$out"
topo_stop_pid "$TOPO_PID_agent_ne"
topo_forget_pid "$TOPO_PID_agent_ne"
it_eq "no XDP program left after SIGTERM" "" "$(xdp_id)"

echo "== --keep-maps: SIGTERM detaches but keeps the pins; the next agent re-adopts them"
start_km() {
	topo_bg agent_km "$TOPO_DIR/$1" nsenter --net="/run/netns/$(topo_ns lb)" \
		"$TOPO_BUILD/dalio-agent" --config "$CONF" "${@:2}"
	for i in $(seq 1 100); do
		grep -q serving "$TOPO_DIR/$1" && return 0
		sleep 0.1
	done
	return 1
}
start_km agent-km1.log --keep-maps || it_fail "agent with --keep-maps did not come up"
topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 INCR km >/dev/null
topo_stop_pid "$TOPO_PID_agent_km"
topo_forget_pid "$TOPO_PID_agent_km"
it_eq "detached after SIGTERM" "" "$(xdp_id)"
if [ -e "$PINS/shard_state" ] && [ -e "$PINS/tx_ports" ]; then it_ok "maps still pinned"; else it_fail "pins gone: $(ls "$PINS" 2>&1)"; fi
start_km agent-km2.log || it_fail "agent did not start on the kept pins: $(tail -3 "$TOPO_DIR/agent-km2.log")"
it_eq "both shards re-adopted from the pins" 2 "$(grep -c 're-adopted the live data path' "$TOPO_DIR/agent-km2.log")"
out=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 INCR km 2>&1)
it_eq "INCR continues on the kept maps" "(integer) 2" "$out"
topo_stop_pid "$TOPO_PID_agent_km"
topo_forget_pid "$TOPO_PID_agent_km"
if [ -e "$PINS" ]; then it_fail "pins left in $PINS"; else it_ok "unpinned by the last SIGTERM"; fi

it_summary
