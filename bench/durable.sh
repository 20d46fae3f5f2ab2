#!/usr/bin/env bash
# Measures the exact store as production runs it (issue 29): PostgreSQL
# with its durable defaults, the receiver's real HTTP server
# (function/cmd/receiver, run as a process), and a fleet of installs each
# re-uploading its growing counts (20 counters) from its own address, one
# upload of an install at a time, at 8, 32 and 128 clients, all on this
# machine. Prints uploads/s, p50/p99 latency and CPU per upload, and checks
# that the store counted exactly the runs of the acknowledged uploads.
#
# WARM=true (the default) stores every install, its first upload, before
# the clock starts: what is timed is the fleet re-uploading; WARM=false
# times the first uploads too.
#
# BASELINE=<git revision> also builds the receiver at that revision (git
# archive) and runs it interleaved with this tree's, on the same server:
# the ratio line compares them on equal terms.
#
#   CLIENTS=8,32,128 INSTALLS=5000 DURATION=10s ROUNDS=1 POOL=0 WARM=true bench/durable.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
(cd function && go build -o ../bin/receiver ./cmd/receiver && go build -o ../bin/durable ./bench/durable)
receivers="new=$PWD/bin/receiver"
if [ -n "${BASELINE:-}" ]; then
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	git archive "$BASELINE" | tar -x -C "$src"
	(cd "$src/function" && go build -o "$OLDPWD/bin/receiver-baseline" ./cmd/receiver)
	receivers="$receivers,baseline=$PWD/bin/receiver-baseline"
fi
echo "load before: $(uptime)"
bin/durable -receivers "$receivers" -clients "${CLIENTS:-8,32,128}" -installs "${INSTALLS:-5000}" \
	-duration "${DURATION:-10s}" -rounds "${ROUNDS:-1}" -pool "${POOL:-0}" -warm="${WARM:-true}"
echo "load after: $(uptime)"
