#!/usr/bin/env bash
# Measures pace-telemetryd: CPU and RSS when idle (IDLE, default 60s), and
# the time from a pace run to the delivery of its count.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/pace ./cmd/pace
go build -o bin/pace-telemetryd ./cmd/pace-telemetryd
go run ./bench/daemoncost -pace bin/pace -daemon bin/pace-telemetryd -idle "${IDLE:-60s}" -runs "${RUNS:-30}"
