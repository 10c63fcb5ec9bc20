#!/usr/bin/env bash
# Demo/test topology in network namespaces, sourced by test/integration/*.sh and
# ci/demo.sh. One bridge namespace joins a client, the LB and three replicas:
#
#   <P>-cl 10.77.0.2 ---+
#   <P>-lb 10.77.0.10 --+-- br0 in <P>-br     (VIPs 10.77.0.100, .101 on lb0)
#   <P>-r1 10.77.0.11 --+
#   <P>-r2 10.77.0.12 --+   each replica host runs, per shard s (0, 1),
#   <P>-r3 10.77.0.13 --+   redis-server on :6379+s (all addresses: SYNC copies) and dalio-replica on :7400+s
#
# Opt-in: a standby LB <P>-lb2 10.77.0.9 on the same bridge (topo_up_standby).
# This matches shards.yaml. Every namespace name starts with a prefix unique to
# the run; topo_down kills only the PIDs started here and deletes the namespaces.
# Traffic stays inside these namespaces.
#
# The agent runs in the LB's network namespace through nsenter, not `ip netns
# exec`: the latter gives it a private /sys whose bpffs (and the agent's pins)
# die with the process, so a restarted agent could not find them. It pins under
# a directory of its own per run (TOPO_PIN), which topo_down removes.

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
	TOPO_PIN=/sys/fs/bpf/dalio-$TOPO_P
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

# ---- multi-homed variant (devmap fan-out) ----
#
#   <P>-cl eth0 10.77.0.2 ------ lb0 10.77.0.10   <P>-lb   (VIPs .100, .101 on lb0)
#   <P>-r1 eth0 10.78.1.2 ------ lb1 10.78.1.1
#   <P>-r2 eth0 10.78.2.2 ------ lb2 10.78.2.1
#   <P>-r3 eth0 10.78.3.2 ------ lb3 10.78.3.1
#
# No bridge: each host sits on its own link to the LB, each replica on its own
# /24 with the LB as its default route (to reach the VIPs). The hosts' ends run
# xdp_pass, because XDP_TX and XDP redirects into a veth only deliver when the
# peer runs XDP too. Same replica processes as topo_up (topo_start_replicas).
TOPO_MH_SUBNET=10.78

# _topo_link HOST LBIF HOSTADDR LBADDR: namespace HOST with eth0 peered with LBIF in the LB.
_topo_link() {
	local name=$1 lbif=$2 haddr=$3 laddr=$4 ns lbns
	ns=$(topo_ns "$name")
	lbns=$(topo_ns lb)
	ip netns add "$ns" && TOPO_NS+=("$ns")
	ip link add eth0 netns "$ns" type veth peer name "$lbif" netns "$lbns"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$haddr/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$lbns" addr add "$laddr/24" dev "$lbif"
	ip -n "$lbns" link set "$lbif" up
	# veth leaves partial UDP checksums with tx offload on; a real wire doesn't.
	ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
	ip netns exec "$lbns" ethtool -K "$lbif" tx off >/dev/null
	ip -n "$ns" link set dev eth0 xdp obj "$TOPO_BUILD/bpf/xdp_pass.bpf.o" sec xdp
}

topo_up_multihomed() {
	local i=1 r vip
	ip netns add "$(topo_ns lb)" && TOPO_NS+=("$(topo_ns lb)")
	ip -n "$(topo_ns lb)" link set lo up
	_topo_link cl lb0 "$TOPO_SUBNET.2" "$TOPO_SUBNET.10" || return 1
	for r in "${TOPO_REPLICAS[@]}"; do
		_topo_link "$r" "lb$i" "$TOPO_MH_SUBNET.$i.2" "$TOPO_MH_SUBNET.$i.1" || return 1
		ip -n "$(topo_ns "$r")" route add default via "$TOPO_MH_SUBNET.$i.1"
		i=$((i + 1))
	done
	for vip in "${TOPO_VIPS[@]}"; do
		ip -n "$(topo_ns lb)" addr add "$vip/32" dev lb0
	done
	topo_log "multi-homed namespaces up: ${TOPO_NS[*]}"
}

