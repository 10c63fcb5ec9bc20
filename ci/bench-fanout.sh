#!/usr/bin/env bash
# Compares tc fan-out with devmap fan-out on the multi-homed topology (as root):
# one topology and one set of replicas, the agent restarted in each mode in
# turn, ROUNDS rounds alternating tc/devmap, dalio-bench with 100% writes.
# The LB's interfaces use threaded NAPI, so the LB's data-path work (XDP, tc,
# devmap egress, veth transmit) runs in its napi/lb* kthreads: besides the
# client's ops/s, the CPU time of those threads per write is reported.
# Prints each run, the median per mode and the devmap/tc ratios.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (network namespaces, XDP)" >&2
	exit 1
fi
source ci/topology.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-4}

topo_init "dlbf$$"
trap 'topo_down' EXIT
topo_up_multihomed >/dev/null || exit 1
# Threaded NAPI on the LB's interfaces (a veth has NAPI with GRO or XDP on).
# Other runs on this host may have threads of the same names: ours are the
# napi/lb* threads that appear here.
napi_pids() { ps -e -o pid=,comm= | awk '$2 ~ /^napi\/lb[0-3]-/ {print $1}' | sort; }
before=$(napi_pids)
for ifc in lb0 lb1 lb2 lb3; do
	topo_exec lb ethtool -K "$ifc" gro on >/dev/null
	topo_exec lb sh -c "echo 1 > /sys/class/net/$ifc/threaded" || exit 1
done
NAPI_PIDS=$(comm -13 <(echo "$before") <(napi_pids) | xargs)
topo_start_replicas || exit 1
topo_mh_config tc "$TOPO_DIR/tc.yaml"
topo_mh_config devmap "$TOPO_DIR/devmap.yaml"

# CPU ticks (user + system) of our four NAPI kthreads, "?" if they are not four.
napi_ticks() {
	local p
	if [ "$(wc -w <<<"$NAPI_PIDS")" -ne 4 ]; then
		echo "?"
		return
	fi
	for p in $NAPI_PIDS; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'
}

declare -A OPS CPU
hz=$(getconf CLK_TCK)
echo "fan-out  round  ops/s     p50_us  p99_us  errors  copies/write  LB us/write"
for round in $(seq 1 "$ROUNDS"); do
	for mode in tc devmap; do
		topo_start_agent "$TOPO_DIR/$mode.yaml" || exit 1
		w0=$(topo_lb_stat 0 WRITES)
		t0=$(napi_ticks)
		res=$(topo_exec cl "$TOPO_BUILD/dalio-bench" --host "${TOPO_VIPS[0]}" --port 7379 \
			--clients "$CLIENTS" --read-ratio 0 --keys 1000 --duration "$DURATION" \
			--warmup 0 2>/dev/null | tail -1)
		t1=$(napi_ticks)
		w=$(($(topo_lb_stat 0 WRITES) - w0))
		c=$(($(topo_lb_stat 0 FANOUT_COPIES) + $(topo_lb_stat 0 DEVMAP_COPIES)))
		ops=$(sed -n 's|.*ops/s=\([0-9.]*\).*|\1|p' <<<"$res")
		p50=$(sed -n 's|.*p50_us=\([0-9]*\).*|\1|p' <<<"$res")
		p99=$(sed -n 's|.*p99_us=\([0-9]*\).*|\1|p' <<<"$res")
		errs=$(sed -n 's|.*errors=\([0-9]*\).*|\1|p' <<<"$res")
		cpw=$(awk -v c="$c" -v w="$(topo_lb_stat 0 WRITES)" 'BEGIN {printf "%.2f", w ? c / w : 0}')
		usw="?"
		if [ "$t0" != "?" ] && [ "$t1" != "?" ] && [ "$w" -gt 0 ]; then
			usw=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v w="$w" 'BEGIN {printf "%.2f", t / hz * 1e6 / w}')
		fi
		printf '%-8s %5s  %-9s %6s  %6s  %6s  %12s  %11s\n' "$mode" "$round" "$ops" "$p50" \
			"$p99" "$errs" "$cpw" "$usw"
		OPS[$mode]+="$ops "
		CPU[$mode]+="$usw "
		topo_stop_agent
	done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^?*$' | sort -g | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : "?")}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "?"}'; }
ot=$(median "${OPS[tc]}")
od=$(median "${OPS[devmap]}")
ct=$(median "${CPU[tc]}")
cd_=$(median "${CPU[devmap]}")
echo "median ops/s: tc $ot, devmap $od, devmap/tc $(ratio "$od" "$ot")"
echo "median LB us/write: tc $ct, devmap $cd_, devmap/tc $(ratio "$cd_" "$ct")"
