// Package build tells which version of pace is running.
package build

import (
	"runtime/debug"
	"strings"
)

// version is set at build time:
//
//	go build -ldflags "-X github.com/pace-cli/pace/internal/build.version=v1.16.0" ./cmd/pace
var version string

// DevVersion stands for a build with no version stamped in: it keeps the
// semantic-version shape the receiver accepts.
const DevVersion = "v0.0.0-dev"

// Version is the version set with -ldflags, else the module version that
// `go install …@v1.2.3` records, else DevVersion.
func Version() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; strings.HasPrefix(v, "v") {
			return v
		}
	}
	return DevVersion
}

// endpoint is the receiver the daemon uploads to unless told otherwise, set
// at build time like version (…/internal/build.endpoint=https://…).
var endpoint string

// DefaultEndpoint is the receiver URL built in; empty when none was.
func DefaultEndpoint() string { return endpoint }
