#!/usr/bin/env bash
# End to end in network namespaces (pb mode): client -> VIP -> XDP/tc on the
# LB -> three real redis-server replicas behind dalio-replica, two shards.
# Every write the client saw acknowledged must be on all three replicas of its
# shard; reads through the VIP return the last acknowledged value; the shards
# are independent; the replicas' datasets are identical after a concurrent load.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dlit$$"
trap 'topo_down' EXIT
topo_bringup || exit 1

N=${IT_WRITES:-40}
cli() { topo_exec cl "$TOPO_BUILD/dalio-cli" -h "$1" -p 7379 "${@:2}"; }
rcli() { topo_exec "$1" redis-cli --no-raw -p "$2" "${@:3}"; }

echo "== sequential writes through each VIP"
for shard in 0 1; do
	vip=${TOPO_VIPS[$shard]}
	acked=0
	for i in $(seq 1 "$N"); do
		out=$(cli "$vip" SET "k:$shard:$i" "v-$shard-$i" 2>&1)
		[ "$out" == "OK" ] && acked=$((acked + 1))
	done
	it_eq "shard $shard: $N SETs acknowledged" "$N" "$acked"
	for i in $(seq 1 10); do
		out=$(cli "$vip" INCR "ctr:$shard" 2>&1)
	done
	it_eq "shard $shard: 10th INCR returns 10" "(integer) 10" "$out"
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
		other=$(rcli "$r" $((6379 + 1 - shard)) EXISTS "k:$shard:1")
		it_eq "shard $shard's key absent from the other shard on $r" "(integer) 0" "$other"
	done
done

echo "== reads through the VIP return the last acknowledged value"
for shard in 0 1; do
	vip=${TOPO_VIPS[$shard]}
	for round in 1 2 3; do
		cli "$vip" SET hot "round-$round" >/dev/null
		bad=0
		for j in $(seq 1 6); do # more than one pass of the round robin
			[ "$(cli "$vip" GET hot)" == "\"round-$round\"" ] || bad=$((bad + 1))
		done
		it_eq "shard $shard round $round: 6 GETs see round-$round" 0 "$bad"
	done
	it_eq "shard $shard: GET of a missing key" "(nil)" "$(cli "$vip" GET nosuchkey)"
done

echo "== bad input gets a clear error and changes nothing"
out=$(cli "${TOPO_VIPS[0]}" SPOP s 2>&1)
if [[ "$out" == *SPOP* && "$out" == *deterministic* ]]; then it_ok "SPOP refused naming the command"; else it_fail "SPOP: $out"; fi
out=$(cli "${TOPO_VIPS[0]}" MSET a 1 b 2 2>&1)
if [[ "$out" == *MSET* ]]; then it_ok "MSET refused naming the command"; else it_fail "MSET: $out"; fi
big=$(head -c 2000 /dev/zero | tr '\0' x)
out=$(cli "${TOPO_VIPS[0]}" SET big "$big" 2>&1)
if [[ "$out" == *"does not fit"* ]]; then it_ok "oversized request refused by the client"; else it_fail "oversize: $out"; fi
it_eq "oversized key never reached a replica" "(integer) 0" "$(rcli r1 6379 EXISTS big)"
out=$(topo_exec cl ping -c 1 -W 2 "${TOPO_VIPS[0]}" >/dev/null 2>&1 && echo up)
it_eq "non-Dalio traffic (ICMP to the VIP) passes the LB" up "$out"

echo "== concurrent load, then the replicas agree"
for shard in 0 1; do
	vip=${TOPO_VIPS[$shard]}
	res=$(topo_exec cl "$TOPO_BUILD/dalio-bench" --host "$vip" --port 7379 --clients 4 \
		--read-ratio 0.5 --keys 20 --duration 2 --warmup 0 \
		--history "$TOPO_DIR/history-$shard.txt" 2>/dev/null | tail -1)
	echo "  bench shard $shard: $res"
	ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$res")
	errs=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$res")
	if [ "${ops:-0}" -gt 100 ]; then it_ok "shard $shard: $ops ops under load"; else it_fail "shard $shard: only '${ops:-?}' ops"; fi
	it_eq "shard $shard: no client errors under load" 0 "${errs:-missing}"
	d1=$(rcli r1 $((6379 + shard)) DEBUG DIGEST)
	d2=$(rcli r2 $((6379 + shard)) DEBUG DIGEST)
	d3=$(rcli r3 $((6379 + shard)) DEBUG DIGEST)
	if [ "$d1" == "$d2" ] && [ "$d2" == "$d3" ]; then it_ok "shard $shard: replica datasets identical ($d1)"; else it_fail "shard $shard: digests differ: $d1 $d2 $d3"; fi
	if [ -x "$TOPO_BUILD/dalio-lincheck" ]; then
		if out=$("$TOPO_BUILD/dalio-lincheck" "$TOPO_DIR/history-$shard.txt" 2>&1); then
			it_ok "shard $shard: history linearizable: $(tail -1 <<<"$out")"
		else
			it_fail "shard $shard: linearizability checker: $(tail -5 <<<"$out")"
		fi
	fi
done

echo "== the agent detaches cleanly on SIGTERM"
topo_stop_pid "$TOPO_PID_agent"
grep -q "SIGTERM: detaching" "$TOPO_DIR/agent.log" && it_ok "agent logged its detach" || it_fail "agent did not log a detach"
xdp=$(ip -n "$(topo_ns lb)" -d link show lb0 | grep -c "prog/xdp")
it_eq "no XDP program left on lb0" 0 "$xdp"
filters=$(tc -n "$(topo_ns lb)" filter show dev lb0 ingress 2>/dev/null | grep -c bpf)
it_eq "no tc filter left on lb0" 0 "$filters"
if [ -e "$TOPO_PIN/lb0" ]; then it_fail "pins left in $TOPO_PIN/lb0"; else it_ok "maps unpinned"; fi
out=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 --timeout 100 --retries 1 GET k:0:1 2>&1)
if [[ "$out" == *"no reply"* || "$out" == *"refused"* ]]; then it_ok "VIP no longer served after detach"; else it_fail "after detach: $out"; fi

echo "== a bad config is refused with file, line and field"
out=$("$TOPO_BUILD/dalio-agent" --config test/unit/configs/bad-port.yaml 2>&1)
rc=$?
it_eq "agent exit status on a bad config" 2 "$rc"
if [[ "$out" == *"bad-port.yaml:9:11: shards[1].port"* ]]; then it_ok "agent names file:line:col and field"; else it_fail "agent said: $out"; fi

it_summary
