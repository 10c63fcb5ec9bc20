#!/usr/bin/env bash
# dalio-ulb (the user-space coordinator, the benchmarks' baseline) on the demo
# topology instead of dalio-agent: SET/GET through the VIP, every replica holds
# the acked writes, a short concurrent history through it is linearizable,
# and INCRs through lossy links are applied exactly once.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dlulb$$"
trap 'topo_down' EXIT
topo_bringup_ulb || exit 1
vip=${TOPO_VIPS[0]}
cli() { topo_exec cl "$TOPO_BUILD/dalio-cli" -h "$vip" -p 7379 "$@" 2>&1; }

echo "== SET/GET through dalio-ulb"
it_eq "SET answered" "OK" "$(cli SET ulbkey hello)"
it_eq "GET sees it" '"hello"' "$(cli GET ulbkey)"
it_eq "INCR" "(integer) 1" "$(cli INCR ulbctr)"
it_eq "INCR again" "(integer) 2" "$(cli INCR ulbctr)"
it_eq "second shard" "OK" "$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[1]}" -p 7379 SET s1 x 2>&1)"
for r in "${TOPO_REPLICAS[@]}"; do
	it_eq "$r holds the acked write" "hello 2" \
		"$(topo_exec "$r" redis-cli -p 6379 GET ulbkey) $(topo_exec "$r" redis-cli -p 6379 GET ulbctr)"
done

echo "== concurrent history through dalio-ulb"
hist="$TOPO_DIR/history.txt"
res=$(topo_exec cl "$TOPO_BUILD/dalio-bench" --host "$vip" --port 7379 --clients 6 \
	--read-ratio 0.5 --keys 10 --duration "${IT_ULB_SECONDS:-2}" --warmup 0 \
	--history "$hist" 2>/dev/null | tail -1)
echo "  bench: $res"
ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$res")
errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$res")
if [ "${ops:-0}" -gt 500 ]; then it_ok "$ops ops completed"; else it_fail "only '${ops:-?}' ops"; fi
it_eq "no errors" "0" "${errors:-?}"
if out=$("$TOPO_BUILD/dalio-lincheck" "$hist" 2>&1); then
	it_ok "history linearizable: $(tail -1 <<<"$out")"
else
	it_fail "linearizability: $(tail -8 <<<"$out")"
fi
d=()
for r in "${TOPO_REPLICAS[@]}"; do
	d+=("$(topo_exec "$r" redis-cli -p 6379 DEBUG DIGEST)")
done
if [ "${d[0]}" == "${d[1]}" ] && [ "${d[1]}" == "${d[2]}" ]; then it_ok "replica datasets identical"; else it_fail "digests differ: ${d[*]}"; fi

echo "== exactly-once INCRs with 10% loss on the client's and r3's links"
topo_fault cl fault_drop10.bpf.o
topo_fault r3 fault_drop10.bpf.o
got=()
want=()
for i in $(seq 1 20); do
	got+=("$(cli --timeout 50 --retries 30 INCR lossctr)")
	want+=("(integer) $i")
done
it_eq "each INCR applied once" "${want[*]}" "${got[*]}"
sleep 0.5
d=()
for r in "${TOPO_REPLICAS[@]}"; do
	d+=("$(topo_exec "$r" redis-cli -p 6379 GET lossctr)")
done
it_eq "every replica counted 20" "20 20 20" "${d[*]}"
it_summary
