#!/usr/bin/env bash
# What an anonymous client can make a store hold: starts VictoriaMetrics
# and function/cmd/receiver (carbon+tcp sink) on loopback, sends uploads that
# each carry every allowed command path with every stored exit-code value
# (the most one request can add), each from a new installation id, and
# prints the series stored, series per request, and VictoriaMetrics' disk
# bytes per series (data and index, after a flush).
#
#   function/bench/series-cost.sh [installs]     (default 2000)
set -euo pipefail
n=${1:-2000}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() {
	for _ in $(seq 200); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on $1" >&2
	exit 1
}

cd "$here"
go build -o "$tmp/local" ./cmd/receiver
vmhttp=$(freeport)
vmgraphite=$(freeport)
port=$(freeport)
mkdir "$tmp/vm"
victoria-metrics -httpListenAddr="127.0.0.1:$vmhttp" -graphiteListenAddr="127.0.0.1:$vmgraphite" \
	-storageDataPath="$tmp/vm" -loggerLevel=ERROR >"$tmp/vm.log" 2>&1 &
pids+=($!)
waitport "$vmhttp"
PORT=$port TELEMETRY_SINK="carbon+tcp://127.0.0.1:$vmgraphite" TELEMETRY_SOURCE_RATE=off "$tmp/local" >/dev/null 2>"$tmp/local.log" &
pids+=($!)
waitport "$port"

curl -fsS "http://127.0.0.1:$vmhttp/internal/force_flush" >/dev/null
sleep 2
before=$(du -sb "$tmp/vm" | cut -f1)

python3 - "$port" "$n" "$tmp/per" "$here/commands.txt" "$here/commands-pace-v1.txt" <<'EOF'
import json, sys, uuid, urllib.request
port, n, per = sys.argv[1], int(sys.argv[2]), sys.argv[3]
paths = sorted({l.strip() for f in sys.argv[4:] for l in open(f) if l.startswith("pace")})
codes = ["0", "1", "2", "3", "4", "5", "6"]  # 6 and above are stored as exit_code=other
dropped = 0
for i in range(n):
    body = {"metric_points": {p: {c: {"cumulative_count": i + 1} for c in codes} for p in paths},
            "cli_version": "1.25.0", "operating_system": "linux", "id": str(uuid.uuid4())}
    req = urllib.request.Request("http://127.0.0.1:%s/" % port, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200 and r.read() == b"OK"
        dropped += int(r.headers["X-Pace-Dropped"])
open(per, "w").write(str(len(paths) * len(codes)))
print("paths allowed:          %d" % len(paths))
print("series per request:     %d (paths x %d exit-code values), dropped %d" % (len(paths) * len(codes), len(codes), dropped))
EOF

curl -fsS "http://127.0.0.1:$vmhttp/internal/force_flush" >/dev/null
# The Graphite listener hands rows to storage asynchronously; wait for all.
want=$(( n * $(cat "$tmp/per") ))
for _ in $(seq 100); do
	got=$(curl -fsS "http://127.0.0.1:$vmhttp/api/v1/series/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0])')
	[ "$got" -ge "$want" ] && break
	sleep 0.5
done
curl -fsS "http://127.0.0.1:$vmhttp/internal/force_flush" >/dev/null
sleep 3
after=$(du -sb "$tmp/vm" | cut -f1)
series=$(curl -fsS "http://127.0.0.1:$vmhttp/api/v1/series/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0])')
echo "installs (new ids):     $n"
echo "series stored:          $series"
echo "VictoriaMetrics disk:   $(( after - before )) bytes more, $(( (after - before) / series )) bytes per series (one sample each)"
