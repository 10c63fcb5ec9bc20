#!/usr/bin/env bash
# Runs every netns integration test (as root) and fails if any fails.
set -u
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "integration tests need root (network namespaces, XDP): run 'sudo make test'" >&2
	exit 1
fi
rc=0
for t in test/integration/test_*.sh; do
	echo "=== $t"
	bash "$t" || rc=1
done
exit $rc
