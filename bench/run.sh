#!/usr/bin/env bash
# `sudo make bench`: Dalio (pb) against the same coordinator in user space
# (dalio-ulb), Redis's own replication (REPLICAOF + WAIT) and a bare XDP_TX
# reflector (the ceiling for one pass through the LB), on the netns topology
# of ci/topology.sh, all driven by dalio-bench. Writes bench/results/latest.md,
# the raw data and PNG plots, and prints the ratio lines last.
#
# Methodology (shared/BRIEF.md): the LB's interface runs threaded NAPI and its
# NAPI thread (plus dalio-ulb's thread) is pinned to its own core (LB_CPU);
# clients, replicas, Redis and the bridge's NAPI thread share the other core.
# Checksum offload is off on the hosts' veths (topology), every run has a
# warm-up, and the systems are run in alternation (the order rotates every
# run) so the noise of a shared machine hits all of them alike. Bounded: every
# run has a fixed duration, the whole matrix has a time budget.
#
# Knobs (environment): BENCH_DURATION (s, default 4), BENCH_WARMUP (1),
# BENCH_REPS (3), BENCH_CLIENTS (16), BENCH_KEYS (10000), BENCH_VALUE (64),
# BENCH_RATIOS ("0 0.5 0.95 1"), BENCH_REPLICAS ("3 1 5": the first gets the
# full matrix, the others a short one if the budget allows), BENCH_BUDGET
# (s, default 840), LB_CPU (1), OTHER_CPU (0).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "the benchmark needs root (network namespaces, XDP): sudo make bench" >&2
	exit 1
fi
LB_CPU=${LB_CPU:-1}
OTHER_CPU=${OTHER_CPU:-0}
# Everything this script starts runs on OTHER_CPU unless moved on purpose.
if [ -z "${BENCH_PINNED:-}" ]; then
	exec env BENCH_PINNED=1 taskset -c "$OTHER_CPU" bash "$0" "$@"
fi

DURATION=${BENCH_DURATION:-4}
WARMUP=${BENCH_WARMUP:-1}
REPS=${BENCH_REPS:-3}
CLIENTS=${BENCH_CLIENTS:-16}
KEYS=${BENCH_KEYS:-10000}
VALUE=${BENCH_VALUE:-64}
RATIOS=(${BENCH_RATIOS:-0 0.5 0.95 1})
REPLICA_COUNTS=(${BENCH_REPLICAS:-3 1 5})
BUDGET=${BENCH_BUDGET:-840}
REDIS_PORT=6390

source ci/topology.sh
OUT=bench/results
RAW=$OUT/raw
rm -rf "$RAW"
mkdir -p "$RAW"
RESULTS=$RAW/runs.csv
python3 bench/report.py header >"$RESULTS"
BPF_CSV=$RAW/bpf.csv
echo "system,replicas,read_ratio,prog,run_cnt,run_time_ns,ns_per_run,runs_per_s" >"$BPF_CSV"

log() { echo "[bench $(date +%T) +${SECONDS}s] $*" >&2; }

# ---- topology and methodology -------------------------------------------

NAPI_BEFORE=""
BPF_STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
bench_cleanup() {
	[ -n "${TOPO_P:-}" ] && topo_down
	sysctl -q kernel.bpf_stats_enabled="$BPF_STATS_WAS"
}

# napi_pids IFNAME: PIDs of the NAPI threads of IFNAME created by this run.
napi_pids() {
	local pid
	for pid in $(ps -e -o pid=,comm= | awk -v n="napi/$1-" 'index($2, n) == 1 {print $1}'); do
		case " $NAPI_BEFORE " in *" $pid "*) continue ;; esac
		echo "$pid"
	done | sort -u
}

