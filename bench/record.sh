#!/usr/bin/env bash
# Measures what counting a run costs: the wall time of `pace version` with
# telemetry on (300 counters) against PACE_TELEMETRY_DISABLED=1, for a
# plain `go build` and for the release build (as .goreleaser.yaml makes
# it: CGO_ENABLED=0, -trimpath, -s -w, version and endpoint stamped), then
# the Go benchmarks of one recorded increment and of the file codec.
#
# BASELINE=<git revision> also builds pace at that revision the same way
# and times it in the same interleaved rounds as the release build: the
# two compared on equal terms. Both figures come out higher there than when
# one binary runs alone: two copies of one binary, interleaved, do the same,
# while one binary timed twice over does not (colder caches, we think).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
release() { # release OUT DIR: pace from DIR, built as .goreleaser.yaml builds it
	(cd "$2" && CGO_ENABLED=0 go build -trimpath -o "$1" -ldflags "-s -w \
		-X github.com/pace-cli/pace/internal/build.version=v0.0.0-bench \
		-X github.com/pace-cli/pace/internal/build.endpoint=https://telemetry.example.invalid/" ./cmd/pace)
}
go build -o bin/pace ./cmd/pace
release "$PWD/bin/pace-release" .
go build -o bin/walltime ./bench/walltime
echo "== go build"
bin/walltime -pace bin/pace -runs "${RUNS:-300}" -counters 300
echo "== release build"
bin/walltime -pace bin/pace-release -runs "${RUNS:-300}" -counters 300
if [ -n "${BASELINE:-}" ]; then
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	git archive "$BASELINE" | tar -x -C "$src"
	release "$PWD/bin/pace-baseline" "$src"
	echo "== release build and $BASELINE built the same way, interleaved"
	bin/walltime -pace bin/pace-release,bin/pace-baseline -runs "${RUNS:-300}" -counters 300
fi
echo
out=$(go test -run '^$' -bench 'Record300|Splice300|DecodeEncode300' -benchtime "${BENCHTIME:-300x}" -count "${COUNT:-5}" ./internal/telemetry | grep -E '^Benchmark')
for name in $(echo "$out" | awk '{print $1}' | sort -u); do
	median=$(echo "$out" | awk -v n="$name" '$1 == n {print $3}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
	printf '  %-40s median %9s ns/op\n' "$name" "$median"
done
