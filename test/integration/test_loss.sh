#!/usr/bin/env bash
# Loss between the LB and one replica, and on the client's link: 10% of Dalio
# datagrams dropped each way on r3's link and on the client's link, while
# concurrent clients hammer 10 hot keys. Lost WRITE copies and lost ACKs are
# repaired by client retries (re-sent to the unacked replicas with the original
# seq). Afterwards: the whole history is linearizable, the replicas' datasets
# are identical, and sequential INCRs are each applied exactly once.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dlloss$$"
trap 'topo_down' EXIT
topo_bringup || exit 1

topo_fault cl fault_drop10.bpf.o
topo_fault r3 fault_drop10.bpf.o

echo "== concurrent load through lossy links"
hist="$TOPO_DIR/history.txt"
res=$(topo_exec cl "$TOPO_BUILD/dalio-bench" --host "${TOPO_VIPS[0]}" --port 7379 --clients 6 \
	--read-ratio 0.5 --keys 10 --duration "${IT_LOSS_SECONDS:-4}" --warmup 0 --timeout 50 \
	--retries 30 --history "$hist" 2>/dev/null | tail -1)
echo "  bench: $res"
ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$res")
retries=$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' <<<"$res")
if [ "${ops:-0}" -gt 200 ]; then it_ok "$ops ops completed under loss"; else it_fail "only '${ops:-?}' ops"; fi
if [ "${retries:-0}" -gt 0 ]; then it_ok "loss forced $retries retries"; else it_fail "no retries: is the fault injector attached?"; fi
if out=$("$TOPO_BUILD/dalio-lincheck" "$hist" 2>&1); then
	it_ok "history linearizable: $(tail -1 <<<"$out")"
else
	it_fail "linearizability: $(tail -8 <<<"$out")"
fi

echo "== sequential INCRs through the same loss"
got=()
want=()
for i in $(seq 1 20); do
	got+=("$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 --timeout 50 \
		--retries 30 INCR lossctr 2>&1)")
	want+=("(integer) $i")
done
it_eq "each INCR applied once" "${want[*]}" "${got[*]}"

# Let in-flight repairs settle, then compare the replicas.
sleep 1
d=()
for r in "${TOPO_REPLICAS[@]}"; do
	d+=("$(topo_exec "$r" redis-cli -p 6379 DEBUG DIGEST)")
done
if [ "${d[0]}" == "${d[1]}" ] && [ "${d[1]}" == "${d[2]}" ]; then it_ok "replica datasets identical"; else it_fail "digests differ: ${d[*]}"; fi

it_summary