# The LB core belongs to the LB: its threads run SCHED_FIFO there, so that
# other work on this shared machine cannot preempt them (the same for Dalio's
# NAPI thread and for dalio-ulb's thread plus its NAPI thread).
lb_thread() {
	taskset -pc "$LB_CPU" "$1" >/dev/null && chrt -f -p 50 "$1"
}
pin_napi() {
	local pid
	for pid in $(napi_pids lb0); do lb_thread "$pid"; done
	# the bridge port's NAPI thread is the network: it must not queue behind
	# the clients (its ring overflows and stalls everything)
	for pid in $(napi_pids p-lb); do
		taskset -pc "$OTHER_CPU" "$pid" >/dev/null && chrt -f -p 50 "$pid"
	done
}

# CPU time (ns) of the LB's threads (NAPI threads of lb0, and dalio-ulb when it
# runs), from /proc/PID/schedstat: no fork, so the sampler stays cheap.
lb_threads_ns() {
	local pid t=0 v
	for pid in $(napi_pids lb0) ${ULB_PID:-}; do
		read -r v _ <"/proc/$pid/schedstat" 2>/dev/null && t=$((t + v))
	done
	echo "$t"
}

methodology() {
	local lbns brns
	lbns=$(topo_ns lb)
	brns=$(topo_ns br)
	# Threaded NAPI on the LB's interface (and on its bridge port, so that
	# forwarding what the LB sends is not charged to the LB's core). GRO on
	# lb0 keeps its NAPI instance (and thread) alive without XDP, so that
	# dalio-ulb's kernel receive path runs there too; TSO off on the bridge
	# port makes forwarded UDP eligible for it.
	ip netns exec "$lbns" ethtool -K lb0 gro on >/dev/null 2>&1
	ip netns exec "$brns" ethtool -K p-lb tso off >/dev/null 2>&1
	ip netns exec "$lbns" sh -c 'echo 1 > /sys/class/net/lb0/threaded'
	ip netns exec "$brns" sh -c 'echo 1 > /sys/class/net/p-lb/threaded'
	# a down/up cycle re-creates the NAPI instances as threads
	ip -n "$lbns" link set lb0 down && ip -n "$lbns" link set lb0 up
	ip -n "$brns" link set p-lb down && ip -n "$brns" link set p-lb up
	ip netns exec "$lbns" ethtool -K lb0 tx off >/dev/null
	sleep 0.5
	pin_napi
	if [ -z "$(napi_pids lb0)" ]; then
		log "no NAPI thread for lb0: threaded NAPI could not be set up; not measuring without it"
		return 1
	fi
	log "LB core $LB_CPU: napi/lb0 threads $(napi_pids lb0 | tr '\n' ' ')(others on core $OTHER_CPU: p-lb $(napi_pids p-lb | tr '\n' ' '))"
}

# bench_config N: a one-shard shards.yaml with N replicas.
bench_config() {
	local n=$1 f="$TOPO_DIR/bench-$1.yaml" i reps=""
	for ((i = 0; i < n; i++)); do
		reps+="${reps:+, }$TOPO_SUBNET.$((11 + i)):7400"
	done
	cat >"$f" <<EOF
lb:
  interface: lb0
  xdp_mode: native
  pin_path: /sys/fs/bpf/dalio-$TOPO_P
shards:
  - id: 0
    name: bench
    vip: ${TOPO_VIPS[0]}
    port: 7379
    mode: pb
    replicas: [$reps]
EOF
	echo "$f"
}

# Redis native: primary on the first replica host, REPLICAOF on the others.
start_redis_native() {
	local i host primary="$TOPO_SUBNET.11" n=$1 k
	for ((i = 0; i < n; i++)); do
		host=${TOPO_REPLICAS[$i]}
		local extra=()
		[ "$i" -gt 0 ] && extra=(--replicaof "$primary" "$REDIS_PORT")
		topo_bg "native_$host" "$TOPO_DIR/native-$host.log" \
			ip netns exec "$(topo_ns "$host")" redis-server --port "$REDIS_PORT" \
			--bind 0.0.0.0 --protected-mode no --save '' --appendonly no "${extra[@]}"
	done
	for k in $(seq 1 100); do
		if [ "$(topo_exec r1 redis-cli -p "$REDIS_PORT" info replication 2>/dev/null |
			grep -c 'state=online')" -ge $((n - 1)) ]; then
			log "redis native: primary $primary:$REDIS_PORT with $((n - 1)) replicas online"
			return 0
		fi
		sleep 0.1
	done
	log "redis native replicas did not come online"
	return 1
}

