#!/bin/sh
# Load run: starts function/cmd/receiver on loopback with the stdout sink
# redirected to a file, sends a bounded number of typical 20-series uploads
# and prints payloads/s and latency percentiles.
#
#   function/bench/load.sh [payloads] [clients]     (defaults 50000, 8)
#
# Series of command paths that are not on the embedded allow-list are
# dropped, so the lines written depend on commands.txt.
set -eu
n=${1:-50000}
c=${2:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cd "$here"
go build -o "$tmp/local" ./cmd/receiver
go build -o "$tmp/bench" ./bench
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# The load comes from one address: no per-address bucket (it would answer 429).
PORT=$port TELEMETRY_SINK=stdout TELEMETRY_SOURCE_RATE=off "$tmp/local" >"$tmp/series.txt" 2>"$tmp/requests.log" &
pid=$!
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "receiver did not start" >&2; cat "$tmp/requests.log" >&2; exit 1; fi
	sleep 0.1
done

"$tmp/bench" -url "http://127.0.0.1:$port/" -n "$n" -c "$c" -max 2m
echo "series lines written: $(wc -l <"$tmp/series.txt"); request log lines: $(wc -l <"$tmp/requests.log")"
