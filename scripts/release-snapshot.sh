#!/usr/bin/env bash
# Builds the release as a snapshot into dist/ (binaries, archives, deb and
# rpm, checksums, Homebrew formula, Scoop manifest), publishing nothing, and
# checks it. packaging's test installs the .deb it builds. goreleaser is
# built from its Go module into bin/ once (see docs/release.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# v2.16.0: the newest that builds with this Go (v2.18 needs Go 1.27; v2.17's
# nfpm needs a module the proxy does not serve). About 8 minutes to build.
version=v2.16.0
if ! ./bin/goreleaser --version 2>/dev/null | grep -Eq "GitVersion:[[:space:]]+${version}$"; then
	echo "== building goreleaser $version from its Go module (once; several minutes)"
	GOBIN="$PWD/bin" go install "github.com/goreleaser/goreleaser/v2@$version"
fi

echo "== goreleaser release --snapshot --clean"
# The snapshot stamps a stand-in receiver, which the package test checks.
export PACE_RELEASE_ENDPOINT=https://telemetry.example.invalid/
./bin/goreleaser release --snapshot --clean >dist-build.log 2>&1 || {
	tail -50 dist-build.log
	exit 1
}
mv dist-build.log dist/build.log
(cd dist && sha256sum --check --quiet checksums.txt)
ls dist/homebrew/Formula/pace.rb dist/scoop/pace.json >/dev/null
echo "   dist/: $(ls dist/*.deb dist/*.rpm | wc -l) packages, $(grep -c . dist/checksums.txt) checksums"
