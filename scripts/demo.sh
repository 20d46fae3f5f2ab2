#!/usr/bin/env bash
# The system's main job, end to end, on the embedded default: build pace and
# the receiver, run a few pace commands (one failing) in a throw-away config
# folder, upload the counts to the receiver on loopback, and show the
# Graphite series it wrote (stdout sink: carbon plaintext lines).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
receiver_pid=
cleanup() { [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== build"
go build -o "$work/bin/pace" ./cmd/pace
go build -o "$work/bin/receiver" ./function/cmd/local

export PACE_CONFIG_PATH="$work/config"
pace() { "$work/bin/pace" "$@"; }

echo "== run pace (counts go to $PACE_CONFIG_PATH/telemetry.yaml)"
pace version
pace version
pace telemetry status
pace lsit tables 2>&1 || echo "(exit code $?)"
echo
echo "== telemetry.yaml"
pace telemetry show

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== receiver on 127.0.0.1:$port, TELEMETRY_SINK=stdout"
PORT=$port TELEMETRY_SINK=stdout "$work/bin/receiver" >"$work/series.txt" 2>"$work/receiver.log" &
receiver_pid=$!
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$port/" && break
	sleep 0.05
done

echo "== upload (the body pace telemetry show --payload prints)"
pace telemetry show --payload >"$work/body.json"
cat "$work/body.json"
status=$(curl -s -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$work/body.json" "http://127.0.0.1:$port/")
echo "receiver answered $status: $(cat "$work/answer")"
[ "$status" = 200 ] || { cat "$work/receiver.log"; exit 1; }

echo "== Graphite series written by the receiver"
for _ in $(seq 50); do [ -s "$work/series.txt" ] && break; sleep 0.05; done
cat "$work/series.txt"