REDIS_ADDRS=""
bringup() {
	local n=$1 i
	TOPO_REPLICAS=()
	for ((i = 1; i <= n; i++)); do TOPO_REPLICAS+=("r$i"); done
	TOPO_SHARDS=(0)
	topo_init "dlb$$n$n"
	NAPI_BEFORE=$(ps -e -o pid=,comm= | awk '$2 ~ /^napi\// {print $1}' | tr '\n' ' ')
	topo_up || return 1
	topo_start_replicas || return 1
	start_redis_native "$n" || return 1
	REDIS_ADDRS=""
	for ((i = 0; i < n; i++)); do
		REDIS_ADDRS+="${REDIS_ADDRS:+,}$TOPO_SUBNET.$((11 + i)):$REDIS_PORT"
	done
	CONFIG=$(bench_config "$n")
	methodology
}

# ---- systems ------------------------------------------------------------

# Null replicas (bench/null_replica.bpf.c): XDP answers WRITE/READ on the
# replica hosts, so that the coordinator, not Redis, is what is measured.
null_replicas() {
	local r
	for r in "${TOPO_REPLICAS[@]}"; do
		if [ "$1" == on ]; then
			ip -n "$(topo_ns br)" link set dev "p-$r" xdpdrv obj \
				"$TOPO_BUILD/bpf/xdp_pass.bpf.o" sec xdp || return 1
			ip -n "$(topo_ns "$r")" link set dev eth0 xdpdrv obj \
				"$TOPO_BUILD/bpf/null_replica.bpf.o" sec xdp || return 1
		else
			ip -n "$(topo_ns "$r")" link set dev eth0 xdpdrv off
			ip -n "$(topo_ns br)" link set dev "p-$r" xdpdrv off
		fi
	done
}

# SYSTEM-null: the same system with null replicas (attached by the caller).
start_system() {
	case ${1%-null} in
	dalio) topo_start_agent "$CONFIG" >/dev/null || return 1 ;;
	ulb)
		topo_start_ulb "$CONFIG" --cpu "$LB_CPU" || return 1
		ULB_PID=$TOPO_PID_ulb
		lb_thread "$ULB_PID"
		;;
	reflector)
		ip -n "$(topo_ns lb)" link set dev lb0 xdpdrv obj "$TOPO_BUILD/bpf/reflector.bpf.o" \
			sec xdp || return 1
		;;
	redis*) ;;
	esac
	pin_napi
}

stop_system() {
	case ${1%-null} in
	dalio) topo_stop_pid "$TOPO_PID_agent" ;;
	ulb)
		topo_stop_pid "$TOPO_PID_ulb"
		ULB_PID=""
		;;
	reflector) ip -n "$(topo_ns lb)" link set dev lb0 xdpdrv off ;;
	esac
}

# ---- measurement --------------------------------------------------------

cpu_snap() { # cpu<N> user nice system idle iowait irq softirq steal
	awk -v a="cpu$LB_CPU" -v b="cpu$OTHER_CPU" '$1 == a || $1 == b {print}' /proc/stat
}
netrx_snap() {
	awk -v a=$((LB_CPU + 2)) -v b=$((OTHER_CPU + 2)) '$1 == "NET_RX:" {print $a, $b}' /proc/softirqs
}
bpf_snap() { bpftool -j prog show 2>/dev/null || echo '[]'; }
link_snap() { ip -n "$(topo_ns lb)" -d -j -s link show lb0; }
# ids of the BPF programs on the LB's interface and its bridge port
ids_snap() {
	{
		ip -n "$(topo_ns lb)" -d -j link show lb0
		tc -n "$(topo_ns lb)" -j filter show dev lb0 ingress 2>/dev/null
		ip -n "$(topo_ns br)" -d -j link show p-lb
	} | grep -o '"id":[0-9]*' | cut -d: -f2 | sort -u | tr '\n' ' '
}

