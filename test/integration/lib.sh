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
