#!/usr/bin/env bash
# Exactly-once writes end to end: the client's link loses 40% of Dalio
# datagrams in each direction (requests and replies), so clients retry; every
# INCR must be applied exactly once (each answered with the next integer, the
# counter on every replica equal to the number of INCRs), and the LB's
# replay path (retry of a completed write) must have been exercised.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dleo$$"
trap 'topo_down' EXIT
topo_bringup || exit 1

N=${IT_INCRS:-40}
topo_fault cl fault_drop.bpf.o

echo "== $N INCRs through a link losing 40% each way"
got=()
for i in $(seq 1 "$N"); do
	got+=("$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[0]}" -p 7379 \
		--timeout 100 --retries 25 INCR eo 2>&1)")
done
want=()
for i in $(seq 1 "$N"); do want+=("(integer) $i"); done
it_eq "each INCR answered once with the next value" "${want[*]}" "${got[*]}"
for r in "${TOPO_REPLICAS[@]}"; do
	it_eq "counter on $r" "\"$N\"" "$(topo_exec "$r" redis-cli --no-raw -p 6379 GET eo)"
done

# The replicas print their counters on SIGUSR1.
replays=0
for r in "${TOPO_REPLICAS[@]}"; do
	pidvar="TOPO_PID_replica_${r}_0"
	kill -USR1 "${!pidvar}"
done
sleep 0.5
for r in "${TOPO_REPLICAS[@]}"; do
	n=$(awk '$1 == "replays" { v = $2 } END { print v }' "$TOPO_DIR/replica-$r-0.log")
	replays=$((replays + ${n:-0}))
done
if [ "$replays" -gt 0 ]; then it_ok "lost replies were replayed ($replays replays)"; else it_fail "no replay happened (is the fault injector attached?)"; fi

it_summary
