#!/usr/bin/env bash
# Multi-homed LB with devmap broadcast fan-out (lb.fanout: devmap), in network
# namespaces: the client on lb0, each replica host on its own link (lb1-lb3).
# Writes acknowledged through each VIP are on all three replicas; reads return
# the last acknowledged value; a concurrent history is linearizable; the LB's
# counters show every copy was made by the devmap egress program and none by
# tc. Then the same topology with lb.fanout: tc (copies cloned out of each
# replica's own interface), and a devmap config with two replicas of a shard
# behind one interface is refused with file:line:col.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dldm$$"
trap 'topo_down' EXIT
topo_up_multihomed || exit 1
topo_start_replicas || exit 1
topo_mh_config devmap "$TOPO_DIR/devmap.yaml"
topo_mh_config tc "$TOPO_DIR/tc.yaml"
topo_start_agent "$TOPO_DIR/devmap.yaml" || exit 1

N=${IT_WRITES:-30}
cli() { topo_exec cl "$TOPO_BUILD/dalio-cli" -h "$1" -p 7379 "${@:2}"; }
rcli() { topo_exec "$1" redis-cli --no-raw -p "$2" "${@:3}"; }

echo "== the data path is on every LB interface, the devmap holds the replica-facing ones"
grep -q "multi-homed: replicas reached through lb1 lb2 lb3; devmap fan-out" "$TOPO_DIR/agent.log" &&
	it_ok "agent found lb1 lb2 lb3 from the routes" || it_fail "agent log: $(cat "$TOPO_DIR/agent.log")"
for ifc in lb0 lb1 lb2 lb3; do
	it_eq "XDP dalio_lb on $ifc" 1 "$(ip -n "$(topo_ns lb)" -d link show "$ifc" | grep -c 'prog/xdp.*name dalio_lb')"
done
it_eq "no tc fan-out attached in devmap mode" 0 \
	"$(tc -n "$(topo_ns lb)" filter show dev lb0 ingress 2>/dev/null | grep -c bpf)"
ports=$(bpftool -j map dump pinned "$TOPO_PIN/lb0/tx_ports" |
	python3 -c 'import json,sys; print(" ".join(sorted(str(int("".join(reversed([b[2:] for b in e["value"][:4]])), 16)) for e in json.load(sys.stdin))))')
want=$(for ifc in lb1 lb2 lb3; do topo_exec lb cat "/sys/class/net/$ifc/ifindex"; done | sort | xargs)
it_eq "tx_ports holds exactly lb1 lb2 lb3" "$want" "$ports"

echo "== sequential writes through each VIP"
for shard in 0 1; do
	vip=${TOPO_VIPS[$shard]}
	acked=0
	for i in $(seq 1 "$N"); do
		[ "$(cli "$vip" SET "k:$shard:$i" "v-$shard-$i" 2>&1)" == "OK" ] && acked=$((acked + 1))
	done
	it_eq "shard $shard: $N SETs acknowledged" "$N" "$acked"
	for i in $(seq 1 10); do
		out=$(cli "$vip" INCR "ctr:$shard" 2>&1)
	done
	it_eq "shard $shard: 10th INCR returns 10" "(integer) 10" "$out"
	writes=$(topo_lb_stat "$shard" WRITES)
	it_eq "shard $shard: writes sequenced" $((N + 10)) "$writes"
	it_eq "shard $shard: devmap egress made 3 copies per write" $((3 * writes)) \
		"$(topo_lb_stat "$shard" DEVMAP_COPIES)"
	it_eq "shard $shard: no broadcast copy lacked its replica" 0 "$(topo_lb_stat "$shard" DEVMAP_SKIPPED)"
	it_eq "shard $shard: tc made no copy" 0 "$(topo_lb_stat "$shard" FANOUT_COPIES)"
done

echo "== every acknowledged write is on every replica of its shard"
for shard in 0 1; do
	keys=() want=()
	for i in $(seq 1 "$N"); do
		keys+=("k:$shard:$i")
		want+=("\"v-$shard-$i\"")
	done
	for r in "${TOPO_REPLICAS[@]}"; do
		got=$(rcli "$r" $((6379 + shard)) MGET "${keys[@]}" | sed "s/^ *[0-9]*) //")
		it_eq "shard $shard on $r holds all $N values" "$(printf '%s\n' "${want[@]}")" "$got"
		it_eq "shard $shard on $r counter" '"10"' "$(rcli "$r" $((6379 + shard)) GET "ctr:$shard")"
	done
