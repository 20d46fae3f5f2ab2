#!/usr/bin/env bash
# Measures what counting a run costs: the wall time of `pace version` with
# telemetry on (300 counters) against PACE_TELEMETRY_DISABLED=1, then the
# Go benchmarks of one recorded increment and of the file codec.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/pace ./cmd/pace
go run ./bench/walltime -pace bin/pace -runs "${RUNS:-300}" -counters 300
echo
out=$(go test -run '^$' -bench 'Record300|Splice300|DecodeEncode300' -benchtime "${BENCHTIME:-300x}" -count "${COUNT:-5}" ./internal/telemetry | grep -E '^Benchmark')
for name in $(echo "$out" | awk '{print $1}' | sort -u); do
	median=$(echo "$out" | awk -v n="$name" '$1 == n {print $3}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
	printf '  %-40s median %9s ns/op\n' "$name" "$median"
done
