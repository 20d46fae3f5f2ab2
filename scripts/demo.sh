#!/usr/bin/env bash
# The system's main job, end to end, on the embedded default: build pace,
# pace-telemetryd and the receiver; run a few pace commands (one failing)
# in a throw-away config folder; start the receiver on loopback with its
# stdout sink (carbon plaintext lines); let the daemon upload; and show the
# Graphite series that arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== build (a first build compiles the dependencies: a minute or two)"
for target in pace:./cmd/pace pace-telemetryd:./cmd/pace-telemetryd receiver:./function/cmd/receiver; do
	name=${target%%:*}
	start=$SECONDS
	printf '   %-16s building…' "$name"
	go build -o "$work/bin/$name" "${target#*:}"
	printf ' done in %ds\n' $((SECONDS - start))
done

export PACE_CONFIG_PATH="$work/config"
pace() { "$work/bin/pace" "$@"; }

echo "== run pace (counts go to $PACE_CONFIG_PATH/telemetry.yaml)"
pace version
pace version
pace telemetry status >/dev/null
pace lsit tables 2>/dev/null || echo "(pace lsit tables: exit code $?)"
pace telemetry show

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== receiver on 127.0.0.1:$port (TELEMETRY_SINK=stdout)"
PORT=$port TELEMETRY_SINK=stdout "$work/bin/receiver" >"$work/series.txt" 2>"$work/receiver.log" &
pids+=($!)
python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.1).close()
        break
    except OSError:
        time.sleep(0.05)
PY

echo "== pace-telemetryd run (uploads at start, then on every change)"
"$work/bin/pace-telemetryd" run --endpoint "http://127.0.0.1:$port/" --debounce 0 \
	--telemetry-upload-interval-seconds 0 2>"$work/daemon.log" &
pids+=($!)

# Wait (bounded) for the series of `pace version` to reach a value.
wait_for_version() {
	for _ in $(seq 200); do
		grep -qE "command=version;.* $1 [0-9]+\$" "$work/series.txt" && return 0
		sleep 0.05
	done
	echo "timed out waiting for the upload; daemon log:"; cat "$work/daemon.log"; exit 1
}
wait_for_version 2
echo "== one more run of pace version, uploaded on change"
pace version
wait_for_version 3

echo "== Graphite series the receiver wrote, latest upload (name;tags value time)"
tail -n "$(grep -c cumulative_count "$PACE_CONFIG_PATH/telemetry.yaml")" "$work/series.txt"
echo "== what left the machine ($PACE_CONFIG_PATH/telemetry-sent.log, last entry)"
awk 'BEGIN{RS=""} {last=$0} END{print last}' "$PACE_CONFIG_PATH/telemetry-sent.log"