done

echo "== reads through the VIP return the last acknowledged value"
for shard in 0 1; do
	vip=${TOPO_VIPS[$shard]}
	for round in 1 2 3; do
		cli "$vip" SET hot "round-$round" >/dev/null
		bad=0
		for j in $(seq 1 6); do # two passes of the round robin over the three links
			[ "$(cli "$vip" GET hot)" == "\"round-$round\"" ] || bad=$((bad + 1))
		done
		it_eq "shard $shard round $round: 6 GETs see round-$round" 0 "$bad"
	done
done
out=$(topo_exec cl ping -c 1 -W 2 "${TOPO_VIPS[0]}" >/dev/null 2>&1 && echo up)
it_eq "non-Dalio traffic (ICMP to the VIP) passes the LB" up "$out"

# bench_check SHARD MODE: a short concurrent run with history, then agreement and lincheck.
bench_check() {
	local shard=$1 mode=$2 vip res ops errs d1 d2 d3 out
	vip=${TOPO_VIPS[$shard]}
	res=$(topo_exec cl "$TOPO_BUILD/dalio-bench" --host "$vip" --port 7379 --clients 4 \
		--read-ratio 0.5 --keys 20 --duration 2 --warmup 0 \
		--history "$TOPO_DIR/history-$mode-$shard.txt" 2>/dev/null | tail -1)
	echo "  bench $mode shard $shard: $res"
	ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$res")
	errs=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$res")
	if [ "${ops:-0}" -gt 100 ]; then it_ok "$mode shard $shard: $ops ops under load"; else it_fail "$mode shard $shard: only '${ops:-?}' ops"; fi
	it_eq "$mode shard $shard: no client errors under load" 0 "${errs:-missing}"
	# Nothing is lost on these links: a retry is a 200 ms stall, i.e. a lost
	# copy or reply (mixing devmap and plain redirects in one NAPI poll made
	# 20-35 per run).
	it_eq "$mode shard $shard: no client retries" 0 "$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' <<<"$res")"
	d1=$(rcli r1 $((6379 + shard)) DEBUG DIGEST)
	d2=$(rcli r2 $((6379 + shard)) DEBUG DIGEST)
	d3=$(rcli r3 $((6379 + shard)) DEBUG DIGEST)
	if [ "$d1" == "$d2" ] && [ "$d2" == "$d3" ]; then it_ok "$mode shard $shard: replica datasets identical"; else it_fail "$mode shard $shard: digests differ: $d1 $d2 $d3"; fi
	if out=$("$TOPO_BUILD/dalio-lincheck" "$TOPO_DIR/history-$mode-$shard.txt" 2>&1); then
		it_ok "$mode shard $shard: history linearizable: $(tail -1 <<<"$out")"
	else
		it_fail "$mode shard $shard: linearizability checker: $(tail -5 <<<"$out")"
	fi
}

# The histories start from an empty register per key, so each bench gets keys
# no earlier bench wrote: devmap on shard 1 now, tc on shard 0 below.
echo "== concurrent load through the devmap path"
for shard in 1; do
	bench_check "$shard" devmap
	writes=$(topo_lb_stat "$shard" WRITES)
	copies=$(topo_lb_stat "$shard" DEVMAP_COPIES)
	if [ "$copies" -ge $((3 * writes)) ] && [ "$writes" -gt $((N + 10)) ]; then
		it_ok "shard $shard: $copies devmap copies for $writes writes"
	else
		it_fail "shard $shard: $copies devmap copies for $writes writes"
	fi
	it_eq "shard $shard: still no tc copy" 0 "$(topo_lb_stat "$shard" FANOUT_COPIES)"
done

