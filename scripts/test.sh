#!/usr/bin/env bash
# Runs every test of the repository, skipping none: it installs the Debian
# packages the real-server tests need when they are missing (where apt-get
# and root or sudo exist; elsewhere it names them and stops), builds the
# release snapshot into dist/ (scripts/release-snapshot.sh), then runs
# `go test -race -count=1 -timeout 30m ./... ./function/...` with PACE_TEST_STRICT=1, so
# a test whose server or tool is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

# The servers and tools the tests start (docs/testing.md says which test
# needs which).
packages=(
	git
	strace
	postgresql
	graphite-carbon graphite-web python3-whisper
	victoria-metrics prometheus
	systemd systemd-container dbus-user-session
	wine gcc-mingw-w64-x86-64-win32
	rpm
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else sudo=(none); fi
	fi
	if ! command -v apt-get >/dev/null 2>&1 || [ "${sudo[*]}" = none ]; then
		echo "The tests need these Debian packages, which are missing: ${missing[*]}" >&2
		echo "Install them (as root: apt-get install ${missing[*]}) and run $0 again." >&2
		exit 1
	fi
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The tests start their own servers on their own ports: keep the
	# packages' system services from starting (the usual policy-rc.d).
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
		trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	"${sudo[@]}" apt-get update -qq
	# A package script failing without a service manager is not fatal: the
	# strict run below fails by name any test whose tool is still missing.
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		echo "apt-get install reported errors; carrying on"
fi

# The package test installs the .deb the release builds.
./scripts/release-snapshot.sh

export PACE_TEST_STRICT=1
echo "== go test -race -count=1 -timeout 30m ./... ./function/..."
go test -race -count=1 -timeout 30m ./... ./function/...
