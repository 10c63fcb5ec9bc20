#!/usr/bin/env bash
# Live membership changes by editing shards.yaml and sending SIGHUP (issue #4,
# docs/membership.md "Live changes"): add a replica (it catches up and joins),
# drain and remove one (it stops getting writes) and add it back, remove a shard (its VIP is no
# longer served) and add it back, and a broken file changes nothing.
set -uo pipefail
cd "$(dirname "$0")/../.."
source ci/topology.sh
source test/integration/lib.sh

topo_init "dlhup$$"
trap 'topo_down' EXIT
topo_up && topo_start_replicas || exit 1

conf="$TOPO_DIR/shards.yaml"
# write_conf SHARD0_REPLICAS [with_shard1]
write_conf() {
	{
		printf 'lb:\n  interface: lb0\n  pin_path: %s\nshards:\n' "$TOPO_PIN"
		printf '  - id: 0\n    vip: %s\n    port: 7379\n    replicas: [%s]\n' "${TOPO_VIPS[0]}" "$1"
		if [ -n "${2:-}" ]; then
			printf '  - id: 1\n    vip: %s\n    port: 7379\n' "${TOPO_VIPS[1]}"
			printf '    replicas: [10.77.0.11:7401, 10.77.0.12:7401, 10.77.0.13:7401]\n'
		fi
	} >"$conf"
}
hup() {
	kill -HUP "$TOPO_PID_agent"
	sleep "${1:-1}"
}
cli() { topo_exec cl "$TOPO_BUILD/dalio-cli" -h "$1" -p 7379 --timeout 100 --retries 5 "${@:2}" 2>&1; }
rget() { topo_exec "$1" redis-cli -p "$2" GET "$3"; }

write_conf "10.77.0.11:7400, 10.77.0.12:7400" shard1
topo_start_agent "$conf" || exit 1
for i in $(seq 1 50); do cli "${TOPO_VIPS[0]}" SET "k$i" "v$i" >/dev/null; done
it_eq "r3 is not a replica of shard 0 yet" "" "$(rget r3 6379 k50)"

echo "== add r3 to shard 0"
write_conf "10.77.0.11:7400, 10.77.0.12:7400, 10.77.0.13:7400" shard1
hup 0.2
for _ in $(seq 1 50); do
	grep -q "replica 10.77.0.13:7400 caught up" "$TOPO_DIR/agent.log" && break
	sleep 0.1
done
it_ok_grep() { if grep -q "$2" "$TOPO_DIR/agent.log"; then it_ok "$1"; else it_fail "$1: $(tail -3 "$TOPO_DIR/agent.log")"; fi; }
it_ok_grep "r3 caught up and joined" "replica 10.77.0.13:7400 caught up"
it_eq "r3 holds the writes from before it joined (full copy)" "v50" "$(rget r3 6379 k50)"
cli "${TOPO_VIPS[0]}" SET after-add yes >/dev/null
it_eq "a new write reaches r3" "yes" "$(rget r3 6379 after-add)"

echo "== drain and remove r2 from shard 0"
write_conf "10.77.0.11:7400, 10.77.0.13:7400" shard1
hup
it_ok_grep "r2 drained" "replica 10.77.0.12:7400 drained and removed"
it_eq "writes still complete" "OK" "$(cli "${TOPO_VIPS[0]}" SET after-drain 1)"
it_eq "r1 has it" "1" "$(rget r1 6379 after-drain)"
it_eq "r2 no longer gets writes" "" "$(rget r2 6379 after-drain)"

echo "== add r2 back: a new slot with the removed one's address"
write_conf "10.77.0.11:7400, 10.77.0.13:7400, 10.77.0.12:7400" shard1
hup 0.2
for _ in $(seq 1 50); do
	[ "$(grep -c "replica 10.77.0.12:7400 caught up" "$TOPO_DIR/agent.log")" -ge 1 ] && break
	sleep 0.1
done
it_ok_grep "r2 caught up again in its new slot" "replica 10.77.0.12:7400 caught up"
cli "${TOPO_VIPS[0]}" SET after-readd 1 >/dev/null
it_eq "r2 gets writes again" "1" "$(rget r2 6379 after-readd)"
write_conf "10.77.0.11:7400, 10.77.0.13:7400" shard1
hup

echo "== a broken file changes nothing"
cp "$conf" "$conf.good"
printf 'lb:\n  interface: lb0\nshards:\n  - id: 0\n    port: notaport\n' >"$conf"
hup 0.5
it_ok_grep "the error names file, line and field" "SIGHUP: $conf:5:11: shards\[0\].port"
it_eq "shard 0 still served" "OK" "$(cli "${TOPO_VIPS[0]}" SET after-bad 1)"
cp "$conf.good" "$conf"

echo "== remove shard 1, then add it back"
cli "${TOPO_VIPS[1]}" SET s1key before >/dev/null
write_conf "10.77.0.11:7400, 10.77.0.13:7400"
hup
it_ok_grep "shard 1 removed" "shard 1 (shard1) removed"
out=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "${TOPO_VIPS[1]}" -p 7379 --timeout 100 --retries 1 GET s1key 2>&1)
if [ "$out" != '"before"' ]; then it_ok "shard 1's VIP is no longer served (${out:0:60})"; else it_fail "shard 1 still answers"; fi
write_conf "10.77.0.11:7400, 10.77.0.13:7400" shard1
hup 3
it_ok_grep "shard 1 added back" "shard 1 (shard1) added"
it_eq "shard 1 serves again, with its data" '"before"' "$(cli "${TOPO_VIPS[1]}" GET s1key)"
it_eq "shard 0 unaffected" '"v50"' "$(cli "${TOPO_VIPS[0]}" GET k50)"

it_summary