# topo_mh_config FANOUT FILE: shards.yaml for the multi-homed topology with
# lb.fanout FANOUT (tc or devmap).
topo_mh_config() {
	local fanout=$1 file=$2 s i reps
	{
		printf 'lb:\n  interface: lb0\n  xdp_mode: native\n  fanout: %s\nshards:\n' "$fanout"
		for s in "${TOPO_SHARDS[@]}"; do
			reps=()
			for i in $(seq 1 ${#TOPO_REPLICAS[@]}); do
				reps+=("$TOPO_MH_SUBNET.$i.2:$((7400 + s))")
			done
			printf '  - {id: %s, vip: %s, port: 7379, replicas: [%s]}\n' "$s" \
				"${TOPO_VIPS[$s]}" "$(IFS=,; echo "${reps[*]}" | sed 's/,/, /g')"
		done
	} >"$file"
}

# topo_lb_stat SHARD NAME: the LB's counter DALIO_STAT_<NAME> of SHARD, summed
# over CPUs, read from the agent's pinned stats_map (under this run's
# TOPO_PIN). Index from include/dalio/lb_types.h's enum.
topo_lb_stat() {
	bpftool -j map dump pinned "$TOPO_PIN/lb0/stats_map" 2>/dev/null |
		python3 -c '
import json, re, sys
shard, name, hdr = int(sys.argv[1]), sys.argv[2], open(sys.argv[3]).read()
body = re.search(r"enum dalio_stat \{(.*?)\};", hdr, re.S).group(1)
names = re.findall(r"^\s*DALIO_STAT_(\w+)", body, re.M)
idx = names.index(name)
for e in json.load(sys.stdin):
    f = e["formatted"]
    if f["key"] == shard:
        print(sum(v["value"]["count"][idx] for v in f["values"]))
' "$1" "$2" "$TOPO_ROOT/include/dalio/lb_types.h"
}

# topo_stop_agent: stops the agent (it detaches) and forgets its PID.
topo_stop_agent() {
	local i
	topo_stop_pid "$TOPO_PID_agent"
	for i in "${!TOPO_PIDS[@]}"; do
		[ "${TOPO_PIDS[$i]}" == "$TOPO_PID_agent" ] && unset "TOPO_PIDS[$i]"
	done
	TOPO_PIDS=("${TOPO_PIDS[@]}")
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
	# Each server its own directory: a full copy (SYNC) writes an RDB file,
	# which a later server started in the same directory would load.
	mkdir -p "$TOPO_DIR/redis-$host-$shard"
	topo_bg "redis_${host}_$shard" "$TOPO_DIR/redis-$host-$shard.log" \
		ip netns exec "$(topo_ns "$host")" redis-server --port "$rport" --bind 0.0.0.0 \
		--protected-mode no --save '' --appendonly no --enable-debug-command local \
		--dir "$TOPO_DIR/redis-$host-$shard" --repl-diskless-sync-delay 0
	topo_wait_redis "$host" "$rport" || return 1
	# TOPO_REPLICA_MODE=vr: vr-mode daemons, each with its own state file
	# (it survives a restart of the daemon: docs/vr.md V7).
	local mode_args=()
	if [ "${TOPO_REPLICA_MODE:-pb}" == vr ]; then
		mode_args=(--mode vr --state-file "$TOPO_DIR/vr-state-$host-$shard")
	fi
	topo_bg "replica_${host}_$shard" "$TOPO_DIR/replica-$host-$shard.log" \
		ip netns exec "$(topo_ns "$host")" "$TOPO_BUILD/dalio-replica" \
		--listen "0.0.0.0:$dport" --lb "${TOPO_VIPS[$shard]}" \
		--redis "127.0.0.1:$rport" --shard "$shard" --index "$idx" "${mode_args[@]}"
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

# topo_lb_exec CMD...: CMD in the LB's network namespace, with the host's
# mounts (bpffs included).
topo_lb_exec() { nsenter --net="/run/netns/$(topo_ns lb)" "$@"; }

# topo_agent_config CONFIG: prints the config the agent of this run gets:
# CONFIG itself if its lb.pin_path is already this run's TOPO_PIN (a test that
# edits it and sends SIGHUP writes it so), else $TOPO_DIR/agent.yaml, a copy
# with lb.pin_path set to TOPO_PIN.
topo_agent_config() {
	local out="$TOPO_DIR/agent.yaml"
	if grep -qE "^[[:space:]]+pin_path:[[:space:]]*$TOPO_PIN[[:space:]]*\$" "$1"; then
		echo "$1"
		return
	fi
	if grep -qE '^[[:space:]]+pin_path:' "$1"; then
		sed -E "s|^([[:space:]]+)pin_path:.*|\1pin_path: $TOPO_PIN|" "$1" >"$out"
	else
		sed -E "s|^lb:[[:space:]]*\$|lb:\n  pin_path: $TOPO_PIN|" "$1" >"$out"
	fi
	echo "$out"
}

# topo_start_agent CONFIG [LOG]: runs dalio-agent in the LB namespace (log in
# $TOPO_DIR/LOG, default agent.log) and waits until it says it is serving
# (bounded). TOPO_PID_agent is its PID.
topo_start_agent() {
	local config log=$TOPO_DIR/${2:-agent.log}
	config=$(topo_agent_config "$1")
	# nsenter execs the agent: the PID is the agent's own.
	topo_bg agent "$log" nsenter --net="/run/netns/$(topo_ns lb)" "$TOPO_BUILD/dalio-agent" \
		--config "$config" --wait 10
	_topo_wait_agent "$TOPO_PID_agent" "$log" "serving" "dalio-agent"
}

# _topo_wait_agent PID LOG PATTERN NAME: waits (bounded, 15 s) until LOG has
# PATTERN; fails with the log if the agent exits or does not get there.
_topo_wait_agent() {
	local pid=$1 log=$2 pattern=$3 name=$4 i
	for i in $(seq 1 150); do
		if grep -q "$pattern" "$log"; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			topo_log "$name exited:"
			cat "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	topo_log "$name did not come up:"
	cat "$log" >&2
	return 1
}

# ---- opt-in standby LB (LB failover, docs/vr.md) ----
#
#   <P>-lb2 10.77.0.9 --+-- br0 in <P>-br     (no VIP until it takes over)
#
# topo_up_standby (after topo_up) adds a second LB on the same bridge. Its agent
# runs with --standby, pins under $TOPO_PIN-lb2, and logs to $TOPO_DIR/agent-lb2.log.
# topo_peer_configs writes both agents' configs, each with lb.peer naming the other.
TOPO_LB2_ADDR=$TOPO_SUBNET.9
TOPO_LB_ADDR=$TOPO_SUBNET.10
TOPO_PEER_PORT=7390

topo_up_standby() {
	_topo_host lb2 lb0 "$TOPO_LB2_ADDR" || return 1
	# XDP_TX on a veth only delivers when the peer runs XDP too.
	ip -n "$(topo_ns br)" link set dev p-lb2 xdp obj "$TOPO_BUILD/bpf/xdp_pass.bpf.o" sec xdp
	topo_log "standby LB up: $(topo_ns lb2) ($TOPO_LB2_ADDR, no VIP)"
}

# _topo_lb_yaml CONFIG PIN PEER OUT: CONFIG with lb.pin_path PIN and lb.peer
# PEER (IP:PORT) first in its lb section (replacing any pin_path/peer given).
_topo_lb_yaml() {
	sed -E -e '/^[[:space:]]+(pin_path|peer):/d' \
		-e "s|^lb:[[:space:]]*\$|lb:\n  pin_path: $2\n  peer: $3|" "$1" >"$4"
}

# topo_peer_configs CONFIG [EXTRA_LB_YAML]: writes $TOPO_DIR/agent-lb.yaml (the
# active LB: pin_path TOPO_PIN, peer lb2) and $TOPO_DIR/agent-lb2.yaml (the
# standby: pin_path TOPO_PIN-lb2, peer lb) from CONFIG, whose lb section must be
# a block mapping. EXTRA_LB_YAML (e.g. "peer_timeout_ms: 300") is added to both.
topo_peer_configs() {
	local extra=${2:-} f
	_topo_lb_yaml "$1" "$TOPO_PIN" "$TOPO_LB2_ADDR:$TOPO_PEER_PORT" "$TOPO_DIR/agent-lb.yaml"
	_topo_lb_yaml "$1" "$TOPO_PIN-lb2" "$TOPO_LB_ADDR:$TOPO_PEER_PORT" "$TOPO_DIR/agent-lb2.yaml"
	if [ -n "$extra" ]; then
		for f in "$TOPO_DIR/agent-lb.yaml" "$TOPO_DIR/agent-lb2.yaml"; do
			sed -i -E "s|^lb:[[:space:]]*\$|lb:\n  $extra|" "$f"
		done
	fi
}

# topo_start_standby_agent [CONFIG] [LOG]: runs dalio-agent --standby in
# <P>-lb2 (config default $TOPO_DIR/agent-lb2.yaml from topo_peer_configs; log
# in $TOPO_DIR/LOG, default agent-lb2.log) and waits (bounded) until it stands
# by. TOPO_PID_agent_lb2 is its PID.
topo_start_standby_agent() {
	local config=${1:-$TOPO_DIR/agent-lb2.yaml} log=$TOPO_DIR/${2:-agent-lb2.log}
	# nsenter execs the agent: the PID is the agent's own.
	topo_bg agent_lb2 "$log" nsenter --net="/run/netns/$(topo_ns lb2)" \
		"$TOPO_BUILD/dalio-agent" --config "$config" --wait 10 --standby
	_topo_wait_agent "$TOPO_PID_agent_lb2" "$log" "standby: watching" "standby dalio-agent"
}

# topo_lb_link_down [LB]: fences an LB (default lb, the active one): its lb0
# goes down, so it neither hears nor reaches anyone.
topo_lb_link_down() {
	ip -n "$(topo_ns "${1:-lb}")" link set lb0 down
}

# topo_forget_pid PID: PID is gone (killed and reaped here): never signal it again.
topo_forget_pid() {
	local i
	for i in "${!TOPO_PIDS[@]}"; do
		[ "${TOPO_PIDS[$i]}" == "$1" ] && unset 'TOPO_PIDS[i]'
	done
	TOPO_PIDS=("${TOPO_PIDS[@]}")
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

# topo_netem HOST ARGS...: impairs the Dalio UDP traffic of HOST's eth0 in both
# directions with build/dalio-netem (loss, duplication, delay, reordering
# through a TUN device; see test/fault/dalio-netem.c). ARGS are dalio-netem's
# profile options, e.g. --loss 5 --delay 0-5. Waits (bounded) until it is
# attached; its PID is in TOPO_PID_netem_HOST, its counters (printed on exit
# and on SIGUSR1) in $TOPO_DIR/netem-HOST.log. topo_netem_stop HOST ends it
# early; topo_down ends it otherwise.
topo_netem() {
	local host=$1 i pidvar
	shift
	topo_bg "netem_$host" "$TOPO_DIR/netem-$host.log" \
		ip netns exec "$(topo_ns "$host")" "$TOPO_BUILD/dalio-netem" --dev eth0 "$@"
	pidvar="TOPO_PID_netem_$host"
	for i in $(seq 1 50); do
		grep -qs "ready" "$TOPO_DIR/netem-$host.log" && return 0
		if ! kill -0 "${!pidvar}" 2>/dev/null; then
			topo_log "dalio-netem on $host exited:"
			cat "$TOPO_DIR/netem-$host.log" >&2
			return 1
		fi
		sleep 0.1
	done
	topo_log "dalio-netem on $host did not come up"
	return 1
}

# topo_netem_stop HOST: stops HOST's dalio-netem (it detaches and flushes) and
# forgets its PID, so topo_down never signals a PID that may have been reused.
topo_netem_stop() {
	local pidvar="TOPO_PID_netem_$1" pid i
	pid=${!pidvar:-}
	[ -n "$pid" ] || return 0
	topo_stop_pid "$pid"
	for i in "${!TOPO_PIDS[@]}"; do
		[ "${TOPO_PIDS[$i]}" == "$pid" ] && unset "TOPO_PIDS[$i]"
	done
	TOPO_PIDS=("${TOPO_PIDS[@]}")
	eval "TOPO_PID_netem_$1="
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
	# This run's pins (maps of an agent that was killed, or never unpinned).
	case "${TOPO_PIN:-}" in
	/sys/fs/bpf/dalio-?*) rm -rf "$TOPO_PIN" "$TOPO_PIN-lb2" ;;
	esac
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