echo "== SIGKILL and restart: the new agent re-adopts the data path on every interface"
old=$TOPO_PID_agent
ids_before=$(for ifc in lb0 lb1 lb2 lb3; do ip -n "$(topo_ns lb)" -d link show "$ifc" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; done | xargs)
writes_before=$(topo_lb_stat 0 WRITES)
kill -KILL "$old"
wait "$old" 2>/dev/null
topo_forget_pid "$old"
it_eq "SET served while the agent is down" OK "$(cli "${TOPO_VIPS[0]}" SET down 1 2>&1)"
topo_start_agent "$TOPO_DIR/devmap.yaml" agent-restart.log || exit 1
it_eq "both shards re-adopted" 2 "$(grep -c 're-adopted the live data path' "$TOPO_DIR/agent-restart.log")"
ids_after=$(for ifc in lb0 lb1 lb2 lb3; do ip -n "$(topo_ns lb)" -d link show "$ifc" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; done | xargs)
n_new=0
for id in $ids_after; do [[ " $ids_before " == *" $id "* ]] || n_new=$((n_new + 1)); done
it_eq "a new dalio_lb swapped in on each of lb0-lb3 (was: $ids_before)" 4 "$n_new"
it_eq "SET served after the restart" OK "$(cli "${TOPO_VIPS[0]}" SET up 2 2>&1)"
it_eq "counters continued (2 more writes on shard 0)" "$((writes_before + 2))" "$(topo_lb_stat 0 WRITES)"
for r in "${TOPO_REPLICAS[@]}"; do
	it_eq "write after the restart on $r" '"2"' "$(rcli "$r" 6379 GET up)"
done

echo "== the agent detaches from every interface on SIGTERM"
topo_stop_agent
for ifc in lb0 lb1 lb2 lb3; do
	it_eq "no XDP program left on $ifc" 0 "$(ip -n "$(topo_ns lb)" -d link show "$ifc" | grep -c prog/xdp)"
done

echo "== the same topology with lb.fanout: tc (clones out of each replica's interface)"
topo_start_agent "$TOPO_DIR/tc.yaml" || exit 1
grep -q "multi-homed: replicas reached through lb1 lb2 lb3; tc fan-out" "$TOPO_DIR/agent.log" &&
	it_ok "agent in tc mode on lb0-lb3" || it_fail "agent log: $(cat "$TOPO_DIR/agent.log")"
acked=0
for i in $(seq 1 10); do
	[ "$(cli "${TOPO_VIPS[0]}" SET "t:$i" "tc-$i" 2>&1)" == "OK" ] && acked=$((acked + 1))
done
it_eq "tc mode: 10 SETs acknowledged" 10 "$acked"
for r in "${TOPO_REPLICAS[@]}"; do
	it_eq "tc mode: t:10 on $r" '"tc-10"' "$(rcli "$r" 6379 GET t:10)"
done
it_eq "tc mode: 3 tc copies per write" 30 "$(topo_lb_stat 0 FANOUT_COPIES)"
it_eq "tc mode: no devmap copy" 0 "$(topo_lb_stat 0 DEVMAP_COPIES)"
bench_check 0 tc
topo_stop_agent

echo "== devmap refuses two replicas of one shard behind one interface"
cat >"$TOPO_DIR/shared.yaml" <<EOF
lb:
  interface: lb0
  fanout: devmap
shards:
  - id: 0
    vip: ${TOPO_VIPS[0]}
    port: 7379
    replicas:
      - $TOPO_MH_SUBNET.1.2:7400
      - $TOPO_MH_SUBNET.1.3:7400
EOF
out=$(topo_exec lb "$TOPO_BUILD/dalio-agent" --config "$TOPO_DIR/shared.yaml" --wait 0 2>&1)
rc=$?
it_eq "agent exit status" 1 "$rc"
want="$TOPO_DIR/shared.yaml:10:9: shards[0].replicas[1]: $TOPO_MH_SUBNET.1.3:7400 is reached through lb1 like shards[0].replicas[0]"
if [[ "$out" == *"$want"* ]]; then it_ok "refusal names file:line:col, the field and the interface"; else it_fail "agent said: $out"; fi
it_eq "nothing attached after the refusal" 0 "$(ip -n "$(topo_ns lb)" -d link show | grep -c prog/xdp)"

it_summary