# run_bench SYSTEM READ_RATIO RATE REP [extra dalio-bench args...]
run_bench() {
	local sys=$1 ratio=$2 rate=$3 rep=$4 tag
	shift 4
	tag="$sys-n${NREP}-r${ratio}-q${rate}-$rep"
	local args=(--clients "$CLIENTS" --read-ratio "$ratio" --keys "$KEYS" --value-size "$VALUE"
		--duration "$DURATION" --warmup "$WARMUP" --json --label "$sys" --timeout 500
		--cdf "$RAW/cdf-$tag.txt")
	[ "$rate" != 0 ] && args+=(--rate "$rate")
	case $sys in
	redis-primary) args+=(--redis "$REDIS_ADDRS") ;;
	redis-replicas) args+=(--redis "$REDIS_ADDRS" --redis-reads replicas) ;;
	*) args+=(--host "${TOPO_VIPS[0]}" --port 7379) ;;
	esac
	start_system "$sys" || {
		log "$sys did not start"
		return 1
	}
	topo_exec cl "$TOPO_BUILD/dalio-bench" "${args[@]}" "$@" >"$RAW/$tag.json" 2>"$RAW/$tag.err" &
	local bpid=$!
	# The sampler runs on the LB core at SCHED_FIFO below the LB's threads:
	# the other core is saturated (a normal shell there would take its
	# snapshots late, a FIFO one would stall the clients), while the LB core
	# has idle time and the LB's threads keep precedence.
	(
		taskset -pc "$LB_CPU" "$BASHPID" >/dev/null 2>&1
		chrt -f -p 40 "$BASHPID" >/dev/null 2>&1
		sleep "$WARMUP"
		echo "$EPOCHREALTIME" >"$RAW/$tag.t0"
		lb_threads_ns >"$RAW/$tag.lbns0"
		cpu_snap >"$RAW/$tag.cpu0"
		netrx_snap >"$RAW/$tag.rx0"
		link_snap >"$RAW/$tag.link0"
		bpf_snap >"$RAW/$tag.bpf0"
		sleep "$DURATION"
		echo "$EPOCHREALTIME" >"$RAW/$tag.t1"
		lb_threads_ns >"$RAW/$tag.lbns1"
		cpu_snap >"$RAW/$tag.cpu1"
		netrx_snap >"$RAW/$tag.rx1"
		link_snap >"$RAW/$tag.link1"
		bpf_snap >"$RAW/$tag.bpf1"
		ids_snap >"$RAW/$tag.ids"
	)
	local t0 t1
	t0=$(cat "$RAW/$tag.t0")
	t1=$(cat "$RAW/$tag.t1")
	wait "$bpid"
	stop_system "$sys"
	python3 bench/report.py record "$RESULTS" "$BPF_CSV" "$RAW/$tag" "$sys" "$NREP" "$ratio" \
		"$rate" "$rep" "$t0" "$t1" "$LB_CPU" "$OTHER_CPU" || return 1
	log "$(tail -1 "$RESULTS" | cut -d, -f1-9)"
}

over_budget() { [ "$SECONDS" -ge "$1" ]; }

