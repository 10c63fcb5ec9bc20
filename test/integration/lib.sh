#!/usr/bin/env bash
# Assertion helpers for the netns integration tests: each check prints one
# line, and it_summary prints "N passed, N failed" and sets the exit status.
IT_PASS=0
IT_FAIL=0

it_ok() {
	IT_PASS=$((IT_PASS + 1))
	echo "  ok   $*"
}
it_fail() {
	IT_FAIL=$((IT_FAIL + 1))
	echo "  FAIL $*"
}
# it_eq NAME EXPECTED ACTUAL
it_eq() {
	if [ "$2" == "$3" ]; then
		it_ok "$1"
	else
		it_fail "$1: expected '$2', got '$3'"
	fi
}
it_summary() {
	echo "$IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ]
}

# it_digests_equal: one check that the shard-0 Redis of every replica holds the
# same dataset (DEBUG DIGEST). Needs ci/topology.sh.
it_digests_equal() {
	local r d=()
	for r in "${TOPO_REPLICAS[@]}"; do
		d+=("$(topo_exec "$r" redis-cli -p 6379 DEBUG DIGEST)")
	done
	if [ "${d[0]}" == "${d[1]}" ] && [ "${d[1]}" == "${d[2]}" ]; then
		it_ok "all three datasets identical"
	else
		it_fail "digests differ: ${d[*]}"
	fi
}

# it_keys_agree VIP KEYS: one check that key:0 .. key:KEYS-1 read the same
# through VIP:7379 and on the shard-0 Redis of every replica.
it_keys_agree() {
	local vip=$1 keys=$2 mismatch=0 k v r rv
	for k in $(seq 0 $((keys - 1))); do
		v=$(topo_exec cl "$TOPO_BUILD/dalio-cli" -h "$vip" -p 7379 GET "key:$k")
		for r in "${TOPO_REPLICAS[@]}"; do
			rv=$(topo_exec "$r" redis-cli -p 6379 GET "key:$k")
			[ "\"$rv\"" == "$v" ] || [ "$rv" == "$v" ] || {
				mismatch=$((mismatch + 1))
				echo "    key:$k VIP=$v $r=$rv"
			}
		done
	done
	it_eq "every key reads the same through the VIP and on every replica" 0 "$mismatch"
}
