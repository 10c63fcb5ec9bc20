#!/usr/bin/env bash
# Installs what Dalio needs to build, test and run its demo on Debian 12:
# compilers, libbpf/libxdp/bpftool, libyaml, libmnl, hiredis, cmocka, redis, iproute2,
# and gnuplot for the benchmark plots.
# Installs only what is missing, so it is cheap to run every time.
set -euo pipefail

PKGS=(clang llvm make gcc pkg-config libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev
	libyaml-dev libmnl-dev libhiredis-dev libcmocka-dev redis-server redis-tools iproute2 ethtool
	iputils-ping clang-format python3 gnuplot-nox)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root: sudo $0)" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts redis-server as a service on install; Dalio runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
	systemctl stop redis-server || true
fi
# bpffs for the tests and the agent (the agent also mounts it itself).
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi
echo "dependencies ok"
