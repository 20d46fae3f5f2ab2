// Package release names the versions a release publishes, and its test
// installs pace from module zips exactly as `go install …@Version` does
// for a user (docs/release.md).
package release

// Version is the release of the root module (tag vX.Y.Z): cmd/pace and
// cmd/pace-telemetryd. It continues the version line of PACE's original
// CLI, whose last release was 1.25.0, so dashboards order them.
const Version = "v1.26.0"

// FunctionVersion is the release of the function module (tag
// function/vX.Y.Z) that the root module's go.mod requires.
const FunctionVersion = "v0.1.0"
