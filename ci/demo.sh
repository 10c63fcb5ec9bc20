#!/usr/bin/env bash
# `sudo make demo`: brings up the demo topology of shards.yaml in network
# namespaces (a client, the LB running dalio-agent, three hosts each running
# redis-server + dalio-replica per shard), runs a short mixed workload through
# each shard's VIP, prints throughput and latency percentiles, checks that the
# replicas of each shard hold identical data, and tears everything down.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "the demo needs root (network namespaces, XDP): sudo make demo" >&2
	exit 1
fi
source ci/topology.sh

DURATION=${DEMO_DURATION:-5}
CLIENTS=${DEMO_CLIENTS:-4}
READ_RATIO=${DEMO_READ_RATIO:-0.8}

topo_init "dldemo$$"
trap 'topo_down' EXIT
echo "Bringing up the demo topology (prefix $TOPO_P)..."
topo_bringup || exit 1
sed 's/^/  /' "$TOPO_DIR/agent.log"

echo
echo "Workload: $CLIENTS clients, $(awk -v r="$READ_RATIO" 'BEGIN{printf "%d", r*100}')% GET / rest SET, 1000 keys, ${DURATION}s per shard"
printf '%-8s %-16s %10s %9s %9s %9s %7s\n' shard VIP "ops/s" "p50 us" "p99 us" "p99.9 us" errors
rc=0
for shard in "${TOPO_SHARDS[@]}"; do
	vip=${TOPO_VIPS[$shard]}
	res=$(topo_exec cl "$TOPO_BUILD/dalio-bench" --host "$vip" --port 7379 \
		--clients "$CLIENTS" --read-ratio "$READ_RATIO" --keys 1000 \
		--duration "$DURATION" --warmup 1 2>/dev/null | tail -1)
	get() { sed -n "s|.*$1=\([0-9.]*\).*|\1|p" <<<"$res"; }
	printf '%-8s %-16s %10s %9s %9s %9s %7s\n' "$shard" "$vip:7379" "$(get 'ops/s')" \
		"$(get p50_us)" "$(get p99_us)" "$(get p999_us)" "$(get errors)"
	[ "$(get errors)" == "0" ] || rc=1
done

echo
echo "Replica agreement (redis DEBUG DIGEST of each replica's dataset):"
for shard in "${TOPO_SHARDS[@]}"; do
	digests=()
	for r in "${TOPO_REPLICAS[@]}"; do
		digests+=("$(topo_exec "$r" redis-cli -p $((6379 + shard)) DEBUG DIGEST)")
	done
	keys=$(topo_exec r1 redis-cli -p $((6379 + shard)) DBSIZE)
	if [ "$(printf '%s\n' "${digests[@]}" | sort -u | wc -l)" -eq 1 ]; then
		echo "  shard $shard: all ${#digests[@]} replicas identical ($keys keys, digest ${digests[0]:0:12}...)"
	else
		echo "  shard $shard: REPLICAS DIFFER: ${digests[*]}"
		rc=1
	fi
done
echo
[ $rc -eq 0 ] && echo "Demo OK." || echo "Demo FAILED."
exit $rc