# matrix SYSTEMS...: every read ratio x REPS, systems alternating (rotating order).
matrix() {
	local systems=("$@") rep ratio i k n=${#systems[@]} turn=0
	for ((rep = 1; rep <= REPS; rep++)); do
		for ratio in "${RATIOS[@]}"; do
			for ((k = 0; k < n; k++)); do
				i=$(((k + turn) % n))
				over_budget $((BUDGET - 120)) && return 0
				run_bench "${systems[$i]}" "$ratio" 0 "$rep"
			done
			turn=$((turn + 1))
		done
	done
}

# sweep: fixed-rate runs at fractions of the closed-loop throughput at 50% writes.
sweep() {
	local ref f rate sys turn=0 systems=(dalio ulb redis-primary) i k
	ref=$(python3 bench/report.py ref-rate "$RESULTS" "$NREP")
	log "fixed-rate sweep around $ref ops/s (min of dalio and ulb closed-loop at 50% writes)"
	for f in 0.25 0.5 0.75 1.0 1.25; do
		rate=$(awk -v r="$ref" -v f="$f" 'BEGIN {printf "%d", r * f}')
		for ((k = 0; k < 3; k++)); do
			i=$(((k + turn) % 3))
			over_budget $((BUDGET - 60)) && return 0
			run_bench "${systems[$i]}" 0.5 "$rate" 1 --clients $((CLIENTS * 2))
		done
		turn=$((turn + 1))
	done
	# the equal-load point (0.5) again, REPS more times: a p99 needs repetitions
	rate=$(awk -v r="$ref" 'BEGIN {printf "%d", r * 0.5}')
	for ((k = 2; k <= REPS + 1; k++)); do
		for sys in dalio ulb; do
			[ $((k % 2)) -eq 1 ] && sys=$([ "$sys" == dalio ] && echo ulb || echo dalio)
			over_budget $((BUDGET - 60)) && return 0
			run_bench "$sys" 0.5 "$rate" "$k" --clients $((CLIENTS * 2))
		done
	done
}

trap 'bench_cleanup' EXIT
trap 'exit 130' INT TERM
sysctl -q kernel.bpf_stats_enabled=1
log "matrix: replicas ${REPLICA_COUNTS[*]}, read ratios ${RATIOS[*]}, $REPS reps, ${DURATION}s + ${WARMUP}s warm-up, $CLIENTS clients, $KEYS keys, ${VALUE}-byte values; LB core $LB_CPU"
first=1
for NREP in "${REPLICA_COUNTS[@]}"; do
	if [ $first -eq 0 ] && over_budget $((BUDGET - 150)); then
		log "skipping $NREP replicas: time budget"
		continue
	fi
	log "topology with $NREP replicas"
	if ! bringup "$NREP"; then
		log "bring-up failed"
		exit 1
	fi
	if [ $first -eq 1 ]; then
		matrix dalio ulb redis-primary reflector
		RATIOS_SAVE=("${RATIOS[@]}")
		RATIOS=(0.5 0.95 1)
		REPS_SAVE=$REPS
		REPS=1
		matrix redis-replicas
		# coordinator-bound: null replicas, so the LB is what limits
		RATIOS=(0.5 0.95)
		REPS=2
		if null_replicas on; then
			matrix dalio-null ulb-null
		fi
		null_replicas off
		RATIOS=("${RATIOS_SAVE[@]}")
		REPS=$REPS_SAVE
		sweep
	else
		RATIOS_SAVE=("${RATIOS[@]}")
		RATIOS=(0.5 0.95)
		REPS_SAVE=$REPS
		REPS=1
		matrix dalio ulb redis-primary
		RATIOS=("${RATIOS_SAVE[@]}")
		REPS=$REPS_SAVE
	fi
	first=0
	topo_down
	TOPO_P=""
done
sysctl -q kernel.bpf_stats_enabled="$BPF_STATS_WAS"
log "done in ${SECONDS}s; writing the report"
python3 bench/report.py report "$OUT" "$RESULTS" "$BPF_CSV" "$REPLICA_COUNTS" \
	"$DURATION" "$WARMUP" "$REPS" "$CLIENTS" "$KEYS" "$VALUE" "$LB_CPU" "$SECONDS"
