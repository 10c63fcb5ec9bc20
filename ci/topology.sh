#!/usr/bin/env bash
# Demo/test topology in network namespaces, sourced by test/integration/*.sh and
# ci/demo.sh. One bridge namespace joins a client, the LB and three replicas:
#
#   <P>-cl 10.77.0.2 ---+
#   <P>-lb 10.77.0.10 --+-- br0 in <P>-br     (VIPs 10.77.0.100, .101 on lb0)
#   <P>-r1 10.77.0.11 --+
#   <P>-r2 10.77.0.12 --+   each replica host runs, per shard s (0, 1),
#   <P>-r3 10.77.0.13 --+   redis-server on 127.0.0.1:6379+s and dalio-replica on :7400+s
#
# This matches shards.yaml. Every namespace name starts with a prefix unique to
# the run; topo_down kills only the PIDs started here and deletes the namespaces.
# Traffic stays inside these namespaces.

TOPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOPO_BUILD=${TOPO_BUILD:-$TOPO_ROOT/build}
TOPO_SUBNET=10.77.0
TOPO_VIPS=("$TOPO_SUBNET.100" "$TOPO_SUBNET.101")
TOPO_REPLICAS=(r1 r2 r3)
TOPO_SHARDS=(0 1)
TOPO_PIDS=()
TOPO_NS=()

# topo_init [prefix]: picks the run prefix and a work directory for logs.
topo_init() {
	TOPO_P=${1:-dl$$}
	TOPO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dalio-$TOPO_P.XXXXXX")
}

topo_ns() { echo "$TOPO_P-$1"; }
topo_exec() {
	local ns=$1
	shift
	ip netns exec "$(topo_ns "$ns")" "$@"
}

topo_log() { echo "[topology] $*" >&2; }

# _topo_host NAME IFNAME ADDR: a namespace with one veth into the bridge.
_topo_host() {
	local name=$1 ifname=$2 addr=$3 ns
	ns=$(topo_ns "$name")
	ip netns add "$ns" && TOPO_NS+=("$ns")
	ip link add "$ifname" netns "$ns" type veth peer name "p-$name" netns "$(topo_ns br)"
	ip -n "$(topo_ns br)" link set "p-$name" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/24" dev "$ifname"
	ip -n "$ns" link set "$ifname" up
	# veth leaves partial UDP checksums with tx offload on; a real wire doesn't.
	ip netns exec "$ns" ethtool -K "$ifname" tx off >/dev/null
}

topo_up() {
	ip netns add "$(topo_ns br)" && TOPO_NS+=("$(topo_ns br)")
	ip -n "$(topo_ns br)" link add br0 type bridge
	ip -n "$(topo_ns br)" link set br0 up
	_topo_host cl eth0 "$TOPO_SUBNET.2"
	_topo_host lb lb0 "$TOPO_SUBNET.10"
	local i=11 r
	for r in "${TOPO_REPLICAS[@]}"; do
		_topo_host "$r" eth0 "$TOPO_SUBNET.$i"
		i=$((i + 1))
	done
	local vip
	for vip in "${TOPO_VIPS[@]}"; do
		ip -n "$(topo_ns lb)" addr add "$vip/32" dev lb0
	done
	# XDP_TX on a veth only delivers when the peer runs XDP too.
	ip -n "$(topo_ns br)" link set dev p-lb xdp obj "$TOPO_BUILD/bpf/xdp_pass.bpf.o" sec xdp
	topo_log "namespaces up: ${TOPO_NS[*]}"
}

# topo_bg NAME LOGFILE CMD...: starts CMD in the background and records its PID.
topo_bg() {
	local name=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	TOPO_PIDS+=($!)
	eval "TOPO_PID_$name=$!"
}

# topo_wait_port NS PORT: waits (bounded) until redis answers PING there.
topo_wait_redis() {
	local host=$1 port=$2 i
	for i in $(seq 1 50); do
		if topo_exec "$host" redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
			return 0
		fi
		sleep 0.1
	done
	topo_log "redis on $host:$port did not come up"
	return 1
}

# topo_start_replica HOST SHARD: redis-server and dalio-replica for one shard.
topo_start_replica() {
	local host=$1 shard=$2 idx=$3
	local rport=$((6379 + shard)) dport=$((7400 + shard))
	topo_bg "redis_${host}_$shard" "$TOPO_DIR/redis-$host-$shard.log" \
		ip netns exec "$(topo_ns "$host")" redis-server --port "$rport" --bind 127.0.0.1 \
		--save '' --appendonly no --enable-debug-command local
	topo_wait_redis "$host" "$rport" || return 1
	topo_bg "replica_${host}_$shard" "$TOPO_DIR/replica-$host-$shard.log" \
		ip netns exec "$(topo_ns "$host")" "$TOPO_BUILD/dalio-replica" \
		--listen "0.0.0.0:$dport" --lb "${TOPO_VIPS[$shard]}" \
		--redis "127.0.0.1:$rport" --shard "$shard" --index "$idx"
}

topo_start_replicas() {
	local r s i
	for s in "${TOPO_SHARDS[@]}"; do
		i=0
		for r in "${TOPO_REPLICAS[@]}"; do
			topo_start_replica "$r" "$s" "$i" || return 1
			i=$((i + 1))
		done
	done
}

# topo_start_agent CONFIG: runs dalio-agent in the LB namespace and waits until
# it says it is serving (bounded).
topo_start_agent() {
	local config=$1 i
	topo_bg agent "$TOPO_DIR/agent.log" \
		ip netns exec "$(topo_ns lb)" "$TOPO_BUILD/dalio-agent" --config "$config" --wait 10
	for i in $(seq 1 150); do
		if grep -q "serving" "$TOPO_DIR/agent.log"; then
			return 0
		fi
		if ! kill -0 "$TOPO_PID_agent" 2>/dev/null; then
			topo_log "dalio-agent exited:"
			cat "$TOPO_DIR/agent.log" >&2
			return 1
		fi
		sleep 0.1
	done
	topo_log "dalio-agent did not come up:"
	cat "$TOPO_DIR/agent.log" >&2
	return 1
}

# topo_bringup: the whole demo topology of shards.yaml, serving. The caller
# runs topo_init first and owns the `trap topo_down EXIT`.
topo_bringup() {
	topo_up && topo_start_replicas && topo_start_agent "$TOPO_ROOT/shards.yaml"
}

# topo_fault HOST OBJ: attaches a test fault injector (test/fault/) to both
# directions of HOST's eth0. This kernel has no netem.
topo_fault() {
	local ns dir
	ns=$(topo_ns "$1")
	tc -n "$ns" qdisc add dev eth0 clsact
	for dir in ingress egress; do
		tc -n "$ns" filter add dev eth0 "$dir" bpf da obj "$TOPO_BUILD/bpf/$2" sec tc
	done
}

# topo_stop_pid PID: SIGTERM, then SIGKILL after 3 s; only PIDs we started.
topo_stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

topo_down() {
	local i ns
	# Agent first (it detaches the programs), then the rest, newest first.
	for ((i = ${#TOPO_PIDS[@]} - 1; i >= 0; i--)); do
		topo_stop_pid "${TOPO_PIDS[$i]}"
	done
	TOPO_PIDS=()
	for ns in "${TOPO_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	TOPO_NS=()
	if [ -n "${TOPO_KEEP_LOGS:-}" ]; then
		topo_log "logs kept in $TOPO_DIR"
	else
		rm -rf "$TOPO_DIR"
	fi
}

# topo_start_ulb CONFIG [ULB_ARGS...]: runs dalio-ulb (the user-space
# coordinator) in the LB namespace instead of dalio-agent, bound to the VIPs,
# and waits (bounded) until it serves.
topo_start_ulb() {
	local config=$1 i
	shift
	topo_bg ulb "$TOPO_DIR/ulb.log" \
		ip netns exec "$(topo_ns lb)" "$TOPO_BUILD/dalio-ulb" --config "$config" --wait 10 "$@"
	for i in $(seq 1 150); do
		if grep -q "serving" "$TOPO_DIR/ulb.log"; then
			return 0
		fi
		if ! kill -0 "$TOPO_PID_ulb" 2>/dev/null; then
			topo_log "dalio-ulb exited:"
			cat "$TOPO_DIR/ulb.log" >&2
			return 1
		fi
		sleep 0.1
	done
	topo_log "dalio-ulb did not come up:"
	cat "$TOPO_DIR/ulb.log" >&2
	return 1
}

# topo_bringup_ulb: the demo topology of shards.yaml served by dalio-ulb.
topo_bringup_ulb() {
	topo_up && topo_start_replicas && topo_start_ulb "$TOPO_ROOT/shards.yaml"
}
